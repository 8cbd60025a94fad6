from datetime import date

import pytest
from django.test import override_settings

from doctolib_bridge.models import ChangeFeedEntry, SyncLogEntry
from patients.models import Patient
from tests.conftest import assert_problem
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

ANNA = {
    "doctolib_patient_id": "dl-100",
    "salutation": "female",
    "first_name": "Anna",
    "last_name": "Müller",
    "birth_date": "1980-02-03",
    "mobile_phone": "0171 1234567",
    "landline_phone": None,
    "email": "anna@example.org",
    "street": "Seeweg 1",
    "postal_code": "12345",
    "city": "Berlin",
}


def test_connection(plugin, organisation):
    response = plugin.get("/connection")
    assert response.status_code == 200
    assert response.json() == {
        "orga_id": organisation.orga_id,
        "organisation": "Praxis am See",
        "plan": "XL",
        "api_version": "1",
    }


def test_take_in_creates_a_linked_record(plugin, organisation):
    response = plugin.post("/patients", ANNA)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["outcome"] == "created"
    assert body["doctolib_patient_id"] == "dl-100"
    assert body["url"].startswith("http://localhost:8000/akten/")
    assert body["applied"] == [
        "salutation",
        "first_name",
        "last_name",
        "birth_date",
        "mobile_phone",
        "email",
        "street",
        "postal_code",
        "city",
    ]
    assert body["to_doctolib"] == []
    patient = Patient.objects.get(public_id=body["patient_id"])
    assert patient.sync_to_doctolib and patient.doctolib_patient_id == "dl-100"
    assert patient.mobile_phone == "+491711234567"
    assert not ChangeFeedEntry.objects.exists()


def test_take_in_twice_is_unchanged(plugin):
    first = plugin.post("/patients", ANNA).json()
    again = plugin.post("/patients", ANNA)
    assert again.status_code == 200
    assert again.json()["outcome"] == "unchanged"
    assert again.json()["patient_id"] == first["patient_id"]
    assert again.json()["applied"] == []
    assert Patient.objects.count() == 1


def test_merge_applies_leading_system_rules(plugin, organisation):
    record = PatientFactory(
        organisation=organisation,
        first_name="Anna",
        last_name="Müller",
        street="Altweg 9",
        city="",
        mobile_phone="+4915100000000",
        email="alt@example.org",
    )
    response = plugin.post("/patients", {**ANNA, "merge_into": str(record.public_id)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "merged"
    # Doctolib leads phones and e-mail; an empty lemniscus field (city) is filled;
    # a differing lemniscus-led value (street) is queued for Doctolib.
    assert "mobile_phone" in body["applied"] and "email" in body["applied"]
    assert "city" in body["applied"]
    assert "street" not in body["applied"]
    assert "street" in body["to_doctolib"]
    record.refresh_from_db()
    assert record.street == "Altweg 9"
    assert record.mobile_phone == "+491711234567"
    assert record.city == "Berlin"
    assert record.sync_to_doctolib and record.doctolib_patient_id == "dl-100"
    assert ChangeFeedEntry.objects.filter(patient=record).count() == 1


def test_doctolib_none_clears_a_doctolib_led_field(plugin, organisation):
    plugin.post("/patients", ANNA)
    response = plugin.put("/patients/dl-100", {"mobile_phone": None, "city": None})
    assert response.status_code == 200
    assert response.json()["applied"] == ["mobile_phone"]
    patient = Patient.objects.get(doctolib_patient_id="dl-100")
    assert patient.mobile_phone == ""
    assert patient.city == "Berlin"  # lemniscus leads; Doctolib's none does not clear it


def test_queued_once_per_pair_of_values(plugin, organisation):
    plugin.post("/patients", ANNA)
    patient = Patient.objects.get(doctolib_patient_id="dl-100")
    patient.street = "Neuer Weg 2"
    patient.save()
    first = plugin.put("/patients/dl-100", {"street": "Seeweg 1"}).json()
    again = plugin.put("/patients/dl-100", {"street": "Seeweg 1"}).json()
    reformatted = plugin.put("/patients/dl-100", {"street": "Seeweg 1 "}).json()
    assert first["to_doctolib"] == ["street"]
    assert again["to_doctolib"] == []
    assert reformatted["to_doctolib"] == []
    other = plugin.put("/patients/dl-100", {"street": "Seeweg 1a"}).json()
    assert other["to_doctolib"] == ["street"]


def test_link_conflicts(plugin, organisation):
    plugin.post("/patients", ANNA)
    linked = Patient.objects.get(doctolib_patient_id="dl-100")
    unlinked = PatientFactory(organisation=organisation)
    response = plugin.post("/patients", {**ANNA, "merge_into": str(unlinked.public_id)})
    assert_problem(response, 409, "link_conflict")
    response = plugin.post(
        "/patients", {**ANNA, "doctolib_patient_id": "dl-200", "merge_into": str(linked.public_id)}
    )
    assert_problem(response, 409, "link_conflict")
    unlinked.refresh_from_db()
    assert unlinked.doctolib_patient_id is None


def test_merge_into_unknown_or_foreign_record_is_404(plugin, other_organisation):
    foreign = PatientFactory(organisation=other_organisation)
    for target in [str(foreign.public_id), "00000000-0000-0000-0000-000000000000", "nope"]:
        response = plugin.post("/patients", {**ANNA, "merge_into": target})
        assert_problem(response, 404, "not_found")
    foreign.refresh_from_db()
    assert foreign.doctolib_patient_id is None
    assert Patient.objects.filter(doctolib_patient_id="dl-100").count() == 0


def test_create_needs_last_name(plugin):
    body = assert_problem(
        plugin.post("/patients", {"doctolib_patient_id": "dl-1"}), 422, "validation_error"
    )
    assert "last_name" in body["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("doctolib_patient_id", "has space"),
        ("doctolib_patient_id", "x" * 65),
        ("doctolib_patient_id", True),
        ("mobile_phone", "abc"),
        ("email", "nope"),
        ("birth_date", "03.02.1980"),
    ],
)
def test_take_in_validation(plugin, field, value):
    body = assert_problem(plugin.post("/patients", {**ANNA, field: value}), 422, "validation_error")
    assert field in body["errors"]
    assert Patient.objects.count() == 0


def test_numeric_doctolib_id_is_its_decimal_string(plugin):
    response = plugin.post("/patients", {**ANNA, "doctolib_patient_id": 4711})
    assert response.json()["doctolib_patient_id"] == "4711"
    assert plugin.get("/patients/4711").status_code == 200


@pytest.mark.parametrize("salutation", ["diverse", None, "", 3])
def test_salutation_other_than_male_female_means_none(plugin, salutation):
    assert plugin.post("/patients", {**ANNA, "salutation": salutation}).status_code == 201
    assert Patient.objects.get().salutation == ""


def test_get_patient_and_not_linked(plugin):
    plugin.post("/patients", ANNA)
    body = plugin.get("/patients/dl-100").json()
    assert body["fields"]["last_name"] == "Müller"
    assert body["fields"]["landline_phone"] is None
    missing = assert_problem(plugin.get("/patients/dl-999"), 404, "patient_not_linked")
    assert (
        missing["link_url"] == "http://localhost:8000/akten/verknuepfen/?doctolib_patient_id=dl-999"
    )


def test_put_not_linked_is_checked_before_the_body(plugin):
    assert_problem(plugin.put("/patients/dl-999", {"email": "kaputt"}), 404, "patient_not_linked")


def test_malformed_path_id_is_422_before_lookup(plugin):
    assert_problem(plugin.get("/patients/bad%20id"), 422, "validation_error")


def test_delete_removes_link_and_clears_checkbox(plugin):
    plugin.post("/patients", ANNA)
    assert plugin.delete("/patients/dl-100").status_code == 204
    patient = Patient.objects.get()
    assert patient.doctolib_patient_id is None and patient.sync_to_doctolib is False
    assert_problem(plugin.delete("/patients/dl-100"), 404, "patient_not_linked")


def test_links(plugin, organisation):
    record = PatientFactory(organisation=organisation, sync_to_doctolib=True)
    body = {"patient_id": str(record.public_id), "doctolib_patient_id": "dl-7"}
    assert plugin.post("/links", body).status_code == 201
    assert plugin.post("/links", body).status_code == 200
    assert_problem(
        plugin.post("/links", {**body, "doctolib_patient_id": "dl-8"}), 409, "link_conflict"
    )
    other = PatientFactory(organisation=organisation)
    assert_problem(
        plugin.post("/links", {"patient_id": str(other.public_id), "doctolib_patient_id": "dl-7"}),
        409,
        "link_conflict",
    )
    assert_problem(
        plugin.post("/links", {"patient_id": "nope", "doctolib_patient_id": "dl-9"}),
        404,
        "not_found",
    )


def test_suggestions_fold_and_rank(plugin, organisation):
    a = PatientFactory(
        organisation=organisation, last_name="Müller", first_name="Anna", birth_date="1990-01-01"
    )
    b = PatientFactory(
        organisation=organisation, last_name="Mueller", first_name="Bernd", birth_date="1980-02-03"
    )
    c = PatientFactory(
        organisation=organisation,
        last_name="MÜLLER-Lüdenscheidt",
        first_name="Anna",
        birth_date="1970-01-01",
    )
    PatientFactory(organisation=organisation, last_name="Maier")
    response = plugin.get(
        "/patient-suggestions",
        {"last_name": "muel", "first_name": "anna", "birth_date": "1980-02-03"},
    )
    assert response.status_code == 200
    ids = [row["patient_id"] for row in response.json()["results"]]
    # birth date first, then first name, then last name
    assert ids == [str(b.public_id), str(a.public_id), str(c.public_id)]
    assert_problem(plugin.get("/patient-suggestions", {"last_name": ""}), 422, "validation_error")
    assert_problem(plugin.get("/patient-suggestions"), 422, "validation_error")


def test_every_call_is_in_the_sync_log(plugin, organisation):
    plugin.post("/patients", ANNA)
    plugin.get("/patients/dl-999")
    entries = list(SyncLogEntry.objects.filter(organisation=organisation).order_by("created_at"))
    assert [(e.method, e.status, e.code) for e in entries] == [
        ("POST", 201, ""),
        ("GET", 404, "patient_not_linked"),
    ]
    assert entries[0].doctolib_patient_id == "dl-100"
    assert entries[0].outcome == "created"
    assert entries[0].detail
    assert entries[1].detail


# -- GET and PUT /patients/{doctolib_patient_id} ---------------------------------------

ANNA_FIELDS = {name: value for name, value in ANNA.items() if name != "doctolib_patient_id"}


def _linked_anna(plugin, **fields) -> Patient:
    assert plugin.post("/patients", {**ANNA, **fields}).status_code == 201
    return Patient.objects.get(doctolib_patient_id=fields.get("doctolib_patient_id", "dl-100"))


def _stammdaten(patient: Patient) -> dict:
    patient.refresh_from_db()
    return {name: getattr(patient, name) for name in [*ANNA_FIELDS, "title", "notes"]}


@override_settings(PUBLIC_BASE_URL="https://praxis.example")
def test_get_linked_patient_gives_every_field_as_lemniscus_holds_it(plugin, api):
    patient = _linked_anna(plugin, landline_phone="030 1234567")
    edited = api.patch(f"/api/v1/patients/{patient.public_id}/", {"city": "Potsdam"}, format="json")
    assert edited.status_code == 200  # lemniscus leads the city; Doctolib still says Berlin
    response = plugin.get("/patients/dl-100")
    assert response.status_code == 200
    assert response.json() == {
        "patient_id": str(patient.public_id),
        "doctolib_patient_id": "dl-100",
        "url": f"https://praxis.example/akten/{patient.public_id}/",
        "fields": {
            "salutation": "female",
            "first_name": "Anna",
            "last_name": "Müller",
            "birth_date": "1980-02-03",
            "mobile_phone": "+491711234567",
            "landline_phone": "+49301234567",
            "email": "anna@example.org",
            "street": "Seeweg 1",
            "postal_code": "12345",
            "city": "Potsdam",
        },
    }


@override_settings(PUBLIC_BASE_URL="https://praxis.example")
def test_not_linked_answers_an_absolute_link_url(plugin, other_plugin):
    assert other_plugin.post("/patients", ANNA).status_code == 201  # linked elsewhere only
    for method in ("get", "put"):
        body = assert_problem(
            getattr(plugin, method)("/patients/dl-100"), 404, "patient_not_linked"
        )
        assert body["link_url"] == (
            "https://praxis.example/akten/verknuepfen/?doctolib_patient_id=dl-100"
        )


def test_put_applies_doctolib_led_fields(plugin):
    patient = _linked_anna(plugin)
    before = _stammdaten(patient)
    response = plugin.put(
        "/patients/dl-100",
        {"mobile_phone": "0151 2345678", "landline_phone": "030 1234567", "email": "neu@ex.org"},
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "patient_id": str(patient.public_id),
        "applied": ["mobile_phone", "landline_phone", "email"],
        "to_doctolib": [],
    }
    assert _stammdaten(patient) == {
        **before,
        "mobile_phone": "+491512345678",
        "landline_phone": "+49301234567",
        "email": "neu@ex.org",
    }


@pytest.mark.parametrize("none", [None, ""])
def test_put_none_clears_our_doctolib_led_fields(plugin, none):
    patient = _linked_anna(plugin, landline_phone="030 1234567")
    body = plugin.put(
        "/patients/dl-100", {"mobile_phone": none, "landline_phone": none, "email": none}
    ).json()
    assert body["applied"] == ["mobile_phone", "landline_phone", "email"]
    patient.refresh_from_db()
    assert (patient.mobile_phone, patient.landline_phone, patient.email) == ("", "", "")


def test_put_fills_empty_lemniscus_led_fields(plugin, organisation):
    response = plugin.post("/patients", {"doctolib_patient_id": "dl-100", "last_name": "Müller"})
    patient = Patient.objects.get(public_id=response.json()["patient_id"])
    body = plugin.put("/patients/dl-100", ANNA_FIELDS).json()
    # every field Doctolib has a value for (ANNA_FIELDS is in the contract's order),
    # except last_name, which is equal
    assert body["applied"] == [
        name for name, value in ANNA_FIELDS.items() if value and name != "last_name"
    ]
    assert body["to_doctolib"] == []
    assert plugin.get("/patients/dl-100").json()["fields"] == {
        **ANNA_FIELDS,
        "mobile_phone": "+491711234567",
    }
    assert not ChangeFeedEntry.objects.filter(patient=patient).exists()


def test_put_queues_differing_lemniscus_led_values_and_keeps_ours(plugin):
    patient = _linked_anna(plugin)
    before = _stammdaten(patient)
    doctolib = {"salutation": "male", "first_name": "Anne", "birth_date": "1980-03-02"}
    body = plugin.put("/patients/dl-100", {**doctolib, "city": "Bonn"}).json()
    assert body["applied"] == []
    assert body["to_doctolib"] == ["salutation", "first_name", "birth_date", "city"]
    assert _stammdaten(patient) == before
    (change,) = plugin.get("/changes").json()["changes"]
    assert change["kind"] == "patient.update"
    assert change["fields"]["first_name"] == "Anna" and change["fields"]["city"] == "Berlin"


def test_put_a_field_left_out_changes_nothing(plugin):
    patient = _linked_anna(plugin, landline_phone="030 1234567")
    before = _stammdaten(patient)
    history = patient.history.count()
    assert plugin.put("/patients/dl-100", {}).json() == {
        "patient_id": str(patient.public_id),
        "applied": [],
        "to_doctolib": [],
    }
    body = plugin.put("/patients/dl-100", {"city": "Berlin"}).json()
    assert (body["applied"], body["to_doctolib"]) == ([], [])
    assert _stammdaten(patient) == before  # phones and e-mail, left out, stay
    assert patient.history.count() == history
    assert plugin.get("/changes").json()["changes"] == []


def test_put_lists_only_changed_fields_in_the_contract_order(plugin):
    _linked_anna(plugin)
    body = plugin.put(
        "/patients/dl-100",
        {
            "city": "Bonn",  # queued
            "street": "Seeweg 1",  # equal
            "email": "neu@example.org",  # applied
            "landline_phone": "030 1234567",  # applied
            "birth_date": "1980-02-03",  # equal
            "first_name": "Anne",  # queued
            "mobile_phone": "+49 171 1234567",  # equal in E.164
            "salutation": "female",  # equal
        },
    ).json()
    assert body["applied"] == ["landline_phone", "email"]
    assert body["to_doctolib"] == ["first_name", "city"]


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0171 1234567", "+491711234567"),
        ("0049 (30) 1234567", "+49301234567"),
        ("030/1234567", "+49301234567"),
        ("+43 664 1234567", "+436641234567"),
    ],
)
@pytest.mark.parametrize("field", ["mobile_phone", "landline_phone"])
def test_put_stores_phones_in_e164(plugin, field, raw, e164):
    patient = _linked_anna(plugin, mobile_phone=None)
    assert plugin.put("/patients/dl-100", {field: raw}).json()["applied"] == [field]
    patient.refresh_from_db()
    assert getattr(patient, field) == e164
    assert plugin.get("/patients/dl-100").json()["fields"][field] == e164


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mobile_phone", "0171 12345678901234"),
        ("landline_phone", "+49 1"),
        ("mobile_phone", "abc"),
        ("email", "nope"),
        ("email", "anna@"),
        ("email", "a b@example.org"),
    ],
)
def test_put_invalid_phone_or_email_is_422_on_that_field(plugin, field, value):
    patient = _linked_anna(plugin)
    before = _stammdaten(patient)
    body = assert_problem(
        plugin.put("/patients/dl-100", {field: value, "city": None}), 422, "validation_error"
    )
    assert list(body["errors"]) == [field]
    assert _stammdaten(patient) == before


def test_put_is_in_the_records_history_with_the_doctolib_sync_as_actor(plugin, api):
    patient = _linked_anna(plugin)
    plugin.put("/patients/dl-100", {"mobile_phone": "0151 2345678", "first_name": "Anne"})
    newest = api.get(f"/api/v1/patients/{patient.public_id}/history/").json()[0]
    assert newest["actor"] == "Doctolib-Sync"
    assert newest["changes"] == [
        {"field": "mobile_phone", "label": "Mobil", "old": "+491711234567", "new": "+491512345678"}
    ]


def test_the_zipper_api_keeps_creating_and_its_sync_log_names_the_duplicate(plugin, organisation):
    """A likely duplicate (staff-api.md 1.1, "Duplicates") does not stop a take-in."""
    existing = PatientFactory(
        organisation=organisation,
        first_name="Dörte",
        last_name="Müller",
        birth_date=date(1980, 2, 3),
    )
    body = {
        "doctolib_patient_id": "dl-900",
        "first_name": "Dörte",
        "last_name": "Müller",
        "birth_date": "1980-02-03",
    }

    response = plugin.post("/patients", body)

    assert response.status_code == 201, response.content
    entry = SyncLogEntry.objects.get(doctolib_patient_id="dl-900")
    assert f"Mögliche Dublette von Akte {existing.public_id}." in entry.detail
