"""The dunning flow in a real Chromium (issue 14): an overdue invoice shows up in the
Mahnvorschläge, "Mahnung erstellen" makes the notice, its PDF link opens the PDF,
the invoice page shows the notice and the open amount with the fee, and "Per E-Mail
senden" mails it (tasks run in-process here) and shows when."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from billing import services
from billing.models import DunningNotice
from tests.billing.conftest import make_draft

pytestmark = pytest.mark.django_db(transaction=True)


def test_dunning_flow(page, logged_in, admin_user, organisation, monkeypatch, mailoutbox):
    past = timezone.now() - timedelta(days=organisation.payment_term_days + 25)
    with monkeypatch.context() as then:  # issued long ago: 25 days overdue today
        then.setattr(timezone, "now", lambda: past)
        invoice = services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
    organisation.dunning_levels = [
        {"level": 1, "name": "1. Mahnung", "days_after_due": 14, "fee": "5.00"}
    ]
    organisation.save()
    invoice.patient.email = "paula@example.org"
    invoice.patient.save()
    logged_in(page, admin_user)

    page.goto("/rechnungen/")
    page.get_by_role("link", name="Mahnvorschläge").click()
    proposals = page.get_by_role("region", name="Mahnvorschläge")
    row = proposals.get_by_role("row").filter(has_text=invoice.number)
    expect(row).to_contain_text("1. Mahnung")
    row.get_by_role("button", name="Mahnung erstellen").click()

    expect(page.get_by_role("status").first).to_contain_text("1. Mahnung zur Rechnung")
    notice = DunningNotice.objects.get()
    with page.expect_response(lambda r: "/pdf/" in r.url) as pdf:
        page.get_by_role("link", name="PDF öffnen").click()
    assert pdf.value.status == 200
    assert pdf.value.headers["content-type"] == "application/pdf"
    assert str(notice.public_id) in pdf.value.url

    page.goto(f"/rechnungen/{invoice.public_id}/")
    notices = page.get_by_role("region", name="Mahnungen")
    expect(notices).to_contain_text("1. Mahnung")
    expect(notices.get_by_role("link", name="PDF")).to_be_visible()
    open_ = f"{invoice.total + Decimal('5.00'):.2f}".replace(".", ",")
    expect(page.get_by_role("region", name="Zahlungen")).to_contain_text(f"Offen{open_} €")

    notices.get_by_role("button", name="Per E-Mail senden").click()
    expect(page.get_by_role("status").first).to_contain_text("wird an p…@example.org gesendet")
    [mail] = mailoutbox
    with notice.file.open("rb") as stored:
        assert mail.attachments[0][1] == stored.read()
    sent = re.compile(r"gesendet am \d\d\.\d\d\.\d{4} \d\d:\d\d")
    expect(page.get_by_role("region", name="Mahnungen")).to_contain_text(sent)
