"""staff-api.md 1.1, "Search", with each example of issue 11: several words in any
order, with or without a comma; the start of any word of the name; umlauts as "o" and
"oe"; TT.MM.JJ dates; digits of phone numbers. Through the staff API, the Akten page
and the Kalender's patient search alike (one selector)."""

from datetime import date

import pytest

from patients.selectors import parse_search_date, patient_list
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"


@pytest.fixture
def people(organisation):
    def make(first, last, **fields):
        return PatientFactory(organisation=organisation, first_name=first, last_name=last, **fields)

    return {
        "felix": make("Felix", "Bauer", birth_date=date(1990, 5, 1)),
        "max": make("Max", "Bauer", birth_date=date(1985, 1, 1)),
        "buelow": make("Karl", "von Bülow", birth_date=date(1950, 3, 3)),
        "oezdemir": make("Ayşe", "Weiß-Özdemir", birth_date=date(1970, 7, 7)),
        "doerte": make("Dörte", "Hansen", birth_date=date(2008, 11, 18)),
        "strasser": make("Eva", "Straßer", mobile_phone="+491711234567"),
    }


def _found(api, q) -> set[str]:
    response = api.get(URL, {"q": q, "page_size": 100})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _ids(people, *names) -> set[str]:
    return {str(people[name].public_id) for name in names}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Bauer, Felix", ["felix"]),
        ("Bauer Felix", ["felix"]),
        ("Felix Bauer", ["felix"]),
        ("bauer,felix", ["felix"]),
        ("Bauer", ["felix", "max"]),
        ("Bau Fe", ["felix"]),
        ("Bülow", ["buelow"]),
        ("bulow", ["buelow"]),
        ("von", ["buelow"]),
        ("Özdemir", ["oezdemir"]),
        ("ozdemir", ["oezdemir"]),
        ("Weiss", ["oezdemir"]),
        ("Weiß-Özdemir", ["oezdemir"]),
        ("dorte", ["doerte"]),
        ("doerte", ["doerte"]),
        ("Dörte", ["doerte"]),
        ("DÖRTE hansen", ["doerte"]),
        ("strasse", ["strasser"]),
        ("18.11.08", ["doerte"]),
        ("18.11.2008", ["doerte"]),
        ("2008-11-18", ["doerte"]),
        ("Dörte 18.11.08", ["doerte"]),
        ("0171 1234567", ["strasser"]),
        ("1234567", ["strasser"]),
    ],
)
def test_search_finds_names_as_people_type_them(api, people, q, expected):
    assert _found(api, q) == _ids(people, *expected)


@pytest.mark.parametrize(
    "q", ["Bauer Anna", "Felix Hansen", "lix", "auer", "17.11.08", "Dörte 0172"]
)
def test_every_word_must_match_at_the_start_of_a_word(api, people, q):
    assert _found(api, q) == set()


def test_two_digit_years_up_to_this_year_are_this_century():
    today = date(2026, 12, 2)

    assert parse_search_date("18.11.08", today=today) == date(2008, 11, 18)
    assert parse_search_date("01.02.26", today=today) == date(2026, 2, 1)
    assert parse_search_date("01.02.27", today=today) == date(1927, 2, 1)
    assert parse_search_date("31.02.08", today=today) is None


def test_a_renamed_record_is_found_by_its_new_name(api, people):
    felix = people["felix"]
    response = api.patch(
        f"{URL}{felix.public_id}/", {"last_name": "Bauer-Lindqvist"}, format="json"
    )
    assert response.status_code == 200

    assert _found(api, "Lindqvist Felix") == {str(felix.public_id)}


def test_the_pages_search_alike(client, admin_user, organisation, people):
    client.force_login(admin_user)

    akten = client.get("/akten/", {"q": "Felix Bauer"}).content.decode()
    kalender = client.get("/kalender/akten-suche/", {"q": "Bauer, Felix"}).content.decode()

    assert "Bauer, Felix" in akten and "Bauer, Max" not in akten
    assert "Bauer, Felix" in kalender and "Bauer, Max" not in kalender


def test_the_selector_orders_by_last_then_first_name(organisation, people):
    found = list(patient_list(organisation=organisation, q="bauer"))

    assert [p.first_name for p in found] == ["Felix", "Max"]
