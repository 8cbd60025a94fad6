"""Kalender in a real Chromium: creating (with the record search as you type), editing
and cancelling a lemniscus appointment; a locked (invoiced) appointment says why; a
Doctolib appointment keeps Doctolib's fields read-only; the calendar by keyboard."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from billing.models import Invoice
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

DAY = "2026-03-02"


@pytest.fixture
def column(organisation):
    return CalendarColumnFactory(organisation=organisation, name="Anna Schneider")


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, last_name="Mustermann", first_name="Max")


def test_create_edit_and_cancel_a_lemniscus_appointment(
    page, logged_in, admin_user, organisation, column, patient
):
    ServiceChainFactory(organisation=organisation, description="Krankengymnastik")
    PatientFactory(organisation=organisation, last_name="Schulz")
    logged_in(page, admin_user)
    page.goto(f"/kalender/?datum={DAY}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Montag, 2. März 2026")
    page.get_by_role("link", name="Neuer Termin").click()

    # The record search is one field: the hits appear under it as you type.
    page.get_by_label("Akte suchen").fill("muster")
    hits = page.get_by_role("listbox", name="Gefundene Akten")
    expect(hits.get_by_role("option")).to_have_count(1)
    hits.get_by_role("option", name=re.compile("^Mustermann, Max")).click()
    expect(page.get_by_text("Gewählt: Mustermann, Max")).to_be_visible()
    page.get_by_label("Kalenderspalte").select_option(label="Anna Schneider")
    page.get_by_label("Beginn").fill("2026-03-02T10:15")
    page.get_by_label("Dauer (Minuten)").fill("45")
    page.get_by_label("Leistungskette").select_option(label="Krankengymnastik")
    page.get_by_label("Anmerkung").fill("Erstbefund")
    page.get_by_role("button", name="Termin anlegen").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Termin am 02.03.2026 um 10:15 für Mustermann, Max angelegt."
    )
    block = page.get_by_role("link", name=re.compile(r"^10:15 Mustermann, Max"))
    expect(block).to_contain_text("Krankengymnastik · 45 Min.")
    block.click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("10:15–11:00 Uhr")
    page.get_by_label("Dauer (Minuten)").fill("60")
    page.get_by_role("button", name="Speichern", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Termin gespeichert.")
    expect(page).to_have_url(re.compile(r"/kalender/\?datum=2026-03-02$"))  # back to the view
    page.get_by_role("link", name=re.compile(r"^10:15 Mustermann, Max")).click()
    history = page.get_by_role("region", name="Verlauf")
    expect(history).to_contain_text("Dauer (Minuten): 45 → 60")
    expect(history).to_contain_text(admin_user.display_name)

    page.get_by_role("link", name="Termin absagen …").click()
    page.get_by_label("Grund (freiwillig)").fill("Patient krank")
    page.get_by_role("button", name="Ja, Termin absagen").click()
    expect(page.get_by_role("status").first).to_contain_text("ist abgesagt.")
    expect(page.get_by_role("button", name="Rückgängig")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/kalender/\?datum=2026-03-02$"))  # back to the view

    cancelled = page.get_by_role("link", name=re.compile(r"^10:15 Mustermann, Max"))
    expect(cancelled).to_contain_text("abgesagt")
    struck = cancelled.locator(".kal-text").evaluate("e => getComputedStyle(e).textDecorationLine")
    assert struck == "line-through"
    saved = Appointment.objects.get()
    assert saved.status == AppointmentStatus.CANCELLED and saved.duration_minutes == 60


def test_locked_appointment_says_why(page, logged_in, admin_user, organisation, column, patient):
    booked = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        start=datetime(2026, 3, 2, 8, tzinfo=UTC),
    )
    invoice = Invoice.objects.create(
        organisation=organisation, patient=patient, status="issued", number="2026-0007"
    )
    Appointment.objects.filter(pk=booked.pk).update(invoice=invoice)
    logged_in(page, admin_user)
    page.goto(f"/kalender/?datum={DAY}")
    block = page.get_by_role("link", name=re.compile(r"^09:00 Mustermann, Max"))
    expect(block).to_contain_text("Rechnung 2026-0007")
    block.click()
    expect(page.get_by_role("region", name="Details")).to_contain_text(
        "Steht auf Rechnung 2026-0007; Änderungen sind nicht möglich."
    )
    expect(page.get_by_role("button", name="Speichern")).to_have_count(0)
    expect(page.get_by_role("link", name="Termin absagen …")).to_have_count(0)


def test_doctolib_appointment_edits_only_status_and_chain(
    page, logged_in, admin_user, organisation, column, patient
):
    ServiceChainFactory(organisation=organisation, description="Osteopathie")
    pushed = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        service_chain=None,
        start=datetime(2026, 3, 2, 8, tzinfo=UTC),
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="da-1",
        status=AppointmentStatus.DONE,
    )
    logged_in(page, admin_user)
    page.goto(f"/termine/{pushed.public_id}/")
    form = page.get_by_role("region", name="Bearbeiten")
    expect(form).to_contain_text(
        "Verschiebungen und Änderungen der Dauer bitte in Doctolib vornehmen und den Termin "
        "erneut übertragen."
    )
    for label in ("Beginn", "Dauer (Minuten)", "Kalenderspalte", "Akte"):
        expect(form.get_by_label(label, exact=True)).not_to_be_editable()
    form.get_by_label("Leistungskette").select_option(label="Osteopathie")
    form.get_by_label("Status").select_option(label="geplant")
    form.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("status").first).to_contain_text("Termin gespeichert.")
    pushed.refresh_from_db()
    assert pushed.service_chain.description == "Osteopathie"
    assert pushed.status == AppointmentStatus.PLANNED


def test_calendar_by_keyboard(page, logged_in, admin_user, organisation, column, patient):
    booked = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        start=datetime(2026, 3, 2, 8, tzinfo=UTC),
    )
    logged_in(page, admin_user)
    page.goto(f"/kalender/?datum={DAY}")
    page.get_by_label("Ansicht").select_option("woche")  # changes the view at once
    expect(page.get_by_role("heading", level=1)).to_contain_text("Woche 10")
    page.get_by_role("link", name=re.compile("^Nächste Woche")).focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"datum=2026-03-09"))
    page.go_back()
    block = page.get_by_role("link", name=re.compile(r"^09:00 Mustermann, Max"))
    block.focus()
    outline = block.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none"  # focus is visible
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(f"/termine/{booked.public_id}/\\?zurueck="))
