"""Every Zipper answer is the one the schema documents: rendered by the operation's
output serializer for its status, and valid against that component read strictly.

The fake plugin (conftest.Plugin) checks each answer of every contract test; here
every documented success answer is produced at least once, and the check is shown
to fail on a body assembled beside the serializer."""

from datetime import UTC, datetime

import pytest
from rest_framework.response import Response
from schemathesis.core.failures import FailureGroup

from doctolib_bridge.zipper import views
from tests.factories import PatientFactory, ServiceChainFactory, doctolib_appointment
from tests.openapi import served_schema
from tests.zipper.conftest import BASE

pytestmark = pytest.mark.django_db

ANNA = {"doctolib_patient_id": "dp-1", "last_name": "Müller", "mobile_phone": "0171 1234567"}


def payload(doctolib_patient_id="dp-1", **overrides):
    return {
        "doctolib_patient_id": doctolib_patient_id,
        "agenda": {"id": "ag-1", "name": "Frau Weber"},
        "visit_motive": {"name": "Osteopathie", "sync_id": None},
        "start": "2026-11-20T09:00:00+01:00",
        "duration_minutes": 45,
        "note": "",
        **overrides,
    }


def documented_successes() -> set[tuple[str, str, int]]:
    return {
        (method.upper(), path, int(status))
        for path, operations in served_schema()["paths"].items()
        if path.startswith(BASE)
        for method, operation in operations.items()
        for status in operation.get("responses", {})
        if str(status).startswith("2")
    }


def test_every_documented_success_answer_is_its_serializers(plugin, api, organisation):
    """One call for each documented success status of each operation; the plugin
    holds each answer to its schema and its serializer (conftest)."""
    seen: set[tuple[str, str, int]] = set()

    def call(method, template, path, *args, status, **extra):
        response = getattr(plugin, method)(path, *args, **extra)
        assert response.status_code == status, response.content
        seen.add((method.upper(), f"{BASE}{template}", status))
        return response

    ServiceChainFactory(organisation=organisation, description="Osteopathie")
    unlinked = PatientFactory(organisation=organisation, last_name="Müll", birth_date=None)
    call("get", "/connection", "/connection", status=200)
    call("post", "/patients", "/patients", ANNA, status=201)
    call("post", "/patients", "/patients", ANNA, status=200)  # unchanged
    call(
        "post",
        "/patients",
        "/patients",
        {"doctolib_patient_id": "dp-2", "merge_into": str(unlinked.public_id)},
        status=200,
    )
    call("get", "/patient-suggestions", "/patient-suggestions", {"last_name": "mü"}, status=200)
    one = "/patients/{doctolib_patient_id}"
    call("get", one, "/patients/dp-1", status=200)
    call("put", one, "/patients/dp-2", {"street": "Neu 1", "email": ""}, status=200)
    api.post("/api/v1/patients/", {"last_name": "Feed", "sync_to_doctolib": True}, format="json")
    changes = call("get", "/changes", "/changes", status=200).json()["changes"]
    assert {change["kind"] for change in changes} == {"patient.create", "patient.update"}
    fresh = PatientFactory(organisation=organisation, sync_to_doctolib=True)
    link = {"patient_id": str(fresh.public_id), "doctolib_patient_id": "dp-3"}
    call("post", "/links", "/links", link, status=201)
    call("post", "/links", "/links", link, status=200)
    call("delete", one, "/patients/dp-3", status=204)
    appointment = "/appointments/{doctolib_appointment_id}"
    call("put", appointment, "/appointments/da-1", payload(), status=201)
    call("put", appointment, "/appointments/da-1", payload(note="Knie"), status=200)
    call("get", appointment, "/appointments/da-1", status=200)
    staged = call(
        "post",
        "/transfers",
        "/transfers",
        {**payload(), "doctolib_appointment_id": "da-2"},
        status=201,
    )
    refused = call(
        "post",
        "/transfers",
        "/transfers",
        {**payload("dp-none"), "doctolib_appointment_id": "da-3"},
        status=201,
    )
    assert refused.json()["preview"]["outcome"] == "refused"
    commit = "/transfers/{transfer_id}/commit"
    transfer_id = staged.json()["transfer_id"]
    call("post", commit, f"/transfers/{transfer_id}/commit", status=201)
    again = call(
        "post",
        "/transfers",
        "/transfers",
        {**payload(), "doctolib_appointment_id": "da-2"},
        status=201,
    )
    call("post", commit, f"/transfers/{again.json()['transfer_id']}/commit", status=200)

    assert seen == documented_successes()


def test_a_body_assembled_beside_the_serializer_fails_the_check(plugin, monkeypatch):
    def by_hand(self, request):
        org = self.organisation
        return Response(
            {"orga_id": org.orga_id, "organisation": org.name, "plan": org.plan, "api_version": "1"}
        )

    monkeypatch.setattr(views.ConnectionView, "get", by_hand)
    with pytest.raises(AssertionError, match="no serializer rendered"):
        plugin.get("/connection")


def test_a_member_the_schema_does_not_name_fails_the_check(plugin, organisation, monkeypatch):
    doctolib_appointment(
        organisation,
        doctolib_patient_id="dp-1",
        doctolib_appointment_id="da-1",
        start=datetime(2026, 11, 20, 8, tzinfo=UTC),
    )
    real = views._answer

    def with_extra(serializer_class, instance, status=200, **context):
        response = real(serializer_class, instance, status, **context)
        response.data["extra"] = 1
        return response

    monkeypatch.setattr(views, "_answer", with_extra)
    with pytest.raises(FailureGroup) as failed:
        plugin.get("/appointments/da-1")
    assert "additional properties" in str(failed.value.exceptions[0]).lower()
