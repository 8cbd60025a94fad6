"""Failed logins per client address (issue 12): spraying e-mail addresses from one
address is stopped after 30 failures in 15 minutes, on the staff login and the
admin's; other addresses log in as before."""

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SPRAYER = "203.0.113.9"


def _try(client: Client, email: str, password: str = "falsch", path: str = "/anmelden/"):
    return client.post(path, {"username": email, "password": password})


def test_thirty_failures_from_one_address_lock_its_logins(organisation):
    UserFactory(organisation=organisation, email="anna@praxis.test")
    sprayer = Client(REMOTE_ADDR=SPRAYER)

    tries = [_try(sprayer, f"person{n}@praxis.test") for n in range(30)]
    locked = _try(sprayer, "anna@praxis.test", "geheim-123")
    admin = _try(sprayer, "anna@praxis.test", "geheim-123", "/admin/login/")

    assert {response.status_code for response in tries} == {200}  # the form again
    assert locked.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in locked.content.decode()
    assert 1 <= int(locked["Retry-After"]) <= 900
    assert admin.status_code == 429
    # the practice next door logs in
    other = Client(REMOTE_ADDR="198.51.100.20")
    assert _try(other, "anna@praxis.test", "geheim-123").status_code == 302


def test_a_few_typos_of_a_whole_team_behind_one_address_do_not_lock(organisation):
    UserFactory(organisation=organisation, email="anna@praxis.test")
    office = Client(REMOTE_ADDR=SPRAYER)
    for n in range(29):
        _try(office, f"kollege{n % 6}@praxis.test")

    assert _try(office, "anna@praxis.test", "geheim-123").status_code == 302
