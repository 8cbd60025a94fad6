"""The transfer dialog in a real Chromium, from a transfer staged through the Zipper
API with the organisation's Doctolib token: saving it and finding it in the
calendar, linking an unlinked patient from the dialog (on the linking page, which
comes back), "Patientenakte öffnen" transferring nothing, and the close button."""

import re

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from appointments.models import Appointment, AppointmentSource
from doctolib_bridge.models import Transfer
from tests.factories import PatientFactory, ServiceChainFactory
from tokens.models import TokenKind
from tokens.services import token_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def plugin(organisation, settings, live_server) -> APIClient:
    """The Zipper plugin's side: the Zipper API with the Doctolib token; the answers'
    URLs point at the live server."""
    settings.PUBLIC_BASE_URL = live_server.url
    _, raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def stage(plugin, doctolib_patient_id: str = "dp-1") -> str:
    """ "Termin in lemniscus öffnen" in Doctolib: the dialog's URL."""
    response = plugin.post(
        "/api/zipper/v1/transfers",
        {
            "doctolib_appointment_id": "da-1",
            "doctolib_patient_id": doctolib_patient_id,
            "agenda": {"id": "ag-1", "name": "Frau Weber"},
            "visit_motive": {"name": "Osteopathie", "sync_id": None},
            "start": "2026-03-02T09:00:00+01:00",
            "duration_minutes": 45,
            "note": "Knie links",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["dialog_url"]


@pytest.fixture
def osteo(organisation):
    return ServiceChainFactory(organisation=organisation, description="Osteopathie")


def test_staged_transfer_is_saved_and_shown_in_the_calendar(
    page, logged_in, admin_user, organisation, plugin, osteo
):
    PatientFactory(
        organisation=organisation,
        last_name="Weber",
        first_name="Jonas",
        doctolib_patient_id="dp-1",
        sync_to_doctolib=True,
    )
    dialog_url = stage(plugin)
    logged_in(page, admin_user)
    page.goto(dialog_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Termin aus Doctolib übernehmen")
    expect(page.get_by_text("Speichern legt den Termin in lemniscus neu an")).to_be_visible()
    expect(page.get_by_text("wird neu angelegt")).to_be_visible()
    page.get_by_role("button", name="Termin in lemniscus speichern").click()

    expect(page.get_by_role("status").first).to_have_text(
        "Der Termin wurde in lemniscus gespeichert."
    )
    saved = Appointment.objects.get()
    assert saved.source == AppointmentSource.DOCTOLIB and saved.service_chain == osteo
    expect(page.get_by_role("link", name="Termin bearbeiten")).to_have_attribute(
        "href", f"/termine/{saved.public_id}/"
    )
    expect(page.get_by_role("button", name="Termin in lemniscus speichern")).to_have_count(0)
    page.get_by_role("link", name="Im Kalender anzeigen").click()

    expect(page).to_have_url(re.compile(r"/kalender/\?datum=2026-03-02&spalte="))
    block = page.get_by_role("link", name=re.compile(r"^09:00 Weber, Jonas"))
    expect(block).to_contain_text("Osteopathie · 45 Min.")
    expect(block).to_contain_text("aus Doctolib")
    block.click()
    expect(page.get_by_role("region", name="Bearbeiten")).to_contain_text(
        "bitte in Doctolib vornehmen"
    )


def test_linking_from_the_dialog_then_saving(
    page, logged_in, admin_user, organisation, plugin, osteo
):
    record = PatientFactory(organisation=organisation, last_name="Weber", first_name="Jonas")
    dialog_url = stage(plugin, doctolib_patient_id="dp-7")
    logged_in(page, admin_user)
    page.goto(dialog_url)
    expect(page.get_by_text("nicht verknüpft", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Termin in lemniscus speichern")).to_have_count(0)
    page.get_by_role("link", name="Akte verknüpfen").click()

    expect(page).to_have_url(re.compile(r"/akten/verknuepfen/\?doctolib_patient_id=dp-7&next="))
    search = page.get_by_role("region", name="Vorschlags-Patient suchen")
    search.get_by_label("Nachname").fill("Weber")
    search.get_by_role("button", name="Mit dieser Akte verknüpfen: Weber, Jonas").click()

    expect(page).to_have_url(dialog_url)
    expect(page.get_by_text("Weber, Jonas verknüpft")).to_be_visible()
    page.get_by_role("button", name="Termin in lemniscus speichern").click()
    expect(page.get_by_role("link", name="Termin bearbeiten")).to_be_visible()
    assert Appointment.objects.get().patient == record


def test_open_record_transfers_nothing(page, logged_in, admin_user, organisation, plugin):
    record = PatientFactory(
        organisation=organisation, last_name="Weber", doctolib_patient_id="dp-1",
        sync_to_doctolib=True,
    )  # fmt: skip
    dialog_url = stage(plugin)
    logged_in(page, admin_user)
    page.goto(dialog_url)
    page.get_by_role("link", name="Patientenakte öffnen").click()
    expect(page).to_have_url(re.compile(f"/akten/{record.public_id}/$"))
    assert not Appointment.objects.exists()
    assert Transfer.objects.get().committed_at is None


def test_close_button_closes_the_dialog_window(page, logged_in, admin_user, organisation, plugin):
    PatientFactory(organisation=organisation, doctolib_patient_id="dp-1", sync_to_doctolib=True)
    dialog_url = stage(plugin)
    logged_in(page, admin_user)
    page.goto("/")
    with page.expect_popup() as opened:  # the plugin opens the dialog in its own window
        page.evaluate("url => window.open(url)", dialog_url)
    dialog = opened.value
    dialog.wait_for_load_state()  # the X's handler is attached once the page has loaded
    with dialog.expect_event("close"):
        dialog.get_by_role("link", name="Dialog schließen").click()
    assert dialog.is_closed()

    page.goto(dialog_url)  # a tab the script may not close: back to the start page
    page.wait_for_load_state()
    page.get_by_role("link", name="Dialog schließen").click()
    expect(page).to_have_url(re.compile(r"/$"))
