"""The GiroCode: an EPC QR code (guideline EPC069-12, version 002) that a banking app
reads to fill in a SEPA credit transfer (staff-api.md, "Money in"; money-de.md).

The payload is lines separated by LF, in this order, with nothing after the last
element given:

    BCD · 002 · 1 (UTF-8) · SCT · BIC (may be empty in the EEA since version 002) ·
    beneficiary name (≤ 70) · IBAN · EUR<amount> (a dot, two decimals) ·
    purpose code (empty) · structured reference (empty) · remittance text (≤ 140)

The beneficiary-to-originator information (the twelfth element) is not used, so the
remittance text is the last line. At most 331 bytes in all.

The symbol is made by segno (error correction level M, as the guideline requires,
never raised; the payload's UTF-8 bytes in byte mode) and printed as inline SVG.
Who prints it decides the amount: an issued invoice the total due at issue, a
dunning notice what is open then plus its fee (billing.pdf.girocode_svg)."""

import re
from decimal import Decimal

import segno

MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")
MAX_NAME = 70
MAX_REMITTANCE = 140
MAX_BYTES = 331

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


class GiroCodeError(ValueError):
    """The data cannot make a valid EPC payload; the message is German."""


def _compact(value: str) -> str:
    return "".join((value or "").split()).upper()


def _iban_valid(iban: str) -> bool:
    if not _IBAN.fullmatch(iban):
        return False
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def epc_payload(*, bic: str, name: str, iban: str, amount: Decimal, remittance: str) -> str:
    """The EPC069-12 version 002 payload of a credit transfer of `amount` euros to
    `name` (`iban`, `bic` may be empty) with `remittance` as the unstructured
    remittance text. Raises GiroCodeError naming what does not fit."""
    bic, iban = _compact(bic), _compact(iban)
    name = " ".join((name or "").split())
    remittance = " ".join((remittance or "").split())
    if bic and not _BIC.fullmatch(bic):
        raise GiroCodeError("Die BIC ist ungültig (8 oder 11 Zeichen).")
    if not name:
        raise GiroCodeError("Der Name des Zahlungsempfängers fehlt.")
    if len(name) > MAX_NAME:
        raise GiroCodeError(f"Der Name des Zahlungsempfängers ist länger als {MAX_NAME} Zeichen.")
    if not iban:
        raise GiroCodeError("Die IBAN fehlt.")
    if not _iban_valid(iban):
        raise GiroCodeError("Die IBAN ist ungültig.")
    if not isinstance(amount, Decimal) or amount != amount.quantize(MIN_AMOUNT):
        raise GiroCodeError(
            "Der Betrag muss ein Dezimalbetrag mit höchstens zwei Nachkommastellen sein."
        )
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise GiroCodeError("Der Betrag muss zwischen 0,01 € und 999.999.999,99 € liegen.")
    if len(remittance) > MAX_REMITTANCE:
        raise GiroCodeError(f"Der Verwendungszweck ist länger als {MAX_REMITTANCE} Zeichen.")
    lines = ["BCD", "002", "1", "SCT", bic, name, iban, f"EUR{amount:.2f}", "", "", remittance]
    while lines[-1] == "":  # nothing after the last element given
        lines.pop()
    payload = "\n".join(lines)
    if len(payload.encode("utf-8")) > MAX_BYTES:
        raise GiroCodeError(f"Die Zahlungsdaten sind länger als {MAX_BYTES} Bytes.")
    return payload


def epc_qr_svg(payload: str) -> str:
    """The payload as a QR code (level M, its UTF-8 bytes), an inline <svg> element
    without a fixed size: the document's CSS sizes it; the quiet zone of four
    modules is part of it."""
    code = segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False)
    return code.svg_inline(omitsize=True, svgclass="girocode", lineclass=None)
