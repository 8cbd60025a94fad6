from datetime import UTC, datetime, timedelta

import pytest

from appointments.models import Appointment, CalendarColumn
from billing.models import InvoiceStatus
from tests.conftest import assert_problem, token_client
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

COLUMNS = "/api/v1/calendar-columns/"
APPOINTMENTS = "/api/v1/appointments/"


def snapshot(model):
    return sorted(model.objects.values_list("pk", "updated_at"))


@pytest.fixture
def refs(organisation):
    """A patient, a column and a chain of the organisation, as body ids."""
    return {
        "patient_id": str(PatientFactory(organisation=organisation).public_id),
        "calendar_column_id": str(CalendarColumnFactory(organisation=organisation).public_id),
        "service_chain_id": str(ServiceChainFactory(organisation=organisation).public_id),
    }


# Calendar columns


def test_column_crud(api, organisation):
    created = api.post(
        COLUMNS, {"name": " Raum 2 ", "kind": "room", "doctolib_agenda_id": "ag-7"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert {k: body[k] for k in ("name", "kind", "doctolib_agenda_id")} == {
        "name": "Raum 2",
        "kind": "room",
        "doctolib_agenda_id": "ag-7",
    }
    url = f"{COLUMNS}{body['id']}/"
    assert api.get(url).json()["name"] == "Raum 2"

    patched = api.patch(url, {"name": "Raum 3", "doctolib_agenda_id": ""}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["doctolib_agenda_id"] is None
    assert patched.json()["kind"] == "room"

    assert api.delete(url).status_code == 204
    assert not CalendarColumn.objects.exists()


def test_column_list_is_newest_first(api, organisation):
    for name in ["Zimmer", "Anna", "Moritz"]:
        CalendarColumnFactory(organisation=organisation, name=name)
    names = [row["name"] for row in api.get(COLUMNS).json()["results"]]
    assert names == ["Moritz", "Anna", "Zimmer"]


def test_column_create_defaults_to_therapist(api):
    body = api.post(COLUMNS, {"name": "Anna"}, format="json").json()
    assert body["kind"] == "therapist"
    assert body["doctolib_agenda_id"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": ["Anna"]}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "Anna", "kind": "office"}, "kind"),
        ({"name": "Anna", "kind": 1}, "kind"),
        ({"name": "Anna", "doctolib_agenda_id": "mit leerzeichen"}, "doctolib_agenda_id"),
        ({"name": "Anna", "doctolib_agenda_id": "a" * 65}, "doctolib_agenda_id"),
        ({"name": "Anna", "doctolib_agenda_id": {"id": "x"}}, "doctolib_agenda_id"),
    ],
)
def test_column_create_rejects_bad_input(api, payload, field):
    body = assert_problem(api.post(COLUMNS, payload, format="json"), 422, "validation_error")
    assert field in body["errors"]
    assert not CalendarColumn.objects.exists()


def test_column_patch_rejects_bad_input_and_duplicate_agenda(api, organisation):
    CalendarColumnFactory(organisation=organisation, doctolib_agenda_id="ag-1")
    column = CalendarColumnFactory(organisation=organisation, doctolib_agenda_id="ag-2")
    before = snapshot(CalendarColumn)
    url = f"{COLUMNS}{column.public_id}/"

    for payload in ({"name": ""}, {"kind": "office"}, {"doctolib_agenda_id": "ag-1"}):
        body = assert_problem(api.patch(url, payload, format="json"), 422, "validation_error")
        assert list(body["errors"]) == list(payload)
    for raw in ("{nope", "[]", '"Anna"'):
        response = api.patch(url, raw, content_type="application/json")
        assert_problem(response, 400, "malformed_request")

    assert snapshot(CalendarColumn) == before


def test_same_agenda_id_in_another_organisation_is_fine(api, other_organisation):
    CalendarColumnFactory(organisation=other_organisation, doctolib_agenda_id="ag-1")
    response = api.post(COLUMNS, {"name": "Anna", "doctolib_agenda_id": "ag-1"}, format="json")
    assert response.status_code == 201, response.content


def test_column_with_appointments_is_column_in_use(api, organisation):
    appointment = AppointmentFactory(organisation=organisation)
    url = f"{COLUMNS}{appointment.calendar_column.public_id}/"
    assert_problem(api.delete(url), 409, "column_in_use")
    assert CalendarColumn.objects.filter(pk=appointment.calendar_column_id).exists()


def test_other_organisations_column_is_404_and_unchanged(api, other_organisation):
    foreign = CalendarColumnFactory(organisation=other_organisation, name="Fremd")
    before = snapshot(CalendarColumn)
    url = f"{COLUMNS}{foreign.public_id}/"
    assert_problem(api.get(url), 404, "not_found")
    assert_problem(api.patch(url, {"name": "X"}, format="json"), 404, "not_found")
    assert_problem(api.delete(url), 404, "not_found")
    assert_problem(api.get(f"{COLUMNS}not-a-uuid/"), 404, "not_found")
    assert snapshot(CalendarColumn) == before
    assert api.get(COLUMNS).json()["count"] == 0


def test_column_writes_need_the_appointments_right(organisation):
    column = CalendarColumnFactory(organisation=organisation, name="Anna")
    client = token_client(
        UserFactory(organisation=organisation, role="staff", can_appointments=False)
    )
    assert client.get(COLUMNS).status_code == 200
    assert_problem(client.post(COLUMNS, {"name": "X"}, format="json"), 403, "permission_denied")
    url = f"{COLUMNS}{column.public_id}/"
    assert_problem(client.patch(url, {"name": "X"}, format="json"), 403, "permission_denied")
    assert_problem(client.delete(url), 403, "permission_denied")
    assert list(CalendarColumn.objects.values_list("name", flat=True)) == ["Anna"]


def test_column_list_query_count_does_not_grow(api, organisation, django_assert_max_num_queries):
    CalendarColumnFactory.create_batch(30, organisation=organisation)
    with django_assert_max_num_queries(4):
        small = api.get(COLUMNS, {"page_size": 1})
    with django_assert_max_num_queries(4):
        large = api.get(COLUMNS, {"page_size": 500})
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 30


# Appointments


def test_create_appointment(api, organisation, admin_user, refs):
    response = api.post(
        APPOINTMENTS,
        {**refs, "start": "2025-03-04T08:00:00Z", "duration_minutes": 45, "note": " Knie "},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["start"] == "2025-03-04T09:00:00+01:00"  # in the organisation's zone
    assert {k: body[k] for k in refs} == refs
    assert body["duration_minutes"] == 45
    assert body["note"] == "Knie"
    assert body["status"] == "planned"
    assert body["source"] == "lemniscus"
    assert body["service_chain_match"] == "manual"
    assert body["doctolib_appointment_id"] is None
    assert body["invoice_id"] is None
    appointment = Appointment.objects.get(public_id=body["id"])
    assert appointment.organisation == organisation
    assert appointment.created_by == admin_user
    assert appointment.history.get().history_user == admin_user


def test_create_without_chain(api, refs):
    refs.pop("service_chain_id")
    response = api.post(
        APPOINTMENTS,
        {**refs, "start": "2025-03-04T09:00:00+01:00", "duration_minutes": 30, "status": "done"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["service_chain_id"] is None
    assert response.json()["service_chain_match"] == ""
    assert response.json()["status"] == "done"


BAD_APPOINTMENT_FIELDS = [
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": 1441}, "duration_minutes"),
    ({"duration_minutes": "30"}, "duration_minutes"),
    ({"duration_minutes": 30.5}, "duration_minutes"),
    ({"duration_minutes": True}, "duration_minutes"),
    ({"duration_minutes": None}, "duration_minutes"),
    ({"start": "2025-03-04T09:00:00"}, "start"),
    ({"start": "morgen"}, "start"),
    ({"start": 1741078800}, "start"),
    ({"start": None}, "start"),
    ({"status": "open"}, "status"),
    ({"status": ["done"]}, "status"),
    ({"status": None}, "status"),
    ({"patient_id": "abc"}, "patient_id"),
    ({"patient_id": 5}, "patient_id"),
    ({"patient_id": None}, "patient_id"),
    ({"calendar_column_id": ["8c6a9a5e-6f7b-4f7e-9a38-0d2b9a1c9e11"]}, "calendar_column_id"),
    ({"service_chain_id": {}}, "service_chain_id"),
    ({"note": "x" * 5001}, "note"),
    ({"note": {"text": "x"}}, "note"),
]


@pytest.mark.parametrize(("change", "field"), BAD_APPOINTMENT_FIELDS)
def test_create_rejects_bad_input(api, refs, change, field):
    payload = {**refs, "start": "2025-03-04T09:00:00+01:00", "duration_minutes": 30, **change}
    body = assert_problem(api.post(APPOINTMENTS, payload, format="json"), 422, "validation_error")
    assert list(body["errors"]) == [field]
    assert not Appointment.objects.exists()


def test_create_requires_its_fields(api):
    body = assert_problem(api.post(APPOINTMENTS, {}, format="json"), 422, "validation_error")
    # The duration may be left out: it then comes from the chain's minutes.
    assert set(body["errors"]) == {"patient_id", "calendar_column_id", "start"}


@pytest.mark.parametrize("raw", ["{nope", "[]", '[{"note": "x"}]', "42", '"text"', "null"])
@pytest.mark.parametrize(
    ("method", "target"),
    [("post", "columns"), ("patch", "column"), ("post", "appointments"), ("patch", "appointment")],
)
def test_malformed_bodies_are_400_on_every_write(api, organisation, method, target, raw):
    appointment = AppointmentFactory(organisation=organisation)
    url = {
        "columns": COLUMNS,
        "column": f"{COLUMNS}{appointment.calendar_column.public_id}/",
        "appointments": APPOINTMENTS,
        "appointment": f"{APPOINTMENTS}{appointment.public_id}/",
    }[target]
    before = (snapshot(Appointment), snapshot(CalendarColumn))
    response = getattr(api, method)(url, raw, content_type="application/json")
    assert_problem(response, 400, "malformed_request")
    assert (snapshot(Appointment), snapshot(CalendarColumn)) == before


@pytest.mark.parametrize("field", ["patient_id", "calendar_column_id", "service_chain_id"])
def test_create_with_foreign_or_unknown_ids_is_404(api, other_organisation, refs, field):
    foreign = {
        "patient_id": PatientFactory(organisation=other_organisation),
        "calendar_column_id": CalendarColumnFactory(organisation=other_organisation),
        "service_chain_id": ServiceChainFactory(organisation=other_organisation),
    }[field]
    base = {**refs, "start": "2025-03-04T09:00:00+01:00", "duration_minutes": 30}
    for value in (str(foreign.public_id), "00000000-0000-4000-8000-000000000000"):
        response = api.post(APPOINTMENTS, {**base, field: value}, format="json")
        assert_problem(response, 404, "not_found")
    assert not Appointment.objects.exists()


def test_validation_errors_come_before_unknown_body_ids(api, refs):
    payload = {
        **refs,
        "patient_id": "00000000-0000-4000-8000-000000000000",
        "start": "2025-03-04T09:00:00+01:00",
        "duration_minutes": 0,
    }
    body = assert_problem(api.post(APPOINTMENTS, payload, format="json"), 422, "validation_error")
    assert list(body["errors"]) == ["duration_minutes"]


def test_patch_changes_fields_and_marks_chain_manual(api, organisation, admin_user):
    appointment = AppointmentFactory(organisation=organisation, service_chain_match="sync_id")
    chain = ServiceChainFactory(organisation=organisation)
    column = CalendarColumnFactory(organisation=organisation)
    response = api.patch(
        f"{APPOINTMENTS}{appointment.public_id}/",
        {
            "service_chain_id": str(chain.public_id),
            "calendar_column_id": str(column.public_id),
            "start": "2025-07-01T10:30:00+02:00",
            "duration_minutes": 60,
            "status": "done",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["service_chain_id"] == str(chain.public_id)
    assert body["service_chain_match"] == "manual"
    assert body["calendar_column_id"] == str(column.public_id)
    assert body["start"] == "2025-07-01T10:30:00+02:00"
    assert body["status"] == "done"
    appointment.refresh_from_db()
    assert appointment.start == datetime(2025, 7, 1, 8, 30, tzinfo=UTC)
    assert appointment.history.first().history_user == admin_user


def test_patch_with_forbidden_status_change_is_invalid_status(api, organisation):
    appointment = AppointmentFactory(organisation=organisation, status="cancelled")
    response = api.patch(
        f"{APPOINTMENTS}{appointment.public_id}/", {"status": "done"}, format="json"
    )
    assert_problem(response, 409, "invalid_status")
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"


@pytest.mark.parametrize(("change", "field"), BAD_APPOINTMENT_FIELDS)
def test_patch_rejects_bad_input(api, organisation, change, field):
    appointment = AppointmentFactory(organisation=organisation)
    before = snapshot(Appointment)
    response = api.patch(f"{APPOINTMENTS}{appointment.public_id}/", change, format="json")
    body = assert_problem(response, 422, "validation_error")
    assert list(body["errors"]) == [field]
    assert snapshot(Appointment) == before


def test_patch_with_foreign_body_id_is_404_and_unchanged(api, organisation, other_organisation):
    appointment = AppointmentFactory(organisation=organisation)
    before = snapshot(Appointment)
    foreign = PatientFactory(organisation=other_organisation)
    response = api.patch(
        f"{APPOINTMENTS}{appointment.public_id}/",
        {"patient_id": str(foreign.public_id), "note": "neu"},
        format="json",
    )
    assert_problem(response, 404, "not_found")
    assert snapshot(Appointment) == before


@pytest.mark.parametrize("status", [InvoiceStatus.DRAFT, InvoiceStatus.ISSUED, InvoiceStatus.PAID])
def test_invoiced_appointment_is_locked(api, organisation, put_on_invoice, status):
    appointment = AppointmentFactory(organisation=organisation, note="alt")
    invoice = put_on_invoice(appointment, status)
    url = f"{APPOINTMENTS}{appointment.public_id}/"
    assert api.get(url).json()["invoice_id"] == str(invoice.public_id)
    before = snapshot(Appointment)

    assert_problem(api.patch(url, {"note": "neu"}, format="json"), 409, "appointment_invoiced")
    assert_problem(
        api.patch(url, {"status": "cancelled"}, format="json"), 409, "appointment_invoiced"
    )
    assert_problem(api.delete(url), 409, "appointment_invoiced")

    assert snapshot(Appointment) == before
    # Sending what is stored changes nothing and is answered.
    assert api.patch(url, {"note": "alt"}, format="json").status_code == 200


def test_appointment_of_cancelled_invoice_can_change_but_stays(api, organisation, put_on_invoice):
    appointment = AppointmentFactory(organisation=organisation)
    put_on_invoice(appointment, InvoiceStatus.CANCELLED)
    url = f"{APPOINTMENTS}{appointment.public_id}/"
    response = api.patch(url, {"note": "neu"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["invoice_id"] is None
    assert_problem(api.delete(url), 409, "has_invoices")
    assert Appointment.objects.filter(pk=appointment.pk).exists()


def test_delete_appointment(api, organisation, admin_user):
    appointment = AppointmentFactory(organisation=organisation)
    assert api.delete(f"{APPOINTMENTS}{appointment.public_id}/").status_code == 204
    assert not Appointment.objects.exists()
    assert appointment.history.get(history_type="-").history_user == admin_user


def test_other_organisations_appointment_is_404_and_unchanged(api, other_organisation):
    foreign = AppointmentFactory(organisation=other_organisation)
    before = snapshot(Appointment)
    url = f"{APPOINTMENTS}{foreign.public_id}/"
    assert_problem(api.get(url), 404, "not_found")
    assert_problem(api.patch(url, {"note": "X"}, format="json"), 404, "not_found")
    assert_problem(api.delete(url), 404, "not_found")
    assert snapshot(Appointment) == before
    assert api.get(APPOINTMENTS).json()["count"] == 0


def test_appointment_writes_need_the_appointments_right(organisation, refs):
    appointment = AppointmentFactory(organisation=organisation)
    before = snapshot(Appointment)
    client = token_client(
        UserFactory(organisation=organisation, role="staff", can_appointments=False)
    )
    url = f"{APPOINTMENTS}{appointment.public_id}/"
    assert client.get(url).status_code == 200
    payload = {**refs, "start": "2025-03-04T09:00:00+01:00", "duration_minutes": 30}
    assert_problem(client.post(APPOINTMENTS, payload, format="json"), 403, "permission_denied")
    assert_problem(client.patch(url, {"note": "X"}, format="json"), 403, "permission_denied")
    assert_problem(client.delete(url), 403, "permission_denied")
    assert snapshot(Appointment) == before


@pytest.fixture
def week(organisation):
    """Appointments on Monday to Friday at 9:00 Berlin time, in two columns."""
    monday = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    patient = PatientFactory(organisation=organisation)
    columns = CalendarColumnFactory.create_batch(2, organisation=organisation)
    return [
        AppointmentFactory(
            organisation=organisation,
            patient=patient if day % 2 == 0 else PatientFactory(organisation=organisation),
            calendar_column=columns[day % 2],
            start=monday + timedelta(days=day),
        )
        for day in (4, 2, 0, 3, 1)  # made out of order
    ]


def _ids(api, **params):
    response = api.get(APPOINTMENTS, params)
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_is_ordered_by_start_and_filtered(api, week):
    by_start = sorted(week, key=lambda a: a.start)
    ids = [str(a.public_id) for a in by_start]
    assert _ids(api) == ids
    # Tuesday 00:00 (inclusive) to Thursday 09:00 Berlin (exclusive).
    assert (
        _ids(api, start_after="2025-03-04T00:00:00+01:00", start_before="2025-03-06T09:00:00+01:00")
        == ids[1:3]
    )
    assert _ids(api, start_after="2025-03-06T08:00:00Z") == ids[3:]
    column = by_start[0].calendar_column
    assert _ids(api, calendar_column=str(column.public_id)) == ids[0::2]
    patient = by_start[1].patient
    assert _ids(api, patient=str(patient.public_id)) == [ids[1]]
    assert _ids(api, patient="00000000-0000-4000-8000-000000000000") == []


def test_unencoded_plus_in_offset_is_understood(api, week):
    response = api.get(f"{APPOINTMENTS}?start_after=2025-03-06T09:00:00+01:00")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start_after": "2025-03-04T00:00:00"}, "start_after"),
        ({"start_before": "2025-03-04"}, "start_before"),
        ({"start_before": "gestern"}, "start_before"),
        ({"calendar_column": "abc"}, "calendar_column"),
        ({"patient": "123"}, "patient"),
    ],
)
def test_bad_filters_are_422(api, week, params, field):
    body = assert_problem(api.get(APPOINTMENTS, params), 422, "validation_error")
    assert list(body["errors"]) == [field]


def test_appointment_list_query_count_does_not_grow(
    api, organisation, put_on_invoice, django_assert_max_num_queries
):
    AppointmentFactory.create_batch(40, organisation=organisation)
    put_on_invoice(Appointment.objects.first())
    with django_assert_max_num_queries(4):
        small = api.get(APPOINTMENTS, {"page_size": 1})
    with django_assert_max_num_queries(4):
        large = api.get(APPOINTMENTS, {"page_size": 500})
    assert len(small.json()["results"]) == 1
    rows = large.json()["results"]
    assert len(rows) == 40
    assert sum(row["invoice_id"] is not None for row in rows) == 1
