"""Staff API of the initial handover to Doctolib: `/api/v1/exports/` (admins only)."""

from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action

from doctolib_bridge.handover import selectors as handover_selectors
from doctolib_bridge.handover import services as handover_services
from doctolib_bridge.models import ExportJob, ExportState
from lemniscus.api import LocalDateTimeField, OrganisationViewSet, StringIdField
from lemniscus.page_urls import absolute
from organisations.permissions import IsOrganisationAdmin


class ExportInput(serializers.Serializer):
    delete_appointments = serializers.BooleanField(
        default=False,
        help_text="Also remove the exported appointments from the calendar "
        '("Export erstellen und Termine löschen").',
    )


class ExportFilesOutput(serializers.Serializer):
    """Download URLs of the files; null until the job is done."""

    patients = serializers.SerializerMethodField()
    appointments = serializers.SerializerMethodField()

    def _url(self, job: ExportJob, kind: str) -> str | None:
        if job.state != ExportState.DONE:
            return None
        return absolute(reverse(f"export-{kind}-csv", kwargs={"id": str(job.public_id)}))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_patients(self, job: ExportJob) -> str | None:
        return self._url(job, "patients")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_appointments(self, job: ExportJob) -> str | None:
        return self._url(job, "appointments")


class ExportOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    error = serializers.CharField(help_text="Why the job failed (German); empty otherwise.")
    created_at = LocalDateTimeField()
    started_at = LocalDateTimeField(allow_null=True)
    finished_at = LocalDateTimeField(allow_null=True)
    undone_at = LocalDateTimeField(allow_null=True)
    files = ExportFilesOutput(source="*")

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "state",
            "delete_appointments",
            "patients_count",
            "appointments_count",
            "removed_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "undone_at",
            "files",
        ]
        read_only_fields = fields


CSV_RESPONSE = {(200, "text/csv"): OpenApiTypes.BINARY}


@extend_schema_view(
    list=extend_schema(responses=ExportOutput(many=True)),
    retrieve=extend_schema(responses=ExportOutput),
    create=extend_schema(request=ExportInput, responses={202: ExportOutput}),
)
class ExportViewSet(OrganisationViewSet):
    """The initial handover to Doctolib: export jobs writing `patients.csv` and
    `appointments.csv` (organisation admins only)."""

    model = ExportJob
    serializer_class = ExportOutput
    permission_classes = [IsOrganisationAdmin]
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organisation):
        return handover_selectors.export_list(organisation=organisation)

    def list(self, request):
        return self.page_output(ExportOutput, self.get_queryset())

    def retrieve(self, request, id=None):
        job = handover_selectors.access_export(organisation=self.organisation, public_id=id)
        return self.output(ExportOutput, job)

    def create(self, request):
        """Start an export; it runs in the background (202). Refused while another
        export of the organisation is queued or running (409 `export_running`). With
        the background queue down the job waits, queued, until it is back."""
        data = self.validated(ExportInput, request.data)
        job = handover_services.export_start(
            organisation=self.organisation,
            actor=request.user,
            delete_appointments=data["delete_appointments"],
        )
        return self.output(ExportOutput, job, status=202)

    @extend_schema(operation_id="v1_exports_patients_csv", responses=CSV_RESPONSE)
    @action(detail=True, methods=["get"], url_path="patients.csv", url_name="patients-csv")
    def patients_csv(self, request, id=None):
        """`patients.csv` (every record); 404 until the job is done."""
        return self._file("patients.csv")

    @extend_schema(operation_id="v1_exports_appointments_csv", responses=CSV_RESPONSE)
    @action(detail=True, methods=["get"], url_path="appointments.csv", url_name="appointments-csv")
    def appointments_csv(self, request, id=None):
        """`appointments.csv` (the appointments to hand over); 404 until the job is done."""
        return self._file("appointments.csv")

    def _file(self, name: str) -> FileResponse:
        stored = handover_services.export_file(
            organisation=self.organisation,
            actor=self.request.user,
            public_id=self.kwargs["id"],
            name=name,
        )
        return FileResponse(
            stored.open("rb"),
            as_attachment=True,
            filename=name,
            content_type="text/csv; charset=utf-8",
        )
