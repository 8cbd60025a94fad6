from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from django.db.models import (
    Case,
    Count,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from appointments.models import Appointment, AppointmentStatus
from billing.models import (
    DunningNotice,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    ServiceChain,
    ServiceLine,
    TaxCategory,
)
from billing.parties import current_recipient, missing_data
from lemniscus.errors import NotFound, ValidationFailed
from lemniscus.tenancy import access, scoped


def service_chain_list(*, organisation) -> QuerySet[ServiceChain]:
    """The organisation's chains with their services, newest first."""
    return (
        scoped(ServiceChain, organisation)
        .prefetch_related("services")
        .order_by("-created_at", "-id")
    )


def access_service_chain(*, organisation, public_id, lock: bool = False) -> ServiceChain:
    return access(
        service_chain_list(organisation=organisation),
        organisation=organisation,
        public_id=public_id,
        lock=lock,
    )


def invoice_list(*, organisation) -> QuerySet[Invoice]:
    """The organisation's invoices with patient and lines (each with its appointment's
    public id), newest first, in a constant number of queries."""
    lines = InvoiceLine.objects.select_related("appointment").only(
        *(f.name for f in InvoiceLine._meta.concrete_fields), "appointment__public_id"
    )
    return (
        scoped(Invoice, organisation)
        .select_related("patient", "organisation")
        .prefetch_related(
            Prefetch("lines", queryset=lines),
            "documents",
            Prefetch("payments", queryset=Payment.objects.order_by("created_at", "id")),
            Prefetch("dunning_notices", queryset=DunningNotice.objects.order_by("level")),
        )
        .order_by("-created_at", "-id")
    )


def with_open_amount(invoices: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """`invoices` annotated with `paid_total` (the payments, reversals negative) and
    `fees_total` (the dunning notices' fees) and `open_amount`: total plus fees minus
    paid while issued or partly paid, nothing once paid, written off or cancelled,
    none for a draft (billing.payments.open_amount in SQL)."""
    money = DecimalField(max_digits=10, decimal_places=2)
    paid = (
        Payment.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    fees = (
        DunningNotice.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum("fee"))
        .values("total")
    )
    return invoices.annotate(
        paid_total=Coalesce(Subquery(paid, output_field=money), Value(Decimal("0.00"))),
        fees_total=Coalesce(Subquery(fees, output_field=money), Value(Decimal("0.00"))),
    ).annotate(
        open_amount=Case(
            When(
                status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID],
                then=F("total") + F("fees_total") - F("paid_total"),
            ),
            When(status=InvoiceStatus.DRAFT, then=None),
            default=Value(Decimal("0.00")),
            output_field=money,
        )
    )


def invoice_search(
    *,
    organisation,
    status: str = "",
    q: str = "",
    date_from=None,
    date_to=None,
    overdue: bool = False,
) -> QuerySet[Invoice]:
    """The invoice list and the Offene Posten: by status (`open`: issued and partly
    paid), number or patient name, issue date range, and overdue (open and past the
    due date in the organisation's zone); with `open_amount` and `overdue`, newest
    first."""
    today = organisation.today()
    invoices = with_open_amount(scoped(Invoice, organisation).select_related("patient")).annotate(
        is_overdue=Case(
            When(
                status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID],
                due_date__lt=today,
                then=Value(True),
            ),
            default=Value(False),
        )
    )
    if status == "open":
        invoices = invoices.filter(status__in=[InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID])
    elif status:
        invoices = invoices.filter(status=status)
    for word in q.replace(",", " ").split():
        invoices = invoices.filter(
            Q(number__icontains=word)
            | Q(patient__last_name__icontains=word)
            | Q(patient__first_name__icontains=word)
        )
    if date_from:
        invoices = invoices.filter(issue_date__gte=date_from)
    if date_to:
        invoices = invoices.filter(issue_date__lte=date_to)
    if overdue:
        invoices = invoices.filter(is_overdue=True)
    return invoices.order_by("-created_at", "-id")


def open_items_totals(invoices: QuerySet[Invoice]) -> dict:
    """Sums of the listed open items: count, total, open and overdue amounts."""
    return invoices.order_by().aggregate(
        count=Count("id"),
        total=Coalesce(Sum("total"), Value(Decimal("0.00"))),
        open=Coalesce(Sum("open_amount"), Value(Decimal("0.00"))),
        overdue=Coalesce(Sum("open_amount", filter=Q(is_overdue=True)), Value(Decimal("0.00"))),
    )


def patient_invoices(*, patient) -> QuerySet[Invoice]:
    """A record's invoices for its page, newest first, with `open_amount`
    (with_open_amount)."""
    return with_open_amount(Invoice.objects.filter(patient=patient)).order_by("-created_at", "-id")


def access_invoice(*, organisation, public_id) -> Invoice:
    return access(
        invoice_list(organisation=organisation), organisation=organisation, public_id=public_id
    )


def invoice_missing_data(*, invoice: Invoice) -> dict[str, list[str]]:
    """What issuing the draft still needs (§ 14 Abs. 4 UStG), keyed
    `practice.<field>` / `recipient.<field>`; empty when it is complete."""
    return missing_data(organisation=invoice.organisation, recipient=current_recipient(invoice))


def access_cancelled_invoice(*, organisation, public_id) -> Invoice:
    """The organisation's invoice that has a cancellation document (Stornorechnung);
    one that has none (not cancelled, a discarded draft, or cancelled before there
    were such documents) is not found either, with its own German detail."""
    invoice = access_invoice(organisation=organisation, public_id=public_id)
    if invoice.cancellation_number is None:
        raise NotFound("Zu dieser Rechnung gibt es keine Stornorechnung.")
    return invoice


def access_appointments(*, organisation, public_ids: list) -> list[Appointment]:
    """The organisation's appointments with these public ids, in that order; an id
    naming none of them (or another organisation's) is a validation error."""
    found = {
        a.public_id: a for a in scoped(Appointment, organisation).filter(public_id__in=public_ids)
    }
    missing = [
        f"{public_id}: Termin nicht gefunden." for public_id in public_ids if public_id not in found
    ]
    if missing:
        raise ValidationFailed("Einige Termine gibt es nicht.", errors={"appointment_ids": missing})
    return [found[public_id] for public_id in public_ids]


def billable_appointments(*, organisation, patient, including=()) -> QuerySet[Appointment]:
    """The patient's appointments a new invoice can take (`services.invoice_create`
    decides): today or earlier in the organisation's zone, on no non-cancelled
    invoice, and done with a chain that has services, or a no-show when the practice
    has a no-show fee. `including`: public ids of further appointments of the
    organisation to list with them (those a refusal named). Oldest first, with
    column and chain, and `billed_net`: what each would bill, net."""
    tomorrow = datetime.combine(
        organisation.today() + timedelta(days=1), time.min, tzinfo=organisation.zone
    )
    done = Q(status=AppointmentStatus.DONE) & Q(
        Exists(ServiceLine.objects.filter(chain=OuterRef("service_chain")))
    )
    if organisation.no_show_fee is not None:
        done |= Q(status=AppointmentStatus.NO_SHOW)
    billable = Q(patient=patient, start__lt=tomorrow, invoice__isnull=True) & done
    chain_net = Subquery(
        ServiceLine.objects.filter(chain=OuterRef("service_chain"))
        .values("chain")
        .annotate(net=Sum("price"))
        .values("net"),
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )
    no_show_fee = organisation.no_show_fee or Decimal("0.00")
    return (
        scoped(Appointment, organisation)
        .filter(billable | Q(public_id__in=list(including)))
        .select_related("calendar_column", "service_chain")
        # What the appointment would bill, net (the page's running total).
        .annotate(
            billed_net=Case(
                When(status=AppointmentStatus.NO_SHOW, then=Value(no_show_fee)),
                default=chain_net,
                output_field=DecimalField(max_digits=12, decimal_places=2),
            )
        )
        .order_by("start", "pk")
    )


class VatGroup(NamedTuple):
    tax_category: str
    rate: Decimal
    net: Decimal
    vat: Decimal


# Exempt therapy first, then what is not taxable, then the taxed rates, lowest first.
_GROUP_ORDER = {TaxCategory.EXEMPT_THERAPY: 0, TaxCategory.NOT_TAXABLE: 1, TaxCategory.TAXABLE: 2}


def vat_breakdown(lines: Iterable[InvoiceLine]) -> list[VatGroup]:
    """Net amount and VAT per tax category and rate. Line amounts are net; the VAT
    of a rate is computed on its net sum and rounded half up to the cent."""
    nets: dict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
    for line in lines:
        nets[line.tax_category, line.vat_rate] += line.amount
    return [
        VatGroup(category, rate, net, (net * rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for (category, rate), net in sorted(
            nets.items(), key=lambda item: (_GROUP_ORDER[item[0][0]], item[0][1])
        )
    ]
