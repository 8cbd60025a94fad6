"""Form fields the staff pages share: text taken as the APIs take it
(lemniscus.text.clean: NFC-normalised and trimmed)."""

from django import forms

from lemniscus.text import clean


class CleanCharField(forms.CharField):
    """NFC-normalised and trimmed text; optional unless said otherwise."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def to_python(self, value):
        return clean(super().to_python(value))
