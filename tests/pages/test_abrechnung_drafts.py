"""A draft's lines on its page (add a free line, change quantity or price, remove
after asking) and the "Neue Rechnung" page's amounts, through Django's client."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import Invoice, InvoiceLine
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory
from tests.pages.test_abrechnung import KG, book, draft_for, text

pytestmark = pytest.mark.django_db

OIL = ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0)


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, first_name="Erika", last_name="Muster")


@pytest.fixture
def draft(organisation, admin_user, patient):
    chain = ServiceChainFactory(organisation=organisation, services=[*KG, OIL])
    return draft_for(organisation, admin_user, patient, chain)  # 32.50 + 8.40 (+1.60 VAT)


def _state(invoice) -> list:
    return [
        list(Invoice.objects.filter(pk=invoice.pk).values()),
        list(InvoiceLine.objects.filter(invoice=invoice).order_by("pk").values()),
    ]


HOME_VISIT = {
    "code": "HB",
    "name": "Hausbesuch",
    "quantity": "1",
    "unit_price": "25,00",
    "tax_category": "not_taxable",
    "vat_rate": "0.00",
    "service_date": "",
}


def test_a_drafts_page_offers_the_line_forms(biller, draft):
    page = text(biller.get(f"/rechnungen/{draft.public_id}/"))

    assert "Freie Position hinzufügen" in page
    assert page.count(">Ändern</button>") == 2
    assert page.count("Entfernen …") == 2
    assert 'value="32,50"' in page  # the unit price, German, ready to change


def test_adding_a_free_line_with_german_numbers(biller, draft, organisation):
    response = biller.post(f"/rechnungen/{draft.public_id}/positionen/", HOME_VISIT)

    assert response.status_code == 302
    line = draft.lines.get(appointment=None)
    assert (line.name, line.unit_price, line.tax_category) == (
        "Hausbesuch",
        Decimal("25.00"),
        "not_taxable",
    )
    assert line.service_date == organisation.today()
    page = text(biller.get(response["Location"]))
    assert "Die Position „Hausbesuch“ wurde hinzugefügt." in page
    assert "67,50 €" in page  # 32.50 + 8.40 + 1.60 + 25.00


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": ""}, "Dieses Feld ist zwingend erforderlich."),
        ({"quantity": "0"}, "Die Menge muss größer als 0 sein."),
        ({"unit_price": "-1"}, "Der Einzelpreis darf nicht negativ sein."),
        ({"unit_price": "zehn"}, "Bitte eine Zahl eingeben."),
        (
            {"tax_category": "taxable", "vat_rate": "0.00"},
            "Steuerpflichtige Leistungen haben den USt-Satz 7 % oder 19 %.",
        ),
        ({"service_date": "2999-01-01"}, "Das Leistungsdatum liegt in der Zukunft."),
    ],
)
def test_a_refused_free_line_is_422_in_german_and_saves_nothing(biller, draft, change, message):
    before = _state(draft)

    response = biller.post(f"/rechnungen/{draft.public_id}/positionen/", {**HOME_VISIT, **change})

    assert response.status_code == 422
    assert message in text(response)
    assert _state(draft) == before


def test_changing_price_and_quantity_of_a_line(biller, draft):
    oil = draft.lines.get(code="W1")

    response = biller.post(
        f"/rechnungen/{draft.public_id}/positionen/{oil.public_id}/",
        {"quantity": "2", "unit_price": "10,00"},
    )

    assert response.status_code == 302
    oil.refresh_from_db()
    assert (oil.quantity, oil.amount) == (Decimal("2"), Decimal("20.00"))
    draft.refresh_from_db()
    assert draft.total == Decimal("56.30")  # 32.50 + 20.00 + 3.80
    assert "Die Position wurde geändert." in text(biller.get(response["Location"]))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"quantity": "0", "unit_price": "10,00"}, "Die Menge muss größer als 0 sein."),
        ({"quantity": "1", "unit_price": "-5"}, "Der Einzelpreis darf nicht negativ sein."),
        ({"quantity": "", "unit_price": "10"}, "Dieses Feld ist zwingend erforderlich."),
    ],
)
def test_a_refused_change_is_422_in_german_and_saves_nothing(biller, draft, data, message):
    oil = draft.lines.get(code="W1")
    before = _state(draft)

    response = biller.post(f"/rechnungen/{draft.public_id}/positionen/{oil.public_id}/", data)

    assert response.status_code == 422
    assert message in text(response)
    assert _state(draft) == before


def test_removing_a_line_asks_first(biller, draft):
    oil = draft.lines.get(code="W1")
    url = f"/rechnungen/{draft.public_id}/positionen/{oil.public_id}/entfernen/"

    question = biller.get(url)
    assert question.status_code == 200
    assert "Position entfernen?" in text(question)
    assert InvoiceLine.objects.filter(pk=oil.pk).exists()

    response = biller.post(url)
    assert response.status_code == 302
    assert not InvoiceLine.objects.filter(pk=oil.pk).exists()
    draft.refresh_from_db()
    assert draft.total == Decimal("32.50")


def test_removing_an_appointments_lines_makes_it_billable_again(biller, draft, patient):
    appointment = draft.locked_appointments.get()
    services.invoice_line_add(
        invoice=draft, actor=None, name="Hausbesuch", quantity=1, unit_price=25
    )
    for line in draft.lines.filter(appointment=appointment):
        biller.post(f"/rechnungen/{draft.public_id}/positionen/{line.public_id}/entfernen/")

    appointment.refresh_from_db()
    assert appointment.invoice_id is None
    page = text(biller.get(f"/rechnungen/neu/?patient={patient.public_id}"))
    assert str(appointment.public_id) in page


def test_the_last_line_is_not_removed(biller, organisation, admin_user, patient):
    chain = ServiceChainFactory(organisation=organisation, services=KG)
    invoice = draft_for(organisation, admin_user, patient, chain)
    line = invoice.lines.get()

    response = biller.post(
        f"/rechnungen/{invoice.public_id}/positionen/{line.public_id}/entfernen/", follow=True
    )

    assert "Verwerfen Sie stattdessen den Entwurf." in text(response)
    assert InvoiceLine.objects.filter(pk=line.pk).exists()


def test_an_issued_invoice_offers_no_line_forms_and_refuses_changes(
    biller, organisation, admin_user, draft
):
    Invoice.objects.filter(pk=draft.pk).update(status="issued", number="2025-0001")
    oil = draft.lines.get(code="W1")
    before = _state(draft)

    page = text(biller.get(f"/rechnungen/{draft.public_id}/"))
    added = biller.post(f"/rechnungen/{draft.public_id}/positionen/", HOME_VISIT, follow=True)
    changed = biller.post(
        f"/rechnungen/{draft.public_id}/positionen/{oil.public_id}/",
        {"quantity": "2", "unit_price": "1"},
        follow=True,
    )
    removed = biller.post(
        f"/rechnungen/{draft.public_id}/positionen/{oil.public_id}/entfernen/", follow=True
    )

    assert "Freie Position hinzufügen" not in page and "Entfernen …" not in page
    for response in (added, changed, removed):
        assert "ihre Positionen können nicht mehr geändert werden" in text(response)
    assert _state(draft) == before


def test_other_organisations_draft_lines_are_404(client, other_organisation, draft):
    from tests.factories import UserFactory

    client.force_login(UserFactory(organisation=other_organisation))
    oil = draft.lines.get(code="W1")
    before = _state(draft)

    assert client.post(f"/rechnungen/{draft.public_id}/positionen/", HOME_VISIT).status_code == 404
    base = f"/rechnungen/{draft.public_id}/positionen/{oil.public_id}/"
    assert client.post(base, {"quantity": "2", "unit_price": "1"}).status_code == 404
    assert client.post(base + "entfernen/").status_code == 404
    assert _state(draft) == before


def test_a_line_of_another_draft_is_404(biller, organisation, admin_user, patient, draft):
    chain = ServiceChainFactory(organisation=organisation, services=KG)
    other = draft_for(organisation, admin_user, patient, chain)
    foreign = other.lines.get()

    url = f"/rechnungen/{draft.public_id}/positionen/{foreign.public_id}/"
    assert biller.post(url, {"quantity": "2", "unit_price": "1"}).status_code == 404
    assert biller.get(url + "entfernen/").status_code == 404
    assert biller.post(url + "entfernen/").status_code == 404


# Neue Rechnung: each appointment's amount, "Alle auswählen" and the running total.


def test_create_page_shows_each_appointments_net_amount(biller, organisation, patient):
    mixed = ServiceChainFactory(organisation=organisation, services=[*KG, OIL])
    book(organisation, patient, mixed, days=2)
    organisation.no_show_fee = Decimal("20.00")
    organisation.save()
    AppointmentFactory(
        organisation=organisation,
        patient=patient,
        status="no_show",
        start=timezone.now() - timedelta(days=1),
    )

    page = text(biller.get(f"/rechnungen/neu/?patient={patient.public_id}"))

    assert 'data-amount="40.90"' in page and "40,90 €" in page
    assert 'data-amount="20.00"' in page and "20,00 €" in page
    assert "Alle auswählen" in page and "data-running-total" in page
    assert "web/abrechnung" in page and "abrechnung.js" in page
