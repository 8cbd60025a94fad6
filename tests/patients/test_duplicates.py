"""staff-api.md 1.1, "Duplicates", through all three entry points: the staff API asks
(409 possible_duplicate), the page shows them and asks; the Zipper API keeps creating
and its sync log names the likely duplicate (tests/zipper/test_patients.py)."""

import re
from datetime import date

import pytest

from patients.models import Patient
from tests.conftest import assert_problem
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


@pytest.fixture
def existing(organisation):
    return PatientFactory(
        organisation=organisation,
        first_name="Dörte",
        last_name="Müller",
        birth_date=date(1980, 2, 3),
        mobile_phone="+491711234567",
        email="doerte@example.org",
    )


@pytest.mark.parametrize(
    "body",
    [
        # the same folded first and last name and birth date
        {"first_name": "DOERTE", "last_name": "mueller", "birth_date": "1980-02-03"},
        {"first_name": "Dörte", "last_name": "Müller", "birth_date": "1980-02-03"},
        # the same mobile phone, however it is typed
        {"last_name": "Anders", "mobile_phone": "0171 1234567"},
        # the same e-mail, whatever the case
        {"last_name": "Anders", "email": "Doerte@Example.org"},
    ],
    ids=["folded-name-and-birth-date", "same-name-and-birth-date", "mobile", "email"],
)
def test_a_likely_duplicate_is_409_naming_it_and_nothing_is_created(api, existing, body):
    response = api.post(URL, body, format="json")

    assert_problem(response, 409, "possible_duplicate")
    assert response.json()["duplicates"] == [str(existing.public_id)]
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "Dörte", "last_name": "Müller", "birth_date": "1980-02-04"},
        {"first_name": "Doris", "last_name": "Müller", "birth_date": "1980-02-03"},
        {"first_name": "Dörte", "last_name": "Müller"},  # no birth date to compare
        {"last_name": "Anders", "mobile_phone": "0171 7654321", "email": "x@example.org"},
    ],
)
def test_what_is_not_alike_is_created(api, existing, body):
    assert api.post(URL, body, format="json").status_code == 201


def test_confirm_duplicate_creates_it_anyway(api, existing):
    body = {"first_name": "Dörte", "last_name": "Müller", "birth_date": "1980-02-03"}

    response = api.post(URL, {**body, "confirm_duplicate": True}, format="json")

    assert response.status_code == 201, response.content
    assert "confirm_duplicate" not in response.json()
    assert Patient.objects.count() == 2


def test_another_organisations_record_is_no_duplicate(api, other_organisation):
    PatientFactory(organisation=other_organisation, mobile_phone="+491711234567")

    response = api.post(URL, {"last_name": "Anders", "mobile_phone": "0171 1234567"}, format="json")

    assert response.status_code == 201


def test_the_page_shows_the_likely_duplicates_and_asks_before_saving(client, admin_user, existing):
    client.force_login(admin_user)
    form = {"salutation": "female", "first_name": "Dörte", "last_name": "Müller"}
    form |= {"birth_date": "03.02.1980"}

    first = client.post("/akten/neu/", form)

    page = first.content.decode()
    assert first.status_code == 200
    assert "Gibt es diese Person schon?" in page
    assert f'href="/akten/{existing.public_id}/"' in page and "geb. 03.02.1980" in page
    assert "Trotzdem neue Akte anlegen" in page
    assert Patient.objects.count() == 1

    second = client.post("/akten/neu/", {**form, "confirm_duplicate": "1"})

    assert second.status_code == 302
    assert Patient.objects.count() == 2


# Consent to e-mail reminders (issue 11, "GDPR details")


@pytest.mark.parametrize("default", [True, False])
def test_a_new_record_takes_the_practices_reminder_consent_default(api, organisation, default):
    assert (
        api.patch("/api/v1/practice/", {"reminder_consent_default": default}, format="json").json()[
            "reminder_consent_default"
        ]
        is default
    )

    created = api.post(URL, {"last_name": "Neu"}, format="json").json()
    explicit = api.post(
        URL, {"last_name": "Anders", "reminder_consent": not default}, format="json"
    ).json()

    assert created["reminder_consent"] is default
    assert explicit["reminder_consent"] is (not default)


def test_the_new_record_page_starts_with_the_practices_default(client, admin_user, organisation):
    organisation.reminder_consent_default = True
    organisation.save()
    client.force_login(admin_user)

    page = client.get("/akten/neu/").content.decode()

    assert re.search(r'<input type="checkbox" name="reminder_consent"[^>]* checked>', page)
