from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from billing import dunning, payments, selectors, sending, services
from billing.filters import InvoiceFilter
from billing.models import DocumentKind, DunningNotice, Invoice, InvoiceLine, ServiceChain
from billing.pdf import cancellation_filename, dunning_filename, invoice_filename
from billing.serializers import (
    DunningNoticeOutput,
    DunningProposalOutput,
    InvoiceInput,
    InvoiceLineInput,
    InvoiceLineOutput,
    InvoiceLinePatchInput,
    InvoiceOutput,
    PaymentInput,
    PaymentOutput,
    ServiceChainInput,
    ServiceChainOutput,
    ServiceChainPatchInput,
    WriteOffInput,
)
from lemniscus.api import OrganisationViewSet
from lemniscus.errors import NotFound
from lemniscus.tenancy import parse_public_id
from organisations.models import Right
from patients.selectors import access_patient


class PDFRenderer(BaseRenderer):
    """Lets a client ask for `application/pdf`. The PDF itself is sent as it is;
    this renderer only ever renders error bodies, and those stay JSON."""

    media_type = "application/pdf"
    format = "pdf"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data, accepted_media_type, renderer_context)


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    return HttpResponse(
        content,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@extend_schema_view(
    list=extend_schema(responses=ServiceChainOutput(many=True)),
    retrieve=extend_schema(responses=ServiceChainOutput),
    create=extend_schema(request=ServiceChainInput, responses={201: ServiceChainOutput}),
    partial_update=extend_schema(request=ServiceChainPatchInput, responses=ServiceChainOutput),
    destroy=extend_schema(responses={204: None}),
)
class ServiceChainViewSet(OrganisationViewSet):
    """Service chains (Leistungsketten): what one appointment bills. Prices are net."""

    model = ServiceChain
    serializer_class = ServiceChainOutput
    write_right = Right.BILLING
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.service_chain_list(organisation=organisation)

    def list(self, request):
        return self.page_output(ServiceChainOutput, self.get_queryset())

    def retrieve(self, request, id=None):
        return self.output(ServiceChainOutput, self._access())

    def create(self, request):
        data = self.validated(ServiceChainInput, request.data)
        chain = services.service_chain_create(organisation=self.organisation, **data)
        return self.output(ServiceChainOutput, chain, status=201)

    def partial_update(self, request, id=None):
        chain = self._access()
        data = self.validated(ServiceChainPatchInput, request.data)
        chain = services.service_chain_update(chain=chain, **data)
        return self.output(ServiceChainOutput, chain)

    def destroy(self, request, id=None):
        services.service_chain_delete(chain=self._access())
        return Response(status=204)

    def _access(self) -> ServiceChain:
        return selectors.access_service_chain(
            organisation=self.organisation, public_id=self.kwargs["id"]
        )


@extend_schema_view(
    list=extend_schema(responses=InvoiceOutput(many=True)),
    retrieve=extend_schema(responses=InvoiceOutput),
    create=extend_schema(request=InvoiceInput, responses={201: InvoiceOutput}),
)
class InvoiceViewSet(OrganisationViewSet):
    """Invoices: drafts over a patient's appointments, issued with the next number,
    paid, or cancelled (Storno). Never deleted."""

    model = Invoice
    serializer_class = InvoiceOutput
    filterset_class = InvoiceFilter
    read_right = Right.BILLING
    write_right = Right.BILLING
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.invoice_list(organisation=organisation)

    def list(self, request):
        return self.page_output(InvoiceOutput, self.filter_queryset(self.get_queryset()))

    def retrieve(self, request, id=None):
        return self.output(InvoiceOutput, self._access())

    def create(self, request):
        data = self.validated(InvoiceInput, request.data)
        patient = access_patient(organisation=self.organisation, public_id=data["patient_id"])
        appointments = selectors.access_appointments(
            organisation=self.organisation, public_ids=data["appointment_ids"]
        )
        invoice = services.invoice_create(
            organisation=self.organisation,
            actor=request.user,
            patient=patient,
            appointments=appointments,
            diagnosis=data.get("diagnosis", ""),
            recipient=data.get("recipient"),
        )
        return self._output(invoice, status=201)

    @extend_schema(request=None, responses=InvoiceOutput)
    @action(detail=True, methods=["post"])
    def issue(self, request, id=None):
        """Issue a draft: issue date, due date and the next number of the year; the
        PDF is rendered once and archived (`pdf_sha256`). Without the mandatory data
        of § 14 Abs. 4 UStG: 422 `invoice_incomplete`, `errors` keyed
        `practice.<field>` / `recipient.<field>`, and no number is used up."""
        return self._output(services.invoice_issue(invoice=self._access(), actor=request.user))

    @extend_schema(request=None, responses=InvoiceOutput)
    @action(detail=True, methods=["post"])
    def pay(self, request, id=None):
        """A transfer of the whole open amount, today; nothing open: 409 `invalid_status`."""
        return self._output(services.invoice_pay(invoice=self._access(), actor=request.user))

    @extend_schema(request=PaymentInput, responses={201: PaymentOutput})
    @action(detail=True, methods=["post"], url_path="payments")
    def record_payment(self, request, id=None):
        """Record a payment: on a draft, cancelled or written-off invoice 409
        `invalid_status` (checked first); more than the open amount 422. The invoice
        becomes `partly_paid` or `paid`."""
        invoice = self._access()
        payments.refuse_status(invoice, payments.RECORDABLE, "eine Zahlung zu erfassen")
        data = self.validated(PaymentInput, request.data)
        payment = payments.payment_record(invoice=invoice, actor=request.user, **data)
        return self.output(PaymentOutput, payment, status=201)

    @extend_schema(
        request=None,
        responses={201: PaymentOutput},
        parameters=[OpenApiParameter("payment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"payments/(?P<payment_id>[^/.]+)/reverse",
    )
    def reverse_payment(self, request, id=None, payment_id=None):
        """Reverse a payment: a negative payment that `reverses` it (payments are never
        deleted). A reversal, or a payment already reversed: 409 `invalid_status`."""
        reversal = payments.payment_reverse(
            invoice=self._access(), payment_id=payment_id, actor=request.user
        )
        return self.output(PaymentOutput, reversal, status=201)

    @extend_schema(request=None, responses={201: DunningNoticeOutput})
    @action(detail=True, methods=["post"], url_path="dunning-notices")
    def dunning_notice(self, request, id=None):
        """The notice of the invoice's next dunning level, dated today, with its fee,
        a new due date (14 days) and what is open then (fees included); its PDF is
        archived. On a draft, paid, cancelled or written-off invoice 409
        `invalid_status` (checked first); before the level's `days_after_due` have
        passed since the due date, or with every level used, 409 `dunning_not_due`."""
        notice = dunning.dunning_notice_create(invoice=self._access(), actor=request.user)
        return self.output(DunningNoticeOutput, notice, status=201)

    @extend_schema(request=WriteOffInput, responses=InvoiceOutput)
    @action(detail=True, methods=["post"], url_path="write-off")
    def write_off(self, request, id=None):
        """Write the open amount off (Forderungsausfall) with a reason: status
        `written_off`, open amount 0. Only issued or partly paid invoices (409)."""
        invoice = self._access()
        payments.refuse_status(invoice, payments.PAYABLE, "eine Abschreibung")
        data = self.validated(WriteOffInput, request.data)
        return self._output(payments.invoice_write_off(invoice=invoice, actor=request.user, **data))

    @extend_schema(request=None, responses={202: InvoiceOutput})
    @action(detail=True, methods=["post"])
    def send(self, request, id=None):
        """E-mail the invoice's stored PDF (`pdf_sha256`) to the recipient's `email`,
        else the patient's, in a background job; 202 with the invoice as it is now.
        The job sets `sent_at`: poll the invoice until it is later than before. A
        draft, cancelled or written-off invoice: 409 `invalid_status`; no address:
        422 `no_email`, and nothing is queued."""
        invoice = self._access()
        sending.invoice_send_request(invoice=invoice, actor=request.user)
        return self._output(invoice, status=202)

    @extend_schema(request=None, responses=InvoiceOutput)
    @action(detail=True, methods=["post"])
    def cancel(self, request, id=None):
        """Cancel (Storno) an issued or paid invoice, or discard a draft; its
        appointments can be billed again. A Storno also gives the number and date of
        the cancellation document (`cancellation_number` `ST-YYYY-NNNN`,
        `cancellation_date`; its PDF: `cancellation-pdf`)."""
        return self._output(services.invoice_cancel(invoice=self._access(), actor=request.user))

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request, id=None):
        """The invoice as PDF: an issued one exactly as archived when it was issued
        (`pdf_sha256`), whatever happened to it since; a draft rendered now and
        marked "ENTWURF"."""
        invoice = self._access()
        content = services.invoice_document(invoice=invoice, actor=request.user)
        return _pdf_response(content, invoice_filename(invoice))

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(
        detail=True,
        methods=["get"],
        url_path="cancellation-pdf",
        renderer_classes=[JSONRenderer, PDFRenderer],
    )
    def cancellation_pdf(self, request, id=None):
        """The cancellation document (Stornorechnung `ST-YYYY-NNNN`) of an invoice
        cancelled after it was issued, as PDF; 404 `not_found` when it has none."""
        invoice = selectors.access_cancelled_invoice(
            organisation=self.organisation, public_id=self.kwargs["id"]
        )
        content = services.invoice_document(
            invoice=invoice, actor=request.user, kind=DocumentKind.CANCELLATION
        )
        return _pdf_response(content, cancellation_filename(invoice))

    def _access(self) -> Invoice:
        return selectors.access_invoice(organisation=self.organisation, public_id=self.kwargs["id"])

    def _output(self, invoice: Invoice, status: int = 200) -> Response:
        """The invoice as it is now, read again with its lines."""
        fresh = selectors.access_invoice(
            organisation=self.organisation, public_id=invoice.public_id
        )
        return self.output(InvoiceOutput, fresh, status=status)


@extend_schema_view(
    create=extend_schema(request=InvoiceLineInput, responses={201: InvoiceLineOutput}),
    partial_update=extend_schema(request=InvoiceLinePatchInput, responses=InvoiceLineOutput),
    destroy=extend_schema(responses={204: None}),
)
class InvoiceLineViewSet(OrganisationViewSet):
    """A draft's lines (`/invoices/{invoice_id}/lines/`): add a free line (no
    appointment: a home-visit fee, materials), change or remove one; the invoice's
    totals follow (read them from the invoice). Removing the last line of an
    appointment makes it billable again. On anything but a draft: 409
    `invalid_status`, before any 422."""

    # Scoped through the invoice: lines have no organisation of their own.
    model = Invoice
    serializer_class = InvoiceLineOutput
    read_right = Right.BILLING
    write_right = Right.BILLING
    lookup_url_kwarg = "line_id"
    http_method_names = ["post", "patch", "delete", "head", "options"]

    def scoped_queryset(self, organisation):
        return selectors.invoice_list(organisation=organisation)

    def create(self, request, invoice_id=None):
        invoice = self._editable()
        data = self.validated(InvoiceLineInput, request.data)
        line = services.invoice_line_add(invoice=invoice, actor=request.user, **data)
        return self._output(line, status=201)

    def partial_update(self, request, invoice_id=None, line_id=None):
        invoice = self._editable()
        data = self.validated(InvoiceLinePatchInput, request.data)
        line = services.invoice_line_update(
            invoice=invoice, line_id=self._line_id(), actor=request.user, **data
        )
        return self._output(line)

    def destroy(self, request, invoice_id=None, line_id=None):
        invoice = self._editable()
        services.invoice_line_remove(invoice=invoice, line_id=self._line_id(), actor=request.user)
        return Response(status=204)

    def _editable(self) -> Invoice:
        """The organisation's invoice (404 otherwise), and 409 unless a draft, before
        the body is validated (status checks come before validation)."""
        invoice = selectors.access_invoice(
            organisation=self.organisation, public_id=self.kwargs["invoice_id"]
        )
        services.invoice_lines_editable(invoice=invoice)
        return invoice

    def _line_id(self):
        line_id = parse_public_id(self.kwargs["line_id"])
        if line_id is None:
            raise NotFound("Diese Position gibt es auf der Rechnung nicht.")
        return line_id

    def _output(self, line: InvoiceLine, status: int = 200) -> Response:
        line = InvoiceLine.objects.select_related("appointment").get(pk=line.pk)
        return self.output(InvoiceLineOutput, line, status=status)


@extend_schema_view(list=extend_schema(responses=DunningProposalOutput(many=True)))
class DunningProposalViewSet(OrganisationViewSet):
    """Mahnvorschläge: overdue open invoices (issued, partly paid) whose next dunning
    level's `days_after_due` have passed since the due date (organisation's zone),
    longest overdue first. Computed on every read; nothing is sent or made here."""

    model = Invoice
    serializer_class = DunningProposalOutput
    read_right = Right.BILLING
    write_right = Right.BILLING
    http_method_names = ["get", "head", "options"]

    def scoped_queryset(self, organisation):
        return dunning.dunning_proposals(organisation=organisation)

    def list(self, request):
        return self.page_output(DunningProposalOutput, self.get_queryset())

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and self.request.user.is_authenticated:
            context["levels"] = dunning.levels(self.organisation)
            context["today"] = self.organisation.today()
        return context


class DunningNoticeViewSet(OrganisationViewSet):
    """Dunning notices: their PDF as archived when they were made, and sending it."""

    model = DunningNotice
    serializer_class = DunningNoticeOutput
    read_right = Right.BILLING
    write_right = Right.BILLING
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organisation):
        return dunning.dunning_notice_list(organisation=organisation)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request, id=None):
        """The notice as PDF, exactly as archived when it was made: the invoice's number
        and date, the open amount, the fee, the new due date, the bank details and a
        GiroCode for what was open then."""
        notice = self._access()
        content = dunning.dunning_notice_pdf(notice=notice, actor=request.user)
        return _pdf_response(content, dunning_filename(notice))

    @extend_schema(request=None, responses={202: DunningNoticeOutput})
    @action(detail=True, methods=["post"])
    def send(self, request, id=None):
        """E-mail the notice's stored PDF (as archived when it was made) to the
        invoice's recipient's `email`, else the patient's, in a background job; 202
        with the notice as it is now. The job sets `sent_at`: poll the invoice (its
        `dunning_notices`) until it is later than before. Its invoice paid, cancelled
        or written off: 409 `invalid_status` (a notice asking for money no longer
        owed does not go out); no address: 422 `no_email`; nothing is queued then."""
        notice = self._access()
        sending.dunning_notice_send_request(notice=notice, actor=request.user)
        return self.output(DunningNoticeOutput, notice, status=202)

    def _access(self) -> DunningNotice:
        return dunning.access_dunning_notice(
            organisation=self.organisation, public_id=self.kwargs["id"]
        )
