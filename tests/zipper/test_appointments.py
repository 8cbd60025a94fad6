from datetime import timedelta

import pytest
from django.utils import timezone

from appointments.models import Appointment, CalendarColumn
from billing.models import Invoice
from doctolib_bridge.models import Transfer
from tests.conftest import assert_problem
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(organisation):
    return PatientFactory(
        organisation=organisation,
        sync_to_doctolib=True,
        doctolib_patient_id="dp-1",
        last_name="Müller",
        first_name="Anna",
    )


@pytest.fixture
def osteo(organisation):
    return ServiceChainFactory(organisation=organisation, description="Osteopathie")


def payload(**overrides):
    body = {
        "doctolib_patient_id": "dp-1",
        "agenda": {"id": "ag-1", "name": "Frau Weber"},
        "visit_motive": {"name": "Osteopathie", "sync_id": None},
        "start": "2026-11-20T09:00:00+01:00",
        "duration_minutes": 45,
        "note": "Knie links",
    }
    body.update(overrides)
    return body


def test_first_push_creates_done_doctolib_appointment(plugin, linked, osteo, organisation):
    response = plugin.put("/appointments/da-1", payload())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "created"
    assert body["doctolib_appointment_id"] == "da-1"
    assert body["service_chain"] == {"id": str(osteo.public_id), "description": "Osteopathie"}
    assert body["service_chain_match"] == "description"
    assert body["calendar_column"]["name"] == "Frau Weber"
    assert body["url"].startswith("http://localhost:8000/termine/")
    assert body["calendar_url"].startswith("http://localhost:8000/kalender/?datum=2026-11-20")
    assert body["warnings"] == []
    appointment = Appointment.objects.get(public_id=body["appointment_id"])
    assert appointment.status == "done" and appointment.source == "doctolib"
    assert appointment.patient == linked
    column = CalendarColumn.objects.get(organisation=organisation)
    assert column.doctolib_agenda_id == "ag-1" and column.kind == "therapist"


def test_same_push_again_is_unchanged(plugin, linked, osteo):
    plugin.put("/appointments/da-1", payload())
    again = plugin.put("/appointments/da-1", payload(start="2026-11-20T08:00:00Z"))
    assert again.status_code == 200
    assert again.json()["outcome"] == "unchanged"  # same instant, other offset
    assert Appointment.objects.count() == 1


def test_column_matching_agenda_then_oldest_unlinked_name_then_new(plugin, linked, organisation):
    older = CalendarColumnFactory(organisation=organisation, name="Frau Weber")
    CalendarColumnFactory(organisation=organisation, name="Frau Weber")
    body = plugin.put("/appointments/da-1", payload()).json()
    assert body["calendar_column"]["id"] == str(older.public_id)
    older.refresh_from_db()
    assert older.doctolib_agenda_id == "ag-1"
    renamed = plugin.put(
        "/appointments/da-2", payload(agenda={"id": "ag-1", "name": "Anders"})
    ).json()
    assert renamed["calendar_column"]["id"] == str(older.public_id)
    new = plugin.put("/appointments/da-3", payload(agenda={"id": "ag-2", "name": "Raum 1"})).json()
    assert (
        CalendarColumn.objects.get(public_id=new["calendar_column"]["id"]).doctolib_agenda_id
        == "ag-2"
    )


def test_chain_by_sync_id_as_whole_word_case_sensitive(plugin, linked, organisation, osteo):
    tagged = ServiceChainFactory(
        organisation=organisation, description="Other", notes="Zeile\n#Osteo x"
    )
    ServiceChainFactory(organisation=organisation, description="X", notes="#osteo #Osteopathie")
    body = plugin.put(
        "/appointments/da-1", payload(visit_motive={"name": "Osteopathie", "sync_id": "#Osteo"})
    ).json()
    assert body["service_chain"]["id"] == str(tagged.public_id)
    assert body["service_chain_match"] == "sync_id"


def test_sync_id_without_match_does_not_fall_back_to_description(plugin, linked, osteo):
    body = plugin.put(
        "/appointments/da-1", payload(visit_motive={"name": "Osteopathie", "sync_id": "#nix"})
    ).json()
    assert body["service_chain"] is None
    assert body["service_chain_match"] == "none"


def test_ambiguous_description(plugin, linked, organisation, osteo):
    ServiceChainFactory(organisation=organisation, description="Osteopathie")
    body = plugin.put("/appointments/da-1", payload()).json()
    assert body["service_chain"] is None and body["service_chain_match"] == "ambiguous"


def test_repush_keeps_manual_chain_and_status_unless_motive_changes(
    plugin, linked, organisation, osteo
):
    body = plugin.put("/appointments/da-1", payload()).json()
    manual = ServiceChainFactory(organisation=organisation, description="Sonder")
    appointment = Appointment.objects.get(public_id=body["appointment_id"])
    appointment.service_chain = manual
    appointment.service_chain_match = "manual"
    appointment.status = "no_show"
    appointment.save()
    moved = plugin.put("/appointments/da-1", payload(duration_minutes=60)).json()
    assert moved["outcome"] == "updated"
    assert moved["service_chain"]["id"] == str(manual.public_id)
    assert moved["service_chain_match"] == "manual"
    appointment.refresh_from_db()
    assert appointment.status == "no_show" and appointment.duration_minutes == 60
    other_motive = plugin.put(
        "/appointments/da-1",
        payload(duration_minutes=60, visit_motive={"name": "Osteopathie", "sync_id": "#neu"}),
    ).json()
    assert other_motive["service_chain"] is None and other_motive["service_chain_match"] == "none"


def test_unlinked_patient_is_422(plugin, linked):
    response = plugin.put("/appointments/da-1", payload(doctolib_patient_id="dp-unknown"))
    assert_problem(response, 422, "patient_not_linked")
    assert not Appointment.objects.exists()


def test_invoiced_appointment_is_locked_unless_unchanged(plugin, linked, organisation, osteo):
    body = plugin.put("/appointments/da-1", payload()).json()
    appointment = Appointment.objects.get(public_id=body["appointment_id"])
    invoice = Invoice.objects.create(organisation=organisation, patient=linked)
    appointment.invoice = invoice
    appointment.save()
    assert plugin.put("/appointments/da-1", payload()).json()["outcome"] == "unchanged"
    assert_problem(
        plugin.put("/appointments/da-1", payload(note="anders")), 409, "appointment_invoiced"
    )
    appointment.refresh_from_db()
    assert appointment.note == "Knie links"
    assert plugin.get("/appointments/da-1").json()["invoiced"] is True


def test_collision_warning_with_lemniscus_appointments_only(plugin, linked, organisation, osteo):
    column = CalendarColumnFactory(
        organisation=organisation, name="Frau Weber", doctolib_agenda_id="ag-1"
    )
    start = timezone.datetime.fromisoformat("2026-11-20T08:30:00+01:00")
    clash = AppointmentFactory(
        organisation=organisation, calendar_column=column, start=start, duration_minutes=31
    )
    AppointmentFactory(
        organisation=organisation, calendar_column=column, start=start, duration_minutes=30
    )  # ends 9:00
    AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        start=start,
        duration_minutes=60,
        status="cancelled",
    )
    body = plugin.put("/appointments/da-1", payload()).json()
    assert [w["appointment_id"] for w in body["warnings"]] == [str(clash.public_id)]
    assert body["warnings"][0]["code"] == "collision"


def test_push_after_staff_deleted_creates_again(plugin, linked, osteo):
    plugin.put("/appointments/da-1", payload())
    Appointment.objects.all().delete()
    assert plugin.put("/appointments/da-1", payload()).status_code == 201


@pytest.mark.parametrize(
    "change",
    [
        {"start": "2026-11-20T09:00:00"},
        {"start": "gestern"},
        {"duration_minutes": 0},
        {"duration_minutes": 1441},
        {"duration_minutes": "lang"},
        {"note": "x" * 5001},
        {"agenda": {"id": "bad id", "name": "X"}},
        {"agenda": None},
        {"visit_motive": {"name": "X", "sync_id": "y" * 101}},
        {"doctolib_patient_id": ""},
    ],
)
def test_payload_validation(plugin, linked, change):
    assert_problem(plugin.put("/appointments/da-1", payload(**change)), 422, "validation_error")
    assert not Appointment.objects.exists()


def test_get_appointment(plugin, linked, osteo):
    assert_problem(plugin.get("/appointments/da-1"), 404, "not_found")
    plugin.put("/appointments/da-1", payload())
    body = plugin.get("/appointments/da-1").json()
    assert body["start"] == "2026-11-20T09:00:00+01:00"
    assert body["status"] == "done" and body["invoiced"] is False


def test_other_organisation_cannot_see_or_push(other_plugin, plugin, linked, osteo):
    plugin.put("/appointments/da-1", payload())
    assert_problem(other_plugin.get("/appointments/da-1"), 404, "not_found")
    assert_problem(other_plugin.put("/appointments/da-1", payload()), 422, "patient_not_linked")
    assert Appointment.objects.count() == 1


def test_transfer_stage_preview_and_commit(plugin, linked, osteo):
    staged = plugin.post("/transfers", {**payload(), "doctolib_appointment_id": "da-1"})
    assert staged.status_code == 201, staged.content
    body = staged.json()
    assert body["dialog_url"].startswith("http://localhost:8000/uebertragungen/")
    preview = body["preview"]
    assert preview["outcome"] == "created"
    assert preview["patient"]["linked"] is True
    assert preview["calendar_column"] == {"id": None, "name": "Frau Weber", "created": True}
    assert not Appointment.objects.exists()  # nothing in the calendar changes
    committed = plugin.post(f"/transfers/{body['transfer_id']}/commit")
    assert committed.status_code == 201
    again = plugin.post(f"/transfers/{body['transfer_id']}/commit")
    problem = assert_problem(again, 409, "transfer_expired")
    assert problem["appointment_id"] == committed.json()["appointment_id"]
    assert problem["url"] == committed.json()["url"]


def test_transfer_with_unlinked_patient_is_staged_refused(plugin):
    body = plugin.post(
        "/transfers", {**payload(doctolib_patient_id="dp-x"), "doctolib_appointment_id": "da-1"}
    ).json()
    assert body["preview"]["outcome"] == "refused"
    assert body["preview"]["code"] == "patient_not_linked"
    assert body["preview"]["patient"]["linked"] is False


def test_newer_transfer_replaces_older_and_24h_expiry(plugin, linked, osteo):
    first = plugin.post("/transfers", {**payload(), "doctolib_appointment_id": "da-1"}).json()
    second = plugin.post("/transfers", {**payload(), "doctolib_appointment_id": "da-1"}).json()
    assert_problem(
        plugin.post(f"/transfers/{first['transfer_id']}/commit"), 409, "transfer_expired"
    )
    Transfer.objects.filter(public_id=second["transfer_id"]).update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    assert_problem(
        plugin.post(f"/transfers/{second['transfer_id']}/commit"), 409, "transfer_expired"
    )
    assert not Appointment.objects.exists()


def test_transfer_of_other_organisation_is_404(plugin, other_plugin, linked):
    body = plugin.post("/transfers", {**payload(), "doctolib_appointment_id": "da-1"}).json()
    assert_problem(other_plugin.post(f"/transfers/{body['transfer_id']}/commit"), 404, "not_found")
    assert_problem(plugin.post("/transfers/not-a-uuid/commit"), 404, "not_found")


def test_transfer_payload_errors_are_422_already(plugin):
    response = plugin.post(
        "/transfers", {**payload(duration_minutes=0), "doctolib_appointment_id": "da-1"}
    )
    assert_problem(response, 422, "validation_error")
    assert not Transfer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_put_uses_at_most_12_queries(
    plugin, linked, osteo, organisation, django_assert_max_num_queries
):
    """Measured outside a test transaction, as in production (BEGIN and COMMIT count)."""
    AppointmentFactory.create_batch(30, organisation=organisation)
    plugin.put("/appointments/da-0", payload())  # warm: column exists, token last-used written
    with django_assert_max_num_queries(12):
        assert plugin.put("/appointments/da-1", payload()).status_code == 201
    with django_assert_max_num_queries(12):
        assert plugin.put("/appointments/da-1", payload(note="neu")).status_code == 200


def test_a_refused_push_is_logged_once_with_its_code(plugin, linked, osteo, organisation):
    from doctolib_bridge.models import SyncLogEntry

    plugin.put("/appointments/da-1", payload())
    appointment = Appointment.objects.get()
    appointment.invoice = Invoice.objects.create(organisation=organisation, patient=linked)
    appointment.save()
    SyncLogEntry.objects.all().delete()
    plugin.put("/appointments/da-1", payload(note="anders"))
    entry = SyncLogEntry.objects.get()
    assert (entry.status, entry.code, entry.doctolib_appointment_id) == (
        409,
        "appointment_invoiced",
        "da-1",
    )
