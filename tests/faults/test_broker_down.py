"""Redis stopped under the running app (issue 12, finding 1): a private Redis and
PostgreSQL, gunicorn with 3 workers and a Celery worker. While Redis is down, a
staff appointment answers 201 and an export 202, the Zipper API answers and logs;
once Redis is back (nothing restarted), the outbox hands everything over: the
confirmation e-mail goes out once and the export runs once."""

import time

import pytest

from tests.faults.app import App, until
from tests.faults.servers import PrivatePostgres, PrivateRedis


@pytest.fixture
def stack(tmp_path):
    postgres = PrivatePostgres().init()
    postgres.psql("CREATE DATABASE lemniscus")
    broker = PrivateRedis(tmp_path).start()
    app = App(database_url=postgres.url(), redis_url=broker.url)
    try:
        tokens = app.set_up()
        app.serve(workers=3).start_worker()
        yield postgres, broker, app, tokens
    finally:
        app.stop()
        broker.stop()
        postgres.destroy()


def _count(postgres, sql: str) -> int:
    return int(postgres.psql(sql, "lemniscus"))


def test_with_redis_stopped_writes_succeed_and_their_effects_follow_once(stack):
    postgres, broker, app, tokens = stack
    api = tokens["api"]
    status, patient = app.request(
        "POST", "/api/v1/patients/", {"last_name": "Bauer", "email": "felix@example.org"},
        token=api,
    )  # fmt: skip
    assert status == 201
    status, column = app.request("POST", "/api/v1/calendar-columns/", {"name": "Raum 1"}, token=api)
    assert status == 201

    broker.stop()
    started = time.monotonic()
    status, appointment = app.request(
        "POST", "/api/v1/appointments/",
        {"patient_id": patient["id"], "calendar_column_id": column["id"],
         "start": "2030-03-04T09:00:00+01:00", "duration_minutes": 30},
        token=api,
    )  # fmt: skip
    answered_in = time.monotonic() - started
    export_status, export = app.request("POST", "/api/v1/exports/", {}, token=api)
    zipper_status, _ = app.request(
        "GET", "/api/zipper/v1/patient-suggestions?last_name=Bauer", token=tokens["doctolib"]
    )

    assert status == 201, appointment
    assert answered_in < 3
    assert (export_status, export["state"]) == (202, "queued")
    assert zipper_status == 200
    assert _count(postgres, "SELECT count(*) FROM doctolib_bridge_synclogentry") == 1
    assert _count(postgres, "SELECT count(*) FROM outbox_outboxmessage WHERE sent_at IS NULL") == 2
    assert app.mails() == []

    broker.start()  # same port, empty; gunicorn and the worker are not restarted
    back_at = time.monotonic()
    # what the beat task does every minute (each message is due again 2 s after its
    # first try failed)
    until(lambda: "0 warten noch." in app.manage("outbox_dispatch"), timeout=30)

    until(
        lambda: (
            app.request("GET", f"/api/v1/exports/{export['id']}/", token=api)[1]["state"] == "done"
        ),
        timeout=60,
    )
    until(lambda: len(app.mails()) == 1, timeout=60)
    print(f"\nfault redis-down: all effects done {time.monotonic() - back_at:.2f} s after Redis")
    assert "felix@example.org" in app.mails()[0]
    assert "0 übergeben, 0 warten noch." in app.manage("outbox_dispatch")
    time.sleep(1)
    assert len(app.mails()) == 1  # once
    assert _count(postgres, "SELECT count(*) FROM appointments_appointment") == 1
    assert _count(postgres, "SELECT count(*) FROM doctolib_bridge_exportjob") == 1
