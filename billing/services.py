"""Writing service chains and invoices. Every entry point (staff API, pages, admin,
commands) calls these functions.

Decisions: prices in a chain are net; VAT is added per rate, computed on each rate's
net sum and rounded half up to the cent. A small business (§ 19 UStG) bills no VAT:
its invoice lines carry the rate 0.00 and the invoice remembers why.
"""

from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from appointments.models import Appointment, AppointmentStatus, ColumnKind
from audit.actions import Action
from audit.services import audit_record
from billing import archive, payments
from billing.archive import archive_store
from billing.models import (
    DocumentKind,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    SequenceKind,
    ServiceChain,
    ServiceLine,
    TaxCategory,
)
from billing.parties import Recipient, parties_snapshot
from billing.selectors import invoice_missing_data, vat_breakdown
from lemniscus.errors import (
    ChainInUse,
    InvalidStatus,
    InvoiceIncomplete,
    NotFound,
    RecordArchived,
    ValidationFailed,
)

# Service chains


# The rates a category allows (staff-api.md 1.1, "Services"): exempt therapy and
# not taxable services carry no VAT; taxable ones 7 or 19 %.
RATES = {
    TaxCategory.EXEMPT_THERAPY: frozenset({Decimal("0")}),
    TaxCategory.NOT_TAXABLE: frozenset({Decimal("0")}),
    TaxCategory.TAXABLE: frozenset({Decimal("7"), Decimal("19")}),
}
_RATE_HINT = {
    TaxCategory.EXEMPT_THERAPY: "Steuerfreie Heilbehandlungen haben den USt-Satz 0 %.",
    TaxCategory.NOT_TAXABLE: "Nicht steuerbare Leistungen haben den USt-Satz 0 %.",
    TaxCategory.TAXABLE: "Steuerpflichtige Leistungen haben den USt-Satz 7 % oder 19 %.",
}


def tax_category_for(*, vat_rate: Decimal, tax_category: str | None = None) -> str:
    """The category of a service: as given, or else by its rate (0 % exempt
    therapy, anything else taxable). A rate that does not fit is a ValueError with
    the German reason."""
    category = tax_category or (
        TaxCategory.EXEMPT_THERAPY if vat_rate == 0 else TaxCategory.TAXABLE
    )
    if vat_rate not in RATES[category]:
        raise ValueError(_RATE_HINT[category])
    return category


def _replace_services(chain: ServiceChain, services: list[dict]) -> None:
    errors = {}
    lines = []
    for position, service in enumerate(services):
        service = dict(service)
        try:
            service["tax_category"] = tax_category_for(
                vat_rate=service["vat_rate"], tax_category=service.get("tax_category")
            )
        except ValueError as exc:
            errors[f"services.{position}.vat_rate"] = [str(exc)]
        lines.append(ServiceLine(chain=chain, position=position, **service))
    if errors:
        raise ValidationFailed(
            "Der USt-Satz passt nicht zur Steuerart der Leistung.", errors=errors
        )
    chain.services.all().delete()
    ServiceLine.objects.bulk_create(lines)


@transaction.atomic
def service_chain_create(
    *, organisation, description: str, notes: str = "", services: list[dict]
) -> ServiceChain:
    """A chain with its services (dicts of code, name, price, vat_rate, minutes and
    optionally tax_category, which else follows the rate)."""
    chain = ServiceChain.objects.create(
        organisation=organisation, description=description, notes=notes
    )
    _replace_services(chain, services)
    return chain


@transaction.atomic
def service_chain_update(
    *,
    chain: ServiceChain,
    description: str | None = None,
    notes: str | None = None,
    services: list[dict] | None = None,
) -> ServiceChain:
    """Change the given fields; `services` replaces the whole list. Invoices keep
    their own copy of the services, so they do not change."""
    chain = ServiceChain.objects.select_for_update().get(pk=chain.pk)
    if description is not None:
        chain.description = description
    if notes is not None:
        chain.notes = notes
    chain.save(update_fields=["description", "notes", "updated_at"])
    if services is not None:
        _replace_services(chain, services)
    return chain


@transaction.atomic
def service_chain_delete(*, chain: ServiceChain) -> None:
    """Delete a chain no appointment uses; otherwise 409 `chain_in_use`. The row lock
    waits for appointments being saved with this chain at the same time."""
    chain = ServiceChain.objects.select_for_update().get(pk=chain.pk)
    if chain.appointments.exists():
        raise ChainInUse()
    chain.delete()


# Invoices

# The only status changes there are; `invoice_set_status` refuses every other one.
# Issuing and cancelling; what is paid follows the payments (billing.payments).
TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED}),
    InvoiceStatus.ISSUED: frozenset({InvoiceStatus.CANCELLED}),
    InvoiceStatus.PARTLY_PAID: frozenset({InvoiceStatus.CANCELLED}),
    InvoiceStatus.PAID: frozenset({InvoiceStatus.CANCELLED}),
    InvoiceStatus.WRITTEN_OFF: frozenset(),
    InvoiceStatus.CANCELLED: frozenset(),
}

_STATE = payments._STATE
_VERB = {
    InvoiceStatus.ISSUED: "gestellt",
    InvoiceStatus.PAID: "als bezahlt markiert",
    InvoiceStatus.CANCELLED: "storniert",
}


def billing_refusals(appointment: Appointment, *, patient, organisation, today) -> list[str]:
    """Why the appointment cannot go on a new invoice of `patient` (empty: it can).
    Billed as a treatment is only what was done; a no-show is billed with the
    practice's no-show fee, if it has one; nothing else is billable."""
    refusals = []
    if appointment.patient_id != patient.pk:
        refusals.append("gehört zu einer anderen Akte.")
    if timezone.localdate(appointment.start, organisation.zone) > today:
        refusals.append("liegt in der Zukunft.")
    status = appointment.status
    if status == AppointmentStatus.CANCELLED:
        refusals.append("ist abgesagt.")
    elif status == AppointmentStatus.PLANNED:
        refusals.append("ist noch nicht erledigt.")
    elif status == AppointmentStatus.NO_SHOW:
        if organisation.no_show_fee is None:
            refusals.append(
                "ist nicht wahrgenommen worden, und für die Praxis ist kein Ausfallhonorar "
                "hinterlegt (Einstellungen → Praxisdaten)."
            )
    elif appointment.service_chain is None:
        refusals.append("hat keine Leistungskette.")
    elif not appointment.service_chain.services.all():
        refusals.append("hat eine Leistungskette ohne Leistungen.")
    if appointment.invoice_id is not None:
        refusals.append("steht schon auf einer Rechnung.")
    return refusals


def _line(invoice: Invoice, appointment: Appointment, **fields) -> InvoiceLine:
    column = appointment.calendar_column
    return InvoiceLine(
        invoice=invoice,
        appointment=appointment,
        service_date=timezone.localdate(appointment.start, invoice.organisation.zone),
        quantity=Decimal(1),
        therapist=column.name if column.kind == ColumnKind.THERAPIST else None,
        **fields,
    )


def _lines(invoice: Invoice, appointments: list[Appointment]) -> list[InvoiceLine]:
    """For each done appointment one line per service of its chain, as the chain is
    now; for each no-show one line of the practice's no-show fee (not taxable)."""
    organisation = invoice.organisation
    lines = []
    for appointment in appointments:
        if appointment.status == AppointmentStatus.NO_SHOW:
            lines.append(
                _line(
                    invoice,
                    appointment,
                    code="",
                    name=organisation.no_show_fee_name,
                    unit_price=organisation.no_show_fee,
                    vat_rate=Decimal("0.00"),
                    tax_category=TaxCategory.NOT_TAXABLE,
                    amount=organisation.no_show_fee,
                )
            )
            continue
        for service in appointment.service_chain.services.all():
            lines.append(
                _line(
                    invoice,
                    appointment,
                    code=service.code,
                    name=service.name,
                    unit_price=service.price,
                    vat_rate=Decimal("0.00") if invoice.small_business else service.vat_rate,
                    tax_category=service.tax_category,
                    amount=service.price,
                )
            )
    for position, line in enumerate(lines):
        line.position = position
    return lines


@transaction.atomic
def invoice_create(
    *,
    organisation,
    actor,
    patient,
    appointments: Sequence[Appointment],
    diagnosis: str = "",
    recipient: dict | None = None,
) -> Invoice:
    """A draft invoice for `patient` over these appointments, which it locks at once
    (`Appointment.invoice`). Each must be that patient's, today or earlier in the
    organisation's zone, on no other non-cancelled invoice, and done (with a service
    chain) or a no-show (with the practice's no-show fee); otherwise 422 naming each
    appointment and its reason. `recipient` (RECIPIENT_FIELDS): who pays, when not
    the patient's default recipient or the patient."""
    if patient.organisation_id != organisation.pk:
        raise NotFound()
    if patient.archived_at is not None:
        raise RecordArchived(
            "Die Akte ist archiviert; für sie wird keine neue Rechnung erstellt. Heben Sie "
            "die Archivierung auf, um noch abzurechnen."
        )
    if not appointments:
        raise ValidationFailed(errors={"appointment_ids": ["Mindestens ein Termin, bitte."]})
    # Row locks in key order: a concurrent invoice over the same appointments waits
    # here and then sees them taken.
    wanted = list(dict.fromkeys(a.pk for a in appointments))
    locked = {
        appointment.pk: appointment
        for appointment in Appointment.objects.select_for_update(of=("self",))
        .filter(organisation=organisation, pk__in=wanted)
        .select_related("service_chain", "calendar_column")
        .prefetch_related("service_chain__services")
        .order_by("pk")
    }
    if len(locked) != len(wanted):
        raise NotFound()
    chosen = [locked[pk] for pk in wanted]
    today = organisation.today()
    problems = [
        f"{appointment.public_id}: {reason}"
        for appointment in chosen
        for reason in billing_refusals(
            appointment, patient=patient, organisation=organisation, today=today
        )
    ]
    if problems:
        raise ValidationFailed(
            "Nicht alle Termine können abgerechnet werden.",
            errors={"appointment_ids": problems},
        )
    invoice, lines = draft_unsaved(
        organisation=organisation,
        actor=actor,
        patient=patient,
        appointments=chosen,
        diagnosis=diagnosis,
        recipient=Recipient.of(recipient).as_dict() if recipient else None,
    )
    invoice._history_user = actor
    invoice.save()
    bulk_create_with_history(lines, InvoiceLine, default_user=actor)
    for appointment in chosen:
        appointment.invoice = invoice
        appointment._history_user = actor
        appointment.save(update_fields=["invoice", "updated_at"])
    _audit(invoice, actor, Action.INVOICE_CREATE, created_detail(len(chosen)))
    return invoice


def draft_unsaved(
    *, organisation, actor, patient, appointments, diagnosis: str = "", recipient=None, run=None
) -> tuple[Invoice, list[InvoiceLine]]:
    """The draft over `appointments` (checked by the caller: `billing_refusals` empty) and
    its lines, with totals, not yet saved: `invoice_create` saves one, a billing run
    (billing.runs) saves many at once."""
    invoice = Invoice(
        organisation=organisation,
        patient=patient,
        diagnosis=diagnosis,
        recipient=recipient,
        small_business=organisation.small_business,
        created_by=actor,
        billing_run=run,
    )
    lines = _lines(invoice, sorted(appointments, key=lambda a: (a.start, a.pk)))
    breakdown = vat_breakdown(lines)
    invoice.net_total = sum((group.net for group in breakdown), Decimal("0.00"))
    invoice.vat_total = sum((group.vat for group in breakdown), Decimal("0.00"))
    invoice.total = invoice.net_total + invoice.vat_total
    return invoice, lines


def created_detail(count: int) -> str:
    """The Protokoll's detail of a new draft: how many appointments it bills."""
    return f"{count} Termin{'e' if count != 1 else ''}"


@transaction.atomic
def invoice_set_recipient(*, invoice: Invoice, actor, recipient: dict | None) -> Invoice:
    """Who a draft goes to: `recipient` (RECIPIENT_FIELDS), or None for the patient's
    default recipient, else the patient. Anything but a draft: 409 invalid_status."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("patient").get(pk=invoice.pk)
    )
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidStatus(
            f"Die Rechnung ist {_STATE[invoice.status]}; ihr Empfänger bleibt, wie er ist."
        )
    invoice.recipient = Recipient.of(recipient).as_dict() if recipient else None
    invoice._history_user = actor
    invoice.save(update_fields=["recipient", "updated_at"])
    # Never who it now goes to (a name and an address): only whether it is someone else.
    _audit(
        invoice,
        actor,
        Action.INVOICE_RECIPIENT,
        "abweichender Empfänger" if recipient else "Empfänger laut Akte",
    )
    return invoice


# A draft's lines (staff-api.md 1.1, "Lines"; docs/decisions.md, "Draft lines")

# The largest amount a line or an invoice total can hold (MONEY: 10 digits, 2 places).
MAX_AMOUNT = Decimal("99999999.99")
CENT = Decimal("0.01")
# What a PATCH may change on any line; `service_date` only on a free line (an
# appointment's line carries the appointment's date).
LINE_FIELDS = ("code", "name", "quantity", "unit_price", "tax_category", "vat_rate")


def invoice_lines_editable(*, invoice: Invoice) -> None:
    """409 `invalid_status` unless the invoice is a draft. The API checks this
    before it validates a body (status checks come before validation); the line
    services check it again under the row lock."""
    if invoice.status != InvoiceStatus.DRAFT:
        raise InvalidStatus(
            f"Die Rechnung ist {_STATE[invoice.status]}; ihre Positionen können nicht mehr "
            "geändert werden."
        )


def _locked_draft(invoice: Invoice) -> Invoice:
    """The invoice again, row-locked for this transaction: concurrent line edits of
    one draft queue here, so none loses the other's change of the totals."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "patient")
        .get(pk=invoice.pk)
    )
    invoice_lines_editable(invoice=invoice)
    return invoice


def _checked_line(invoice: Invoice, line: InvoiceLine) -> None:
    """Fill in the line's category and amount, or 422 naming each wrong field. A
    small business (§ 19 UStG) bills a taxable line at 0.00 and keeps its category."""
    errors: dict[str, list[str]] = {}
    for field in ("quantity", "unit_price", "vat_rate"):
        value = getattr(line, field)
        if value is not None and not isinstance(value, Decimal):
            setattr(line, field, Decimal(str(value)))
    if line.quantity is None or line.quantity <= 0:
        errors["quantity"] = ["Die Menge muss größer als 0 sein."]
    if line.unit_price is None or line.unit_price < 0:
        errors["unit_price"] = ["Der Einzelpreis darf nicht negativ sein."]
    if not (line.name or "").strip():
        errors["name"] = ["Die Position braucht eine Bezeichnung."]
    try:
        line.tax_category = tax_category_for(
            vat_rate=line.vat_rate, tax_category=line.tax_category or None
        )
    except ValueError as exc:
        errors["vat_rate"] = [str(exc)]
    if (
        line.appointment_id is None
        and line.service_date > invoice.organisation.today()
        and "service_date" not in errors
    ):
        errors["service_date"] = ["Das Leistungsdatum liegt in der Zukunft."]
    if not errors:
        line.amount = (line.quantity * line.unit_price).quantize(CENT, ROUND_HALF_UP)
        if line.amount > MAX_AMOUNT:
            errors["quantity"] = ["Menge mal Einzelpreis ist zu groß für eine Position."]
    if errors:
        raise ValidationFailed("Die Position ist so nicht möglich.", errors=errors)
    if invoice.small_business:
        line.vat_rate = Decimal("0.00")


def _recompute_totals(invoice: Invoice, actor) -> None:
    """Net, VAT and total of the (locked) draft from its lines as they are now, as
    when it was made (billing.selectors.vat_breakdown); saved in the caller's
    transaction. Totals beyond what an invoice can hold are 422 (rolled back)."""
    breakdown = vat_breakdown(invoice.lines.all())
    invoice.net_total = sum((group.net for group in breakdown), Decimal("0.00"))
    invoice.vat_total = sum((group.vat for group in breakdown), Decimal("0.00"))
    invoice.total = invoice.net_total + invoice.vat_total
    if invoice.total > MAX_AMOUNT:
        raise ValidationFailed(
            "Der Gesamtbetrag der Rechnung wäre zu groß.",
            errors={"quantity": ["Der Gesamtbetrag der Rechnung wäre zu groß."]},
        )
    invoice._history_user = actor
    invoice.save(update_fields=["net_total", "vat_total", "total", "updated_at"])


def _line_detail(line: InvoiceLine) -> str:
    """The Protokoll names the line's code and kind, never amounts or names of people."""
    kind = "Terminposition" if line.appointment_id else "freie Position"
    return f"{kind} {line.code}".strip()


@transaction.atomic
def invoice_line_add(
    *,
    invoice: Invoice,
    actor,
    name: str,
    quantity: Decimal,
    unit_price: Decimal,
    vat_rate: Decimal = Decimal("0.00"),
    tax_category: str | None = None,
    code: str = "",
    service_date=None,
) -> InvoiceLine:
    """A free line (no appointment: a home-visit fee, materials) at the end of a
    draft; its amount is quantity × unit price, rounded half up to the cent, and the
    totals follow. `service_date` defaults to today in the organisation's zone and
    may not lie in the future; the category follows the rate when left out. Anything
    but a draft: 409 `invalid_status` (before any 422)."""
    invoice = _locked_draft(invoice)
    last = invoice.lines.order_by("-position").values_list("position", flat=True).first()
    line = InvoiceLine(
        invoice=invoice,
        appointment=None,
        position=0 if last is None else last + 1,
        service_date=service_date or invoice.organisation.today(),
        code=code or "",
        name=name,
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=vat_rate,
        tax_category=tax_category or "",
        therapist=None,
    )
    _checked_line(invoice, line)
    line._history_user = actor
    line.save()
    _recompute_totals(invoice, actor)
    _audit(invoice, actor, Action.INVOICE_LINE_ADD, _line_detail(line))
    return line


def _access_line(invoice: Invoice, line_id) -> InvoiceLine:
    """The draft's line with this public id (locked); any other is 404."""
    line = (
        InvoiceLine.objects.select_for_update(of=("self",))
        .filter(invoice=invoice, public_id=line_id)
        .first()
    )
    if line is None:
        raise NotFound("Diese Position gibt es auf der Rechnung nicht.")
    return line


@transaction.atomic
def invoice_line_update(*, invoice: Invoice, line_id, actor, **changes) -> InvoiceLine:
    """Change a draft's line: any of code, name, quantity, unit_price, tax_category,
    vat_rate, and `service_date` of a free line (an appointment's line keeps the
    appointment's date: 422). A new rate without a category lets the category follow
    the rate. The amount and the totals follow. Anything but a draft: 409."""
    invoice = _locked_draft(invoice)
    line = _access_line(invoice, line_id)
    if "service_date" in changes:
        if line.appointment_id is not None:
            raise ValidationFailed(
                errors={
                    "service_date": [
                        "Das Leistungsdatum einer Terminposition ist das Datum des Termins."
                    ]
                }
            )
        line.service_date = changes.pop("service_date") or invoice.organisation.today()
    unknown = set(changes) - set(LINE_FIELDS)
    if unknown:
        raise ValueError(f"unknown line fields: {sorted(unknown)}")
    if "vat_rate" in changes and "tax_category" not in changes:
        changes["tax_category"] = None
    if invoice.small_business and "vat_rate" not in changes:
        # Its stored rate is 0.00 whatever the category: check with one that fits.
        category = changes.get("tax_category") or line.tax_category
        changes["tax_category"] = category
        changes["vat_rate"] = _category_rate(category)
    for field, value in changes.items():
        setattr(line, field, value if value is not None else "")
    _checked_line(invoice, line)
    line._history_user = actor
    line.save()
    _recompute_totals(invoice, actor)
    _audit(invoice, actor, Action.INVOICE_LINE_UPDATE, _line_detail(line))
    return line


def _category_rate(category: str) -> Decimal:
    """A rate the category allows, to check a small business's line again (its
    stored rate is 0.00 whatever the category)."""
    return max(RATES[category])


@transaction.atomic
def invoice_line_remove(*, invoice: Invoice, line_id, actor) -> Invoice:
    """Remove a draft's line; the totals follow. When it was the last line of its
    appointment on this draft, the appointment is released (`Appointment.invoice`)
    and can be billed again. The last line of a draft is not removed (422): discard
    the draft instead. Anything but a draft: 409."""
    invoice = _locked_draft(invoice)
    line = _access_line(invoice, line_id)
    if not invoice.lines.exclude(pk=line.pk).exists():
        raise ValidationFailed(
            "Das ist die letzte Position. Verwerfen Sie stattdessen den Entwurf.",
            errors={"line_id": ["Ein Rechnungsentwurf braucht mindestens eine Position."]},
        )
    detail = _line_detail(line)
    appointment_id = line.appointment_id
    line._history_user = actor
    line.delete()
    if (
        appointment_id is not None
        and not invoice.lines.filter(appointment_id=appointment_id).exists()
    ):
        for appointment in Appointment.objects.select_for_update().filter(
            pk=appointment_id, invoice=invoice
        ):
            appointment.invoice = None
            appointment._history_user = actor
            appointment.save(update_fields=["invoice", "updated_at"])
        detail += ", Termin wieder abrechenbar"
    _recompute_totals(invoice, actor)
    _audit(invoice, actor, Action.INVOICE_LINE_REMOVE, detail)
    return invoice


# Invoice numbers are `YYYY-NNNN`, cancellation documents' `ST-YYYY-NNNN`.
NUMBER_PREFIX = {SequenceKind.INVOICE: "", SequenceKind.CANCELLATION: "ST-"}


def _next_number(*, organisation, year: int, kind: str = SequenceKind.INVOICE) -> str:
    """The next number of the organisation's sequence of `kind` for `year`, as
    `YYYY-NNNN` (invoices) or `ST-YYYY-NNNN` (cancellation documents)."""
    return next_numbers(organisation=organisation, year=year, kind=kind, count=1)[0]


def next_numbers(*, organisation, year: int, count: int, kind: str = SequenceKind.INVOICE):
    """The next `count` numbers of the organisation's sequence of `kind` for `year`,
    in order.

    The sequence row is created race-free (insert-or-nothing against its unique
    constraint) and then locked until the caller's transaction ends: concurrent
    callers queue on it, and a rolled back issue or cancellation gives its numbers
    back, so numbers stay gapless."""
    InvoiceSequence.objects.bulk_create(
        [InvoiceSequence(organisation=organisation, kind=kind, year=year)], ignore_conflicts=True
    )
    sequence = InvoiceSequence.objects.select_for_update().get(
        organisation=organisation, kind=kind, year=year
    )
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{NUMBER_PREFIX[kind]}{year}-{n:04d}" for n in range(first, first + count)]


def stamp_issued(invoice: Invoice, *, now, number: str) -> None:
    """Set what issuing gives a complete draft (not saved): the date (organisation's
    zone), due date, `number`, and the parties as they stand now."""
    organisation = invoice.organisation
    invoice.issue_date = timezone.localdate(now, organisation.zone)
    invoice.due_date = invoice.issue_date + timedelta(days=organisation.payment_term_days)
    invoice.number = number
    invoice.issued_at = now
    invoice.parties = parties_snapshot(invoice=invoice)
    invoice.status = InvoiceStatus.ISSUED


@transaction.atomic
def invoice_set_status(*, invoice: Invoice, status: str, actor) -> Invoice:
    """The one way an invoice changes status, along `TRANSITIONS`; anything else is
    409 `invalid_status` and changes nothing (issuing uses up no number).

    Issuing gives the date (organisation's zone), due date and next number;
    cancelling (Storno of an issued or paid invoice, discarding of a draft) keeps any
    number and frees the appointments for a new invoice. The Storno of an issued or
    paid invoice also gives it the date (organisation's zone) and next number of its
    cancellation document, from the cancellation sequence of that date's year.

    Issuing needs the mandatory data of § 14 Abs. 4 UStG (422 `invoice_incomplete`
    otherwise, before any number is taken), copies the parties onto the invoice and
    archives its PDF; a Storno archives its Stornorechnung."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "patient")
        .get(pk=invoice.pk)
    )
    if status not in TRANSITIONS[invoice.status]:
        raise InvalidStatus(
            f"Die Rechnung ist {_STATE[invoice.status]}; sie kann nicht {_VERB[status]} werden."
        )
    now = timezone.now()
    was = invoice.status
    if status == InvoiceStatus.ISSUED:
        organisation = invoice.organisation
        missing = invoice_missing_data(invoice=invoice)
        if missing:
            raise InvoiceIncomplete(errors=missing)
        year = timezone.localdate(now, organisation.zone).year
        stamp_issued(invoice, now=now, number=_next_number(organisation=organisation, year=year))
    elif status == InvoiceStatus.CANCELLED:
        invoice.cancelled_at = now
        if invoice.status != InvoiceStatus.DRAFT:
            organisation = invoice.organisation
            invoice.cancellation_date = timezone.localdate(now, organisation.zone)
            invoice.cancellation_number = _next_number(
                organisation=organisation,
                year=invoice.cancellation_date.year,
                kind=SequenceKind.CANCELLATION,
            )
        for appointment in invoice.locked_appointments.select_for_update():
            appointment.invoice = None
            appointment._history_user = actor
            appointment.save(update_fields=["invoice", "updated_at"])
    invoice.status = status
    invoice._history_user = actor
    invoice.save()
    # The documents are rendered last, from the saved invoice, and stored in this
    # transaction: an issued invoice always has its PDF, and a failure to render or
    # store it uses up no number.
    if status == InvoiceStatus.ISSUED:
        archive_store(invoice=invoice, kind=DocumentKind.INVOICE)
    elif status == InvoiceStatus.CANCELLED and was != InvoiceStatus.DRAFT:
        archive_store(invoice=invoice, kind=DocumentKind.CANCELLATION)
    if status == InvoiceStatus.CANCELLED and was == InvoiceStatus.DRAFT:
        _audit(invoice, actor, Action.INVOICE_DISCARD)
    elif status == InvoiceStatus.CANCELLED:
        _audit(
            invoice,
            actor,
            Action.INVOICE_CANCEL,
            f"{invoice.number}, Stornorechnung {invoice.cancellation_number}",
        )
    else:
        _audit(invoice, actor, _STATUS_ACTION[status], invoice.number)
    return invoice


_STATUS_ACTION = {
    InvoiceStatus.ISSUED: Action.INVOICE_ISSUE,
}


def _audit(invoice: Invoice, actor, action: str, detail: str = "") -> None:
    """The invoice's entry in the Protokoll, in the caller's transaction: its number
    or counts, never amounts, lines or the recipient."""
    audit_record(
        organisation=invoice.organisation_id,
        actor=actor,
        action=action,
        object_id=invoice.public_id,
        patient=invoice.patient.public_id,
        detail=detail or "",
    )


def invoice_issue(*, invoice: Invoice, actor) -> Invoice:
    return invoice_set_status(invoice=invoice, status=InvoiceStatus.ISSUED, actor=actor)


def invoice_pay(*, invoice: Invoice, actor) -> Invoice:
    """A transfer of the open amount, today (billing.payments.invoice_pay)."""
    return payments.invoice_pay(invoice=invoice, actor=actor)


def invoice_cancel(*, invoice: Invoice, actor) -> Invoice:
    return invoice_set_status(invoice=invoice, status=InvoiceStatus.CANCELLED, actor=actor)


@transaction.atomic
def invoice_document(*, invoice: Invoice, actor, kind: str = DocumentKind.INVOICE) -> bytes:
    """The PDF of the invoice (`kind` INVOICE: billing.archive.invoice_pdf) or of its
    Stornorechnung (CANCELLATION), for a member to download; the download is in the
    Protokoll. The staff API and the pages call this."""
    if kind == DocumentKind.CANCELLATION:
        content = archive.cancellation_pdf(invoice)
        detail = f"Stornorechnung {invoice.cancellation_number}"
    else:
        content = archive.invoice_pdf(invoice)
        detail = invoice.number or "Entwurf"
    _audit(invoice, actor, Action.INVOICE_PDF, detail)
    return content
