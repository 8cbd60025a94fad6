"""Phone numbers are stored in E.164, parsed with region DE when they carry no country code."""

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "DE"


def normalize_phone(value: str | None) -> str:
    """E.164 form of `value`; `""` for none. Raises ValidationError (German) when the
    phonenumbers library does not consider the number possible."""
    if value is None or not str(value).strip():
        return ""
    try:
        number = phonenumbers.parse(str(value), DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("Keine gültige Telefonnummer.", code="invalid_phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationError("Keine mögliche Telefonnummer.", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(value: str | None) -> str:
    """A stored number as staff read it: German ones in national form ("0160 4495677"),
    others in international form ("+43 1 234567"); what cannot be parsed as it is."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(str(value), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return str(value)
    if number.country_code == phonenumbers.country_code_for_region(DEFAULT_REGION):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
