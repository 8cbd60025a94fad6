"""The Zipper API's conventions: auth, plan, rate limit, body limit, malformed
bodies, the order of checks, idempotency keys, CORS, problem+json everywhere."""

import json

import pytest
from django.test import override_settings

from doctolib_bridge.models import SyncLogEntry
from doctolib_bridge.zipper import ratelimit
from patients.models import Patient
from tests.conftest import assert_problem, token_client
from tests.factories import UserFactory
from tests.zipper.conftest import BASE, Plugin
from tokens.models import TokenKind
from tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db

NEW_PATIENT = {"doctolib_patient_id": "dl-1", "last_name": "Neu"}


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer abc", "Basic dXNlcjpwdw==", "Bearer lmn_dl_" + "A" * 46],
)
def test_bad_tokens_are_401(header, organisation):
    plugin = Plugin(None)
    if header:
        plugin.client.credentials(HTTP_AUTHORIZATION=header)
    assert_problem(plugin.get("/connection"), 401, "token_invalid")


def test_revoked_and_personal_tokens_are_401(organisation, doctolib_token, admin_user):
    token, raw = doctolib_token
    token_revoke(token=token)
    assert_problem(Plugin(raw).get("/connection"), 401, "token_invalid")
    _, personal = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    assert_problem(Plugin(personal).get("/connection"), 401, "token_invalid")


def test_doctolib_token_is_401_on_the_staff_api(plugin, doctolib_token):
    client = Plugin(doctolib_token[1]).client
    assert_problem(client.get("/api/v1/patients/"), 401, "token_invalid")


def test_a_new_doctolib_token_revokes_the_previous(organisation, doctolib_token):
    _, newer = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    assert_problem(Plugin(doctolib_token[1]).get("/connection"), 401, "token_invalid")
    assert Plugin(newer).get("/connection").status_code == 200


def test_plan_below_xl_is_403_on_every_endpoint(plugin, organisation):
    organisation.plan = "L"
    organisation.save()
    for method, path in [
        ("get", "/connection"),
        ("get", "/patient-suggestions?last_name=x"),
        ("get", "/changes"),
        ("post", "/patients"),
        ("put", "/patients/dl-1"),
    ]:
        assert_problem(getattr(plugin, method)(path), 403, "plan_required")
    organisation.plan = "XXL"
    organisation.save()
    assert plugin.get("/connection").status_code == 200


def test_body_over_256_kib_is_413_before_auth(organisation):
    body = json.dumps({"last_name": "x" * (256 * 1024)})
    response = Plugin(None).raw("post", "/patients", body)
    assert_problem(response, 413, "payload_too_large")


@pytest.mark.parametrize("content", ["{nope", "[1]", '"text"', "null"])
def test_malformed_body_is_400(plugin, content):
    assert_problem(plugin.raw("post", "/patients", content), 400, "malformed_request")
    assert Patient.objects.count() == 0


def test_order_of_checks(organisation, doctolib_token):
    # 401 before 400: a malformed body without a token
    assert_problem(Plugin(None).raw("post", "/patients", "{nope"), 401, "token_invalid")
    plugin = Plugin(doctolib_token[1])
    # 400 before 422 for a malformed path id
    assert_problem(plugin.raw("put", "/patients/bad%20id", "{nope"), 400, "malformed_request")
    # 422 malformed path id before 404
    assert_problem(plugin.put("/patients/bad%20id", {}), 422, "validation_error")
    # 403 before 400
    organisation.plan = "M"
    organisation.save()
    assert_problem(plugin.raw("post", "/patients", "{nope"), 403, "plan_required")


@override_settings(ZIPPER_RATE_LIMIT="12/min")
def test_rate_limit_per_organisation(plugin, other_plugin):
    # burst: a twelfth of a minute's budget, i.e. 1 request, then 429 with Retry-After
    assert plugin.get("/connection").status_code == 200
    response = plugin.get("/connection")
    assert_problem(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert other_plugin.get("/connection").status_code == 200


def test_default_budget_allows_bursts_of_100_then_refills_20_per_second():
    waits = [ratelimit.take("org-a", rate="1200/min", now=1000.0) for _ in range(101)]
    assert waits[:100] == [0] * 100
    assert waits[100] == 1
    assert ratelimit.take("org-a", rate="1200/min", now=1000.1) == 0  # tokens are back
    assert ratelimit.take("org-b", rate="1200/min", now=1000.0) == 0  # per organisation


@pytest.mark.parametrize("rate", ["1200", "x/min", "10/fortnight"])
def test_malformed_rate_setting_is_refused(rate):
    with pytest.raises(ValueError):
        ratelimit.parse_rate(rate)


def test_idempotency_key_replay_and_reuse(plugin):
    first = plugin.post("/patients", NEW_PATIENT, HTTP_IDEMPOTENCY_KEY="k1")
    replay = plugin.post("/patients", NEW_PATIENT, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    assert replay["Idempotency-Replayed"] == "true"
    reused = plugin.post(
        "/patients", {**NEW_PATIENT, "last_name": "Anders"}, HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert_problem(reused, 422, "idempotency_key_reused")
    assert_problem(
        plugin.post("/patients", NEW_PATIENT, HTTP_IDEMPOTENCY_KEY="k" * 256),
        422,
        "validation_error",
    )
    assert Patient.objects.count() == 1


def test_idempotency_replay_answers_the_first_answers_bytes(plugin):
    """Member order included: the replay is the first answer, not a re-sorted copy."""
    first = plugin.post("/patients", NEW_PATIENT, HTTP_IDEMPOTENCY_KEY="k1")
    replay = plugin.post("/patients", NEW_PATIENT, HTTP_IDEMPOTENCY_KEY="k1")
    assert replay["Idempotency-Replayed"] == "true"
    assert replay.content == first.content
    assert list(replay.json()) == [
        "patient_id",
        "doctolib_patient_id",
        "outcome",
        "url",
        "applied",
        "to_doctolib",
    ]


def test_idempotency_key_is_scoped_to_the_path(plugin, organisation):
    plugin.post("/patients", NEW_PATIENT, HTTP_IDEMPOTENCY_KEY="same")
    response = plugin.put("/patients/dl-1", {"city": "Bonn"}, HTTP_IDEMPOTENCY_KEY="same")
    assert response.status_code == 200
    assert Patient.objects.get().city == "Bonn"


def test_cors_preflight_without_token(client):
    response = client.options(
        f"{BASE}/appointments/a-1",
        HTTP_ORIGIN="https://pro.doctolib.de",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://pro.doctolib.de"
    assert "PUT" in response["Access-Control-Allow-Methods"]
    assert "idempotency-key" in response["Access-Control-Allow-Headers"]
    foreign = client.options(
        f"{BASE}/connection",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    assert "Access-Control-Allow-Origin" not in foreign


def test_unknown_path_and_method_are_problem_json(plugin):
    assert_problem(plugin.get("/nothing"), 404, "not_found")
    assert_problem(plugin.delete("/connection"), 405, "method_not_allowed")


def test_errors_are_problem_json_whatever_accept(plugin):
    response = plugin.get("/patients/dl-404", HTTP_ACCEPT="text/html")
    assert_problem(response, 404, "patient_not_linked")


def test_rejected_calls_are_logged_too(plugin, organisation):
    plugin.raw("post", "/patients", "{nope")
    entry = SyncLogEntry.objects.get(organisation=organisation)
    assert (entry.status, entry.code) == (400, "malformed_request")
    assert entry.detail


def test_staff_token_of_other_kind_cannot_read_other_organisations(other_organisation, plugin):
    other_staff = token_client(UserFactory(organisation=other_organisation))
    assert other_staff.get("/api/v1/patients/").json()["count"] == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/patients/%00", None),
        ("put", "/patients/a%00", {"last_name": "X"}),
        ("delete", "/patients/%00", None),
        ("get", "/appointments/%00", None),
        ("post", "/patients", {"doctolib_patient_id": "a\u0000", "last_name": "X"}),
        ("post", "/links", {"patient_id": "x", "doctolib_patient_id": "\u0000"}),
        ("post", "/transfers", {"doctolib_appointment_id": "\u0000"}),
    ],
)
def test_a_nul_byte_in_a_doctolib_id_is_a_422_and_logged(plugin, organisation, method, path, body):
    """A NUL byte is outside the id's form; the call is still recorded as sent."""
    if body is None:
        response = getattr(plugin, method)(path)
    else:
        response = plugin.raw(method, path, json.dumps(body))

    assert_problem(response, 422, "validation_error")
    entry = SyncLogEntry.objects.get(organisation=organisation)
    assert (entry.status, entry.code) == (422, "validation_error")
    logged = entry.doctolib_patient_id + entry.doctolib_appointment_id
    assert "\ufffd" in logged and "\x00" not in logged


@pytest.mark.parametrize("params", [{"limit": "²"}, {"limit": "٥"}, {"after": "١"}, {"after": "²"}])
def test_change_feed_takes_only_ascii_digits(plugin, params):
    assert_problem(plugin.get("/changes", params), 422, "validation_error")
