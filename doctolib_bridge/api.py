import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view

from doctolib_bridge import selectors
from doctolib_bridge.models import SyncLogEntry
from doctolib_bridge.serializers import SyncLogEntryOutput
from lemniscus.api import OrganisationViewSet


class SyncLogFilter(django_filters.FilterSet):
    status = django_filters.NumberFilter(label="HTTP status of the answer, e.g. 409.")
    code = django_filters.CharFilter(label="Error code, e.g. appointment_invoiced.")

    class Meta:
        model = SyncLogEntry
        fields = ["status", "code"]


@extend_schema_view(list=extend_schema(responses=SyncLogEntryOutput(many=True)))
class SyncLogViewSet(OrganisationViewSet):
    """The organisation's Zipper API calls (sync log), newest first; read-only."""

    model = SyncLogEntry
    serializer_class = SyncLogEntryOutput
    filterset_class = SyncLogFilter
    http_method_names = ["get", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.sync_log_list(organisation=organisation)

    def list(self, request):
        return self.page_output(SyncLogEntryOutput, self.filter_queryset(self.get_queryset()))
