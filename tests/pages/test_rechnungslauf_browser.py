"""A billing run in a real Chromium at 1366×768 (issue 14), from start to "Alle
senden": Rechnungen → Rechnungslauf, last month (the form's default), the review
list with its total and the skipped patient, "Alle stellen", "Alle senden", and
the print PDF of the one without an e-mail address. The job runs in-process
(no broker in the tests); a real worker runs it in tests/jobs."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from billing.models import Invoice, InvoiceStatus
from tests.pages.test_rechnungslauf import last_months_visits  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_billing_run_from_start_to_send_all(page, logged_in, admin_user, last_months_visits):  # noqa: F811
    page.set_viewport_size({"width": 1366, "height": 768})
    logged_in(page, admin_user)

    page.goto("/rechnungen/")
    page.get_by_role("link", name="Rechnungslauf").click()
    page.get_by_role("button", name="Rechnungslauf starten").click()

    overview = page.get_by_role("region", name="Übersicht")
    expect(overview).to_contain_text("195,00 €")
    skipped = page.get_by_role("region", name="Übersprungen (1)")
    expect(skipped).to_contain_text("Dorn")
    expect(skipped).to_contain_text("ist noch nicht erledigt")
    invoices = page.get_by_role("region", name="Rechnungen")
    expect(invoices.get_by_role("link", name="Entwurf")).to_have_count(3)

    page.get_by_role("button", name="Alle stellen (3)").click()
    expect(invoices.get_by_role("link", name="Entwurf")).to_have_count(0)
    assert Invoice.objects.filter(status=InvoiceStatus.ISSUED).count() == 3

    page.get_by_role("button", name="Alle senden (2)").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "2 Rechnungen werden per E-Mail gesendet."
    )
    expect(invoices).to_contain_text("gesendet")
    assert len(mail.outbox) == 2
    assert all(message.attachments[0][2] == "application/pdf" for message in mail.outbox)

    # the link opens a new tab; the PDF it opens, fetched in the same session
    link = page.get_by_role("link", name="Druck-PDF (1 ohne E-Mail)")
    pdf = page.request.get(link.get_attribute("href"))
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
