"""Documentation and attachments of a record (staff-api.md 1.1, "Records under
retention law"). Reading and writing need the documentation right; every read and
write is in the Protokoll (the services write it)."""

from urllib.parse import quote

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser

from appointments.selectors import access_appointment
from documentation import selectors, services
from documentation.models import Attachment, DocumentationEntry
from documentation.serializers import (
    AttachmentInput,
    AttachmentOutput,
    EntryInput,
    EntryOutput,
    TextInput,
)
from lemniscus.api import OrganisationViewSet
from lemniscus.errors import NotFound, PayloadTooLarge, ValidationFailed
from lemniscus.schema import problem_responses
from organisations.models import Right
from patients.selectors import access_patient


class PatientScopedViewSet(OrganisationViewSet):
    """Under `/patients/{patient_id}/…`: the record of the caller's organisation."""

    read_right = Right.DOCUMENTATION
    write_right = Right.DOCUMENTATION

    @property
    def patient(self):
        if not hasattr(self, "_patient"):
            self._patient = access_patient(
                organisation=self.organisation, public_id=self.kwargs["patient_id"]
            )
        return self._patient


@extend_schema_view(
    list=extend_schema(responses=EntryOutput(many=True)),
    create=extend_schema(request=EntryInput, responses={201: EntryOutput}),
    retrieve=extend_schema(responses=EntryOutput),
    partial_update=extend_schema(request=TextInput, responses=EntryOutput),
)
class DocumentationViewSet(PatientScopedViewSet):
    """Treatment documentation: entries can be changed until finalised (by hand, or
    by themselves at the end of the day after their creation); a finalised entry gets
    corrections beside its text."""

    model = DocumentationEntry
    serializer_class = EntryOutput
    lookup_url_kwarg = "entry_id"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.patient_entries(patient=self.patient)

    def list(self, request, patient_id=None):
        services.documentation_read(patient=self.patient, actor=request.user)
        return self.page_output(EntryOutput, self.get_queryset())

    def retrieve(self, request, patient_id=None, entry_id=None):
        services.documentation_read(patient=self.patient, actor=request.user)
        return self.output(EntryOutput, self._entry())

    def create(self, request, patient_id=None):
        data = self.validated(EntryInput, request.data)
        appointment = None
        if data.get("appointment_id"):
            try:
                appointment = access_appointment(
                    organisation=self.organisation, public_id=data["appointment_id"]
                )
            except NotFound:
                raise ValidationFailed(
                    "Diesen Termin gibt es nicht.",
                    errors={"appointment_id": ["Diesen Termin gibt es nicht."]},
                ) from None
        entry = services.entry_create(
            patient=self.patient, actor=request.user, text=data["text"], appointment=appointment
        )
        return self.output(EntryOutput, self._entry(entry.public_id), status=201)

    def partial_update(self, request, patient_id=None, entry_id=None):
        data = self.validated(TextInput, request.data)
        services.entry_update(entry=self._entry(), actor=request.user, text=data["text"])
        return self.output(EntryOutput, self._entry())

    @extend_schema(request=None, responses=EntryOutput)
    @action(detail=True, methods=["post"])
    def finalise(self, request, patient_id=None, entry_id=None):
        services.entry_finalise(entry=self._entry(), actor=request.user)
        return self.output(EntryOutput, self._entry())

    @extend_schema(request=TextInput, responses={201: EntryOutput})
    @action(detail=True, methods=["post"])
    def corrections(self, request, patient_id=None, entry_id=None):
        """Add a correction; the entry's text stays as written. Answers the entry
        with all its corrections."""
        data = self.validated(TextInput, request.data)
        services.entry_correct(entry=self._entry(), actor=request.user, text=data["text"])
        return self.output(EntryOutput, self._entry(), status=201)

    def _entry(self, public_id=None) -> DocumentationEntry:
        return selectors.access_entry(
            patient=self.patient, public_id=public_id or self.kwargs["entry_id"]
        )


def _too_large(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    # the file plus the multipart framing and a description
    return length > services.MAX_ATTACHMENT_BYTES + 64 * 1024


@extend_schema_view(
    list=extend_schema(responses=AttachmentOutput(many=True)),
    create=extend_schema(
        request={"multipart/form-data": AttachmentInput},
        responses={201: AttachmentOutput, **problem_responses({413})},
    ),
)
class PatientAttachmentViewSet(PatientScopedViewSet):
    """A record's attachments: PDF, JPEG or PNG (by content), at most 20 MB."""

    model = Attachment
    serializer_class = AttachmentOutput
    parser_classes = [MultiPartParser, FormParser]
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.patient_attachments(patient=self.patient)

    def list(self, request, patient_id=None):
        services.attachments_read(patient=self.patient, actor=request.user)
        return self.page_output(AttachmentOutput, self.get_queryset())

    def create(self, request, patient_id=None):
        if _too_large(request):
            raise PayloadTooLarge("Die Datei ist größer als 20 MB.")
        patient = self.patient
        data = self.validated(AttachmentInput, request.data)
        attachment = services.attachment_create(
            patient=patient,
            actor=request.user,
            file=data["file"],
            description=data.get("description", ""),
        )
        return self.output(AttachmentOutput, attachment, status=201)


class AttachmentViewSet(OrganisationViewSet):
    """`/attachments/{id}/download`: the file as uploaded, checked against its hash."""

    model = Attachment
    serializer_class = AttachmentOutput
    read_right = Right.DOCUMENTATION
    http_method_names = ["get", "head", "options"]

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
        }
    )
    @action(detail=True, methods=["get"])
    def download(self, request, id=None):
        attachment = selectors.access_attachment(organisation=self.organisation, public_id=id)
        content = services.attachment_open(attachment=attachment, actor=request.user)
        return attachment_response(attachment, content, inline=request.GET.get("inline") == "1")


def attachment_response(attachment: Attachment, content: bytes, *, inline: bool) -> HttpResponse:
    """The bytes with their stored type (checked when uploaded); never sniffed."""
    response = HttpResponse(content, content_type=attachment.content_type)
    disposition = "inline" if inline else "attachment"
    name = quote(attachment.name, safe="")
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{name}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
