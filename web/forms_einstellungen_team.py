"""Forms of the Einstellungen pages for the team and the calendar: staff users
("Mitarbeiter"), calendar columns ("Kalenderspalten") and opening hours
("Öffnungszeiten"). They check what a person typed; the rules that must hold whoever
writes (unique e-mail, the last admin, overlapping hours) are the services'."""

import re
from datetime import date, datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError

from appointments.models import COLOUR_PATTERN, ColumnKind
from lemniscus.times import EARLIEST_YEAR, LATEST_YEAR
from organisations.models import Role
from organisations.opening_hours import (
    DAY_NAMES,
    DAYS,
    MAX_CLOSED_DATES,
    MAX_INTERVALS,
    normalize_opening_hours,
)
from organisations.services import NAME_MAX_LENGTH
from web.fields import CleanCharField

DEFAULT_COLOUR = "#1f6f8b"  # the calendar's accent, what a column without colour shows
SHOWN_INTERVALS = 2  # from/to pairs a day shows at least; one empty more when all are filled


class UserForm(forms.Form):
    """Names, role and rights of a member (editing; the invitation adds the e-mail)."""

    first_name = CleanCharField(label="Vorname", max_length=NAME_MAX_LENGTH)
    last_name = CleanCharField(label="Nachname", max_length=NAME_MAX_LENGTH)
    role = forms.ChoiceField(
        label="Rolle",
        choices=Role.choices,
        initial=Role.STAFF,
        help_text="Organisations-Admins verwalten auch die Einstellungen (Praxisdaten, "
        "Mitarbeiter, Tokens, Protokoll).",
    )
    can_appointments = forms.BooleanField(
        label="Termine",
        required=False,
        initial=True,
        help_text="Termine buchen, verschieben und absagen",
    )
    can_documentation = forms.BooleanField(
        label="Dokumentation",
        required=False,
        initial=True,
        help_text="Akten anlegen und ändern, Behandlungsdokumentation und Anhänge",
    )
    can_billing = forms.BooleanField(
        label="Abrechnung", required=False, help_text="Leistungsketten und Rechnungen, auch lesen"
    )

    RIGHTS = ("can_appointments", "can_documentation", "can_billing")

    def person_fields(self):
        return [self[name] for name in self.fields if name not in self.RIGHTS]

    def right_fields(self):
        return [self[name] for name in self.RIGHTS]


class UserInviteForm(UserForm):
    email = forms.EmailField(
        label="E-Mail",
        max_length=254,
        help_text="An diese Adresse geht die Einladung; mit ihr meldet sich die Person an.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    field_order = ["first_name", "last_name", "email", "role"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("first_name", "last_name"):  # the e-mail greets by name
            self.fields[name].required = True

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()


class ColumnForm(forms.Form):
    """A calendar column: name, kind and colour. The colour picker always sends a
    colour; "Standardfarbe" (ticked for a column without one) keeps or resets it."""

    name = CleanCharField(label="Name", max_length=100, required=True)
    kind = forms.ChoiceField(
        label="Art",
        choices=ColumnKind.choices,
        initial=ColumnKind.THERAPIST,
        help_text="Ein Raum kann zusätzlich zu einer Therapeutin oder einem Therapeuten "
        "gebucht werden.",
    )
    colour = forms.CharField(
        label="Farbe",
        required=False,
        initial=DEFAULT_COLOUR,
        widget=forms.TextInput(attrs={"type": "color", "data-colour": DEFAULT_COLOUR}),
    )
    default_colour = forms.BooleanField(
        label="Standardfarbe",
        required=False,
        initial=True,
        help_text="Ohne eigene Farbe zeigt der Kalender die Termine in der Standardfarbe.",
        widget=forms.CheckboxInput(attrs={"data-default-colour": ""}),
    )

    @classmethod
    def initial_for(cls, column) -> dict:
        return {
            "name": column.name,
            "kind": column.kind,
            "colour": column.colour or DEFAULT_COLOUR,
            "default_colour": not column.colour,
        }

    def clean(self):
        data = super().clean()
        if data.get("default_colour"):
            data["colour"] = ""
        elif not re.fullmatch(COLOUR_PATTERN, data.get("colour") or ""):
            self.add_error("colour", "Bitte eine Farbe wie #1f6f8b wählen.")
        else:
            data["colour"] = data["colour"].lower()
        return data

    def values(self) -> dict:
        """What calendar_column_create / calendar_column_update take."""
        return {name: self.cleaned_data[name] for name in ("name", "kind", "colour")}


DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d")
_DAY = r"(\d{1,2}\.\d{1,2}\.\d{4}|\d{4}-\d{1,2}-\d{1,2})"
RANGE = re.compile(rf"{_DAY}\s*(?:-|–|bis)\s*{_DAY}")


def _parse_day(text: str, line: int) -> date:
    for fmt in DATE_FORMATS:
        try:
            day = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            break
        return day
    raise ValidationError(f"Zeile {line}: „{text}“ ist kein Datum wie 24.12.2026.")


def parse_closed_dates(text: str) -> list[date]:
    """One date a line (24.12.2026 or 2026-12-24), or a span "23.12.2026 - 02.01.2027"
    (Betriebsferien) for every day in it; blank lines are skipped."""
    days: set[date] = set()
    for line, raw in enumerate(text.splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        span = RANGE.fullmatch(raw)
        if span:
            first, last = (_parse_day(part, line) for part in span.groups())
            if last < first:
                raise ValidationError(f"Zeile {line}: das Ende liegt vor dem Beginn.")
            if (last - first).days >= MAX_CLOSED_DATES:
                raise ValidationError(f"Zeile {line}: der Zeitraum ist zu lang.")
            days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        else:
            days.add(_parse_day(raw, line))
        if len(days) > MAX_CLOSED_DATES:
            raise ValidationError(f"Höchstens {MAX_CLOSED_DATES} Schließtage.")
    return sorted(days)


def format_closed_dates(values) -> str:
    """The stored dates as the text area shows them: consecutive days as one span."""
    days = sorted(date.fromisoformat(value) for value in values)
    spans: list[list[date]] = []
    for day in days:
        if spans and day - spans[-1][1] == timedelta(days=1):
            spans[-1][1] = day
        else:
            spans.append([day, day])
    return "\n".join(
        f"{a:%d.%m.%Y}" if a == b else f"{a:%d.%m.%Y} - {b:%d.%m.%Y}" for a, b in spans
    )


def _time_field(label: str) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        input_formats=["%H:%M"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": "Bitte eine Uhrzeit wie 08:00 angeben."},
    )


class OpeningHoursForm(forms.Form):
    """Per weekday up to MAX_INTERVALS from/to pairs (`mon_1_von`, `mon_1_bis`, …; a
    day without any is closed), and the closed dates as text."""

    closed_dates = forms.CharField(
        label="Schließtage",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Ein Datum pro Zeile, z. B. 24.12.2026, oder ein Zeitraum wie "
        "23.12.2026 - 02.01.2027 für Betriebsferien. An Schließtagen zeigt der Kalender "
        "die Praxis als geschlossen, und Serientermine überspringen sie.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for day in DAYS:
            for n in range(1, MAX_INTERVALS + 1):
                self.fields[f"{day}_{n}_von"] = _time_field(f"{DAY_NAMES[day]} {n}. Zeitraum von")
                self.fields[f"{day}_{n}_bis"] = _time_field(f"{DAY_NAMES[day]} {n}. Zeitraum bis")

    @classmethod
    def initial_for(cls, organisation) -> dict:
        initial = {"closed_dates": format_closed_dates(organisation.closed_dates or [])}
        for day, intervals in (organisation.opening_hours or {}).items():
            for n, (opens, closes) in enumerate(intervals, start=1):
                initial[f"{day}_{n}_von"] = opens
                initial[f"{day}_{n}_bis"] = closes
        return initial

    def _filled(self, day: str) -> int:
        """How many pairs of the day hold something (typed or stored)."""
        filled = 0
        for n in range(1, MAX_INTERVALS + 1):
            if any(self[f"{day}_{n}_{end}"].value() for end in ("von", "bis")):
                filled = n
        return filled

    def days(self):
        """Per weekday: its name, its pairs of bound fields (at least SHOWN_INTERVALS,
        and one empty pair after the last filled one, up to MAX_INTERVALS: a third
        interval is added without JavaScript by saving) and its errors."""
        rows = []
        for day in DAYS:
            shown = min(MAX_INTERVALS, max(SHOWN_INTERVALS, self._filled(day) + 1))
            pairs = [
                (n, self[f"{day}_{n}_von"], self[f"{day}_{n}_bis"]) for n in range(1, shown + 1)
            ]
            errors = [e for _, von, bis in pairs for e in (*von.errors, *bis.errors)]
            rows.append({"key": day, "name": DAY_NAMES[day], "pairs": pairs, "errors": errors})
        return rows

    def clean_closed_dates(self):
        return [day.isoformat() for day in parse_closed_dates(self.cleaned_data["closed_dates"])]

    def clean(self):
        data = super().clean()
        hours = {}
        for day in DAYS:
            intervals = []
            for n in range(1, MAX_INTERVALS + 1):
                von, bis = f"{day}_{n}_von", f"{day}_{n}_bis"
                if von in self.errors or bis in self.errors:
                    continue
                opens, closes = data.get(von), data.get(bis)
                if opens is None and closes is None:
                    continue
                if opens is None or closes is None:
                    missing = von if opens is None else bis
                    self.add_error(
                        missing, f"{DAY_NAMES[day]}: bitte Beginn und Ende des Zeitraums angeben."
                    )
                    continue
                intervals.append([f"{opens:%H:%M}", f"{closes:%H:%M}"])
            try:
                hours[day] = normalize_opening_hours({day: intervals})[day]
            except ValidationError as exc:
                self.add_error(f"{day}_1_von", exc.messages)
        data["opening_hours"] = hours
        return data

    def values(self) -> dict:
        """What organisation_update_practice takes."""
        return {
            "opening_hours": self.cleaned_data["opening_hours"],
            "closed_dates": self.cleaned_data["closed_dates"],
        }
