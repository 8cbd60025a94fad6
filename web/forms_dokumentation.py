"""Forms of the documentation pages: an entry, a correction, an upload. The rules
(length, what a file may be) stay in documentation.services."""

from django import forms
from django.utils import timezone

from web.fields import CleanCharField


class EntryForm(forms.Form):
    text = CleanCharField(
        label="Dokumentation",
        required=True,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Bitte einen Text eingeben."},
    )
    appointment = forms.ChoiceField(label="Zum Termin", required=False)

    def __init__(self, *args, appointments=(), zone=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["appointment"].choices = [("", "– ohne Termin –")] + [
            (
                str(a.public_id),
                f"{timezone.localtime(a.start, zone):%d.%m.%Y %H:%M} · {a.calendar_column.name}",
            )
            for a in appointments
        ]


class CorrectionForm(forms.Form):
    text = CleanCharField(
        label="Korrektur",
        required=True,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": "Bitte einen Text eingeben."},
    )


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Datei",
        error_messages={
            "required": "Bitte eine Datei wählen.",
            "empty": "Die Datei ist leer.",
        },
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )
    description = CleanCharField(label="Beschreibung", max_length=500)
