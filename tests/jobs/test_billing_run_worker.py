"""Billing runs on real Celery workers through Redis (issue 14): 500 patients'
drafts with the first worker killed (kill -9) in the middle, and a worker killed in
the middle of issuing: the next worker goes on where the dead one stopped, and no
appointment is billed twice, no number is taken twice or skipped."""

from datetime import timedelta

import psycopg
import pytest
from django.utils import timezone

from appointments.models import Appointment
from billing.models import (
    BillingRun,
    BillingRunStatus,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatus,
)
from patients.models import Patient
from tests.factories import CalendarColumnFactory, PatientFactory, ServiceChainFactory
from tests.jobs.conftest import Worker, _test_database_url, wait_for
from tests.jobs.test_handover_worker import _redeliver_unacknowledged, _waiting_for_a_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/billing-runs/"


@pytest.fixture
def worker_env(settings) -> dict[str, str]:
    """The worker archives the PDFs where this test reads them."""
    return {"MEDIA_ROOT": settings.MEDIA_ROOT}


def treated(organisation, count: int) -> list[Patient]:
    """`count` patients with two done appointments each in the last month."""
    chain = ServiceChainFactory(organisation=organisation)
    column = CalendarColumnFactory(organisation=organisation)
    patients = [PatientFactory.build(organisation=organisation) for _ in range(count)]
    for patient in patients:
        patient.refresh_search_keys()
    patients = Patient.objects.bulk_create(patients)
    start = timezone.now() - timedelta(days=10)
    Appointment.objects.bulk_create(
        Appointment(
            organisation=organisation,
            patient=patient,
            calendar_column=column,
            service_chain=chain,
            start=start + timedelta(days=day),
            duration_minutes=30,
            status="done",
        )
        for patient in patients
        for day in (0, 1)
    )
    return patients


def start_run(api, organisation) -> str:
    today = organisation.today()
    response = api.post(
        URL,
        {
            "period_start": (today - timedelta(days=30)).isoformat(),
            "period_end": today.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 202
    return response.json()["id"]


def status(api, run_id) -> dict:
    return api.get(f"{URL}{run_id}/").json()


def issued_count() -> int:
    return Invoice.objects.filter(status=InvoiceStatus.ISSUED).count()


def test_a_worker_killed_mid_drafts_and_the_next_goes_on_without_doubles(
    celery_worker, worker_env, redis_url, api, organisation
):
    patients = treated(organisation, 500)
    # Chunks go by patient key: locking an appointment of the 301st patient stops the
    # worker in its second chunk, after the first 200 patients' drafts are committed.
    blocker = Appointment.objects.filter(patient=sorted(patients, key=lambda p: p.pk)[300]).first()
    holder = psycopg.connect(_test_database_url())
    try:
        holder.execute(
            "SELECT id FROM appointments_appointment WHERE id = %s FOR UPDATE", [blocker.pk]
        )
        run_id = start_run(api, organisation)
        wait_for(lambda: _waiting_for_a_lock(holder.info.backend_pid), timeout=60)
        celery_worker.kill()
    finally:
        holder.rollback()
        holder.close()

    run = BillingRun.objects.get(public_id=run_id)
    assert (run.status, run.attempts, run.progress_done) == (BillingRunStatus.RUNNING, 1, 200)
    assert Invoice.objects.count() == 200

    assert _redeliver_unacknowledged(redis_url, celery_worker.queue) == 1
    second = Worker(redis_url, celery_worker.queue, worker_env)
    try:
        wait_for(lambda: status(api, run_id)["status"] == "done", timeout=120)
    finally:
        second.stop()

    run.refresh_from_db()
    assert run.attempts == 2
    answer = status(api, run_id)
    assert answer["skipped"] == [] and len(answer["invoice_ids"]) == 500
    assert answer["progress"] == {"done": 300, "total": 300}  # what was left
    assert Invoice.objects.count() == 500
    assert len(set(Invoice.objects.values_list("patient_id", flat=True))) == 500
    assert InvoiceLine.objects.count() == 1000
    assert InvoiceLine.objects.values("appointment").distinct().count() == 1000
    assert not Appointment.objects.filter(invoice__isnull=True).exists()


def test_a_worker_killed_mid_issue_and_the_next_archives_the_rest(
    celery_worker, worker_env, redis_url, api, organisation
):
    treated(organisation, 30)
    run_id = start_run(api, organisation)
    wait_for(lambda: status(api, run_id)["status"] == "done", timeout=60)
    # The numbers are taken in one short transaction, then the PDFs are archived one
    # by one (about 0.2 s each), by number. An uncommitted document row of the last
    # invoice, written as soon as the numbers are there, holds the worker's insert of
    # that invoice's document on the unique index (one document per kind) after 29
    # PDFs, before its commit.
    last = Invoice.objects.order_by("-pk").first()
    holder = psycopg.connect(_test_database_url())
    try:
        assert api.post(f"{URL}{run_id}/issue").status_code == 202
        wait_for(lambda: issued_count() == 30, timeout=60, interval=0.02)
        holder.execute(
            "INSERT INTO billing_invoicedocument (invoice_id, kind, file, sha256, size, "
            "created_at) VALUES (%s, 'invoice', 'x.pdf', '', 0, now())",
            [last.pk],
        )
        wait_for(lambda: _waiting_for_a_lock(holder.info.backend_pid), timeout=60)
        celery_worker.kill()
    finally:
        holder.rollback()
        holder.close()

    assert InvoiceDocument.objects.count() == 29
    assert _redeliver_unacknowledged(redis_url, celery_worker.queue) == 1
    second = Worker(redis_url, celery_worker.queue, worker_env)
    try:
        wait_for(lambda: status(api, run_id)["status"] == "done", timeout=120)
    finally:
        second.stop()

    year = organisation.today().year
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"{year}-{n:04d}" for n in range(1, 31)]
    assert InvoiceDocument.objects.count() == 30
    # the second run counts what was left: the last PDF
    assert status(api, run_id)["progress"] == {"done": 1, "total": 1}
