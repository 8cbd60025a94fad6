"""A session expiring while staff type (issue 13), in a real Chromium: the form sent
into an expired session leads to a login that says so and back to the form with the
typed text, the live search of an expired session shows the login prompt and never
the login page, and a session that runs out on its own is announced in the page."""

import re

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from patients.models import Patient
from tests.factories import CalendarColumnFactory, PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "geheim-123"  # tests.factories.UserFactory
NOTICE = (
    "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an; Ihre Eingaben bleiben erhalten."
)
NOTE = "Die Patientin wünscht Termine nur vormittags; Rückruf unter der Festnetznummer."


@pytest.fixture
def patient(organisation):
    return PatientFactory(
        organisation=organisation, first_name="Anna", last_name="Müller", city="Berlin"
    )


def log_in_again(page, user):
    page.get_by_label("E-Mail").fill(user.email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()


def stored_input(page) -> str | None:
    return page.evaluate("window.sessionStorage.getItem('lemniscus.sitzung.eingaben')")


def test_a_session_expiring_while_typing_keeps_the_typed_text(page, logged_in, admin_user, patient):
    logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    stammdaten = page.get_by_role("region", name="Stammdaten")
    stammdaten.get_by_label("Ort").fill("Potsdam")
    stammdaten.get_by_label("Notizen").fill(NOTE)

    Session.objects.all().delete()  # the session ends while the form is open
    stammdaten.get_by_role("button", name="Stammdaten speichern").click()

    expect(page).to_have_url(re.compile(r"/anmelden/\?abgelaufen=1&next="))
    expect(page.get_by_role("status")).to_have_text(NOTICE)
    assert "csrfmiddlewaretoken" not in stored_input(page)
    log_in_again(page, admin_user)

    expect(page).to_have_url(re.compile(rf"/akten/{patient.public_id}/$"))
    stammdaten = page.get_by_role("region", name="Stammdaten")
    expect(stammdaten.get_by_label("Notizen")).to_have_value(NOTE)
    expect(stammdaten.get_by_label("Ort")).to_have_value("Potsdam")
    expect(stammdaten.get_by_role("status")).to_contain_text("noch nicht gespeichert")
    patient.refresh_from_db()
    assert (patient.city, patient.notes) == ("Berlin", "")  # restored, not sent
    assert stored_input(page) is None  # used once

    page.reload()  # a second visit restores nothing
    expect(page.get_by_role("region", name="Stammdaten").get_by_label("Notizen")).to_have_value("")

    stammdaten = page.get_by_role("region", name="Stammdaten")
    stammdaten.get_by_label("Notizen").fill(NOTE)
    stammdaten.get_by_role("button", name="Stammdaten speichern").click()
    expect(page.get_by_role("status").first).to_contain_text("gespeichert")
    assert Patient.objects.get(pk=patient.pk).notes == NOTE
    assert stored_input(page) is None  # a form sent normally leaves nothing behind


def test_live_search_of_an_expired_session_shows_the_login_prompt_not_the_login_page(
    page, logged_in, admin_user, organisation
):
    CalendarColumnFactory(organisation=organisation, name="Raum 1")
    PatientFactory(organisation=organisation, first_name="Max", last_name="Mustermann")
    logged_in(page, admin_user)
    page.goto("/kalender/neu/")
    search = page.get_by_label("Akte suchen")
    search.fill("Muster")
    expect(page.get_by_label("Akte", exact=True)).to_contain_text("Mustermann")
    options_before = page.get_by_label("Akte", exact=True).inner_html()

    Session.objects.all().delete()
    search.fill("Mustermann")

    dialog = page.get_by_role("alertdialog", name="Ihre Sitzung ist abgelaufen")
    expect(dialog).to_be_visible()
    assert page.get_by_label("Akte", exact=True).inner_html() == options_before
    assert page.locator("form[data-sitzung-anmeldung]").count() == 0
    expect(page.get_by_label("Passwort")).to_have_count(0)

    dialog.get_by_role("button", name="Erneut anmelden").click()
    expect(page).to_have_url(re.compile(r"/anmelden/\?abgelaufen=1&next=%2Fkalender%2Fneu%2F"))
    log_in_again(page, admin_user)
    expect(page).to_have_url(re.compile(r"/kalender/neu/$"))
    expect(page.get_by_label("Akte suchen")).to_have_value("Mustermann")


def test_a_session_running_out_on_its_own_is_announced(
    page, logged_in, admin_user, patient, settings
):
    settings.SESSION_COOKIE_AGE = 4  # seconds: the idle timeout, made short
    logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    assert page.locator("body").get_attribute("data-sitzung-sekunden") in ("3", "4")
    stammdaten = page.get_by_role("region", name="Stammdaten")
    stammdaten.get_by_label("Notizen").fill(NOTE)

    dialog = page.get_by_role("alertdialog", name="Ihre Sitzung ist abgelaufen")
    expect(dialog).to_be_visible(timeout=15_000)
    dialog.get_by_role("button", name="Erneut anmelden").click()

    expect(page.get_by_role("status")).to_have_text(NOTICE)
    log_in_again(page, admin_user)
    expect(page.get_by_role("region", name="Stammdaten").get_by_label("Notizen")).to_have_value(
        NOTE
    )


def test_a_session_kept_alive_in_another_tab_is_announced_only_when_it_ends(
    page, logged_in, admin_user, patient, settings
):
    """The countdown runs out, but the server says the session is still there (another
    tab used it): no prompt yet; the countdown starts again with the time left."""
    settings.SESSION_COOKIE_AGE = 4
    logged_in(page, admin_user)
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/sitzung/status/" in r.url else None)
    page.goto(f"/akten/{patient.public_id}/")
    page.wait_for_timeout(2_000)
    assert page.request.get("/akten/").ok  # another tab of the same browser: 4 s more

    page.wait_for_timeout(3_000)  # the first countdown has run out
    assert asked, "the page did not ask the server when its countdown ran out"
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    expect(page.get_by_role("alertdialog", name="Ihre Sitzung ist abgelaufen")).to_be_visible(
        timeout=10_000
    )


def test_logging_out_drops_kept_input(page, logged_in, admin_user, patient):
    logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    page.evaluate(
        "window.sessionStorage.setItem('lemniscus.sitzung.eingaben', "
        "JSON.stringify({seite: location.pathname, wartet: true, zeit: Date.now(), formulare: []}))"
    )
    page.get_by_role("button", name="Abmelden").click()
    expect(page).to_have_url(re.compile(r"/anmelden/$"))
    assert stored_input(page) is None
