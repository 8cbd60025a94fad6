"""staff-api.md 1.1, "Records under retention law": Documentation."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from documentation import services
from documentation.models import DocumentationEntry
from documentation.tasks import finalise_due_task
from organisations.models import Role
from patients.services import patient_archive
from tests.conftest import assert_problem, token_client
from tests.documentation.conftest import backdate
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(patient, *rest) -> str:
    return "/".join([f"/api/v1/patients/{patient.public_id}/documentation", *map(str, rest)]) + "/"


def _write(api, patient, text="Mobilisation LWS, Schmerz 4/10", **extra):
    response = api.post(url(patient), {"text": text, **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_entry_is_written_and_listed_with_its_author(api, admin_user, patient):
    admin_user.first_name, admin_user.last_name = "Anna", "Muster"
    admin_user.save()

    body = _write(api, patient)

    assert set(body) == {
        "id",
        "appointment_id",
        "text",
        "author",
        "created_at",
        "finalised_at",
        "corrections",
    }
    assert body["text"] == "Mobilisation LWS, Schmerz 4/10"
    assert body["author"] == "Anna Muster <admin@praxis.test>"
    assert body["appointment_id"] is None
    assert body["finalised_at"] is None
    assert body["corrections"] == []
    listed = api.get(url(patient)).json()
    assert [entry["id"] for entry in listed["results"]] == [body["id"]]


def test_an_entry_may_name_an_appointment_of_the_record(api, organisation, patient):
    appointment = AppointmentFactory(organisation=organisation, patient=patient)

    body = _write(api, patient, appointment_id=str(appointment.public_id))

    assert body["appointment_id"] == str(appointment.public_id)


def test_an_appointment_of_another_record_is_refused(api, organisation, patient):
    other = AppointmentFactory(
        organisation=organisation, patient=PatientFactory(organisation=organisation)
    )

    response = api.post(
        url(patient), {"text": "x", "appointment_id": str(other.public_id)}, format="json"
    )

    assert_problem(response, 422, "validation_error")
    assert not DocumentationEntry.objects.exists()


@pytest.mark.parametrize("text", ["", "   ", None, ["x"]])
def test_an_empty_text_is_refused(api, patient, text):
    assert_problem(api.post(url(patient), {"text": text}, format="json"), 422, "validation_error")
    assert not DocumentationEntry.objects.exists()


def test_an_open_entry_can_be_changed(api, patient):
    entry = _write(api, patient)

    response = api.patch(url(patient, entry["id"]), {"text": "Korrigiert"}, format="json")

    assert response.status_code == 200
    assert response.json()["text"] == "Korrigiert"
    stored = DocumentationEntry.objects.get()
    assert [h.text for h in stored.history.order_by("history_id")] == [
        "Mobilisation LWS, Schmerz 4/10",
        "Korrigiert",
    ]


def test_a_finalised_entry_is_409_on_patch_and_unchanged(api, patient):
    entry = _write(api, patient)

    finalised = api.post(url(patient, entry["id"], "finalise"))
    response = api.patch(url(patient, entry["id"]), {"text": "Nachträglich"}, format="json")

    assert finalised.status_code == 200
    assert finalised.json()["finalised_at"] is not None
    assert_problem(response, 409, "entry_finalised")
    assert DocumentationEntry.objects.get().text == "Mobilisation LWS, Schmerz 4/10"


def test_finalising_twice_keeps_the_first_time(api, patient):
    entry = _write(api, patient)
    first = api.post(url(patient, entry["id"], "finalise")).json()["finalised_at"]

    again = api.post(url(patient, entry["id"], "finalise")).json()["finalised_at"]

    assert again == first


def test_a_correction_is_added_and_the_original_stays(api, patient):
    entry = _write(api, patient)
    api.post(url(patient, entry["id"], "finalise"))

    response = api.post(
        url(patient, entry["id"], "corrections"), {"text": "Schmerz 6/10"}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["text"] == "Mobilisation LWS, Schmerz 4/10"
    assert [c["text"] for c in body["corrections"]] == ["Schmerz 6/10"]
    assert set(body["corrections"][0]) == {"text", "author", "created_at"}
    assert api.get(url(patient)).json()["results"][0]["corrections"][0]["text"] == "Schmerz 6/10"


def test_entries_finalise_by_themselves_at_the_end_of_the_day_after(
    api, organisation, patient, admin_user
):
    # Written Monday 10:00 in Berlin: open all Tuesday, finalised from Wednesday 00:00.
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    entry = services.entry_create(patient=patient, actor=admin_user, text="Befund")
    backdate(entry, created_at=monday, finalises_at=services.finalises_at(organisation, monday))
    assert entry.finalises_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)

    assert entry.finalised_when(datetime(2026, 12, 1, 22, 59, tzinfo=UTC)) is None
    assert entry.finalised_when(datetime(2026, 12, 1, 23, 0, tzinfo=UTC)) == entry.finalises_at


def test_a_due_entry_counts_as_finalised_before_the_nightly_task(api, patient, admin_user):
    entry = services.entry_create(patient=patient, actor=admin_user, text="Befund")
    past = timezone.now() - timedelta(minutes=1)
    backdate(entry, finalises_at=past)

    response = api.patch(url(patient, entry.public_id), {"text": "später"}, format="json")
    shown = api.get(url(patient)).json()["results"][0]

    assert_problem(response, 409, "entry_finalised")
    assert shown["finalised_at"] is not None
    assert finalise_due_task() == 1
    entry.refresh_from_db()
    assert entry.finalised_at == past
    assert finalise_due_task() == 0


def test_reading_needs_the_documentation_right(organisation, patient):
    reader = token_client(
        UserFactory(organisation=organisation, role=Role.STAFF, can_documentation=False)
    )

    assert_problem(reader.get(url(patient)), 403, "permission_denied")
    response = reader.post(url(patient), {"text": "x"}, format="json")
    assert_problem(response, 403, "permission_denied")
    assert not AuditEvent.objects.filter(action="documentation.read").exists()


def test_every_read_and_write_is_in_the_audit_log(api, admin_user, patient):
    entry = _write(api, patient)
    api.get(url(patient))
    api.patch(url(patient, entry["id"]), {"text": "neu"}, format="json")
    api.post(url(patient, entry["id"], "finalise"))
    api.post(url(patient, entry["id"], "corrections"), {"text": "Korrektur"}, format="json")

    events = list(AuditEvent.objects.exclude(action="token.create").order_by("id"))
    assert [e.action for e in events] == [
        "documentation.create",
        "documentation.read",
        "documentation.update",
        "documentation.finalise",
        "documentation.correct",
    ]
    assert {e.actor_id for e in events} == {admin_user.pk}
    assert {e.patient_id for e in events} == {patient.public_id}
    # no health data in the log
    assert not any("Mobilisation" in e.detail or "neu" in e.detail for e in events)


def test_an_archived_record_is_read_only(api, admin_user, patient):
    entry = _write(api, patient)
    patient_archive(patient=patient, actor=admin_user)

    assert api.get(url(patient)).status_code == 200
    assert_problem(api.post(url(patient), {"text": "x"}, format="json"), 409, "record_archived")
    response = api.patch(url(patient, entry["id"]), {"text": "y"}, format="json")
    assert_problem(response, 409, "record_archived")


def test_other_organisations_see_nothing(api, other_api, organisation, patient):
    entry = _write(api, patient)

    assert_problem(other_api.get(url(patient)), 404, "not_found")
    response = other_api.patch(url(patient, entry["id"]), {"text": "x"}, format="json")
    assert_problem(response, 404, "not_found")
    other_patient = PatientFactory(organisation=organisation)
    response = api.patch(url(other_patient, entry["id"]), {"text": "x"}, format="json")
    assert_problem(response, 404, "not_found")


@pytest.mark.postgres
def test_the_database_refuses_to_change_a_finalised_entry(admin_user, patient):
    entry = services.entry_create(patient=patient, actor=admin_user, text="Befund")
    services.entry_finalise(entry=entry, actor=admin_user)
    correction = services.entry_correct(entry=entry, actor=admin_user, text="Korrektur")

    statements = [
        f"UPDATE documentation_documentationentry SET text = 'x' WHERE id = {entry.pk}",
        f"UPDATE documentation_documentationentry SET finalised_at = NULL WHERE id = {entry.pk}",
        f"DELETE FROM documentation_documentationentry WHERE id = {entry.pk}",
        f"UPDATE documentation_documentationcorrection SET text = 'x' WHERE id = {correction.pk}",
        "DELETE FROM documentation_historicaldocumentationentry",
    ]
    for sql in statements:
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    entry.refresh_from_db()
    assert entry.text == "Befund"


@pytest.mark.postgres
def test_the_database_lets_an_open_entry_change_its_text_only(admin_user, patient):
    entry = services.entry_create(patient=patient, actor=admin_user, text="Befund")

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE documentation_documentationentry SET text = 'neu' WHERE id = %s", [entry.pk]
        )
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE documentation_documentationentry SET author_label = 'x' WHERE id = %s",
            [entry.pk],
        )
