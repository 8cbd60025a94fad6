import re

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "geheim-123"


@pytest.fixture
def staff(organisation):
    return UserFactory(organisation=organisation, email="anna@praxis.test", first_name="Anna")


def test_login_and_logout(page, staff):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/anmelden/\?next=/$"))
    page.get_by_label("E-Mail").fill("anna@praxis.test")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Anna")
    page.get_by_role("button", name="Abmelden").click()
    expect(page).to_have_url(re.compile(r"/anmelden/$"))


def test_wrong_password_says_so_in_german(page, staff):
    page.goto("/anmelden/")
    page.get_by_label("E-Mail").fill("anna@praxis.test")
    page.get_by_label("Passwort").fill("falsch")
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("alert")).to_contain_text("E-Mail oder Passwort stimmen nicht.")


@pytest.mark.throttling
def test_failed_logins_are_throttled(page, staff):
    for _ in range(5):
        page.goto("/anmelden/")
        page.get_by_label("E-Mail").fill("anna@praxis.test")
        page.get_by_label("Passwort").fill("falsch")
        page.get_by_role("button", name="Anmelden").click()
    page.goto("/anmelden/")
    page.get_by_label("E-Mail").fill("anna@praxis.test")
    page.get_by_label("Passwort").fill(PASSWORD)  # even the right password now
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Zu viele fehlgeschlagene Anmeldungen"
    )


def test_password_reset_mail_links_to_public_base_url(page, staff, mailoutbox, settings):
    settings.PUBLIC_BASE_URL = "https://praxis.example"
    page.goto("/passwort/vergessen/")
    page.get_by_label("E-Mail").fill("anna@praxis.test")
    page.get_by_role("button", name="Link schicken").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("E-Mail verschickt")
    assert len(mailoutbox) == 1
    assert "https://praxis.example/passwort/neu/" in mailoutbox[0].body
