"""Mahnwesen pages (issue 14): Mahnvorschläge with "Mahnung erstellen", the notice's
PDF, the notices on the invoice page, and Einstellungen → Mahnstufen (German 422)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.dunning import dunning_notice_create
from billing.models import DunningNotice
from outbox.models import OutboxMessage
from tests.billing.test_dunning import issued_days_overdue
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


def test_proposals_list_and_a_click_makes_the_notice(biller, organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    text = biller.get("/rechnungen/mahnvorschlaege/").content.decode()
    assert invoice.number in text and "Zahlungserinnerung" in text
    assert "Mahnung erstellen" in text

    response = biller.post(f"/rechnungen/{invoice.public_id}/mahnung/")

    assert response.status_code == 302 and response["Location"] == "/rechnungen/mahnvorschlaege/"
    notice = DunningNotice.objects.get()
    text = biller.get(response["Location"]).content.decode()
    assert "Zahlungserinnerung zur Rechnung" in text
    assert f"/rechnungen/mahnungen/{notice.public_id}/pdf/" in text
    assert "1. Mahnung" in text  # the next level is due already (25 days)
    pdf = biller.get(f"/rechnungen/mahnungen/{notice.public_id}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_invoice_page_shows_the_notices_and_the_fee(
    biller, organisation, admin_user, monkeypatch
):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    url = f"/rechnungen/{invoice.public_id}/mahnung/"
    biller.post(url, {"zurueck": "rechnung"})
    response = biller.post(url, {"zurueck": "rechnung"})
    assert response["Location"] == f"/rechnungen/{invoice.public_id}/"
    text = biller.get(response["Location"]).content.decode()
    assert "Mahnungen" in text and "1. Mahnung" in text and "Mahngebühren" in text
    open_ = f"{invoice.total + Decimal('5.00'):.2f}".replace(".", ",")
    assert open_ in text


def test_a_notice_not_due_is_refused_in_german(biller, organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 2, monkeypatch)
    response = biller.post(f"/rechnungen/{invoice.public_id}/mahnung/", follow=True)
    assert "ist erst 7 Tage nach Fälligkeit möglich" in response.content.decode()
    assert not DunningNotice.objects.exists()


def test_clerks_without_billing_see_no_proposals(client, organisation):
    client.force_login(UserFactory(organisation=organisation, role="staff", can_billing=False))
    assert client.get("/rechnungen/mahnvorschlaege/").status_code == 403


def test_levels_are_edited_in_the_settings(biller, organisation):
    text = biller.get("/einstellungen/mahnstufen/").content.decode()
    assert 'value="Zahlungserinnerung"' in text
    response = biller.post(
        "/einstellungen/mahnstufen/",
        {
            "name-1": "Erinnerung",
            "tage-1": "10",
            "gebuehr-1": "0",
            "name-2": "Mahnung",
            "tage-2": "30",
            "gebuehr-2": "2,50",
        },
    )
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.dunning_levels == [
        {"level": 1, "name": "Erinnerung", "days_after_due": 10, "fee": "0.00"},
        {"level": 2, "name": "Mahnung", "days_after_due": 30, "fee": "2.50"},
    ]


@pytest.mark.parametrize(
    ("posted", "message"),
    [
        ({"name-1": "A", "tage-1": "20", "name-2": "B", "tage-2": "10"}, "jede Stufe kommt später"),
        ({"name-1": "A", "tage-1": "zehn"}, "Tage nach Fälligkeit als Zahl"),
        ({"name-1": "A", "tage-1": "5", "gebuehr-1": "viel"}, "kein Betrag"),
        ({}, "Liste von 1 bis"),
    ],
)
def test_wrong_levels_are_422_in_german(biller, organisation, posted, message):
    response = biller.post("/einstellungen/mahnstufen/", posted)
    assert response.status_code == 422
    assert message in response.content.decode()
    organisation.refresh_from_db()
    assert organisation.dunning_levels[0]["name"] == "Zahlungserinnerung"


def test_only_admins_edit_levels(client, organisation):
    client.force_login(UserFactory(organisation=organisation, role="staff", can_billing=True))
    assert client.get("/einstellungen/mahnstufen/").status_code == 403


# Sending a notice from the invoice page (billing.sending, web.views.versand)


@pytest.fixture
def notice(organisation, admin_user, monkeypatch) -> DunningNotice:
    invoice = issued_days_overdue(organisation, admin_user, 10, monkeypatch)
    invoice.patient.email = "paula.patientin@example.org"
    invoice.patient.save()
    return dunning_notice_create(invoice=invoice, actor=admin_user)


def invoice_page(client, notice) -> str:
    return client.get(f"/rechnungen/{notice.invoice.public_id}/").content.decode()


def send_notice(client, notice):
    return client.post(f"/rechnungen/mahnungen/{notice.public_id}/senden/", follow=True)


def test_a_notice_is_sent_from_the_invoice_page(biller, notice):
    text = invoice_page(biller, notice)
    assert f'action="/rechnungen/mahnungen/{notice.public_id}/senden/"' in text
    assert 'aria-describedby="mahnung-versand-an">Per E-Mail senden</button>' in text
    assert "Mahnungen gehen per E-Mail an p…@example.org" in text

    response = send_notice(biller, notice)

    assert response.redirect_chain == [(f"/rechnungen/{notice.invoice.public_id}/", 302)]
    text = response.content.decode()
    assert (
        f"Zahlungserinnerung zur Rechnung {notice.invoice.number} wird an p…@example.org gesendet."
    ) in text
    assert "paula.patientin@example.org" not in text
    [message] = OutboxMessage.objects.filter(task="billing.send_dunning_notice")
    assert message.kwargs["notice_id"] == notice.pk


def test_the_page_shows_when_a_notice_was_sent(biller, notice):
    sent = timezone.now() - timedelta(hours=30)
    DunningNotice.objects.filter(pk=notice.pk).update(sent_at=sent)

    text = invoice_page(biller, notice)

    local = timezone.localtime(sent, notice.organisation.zone)
    assert f"gesendet am {local:%d.%m.%Y %H:%M}" in text


def test_without_an_address_the_button_is_disabled_and_sending_is_refused(biller, notice):
    notice.invoice.patient.email = ""
    notice.invoice.patient.save()
    text = invoice_page(biller, notice)
    assert '<button type="button" disabled aria-describedby="mahnung-versand-an">' in text
    assert "Keine E-Mail-Adresse" in text

    response = send_notice(biller, notice)

    assert "Die Mahnung kann nicht per E-Mail gesendet werden" in response.content.decode()
    assert not OutboxMessage.objects.exists()


def test_a_paid_invoices_notice_is_not_offered_nor_sent(biller, notice, admin_user):
    services.invoice_pay(invoice=notice.invoice, actor=admin_user)
    text = invoice_page(biller, notice)
    assert notice.name in text and f"/mahnungen/{notice.public_id}/senden/" not in text

    response = send_notice(biller, notice)

    assert "ein Versand der Mahnung per E-Mail ist nicht möglich" in response.content.decode()
    assert not OutboxMessage.objects.exists()


def test_another_organisations_notice_is_404(client, other_organisation, notice):
    client.force_login(UserFactory(organisation=other_organisation, role="admin"))

    assert client.post(f"/rechnungen/mahnungen/{notice.public_id}/senden/").status_code == 404
    assert not OutboxMessage.objects.exists()
