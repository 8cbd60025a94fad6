"""Sending an invoice from its page (issue 14): "Per E-Mail senden", the masked
address, "Versendet am", the message without an address, rights; the signature in
Einstellungen → Praxisdaten."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import services
from billing.models import Invoice
from organisations.models import Role
from outbox.models import OutboxMessage
from tests.billing.conftest import make_draft
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def issued(organisation, admin_user):
    draft = make_draft(organisation=organisation, actor=admin_user)
    draft.patient.email = "paula.patientin@example.org"
    draft.patient.save()
    return services.invoice_issue(invoice=draft, actor=admin_user)


def page(client, invoice) -> str:
    return client.get(f"/rechnungen/{invoice.public_id}/").content.decode()


def send(client, invoice):
    return client.post(f"/rechnungen/{invoice.public_id}/senden/", follow=True)


def test_the_page_offers_sending_to_the_masked_address(biller, issued):
    text = page(biller, issued)

    assert "Per E-Mail senden</button>" in text
    assert f'action="/rechnungen/{issued.public_id}/senden/"' in text
    assert "Per E-Mail an p…@example.org." in text
    assert "paula.patientin" not in text.split("<main")[-1].split("Patient/in")[0]


def test_sending_queues_the_mail_and_says_where_to(biller, issued):
    response = send(biller, issued)

    text = response.content.decode()
    assert response.redirect_chain == [(f"/rechnungen/{issued.public_id}/", 302)]
    assert "Die Rechnung wird an p…@example.org gesendet." in text
    assert "paula.patientin@example.org" not in text
    [message] = OutboxMessage.objects.filter(task="billing.send_invoice")
    assert message.kwargs["invoice_id"] == issued.pk


def test_sent_at_is_shown(biller, issued):
    sent = timezone.now() - timedelta(days=1)
    Invoice.objects.filter(pk=issued.pk).update(sent_at=sent)

    text = page(biller, issued)

    local = timezone.localtime(sent, issued.organisation.zone)
    assert f"<dt>Versendet am</dt><dd>{local:%d.%m.%Y %H:%M} per E-Mail</dd>" in text


def test_without_an_address_the_page_says_so_and_nothing_is_queued(
    biller, organisation, admin_user
):
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    text = page(biller, invoice)
    assert '<button type="button" disabled aria-describedby="versand-an">Per E-Mail' in text
    assert "Keine E-Mail-Adresse" in text

    response = send(biller, invoice)

    assert "kann nicht per E-Mail gesendet werden" in response.content.decode()
    assert not OutboxMessage.objects.exists()


def test_a_draft_has_no_button_and_is_not_sent(biller, organisation, admin_user):
    draft = make_draft(organisation=organisation, actor=admin_user)
    draft.patient.email = "p@example.org"
    draft.patient.save()

    assert "Per E-Mail senden" not in page(biller, draft)
    response = send(biller, draft)

    assert "ein Versand per E-Mail ist nicht möglich" in response.content.decode()
    assert not OutboxMessage.objects.exists()


def test_sending_needs_the_billing_right(client, organisation, issued):
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False))

    response = client.post(f"/rechnungen/{issued.public_id}/senden/")

    assert response.status_code == 403
    assert not OutboxMessage.objects.exists()


def test_the_signature_is_set_in_praxisdaten(biller, organisation):
    page_text = biller.get("/einstellungen/praxis/").content.decode()
    assert '<label for="id_email_signature">E-Mail-Signatur' in page_text
    data = {
        "name": "Praxis am See",
        "payment_term_days": "14",
        "no_show_fee_name": "Ausfallhonorar",
        "reminder_hours_before": "24",
        "email_signature": "Herzliche Grüße\r\nIhr Praxisteam",
    }

    response = biller.post("/einstellungen/praxis/", data)

    assert response.status_code == 302, response.content.decode()[-2000:]
    organisation.refresh_from_db()
    assert organisation.email_signature == "Herzliche Grüße\nIhr Praxisteam"
