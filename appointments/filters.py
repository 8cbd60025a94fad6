import re

import django_filters
from django import forms

from lemniscus.times import TimeError, parse_aware

# "+01:00" that arrived as " 01:00" because the "+" was not URL-encoded.
_UNENCODED_OFFSET = re.compile(r"(T\S+) (\d{2}(?::?\d{2})?)$")


class AwareDateTimeField(forms.Field):
    """ISO 8601 with offset; a naive time is refused (zipper-api.md, "Times")."""

    default_error_messages = {
        "invalid": "Keine gültige Zeit (ISO 8601 mit Offset erwartet).",
        "naive": "Die Zeit braucht eine Zeitzone (ISO 8601 mit Offset).",
        "range": "Die Zeit liegt außerhalb von 1900 bis 2200.",
    }

    def to_python(self, value):
        if value in self.empty_values:
            return None
        text = _UNENCODED_OFFSET.sub(r"\1+\2", str(value).strip())
        try:
            return parse_aware(text)
        except TimeError as exc:
            raise forms.ValidationError(self.error_messages[exc.code], code=exc.code) from None


class AwareDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = AwareDateTimeField


class AppointmentFilter(django_filters.FilterSet):
    start_after = AwareDateTimeFilter(
        field_name="start", lookup_expr="gte", label="Starts at or after this time."
    )
    start_before = AwareDateTimeFilter(
        field_name="start", lookup_expr="lt", label="Starts before this time."
    )
    calendar_column = django_filters.UUIDFilter(
        field_name="calendar_column__public_id", label="Calendar column id."
    )
    patient = django_filters.UUIDFilter(field_name="patient__public_id", label="Patient id.")
