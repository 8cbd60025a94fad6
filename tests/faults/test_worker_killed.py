"""`kill -9` of the Celery worker in the middle of an export with deletion (issue
12, finding 3), on the fault suite's private PostgreSQL and Redis: the export's
transaction dies with the worker, so nothing is lost. Once the job has not beaten
for two minutes, the next worker to start fails it with a German reason and removes
its temporary files, and a new export may start at once (it used to wait 2 hours)."""

import subprocess
from pathlib import Path

import pytest

from tests.faults.app import App, until
from tests.faults.servers import PrivatePostgres, PrivateRedis

SETUP_APPOINTMENTS = """
from datetime import timedelta
from django.utils import timezone
from appointments.models import Appointment
from appointments.services import calendar_column_create
from organisations.models import Organisation
from patients.models import Patient
organisation = Organisation.objects.get()
patient = Patient.objects.create(organisation=organisation, last_name="Jäger")
column = calendar_column_create(organisation=organisation, name="Raum 1")
start = timezone.now() + timedelta(days=1)
Appointment.objects.bulk_create(
    Appointment(organisation=organisation, patient=patient, calendar_column=column,
                start=start + timedelta(hours=n), duration_minutes=30)
    for n in range(20)
)
"""


@pytest.fixture
def stack(tmp_path):
    postgres = PrivatePostgres().init()
    postgres.psql("CREATE DATABASE lemniscus")
    broker = PrivateRedis(tmp_path).start()
    app = App(database_url=postgres.url(), redis_url=broker.url)
    try:
        tokens = app.set_up()
        app.manage("shell", stdin=SETUP_APPOINTMENTS)
        app.serve(workers=1).start_worker()
        yield postgres, app, tokens
    finally:
        app.stop()
        broker.stop()
        postgres.destroy()


def _temp_files(app) -> list[Path]:
    folder = app.media / "exports" / "tmp"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_a_killed_worker_loses_nothing_and_its_job_is_failed_by_the_next_one(stack):
    postgres, app, tokens = stack
    api = tokens["api"]
    count = "SELECT count(*) FROM appointments_appointment"
    # The export's last step locks the organisation row: holding it stops the worker
    # after both files are written, before anything is removed or offered.
    holder = subprocess.Popen(
        ["psql", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "-d",
         "lemniscus", "-v", "ON_ERROR_STOP=1"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    holder.stdin.write("BEGIN; SELECT id FROM organisations_organisation FOR NO KEY UPDATE;\n")
    holder.stdin.flush()

    status, job = app.request("POST", "/api/v1/exports/", {"delete_appointments": True}, token=api)
    assert status == 202
    until(
        lambda: (
            postgres.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'lemniscus' "
                "AND wait_event_type = 'Lock'"
            )
            == "1"
        ),
        timeout=60,
    )
    assert len(_temp_files(app)) == 2
    app.worker.kill()  # SIGKILL, mid-job
    app.worker.wait(10)
    holder.stdin.write("ROLLBACK;\n\\q\n")
    holder.stdin.close()
    holder.wait(10)

    state = f"SELECT state FROM doctolib_bridge_exportjob WHERE public_id = '{job['id']}'"
    assert postgres.psql(state, "lemniscus") == "running"
    assert postgres.psql(count, "lemniscus") == "20"  # nothing removed
    # two minutes without a heartbeat, as the clock would make them
    postgres.psql(
        "UPDATE doctolib_bridge_exportjob SET heartbeat_at = now() - interval '121 seconds'",
        "lemniscus",
    )

    app.start_worker()  # the next worker's start finds the dead job
    until(lambda: postgres.psql(state, "lemniscus") == "failed", timeout=60)

    error = f"SELECT error FROM doctolib_bridge_exportjob WHERE public_id = '{job['id']}'"
    assert postgres.psql(error, "lemniscus").startswith("Der Export kam nicht zu Ende")
    assert _temp_files(app) == []
    status, again = app.request("POST", "/api/v1/exports/", {}, token=api)
    assert status == 202, again
    done = f"SELECT state FROM doctolib_bridge_exportjob WHERE public_id = '{again['id']}'"
    until(lambda: postgres.psql(done, "lemniscus") == "done", timeout=60)
    assert postgres.psql(count, "lemniscus") == "20"
