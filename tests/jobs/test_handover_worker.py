"""The handover export end to end on a real Celery worker through Redis, and a worker
killed in the middle of an export."""

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from django.utils import timezone
from kombu import Connection

from appointments.models import Appointment
from doctolib_bridge.models import ExportJob, ExportState
from tests.conftest import assert_problem
from tests.factories import AppointmentFactory, PatientFactory
from tests.jobs.conftest import Worker, _test_database_url, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_env(settings) -> dict[str, str]:
    """The worker stores the files where this test reads them."""
    return {"MEDIA_ROOT": settings.MEDIA_ROOT}


@pytest.fixture
def ahead(organisation):
    """Twenty appointments to hand over, from tomorrow on."""
    patient = PatientFactory(organisation=organisation, last_name="Jäger")
    start = timezone.now() + timedelta(days=1)
    return [
        AppointmentFactory(
            organisation=organisation, patient=patient, start=start + timedelta(hours=i)
        )
        for i in range(20)
    ]


def _job(public_id) -> ExportJob:
    return ExportJob.objects.get(public_id=public_id)


def _csv_rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(content, newline=""), delimiter=";"))


def _files() -> list[Path]:
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


def test_export_runs_on_a_real_worker_and_the_files_download(
    celery_worker, api, organisation, ahead
):
    response = api.post("/api/v1/exports/", {"delete_appointments": True}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "queued"
    job_id = response.json()["id"]
    wait_for(lambda: _job(job_id).state == ExportState.DONE, timeout=60)
    body = api.get(f"/api/v1/exports/{job_id}/").json()
    assert (body["appointments_count"], body["removed_count"]) == (20, 20)
    appointments = api.get(f"/api/v1/exports/{job_id}/appointments.csv")
    patients = api.get(f"/api/v1/exports/{job_id}/patients.csv")
    assert appointments.status_code == patients.status_code == 200
    assert {row[0] for row in _csv_rows(appointments)[1:]} == {str(a.public_id) for a in ahead}
    assert [row[4] for row in _csv_rows(patients)[1:]] == ["Jäger"]
    assert not Appointment.objects.filter(organisation=organisation).exists()


def _waiting_for_a_lock(holder_pid: int) -> bool:
    with psycopg.connect(_test_database_url()) as probe:
        return bool(
            probe.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> %s",
                [holder_pid],
            ).fetchone()[0]
        )


def _redeliver_unacknowledged(redis_url: str, queue: str) -> int:
    """What Redis does for a dead worker's task once the visibility timeout (1 h) is
    over: the unacknowledged message goes back to its queue."""
    restored = 0
    with Connection(redis_url) as connection:
        channel = connection.default_channel
        unacked = redis.Redis.from_url(redis_url).hgetall(channel.unacked_key)
        for tag, value in unacked.items():
            if json.loads(value)[2] == queue:  # [message, exchange, routing key]
                channel.qos.restore_by_tag(tag.decode())
                restored += 1
    return restored


def test_a_worker_killed_mid_export_offers_nothing_and_the_next_worker_finishes_it(
    celery_worker, worker_env, redis_url, api, organisation, ahead
):
    # The final step of the export locks the organisation row: holding it stops the
    # worker after both files are written, before anything is removed or offered.
    holder = psycopg.connect(_test_database_url())
    try:
        holder.execute(
            "SELECT id FROM organisations_organisation WHERE id = %s FOR NO KEY UPDATE",
            [organisation.pk],
        )
        job_id = api.post("/api/v1/exports/", {"delete_appointments": True}, format="json")
        job_id = job_id.json()["id"]
        wait_for(lambda: _waiting_for_a_lock(holder.info.backend_pid), timeout=60)
        assert len(_files()) == 2  # the two temporary files

        celery_worker.kill()
    finally:  # a failure above must not leave the lock to block the next test's flush
        holder.rollback()
        holder.close()

    job = _job(job_id)
    assert (job.state, job.attempts) == (ExportState.RUNNING, 1)
    assert not job.patients_file and not job.appointments_file
    assert api.get(f"/api/v1/exports/{job_id}/").json()["files"] == {
        "patients": None,
        "appointments": None,
    }
    assert_problem(api.get(f"/api/v1/exports/{job_id}/appointments.csv"), 404, "not_found")
    assert Appointment.objects.filter(organisation=organisation).count() == 20

    assert _redeliver_unacknowledged(redis_url, celery_worker.queue) == 1
    second = Worker(redis_url, celery_worker.queue, worker_env)
    try:
        wait_for(lambda: _job(job_id).state == ExportState.DONE, timeout=60)
    finally:
        second.stop()

    job = _job(job_id)
    assert (job.attempts, job.appointments_count, job.removed_count) == (2, 20, 20)
    assert not Appointment.objects.filter(organisation=organisation).exists()
    download = api.get(f"/api/v1/exports/{job_id}/appointments.csv")
    assert len(_csv_rows(download)) == 1 + 20
    assert [p.name for p in _files()] == ["appointments.csv", "patients.csv"]


def test_a_job_whose_worker_was_killed_is_failed_by_the_next_worker_start(
    celery_worker, worker_env, redis_url, api, organisation, ahead
):
    """kill -9 of the worker mid-export (issue 12, finding 3): the job stopped beating.
    Once its heartbeat is two minutes old, the next worker to start fails it with a
    German reason and removes its temporary files; a new export may start at once."""
    holder = psycopg.connect(_test_database_url())
    try:
        holder.execute(
            "SELECT id FROM organisations_organisation WHERE id = %s FOR NO KEY UPDATE",
            [organisation.pk],
        )
        job_id = api.post("/api/v1/exports/", {"delete_appointments": True}, format="json")
        job_id = job_id.json()["id"]
        wait_for(lambda: _waiting_for_a_lock(holder.info.backend_pid), timeout=60)
        celery_worker.kill()
    finally:
        holder.rollback()
        holder.close()
    assert len(_files()) == 2  # the killed run's temporary files
    # two minutes without a heartbeat, as the clock would make them
    ExportJob.objects.filter(public_id=job_id).update(
        heartbeat_at=timezone.now() - timedelta(minutes=2, seconds=1)
    )

    second = Worker(redis_url, celery_worker.queue, worker_env)
    try:
        wait_for(lambda: _job(job_id).state == ExportState.FAILED, timeout=60)
    finally:
        second.stop()

    job = _job(job_id)
    assert job.error.startswith("Der Export kam nicht zu Ende")
    assert _files() == []
    assert Appointment.objects.filter(organisation=organisation).count() == 20
    assert api.post("/api/v1/exports/", {}, format="json").status_code == 202
