"""Forms of the calendar pages: the calendar's navigation and an appointment (new or
edited). Times are entered in the organisation's zone (the views activate it)."""

from django import forms
from django.db.models import Sum

from appointments.models import (
    PLATFORM_OWNED_FIELDS,
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    CalendarColumn,
    ColumnKind,
)
from appointments.services import ALLOWED_TRANSITIONS
from billing.models import ServiceChain
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


class ChainSelect(forms.Select):
    """The chain list; each option carries its minutes, which the page copies into
    the duration (kalender.js)."""

    minutes: dict[str, int] = {}

    def create_option(self, name, value, *args, **kwargs):
        option = super().create_option(name, value, *args, **kwargs)
        minutes = self.minutes.get(str(value))
        if minutes:
            option["attrs"]["data-minutes"] = minutes
        return option


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
        widget=ChainSelect,
        help_text="Was der Termin abrechnet; die Dauer folgt ihren Minuten.",
        error_messages={"invalid_choice": "Diese Leistungskette gibt es nicht."},
    )
    room = PublicIdChoiceField(
        label="Raum",
        queryset=CalendarColumn.objects.none(),
        required=False,
        empty_label="– kein Raum –",
        help_text="Ein Raum wird nie doppelt belegt.",
        error_messages={"invalid_choice": "Diesen Raum gibt es nicht."},
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
        columns = list(columns_of(organisation))
        self.fields["calendar_column"].queryset = columns_of(organisation)
        # One query each for columns and chains: the selects list what was read here
        # (a required select would otherwise read its first choice separately).
        self.fields["calendar_column"].widget.choices = [
            (str(column.public_id), column.name) for column in columns
        ]
        rooms = [column for column in columns if column.kind == ColumnKind.ROOM]
        if rooms:
            self.fields["room"].queryset = columns_of(organisation).filter(kind=ColumnKind.ROOM)
            self.fields["room"].widget.choices = [
                ("", self.fields["room"].empty_label),
                *((str(room.public_id), room.name) for room in rooms),
            ]
        else:
            del self.fields["room"]
        chains = scoped(ServiceChain, organisation).order_by("description", "id")
        self.fields["service_chain"].queryset = chains
        listed = list(chains.annotate(total_minutes=Sum("services__minutes")))
        widget = self.fields["service_chain"].widget
        widget.minutes = {str(chain.public_id): chain.total_minutes or 0 for chain in listed}
        widget.choices = [
            ("", self.fields["service_chain"].empty_label),
            *((str(chain.public_id), chain.description) for chain in listed),
        ]
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
                for name in PLATFORM_OWNED_FIELDS:
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
            ("room", "room_id"),
        ):
            if name in data:
                fields[key] = data[name].public_id if data[name] else None
        for name in ("start", "duration_minutes", "note", "status"):
            if name in data:
                fields[name] = data[name]
        return fields


class SeriesForm(forms.Form):
    """ "Serientermin": the new appointment repeated every n days, a count of them or
    until a date (appointments.series)."""

    repeat = forms.BooleanField(label="Als Serientermin wiederholen", required=False)
    interval_days = forms.IntegerField(
        label="Abstand in Tagen",
        min_value=1,
        max_value=365,
        initial=7,
        required=False,
        help_text="7: jede Woche, 14: alle zwei Wochen.",
    )
    count = forms.IntegerField(
        label="Anzahl Termine", min_value=1, max_value=100, required=False, initial=6
    )
    until = forms.DateField(
        label="oder bis einschließlich",
        required=False,
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Bitte ein Datum angeben (TT.MM.JJJJ)."},
    )
    on_conflict = forms.ChoiceField(
        choices=[("ask", "ask"), ("skip", "skip"), ("book", "book")],
        required=False,
        widget=forms.HiddenInput,
    )

    def clean(self):
        data = super().clean()
        if not data.get("repeat"):
            return data
        if not data.get("interval_days"):
            self.add_error("interval_days", "Bitte den Abstand in Tagen angeben.")
        if data.get("until"):
            data["count"] = None
        elif not data.get("count"):
            self.add_error("count", "Bitte eine Anzahl oder ein Enddatum angeben.")
        return data

    def series_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "interval_days": data["interval_days"],
            "count": data.get("count"),
            "until": data.get("until"),
            "on_conflict": data.get("on_conflict") or "ask",
        }


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Grund (freiwillig)",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Steht im Verlauf des Termins, z. B. „krank“ oder „Praxis geschlossen“.",
    )
    following = forms.BooleanField(
        label="Auch alle folgenden Termine der Serie absagen", required=False
    )

    def clean_reason(self):
        return clean(self.cleaned_data["reason"])


class MoveForm(forms.Form):
    """A drag in the calendar: the new start (local), duration and column."""

    start = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M"])
    duration_minutes = forms.IntegerField(min_value=1, max_value=1440)
    calendar_column = PublicIdChoiceField(queryset=CalendarColumn.objects.none())

    def __init__(self, *args, organisation, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["calendar_column"].queryset = columns_of(organisation)

    def clean_start(self):
        try:
            return parse_aware(self.cleaned_data["start"])
        except TimeError:
            raise forms.ValidationError("Die Zeit muss zwischen 1900 und 2200 liegen.") from None
