"""A practice's opening hours: per weekday a list of intervals in its own zone, plus
single closed dates (holidays, Betriebsferien). The calendar shades the hours outside
them and hides weekend days without hours; series appointments skip closed days.

Shape (stored and in the staff API): ``{"mon": [["08:00", "12:00"], ["13:00",
"18:00"]], "tue": [...], ..., "sun": []}``; closed dates as ISO date strings.
"""

from datetime import date, time
from itertools import pairwise

from django.core.exceptions import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {
    "mon": "Montag",
    "tue": "Dienstag",
    "wed": "Mittwoch",
    "thu": "Donnerstag",
    "fri": "Freitag",
    "sat": "Samstag",
    "sun": "Sonntag",
}
MAX_INTERVALS = 4
MAX_CLOSED_DATES = 400


def default_opening_hours() -> dict:
    """Monday to Friday, 08:00 to 18:00; closed at the weekend."""
    return {day: ([["08:00", "18:00"]] if day not in ("sat", "sun") else []) for day in DAYS}


def default_closed_dates() -> list:
    return []


def _parse_time(value, label: str) -> time:
    if not isinstance(value, str):
        raise ValidationError(f"{label}: bitte eine Uhrzeit wie 08:00 angeben.")
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{label}: „{value}“ ist keine Uhrzeit wie 08:00.") from None
    if parsed.second or parsed.microsecond or parsed.tzinfo or len(value) != 5:
        raise ValidationError(f"{label}: „{value}“ ist keine Uhrzeit wie 08:00.")
    return parsed


def normalize_opening_hours(value) -> dict:
    """The opening hours in their stored shape (sorted, every day present), or a
    ValidationError in German naming the day. "24:00" is not needed: a day ends at
    23:59 at the latest."""
    if not isinstance(value, dict):
        raise ValidationError("Die Öffnungszeiten sind ein Objekt mit den Wochentagen mon … sun.")
    unknown = sorted(set(value) - set(DAYS))
    if unknown:
        raise ValidationError(f"Unbekannte Wochentage: {', '.join(unknown)} (erlaubt: mon … sun).")
    result = {}
    for day in DAYS:
        intervals = value.get(day, [])
        label = DAY_NAMES[day]
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise ValidationError(f"{label}: höchstens {MAX_INTERVALS} Zeiträume als Liste.")
        parsed = []
        for interval in intervals:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise ValidationError(f"{label}: jeder Zeitraum ist [Beginn, Ende].")
            opens, closes = (_parse_time(v, label) for v in interval)
            if closes <= opens:
                raise ValidationError(f"{label}: das Ende muss nach dem Beginn liegen.")
            parsed.append((opens, closes))
        parsed.sort()
        for (_, first_end), (second_start, _) in pairwise(parsed):
            if second_start < first_end:
                raise ValidationError(f"{label}: die Zeiträume überschneiden sich.")
        result[day] = [[f"{a:%H:%M}", f"{b:%H:%M}"] for a, b in parsed]
    return result


def normalize_closed_dates(value) -> list:
    if not isinstance(value, list) or len(value) > MAX_CLOSED_DATES:
        raise ValidationError(
            f"Die Schließtage sind eine Liste von höchstens {MAX_CLOSED_DATES} Daten."
        )
    days = set()
    for item in value:
        try:
            days.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            raise ValidationError(f"„{item}“ ist kein Datum wie 2026-12-24.") from None
    return [d.isoformat() for d in sorted(days)]


def intervals_on(organisation, day: date) -> list[tuple[time, time]]:
    """The practice's opening intervals on a day (none on a closed date)."""
    if day.isoformat() in (organisation.closed_dates or ()):
        return []
    hours = organisation.opening_hours or {}
    intervals = hours.get(DAYS[day.weekday()], [])
    return [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in intervals]


def is_open(organisation, day: date) -> bool:
    return bool(intervals_on(organisation, day))


def weekday_open(organisation, weekday: int) -> bool:
    """Whether the practice has hours on this weekday (0 = Monday) at all."""
    return bool((organisation.opening_hours or {}).get(DAYS[weekday]))
