"""Staff API of billing runs (Rechnungslauf): `/api/v1/billing-runs/` (staff-api.md,
"Money in", **Billing run**)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer

from billing import runs
from billing.api import PDFRenderer, _pdf_response
from billing.models import BillingRun
from billing.serializers import BillingRunInput, BillingRunOutput
from lemniscus.api import OrganisationViewSet
from organisations.models import Right


@extend_schema_view(
    list=extend_schema(responses=BillingRunOutput(many=True)),
    retrieve=extend_schema(responses=BillingRunOutput),
    create=extend_schema(request=BillingRunInput, responses={202: BillingRunOutput}),
)
class BillingRunViewSet(OrganisationViewSet):
    """Billing runs, newest first: one draft per patient with billable appointments
    in a period, made by a background job; then issued ("Alle stellen") and sent
    ("Alle senden")."""

    model = BillingRun
    serializer_class = BillingRunOutput
    read_right = Right.BILLING
    write_right = Right.BILLING
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organisation):
        return runs.billing_run_list(organisation=organisation)

    def list(self, request):
        return self.page_output(BillingRunOutput, self.get_queryset())

    def retrieve(self, request, id=None):
        return self.output(BillingRunOutput, self._access())

    def create(self, request):
        """Start a run (202); poll it until `status` is `done` or `failed`. 409
        `billing_run_running` while another run of the practice works."""
        data = self.validated(BillingRunInput, request.data)
        run = runs.billing_run_start(
            organisation=self.organisation,
            actor=request.user,
            period_start=data["period_start"],
            period_end=data["period_end"],
            calendar_column_ids=data["calendar_column_ids"],
        )
        return self.output(BillingRunOutput, self._access(run.public_id), status=202)

    @extend_schema(request=None, responses={202: BillingRunOutput})
    @action(detail=True, methods=["post"])
    def issue(self, request, id=None):
        """ "Alle stellen": the job issues the run's drafts (202; poll). Drafts whose
        recipient lacks mandatory data stay drafts and are listed in `skipped`; when
        the practice's own data is missing, 422 `invoice_incomplete`. 409
        `invalid_status` while the run works or with no draft left."""
        run = runs.billing_run_issue(run=self._access(), actor=request.user)
        return self.output(BillingRunOutput, self._access(run.public_id), status=202)

    @extend_schema(request=None, responses={202: BillingRunOutput})
    @action(detail=True, methods=["post"])
    def send(self, request, id=None):
        """ "Alle senden": each issued invoice of the run with an e-mail address that was
        never sent goes out by e-mail (a background job each; 202). Those without an
        address are in `print.pdf`. 409 `invalid_status` while the run works."""
        run = runs.billing_run_send(run=self._access(), actor=request.user)[0]
        return self.output(BillingRunOutput, self._access(run.public_id), status=202)

    @extend_schema(
        operation_id="v1_billing_runs_print_pdf",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="print.pdf",
        url_name="print-pdf",
        renderer_classes=[JSONRenderer, PDFRenderer],
    )
    def print_pdf(self, request, id=None):
        """One PDF of the run's issued invoices without an e-mail address, by number,
        each as archived; 404 when every one has an address."""
        run = self._access()
        content = runs.billing_run_print(run=run, actor=request.user)
        return _pdf_response(content, f"rechnungslauf-{run.period_start:%Y-%m-%d}-druck.pdf")

    def _access(self, public_id=None) -> BillingRun:
        return runs.access_billing_run(
            organisation=self.organisation, public_id=public_id or self.kwargs["id"]
        )
