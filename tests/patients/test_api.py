import pytest

from patients.models import Patient
from tests.conftest import assert_problem
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_normalises_phone_and_text(api, organisation):
    response = api.post(
        "/api/v1/patients/",
        {
            "salutation": "female",
            "first_name": "  Zoë ",
            "last_name": "Müller",
            "birth_date": "1980-02-03",
            "mobile_phone": "0171 1234567",
            "email": "Zoe.Mueller@Example.org",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["first_name"] == "Zoë"
    assert body["mobile_phone"] == "+491711234567"
    assert body["email"] == "zoe.mueller@example.org"
    assert body["doctolib_patient_id"] is None
    assert body["doctolib_led_fields"] == []
    assert body["created_at"].endswith("+01:00") or body["created_at"].endswith("+02:00")
    assert Patient.objects.get(public_id=body["id"]).organisation == organisation


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"first_name": "Ohne"}, "last_name"),
        ({"last_name": ""}, "last_name"),
        ({"last_name": "X", "mobile_phone": "abc"}, "mobile_phone"),
        ({"last_name": "X", "landline_phone": "+999 123"}, "landline_phone"),
        ({"last_name": "X", "email": "kein-at"}, "email"),
        ({"last_name": "X", "birth_date": "03.02.1980x"}, "birth_date"),
        ({"last_name": "X", "salutation": "divers"}, "salutation"),
        ({"last_name": ["X"]}, "last_name"),
    ],
)
def test_create_rejects_bad_input(api, payload, field):
    response = api.post("/api/v1/patients/", payload, format="json")
    body = assert_problem(response, 422, "validation_error")
    assert field in body["errors"]
    assert Patient.objects.count() == 0


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/patients/", "{nope", content_type="application/json")
    assert_problem(response, 400, "malformed_request")
    response = api.post("/api/v1/patients/", "[1, 2]", content_type="application/json")
    assert_problem(response, 400, "malformed_request")


def test_search_term_with_a_nul_byte_is_a_422(api, organisation):
    PatientFactory(organisation=organisation, last_name="Müller")

    response = api.get("/api/v1/patients/?q=M%00")

    assert_problem(response, 422, "validation_error")
    assert response.json()["errors"] == {"q": ["Nullzeichen sind nicht erlaubt."]}


def test_search_by_folded_name_birth_date_and_phone(api, organisation):
    mueller = PatientFactory(organisation=organisation, last_name="Müller", first_name="Jörg")
    PatientFactory(organisation=organisation, last_name="Schmidt", first_name="Anna")
    dated = PatientFactory(organisation=organisation, last_name="Zeh", birth_date="1970-05-06")
    phoned = PatientFactory(
        organisation=organisation, last_name="Ott", mobile_phone="+491701112233"
    )

    def ids(q):
        response = api.get("/api/v1/patients/", {"q": q})
        assert response.status_code == 200
        return [row["id"] for row in response.json()["results"]]

    assert ids("MUEL") == [str(mueller.public_id)]
    assert ids("joerg") == [str(mueller.public_id)]
    assert ids("06.05.1970") == [str(dated.public_id)]
    assert ids("1970-05-06") == [str(dated.public_id)]
    assert ids("0170 111") == [str(phoned.public_id)]


def test_list_is_ordered_by_name_and_paginated(api, organisation):
    for name in ["Bauer", "Adler", "Christ"]:
        PatientFactory(organisation=organisation, last_name=name)
    response = api.get("/api/v1/patients/", {"page_size": 2})
    body = response.json()
    assert body["count"] == 3
    assert [r["last_name"] for r in body["results"]] == ["Adler", "Bauer"]
    assert body["next"] and body["previous"] is None


def test_list_query_count_does_not_grow(api, organisation, django_assert_max_num_queries):
    PatientFactory.create_batch(60, organisation=organisation)
    with django_assert_max_num_queries(5):
        small = api.get("/api/v1/patients/", {"page_size": 1})
    with django_assert_max_num_queries(5):
        large = api.get("/api/v1/patients/", {"page_size": 500})
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 60


def test_patch_records_history_with_actor(api, organisation, admin_user):
    patient = PatientFactory(organisation=organisation, city="Berlin")
    response = api.patch(
        f"/api/v1/patients/{patient.public_id}/", {"city": "Hamburg"}, format="json"
    )
    assert response.status_code == 200, response.content
    history = api.get(f"/api/v1/patients/{patient.public_id}/history/").json()
    newest = history[0]
    assert newest["actor"] == admin_user.display_name
    assert {"field": "city", "label": "Ort", "old": "Berlin", "new": "Hamburg"} in newest["changes"]


def test_clearing_checkbox_of_linked_record_is_link_conflict(api, organisation):
    patient = PatientFactory(
        organisation=organisation, sync_to_doctolib=True, doctolib_patient_id="dl-1"
    )
    response = api.patch(
        f"/api/v1/patients/{patient.public_id}/", {"sync_to_doctolib": False}, format="json"
    )
    assert_problem(response, 409, "link_conflict")
    patient.refresh_from_db()
    assert patient.sync_to_doctolib is True
    detail = api.get(f"/api/v1/patients/{patient.public_id}/").json()
    assert detail["doctolib_led_fields"] == ["mobile_phone", "landline_phone", "email"]


def test_other_organisation_record_is_404_and_unchanged(api, other_organisation):
    foreign = PatientFactory(organisation=other_organisation, city="Köln")
    url = f"/api/v1/patients/{foreign.public_id}/"
    assert_problem(api.get(url), 404, "not_found")
    assert_problem(api.patch(url, {"city": "X"}, format="json"), 404, "not_found")
    assert_problem(api.delete(url), 404, "not_found")
    foreign.refresh_from_db()
    assert foreign.city == "Köln"
    assert api.get("/api/v1/patients/").json()["count"] == 0


def test_staff_without_documentation_right_cannot_write(organisation):
    from tests.conftest import token_client

    user = UserFactory(organisation=organisation, role="staff", can_documentation=False)
    client = token_client(user)
    assert client.get("/api/v1/patients/").status_code == 200
    response = client.post("/api/v1/patients/", {"last_name": "X"}, format="json")
    assert_problem(response, 403, "permission_denied")
    assert Patient.objects.count() == 0


def test_delete_without_invoices(api, organisation):
    patient = PatientFactory(organisation=organisation)
    assert api.delete(f"/api/v1/patients/{patient.public_id}/").status_code == 204
    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert patient.history.filter(history_type="-").exists()
