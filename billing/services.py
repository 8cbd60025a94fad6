"""Writing service chains and invoices. Every entry point (staff API, pages, admin,
commands) calls these functions.

Decisions: prices in a chain are net; VAT is added per rate, computed on each rate's
net sum and rounded half up to the cent. A small business (§ 19 UStG) bills no VAT:
its invoice lines carry the rate 0.00 and the invoice remembers why.
"""

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus
from billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    SequenceKind,
    ServiceChain,
    ServiceLine,
)
from billing.parties import parties_snapshot
from billing.selectors import vat_breakdown
from lemniscus.errors import ChainInUse, InvalidStatus, NotFound, ValidationFailed

# Service chains


def _replace_services(chain: ServiceChain, services: list[dict]) -> None:
    chain.services.all().delete()
    ServiceLine.objects.bulk_create(
        ServiceLine(chain=chain, position=position, **service)
        for position, service in enumerate(services)
    )


@transaction.atomic
def service_chain_create(
    *, organisation, description: str, notes: str = "", services: list[dict]
) -> ServiceChain:
    """A chain with its services (dicts of code, name, price, vat_rate, minutes)."""
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
TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED}),
    InvoiceStatus.ISSUED: frozenset({InvoiceStatus.PAID, InvoiceStatus.CANCELLED}),
    InvoiceStatus.PAID: frozenset({InvoiceStatus.CANCELLED}),
    InvoiceStatus.CANCELLED: frozenset(),
}

_STATE = {
    InvoiceStatus.DRAFT: "ein Entwurf",
    InvoiceStatus.ISSUED: "gestellt",
    InvoiceStatus.PAID: "bezahlt",
    InvoiceStatus.CANCELLED: "storniert",
}
_VERB = {
    InvoiceStatus.ISSUED: "gestellt",
    InvoiceStatus.PAID: "als bezahlt markiert",
    InvoiceStatus.CANCELLED: "storniert",
}


def _refusals(appointment: Appointment, *, patient, zone, today) -> list[str]:
    """Why the appointment cannot go on a new invoice of `patient` (empty: it can)."""
    refusals = []
    if appointment.patient_id != patient.pk:
        refusals.append("gehört zu einer anderen Akte.")
    if timezone.localdate(appointment.start, zone) > today:
        refusals.append("liegt in der Zukunft.")
    if appointment.status == AppointmentStatus.CANCELLED:
        refusals.append("ist abgesagt.")
    if appointment.service_chain is None:
        refusals.append("hat keine Leistungskette.")
    elif not appointment.service_chain.services.all():
        refusals.append("hat eine Leistungskette ohne Leistungen.")
    if appointment.invoice_id is not None:
        refusals.append("steht schon auf einer Rechnung.")
    return refusals


def _lines(invoice: Invoice, appointments: list[Appointment]) -> list[InvoiceLine]:
    """One line per service of each appointment's chain, as the chain is now."""
    zone = invoice.organisation.zone
    lines = []
    for appointment in appointments:
        service_date = timezone.localdate(appointment.start, zone)
        for service in appointment.service_chain.services.all():
            lines.append(
                InvoiceLine(
                    invoice=invoice,
                    appointment=appointment,
                    position=len(lines),
                    service_date=service_date,
                    code=service.code,
                    name=service.name,
                    quantity=Decimal(1),
                    unit_price=service.price,
                    vat_rate=Decimal("0.00") if invoice.small_business else service.vat_rate,
                    amount=service.price,
                )
            )
    return lines


@transaction.atomic
def invoice_create(
    *,
    organisation,
    actor,
    patient,
    appointments: Sequence[Appointment],
    diagnosis: str = "",
) -> Invoice:
    """A draft invoice for `patient` over these appointments, which it locks at once
    (`Appointment.invoice`). Each must be that patient's, today or earlier in the
    organisation's zone, not cancelled, with a service chain, and on no other
    non-cancelled invoice; otherwise 422 naming each appointment and its reason."""
    if patient.organisation_id != organisation.pk:
        raise NotFound()
    if not appointments:
        raise ValidationFailed(errors={"appointment_ids": ["Mindestens ein Termin, bitte."]})
    # Row locks in key order: a concurrent invoice over the same appointments waits
    # here and then sees them taken.
    wanted = list(dict.fromkeys(a.pk for a in appointments))
    locked = {
        appointment.pk: appointment
        for appointment in Appointment.objects.select_for_update(of=("self",))
        .filter(organisation=organisation, pk__in=wanted)
        .select_related("service_chain")
        .prefetch_related("service_chain__services")
        .order_by("pk")
    }
    if len(locked) != len(wanted):
        raise NotFound()
    chosen = [locked[pk] for pk in wanted]
    zone, today = organisation.zone, organisation.today()
    problems = [
        f"{appointment.public_id}: {reason}"
        for appointment in chosen
        for reason in _refusals(appointment, patient=patient, zone=zone, today=today)
    ]
    if problems:
        raise ValidationFailed(
            "Nicht alle Termine können abgerechnet werden.",
            errors={"appointment_ids": problems},
        )
    invoice = Invoice(
        organisation=organisation,
        patient=patient,
        diagnosis=diagnosis,
        small_business=organisation.small_business,
        created_by=actor,
    )
    lines = _lines(invoice, sorted(chosen, key=lambda a: (a.start, a.pk)))
    breakdown = vat_breakdown(lines)
    invoice.net_total = sum((group.net for group in breakdown), Decimal("0.00"))
    invoice.vat_total = sum((group.vat for group in breakdown), Decimal("0.00"))
    invoice.total = invoice.net_total + invoice.vat_total
    invoice._history_user = actor
    invoice.save()
    InvoiceLine.objects.bulk_create(lines)
    for appointment in chosen:
        appointment.invoice = invoice
        appointment._history_user = actor
        appointment.save(update_fields=["invoice", "updated_at"])
    return invoice


# Invoice numbers are `YYYY-NNNN`, cancellation documents' `ST-YYYY-NNNN`.
NUMBER_PREFIX = {SequenceKind.INVOICE: "", SequenceKind.CANCELLATION: "ST-"}


def _next_number(*, organisation, year: int, kind: str = SequenceKind.INVOICE) -> str:
    """The next number of the organisation's sequence of `kind` for `year`, as
    `YYYY-NNNN` (invoices) or `ST-YYYY-NNNN` (cancellation documents).

    The sequence row is created race-free (insert-or-nothing against its unique
    constraint) and then locked: concurrent callers queue on it, and a rolled back
    issue or cancellation gives its number back, so numbers stay gapless."""
    InvoiceSequence.objects.bulk_create(
        [InvoiceSequence(organisation=organisation, kind=kind, year=year)], ignore_conflicts=True
    )
    sequence = InvoiceSequence.objects.select_for_update().get(
        organisation=organisation, kind=kind, year=year
    )
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{NUMBER_PREFIX[kind]}{year}-{sequence.last_number:04d}"


@transaction.atomic
def invoice_set_status(*, invoice: Invoice, status: str, actor) -> Invoice:
    """The one way an invoice changes status, along `TRANSITIONS`; anything else is
    409 `invalid_status` and changes nothing (issuing uses up no number).

    Issuing gives the date (organisation's zone), due date and next number;
    cancelling (Storno of an issued or paid invoice, discarding of a draft) keeps any
    number and frees the appointments for a new invoice. The Storno of an issued or
    paid invoice also gives it the date (organisation's zone) and next number of its
    cancellation document, from the cancellation sequence of that date's year."""
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
    if status == InvoiceStatus.ISSUED:
        organisation = invoice.organisation
        invoice.issue_date = timezone.localdate(now, organisation.zone)
        invoice.due_date = invoice.issue_date + timedelta(days=organisation.payment_term_days)
        invoice.number = _next_number(organisation=organisation, year=invoice.issue_date.year)
        invoice.issued_at = now
        invoice.parties = parties_snapshot(organisation=organisation, patient=invoice.patient)
    elif status == InvoiceStatus.PAID:
        invoice.paid_at = now
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
    return invoice


def invoice_issue(*, invoice: Invoice, actor) -> Invoice:
    return invoice_set_status(invoice=invoice, status=InvoiceStatus.ISSUED, actor=actor)


def invoice_pay(*, invoice: Invoice, actor) -> Invoice:
    return invoice_set_status(invoice=invoice, status=InvoiceStatus.PAID, actor=actor)


def invoice_cancel(*, invoice: Invoice, actor) -> Invoice:
    return invoice_set_status(invoice=invoice, status=InvoiceStatus.CANCELLED, actor=actor)
