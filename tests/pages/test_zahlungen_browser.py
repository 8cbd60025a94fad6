"""Payment entry in a real Chromium (issue 14): a part payment in cash, then the rest
by "Als bezahlt markieren", then a payment taken back."""

import pytest
from playwright.sync_api import expect

from billing import services
from billing.models import InvoiceStatus
from tests.billing.conftest import make_draft

pytestmark = pytest.mark.django_db(transaction=True)


def test_payment_entry(page, logged_in, admin_user, organisation):
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    logged_in(page, admin_user)
    page.goto(f"/rechnungen/{invoice.public_id}/")
    payments = page.get_by_role("region", name="Zahlungen")
    expect(payments).to_contain_text("Noch keine Zahlung erfasst.")
    payments.get_by_label("Betrag (€)").fill("20,00")
    payments.get_by_label("Zahlungsart").select_option(label="bar")
    payments.get_by_label("Notiz (freiwillig)").fill("an der Rezeption")
    payments.get_by_role("button", name="Zahlung erfassen").click()

    expect(page.get_by_role("status").first).to_contain_text("Die Zahlung ist erfasst.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("teilweise bezahlt")
    payments = page.get_by_role("region", name="Zahlungen")
    expect(payments).to_contain_text("an der Rezeption")
    open_ = f"{invoice.total - 20:.2f}".replace(".", ",")
    expect(payments).to_contain_text(f"Offen{open_} €")

    page.get_by_role("button", name="Als bezahlt markieren").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("bezahlt")
    expect(page.get_by_role("region", name="Zahlungen")).to_contain_text("Offen0,00 €")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID

    page.get_by_role("link", name="Zurückbuchen …").first.click()
    page.get_by_role("button", name="Ja, Zahlung zurückbuchen").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("teilweise bezahlt")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PARTLY_PAID
