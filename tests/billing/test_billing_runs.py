"""Billing runs (Rechnungslauf): the contract (staff-api.md, "Money in", **Billing
run**) and the rules behind it (billing.runs). The job runs in-process here (the
outbox hands it over after the commit); a real worker runs it in
tests/jobs/test_billing_run_worker.py."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from pypdf import PdfReader

from appointments.models import Appointment, AppointmentStatus
from audit.models import AuditEvent
from billing import runs, services
from billing.models import BillingRun, BillingRunStatus, Invoice, InvoiceDocument, InvoiceStatus
from outbox.models import OutboxMessage
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

URL = "/api/v1/billing-runs/"


@pytest.fixture
def period(organisation):
    """The last 30 days up to yesterday, in the organisation's zone."""
    today = organisation.today()
    return today - timedelta(days=30), today - timedelta(days=1)


@pytest.fixture
def chain(organisation):
    return ServiceChainFactory(organisation=organisation)


@pytest.fixture
def column(organisation):
    return CalendarColumnFactory(organisation=organisation, name="Frau Lind")


def at(organisation, day, hour=10):
    """10:00 (organisation's zone) on `day`."""
    return timezone.make_aware(
        timezone.datetime.combine(day, timezone.datetime.min.time()).replace(hour=hour),
        organisation.zone,
    )


def visit(organisation, patient, day, *, chain, column, **fields):
    return AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        calendar_column=column,
        start=at(organisation, day),
        **fields,
    )


def start(api, period, hooks, **body):
    with hooks(execute=True):
        response = api.post(
            URL,
            {"period_start": period[0].isoformat(), "period_end": period[1].isoformat(), **body},
            format="json",
        )
    return response


def poll(api, run_id):
    return api.get(f"{URL}{run_id}/").json()


def test_one_draft_per_patient_with_billable_appointments_in_the_period(
    api, organisation, period, chain, column, django_capture_on_commit_callbacks
):
    first, last = period
    anna, ben = PatientFactory(organisation=organisation), PatientFactory(organisation=organisation)
    billed = [
        visit(organisation, anna, first, chain=chain, column=column),
        visit(organisation, anna, last, chain=chain, column=column),
        visit(organisation, ben, first + timedelta(days=3), chain=chain, column=column),
    ]
    # not candidates: before and after the period, cancelled, today (after the period)
    outside = [
        visit(organisation, anna, first - timedelta(days=1), chain=chain, column=column),
        visit(organisation, ben, last + timedelta(days=1), chain=chain, column=column),
        visit(
            organisation,
            ben,
            first,
            chain=chain,
            column=column,
            status=AppointmentStatus.CANCELLED,
        ),
    ]

    response = start(api, period, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    body = response.json()
    assert set(body) >= {"id", "status", "progress", "invoice_ids", "skipped"}
    assert body["status"] in {"queued", "running", "done"}
    run = poll(api, body["id"])
    assert run["status"] == "done"
    assert run["progress"] == {"done": 2, "total": 2}
    assert run["skipped"] == []
    assert len(run["invoice_ids"]) == 2
    invoices = Invoice.objects.filter(public_id__in=run["invoice_ids"])
    assert {i.patient_id for i in invoices} == {anna.pk, ben.pk}
    assert all(i.status == InvoiceStatus.DRAFT for i in invoices)
    anna_invoice = invoices.get(patient=anna)
    assert anna_invoice.lines.count() == 2
    assert anna_invoice.total == Decimal("130.00")
    for appointment in billed:
        appointment.refresh_from_db()
        assert appointment.invoice is not None
        # the lock is in the appointment's history, by whom it was made
        assert appointment.history.first().invoice_id == appointment.invoice_id
    for appointment in outside:
        appointment.refresh_from_db()
        assert appointment.invoice is None
    # each draft has its Protokoll entry, like one made by hand
    assert (
        AuditEvent.objects.filter(action="invoice.create", organisation=organisation).count() == 2
    )


def test_skipped_patients_and_appointments_say_why(
    api, organisation, period, chain, column, django_capture_on_commit_callbacks
):
    first, _ = period
    planned = PatientFactory(organisation=organisation)
    visit(
        organisation, planned, first, chain=chain, column=column, status=AppointmentStatus.PLANNED
    )
    partly = PatientFactory(organisation=organisation)
    visit(organisation, partly, first, chain=chain, column=column)
    visit(
        organisation,
        partly,
        first + timedelta(days=1),
        chain=None,
        column=column,
        status=AppointmentStatus.DONE,
    )
    archived = PatientFactory(organisation=organisation, archived_at=timezone.now())
    visit(organisation, archived, first, chain=chain, column=column)

    run = poll(api, start(api, period, django_capture_on_commit_callbacks).json()["id"])

    reasons = {entry["patient_id"]: entry["reason"] for entry in run["skipped"]}
    assert set(reasons) == {str(planned.public_id), str(partly.public_id), str(archived.public_id)}
    assert "ist noch nicht erledigt" in reasons[str(planned.public_id)]
    assert "hat keine Leistungskette" in reasons[str(partly.public_id)]
    assert "Die übrigen stehen auf dem Entwurf" in reasons[str(partly.public_id)]
    assert "archiviert" in reasons[str(archived.public_id)]
    assert all(set(entry) == {"patient_id", "reason"} for entry in run["skipped"])
    assert [i.patient for i in Invoice.objects.filter(public_id__in=run["invoice_ids"])] == [partly]


def test_only_the_chosen_columns(
    api, organisation, period, chain, column, django_capture_on_commit_callbacks
):
    other = CalendarColumnFactory(organisation=organisation, name="Raum 2")
    patient = PatientFactory(organisation=organisation)
    mine = visit(organisation, patient, period[0], chain=chain, column=column)
    theirs = visit(organisation, patient, period[0], chain=chain, column=other)

    body = start(
        api,
        period,
        django_capture_on_commit_callbacks,
        calendar_column_ids=[str(column.public_id)],
    ).json()

    assert body["calendar_column_ids"] == [str(column.public_id)]
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.invoice is not None and theirs.invoice is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period_start": "2026-11-30", "period_end": "2026-11-01"}, "period_end"),
        ({"period_start": "2025-01-01", "period_end": "2026-11-30"}, "period_end"),
        ({"period_start": "30.11.2026", "period_end": "2026-11-30"}, "period_start"),
        ({"period_end": "2026-11-30"}, "period_start"),
        (
            {
                "period_start": "2026-11-01",
                "period_end": "2026-11-30",
                "calendar_column_ids": ["0b0b0b0b-0000-4000-8000-000000000000"],
            },
            "calendar_column_ids",
        ),
    ],
)
def test_bad_input_is_422_and_starts_nothing(api, body, field):
    response = api.post(URL, body, format="json")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]
    assert not BillingRun.objects.exists()
    assert not OutboxMessage.objects.filter(task=runs.TASK).exists()


def test_another_organisations_column_is_not_found(api, other_organisation, period):
    theirs = CalendarColumnFactory(organisation=other_organisation)
    response = api.post(
        URL,
        {
            "period_start": period[0].isoformat(),
            "period_end": period[1].isoformat(),
            "calendar_column_ids": [str(theirs.public_id)],
        },
        format="json",
    )
    assert response.status_code == 422
    assert "calendar_column_ids" in response.json()["errors"]


def test_one_run_at_work_per_practice(api, period):
    # without the hooks the job is not run: the first stays queued
    first = api.post(
        URL,
        {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()},
        format="json",
    )
    second = api.post(
        URL,
        {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()},
        format="json",
    )

    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert second.status_code == 409
    assert second.json()["code"] == "billing_run_running"
    assert BillingRun.objects.count() == 1


def test_another_organisations_run_is_404(api, other_api, period):
    run_id = api.post(
        URL,
        {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()},
        format="json",
    ).json()["id"]

    assert other_api.get(f"{URL}{run_id}/").status_code == 404
    assert other_api.post(f"{URL}{run_id}/issue").status_code == 404
    assert other_api.post(f"{URL}{run_id}/send").status_code == 404
    assert other_api.get(f"{URL}{run_id}/print.pdf").status_code == 404
    assert other_api.get(URL).json()["results"] == []


def test_run_again_after_a_lost_worker_goes_on_without_duplicates(
    organisation, admin_user, period, chain, column
):
    patients = [PatientFactory(organisation=organisation) for _ in range(5)]
    for patient in patients:
        visit(organisation, patient, period[0], chain=chain, column=column)
    run = BillingRun.objects.create(
        organisation=organisation,
        created_by=admin_user,
        period_start=period[0],
        period_end=period[1],
    )
    # the first worker made the drafts of two patients, then died
    claimed = runs._claim(run.pk)
    runs._draft_chunk(claimed, [patients[0].pk, patients[1].pk], organisation.today())

    assert runs.billing_run_execute(run_id=run.pk) == "done"
    assert runs.billing_run_execute(run_id=run.pk) == "skipped"  # done stays done

    run.refresh_from_db()
    assert run.invoices.count() == 5
    assert Appointment.objects.filter(invoice__isnull=True).count() == 0
    assert run.attempts == 2


def test_issue_all_takes_consecutive_numbers_and_archives_each_pdf(
    api, organisation, admin_user, period, chain, column, django_capture_on_commit_callbacks
):
    for _ in range(3):
        visit(
            organisation,
            PatientFactory(organisation=organisation),
            period[0],
            chain=chain,
            column=column,
        )
    no_address = PatientFactory(organisation=organisation, street="", city="")
    visit(organisation, no_address, period[0], chain=chain, column=column)
    # one issued by hand before: the run's numbers follow it
    someone = PatientFactory(organisation=organisation)
    by_hand = services.invoice_create(
        organisation=organisation,
        actor=admin_user,
        patient=someone,
        appointments=[
            AppointmentFactory(
                organisation=organisation,
                patient=someone,
                service_chain=chain,
                calendar_column=column,
                start=timezone.now() - timedelta(days=60),
            )
        ],
    )
    services.invoice_issue(invoice=by_hand, actor=admin_user)
    run_id = start(api, period, django_capture_on_commit_callbacks).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}{run_id}/issue")

    assert response.status_code == 202
    run = poll(api, run_id)
    assert run["status"] == "done"
    issued = Invoice.objects.filter(public_id__in=run["invoice_ids"], status=InvoiceStatus.ISSUED)
    year = organisation.today().year
    assert sorted(issued.values_list("number", flat=True)) == [
        f"{year}-0002",
        f"{year}-0003",
        f"{year}-0004",
    ]
    assert InvoiceDocument.objects.filter(invoice__in=issued).count() == 3
    assert all(invoice.parties for invoice in issued)
    # the incomplete one stays a draft and is listed
    draft = Invoice.objects.get(patient=no_address)
    assert draft.status == InvoiceStatus.DRAFT
    (entry,) = run["skipped"]
    assert entry["patient_id"] == str(no_address.public_id)
    assert "Straße" in entry["reason"] or "Anschrift" in entry["reason"]
    assert AuditEvent.objects.filter(action="invoice.issue").count() == 4


def test_issue_all_is_refused_while_the_run_works_and_when_practice_data_is_missing(
    api, organisation, period, chain, column, django_capture_on_commit_callbacks
):
    visit(
        organisation,
        PatientFactory(organisation=organisation),
        period[0],
        chain=chain,
        column=column,
    )
    queued = api.post(
        URL,
        {"period_start": period[0].isoformat(), "period_end": period[1].isoformat()},
        format="json",
    ).json()
    assert api.post(f"{URL}{queued['id']}/issue").json()["code"] == "invalid_status"

    runs.billing_run_execute(run_id=BillingRun.objects.get().pk)
    organisation.tax_number = ""
    organisation.vat_id = ""
    organisation.save()
    response = api.post(f"{URL}{queued['id']}/issue")

    assert response.status_code == 422
    assert response.json()["code"] == "invoice_incomplete"
    assert "practice.tax_number" in response.json()["errors"]
    assert Invoice.objects.get().status == InvoiceStatus.DRAFT


def test_send_all_queues_each_addressed_invoice_once_and_prints_the_rest(
    api, organisation, period, chain, column, django_capture_on_commit_callbacks
):
    with_mail = [
        PatientFactory(organisation=organisation, email=f"p{n}@example.org") for n in range(2)
    ]
    without = [PatientFactory(organisation=organisation, email="") for _ in range(2)]
    for patient in with_mail + without:
        visit(organisation, patient, period[0], chain=chain, column=column)
    run_id = start(api, period, django_capture_on_commit_callbacks).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{URL}{run_id}/issue")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}{run_id}/send")
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(f"{URL}{run_id}/send")

    assert response.status_code == 202 and again.status_code == 202
    assert response.json()["send_requested_at"] is not None
    sent = Invoice.objects.filter(sent_at__isnull=False)
    assert {i.patient for i in sent} == set(with_mail)
    assert OutboxMessage.objects.filter(task="billing.send_invoice").count() == 2

    pdf = api.get(f"{URL}{run_id}/print.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    pages = PdfReader(io.BytesIO(pdf.content)).pages
    text = " ".join(page.extract_text() for page in pages)
    for invoice in Invoice.objects.filter(patient__in=without):
        assert invoice.number in text
    for invoice in sent:
        assert invoice.number not in text


def test_print_pdf_with_nothing_to_print_is_404(
    api, organisation, period, chain, column, django_capture_on_commit_callbacks
):
    visit(
        organisation,
        PatientFactory(organisation=organisation, email="a@example.org"),
        period[0],
        chain=chain,
        column=column,
    )
    run_id = start(api, period, django_capture_on_commit_callbacks).json()["id"]

    response = api.get(f"{URL}{run_id}/print.pdf")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


def test_a_dead_worker_fails_the_run_so_that_a_new_one_may_start(organisation, admin_user, period):
    run = BillingRun.objects.create(
        organisation=organisation,
        created_by=admin_user,
        period_start=period[0],
        period_end=period[1],
        status=BillingRunStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=10),
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )

    assert runs.unscoped_billing_run_fail_dead() == 1

    run.refresh_from_db()
    assert run.status == BillingRunStatus.FAILED
    assert "nicht mehr gemeldet" in run.error
    runs.billing_run_start(
        organisation=organisation, actor=admin_user, period_start=period[0], period_end=period[1]
    )


def test_issue_all_while_another_run_works_is_409(
    api, organisation, admin_user, period, chain, column, django_capture_on_commit_callbacks
):
    visit(
        organisation,
        PatientFactory(organisation=organisation),
        period[0],
        chain=chain,
        column=column,
    )
    done_id = start(api, period, django_capture_on_commit_callbacks).json()["id"]
    BillingRun.objects.create(  # queued, its job not yet taken
        organisation=organisation,
        created_by=admin_user,
        period_start=period[0],
        period_end=period[1],
    )

    response = api.post(f"{URL}{done_id}/issue")

    assert response.status_code == 409
    assert response.json()["code"] == "billing_run_running"
    assert BillingRun.objects.get(public_id=done_id).status == BillingRunStatus.DONE
    assert Invoice.objects.get().status == InvoiceStatus.DRAFT
