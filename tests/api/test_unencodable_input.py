"""Lone surrogates (issue 12, finding 5): JSON may carry "\\ud800", which Python keeps
but UTF-8, PostgreSQL and a JSON answer cannot. Every API refuses it with 422
`validation_error` naming where it was, changes nothing, and the Zipper API still
logs the call; broken UTF-8 in a query or path is no 500 either."""

import pytest

from doctolib_bridge.models import SyncLogEntry
from patients.models import Patient
from tests.conftest import assert_problem
from tests.zipper.conftest import Plugin
from tokens.models import TokenKind
from tokens.services import token_create

pytestmark = pytest.mark.django_db

SURROGATE_VALUE = b'{"last_name": "M\\ud800ller", "first_name": "Anna"}'
SURROGATE_KEY = b'{"last_name": "Muller", "\\udc00": 1}'
NESTED = b'{"last_name": "Muller", "invoice_recipient": {"last_name": "\\udfff"}}'


@pytest.fixture
def plugin(organisation):
    return Plugin(token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (SURROGATE_VALUE, "last_name"),
        (SURROGATE_KEY, "\ufffd"),
        (NESTED, "invoice_recipient.last_name"),
    ],
)
def test_the_staff_api_refuses_a_lone_surrogate(api, body, field):
    response = api.generic("POST", "/api/v1/patients/", body, content_type="application/json")

    assert_problem(response, 422, "validation_error")
    assert field in response.json()["errors"]
    assert not Patient.objects.exists()


def test_the_zipper_api_refuses_it_and_logs_the_call(plugin, organisation):
    response = plugin.raw(
        "post", "/links", b'{"doctolib_patient_id": "dl-\\ud800", "patient_id": "x"}'
    )

    assert_problem(response, 422, "validation_error")
    assert "doctolib_patient_id" in response.json()["errors"]
    entry = SyncLogEntry.objects.get(organisation=organisation)
    assert entry.status == 422 and entry.code == "validation_error"


def test_a_push_with_a_surrogate_in_a_name_changes_nothing(plugin):
    response = plugin.raw(
        "put", "/patients/dl-1", b'{"first_name": "\\ud83d", "last_name": "Bauer"}'
    )

    assert_problem(response, 422, "validation_error")
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/patients/?q=%ED%A0%80",
        "/api/v1/patients/%ED%A0%80/",
        "/api/v1/patients/?q=%FF%FE",
    ],
)
def test_broken_utf8_in_query_or_path_is_no_500(api, path):
    assert api.get(path).status_code in (200, 404)


def test_broken_utf8_on_the_pages_is_no_500(client, admin_user):
    client.force_login(admin_user)

    assert client.get("/akten/?q=%ED%A0%80").status_code == 200
    assert client.get("/kalender/?datum=%ED%A0%80").status_code in (200, 302, 400)
