"""The GiroCode (EPC069-12 version 002) on issued invoices: the payload line by line,
and the code itself read back from the stored PDF as a banking app would, with the
page rasterised by poppler's pdftoppm and decoded by zxing-cpp."""

import hashlib
import io
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
import segno
import zxingcpp
from PIL import Image

from billing import archive, services
from billing.girocode import GiroCodeError, epc_payload, epc_qr_svg
from billing.models import DocumentKind
from billing.pdf import invoice_html, invoice_pdf
from billing.selectors import access_invoice
from tests.billing.conftest import make_draft

IBAN = "DE89370400440532013000"
BIC = "COBADEFFXXX"


def _payload(**given) -> str:
    fields = {
        "bic": BIC,
        "name": "Praxis am See",
        "iban": IBAN,
        "amount": Decimal("77.60"),
        "remittance": "2026-0001",
    }
    return epc_payload(**{**fields, **given})


# The payload


def test_payload_has_the_eleven_lines_of_version_002_in_order():
    assert _payload().split("\n") == [
        "BCD",  # service tag
        "002",  # version
        "1",  # UTF-8
        "SCT",  # SEPA credit transfer
        BIC,
        "Praxis am See",
        IBAN,
        "EUR77.60",
        "",  # purpose code
        "",  # structured reference
        "2026-0001",  # unstructured remittance: the invoice number
    ]


def test_nothing_follows_the_last_element():
    payload = _payload()

    assert not payload.endswith("\n")
    assert "\r" not in payload
    assert payload.count("\n") == 10


def test_iban_and_bic_are_compacted_and_upper_case():
    lines = _payload(iban="de89 3704 0044 0532 0130 00", bic="cobadeff xxx").split("\n")

    assert lines[4] == BIC and lines[6] == IBAN


def test_bic_may_be_empty_in_version_002():
    lines = _payload(bic="").split("\n")

    assert lines[1] == "002" and lines[4] == "" and len(lines) == 11


def test_an_eight_character_bic_is_taken():
    assert _payload(bic="COBADEFF").split("\n")[4] == "COBADEFF"


@pytest.mark.parametrize(
    ("amount", "printed"),
    [
        (Decimal("0.01"), "EUR0.01"),
        (Decimal("7.6"), "EUR7.60"),
        (Decimal("12"), "EUR12.00"),
        (Decimal("1234.56"), "EUR1234.56"),
        (Decimal("999999999.99"), "EUR999999999.99"),
    ],
)
def test_amount_is_eur_with_a_dot_and_two_decimals(amount, printed):
    assert _payload(amount=amount).split("\n")[7] == printed


@pytest.mark.parametrize(
    "amount", [Decimal("0.00"), Decimal("-5.00"), Decimal("1000000000.00"), Decimal("1.005")]
)
def test_amount_out_of_bounds_or_with_fractions_of_a_cent_is_refused(amount):
    with pytest.raises(GiroCodeError, match="Betrag"):
        _payload(amount=amount)


def test_umlauts_in_the_name_are_kept_and_counted_as_utf8():
    name = "Physiotherapie Müller & Söhne – Straße"
    payload = _payload(name=name)

    assert payload.split("\n")[5] == name
    assert payload.split("\n")[2] == "1"
    assert len(payload.encode("utf-8")) > len(payload)


def test_name_of_seventy_characters_is_taken_and_seventy_one_refused():
    assert _payload(name="Ä" * 70).split("\n")[5] == "Ä" * 70
    with pytest.raises(GiroCodeError, match="länger als 70 Zeichen"):
        _payload(name="Ä" * 71)


def test_remittance_of_140_characters_is_taken_and_141_refused():
    assert _payload(remittance="R" * 140).split("\n")[10] == "R" * 140
    with pytest.raises(GiroCodeError, match="länger als 140 Zeichen"):
        _payload(remittance="R" * 141)


def test_payload_over_331_bytes_is_refused():
    """70 three-byte characters in the name and 140 of remittance pass every field's
    limit but not the whole code's."""
    with pytest.raises(GiroCodeError, match="331 Bytes"):
        _payload(name="€" * 70, remittance="R" * 140)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"iban": ""}, "Die IBAN fehlt."),
        ({"iban": "DE89370400440532013001"}, "Die IBAN ist ungültig."),
        ({"iban": "DE89"}, "Die IBAN ist ungültig."),
        ({"bic": "COBA"}, "Die BIC ist ungültig"),
        ({"name": "  "}, "Der Name des Zahlungsempfängers fehlt."),
    ],
)
def test_invalid_data_is_refused_in_german(given, message):
    with pytest.raises(GiroCodeError, match=message):
        _payload(**given)


def test_svg_decodes_to_the_payload_at_error_correction_level_m():
    payload = _payload(name="Praxis Müller")
    svg = epc_qr_svg(payload)
    assert svg.startswith("<svg") and "viewBox" in svg

    png = io.BytesIO()  # the same symbol as a bitmap, from the same library
    segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False).save(
        png, kind="png", scale=4
    )
    (barcode,) = zxingcpp.read_barcodes(Image.open(png))
    assert barcode.bytes == payload.encode("utf-8")
    assert barcode.ec_level == "M"


# The code on the stored PDF


def _codes(content: bytes) -> list[tuple[int, bytes]]:
    """Every QR code on every page of the PDF: (page, raw bytes), page 1 first."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "invoice.pdf"
        path.write_bytes(content)
        subprocess.run(
            ["pdftoppm", "-r", "200", "-gray", "-png", str(path), str(Path(folder) / "page")],
            check=True,
            timeout=60,
        )
        pages = sorted(Path(folder).glob("page-*.png"), key=lambda p: int(p.stem.split("-")[1]))
        found = []
        for number, page in enumerate(pages, start=1):
            with Image.open(page) as image:
                for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode):
                    found.append((number, barcode.bytes))
        return found


def _fresh(invoice):
    return access_invoice(organisation=invoice.organisation, public_id=invoice.public_id)


@pytest.mark.django_db
def test_stored_pdf_of_an_issued_invoice_carries_the_girocode(organisation, admin_user):
    organisation.bank_account_holder = "Anna Beispiel-Müller"
    organisation.save()
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user, count=2), actor=admin_user
    )
    invoice = _fresh(invoice)
    stored = archive.invoice_pdf(invoice)
    document = invoice.documents.get(kind=DocumentKind.INVOICE)
    assert hashlib.sha256(stored).hexdigest() == document.sha256  # the archived bytes

    codes = _codes(stored)

    assert [page for page, _ in codes] == [1]
    lines = codes[0][1].decode("utf-8").split("\n")
    assert lines == [
        "BCD",
        "002",
        "1",
        "SCT",
        "COBADEFFXXX",
        "Anna Beispiel-Müller",
        "DE89370400440532013000",
        f"EUR{invoice.total:.2f}",
        "",
        "",
        invoice.number,
    ]
    assert invoice.total == Decimal("65.00")


@pytest.mark.django_db
def test_code_names_the_practice_without_account_holder_and_may_lack_a_bic(
    organisation, admin_user
):
    organisation.bic = ""
    organisation.save()
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )

    ((_, raw),) = _codes(archive.invoice_pdf(_fresh(invoice)))

    lines = raw.decode("utf-8").split("\n")
    assert lines[4] == "" and lines[5] == "Praxis am See" and lines[7] == "EUR32.50"


@pytest.mark.django_db
def test_the_code_is_frozen_with_the_invoice(organisation, admin_user):
    """Archived as issued: later bank details do not reach the stored code."""
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    organisation.iban, organisation.bic = "DE02120300000000202051", "BYLADEM1001"
    organisation.save()

    ((_, raw),) = _codes(archive.invoice_pdf(_fresh(invoice)))

    assert raw.decode("utf-8").split("\n")[6] == IBAN


@pytest.mark.django_db
def test_draft_has_no_code(organisation, admin_user):
    draft = make_draft(organisation=organisation, actor=admin_user)

    assert _codes(archive.invoice_pdf(_fresh(draft))) == []
    assert "<svg" not in invoice_html(_fresh(draft))


@pytest.mark.django_db
def test_invoice_without_amount_to_pay_has_no_code(organisation, admin_user):
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )

    assert "<svg" in invoice_html(_fresh(invoice))
    assert "<svg" not in invoice_html(_fresh(invoice), amount_due=Decimal("0.00"))


@pytest.mark.django_db
def test_invoice_without_iban_has_no_code(organisation, admin_user):
    """Issuing needs an IBAN today; an invoice frozen without one (issued before
    that check) prints no code."""
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    invoice = _fresh(invoice)
    invoice.parties["sender"]["iban"] = ""

    assert "<svg" not in invoice_html(invoice)
    assert _codes(invoice_pdf(invoice)) == []


@pytest.mark.django_db
def test_cancellation_document_has_no_code(organisation, admin_user):
    invoice = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    cancelled = services.invoice_cancel(invoice=invoice, actor=admin_user)

    fresh = _fresh(cancelled)
    assert _codes(archive.cancellation_pdf(fresh)) == []
    assert len(_codes(archive.invoice_pdf(fresh))) == 1  # the invoice keeps its own


@pytest.mark.django_db
def test_amount_is_a_parameter_of_the_render(organisation, admin_user):
    """What a dunning notice uses: the open amount plus its fee."""
    invoice = _fresh(
        services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
    )

    ((_, raw),) = _codes(invoice_pdf(invoice, amount_due=Decimal("37.50")))

    assert raw.decode("utf-8").split("\n")[7] == "EUR37.50"


@pytest.mark.django_db
def test_bank_details_that_make_no_valid_code_leave_it_out_and_say_so(
    organisation, admin_user, caplog
):
    """The API checks IBAN and BIC; data that got past it costs the code, not the issue."""
    invoice = _fresh(
        services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
    )
    invoice.parties["sender"]["iban"] = "DE89370400440532013001"  # wrong check digits

    html = invoice_html(invoice)

    assert "<svg" not in html and "DE89 3704 0044 0532 0130 01" in html
    assert "Die IBAN ist ungültig." in caplog.text
