"""Every Zipper endpoint × (no token, malformed, revoked, personal token, other
organisation's token on this organisation's ids, plan below XL): denied, and
nothing changed."""

from dataclasses import dataclass

import pytest

from appointments.models import Appointment
from doctolib_bridge.models import ChangeFeedEntry, Transfer
from patients.models import Patient
from tests.conftest import assert_problem
from tests.factories import PatientFactory
from tests.zipper.conftest import Plugin
from tokens.models import TokenKind
from tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db

APPOINTMENT = {
    "doctolib_patient_id": "dp-1",
    "agenda": {"id": "ag-1", "name": "Frau Weber"},
    "visit_motive": {"name": "KG", "sync_id": None},
    "start": "2026-11-20T09:00:00+01:00",
    "duration_minutes": 30,
    "note": "",
}


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict | None = None
    # what the other organisation's token gets: its own world has none of our ids
    foreign_status: int = 404
    foreign_code: str = "not_found"


CALLS = [
    Call("get", "/connection", foreign_status=200),
    Call("get", "/patient-suggestions?last_name=ot", foreign_status=200),
    Call(
        "post",
        "/patients",
        {"doctolib_patient_id": "dp-9", "last_name": "X", "merge_into": "{patient}"},
    ),
    Call("get", "/patients/dp-1", None, 404, "patient_not_linked"),
    Call("put", "/patients/dp-1", {"city": "Bonn"}, 404, "patient_not_linked"),
    Call("delete", "/patients/dp-1", None, 404, "patient_not_linked"),
    Call("post", "/links", {"patient_id": "{patient}", "doctolib_patient_id": "dp-2"}),
    Call("get", "/changes", foreign_status=200),
    Call("put", "/appointments/da-1", APPOINTMENT, 422, "patient_not_linked"),
    Call("get", "/appointments/da-1"),
    Call("post", "/transfers", {**APPOINTMENT, "doctolib_appointment_id": "da-2"}, 201),
    Call("post", "/transfers/{transfer}/commit"),
]


@pytest.fixture
def world(organisation, doctolib_token):
    """Our organisation with a linked patient, an appointment and a staged transfer."""
    plugin = Plugin(doctolib_token[1])
    plugin.post("/patients", {"doctolib_patient_id": "dp-1", "last_name": "Ott"})
    plugin.put("/appointments/da-1", APPOINTMENT)
    transfer = plugin.post("/transfers", {**APPOINTMENT, "doctolib_appointment_id": "da-1"})
    unlinked = PatientFactory(organisation=organisation, sync_to_doctolib=True)
    return {"patient": str(unlinked.public_id), "transfer": transfer.json()["transfer_id"]}


def snapshot(organisation):
    """Everything the Zipper API could change in `organisation`."""
    return (
        list(
            Patient.objects.filter(organisation=organisation)
            .order_by("pk")
            .values_list("pk", "updated_at", "doctolib_patient_id", "sync_to_doctolib")
        ),
        list(
            Appointment.objects.filter(organisation=organisation)
            .order_by("pk")
            .values_list("pk", "updated_at")
        ),
        list(
            Transfer.objects.filter(organisation=organisation)
            .order_by("pk")
            .values_list("pk", "committed_at", "replaced_at")
        ),
        ChangeFeedEntry.objects.filter(organisation=organisation).count(),
    )


def send(plugin: Plugin, call: Call, world: dict):
    path = call.path.format(**world)
    body = None
    if call.body is not None:
        body = {k: (v.format(**world) if isinstance(v, str) else v) for k, v in call.body.items()}
    if call.method in ("get", "delete"):
        return getattr(plugin, call.method)(path)
    return getattr(plugin, call.method)(path, body)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method.upper()} {c.path}")
@pytest.mark.parametrize("who", ["no token", "malformed", "unknown", "revoked", "personal"])
def test_denied_callers_get_401_and_change_nothing(
    call, who, world, organisation, doctolib_token, admin_user
):
    if who == "revoked":
        token_revoke(token=doctolib_token[0])
        raw = doctolib_token[1]
    elif who == "personal":
        raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)[1]
    else:
        raw = {"no token": None, "malformed": "abc", "unknown": "lmn_dl_" + "x" * 46}[who]
    before = snapshot(organisation)
    assert_problem(send(Plugin(raw), call, world), 401, "token_invalid")
    assert snapshot(organisation) == before


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method.upper()} {c.path}")
def test_plan_below_xl_is_403_and_changes_nothing(call, world, organisation, doctolib_token):
    organisation.plan = "L"
    organisation.save()
    before = snapshot(organisation)
    assert_problem(send(Plugin(doctolib_token[1]), call, world), 403, "plan_required")
    assert snapshot(organisation) == before


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c.method.upper()} {c.path}")
def test_other_organisation_cannot_reach_our_objects(call, world, organisation, other_organisation):
    _, raw = token_create(organisation=other_organisation, kind=TokenKind.DOCTOLIB)
    theirs = Plugin(raw)
    before = snapshot(organisation)
    response = send(theirs, call, world)
    assert response.status_code == call.foreign_status, response.content
    if call.foreign_status >= 400:
        assert response.json()["code"] == call.foreign_code
    assert snapshot(organisation) == before
    text = response.content.decode()
    assert "Ott" not in text and world["patient"] not in text
