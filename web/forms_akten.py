"""Forms of the Akten pages: the Stammdaten, the searches and the sync-log filter.

Text is taken as the APIs take it (lemniscus.text.clean, phones in E.164 through
lemniscus.phones, e-mail lower-cased); the rules themselves stay in the services."""

from django import forms
from django.forms.boundfield import BoundField

from lemniscus.phones import display_phone, normalize_phone
from lemniscus.text import clean
from patients import platforms
from patients.models import Salutation
from web.fields import CleanCharField

DOCTOLIB_LED_HINT = "Diese Felder führt Doctolib; Änderungen bitte in Doctolib vornehmen."
DOCTOLIB_LED_HINT_ID = "doctolib-led-hint"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d.%m.%Y"]


class PhoneField(CleanCharField):
    """A phone number as typed; stored in E.164 (region DE without country code)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        return normalize_phone(super().to_python(value))

    def prepare_value(self, value):
        """Shown in national form ("0160 4495677"); saved in E.164 again."""
        return display_phone(value) if value and str(value).startswith("+") else value


class CleanEmailField(forms.EmailField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_python(self, value):
        return clean(super().to_python(value)).lower()


class ReadOnlyBoundField(BoundField):
    """A field Doctolib leads: shown read-only (still reachable by keyboard, unlike a
    disabled input) and, being `disabled` in the form, never taken from the POST."""

    def build_widget_attrs(self, attrs, widget=None):
        attrs = super().build_widget_attrs(attrs, widget)
        attrs.pop("disabled", None)
        attrs["readonly"] = True
        return attrs


class PatientForm(forms.Form):
    """The Stammdaten of a record: every patient field of the staff API."""

    salutation = forms.ChoiceField(label="Anrede", choices=Salutation.choices, required=False)
    title = CleanCharField(label="Titel", max_length=50)
    first_name = CleanCharField(label="Vorname", max_length=100)
    last_name = CleanCharField(label="Nachname", max_length=100, required=True)
    birth_date = forms.DateField(
        label="Geburtsdatum",
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    email = CleanEmailField(label="E-Mail")
    mobile_phone = PhoneField(label="Mobil")
    landline_phone = PhoneField(label="Festnetz privat")
    street = CleanCharField(label="Straße", max_length=200)
    postal_code = CleanCharField(label="PLZ", max_length=10)
    city = CleanCharField(label="Ort", max_length=100)
    notes = CleanCharField(
        label="Notizen", max_length=20000, widget=forms.Textarea(attrs={"rows": 4})
    )
    reminder_consent = forms.BooleanField(
        label="E-Mail-Erinnerungen",
        required=False,
        help_text="Die Patientin / der Patient möchte Terminerinnerungen per E-Mail "
        "(Einwilligung).",
    )
    sync_to_doctolib = forms.BooleanField(
        label="Doctolib",
        required=False,
        help_text="Die Akte an Doctolib übertragen und mit Doctolib abgleichen.",
    )

    def __init__(self, *args, patient=None, can_edit: bool = True, **kwargs):
        if patient is not None:
            kwargs.setdefault(
                "initial", {name: getattr(patient, name) for name in self.base_fields}
            )
        super().__init__(*args, **kwargs)
        self.led_field_names = platforms.led_fields(patient) if patient is not None else []
        for name in self.led_field_names:
            field = self.fields[name]
            field.disabled = True
            field.bound_field_class = ReadOnlyBoundField
            field.widget.attrs["aria-describedby"] = DOCTOLIB_LED_HINT_ID
        if patient is not None and patient.doctolib_patient_id:
            self.fields["sync_to_doctolib"].help_text = (
                f"Mit Doctolib verknüpft (Doctolib-Patient {patient.doctolib_patient_id}); "
                "das Häkchen bleibt gesetzt, solange die Verknüpfung besteht."
            )
        if not can_edit:
            for field in self.fields.values():
                field.disabled = True

    @property
    def own_fields(self) -> list[BoundField]:
        return [self[name] for name in self.fields if name not in self.led_field_names]

    @property
    def led_fields(self) -> list[BoundField]:
        return [self[name] for name in self.led_field_names]

    def changes(self) -> dict:
        """The values staff may change here (not the fields Doctolib leads)."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if not self.fields[name].disabled
        }


class NewLinkedPatientForm(PatientForm):
    """A new record for a Doctolib patient: it gets the checkbox with the link."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["sync_to_doctolib"]


class AktenSearchForm(forms.Form):
    q = CleanCharField(
        label="Akte suchen",
        max_length=100,
        help_text="Name, Geburtsdatum (TT.MM.JJJJ) oder Telefonnummer",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    archiviert = forms.BooleanField(label="Archivierte zeigen", required=False)


class SuggestionForm(forms.Form):
    """The "Vorschlags-Patient" search: a prefix of the last name; first name and
    birth date only rank."""

    nachname = CleanCharField(
        label="Nachname",
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    vorname = CleanCharField(label="Vorname", max_length=100)
    geburtsdatum = forms.DateField(
        label="Geburtsdatum",
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


# German names of the Zipper API's answers (zipper-api.md), for the sync-log filter.
OUTCOME_LABELS = {
    "created": "angelegt",
    "merged": "zusammengeführt",
    "updated": "aktualisiert",
    "unchanged": "unverändert",
    "ok": "erledigt",
}
CODE_LABELS = {
    "malformed_request": "Anfrage nicht lesbar",
    "token_invalid": "Token ungültig",
    "plan_required": "Abo reicht nicht",
    "rate_limited": "Zu viele Anfragen",
    "not_found": "Nicht gefunden",
    "patient_not_linked": "Akte nicht verknüpft",
    "link_conflict": "Verknüpfung widersprüchlich",
    "appointment_invoiced": "Termin abgerechnet",
    "transfer_expired": "Übertragung abgelaufen",
    "payload_too_large": "Anfrage zu groß",
    "validation_error": "Ungültige Angaben",
    "idempotency_key_reused": "Idempotency-Key schon benutzt",
}


class SyncLogFilterForm(forms.Form):
    ergebnis = forms.ChoiceField(
        label="Ergebnis",
        required=False,
        choices=[
            ("", "Alle Aufrufe"),
            ("ok", "Nur erfolgreiche"),
            ("fehler", "Nur Fehler"),
            ("Ergebnis", [(f"outcome:{k}", v) for k, v in OUTCOME_LABELS.items()]),
            ("Fehlercode", [(f"code:{k}", f"{v} ({k})") for k, v in CODE_LABELS.items()]),
        ],
    )
    patient = CleanCharField(label="Doctolib-Patienten-ID", max_length=64)
    termin = CleanCharField(label="Doctolib-Termin-ID", max_length=64)

    def apply(self, entries):
        """The entries that match the valid filters."""
        if not self.is_valid():
            return entries
        data = self.cleaned_data
        choice = data["ergebnis"]
        if choice == "ok":
            entries = entries.filter(status__lt=400)
        elif choice == "fehler":
            entries = entries.filter(status__gte=400)
        elif choice.startswith("outcome:"):
            entries = entries.filter(outcome=choice.removeprefix("outcome:"))
        elif choice.startswith("code:"):
            entries = entries.filter(code=choice.removeprefix("code:"))
        if data["patient"]:
            entries = entries.filter(doctolib_patient_id=data["patient"])
        if data["termin"]:
            entries = entries.filter(doctolib_appointment_id=data["termin"])
        return entries
