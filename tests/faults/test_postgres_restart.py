"""PostgreSQL restarted while the app was idle (issue 12, finding 2): every gunicorn
worker holds a persistent connection (CONN_MAX_AGE), which the restart cuts. With
CONN_HEALTH_CHECKS the first request on each worker finds that out and connects
again: no 500."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.app import PUSH, App, until
from tests.faults.servers import PrivatePostgres

WORKERS = 3


@pytest.fixture(scope="module")
def stack():
    postgres = PrivatePostgres().init()
    postgres.psql("CREATE DATABASE lemniscus")
    app = App(database_url=postgres.url())
    try:
        tokens = app.set_up()
        app.serve(workers=WORKERS)
        yield postgres, app, tokens
    finally:
        app.stop()
        postgres.destroy()


def _app_connections(postgres) -> int:
    return int(
        postgres.psql(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = 'lemniscus' AND backend_type = 'client backend'"
        )
    )


def _burst(app, tokens, seen: list) -> None:
    """Requests at once, so that every worker takes some: staff API reads and Zipper
    pushes (whose planning statement each connection has prepared)."""

    def one(number):
        if number % 2:
            return app.request("GET", "/api/v1/patients/", token=tokens["api"])[0]
        path = f"/api/zipper/v1/appointments/da-{number}"
        return app.request("PUT", path, PUSH, token=tokens["doctolib"])[0]

    with ThreadPoolExecutor(max_workers=WORKERS * 2) as pool:
        seen.extend(pool.map(one, range(WORKERS * 4)))


def test_a_restarted_postgres_costs_no_500(stack):
    postgres, app, tokens = stack
    status, _ = app.request(
        "POST", "/api/zipper/v1/patients",
        {"doctolib_patient_id": "dp-1", "last_name": "Müller", "first_name": "Anna"},
        token=tokens["doctolib"],
    )  # fmt: skip
    assert status == 201
    warm: list[int] = []
    until(lambda: _burst(app, tokens, warm) or _app_connections(postgres) >= WORKERS)
    assert set(warm) <= {200, 201} and 200 in warm

    postgres.restart()  # every worker's connection is cut while it is idle
    assert _app_connections(postgres) == 0
    after: list[int] = []
    started = time.monotonic()
    until(lambda: _burst(app, tokens, after) or _app_connections(postgres) >= WORKERS)
    print(
        f"\nfault postgres-restart: every worker reconnected in {time.monotonic() - started:.2f} s"
    )

    assert set(after) == {200}, f"answers after the restart: {sorted(set(after))}"
