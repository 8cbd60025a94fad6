"""Billing pages in a real Chromium: an invoice from the record search to its PDF,
and editing a service chain's services."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import services
from billing.models import Invoice, InvoiceStatus
from organisations.models import Organisation
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory

pytestmark = pytest.mark.django_db(transaction=True)

KG = ("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25)
OIL = ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0)


def test_create_issue_and_download_an_invoice(page, logged_in, admin_user, organisation):
    patient = PatientFactory(organisation=organisation, first_name="Erika", last_name="Muster")
    chain = ServiceChainFactory(organisation=organisation, description="KG", services=[KG])
    for days in (2, 1):
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            start=timezone.now() - timedelta(days=days),
        )
    logged_in(page, admin_user).goto("/rechnungen/")

    page.get_by_role("link", name="Neue Rechnung").click()
    page.get_by_label("Akte suchen").fill("Must")  # htmx: results as you type
    page.get_by_role("link", name="Muster, Erika").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Neue Rechnung für Erika Muster")
    page.locator("input[name=appointments]").first.check()
    page.get_by_label("Diagnose").fill("M54.5")
    page.get_by_role("button", name="Rechnung erstellen").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Rechnungsentwurf")
    expect(page.locator("table.abr-lines")).to_contain_text("Krankengymnastik")
    page.get_by_role("link", name="Rechnung stellen …").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rechnung stellen?")
    expect(page.locator("main")).to_contain_text(
        "Die Rechnungsnummer kann nicht zurückgenommen werden."
    )
    page.get_by_role("button", name="Rechnung jetzt stellen").click()
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.ISSUED and invoice.locked_appointments.count() == 1
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Rechnung {invoice.number}")
    expect(page.get_by_role("status")).to_contain_text("wurde gestellt")

    with page.expect_download() as download:
        page.get_by_role("link", name="PDF herunterladen").click()
    assert download.value.suggested_filename == f"Rechnung-{invoice.number}.pdf"
    with open(download.value.path(), "rb") as handle:
        assert handle.read(4) == b"%PDF"

    page.get_by_role("link", name="Rechnungen", exact=True).first.click()
    page.get_by_label("Status").select_option(label="bezahlt")  # htmx: the list alone
    expect(page).to_have_url(re.compile(r"status=paid"))
    expect(page.locator("#rechnungen")).to_contain_text("Keine Rechnungen zu diesen Filtern.")
    page.get_by_label("Status").select_option(label="gestellt")
    expect(page.get_by_role("link", name=invoice.number)).to_be_visible()


def test_edit_the_services_of_a_chain(page, logged_in, admin_user, organisation):
    chain = ServiceChainFactory(
        organisation=organisation, description="Massage", services=[KG, OIL]
    )
    logged_in(page, admin_user).goto("/leistungsketten/")

    page.get_by_role("link", name="Massage").click()
    page.get_by_label("Leistung entfernen").nth(1).check()  # the oil goes
    page.locator('[name="services-0-price"]').fill("35,00")
    page.get_by_role("button", name="Leistung hinzufügen").click()  # in the page, no reload
    row = page.locator("tr.abr-service-row").nth(3)
    expect(row.get_by_label("Ziffer")).to_be_focused()
    row.get_by_label("Ziffer").fill("X0106")
    row.get_by_label("Leistung", exact=True).fill("Wärmepackung")
    row.get_by_label("Preis (netto, €)").fill("12,40")
    row.get_by_label("Minuten").fill("10")
    page.get_by_role("button", name="Speichern").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Die Leistungskette „Massage“ wurde gespeichert."
    )
    assert [(s.code, s.name, s.price, s.minutes) for s in chain.services.all()] == [
        ("X1501", "Krankengymnastik", Decimal("35.00"), 25),
        ("X0106", "Wärmepackung", Decimal("12.40"), 10),
    ]


def test_incomplete_data_is_listed_with_links_and_issuing_asks_first(
    page, logged_in, admin_user, organisation
):
    """A new practice without tax number and IBAN, a patient without address: the
    draft lists what is missing, each a link to where it is fixed; once fixed,
    issuing asks first and can be cancelled, and only then takes a number."""
    Organisation.objects.filter(pk=organisation.pk).update(tax_number="", iban="")
    patient = PatientFactory(
        organisation=organisation, first_name="Erika", last_name="Muster", city=""
    )
    chain = ServiceChainFactory(organisation=organisation, description="KG", services=[KG])
    booked = AppointmentFactory(organisation=organisation, patient=patient, service_chain=chain)
    draft = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[booked]
    )
    logged_in(page, admin_user).goto(f"/rechnungen/{draft.public_id}/")

    missing = page.get_by_role("region", name="Bevor die Rechnung gestellt werden kann")
    expect(missing).to_contain_text("Steuernummer oder USt-IdNr. fehlt.")
    expect(missing).to_contain_text("IBAN fehlt.")
    expect(missing).to_contain_text("Ort des Rechnungsempfängers fehlt.")
    expect(page.get_by_role("button", name="Rechnung stellen …")).to_be_disabled()

    missing.get_by_role("link", name="IBAN fehlt.").click()
    expect(page).to_have_url(re.compile(r"/einstellungen/praxis/#id_iban$"))
    page.get_by_label("Steuernummer").fill("21/815/08150")
    page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("status")).to_contain_text("Die Praxisdaten sind gespeichert.")

    page.goto(f"/rechnungen/{draft.public_id}/")
    page.get_by_role("link", name="Ort des Rechnungsempfängers fehlt.").click()
    expect(page).to_have_url(re.compile(rf"/akten/{patient.public_id}/#id_city$"))
    stammdaten = page.get_by_role("region", name="Stammdaten")
    stammdaten.get_by_label("Ort").fill("Berlin")
    stammdaten.get_by_role("button", name="Stammdaten speichern").click()

    page.goto(f"/rechnungen/{draft.public_id}/")
    expect(page.get_by_text("Bevor die Rechnung gestellt werden kann")).to_have_count(0)
    page.get_by_role("link", name="Rechnung stellen …").click()
    expect(page.locator("main")).to_contain_text(
        "Die Rechnungsnummer kann nicht zurückgenommen werden."
    )
    page.get_by_role("link", name="Abbrechen").click()
    draft.refresh_from_db()
    assert (draft.status, draft.number) == (InvoiceStatus.DRAFT, None)

    page.get_by_role("link", name="Rechnung stellen …").click()
    page.get_by_role("button", name="Rechnung jetzt stellen").click()
    expect(page.get_by_role("status")).to_contain_text("wurde gestellt")
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.ISSUED and draft.number


def test_edit_a_drafts_lines(page, logged_in, admin_user, organisation):
    """Add a free line "Hausbesuch", change a price, remove a line (after asking):
    the total follows each time."""
    patient = PatientFactory(organisation=organisation, first_name="Erika", last_name="Muster")
    chain = ServiceChainFactory(organisation=organisation, description="KG", services=[KG, OIL])
    booked = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        start=timezone.now() - timedelta(days=1),
    )
    draft = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[booked]
    )
    logged_in(page, admin_user).goto(f"/rechnungen/{draft.public_id}/")
    total = page.locator("[data-total=gross]")
    expect(total).to_have_text("42,50 €")  # 32.50 + 8.40 + 1.60 VAT

    added = page.get_by_role("region", name="Freie Position hinzufügen")
    added.get_by_label("Ziffer").fill("HB")
    added.get_by_label("Bezeichnung").fill("Hausbesuch")
    added.get_by_label("Einzelpreis (netto, €)").fill("25,00")
    added.get_by_label("Steuerart").select_option(label="nicht steuerbar")
    added.get_by_role("button", name="Position hinzufügen").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Die Position „Hausbesuch“ wurde hinzugefügt."
    )
    expect(page.locator("table.abr-lines")).to_contain_text("Hausbesuch")
    expect(total).to_have_text("67,50 €")

    page.get_by_label("Einzelpreis von Hausbesuch (netto, €)").fill("30,00")
    page.locator("tr", has_text="Hausbesuch").get_by_role("button", name="Ändern").click()
    expect(page.get_by_role("status")).to_contain_text("Die Position wurde geändert.")
    expect(total).to_have_text("72,50 €")

    page.locator("tr", has_text="Massageöl").get_by_role("link", name="Entfernen …").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Position entfernen?")
    page.get_by_role("button", name="Position entfernen").click()
    expect(page.get_by_role("status")).to_contain_text("Die Position wurde entfernt.")
    expect(page.locator("table.abr-lines")).not_to_contain_text("Massageöl")
    expect(total).to_have_text("62,50 €")  # 32.50 + 30.00
    draft.refresh_from_db()
    assert draft.total == Decimal("62.50")


def test_select_all_shows_the_running_total(page, logged_in, admin_user, organisation):
    patient = PatientFactory(organisation=organisation, first_name="Erika", last_name="Muster")
    chain = ServiceChainFactory(organisation=organisation, description="KG", services=[KG, OIL])
    for days in (3, 2, 1):
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            start=timezone.now() - timedelta(days=days),
        )
    logged_in(page, admin_user).goto(f"/rechnungen/neu/?patient={patient.public_id}")
    running = page.locator("[data-running-total-value]")
    expect(running).to_have_text("0,00 €")

    page.locator("input[name=appointments]").first.check()
    expect(running).to_have_text("40,90 €")
    page.get_by_label("Alle auswählen").check()
    expect(running).to_have_text("122,70 €")
    page.get_by_label("Alle auswählen").uncheck()
    expect(running).to_have_text("0,00 €")
    page.get_by_label("Alle auswählen").check()
    page.get_by_role("button", name="Rechnung erstellen").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Rechnungsentwurf")
    assert Invoice.objects.get().locked_appointments.count() == 3
