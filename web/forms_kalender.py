"""Forms of the calendar pages: the calendar's navigation and an appointment (new or
edited). Times are entered in the organisation's zone (the views activate it)."""

from django import forms

from appointments.models import Appointment, AppointmentSource, AppointmentStatus, CalendarColumn
from appointments.services import ALLOWED_TRANSITIONS
from billing.models import ServiceChain
from doctolib_bridge.fields import DOCTOLIB_OWNED_APPOINTMENT_FIELDS
from lemniscus.tenancy import parse_public_id, scoped
from lemniscus.text import clean
from lemniscus.times import EARLIEST_YEAR, LATEST_YEAR, TimeError, parse_aware
from patients.models import Patient

VIEWS = [("tag", "Tag"), ("woche", "Woche")]


def patient_label(patient: Patient) -> str:
    born = f" (geb. {patient.birth_date:%d.%m.%Y})" if patient.birth_date else ""
    return f"{patient.display_name}{born}"


def columns_of(organisation):
    return scoped(CalendarColumn, organisation).order_by("position", "name", "id")


class PublicIdChoiceField(forms.ModelChoiceField):
    """A row of the organisation chosen by its public id; a malformed id is an invalid
    choice like an unknown one."""

    def __init__(self, **kwargs):
        super().__init__(queryset=kwargs.pop("queryset"), to_field_name="public_id", **kwargs)

    def to_python(self, value):
        if value not in self.empty_values and parse_public_id(value) is None:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)


class PatientChoiceField(PublicIdChoiceField):
    """A record chosen among search results: the widget lists only the results (and the
    current choice); the chosen id is looked up among all the organisation's records."""

    def label_from_instance(self, obj):
        return patient_label(obj)


class CalendarNavigationForm(forms.Form):
    """The calendar's query string: `datum`, `spalte`, `ansicht` (decisions.md)."""

    datum = forms.DateField(
        label="Datum",
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Kein gültiges Datum; gezeigt wird heute."},
    )
    spalte = PublicIdChoiceField(
        label="Kalenderspalte",
        queryset=CalendarColumn.objects.none(),
        required=False,
        empty_label="Alle Spalten",
    )
    ansicht = forms.ChoiceField(
        label="Ansicht",
        choices=VIEWS,
        required=False,
        error_messages={"invalid_choice": "Unbekannte Ansicht; gezeigt wird der Tag."},
    )

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["spalte"].queryset = columns_of(organisation)

    def clean_datum(self):
        day = self.cleaned_data["datum"]
        if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise forms.ValidationError(self.fields["datum"].error_messages["invalid"])
        return day

    def value(self, name: str):
        """The cleaned value of a field, or None when it is missing or invalid."""
        return self.cleaned_data.get(name) if name not in self.errors else None


class AppointmentForm(forms.Form):
    """A lemniscus appointment in full; of a Doctolib appointment only what staff own
    (status and service chain): Doctolib leads the rest."""

    patient = PatientChoiceField(
        label="Akte",
        queryset=Patient.objects.none(),
        empty_label=None,
        widget=forms.Select(attrs={"size": 5}),
        help_text="Erst im Feld „Akte suchen“ Name, Geburtsdatum oder Telefonnummer "
        "eingeben, dann die Akte hier auswählen.",
        error_messages={
            "required": "Bitte eine Akte auswählen.",
            "invalid_choice": "Diese Akte gibt es nicht; bitte neu suchen.",
        },
    )
    calendar_column = PublicIdChoiceField(
        label="Kalenderspalte",
        queryset=CalendarColumn.objects.none(),
        empty_label=None,
        error_messages={"invalid_choice": "Diese Kalenderspalte gibt es nicht."},
    )
    start = forms.DateTimeField(
        label="Beginn",
        input_formats=["%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In der Zeitzone der Praxis.",
        error_messages={"invalid": "Bitte Datum und Uhrzeit angeben (TT.MM.JJJJ HH:MM)."},
    )
    duration_minutes = forms.IntegerField(
        label="Dauer (Minuten)",
        min_value=1,
        max_value=1440,
    )
    service_chain = PublicIdChoiceField(
        label="Leistungskette",
        queryset=ServiceChain.objects.none(),
        required=False,
        empty_label="– keine –",
        help_text="Was der Termin abrechnet.",
        error_messages={"invalid_choice": "Diese Leistungskette gibt es nicht."},
    )
    note = forms.CharField(
        label="Anmerkung",
        required=False,
        max_length=5000,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    status = forms.ChoiceField(label="Status")

    def __init__(
        self,
        *args,
        organisation,
        appointment: Appointment | None = None,
        found: list[Patient] = (),
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.appointment = appointment
        patients = scoped(Patient, organisation)
        self.fields["patient"].queryset = patients
        self.fields["calendar_column"].queryset = columns_of(organisation)
        # One query: a required select would otherwise read its first choice separately.
        self.fields["calendar_column"].widget.choices = [
            (str(column.public_id), column.name) for column in columns_of(organisation)
        ]
        self.fields["service_chain"].queryset = scoped(ServiceChain, organisation).order_by(
            "description", "id"
        )
        if appointment is None:
            del self.fields["status"]
        else:
            current = appointment.status
            self.fields["status"].choices = [
                (status.value, status.label)
                for status in AppointmentStatus
                if status == current or status in ALLOWED_TRANSITIONS[current]
            ]
            if appointment.source == AppointmentSource.DOCTOLIB:
                for name in DOCTOLIB_OWNED_APPOINTMENT_FIELDS:
                    del self.fields[name]
        if "patient" in self.fields:
            self.fields["patient"].widget.choices = self._patient_choices(patients, found)

    def _patient_choices(self, patients, found) -> list[tuple[str, str]]:
        """The search results, and the record chosen so far (first)."""
        shown = list(found)
        value = (
            self.data.get(self.add_prefix("patient"))
            if self.is_bound
            else self.initial.get("patient")
        )
        if isinstance(value, Patient):
            chosen = value
        else:
            public_id = parse_public_id(value)
            chosen = patients.filter(public_id=public_id).first() if public_id else None
        if chosen is not None and all(p.pk != chosen.pk for p in shown):
            shown.insert(0, chosen)
        return [(str(p.public_id), patient_label(p)) for p in shown]

    def clean_start(self):
        start = self.cleaned_data["start"]
        try:
            return parse_aware(start)
        except TimeError:
            raise forms.ValidationError("Die Zeit muss zwischen 1900 und 2200 liegen.") from None

    def clean_note(self):
        return clean(self.cleaned_data["note"])

    def service_fields(self) -> dict:
        """The cleaned values as appointments.services takes them (public ids)."""
        data = self.cleaned_data
        fields = {}
        for name, key in (
            ("patient", "patient_id"),
            ("calendar_column", "calendar_column_id"),
            ("service_chain", "service_chain_id"),
        ):
            if name in data:
                fields[key] = data[name].public_id if data[name] else None
        for name in ("start", "duration_minutes", "note", "status"):
            if name in data:
                fields[name] = data[name]
        return fields
