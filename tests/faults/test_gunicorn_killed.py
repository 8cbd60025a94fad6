"""`kill -9` of a gunicorn worker in the middle of an appointment push with an
Idempotency-Key (issue 12): the client sees the connection drop; nothing of the
request is kept (its transaction dies with the worker); gunicorn starts a new worker
by itself; the client's retry with the same key creates the appointment once, and
a further retry gets the same answer again, marked as replayed."""

import http.client
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from tests.faults.app import PUSH, App, until
from tests.faults.servers import PrivatePostgres

KEY = "push-da-1-attempt"


@pytest.fixture
def stack():
    postgres = PrivatePostgres().init()
    postgres.psql("CREATE DATABASE lemniscus")
    app = App(database_url=postgres.url())
    try:
        tokens = app.set_up()
        app.serve(workers=1)
        yield postgres, app, tokens
    finally:
        app.stop()
        postgres.destroy()


def _workers(master_pid: int) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-P", str(master_pid)], capture_output=True, text=True
    ).stdout.split()
    return [int(pid) for pid in out]


def _push(app, token) -> tuple[int, dict, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
    try:
        connection.request(
            "PUT",
            "/api/zipper/v1/appointments/da-1",
            json.dumps(PUSH).encode(),
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": KEY,
            },
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def test_a_worker_killed_mid_push_loses_nothing_and_the_retry_counts_once(stack):
    postgres, app, tokens = stack
    doctolib = tokens["doctolib"]
    status, _ = app.request(
        "POST", "/api/zipper/v1/patients",
        {"doctolib_patient_id": "dp-1", "last_name": "Müller", "first_name": "Anna"},
        token=doctolib,
    )  # fmt: skip
    assert status == 201
    [worker] = _workers(app.server.pid)

    # Hold the appointments table: the push waits inside its transaction.
    holder = subprocess.Popen(
        ["psql", "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "-d",
         "lemniscus", "-v", "ON_ERROR_STOP=1"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    holder.stdin.write("BEGIN; LOCK TABLE appointments_appointment IN ACCESS EXCLUSIVE MODE;\n")
    holder.stdin.flush()
    until(
        lambda: (
            postgres.psql(
                "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted"
            )
            != "0"
        )
    )
    seen: dict = {}

    def first_attempt():
        try:
            seen["answer"] = _push(app, doctolib)
        except (ConnectionError, http.client.HTTPException) as error:
            seen["error"] = type(error).__name__

    attempt = threading.Thread(target=first_attempt)
    attempt.start()
    until(
        lambda: (
            postgres.psql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = 'lemniscus' "
                "AND wait_event_type = 'Lock'"
            )
            == "1"
        )
    )
    os.kill(worker, signal.SIGKILL)  # mid-request
    attempt.join(30)
    holder.stdin.write("ROLLBACK;\n\\q\n")
    holder.stdin.close()
    holder.wait(10)

    assert "error" in seen, seen  # the client saw the connection drop, no answer
    killed_at = time.monotonic()
    replacement = until(lambda: [pid for pid in _workers(app.server.pid) if pid != worker])
    assert replacement  # gunicorn replaced the worker; nothing was restarted by hand
    count = "SELECT count(*) FROM appointments_appointment"
    until(lambda: postgres.psql(count, "lemniscus") == "0")  # the dead request left nothing

    status, _, body = until(lambda: _push(app, doctolib))
    print(f"\nfault gunicorn-kill: the retry answered {time.monotonic() - killed_at:.2f} s after")
    again_status, again_headers, again_body = _push(app, doctolib)

    assert (status, body["outcome"]) == (201, "created")
    assert (again_status, again_body) == (status, body)
    assert again_headers.get("Idempotency-Replayed") == "true"
    assert postgres.psql(count, "lemniscus") == "1"
    keys = "SELECT count(*) FROM doctolib_bridge_idempotencyrecord"
    assert postgres.psql(keys, "lemniscus") == "1"
