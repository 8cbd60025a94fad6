import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from tests.openapi import CHECKS, SCHEMA_PATH, served_schema, strict

# The served schema, its success bodies read strictly (tests/openapi.py); requests go
# to the WSGI application in-process.
SCHEMA = schemathesis.openapi.from_dict(strict(served_schema()))
SCHEMA.app = get_wsgi_application()
SCHEMA.location = SCHEMA_PATH

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
TRIED = {"requests": 0, "server_errors": 0, "bodies": 0}


def pytest_terminal_summary(terminalreporter):
    if TRIED["requests"]:
        terminalreporter.write_line(
            f"fuzzing: {TRIED['requests']} requests with generated input, "
            f"{TRIED['server_errors']} answered 5xx, {TRIED['bodies']} success bodies "
            "checked against the schema"
        )


def check_answer(case, response):
    """Never a 500; every answer conforms to the schema; every error problem+json with
    its code, status and a sentence."""
    TRIED["requests"] += 1
    if response.status_code >= 500:
        TRIED["server_errors"] += 1
    assert response.status_code < 500, response.text
    case.validate_response(response, checks=CHECKS)
    if 200 <= response.status_code < 300 and response.content:
        TRIED["bodies"] += 1
    if response.status_code >= 400:
        headers = {k.lower(): v for k, v in response.headers.items()}
        content_type = headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), response.text
        body = response.json()
        assert body["code"] and body["detail"] and body["status"] == response.status_code
