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
