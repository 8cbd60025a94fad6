"""Opening hours and closed dates as practice settings (issue 13): their shape in the
staff API, the German refusals that change nothing, and what the demo carries."""

from datetime import date

import pytest

from organisations.opening_hours import default_opening_hours, intervals_on
from tests.conftest import assert_problem, token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PRACTICE = "/api/v1/practice/"


def test_new_practices_open_monday_to_friday(organisation):
    assert organisation.opening_hours == default_opening_hours()
    assert organisation.opening_hours["mon"] == [["08:00", "18:00"]]
    assert organisation.opening_hours["sat"] == organisation.opening_hours["sun"] == []


def test_opening_hours_are_read_and_set_sorted_through_the_api(api, organisation):
    assert api.get(PRACTICE).json()["opening_hours"] == default_opening_hours()
    hours = {"mon": [["13:30", "19:00"], ["07:30", "12:30"]], "sat": [["09:00", "13:00"]]}
    response = api.patch(
        PRACTICE,
        {"opening_hours": hours, "closed_dates": ["2026-12-31", "2026-12-24"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["opening_hours"]["mon"] == [["07:30", "12:30"], ["13:30", "19:00"]]
    assert data["opening_hours"]["sat"] == [["09:00", "13:00"]]
    assert data["opening_hours"]["tue"] == []  # a day left out is closed
    assert data["closed_dates"] == ["2026-12-24", "2026-12-31"]
    organisation.refresh_from_db()
    assert intervals_on(organisation, date(2026, 12, 24)) == []  # closed date
    assert len(intervals_on(organisation, date(2026, 12, 21))) == 2  # a Monday


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        ({"mon": [["18:00", "08:00"]]}, "Montag: das Ende muss nach dem Beginn liegen."),
        ({"mon": [["08:00", "12:00"], ["11:00", "13:00"]]}, "überschneiden sich"),
        ({"mon": [["8 Uhr", "12:00"]]}, "keine Uhrzeit"),
        ({"montag": [["08:00", "12:00"]]}, "Unbekannte Wochentage: montag"),
        ({"mon": "08:00-12:00"}, "als Liste"),
        (["08:00"], "ein Objekt mit den Wochentagen"),
    ],
)
def test_wrong_opening_hours_are_422_in_german_and_change_nothing(api, organisation, hours, text):
    before = organisation.opening_hours
    problem = assert_problem(
        api.patch(PRACTICE, {"opening_hours": hours}, format="json"), 422, "validation_error"
    )
    assert any(text in message for message in problem["errors"]["opening_hours"]), problem
    organisation.refresh_from_db()
    assert organisation.opening_hours == before


def test_a_wrong_closed_date_is_422(api):
    problem = assert_problem(
        api.patch(PRACTICE, {"closed_dates": ["24.12."]}, format="json"), 422, "validation_error"
    )
    assert problem["errors"] == {
        "closed_dates.0": [
            "Das Datum hat das falsche Format. Bitte verwenden Sie eines dieser Formate: "
            "YYYY-MM-DD."
        ]
    }


def test_only_admins_change_the_hours(organisation):
    staff = token_client(UserFactory(organisation=organisation, role="staff"))
    assert_problem(
        staff.patch(PRACTICE, {"opening_hours": {}}, format="json"), 403, "permission_denied"
    )
