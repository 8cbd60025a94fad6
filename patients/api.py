from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework.decorators import action
from rest_framework.response import Response

from lemniscus.api import OrganisationViewSet
from lemniscus.errors import PermissionDenied, ValidationFailed
from lemniscus.text import has_nul
from organisations.models import Right, Role
from patients import selectors, services
from patients.disclosure import disclosure_response, disclosure_zip
from patients.models import Patient
from patients.serializers import PatientHistoryOutput, PatientInput, PatientOutput


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description="Words (spaces, commas), each matching the start of a word "
                "of the first or last name (folded; umlauts as o and oe), a birth date "
                "(TT.MM.JJJJ, TT.MM.JJ, YYYY-MM-DD) or phone digits; all must match.",
            ),
            OpenApiParameter(
                "archived",
                OpenApiTypes.BOOL,
                description="true: archived records are listed too.",
            ),
        ],
        responses=PatientOutput(many=True),
    ),
    retrieve=extend_schema(responses=PatientOutput),
    create=extend_schema(request=PatientInput, responses={201: PatientOutput}),
    partial_update=extend_schema(request=PatientInput, responses=PatientOutput),
    destroy=extend_schema(responses={204: None}),
)
class PatientViewSet(OrganisationViewSet):
    """Patient records (Akten) with their Stammdaten."""

    model = Patient
    serializer_class = PatientOutput
    write_right = Right.DOCUMENTATION
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, organisation):
        q = self.request.query_params.get("q")
        if has_nul(q):
            raise ValidationFailed(
                "Der Suchbegriff enthält ein Nullzeichen.",
                errors={"q": ["Nullzeichen sind nicht erlaubt."]},
            )
        archived = self.request.query_params.get("archived") == "true"
        return selectors.patient_list(organisation=organisation, q=q, archived=archived)

    def list(self, request):
        return self.page_output(PatientOutput, self.get_queryset())

    def retrieve(self, request, id=None):
        return self.output(PatientOutput, self._access())

    def create(self, request):
        """A record that looks like an existing one is 409 `possible_duplicate` with
        `duplicates` (their ids); `"confirm_duplicate": true` creates it anyway."""
        data = self.validated(PatientInput, request.data)
        patient = services.patient_create(
            organisation=self.organisation, actor=request.user, **data
        )
        return self.output(PatientOutput, patient, status=201)

    def partial_update(self, request, id=None):
        patient = self._access()
        data = self.validated(PatientInput, request.data, partial=True)
        data.pop("confirm_duplicate", None)  # only for a new record
        patient = services.patient_update(patient=patient, actor=request.user, **data)
        return self.output(PatientOutput, patient)

    def destroy(self, request, id=None):
        """Only without treatment history (409 `retention_required` with
        `retain_until`); organisation admins."""
        self._admin_only()
        services.patient_delete(patient=self._access(), actor=request.user)
        return Response(status=204)

    @extend_schema(request=None, responses=PatientOutput)
    @action(detail=True, methods=["post"])
    def archive(self, request, id=None):
        """Archive the record (organisation admins): read-only, left out of lists,
        search and suggestions unless `?archived=true`; erased once its retention has
        passed."""
        self._admin_only()
        patient = services.patient_archive(patient=self._access(), actor=request.user)
        return self.output(PatientOutput, patient)

    @extend_schema(request=None, responses=PatientOutput)
    @action(detail=True, methods=["post"])
    def unarchive(self, request, id=None):
        self._admin_only()
        patient = services.patient_unarchive(patient=self._access(), actor=request.user)
        return self.output(PatientOutput, patient)

    @extend_schema(
        responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    @action(detail=True, methods=["get"])
    def disclosure(self, request, id=None):
        """A copy of the patient's data (GDPR Art. 15/20; organisation admins): a ZIP
        with `record.json` (master data, appointments, documentation with corrections,
        invoices, history), the invoices' stored PDFs and the attachments."""
        self._admin_only()
        patient = self._access()
        content = disclosure_zip(patient=patient, actor=request.user)
        return disclosure_response(patient, content)

    def _admin_only(self) -> None:
        if self.request.user.role != Role.ADMIN:
            raise PermissionDenied("Das dürfen nur Organisations-Admins.")

    @extend_schema(responses=PatientHistoryOutput(many=True))
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[])
    def history(self, request, id=None):
        """Every change of the record: when, who, old and new value."""
        entries = selectors.patient_history(patient=self._access())
        return Response(
            PatientHistoryOutput(entries, many=True, context=self.get_serializer_context()).data
        )

    def _access(self) -> Patient:
        return selectors.access_patient(organisation=self.organisation, public_id=self.kwargs["id"])
