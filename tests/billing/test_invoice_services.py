from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus
from billing import services
from billing.models import Invoice, InvoiceLine, InvoiceSequence, InvoiceStatus, SequenceKind
from lemniscus.errors import InvalidStatus, NotFound, ValidationFailed
from tests.billing.conftest import MIXED, THERAPY, make_draft
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def _create(organisation, actor, patient, appointments):
    return services.invoice_create(
        organisation=organisation, actor=actor, patient=patient, appointments=appointments
    )


def _refused(organisation, actor, patient, appointments) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        _create(organisation, actor, patient, appointments)
    assert not Invoice.objects.exists()
    assert not Appointment.objects.filter(invoice__isnull=False).exists()
    return caught.value.errors["appointment_ids"]


def test_create_snapshots_one_line_per_service_and_locks_appointments(
    organisation, admin_user, patient, appointments
):
    invoice = _create(organisation, admin_user, patient, appointments)

    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.number is None
    assert invoice.created_by == admin_user
    lines = list(invoice.lines.all())
    assert [(line.appointment_id, line.code) for line in lines] == [
        (appointment.pk, code) for appointment in appointments for code in ("X1501", "W1")
    ]
    first = lines[0]
    assert first.service_date == timezone.localdate(appointments[0].start, BERLIN)
    assert (first.name, first.quantity, first.unit_price, first.vat_rate, first.amount) == (
        "Krankengymnastik",
        Decimal("1"),
        Decimal("32.50"),
        Decimal("0.00"),
        Decimal("32.50"),
    )
    assert {a.invoice_id for a in Appointment.objects.all()} == {invoice.pk}
    assert invoice.history.get().history_user == admin_user


def test_vat_is_added_per_rate_on_the_net_sum(organisation, admin_user, patient, appointments):
    invoice = _create(organisation, admin_user, patient, appointments)

    # 3 x 32.50 exempt + 3 x 8.40 at 19 %: 19 % of 25.20 is 4.788 -> 4.79 (per line it
    # would be 3 x 1.60 = 4.80).
    assert invoice.net_total == Decimal("122.70")
    assert invoice.vat_total == Decimal("4.79")
    assert invoice.total == Decimal("127.49")


def test_small_business_bills_no_vat(organisation, admin_user, patient, appointments):
    organisation.small_business = True
    organisation.save()

    invoice = _create(organisation, admin_user, patient, appointments)

    assert invoice.small_business is True
    assert set(invoice.lines.values_list("vat_rate", flat=True)) == {Decimal("0.00")}
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("122.70"),
        Decimal("0.00"),
        Decimal("122.70"),
    )


def test_lines_follow_the_appointments_in_time(organisation, admin_user, patient, appointments):
    invoice = _create(organisation, admin_user, patient, list(reversed(appointments)))

    dates = list(invoice.lines.values_list("appointment__start", flat=True))
    assert dates == sorted(dates)


def test_at_least_one_appointment(organisation, admin_user, patient):
    assert _refused(organisation, admin_user, patient, []) == ["Mindestens ein Termin, bitte."]


def test_future_is_judged_in_the_organisations_zone(
    organisation, admin_user, patient, chain, frozen_now
):
    frozen_now(datetime(2026, 3, 10, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
    later_today = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        start=datetime(2026, 3, 10, 23, 45, tzinfo=BERLIN),
        status=AppointmentStatus.DONE,
    )
    tomorrow = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        start=datetime(2026, 3, 11, 0, 15, tzinfo=BERLIN),  # still 10 March in UTC
        status=AppointmentStatus.DONE,
    )

    assert _refused(organisation, admin_user, patient, [later_today, tomorrow]) == [
        f"{tomorrow.public_id}: liegt in der Zukunft."
    ]
    invoice = _create(organisation, admin_user, patient, [later_today])
    assert invoice.lines.first().service_date.isoformat() == "2026-03-10"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": AppointmentStatus.CANCELLED}, "ist abgesagt."),
        ({"service_chain": None}, "hat keine Leistungskette."),
        ({"start": timezone.now() + timedelta(days=2)}, "liegt in der Zukunft."),
    ],
)
def test_each_unbillable_appointment_is_named_with_its_reason(
    organisation, admin_user, patient, appointments, change, reason
):
    bad = appointments[1]
    Appointment.objects.filter(pk=bad.pk).update(**change)

    assert _refused(organisation, admin_user, patient, appointments) == [
        f"{bad.public_id}: {reason}"
    ]


def test_chain_without_services_is_refused(organisation, admin_user, patient, appointments):
    appointments[0].service_chain.services.all().delete()

    errors = _refused(organisation, admin_user, patient, appointments[:1])

    assert errors == [f"{appointments[0].public_id}: hat eine Leistungskette ohne Leistungen."]


def test_appointment_of_another_patient_is_refused(organisation, admin_user, patient, chain):
    stranger = AppointmentFactory(organisation=organisation, service_chain=chain)

    errors = _refused(organisation, admin_user, patient, [stranger])

    assert errors == [f"{stranger.public_id}: gehört zu einer anderen Akte."]


def test_several_problems_are_all_listed(organisation, admin_user, patient, appointments):
    Appointment.objects.filter(pk=appointments[0].pk).update(
        start=timezone.now() + timedelta(days=1), service_chain=None
    )
    Appointment.objects.filter(pk=appointments[2].pk).update(status=AppointmentStatus.CANCELLED)

    assert _refused(organisation, admin_user, patient, appointments) == [
        f"{appointments[0].public_id}: liegt in der Zukunft.",
        f"{appointments[0].public_id}: hat keine Leistungskette.",
        f"{appointments[2].public_id}: ist abgesagt.",
    ]


@pytest.mark.parametrize("status", ["draft", "issued", "paid"])
def test_appointment_on_a_non_cancelled_invoice_is_refused(
    organisation, admin_user, patient, appointments, draft, status
):
    if status != "draft":
        services.invoice_issue(invoice=draft, actor=admin_user)
    if status == "paid":
        services.invoice_pay(invoice=draft, actor=admin_user)
    fresh = AppointmentFactory(organisation=organisation, patient=patient)

    with pytest.raises(ValidationFailed) as caught:
        _create(organisation, admin_user, patient, [fresh, appointments[0]])

    assert caught.value.errors == {
        "appointment_ids": [f"{appointments[0].public_id}: steht schon auf einer Rechnung."]
    }
    assert Invoice.objects.count() == 1
    fresh.refresh_from_db()
    assert fresh.invoice is None


def test_duplicate_appointments_bill_once(organisation, admin_user, patient, appointments):
    invoice = _create(organisation, admin_user, patient, [appointments[0], appointments[0]])

    assert invoice.lines.count() == 2


def test_patient_or_appointment_of_another_organisation_is_not_found(
    organisation, other_organisation, admin_user, patient, appointments
):
    foreign_patient = PatientFactory(organisation=other_organisation)
    foreign_appointment = AppointmentFactory(organisation=other_organisation)

    with pytest.raises(NotFound):
        _create(organisation, admin_user, foreign_patient, appointments)
    with pytest.raises(NotFound):
        _create(organisation, admin_user, patient, [appointments[0], foreign_appointment])

    assert not Invoice.objects.exists()


def test_issue_numbers_gapless_with_dates_in_the_organisations_zone(
    organisation, admin_user, frozen_now
):
    frozen_now(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))  # 1 January 2027 in Berlin
    first = make_draft(organisation=organisation, actor=admin_user)
    second = make_draft(organisation=organisation, actor=admin_user)

    first = services.invoice_issue(invoice=first, actor=admin_user)
    second = services.invoice_issue(invoice=second, actor=admin_user)

    assert (first.number, second.number) == ("2027-0001", "2027-0002")
    assert first.issue_date.isoformat() == "2027-01-01"
    assert first.due_date.isoformat() == "2027-01-15"  # payment_term_days 14
    assert first.issued_at == timezone.now()
    assert InvoiceSequence.objects.get(organisation=organisation).year == 2027


def test_each_organisation_and_year_has_its_own_sequence(
    organisation, other_organisation, admin_user, frozen_now
):
    frozen_now(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    ours = make_draft(organisation=organisation, actor=admin_user)
    theirs = make_draft(organisation=other_organisation, actor=None)
    assert services.invoice_issue(invoice=ours, actor=admin_user).number == "2026-0001"
    assert services.invoice_issue(invoice=theirs, actor=None).number == "2026-0001"

    frozen_now(datetime(2027, 6, 1, 10, 0, tzinfo=UTC))
    next_year = make_draft(organisation=organisation, actor=admin_user)
    assert services.invoice_issue(invoice=next_year, actor=admin_user).number == "2027-0001"


def test_number_grows_past_four_digits(organisation, admin_user):
    year = organisation.today().year
    InvoiceSequence.objects.create(organisation=organisation, year=year, last_number=9999)

    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )

    assert invoice.number == f"{year}-10000"


# Issuing and cancelling (Storno of issued, partly paid and paid ones, not of a
# written-off one); paid and partly paid follow the payments (billing.payments).
TRANSITION_TABLE = {
    ("draft", "issued"),
    ("draft", "cancelled"),
    ("issued", "cancelled"),
    ("partly_paid", "cancelled"),
    ("paid", "cancelled"),
}
# What the actions below may do: the table, and "bezahlt" (a payment of the open amount).
ALLOWED = TRANSITION_TABLE | {("issued", "paid")}
ACTIONS = {
    "issued": services.invoice_issue,
    "paid": services.invoice_pay,
    "cancelled": services.invoice_cancel,
}
PATHS = {
    "draft": [],
    "issued": ["issued"],
    "paid": ["issued", "paid"],
    "cancelled": ["issued", "cancelled"],
}


def test_transition_table_is_the_contracts():
    assert {(a, b) for a, targets in services.TRANSITIONS.items() for b in targets} == (
        TRANSITION_TABLE
    )


@pytest.mark.parametrize("start", list(PATHS))
@pytest.mark.parametrize("target", list(ACTIONS))
def test_every_status_change_follows_the_table(organisation, admin_user, start, target):
    invoice = make_draft(organisation=organisation, actor=admin_user)
    for step in PATHS[start]:
        invoice = ACTIONS[step](invoice=invoice, actor=admin_user)
    before = Invoice.objects.values().get(pk=invoice.pk)
    sequences = list(InvoiceSequence.objects.order_by("pk").values())

    if (start, target) in ALLOWED:
        assert ACTIONS[target](invoice=invoice, actor=admin_user).status == target
        return
    with pytest.raises(InvalidStatus):
        ACTIONS[target](invoice=invoice, actor=admin_user)
    assert Invoice.objects.values().get(pk=invoice.pk) == before
    # Neither an invoice number nor a cancellation number is used up.
    assert list(InvoiceSequence.objects.order_by("pk").values()) == sequences


def test_issuing_twice_uses_no_second_number(organisation, admin_user, draft):
    services.invoice_issue(invoice=draft, actor=admin_user)

    with pytest.raises(InvalidStatus) as caught:
        services.invoice_issue(invoice=draft, actor=admin_user)

    assert "gestellt" in caught.value.detail
    assert InvoiceSequence.objects.get().last_number == 1
    nxt = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    assert nxt.number.endswith("-0002")


def test_pay_records_when(organisation, admin_user, draft):
    services.invoice_issue(invoice=draft, actor=admin_user)

    paid = services.invoice_pay(invoice=draft, actor=admin_user)

    assert paid.status == InvoiceStatus.PAID
    assert paid.paid_at is not None


def test_discarding_a_draft_frees_its_appointments_without_a_number(
    organisation, admin_user, patient, appointments, draft
):
    cancelled = services.invoice_cancel(invoice=draft, actor=admin_user)

    assert (cancelled.status, cancelled.number) == (InvoiceStatus.CANCELLED, None)
    assert cancelled.cancelled_at is not None
    assert (cancelled.cancellation_number, cancelled.cancellation_date) == (None, None)
    assert not Appointment.objects.filter(invoice__isnull=False).exists()
    assert not InvoiceSequence.objects.exists()
    again = _create(organisation, admin_user, patient, appointments)
    assert again.lines.count() == 6


def test_storno_keeps_the_number_and_the_appointments_are_billed_again(
    organisation, admin_user, patient, appointments, draft
):
    issued = services.invoice_issue(invoice=draft, actor=admin_user)
    services.invoice_pay(invoice=draft, actor=admin_user)

    cancelled = services.invoice_cancel(invoice=draft, actor=admin_user)

    assert cancelled.number == issued.number
    assert cancelled.status == InvoiceStatus.CANCELLED
    assert InvoiceLine.objects.filter(invoice=cancelled).count() == 6
    assert not Appointment.objects.filter(invoice__isnull=False).exists()
    unlocked = Appointment.history.filter(invoice__isnull=True, history_user=admin_user)
    assert unlocked.count() == 3
    rebilled = services.invoice_issue(
        invoice=_create(organisation, admin_user, patient, appointments), actor=admin_user
    )
    assert rebilled.number.endswith("-0002")
    assert [h.status for h in cancelled.history.order_by("history_id")] == [
        "draft",
        "issued",
        "paid",
        "cancelled",
    ]


def test_status_change_reads_the_current_row(organisation, admin_user, draft):
    stale = Invoice.objects.get(pk=draft.pk)
    services.invoice_issue(invoice=draft, actor=admin_user)

    with pytest.raises(InvalidStatus):
        services.invoice_issue(invoice=stale, actor=admin_user)

    assert InvoiceSequence.objects.get().last_number == 1


def test_exempt_and_taxed_chains_mix(organisation, admin_user, patient):
    therapy = ServiceChainFactory(organisation=organisation, services=THERAPY)
    course = ServiceChainFactory(
        organisation=organisation,
        services=[("K7", "Kurs", Decimal("1234.56"), Decimal("7.00"), 60), *MIXED[1:]],
    )
    booked = [
        AppointmentFactory(organisation=organisation, patient=patient, service_chain=chain)
        for chain in (therapy, course)
    ]

    invoice = _create(organisation, admin_user, patient, booked)

    # 7 % of 1234.56 = 86.4192 -> 86.42; 19 % of 8.40 = 1.596 -> 1.60
    assert (invoice.net_total, invoice.vat_total, invoice.total) == (
        Decimal("1275.46"),
        Decimal("88.02"),
        Decimal("1363.48"),
    )


# Cancellation documents (Stornorechnungen): their own gapless range


def _issued(organisation, actor) -> Invoice:
    return services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=actor), actor=actor
    )


def _cancellation_sequence(organisation, year: int) -> InvoiceSequence:
    return InvoiceSequence.objects.get(
        organisation=organisation, kind=SequenceKind.CANCELLATION, year=year
    )


@pytest.mark.parametrize("paid", [False, True])
def test_storno_gets_the_first_cancellation_number_and_keeps_its_invoice_number(
    organisation, admin_user, frozen_now, paid
):
    frozen_now(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    invoice = _issued(organisation, admin_user)
    if paid:
        services.invoice_pay(invoice=invoice, actor=admin_user)
    frozen_now(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))

    cancelled = services.invoice_cancel(invoice=invoice, actor=admin_user)

    assert cancelled.number == "2026-0001"
    assert cancelled.cancellation_number == "ST-2026-0001"
    assert cancelled.cancellation_date.isoformat() == "2026-03-09"
    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.cancellation_number, stored.cancellation_date) == (
        "ST-2026-0001",
        cancelled.cancellation_date,
    )
    assert stored.history.latest().cancellation_number == "ST-2026-0001"
    assert sorted(InvoiceSequence.objects.values_list("kind", "year", "last_number")) == [
        (SequenceKind.CANCELLATION, 2026, 1),
        (SequenceKind.INVOICE, 2026, 1),
    ]


def test_cancellation_numbers_are_gapless_and_independent_of_invoice_numbers(
    organisation, admin_user
):
    year = organisation.today().year
    invoices = [_issued(organisation, admin_user) for _ in range(4)]

    numbers = [
        services.invoice_cancel(invoice=invoice, actor=admin_user).cancellation_number
        for invoice in (invoices[2], invoices[0], invoices[3])
    ]

    assert numbers == [f"ST-{year}-0001", f"ST-{year}-0002", f"ST-{year}-0003"]
    assert [i.number for i in invoices] == [f"{year}-{n:04d}" for n in range(1, 5)]
    assert _issued(organisation, admin_user).number == f"{year}-0005"
    assert Invoice.objects.get(pk=invoices[1].pk).cancellation_number is None


def test_each_organisation_and_year_has_its_own_cancellation_sequence(
    organisation, other_organisation, admin_user, frozen_now
):
    frozen_now(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    ours = [_issued(organisation, admin_user) for _ in range(2)]
    theirs = _issued(other_organisation, None)

    assert services.invoice_cancel(invoice=ours[0], actor=admin_user).cancellation_number == (
        "ST-2026-0001"
    )
    assert services.invoice_cancel(invoice=theirs, actor=None).cancellation_number == (
        "ST-2026-0001"
    )
    # 23:30 UTC on 31 December is 1 January in Berlin: the year of the cancellation
    # date in the organisation's zone, not of the invoice.
    frozen_now(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    next_year = services.invoice_cancel(invoice=ours[1], actor=admin_user)
    assert (next_year.number, next_year.cancellation_number) == ("2026-0002", "ST-2027-0001")
    assert next_year.cancellation_date.isoformat() == "2027-01-01"
    assert _cancellation_sequence(organisation, 2026).last_number == 1
    assert _cancellation_sequence(organisation, 2027).last_number == 1
    assert _cancellation_sequence(other_organisation, 2026).last_number == 1


def test_refused_cancel_uses_no_cancellation_number(organisation, admin_user):
    year = organisation.today().year
    first = services.invoice_cancel(invoice=_issued(organisation, admin_user), actor=admin_user)
    discarded = services.invoice_cancel(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )

    for cancelled in (first, discarded):
        with pytest.raises(InvalidStatus):
            services.invoice_cancel(invoice=cancelled, actor=admin_user)

    assert Invoice.objects.get(pk=first.pk).cancellation_number == f"ST-{year}-0001"
    assert Invoice.objects.get(pk=discarded.pk).cancellation_number is None
    assert _cancellation_sequence(organisation, year).last_number == 1
    second = services.invoice_cancel(invoice=_issued(organisation, admin_user), actor=admin_user)
    assert second.cancellation_number == f"ST-{year}-0002"


def test_rolled_back_cancel_gives_its_number_back(organisation, admin_user):
    year = organisation.today().year
    invoice = _issued(organisation, admin_user)

    with pytest.raises(RuntimeError), transaction.atomic():
        assert services.invoice_cancel(invoice=invoice, actor=admin_user).cancellation_number
        raise RuntimeError("the surrounding work failed")

    stored = Invoice.objects.get(pk=invoice.pk)
    assert (stored.status, stored.cancellation_number) == (InvoiceStatus.ISSUED, None)
    assert not InvoiceSequence.objects.filter(kind=SequenceKind.CANCELLATION).exists()
    again = services.invoice_cancel(invoice=invoice, actor=admin_user)
    assert again.cancellation_number == f"ST-{year}-0001"


def test_cancellation_number_grows_past_four_digits(organisation, admin_user):
    year = organisation.today().year
    InvoiceSequence.objects.create(
        organisation=organisation, kind=SequenceKind.CANCELLATION, year=year, last_number=9999
    )

    cancelled = services.invoice_cancel(invoice=_issued(organisation, admin_user), actor=admin_user)

    assert cancelled.cancellation_number == f"ST-{year}-10000"


def test_database_keeps_cancellation_numbers_unique_per_organisation(
    organisation, other_organisation, admin_user
):
    cancelled = services.invoice_cancel(invoice=_issued(organisation, admin_user), actor=admin_user)
    other = services.invoice_cancel(invoice=_issued(organisation, admin_user), actor=admin_user)
    foreign = services.invoice_cancel(invoice=_issued(other_organisation, None), actor=None)

    assert foreign.cancellation_number == cancelled.cancellation_number
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=other.pk).update(
            cancellation_number=cancelled.cancellation_number
        )


@pytest.mark.parametrize("status", ["draft", "issued"])
def test_database_refuses_a_cancellation_number_on_what_is_not_a_storno(
    organisation, admin_user, status
):
    invoice = make_draft(organisation=organisation, actor=admin_user)
    if status == "issued":
        services.invoice_issue(invoice=invoice, actor=admin_user)

    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(
            cancellation_number="ST-2026-0001", cancellation_date=organisation.today()
        )
