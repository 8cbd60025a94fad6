import re
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus, CalendarColumn, ColumnKind
from audit.models import AuditEvent
from billing.dunning import levels, stored_notice_pdf
from billing.models import DunningNotice, Invoice, InvoiceLine, InvoiceStatus, ServiceLine
from billing.selectors import invoice_missing_data
from lemniscus.phones import normalize_phone
from lemniscus.text import fold
from organisations.models import Organisation, Plan, Role, User
from patients.models import Patient
from tests.conftest import token_client
from tests.organisations.cli import run_command

pytestmark = pytest.mark.django_db

LOGIN = re.compile(r"^Login: (\S+@\S+) / (\S+)$")


def seed(monkeypatch, capsys, patients=20) -> tuple[User, str]:
    status, lines, err = run_command(monkeypatch, capsys, "seed_demo", f"--patients={patients}")
    assert status == 0, err
    match = LOGIN.match(lines[-1])
    assert match, lines
    email, password = match.groups()
    return User.objects.get(email=email), password


def test_prints_a_working_login_of_an_xl_demo_organisation(monkeypatch, capsys, client):
    owner, password = seed(monkeypatch, capsys)

    assert client.login(email=owner.email, password=password)
    assert owner.role == Role.ADMIN
    assert owner.organisation.plan == Plan.XL


def test_fills_patients_with_search_keys_history_and_plausible_data(monkeypatch, capsys):
    owner, _ = seed(monkeypatch, capsys)

    patients = list(Patient.objects.filter(organisation=owner.organisation))
    assert len(patients) == 20
    for patient in patients:
        assert patient.last_name_folded == fold(patient.last_name)
        assert patient.first_name_folded == fold(patient.first_name)
        assert patient.salutation in ("male", "female")
        assert patient.birth_date < owner.organisation.today()
        assert patient.street and patient.postal_code and patient.city
        for phone in (patient.mobile_phone, patient.landline_phone):
            assert phone == normalize_phone(phone)
        assert patient.history.get().history_type == "+"
        assert patient.history.get().history_user == owner


def test_patients_are_found_by_the_staff_search(monkeypatch, capsys):
    owner, _ = seed(monkeypatch, capsys)
    patient = Patient.objects.filter(organisation=owner.organisation).first()

    response = token_client(owner).get("/api/v1/patients/", {"q": patient.last_name.upper()})

    assert response.status_code == 200
    assert str(patient.public_id) in [row["id"] for row in response.json()["results"]]


def test_makes_columns_chains_and_three_appointments_per_patient(monkeypatch, capsys):
    owner, _ = seed(monkeypatch, capsys)
    organisation = owner.organisation
    now = organisation.today()

    every = list(Appointment.objects.filter(organisation=organisation))
    assert Appointment.history.filter(organisation=organisation, history_type="+").count() == len(
        every
    )
    appointments = [a for a in every if a.series_id is None]  # the series: below
    assert len(appointments) == 60
    assert all(
        a.start.date() > now and a.status == AppointmentStatus.PLANNED
        for a in every
        if a.series_id is not None
    )
    past = [a for a in appointments if a.start.date() < now]
    future = [a for a in appointments if a.start.date() > now]
    assert past and future and len(past) + len(future) == 60
    assert all(a.status == AppointmentStatus.PLANNED for a in future)
    assert all(a.status != AppointmentStatus.PLANNED for a in past)
    assert all(a.start.astimezone(organisation.zone).weekday() < 5 for a in appointments)
    assert {a.patient_id for a in past if a.status == AppointmentStatus.DONE} == {
        a.patient_id for a in appointments
    }
    columns = CalendarColumn.objects.filter(organisation=organisation)
    assert set(columns.values_list("kind", flat=True)) == {ColumnKind.THERAPIST, ColumnKind.ROOM}
    services = ServiceLine.objects.filter(chain__organisation=organisation)
    assert (
        services.get(name="Krankengymnastik", chain__description="Krankengymnastik").vat_rate == 0
    )
    assert services.get(code="WM60").vat_rate == 19


def assert_numbers_ascend_with_issue_dates(invoices) -> None:
    """Issued in the order of their issue dates, each year's numbers from -0001 on,
    gapless: nothing was issued out of order or backdated."""
    issued = sorted((i for i in invoices if i.number), key=lambda i: (i.issued_at, i.pk))
    assert [i.issue_date for i in issued] == sorted(i.issue_date for i in issued)
    expected, counts = [], Counter()
    for invoice in issued:
        counts[invoice.issue_date.year] += 1
        expected.append(f"{invoice.issue_date.year}-{counts[invoice.issue_date.year]:04d}")
    assert [i.number for i in issued] == expected
    zone = issued[0].organisation.zone
    assert all(timezone.localdate(i.issued_at, zone) == i.issue_date for i in issued)


def test_issues_some_invoices_through_billing(monkeypatch, capsys):
    owner, _ = seed(monkeypatch, capsys)

    invoices = Invoice.objects.filter(organisation=owner.organisation)
    assert invoices.count() == 8  # four of the practice's past (OVERDUE), four of today
    assert set(invoices.values_list("status", flat=True)) == {
        InvoiceStatus.DRAFT,
        InvoiceStatus.ISSUED,
        InvoiceStatus.PARTLY_PAID,
        InvoiceStatus.PAID,
    }
    assert invoices.exclude(number=None).count() == 7
    assert_numbers_ascend_with_issue_dates(invoices)
    for invoice in invoices:
        assert invoice.total > 0
        assert invoice.locked_appointments.exists()
        assert set(invoice.lines.values_list("appointment__patient", flat=True)) == {
            invoice.patient_id
        }


def test_the_demo_has_overdue_and_dunned_invoices_from_its_past(monkeypatch, capsys):
    """Issue 14: a fresh demo has overdue invoices (nothing or part paid) and dunned
    ones (a notice at level 2 with its fee), made by the services at simulated past
    moments: the notices on the day their level was due, their PDFs stored."""
    owner, _ = seed(monkeypatch, capsys)
    organisation = owner.organisation
    today = organisation.today()

    invoices = list(Invoice.objects.filter(organisation=organisation))
    overdue = [
        i
        for i in invoices
        if i.status in (InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID) and i.due_date < today
    ]
    assert any(i.status == InvoiceStatus.ISSUED and not i.payments.exists() for i in overdue)
    assert any(i.status == InvoiceStatus.PARTLY_PAID for i in overdue)
    notices = DunningNotice.objects.filter(organisation=organisation).select_related("invoice")
    assert notices.filter(level__gte=2, fee__gt=0).exists()
    due_after = {level.level: level.days_after_due for level in levels(organisation)}
    for notice in notices:
        assert notice.date == notice.invoice.due_date + timedelta(days=due_after[notice.level])
        assert notice.date < today and notice.invoice in overdue
        assert stored_notice_pdf(notice).startswith(b"%PDF")
    assert_numbers_ascend_with_issue_dates(invoices)

    api = token_client(owner)
    assert api.get("/api/v1/invoices/", {"overdue": "true"}).json()["count"] == len(overdue)
    assert api.get("/api/v1/dunning/proposals/").json()["count"] >= 1
    dunned = api.get(f"/api/v1/invoices/{notices.get(level=2).invoice.public_id}/").json()
    assert Decimal(dunned["open_amount"]) > Decimal(dunned["total"])  # the fee is owed too


def test_the_demo_past_keeps_time_in_order(monkeypatch, capsys):
    """Simulated, not backdated: the Protokoll runs forward, and an appointment of an
    overdue invoice was created before it was billed."""
    owner, _ = seed(monkeypatch, capsys)
    organisation = owner.organisation

    times = list(
        AuditEvent.objects.filter(organisation=organisation)
        .order_by("id")
        .values_list("time", flat=True)
    )
    assert times == sorted(times)
    billed = Appointment.objects.filter(
        organisation=organisation, invoice__dunning_notices__isnull=False
    ).distinct()
    assert billed.exists()
    for appointment in billed:
        history = list(appointment.history.order_by("history_date", "history_id"))
        assert history[0].history_type == "+" and history[0].invoice_id is None
        assert history[-1].invoice_id == appointment.invoice_id


def test_every_seeded_invoice_is_complete_and_the_issued_ones_are_archived(monkeypatch, capsys):
    """The demo shows what a practice may send: every invoice passes the mandatory-data
    check (§ 14 Abs. 4 UStG), and every issued one has its PDF stored."""
    owner, _ = seed(monkeypatch, capsys, patients=60)
    organisation = owner.organisation

    invoices = list(Invoice.objects.filter(organisation=organisation))

    assert len(invoices) == 16  # four of them from the practice's past (OVERDUE)
    assert organisation.tax_number and organisation.no_show_fee is not None
    for invoice in invoices:
        assert invoice_missing_data(invoice=invoice) == {}, invoice
        assert invoice.documents.exists() == (invoice.number is not None)
    statuses = set(
        InvoiceLine.objects.filter(invoice__organisation=organisation).values_list(
            "appointment__status", flat=True
        )
    )
    assert statuses <= {AppointmentStatus.DONE, AppointmentStatus.NO_SHOW}


def test_a_seeded_draft_can_be_issued(monkeypatch, capsys):
    owner, _ = seed(monkeypatch, capsys)
    draft = Invoice.objects.get(organisation=owner.organisation, status=InvoiceStatus.DRAFT)

    response = token_client(owner).post(f"/api/v1/invoices/{draft.public_id}/issue")

    assert response.status_code == 200, response.content
    assert response.json()["pdf_sha256"]


def test_running_again_makes_a_second_demo_with_its_own_login(monkeypatch, capsys, client):
    first, _ = seed(monkeypatch, capsys, patients=2)

    second, password = seed(monkeypatch, capsys, patients=2)

    assert second.email != first.email
    assert second.organisation != first.organisation
    assert Organisation.objects.count() == 2
    assert client.login(email=second.email, password=password)


def test_refuses_a_negative_count(monkeypatch, capsys):
    status, _, err = run_command(monkeypatch, capsys, "seed_demo", "--patients=-1")

    assert status == 1
    assert "--patients" in err
    assert not Organisation.objects.exists()


def test_treated_appointments_are_documented_some_corrected_some_with_a_prescription(
    monkeypatch, capsys
):
    from documentation.models import Attachment, DocumentationEntry

    owner, _ = seed(monkeypatch, capsys, patients=40)

    entries = DocumentationEntry.objects.filter(organisation=owner.organisation)
    assert entries.exists()
    for entry in entries.select_related("appointment"):
        assert entry.appointment.status == AppointmentStatus.DONE
        assert entry.created_at > entry.appointment.start
        assert entry.history.get().history_type == "+"
    assert entries.filter(finalised_at__isnull=False).exists()
    assert entries.filter(corrections__isnull=False).exists()
    assert Attachment.objects.filter(organisation=owner.organisation).count() == 3


def test_the_demo_has_series_a_room_and_opening_hours(monkeypatch, capsys):
    """Issue 13: what a fresh demo shows in the calendar."""
    owner, _ = seed(monkeypatch, capsys, patients=60)
    organisation = owner.organisation
    assert organisation.opening_hours["sat"] and not organisation.opening_hours["sun"]
    assert CalendarColumn.objects.filter(organisation=organisation, kind=ColumnKind.ROOM).exists()
    in_series = Appointment.objects.filter(organisation=organisation, series__isnull=False)
    assert in_series.values("series").distinct().count() >= 10
    assert in_series.filter(room__isnull=False).exists()
