"""Akten pages in a real Chromium: the linked record's read-only Doctolib fields and
its two Doctolib actions (with the fake Zipper plugin, and disabled with a hint
without it), the Doctolib icon's warning step, search as you type, linking a
Doctolib patient from the contract's link_url, deleting with a confirm step."""

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from appointments.models import Appointment
from doctolib_bridge.fields import doctolib_led_fields_for
from doctolib_bridge.models import ChangeFeedEntry
from patients.models import Patient
from tests.factories import CalendarColumnFactory, PatientFactory

pytestmark = pytest.mark.django_db(transaction=True)

LED_HINT = "Diese Felder führt Doctolib; Änderungen bitte in Doctolib vornehmen."


@pytest.fixture
def patient(organisation):
    return PatientFactory(
        organisation=organisation,
        first_name="Anna",
        last_name="Müller",
        birth_date=date(1980, 2, 1),
        mobile_phone="+491711234567",
        city="Berlin",
    )


@pytest.fixture
def linked(organisation):
    return PatientFactory(
        organisation=organisation,
        first_name="Bernd",
        last_name="Brandt",
        mobile_phone="+491711111111",
        email="bernd@example.org",
        sync_to_doctolib=True,
        doctolib_patient_id="dl-42",
    )


@pytest.fixture
def no_native_dialogs():
    """The pages ask in the page, never with window.confirm/alert."""

    def guard(page):
        page.on("dialog", lambda dialog: pytest.fail(f"native dialog: {dialog.message}"))
        return page

    return guard


def test_linked_record_doctolib_fields_are_read_only_and_actions_reach_the_plugin(
    zipper_page, logged_in, admin_user, linked
):
    page = logged_in(zipper_page, admin_user)
    page.goto(f"/akten/{linked.public_id}/")

    led = doctolib_led_fields_for(linked)
    assert led
    for name in led:
        field = page.locator(f'input[name="{name}"]')
        expect(field).not_to_be_editable()
        expect(field).to_have_accessible_description(LED_HINT)
    expect(page.get_by_role("region", name="Stammdaten").get_by_label("Ort")).to_be_editable()

    history = page.get_by_role("button", name="Terminverlauf in Doctolib öffnen")
    book = page.get_by_role("button", name="Termin in Doctolib vergeben")
    expect(history).to_be_enabled()
    expect(book).to_be_enabled()
    expect(page.locator("#zipper-hint")).to_be_hidden()
    history.click()
    book.click()
    page.wait_for_function("window.__zipper.actions.length === 2")
    assert page.evaluate("window.__zipper.actions") == [
        {"source": "lemniscus", "type": "doctolib.open_history", "doctolib_patient_id": "dl-42"},
        {
            "source": "lemniscus",
            "type": "doctolib.book_appointment",
            "doctolib_patient_id": "dl-42",
        },
    ]


def test_linked_record_actions_are_disabled_with_a_hint_without_the_plugin(
    page, logged_in, admin_user, linked
):
    page = logged_in(page, admin_user)
    page.goto(f"/akten/{linked.public_id}/")
    hint = page.locator("#zipper-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Das Doctolib-Plugin „Zipper“ antwortet nicht")
    for name in ("Terminverlauf in Doctolib öffnen", "Termin in Doctolib vergeben"):
        button = page.get_by_role("button", name=name)
        expect(button).to_be_disabled()
        expect(button).to_have_accessible_description(re.compile("antwortet nicht"))


def test_saving_a_linked_record_keeps_the_doctolib_led_fields(page, logged_in, admin_user, linked):
    page = logged_in(page, admin_user)
    page.goto(f"/akten/{linked.public_id}/")
    page.get_by_role("region", name="Stammdaten").get_by_label("Ort").fill("Hamburg")
    page.get_by_role("button", name="Stammdaten speichern").click()
    expect(page.get_by_role("status")).to_contain_text("Die Stammdaten sind gespeichert.")
    linked.refresh_from_db()
    assert linked.city == "Hamburg"
    assert linked.mobile_phone == "+491711111111"
    assert linked.email == "bernd@example.org"


def test_doctolib_icon_warns_in_the_page_then_sends_the_record(
    page, logged_in, admin_user, patient, no_native_dialogs
):
    page = no_native_dialogs(logged_in(page, admin_user))
    page.goto(f"/akten/{patient.public_id}/")
    page.evaluate("window.__samePage = true")

    page.get_by_role("link", name="An Doctolib übertragen").click()
    warning = page.get_by_role("alertdialog", name="Akte an Doctolib übertragen?")
    expect(warning).to_be_visible()
    assert page.evaluate("window.__samePage === true")  # a step in the page, no navigation
    confirm = warning.get_by_role("button", name="Ja, an Doctolib übertragen")
    expect(confirm).to_be_focused()
    patient.refresh_from_db()
    assert not patient.sync_to_doctolib
    assert not ChangeFeedEntry.objects.exists()

    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Die Akte wird an Doctolib übertragen")
    expect(page.get_by_text("Wird an Doctolib übertragen", exact=True)).to_be_visible()
    patient.refresh_from_db()
    assert patient.sync_to_doctolib
    assert ChangeFeedEntry.objects.filter(patient=patient).count() == 1


def test_doctolib_icon_warning_can_be_cancelled(page, logged_in, admin_user, patient):
    page = logged_in(page, admin_user)
    page.goto(f"/akten/{patient.public_id}/")
    page.get_by_role("link", name="An Doctolib übertragen").click()
    page.get_by_role("alertdialog").get_by_role("link", name="Abbrechen").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    patient.refresh_from_db()
    assert not patient.sync_to_doctolib


def test_search_as_you_type(page, logged_in, admin_user, patient, organisation):
    PatientFactory(
        organisation=organisation,
        last_name="Schmidt",
        first_name="Sven",
        birth_date=date(1990, 5, 6),
        landline_phone="+49301234567",
    )
    page = logged_in(page, admin_user)
    page.goto("/akten/")
    page.evaluate("window.__samePage = true")
    results = page.locator("#akten-ergebnisse tbody tr")
    expect(results).to_have_count(2)
    search = page.get_by_label("Akte suchen")

    for term, name in [
        ("mül", "Müller, Anna"),
        ("06.05.1990", "Schmidt, Sven"),
        ("030 1234", "Schmidt, Sven"),
        ("MUELLER", "Müller, Anna"),
    ]:
        search.fill(term)
        expect(results).to_have_count(1)
        expect(results.first).to_contain_text(name)
    search.fill("Zander")
    expect(page.get_by_text("Keine Akte passt zu „Zander“.")).to_be_visible()
    assert page.evaluate("window.__samePage === true")  # no page load while typing
    expect(page).to_have_url(re.compile(r"/akten/\?q=Zander$"))

    page.get_by_role("link", name="Neue Akte").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Neue Akte")


def test_linking_a_doctolib_patient_to_an_existing_record_from_the_link_url(
    page, logged_in, admin_user, patient, organisation
):
    PatientFactory(organisation=organisation, last_name="Müllerschön", first_name="Zora")
    page = logged_in(page, admin_user)
    page.goto("/akten/verknuepfen/?doctolib_patient_id=dl-77")
    expect(page.get_by_role("heading", level=1)).to_have_text("Doctolib-Patient verknüpfen")
    expect(page.locator("main")).to_contain_text("dl-77")

    search = page.get_by_role("search")
    search.get_by_label("Nachname").fill("Müll")
    search.get_by_label("Vorname").fill("Anna")
    rows = page.locator("#vorschlaege tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Müller, Anna")
    rows.first.get_by_role("button", name="Mit dieser Akte verknüpfen").click()

    expect(page).to_have_url(re.compile(rf"/akten/{patient.public_id}/$"))
    expect(page.get_by_role("status")).to_contain_text(
        "ist mit dem Doctolib-Patienten dl-77 verknüpft"
    )
    expect(page.get_by_text("Mit Doctolib verknüpft · dl-77")).to_be_visible()
    patient.refresh_from_db()
    assert patient.doctolib_patient_id == "dl-77"
    assert patient.sync_to_doctolib
    assert Patient.objects.count() == 2


def test_deleting_a_record_asks_in_the_page_first(
    page, logged_in, admin_user, patient, no_native_dialogs
):
    page = no_native_dialogs(logged_in(page, admin_user))
    page.goto(f"/akten/{patient.public_id}/")
    page.get_by_role("link", name="Akte löschen …").click()
    warning = page.get_by_role("alertdialog", name="Akte endgültig löschen?")
    expect(warning.get_by_role("link", name="Abbrechen")).to_be_focused()
    assert Patient.objects.filter(pk=patient.pk).exists()
    warning.get_by_role("button", name="Ja, Akte löschen").click()
    expect(page).to_have_url(re.compile(r"/akten/$"))
    expect(page.get_by_role("status")).to_contain_text("Die Akte „Müller, Anna“ ist gelöscht.")
    assert not Patient.objects.filter(pk=patient.pk).exists()


def test_a_likely_duplicate_is_shown_and_asked_about_before_saving(
    page, logged_in, admin_user, patient
):
    """The same person typed in again (same name and birth date, other spelling)."""
    logged_in(page, admin_user).goto("/akten/neu/")
    page.get_by_label("Vorname").fill("ANNA")
    page.get_by_label("Nachname").fill("Mueller")
    page.get_by_label("Geburtsdatum").fill("1980-02-01")
    page.get_by_role("button", name="Akte anlegen").click()

    warning = page.get_by_role("alertdialog", name="Gibt es diese Person schon?")
    expect(warning.get_by_role("link", name="Müller, Anna")).to_be_visible()
    expect(warning).to_contain_text("geb. 01.02.1980")
    assert Patient.objects.count() == 1
    page.get_by_role("button", name="Trotzdem neue Akte anlegen").click()

    expect(page.get_by_role("status")).to_contain_text("Die Akte ist angelegt.")
    assert Patient.objects.count() == 2


def test_archiving_asks_in_the_page_first_and_the_record_becomes_read_only(
    page, logged_in, admin_user, patient, no_native_dialogs
):
    page = no_native_dialogs(logged_in(page, admin_user))
    page.goto(f"/akten/{patient.public_id}/")
    page.get_by_role("link", name="Akte archivieren …").click()
    warning = page.get_by_role("alertdialog", name="Akte archivieren?")
    expect(warning.get_by_role("link", name="Abbrechen")).to_be_focused()
    warning.get_by_role("button", name="Ja, Akte archivieren").click()

    expect(page.get_by_role("status").first).to_contain_text("archiviert")
    expect(page.get_by_role("button", name="Stammdaten speichern")).to_have_count(0)
    page.goto("/akten/?q=Müller")
    expect(page.locator("#akten-ergebnisse")).not_to_contain_text("Müller, Anna")
    page.get_by_label("Archivierte zeigen").check()
    expect(page.locator("#akten-ergebnisse")).to_contain_text("archiviert")


def test_the_record_is_the_hub_new_appointment_for_this_patient(
    page, logged_in, admin_user, patient, organisation
):
    CalendarColumnFactory(organisation=organisation, name="Jana Weber")
    logged_in(page, admin_user).goto(f"/akten/{patient.public_id}/")
    expect(page.get_by_role("region", name="Nächste Termine")).to_contain_text(
        "Keine kommenden Termine."
    )

    page.get_by_role("link", name="Neuer Termin").click()
    expect(page.get_by_label("Akte", exact=True)).to_have_value(str(patient.public_id))
    page.get_by_role("button", name="Termin anlegen", exact=True).last.click()

    expect(page.get_by_role("status")).to_contain_text("für Müller, Anna angelegt")
    appointment = Appointment.objects.get(patient=patient)
    page.goto(f"/akten/{patient.public_id}/")
    listed = page.get_by_role("region", name="Vergangene Termine").or_(
        page.get_by_role("region", name="Nächste Termine")
    )
    expect(listed.get_by_role("link").first).to_have_attribute(
        "href", f"/termine/{appointment.public_id}/"
    )
