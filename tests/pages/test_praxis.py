"""Einstellungen → Praxisdaten: the letterhead and bank details the invoices print, the
payment term and when reminders go out; admins only (see test_tokens.ADMIN_PAGES),
German messages on bad input, nothing half-saved. And the German error pages."""

import uuid

import pytest

from organisations.models import Organisation, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/einstellungen/praxis/"
VALID = {
    "name": "  Praxis am See  ",
    "owner_name": "Anna Beispiel",
    "street": "Seestraße 1",
    "postal_code": "12345",
    "city": "Berlin",
    "phone": "030 1234567",
    "email": "Praxis@See.TEST",
    "tax_number": "12/345/67890",
    "vat_id": "",
    "iban": "de89 3704 0044 0532 0130 00",
    "bic": "cobadeffxxx",
    "bank_account_holder": "Anna Beispiel",
    "payment_term_days": "21",
    "no_show_fee": "",
    "no_show_fee_name": "Ausfallhonorar",
    "reminder_hours_before": "48",
}


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_form_shows_the_current_data_with_labels(admin, organisation):
    organisation.reminder_hours_before = 24
    organisation.save()

    page = admin.get(URL).content.decode()

    assert 'value="24"' in page
    assert '<label for="id_reminder_hours_before">Terminerinnerung (Stunden vorher)' in page
    assert 'aria-describedby="id_reminder_hours_before_helptext"' in page
    assert 'id="id_reminder_hours_before_helptext"' in page


def test_saving_normalises_and_stores_every_field(admin, organisation):
    response = admin.post(URL, VALID)

    assert response.status_code == 302 and response.url == URL
    organisation.refresh_from_db()
    assert organisation.name == "Praxis am See"
    assert organisation.phone == "+49301234567"
    assert organisation.email == "praxis@see.test"
    assert organisation.iban == "DE89370400440532013000"
    assert organisation.bic == "COBADEFFXXX"
    assert (organisation.payment_term_days, organisation.reminder_hours_before) == (21, 48)
    assert organisation.small_business is False
    assert "Die Praxisdaten sind gespeichert." in admin.get(URL).content.decode()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "Dieses Feld ist zwingend erforderlich."),
        ("iban", "DE89 3704 0044 0532 0130 01", "Ungültige IBAN."),
        ("phone", "1", "Keine gültige Telefonnummer."),
        ("email", "keine-adresse", "gültige E-Mail-Adresse"),
        ("reminder_hours_before", "169", "kleiner oder gleich 168"),
        ("reminder_hours_before", "-1", "größer oder gleich 0"),
        ("payment_term_days", "viele", "ganze Zahl"),
    ],
)
def test_bad_input_is_a_422_with_a_german_message_and_changes_nothing(
    admin, organisation, field, value, message
):
    before = Organisation.objects.values().get(pk=organisation.pk)

    response = admin.post(URL, {**VALID, field: value})

    assert response.status_code == 422
    assert message in response.content.decode()
    assert Organisation.objects.values().get(pk=organisation.pk) == before


def test_zero_hours_switches_reminders_off(admin, organisation):
    admin.post(URL, {**VALID, "reminder_hours_before": "0"})

    organisation.refresh_from_db()
    assert organisation.reminder_hours_before == 0


def test_forbidden_and_missing_pages_answer_in_german(client, organisation):
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF))

    forbidden = client.get(URL)
    missing = client.get(f"/akten/{uuid.uuid4()}/")

    assert forbidden.status_code == 403
    assert "Kein Zugriff" in forbidden.content.decode()
    assert "Diese Seite sehen nur Organisations-Admins." in forbidden.content.decode()
    assert missing.status_code == 404
    assert "Nicht gefunden" in missing.content.decode()
