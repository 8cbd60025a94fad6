"""Real concurrency on PostgreSQL: threads, each with its own connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from appointments.models import Appointment
from patients.models import Patient
from patients.services import patient_update
from tests.factories import PatientFactory, ServiceChainFactory
from tests.zipper.conftest import Plugin

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _at_once(n, call):
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait()
            return call(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def test_twenty_identical_appointment_puts_make_one_appointment(organisation, doctolib_token):
    PatientFactory(organisation=organisation, sync_to_doctolib=True, doctolib_patient_id="dp-1")
    ServiceChainFactory(organisation=organisation, description="KG")
    body = {
        "doctolib_patient_id": "dp-1",
        "agenda": {"id": "ag-1", "name": "Frau Weber"},
        "visit_motive": {"name": "KG"},
        "start": "2026-11-20T09:00:00+01:00",
        "duration_minutes": 30,
        "note": "",
    }
    raw = doctolib_token[1]
    statuses = _at_once(20, lambda i: Plugin(raw).put("/appointments/da-1", body).status_code)
    assert sorted(statuses) == [200] * 19 + [201]
    assert Appointment.objects.filter(doctolib_appointment_id="da-1").count() == 1
    assert (
        organisation.pk and Appointment.objects.get().calendar_column.doctolib_agenda_id == "ag-1"
    )


@pytest.mark.parametrize("existing_column", [False, True], ids=["new agenda", "column by name"])
def test_first_pushes_at_once_to_one_agenda_share_one_column(
    organisation, doctolib_token, existing_column
):
    """Different appointments, one agenda seen for the first time: the service's own
    race handling (no retry by the caller) ends with one column linked to it, whether
    it creates the column or links the one found by name."""
    from appointments.models import CalendarColumn

    PatientFactory(organisation=organisation, sync_to_doctolib=True, doctolib_patient_id="dp-1")
    if existing_column:
        CalendarColumn.objects.create(organisation=organisation, name="Frau Weber")
    body = {
        "doctolib_patient_id": "dp-1",
        "agenda": {"id": "ag-9", "name": "Frau Weber"},
        "visit_motive": {"name": "KG"},
        "start": "2026-11-20T09:00:00+01:00",
        "duration_minutes": 30,
        "note": "",
    }
    raw = doctolib_token[1]
    statuses = _at_once(8, lambda i: Plugin(raw).put(f"/appointments/da-{i}", body).status_code)
    assert statuses == [201] * 8
    columns = CalendarColumn.objects.filter(organisation=organisation)
    assert [c.doctolib_agenda_id for c in columns] == ["ag-9"]
    assert set(Appointment.objects.values_list("calendar_column", flat=True)) == {columns[0].pk}


def test_twenty_identical_patient_posts_make_one_link(organisation, doctolib_token):
    raw = doctolib_token[1]
    body = {"doctolib_patient_id": "dp-9", "last_name": "Neu", "first_name": "Nina"}
    results = _at_once(20, lambda i: Plugin(raw).post("/patients", body))
    assert sorted(r.status_code for r in results) == [200] * 19 + [201]
    assert len({r.json()["patient_id"] for r in results}) == 1
    assert Patient.objects.filter(doctolib_patient_id="dp-9").count() == 1


def test_concurrent_feed_writers_and_a_reader_lose_nothing(organisation, doctolib_token):
    raw = doctolib_token[1]
    patients = [
        PatientFactory(organisation=organisation, sync_to_doctolib=False) for _ in range(40)
    ]
    seen: set[str] = set()
    cursor = {"value": ""}
    done = threading.Event()

    def read_page():
        params = {"limit": 7}
        if cursor["value"]:
            params["after"] = cursor["value"]
        body = Plugin(raw).get("/changes", params).json()
        seen.update(change["patient_id"] for change in body["changes"])
        cursor["value"] = body["next_cursor"]

    def reader():
        try:
            while not done.is_set():
                read_page()
        finally:
            connection.close()

    def write(i):
        patient = Patient.objects.get(pk=patients[i].pk)
        patient_update(patient=patient, sync_to_doctolib=True, city=f"Ort {i}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        _at_once(len(patients), write)
    finally:
        done.set()
        thread.join()
    for _ in range(10):  # drain what is left after the writers finished
        read_page()
    assert seen == {str(p.public_id) for p in patients}


def test_repeats_with_one_idempotency_key_wait_for_the_first_answer(organisation, doctolib_token):
    raw = doctolib_token[1]
    body = {"doctolib_patient_id": "dp-k", "last_name": "Kai"}
    results = _at_once(
        10, lambda i: Plugin(raw).post("/patients", body, HTTP_IDEMPOTENCY_KEY="same-key")
    )
    assert {r.status_code for r in results} == {201}  # the first answer, replayed
    assert all(r.json() == results[0].json() for r in results)
    assert sum(r.get("Idempotency-Replayed") == "true" for r in results) == 9
    assert Patient.objects.filter(doctolib_patient_id="dp-k").count() == 1
