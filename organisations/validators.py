"""The practice's tax identifiers, as § 14 Abs. 4 UStG has them printed: the
Steuernummer of the tax office and the USt-IdNr. of the Federal Central Tax Office.
Checked with python-stdnum (the library django-localflavor builds on)."""

import re

from django.core.exceptions import ValidationError
from stdnum.de import stnr, vat

VAT_ID_PATTERN = re.compile(r"DE\d{9}")


def normalize_tax_number(value: str) -> str:
    """A Steuernummer as the tax office writes it (e.g. `21/815/08150`, or the
    13-digit ELSTER form); "" stays "". Spaces around the parts are dropped."""
    value = " ".join(value.split())
    if not value:
        return ""
    if value.upper().startswith("DE"):
        raise ValidationError(
            "Das ist eine USt-IdNr., keine Steuernummer; bitte im Feld „USt-IdNr.“ eintragen."
        )
    if not stnr.is_valid(value):
        raise ValidationError(
            "Keine gültige Steuernummer (z. B. 21/815/08150 oder 13 Ziffern im ELSTER-Format)."
        )
    return value


def normalize_vat_id(value: str) -> str:
    """A USt-IdNr.: `DE` and nine digits whose last is the check digit (ISO 7064,
    MOD 11,10), written without spaces; "" stays ""."""
    compact = "".join(value.split()).upper()
    if not compact:
        return ""
    if not VAT_ID_PATTERN.fullmatch(compact):
        raise ValidationError("Eine USt-IdNr. besteht aus „DE“ und neun Ziffern.")
    if not vat.is_valid(compact):
        raise ValidationError("Die Prüfziffer der USt-IdNr. stimmt nicht.")
    return compact
