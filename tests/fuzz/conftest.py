import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())

FUZZ_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture
def keep_test_connection():
    """As Django's test client does: the WSGI app must not close the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# What the fuzzing tried in this run (printed at the end; the README reports it).
TRIED = {"requests": 0, "server_errors": 0}


def pytest_terminal_summary(terminalreporter):
    if TRIED["requests"]:
        terminalreporter.write_line(
            f"fuzzing: {TRIED['requests']} requests with generated input, "
            f"{TRIED['server_errors']} answered 5xx"
        )


def check_answer(response):
    """Never a 500; every error problem+json with its code, status and a sentence."""
    TRIED["requests"] += 1
    if response.status_code >= 500:
        TRIED["server_errors"] += 1
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        headers = {k.lower(): v for k, v in response.headers.items()}
        content_type = headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), response.text
        body = response.json()
        assert body["code"] and body["detail"] and body["status"] == response.status_code
