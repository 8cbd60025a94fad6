"""Staff API of the Protokoll: `GET /api/v1/audit-log/` (organisation admins only)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view

from audit import selectors
from audit.export import csv_response
from audit.models import AuditEvent
from audit.serializers import AuditEventOutput, AuditLogQuery
from audit.services import audit_log_exported
from lemniscus.api import OrganisationViewSet
from organisations.permissions import IsOrganisationAdmin


@extend_schema_view(
    list=extend_schema(
        parameters=[AuditLogQuery],
        responses={
            (200, "application/json"): AuditEventOutput(many=True),
            (200, "text/csv"): OpenApiTypes.BINARY,
        },
    )
)
class AuditLogViewSet(OrganisationViewSet):
    """The Protokoll: logins, record changes, documentation and attachment reads and
    writes, invoice actions, exports, disclosures and token actions, newest first.
    Never health data: ids, field names, invoice numbers and counts. `?format=csv`
    answers every matching entry as one CSV file; that download is itself logged."""

    model = AuditEvent
    serializer_class = AuditEventOutput
    permission_classes = [IsOrganisationAdmin]
    http_method_names = ["get", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.audit_log(organisation=organisation)

    def list(self, request):
        query = self.validated(AuditLogQuery, request.query_params)
        events = selectors.audit_log(
            organisation=self.organisation,
            patient_ids=[query["patient"]] if query.get("patient") else None,
            actor_email=query.get("actor"),
            since=query["start"],
            before=query["before"],
        )
        if query.get("format") == "csv":
            audit_log_exported(
                organisation=self.organisation,
                actor=request.user,
                patient=query.get("patient"),
                filters={name: query.get(name) for name in ("actor", "since", "until")},
            )
            return csv_response(events, organisation=self.organisation)
        return self.page_output(AuditEventOutput, events)
