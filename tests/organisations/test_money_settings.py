"""The practice's money settings (staff-api.md 1.1): dunning levels, e-mail signature
and DATEV settings with SKR03 defaults, read and changed through the staff API."""

import pytest

from organisations.money_settings import SKR03_ACCOUNTS, default_dunning_levels
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db

PRACTICE = "/api/v1/practice/"


def test_defaults_are_the_contracts(api):
    data = api.get(PRACTICE).json()
    assert data["dunning_levels"] == default_dunning_levels()
    assert data["dunning_levels"][1] == {
        "level": 2,
        "name": "1. Mahnung",
        "days_after_due": 21,
        "fee": "5.00",
    }
    assert data["datev"]["accounts"] == SKR03_ACCOUNTS
    assert data["datev"]["fiscal_year_start"] == "01-01" and data["datev"]["account_length"] == 4
    assert data["email_signature"] == ""


def test_settings_are_changed_and_normalised(api, organisation):
    levels = [
        {"level": 1, "name": "Erinnerung", "days_after_due": 10, "fee": 0},
        {"level": 2, "name": "Mahnung", "days_after_due": 30, "fee": "2.5"},
    ]
    response = api.patch(
        PRACTICE,
        {
            "dunning_levels": levels,
            "email_signature": "Ihre Praxis am Park",
            "datev": {
                "advisor_number": "1234567",
                "client_number": "42",
                "accounts": {"bank": "1210"},
            },
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["dunning_levels"][1]["fee"] == "2.50"
    assert data["dunning_levels"][0]["fee"] == "0.00"
    assert data["datev"]["accounts"]["bank"] == "1210"
    assert data["datev"]["accounts"]["cash"] == "1000"  # the rest keep their defaults
    assert data["email_signature"] == "Ihre Praxis am Park"


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"dunning_levels": []}, "1 bis 5 Stufen"),
        (
            {"dunning_levels": [{"level": 1, "name": "A", "days_after_due": 9, "fee": "1"},
                                {"level": 2, "name": "B", "days_after_due": 9, "fee": "1"}]},
            "später als die vorige",
        ),
        (
            {"dunning_levels": [{"level": 1, "name": "A", "days_after_due": 9, "fee": "-1"}]},
            "Betrag",
        ),
        ({"datev": {"advisor_number": "12ab"}}, "Beraternummer"),
        ({"datev": {"fiscal_year_start": "13-01"}}, "Wirtschaftsjahres"),
        ({"datev": {"accounts": {"bank": "123456789"}}}, "Konto bank"),
        ({"datev": {"konto": 1}}, "Unbekannte DATEV-Angaben"),
    ],
)  # fmt: skip
def test_wrong_settings_are_422_and_change_nothing(api, organisation, change, text):
    before = api.get(PRACTICE).json()
    problem = assert_problem(api.patch(PRACTICE, change, format="json"), 422, "validation_error")
    field = next(iter(change))
    assert any(text in message for message in problem["errors"][field]), problem
    assert api.get(PRACTICE).json() == before
