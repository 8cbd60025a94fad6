import re
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.pdf import (
    EXEMPT_NOTE,
    SMALL_BUSINESS_NOTE,
    cancellation_html,
    cancellation_pdf,
    invoice_html,
    invoice_pdf,
)
from billing.selectors import access_invoice
from tests.factories import AppointmentFactory, ServiceChainFactory

pytestmark = pytest.mark.django_db


def _text(invoice, render=invoice_html) -> str:
    """The rendered invoice (or with `render=cancellation_html` its cancellation
    document) as plain text, white space collapsed."""
    fresh = access_invoice(organisation=invoice.organisation, public_id=invoice.public_id)
    html = re.sub(r"<style>.*?</style>", " ", render(fresh), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _storno_text(invoice) -> str:
    return _text(invoice, cancellation_html)


def test_draft_is_marked_and_has_no_number(draft):
    text = _text(draft)

    assert "ENTWURF" in text
    assert "Rechnungsentwurf" in text
    assert "STORNIERT" not in text
    assert "Fällig am" not in text
    assert "innerhalb von 14 Tagen nach Rechnungsdatum" in text


def test_issued_invoice_shows_what_the_law_asks(organisation, admin_user, patient, draft):
    organisation.phone = "+49301234567"
    organisation.email = "praxis@see.test"
    organisation.bank_account_holder = "Anna Beispiel"
    organisation.save()
    invoice = services.invoice_issue(invoice=draft, actor=admin_user)

    text = _text(invoice)

    assert "ENTWURF" not in text and "STORNIERT" not in text
    for fact in (
        organisation.name,
        organisation.owner_name,
        "Seestraße 1",
        "12345 Berlin",
        "030 1234567",  # printed nationally (issue 13)
        "praxis@see.test",
        "12/345/67890",
        patient.last_name,
        "Hauptstraße 5",
        "10115 Berlin",
        f"Rechnung {invoice.number}",
        invoice.issue_date.strftime("%d.%m.%Y"),
        f"bis zum {invoice.due_date.strftime('%d.%m.%Y')}",
        "DE89 3704 0044 0532 0130 00",
        "COBADEFFXXX",
        "Anna Beispiel",
        "X1501 Krankengymnastik Therapeut/in: Therapeut",
        "1 32,50 € frei 32,50 €",
        "W1 Massageöl Therapeut/in: Therapeut",
        "1 8,40 € 19 % 8,40 €",
    ):
        assert fact in text, fact
    line_dates = {line.service_date.strftime("%d.%m.%Y") for line in invoice.lines.all()}
    assert all(day in text for day in line_dates)


def test_totals_are_split_by_rate_with_the_exemption_note(draft):
    text = _text(draft)

    assert "Umsatzsteuerfreie Heilbehandlungen 97,50 €" in text
    assert "Nettobetrag zu 19 % 25,20 €" in text
    assert "zzgl. 19 % Umsatzsteuer 4,79 €" in text
    assert "Rechnungsbetrag 127,49 €" in text
    assert EXEMPT_NOTE in text
    assert SMALL_BUSINESS_NOTE not in text


def test_fully_taxed_invoice_has_no_exemption_note(organisation, admin_user, patient):
    chain = ServiceChainFactory(
        organisation=organisation,
        services=[("K7", "Kurs", Decimal("1234.56"), Decimal("7.00"), 60)],
    )
    booked = AppointmentFactory(organisation=organisation, patient=patient, service_chain=chain)
    invoice = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[booked]
    )

    text = _text(invoice)

    assert "Nettobetrag zu 7 % 1.234,56 €" in text
    assert "zzgl. 7 % Umsatzsteuer 86,42 €" in text
    assert "Rechnungsbetrag 1.320,98 €" in text
    assert EXEMPT_NOTE not in text


@pytest.fixture
def small_business_draft(organisation, admin_user, patient, appointments):
    organisation.small_business = True
    organisation.save()
    return services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=appointments
    )


def test_small_business_shows_the_section_19_note_instead_of_any_tax(small_business_draft):
    text = _text(small_business_draft)

    assert SMALL_BUSINESS_NOTE in text
    assert EXEMPT_NOTE not in text
    assert "zzgl." not in text and " % " not in text
    assert "Einzelpreis Betrag" in text  # no VAT column
    assert "Rechnungsbetrag 122,70 €" in text


@pytest.mark.parametrize("later", [services.invoice_pay, services.invoice_cancel])
def test_issued_invoice_prints_the_same_whatever_happens_later(admin_user, draft, later):
    """Status is shown by the pages and the API; the invoice as issued never says it
    was paid or cancelled (it is archived as issued)."""
    issued = services.invoice_issue(invoice=draft, actor=admin_user)
    before = _text(issued)

    after = _text(later(invoice=issued, actor=admin_user))

    assert after == before
    assert "Bitte überweisen Sie den Rechnungsbetrag von 127,49 €" in after
    assert "STORNIERT" not in after and "beglichen" not in after


def test_pdf_renders(draft):
    fresh = access_invoice(organisation=draft.organisation, public_id=draft.public_id)

    assert invoice_pdf(fresh).startswith(b"%PDF-")


def test_an_issued_invoice_keeps_the_parties_it_was_issued_to(
    organisation, admin_user, patient, draft
):
    """§ 14 UStG / GoBD: an issued invoice never changes. Later edits of the practice
    or the patient show on drafts, not on what was issued."""
    issued = services.invoice_issue(invoice=draft, actor=admin_user)
    organisation.street, organisation.iban = "Neue Allee 9", "DE02120300000000202051"
    organisation.save()
    patient.last_name, patient.street = "Umbenannt", "Umzugsweg 3"
    patient.save()
    later = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=ServiceChainFactory(organisation=organisation),
        status="done",
    )
    new_draft = services.invoice_create(
        organisation=organisation, patient=patient, appointments=[later], actor=admin_user
    )

    before = _text(issued)
    assert "Seestraße 1" in before and "Hauptstraße 5" in before
    assert "DE89 3704 0044 0532 0130 00" in before
    assert "Neue Allee" not in before and "Umbenannt" not in before
    now = _text(new_draft)
    assert "Neue Allee 9" in now and "Umzugsweg 3" in now and "Umbenannt" in now
    cancelled = services.invoice_cancel(invoice=issued, actor=admin_user)
    assert "Hauptstraße 5" in _text(cancelled) and "Umzugsweg" not in _text(cancelled)


# The cancellation document (Stornorechnung)


def _cancelled(invoice, actor, *, paid=False):
    services.invoice_issue(invoice=invoice, actor=actor)
    if paid:
        services.invoice_pay(invoice=invoice, actor=actor)
    return services.invoice_cancel(invoice=invoice, actor=actor)


def test_storno_negates_every_line_and_total_and_refers_to_the_invoice(
    organisation, admin_user, draft
):
    cancelled = _cancelled(draft, admin_user)
    issued_on = cancelled.issue_date.strftime("%d.%m.%Y")

    text = _storno_text(cancelled)

    assert f"Stornorechnung {cancelled.cancellation_number}" in text
    assert f"zur Rechnung {cancelled.number} vom {issued_on}" in text
    assert f"Storno-Nr. {cancelled.cancellation_number}" in text
    assert f"Stornodatum {cancelled.cancellation_date.strftime('%d.%m.%Y')}" in text
    assert text.count("1 -32,50 € frei -32,50 €") == 3
    assert text.count("1 -8,40 € 19 % -8,40 €") == 3
    assert "Umsatzsteuerfreie Heilbehandlungen -97,50 €" in text
    assert "Nettobetrag zu 19 % -25,20 €" in text
    assert "zzgl. 19 % Umsatzsteuer -4,79 €" in text
    assert "Stornobetrag -127,49 €" in text
    assert EXEMPT_NOTE in text
    assert f"Der Rechnungsbetrag der Rechnung {cancelled.number} wird hiermit storniert." in text
    assert "Es ist nichts mehr zu bezahlen." in text
    for absent in ("Bitte überweisen", "Verwendungszweck", "Fällig am", "STORNIERT", "erstattet"):
        assert absent not in text, absent
    assert " 32,50 €" not in text and "Rechnungsbetrag 127,49" not in text


def test_storno_of_a_paid_invoice_says_the_amount_is_refunded(organisation, admin_user, draft):
    cancelled = _cancelled(draft, admin_user, paid=True)
    paid_on = timezone.localdate(cancelled.paid_at, organisation.zone).strftime("%d.%m.%Y")

    text = _storno_text(cancelled)

    assert f"Der am {paid_on} gezahlte Betrag von 127,49 € wird Ihnen erstattet." in text
    assert "nichts mehr zu bezahlen" not in text


def test_storno_of_a_small_business_keeps_the_section_19_note(admin_user, small_business_draft):
    text = _storno_text(_cancelled(small_business_draft, admin_user))

    assert SMALL_BUSINESS_NOTE in text and EXEMPT_NOTE not in text
    assert "zzgl." not in text and "Einzelpreis Betrag" in text
    assert "Stornobetrag -122,70 €" in text


def test_storno_shows_the_parties_the_invoice_was_issued_to(
    organisation, admin_user, patient, draft
):
    services.invoice_issue(invoice=draft, actor=admin_user)
    organisation.street, organisation.tax_number = "Neue Allee 9", "99/999/99999"
    organisation.save()
    patient.last_name, patient.street = "Umbenannt", "Umzugsweg 3"
    patient.save()

    text = _storno_text(services.invoice_cancel(invoice=draft, actor=admin_user))

    for frozen in ("Seestraße 1", "12/345/67890", "Hauptstraße 5", "10115 Berlin"):
        assert frozen in text, frozen
    for later in ("Neue Allee", "99/999/99999", "Umbenannt", "Umzugsweg"):
        assert later not in text, later


def test_only_a_cancelled_issued_invoice_has_a_storno_document(admin_user, draft):
    with pytest.raises(ValueError):
        cancellation_html(draft)
    discarded = services.invoice_cancel(invoice=draft, actor=admin_user)
    with pytest.raises(ValueError):
        cancellation_html(discarded)


def test_storno_pdf_renders(admin_user, draft):
    cancelled = _cancelled(draft, admin_user)
    fresh = access_invoice(organisation=cancelled.organisation, public_id=cancelled.public_id)

    assert cancellation_pdf(fresh).startswith(b"%PDF-")


def test_the_practice_phone_is_printed_nationally(organisation, draft):
    """Stored in E.164, printed as a German reads it (issue 13)."""
    organisation.phone = "+49301234567"
    organisation.save(update_fields=["phone"])

    text = _text(draft)

    assert "030 1234567" in text and "+49301234567" not in text
