"""Serializer fields for the contract's conventions (zipper-api.md, "Text")."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from lemniscus.phones import normalize_phone
from lemniscus.text import clean


class CleanCharField(serializers.CharField):
    """NFC-normalised, trimmed text; `null` means none ("")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        return super().to_internal_value(clean(str(data)))


class PhoneField(CleanCharField):
    """A phone number, stored in E.164 (region DE without country code)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return normalize_phone(text)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class CleanEmailField(serializers.EmailField):
    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(clean(data).lower())
