"""The stored PDF itself, read back as text with pdfminer.six: what a recipient, a tax
advisor or an auditor would read in the file."""

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from pdfminer.high_level import extract_text
from pdfminer.layout import LAParams

from appointments.models import AppointmentStatus, ColumnKind
from billing import archive, services
from billing.pdf import EXEMPT_NOTE, SMALL_BUSINESS_NOTE
from billing.selectors import access_invoice
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db

THERAPY = ("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25)
OIL = ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0)


def _stored_text(invoice) -> str:
    fresh = access_invoice(organisation=invoice.organisation, public_id=invoice.public_id)
    content = archive.invoice_pdf(fresh)
    return _text_of(content)


def _text_of(content: bytes) -> str:
    """The PDF's text in reading order of its rows (label and amount side by side),
    white space collapsed."""
    return " ".join(extract_text(io.BytesIO(content), laparams=LAParams(boxes_flow=None)).split())


def _issued(organisation, actor, *, services_, no_show=False, column=None):
    patient = PatientFactory(organisation=organisation)
    chain = ServiceChainFactory(organisation=organisation, services=services_)
    column = column or CalendarColumnFactory(organisation=organisation, name="Jonas Weber")
    booked = [
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            calendar_column=column,
            start=timezone.now() - timedelta(days=2),
        )
    ]
    if no_show:
        booked.append(
            AppointmentFactory(
                organisation=organisation,
                patient=patient,
                calendar_column=column,
                service_chain=None,
                status=AppointmentStatus.NO_SHOW,
            )
        )
    draft = services.invoice_create(
        organisation=organisation, actor=actor, patient=patient, appointments=booked
    )
    return services.invoice_issue(invoice=draft, actor=actor)


@pytest.fixture
def practice(organisation):
    organisation.tax_number, organisation.vat_id = "21/815/08150", "DE123456788"
    organisation.no_show_fee = Decimal("30.00")
    organisation.save()
    return organisation


def test_tax_number_and_vat_id_are_printed_under_their_own_labels(practice, admin_user):
    text = _stored_text(_issued(practice, admin_user, services_=[THERAPY]))

    assert "Steuernummer 21/815/08150" in text
    assert "USt-IdNr. DE123456788" in text
    assert "St.-Nr." not in text


def test_each_line_names_its_therapist(practice, admin_user):
    text = _stored_text(_issued(practice, admin_user, services_=[THERAPY, OIL]))

    assert text.count("Therapeut/in: Jonas Weber") == 2


def test_a_room_prints_no_therapist(practice, admin_user):
    room = CalendarColumnFactory(organisation=practice, name="Raum 1", kind=ColumnKind.ROOM)

    text = _stored_text(_issued(practice, admin_user, services_=[THERAPY], column=room))

    assert "Therapeut/in" not in text and "Raum 1" not in text


def test_exempt_invoice_prints_the_exemption_note(practice, admin_user):
    text = _stored_text(_issued(practice, admin_user, services_=[THERAPY]))

    assert EXEMPT_NOTE in text
    assert "frei" in text


def test_mixed_invoice_splits_by_category_and_notes_the_exemption(practice, admin_user):
    invoice = _issued(practice, admin_user, services_=[THERAPY, OIL], no_show=True)

    text = _stored_text(invoice)

    assert EXEMPT_NOTE in text
    assert f"Rechnung {invoice.number} · Seite 1 von 1" in text
    for row in (
        "Umsatzsteuerfreie Heilbehandlungen 32,50 €",
        "Nicht steuerbar 30,00 €",
        "Nettobetrag zu 19 % 8,40 €",
        "zzgl. 19 % Umsatzsteuer 1,60 €",
        "Rechnungsbetrag 72,50 €",
    ):
        assert row in text, row
    assert "Ausfallhonorar" in text


def test_no_exemption_note_without_an_exempt_line(practice, admin_user):
    """A 0 % line that is not a therapy (the no-show fee) gets no healing-profession
    exemption; neither does a taxed one."""
    fee_only = _issued(practice, admin_user, services_=[OIL], no_show=True)

    text = _stored_text(fee_only)

    assert EXEMPT_NOTE not in text
    assert "§ 4 Nr. 14" not in text


def test_small_business_prints_only_its_note(practice, admin_user):
    practice.small_business = True
    practice.save()

    text = _stored_text(_issued(practice, admin_user, services_=[THERAPY, OIL]))

    assert SMALL_BUSINESS_NOTE in text and EXEMPT_NOTE not in text


def test_stored_bytes_are_identical_after_pay_and_cancel(practice, admin_user):
    invoice = _issued(practice, admin_user, services_=[THERAPY, OIL])
    document = invoice.documents.get()
    with document.file.open("rb") as file:
        at_issue = file.read()

    services.invoice_pay(invoice=invoice, actor=admin_user)
    after_pay = archive.invoice_pdf(invoice)
    services.invoice_cancel(invoice=invoice, actor=admin_user)
    after_cancel = archive.invoice_pdf(invoice)

    assert after_pay == at_issue and after_cancel == at_issue
    text = _text_of(after_cancel)
    assert re.search(r"Rechnung \d{4}-\d{4}", text)
    assert "STORNIERT" not in text and "beglichen" not in text
