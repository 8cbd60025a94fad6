"""Zahlungen on the invoice page (issue 14): record a payment, reverse it after
asking, write the rest off; German messages, 422 with nothing saved, rights."""

from decimal import Decimal

import pytest

from billing import services
from billing.models import InvoiceStatus, Payment
from organisations.models import Role
from tests.billing.conftest import make_draft
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(organisation, admin_user):
    draft = make_draft(organisation=organisation, actor=admin_user)
    return services.invoice_issue(invoice=draft, actor=admin_user)


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


def page(client, invoice) -> str:
    return client.get(f"/rechnungen/{invoice.public_id}/").content.decode()


def test_the_invoice_page_offers_the_open_amount(biller, issued):
    text = page(biller, issued)
    assert "Zahlung erfassen" in text and "Noch keine Zahlung erfasst." in text
    assert f'value="{issued.total:.2f}'.replace(".", ",") in text  # German decimal comma


def test_record_a_partial_payment_then_the_rest(biller, issued, organisation):
    today = organisation.today().isoformat()
    url = f"/rechnungen/{issued.public_id}/zahlungen/"
    response = biller.post(url, {"amount": "10,00", "date": today, "method": "cash"})
    assert response.status_code == 302
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.PARTLY_PAID
    text = biller.get(response["Location"]).content.decode()
    assert "Die Zahlung ist erfasst." in text and "teilweise bezahlt" in text
    rest = issued.total - Decimal("10.00")
    biller.post(url, {"amount": f"{rest}".replace(".", ","), "date": today, "method": "transfer"})
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.PAID


def test_too_much_is_422_in_german_and_saves_nothing(biller, issued, organisation):
    response = biller.post(
        f"/rechnungen/{issued.public_id}/zahlungen/",
        {"amount": "9999,00", "date": organisation.today().isoformat(), "method": "cash"},
    )
    assert response.status_code == 422
    assert "Höchstens der offene Betrag" in response.content.decode()
    assert not Payment.objects.exists()


def test_reverse_asks_first(biller, issued, admin_user):
    from billing.payments import payment_record

    payment = payment_record(invoice=issued, actor=admin_user, amount=issued.total, method="cash")
    url = f"/rechnungen/{issued.public_id}/zahlungen/{payment.public_id}/stornieren/"
    assert "Zahlung zurückbuchen?" in biller.get(url).content.decode()
    assert Payment.objects.count() == 1
    assert biller.post(url).status_code == 302
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.ISSUED and Payment.objects.count() == 2
    text = page(biller, issued)
    assert "zurückgebucht" in text and "Storno" in text


def test_write_off_needs_a_reason(biller, issued):
    url = f"/rechnungen/{issued.public_id}/abschreiben/"
    assert biller.post(url, {"reason": ""}).status_code == 422
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.ISSUED
    assert biller.post(url, {"reason": "Insolvenz"}).status_code == 302
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.WRITTEN_OFF
    assert "Insolvenz" in page(biller, issued)


def test_payments_need_the_billing_right(client, organisation, issued):
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False))
    response = client.post(
        f"/rechnungen/{issued.public_id}/zahlungen/",
        {"amount": "1,00", "date": organisation.today().isoformat(), "method": "cash"},
    )
    assert response.status_code == 403
    assert not Payment.objects.exists()


def test_open_items_lists_open_ones_with_totals_and_marks_overdue(
    biller, organisation, admin_user, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from billing.payments import payment_record

    fresh = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    past = timezone.now() - timedelta(days=40)
    with monkeypatch.context() as then:
        then.setattr(timezone, "now", lambda: past)
        late = services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
    payment_record(invoice=late, actor=admin_user, amount=Decimal("5.00"), method="cash")
    paid = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    services.invoice_pay(invoice=paid, actor=admin_user)

    response = biller.get("/rechnungen/offene-posten/")
    text = response.content.decode()
    assert response.status_code == 200
    assert fresh.number in text and late.number in text and paid.number not in text
    assert text.count("überfällig seit") == 1
    open_total = fresh.total + late.total - Decimal("5.00")
    assert f"{open_total:.2f}".replace(".", ",") in text
    only_late = biller.get("/rechnungen/offene-posten/?ueberfaellig=on").content.decode()
    assert late.number in only_late and fresh.number not in only_late
    by_number = biller.get(f"/rechnungen/?q={fresh.number}").content.decode()
    assert fresh.number in by_number and late.number not in by_number
    by_name = biller.get(f"/rechnungen/?q={late.patient.last_name}").content.decode()
    assert late.number in by_name
    wrong = biller.get("/rechnungen/?von=2026-05-01&bis=2026-04-01")
    assert wrong.status_code == 200 and "Das Ende liegt vor dem Anfang." in wrong.content.decode()
