"""Serientermine: planning the dates of a series (every n days from the first, a
count or an end date, skipping the practice's closed days), finding what they
collide with, and creating them. Each date becomes an ordinary appointment through
appointments.services, so rooms, history and confirmations work as for one."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction

from appointments.models import Appointment, AppointmentSeries, AppointmentStatus, CalendarColumn
from appointments.services import (
    MAX_DURATION,
    appointments_create_series,
    booking_refs,
    rooms_held,
)
from lemniscus.errors import RoomBooked, SeriesConflicts, ValidationFailed
from organisations.opening_hours import is_open

MAX_COUNT = 100
MAX_SPAN = timedelta(days=366 * 2)


class OnConflict:
    ASK = "ask"  # 409 series_conflicts listing them; nothing is created
    SKIP = "skip"  # the colliding dates are left out
    BOOK = "book"  # therapist-column overlaps are booked anyway; a room never twice
    CHOICES = (ASK, SKIP, BOOK)


@dataclass
class PlannedDate:
    start: datetime
    end: datetime
    conflicts: list = field(default_factory=list)  # [(Appointment, room or None)]

    @property
    def room_conflict(self) -> bool:
        return any(room is not None for _, room in self.conflicts)

    def as_problem(self, zone) -> dict:
        return {
            "start": self.start.astimezone(zone).isoformat(),
            "conflicts": [
                {
                    "appointment_id": str(other.public_id),
                    "kind": "room" if room is not None else "column",
                    "detail": _clash_text(other, room, zone),
                }
                for other, room in self.conflicts
            ],
        }


def _clash_text(other: Appointment, room, zone) -> str:
    span = f"{other.start.astimezone(zone):%H:%M}–{other.end.astimezone(zone):%H:%M}"
    if room is not None:
        return f"Raum „{room.name}“ ist von {span} belegt."
    return f"Termin von {span} in „{other.calendar_column.name}“."


@dataclass
class SeriesPlan:
    organisation: object
    refs: dict
    duration_minutes: int
    interval_days: int
    count: int | None
    until: date | None
    note: str
    dates: list[PlannedDate]
    skipped_closed: list[date]

    @property
    def conflicting(self) -> list[PlannedDate]:
        return [d for d in self.dates if d.conflicts]

    def conflicts_problem(self) -> list[dict]:
        zone = self.organisation.zone
        return [d.as_problem(zone) for d in self.conflicting]


def _validate(*, interval_days, count, until, first_day: date) -> None:
    errors = {}
    if not 1 <= interval_days <= 365:
        errors["interval_days"] = ["Zwischen 1 und 365 Tagen."]
    if (count is None) == (until is None):
        errors["count"] = ["Bitte entweder eine Anzahl oder ein Enddatum angeben."]
    elif count is not None and not 1 <= count <= MAX_COUNT:
        errors["count"] = [f"Zwischen 1 und {MAX_COUNT} Terminen."]
    elif until is not None and not first_day <= until <= first_day + MAX_SPAN:
        errors["until"] = [
            "Das Enddatum liegt vor dem ersten Termin oder mehr als zwei Jahre danach."
        ]
    if errors:
        raise ValidationFailed("Die Angaben zur Serie sind unvollständig.", errors=errors)


@transaction.atomic  # the referenced rows are read as for a write (resolve_refs)
def series_plan(
    *,
    organisation,
    patient_id,
    calendar_column_id,
    start: datetime,
    duration_minutes: int | None = None,
    service_chain_id=None,
    room_id=None,
    note: str = "",
    interval_days: int = 7,
    count: int | None = None,
    until: date | None = None,
) -> SeriesPlan:
    """The dates of the series with their conflicts, without writing anything: the
    first at `start`, then every `interval_days` days at the same wall-clock time in
    the practice's zone; a closed day is skipped (it does not count). Two queries for
    the conflicts of all dates together."""
    zone = organisation.zone
    local = start.astimezone(zone)
    _validate(interval_days=interval_days, count=count, until=until, first_day=local.date())
    refs, duration_minutes = booking_refs(
        organisation,
        patient_id=patient_id,
        calendar_column_id=calendar_column_id,
        service_chain_id=service_chain_id,
        room_id=room_id,
        duration_minutes=duration_minutes,
    )
    length = timedelta(minutes=duration_minutes)
    dates: list[PlannedDate] = []
    skipped: list[date] = []
    day = local.date()
    last_day = until if until is not None else local.date() + MAX_SPAN
    while day <= last_day and (count is None or len(dates) < count):
        if is_open(organisation, day):
            moment = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=zone)
            dates.append(PlannedDate(start=moment, end=moment + length))
        else:
            skipped.append(day)
        day += timedelta(days=interval_days)
    if not dates:
        raise ValidationFailed(
            "An keinem der Tage der Serie hat die Praxis geöffnet.",
            errors={"start": ["Die Praxis hat an diesen Tagen geschlossen."]},
        )
    _find_conflicts(organisation, refs, dates)
    return SeriesPlan(
        organisation=organisation,
        refs=refs,
        duration_minutes=duration_minutes,
        interval_days=interval_days,
        count=count,
        until=until,
        note=note,
        dates=dates,
        skipped_closed=skipped,
    )


def _find_conflicts(organisation, refs: dict, dates: list[PlannedDate]) -> None:
    """Fill each date's conflicts: appointments of the column, and those holding the
    room, that overlap it. One query over the series' whole span."""
    column = refs["calendar_column"]
    probe = Appointment(calendar_column=column, room=refs.get("room"))
    rooms = rooms_held(probe)
    others = list(
        Appointment.objects.filter(
            organisation=organisation,
            start__lt=dates[-1].end,
            start__gt=dates[0].start - MAX_DURATION,
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("calendar_column", "room")
        .order_by("start")
    )
    for planned in dates:
        for other in others:
            if other.start >= planned.end or other.end <= planned.start:
                continue
            shared = rooms & rooms_held(other)
            if shared:
                room = other.room if other.room_id in shared else other.calendar_column
                planned.conflicts.append((other, room))
            elif other.calendar_column_id == column.pk:
                planned.conflicts.append((other, None))


@transaction.atomic
def series_create(
    *, organisation, actor, on_conflict: str = OnConflict.ASK, notify: bool = True, **fields
):
    """Create the series and its appointments. Conflicts: `ask` refuses with 409
    `series_conflicts` listing them, `skip` leaves those dates out, `book` books
    therapist overlaps anyway (a room clash is still 409 `room_booked`). Returns
    (series, appointments, left out dates)."""
    if on_conflict not in OnConflict.CHOICES:
        raise ValidationFailed(
            "Unbekannte Wahl bei Überschneidungen.",
            errors={"on_conflict": ["Erlaubt: ask, skip, book."]},
        )
    # Lock the rooms first so the conflict check stays true until commit.
    for key in ("room_id", "calendar_column_id"):
        if fields.get(key):
            CalendarColumn.objects.select_for_update(no_key=True).filter(
                organisation=organisation, public_id=fields[key]
            ).first()
    plan = series_plan(organisation=organisation, **fields)
    conflicting = plan.conflicting
    if conflicting and on_conflict == OnConflict.ASK:
        raise SeriesConflicts(conflicts=plan.conflicts_problem())
    if on_conflict == OnConflict.BOOK:
        blocked = [d for d in conflicting if d.room_conflict]
        if blocked:
            raise RoomBooked(
                "Der Raum ist an einigen Terminen der Serie schon belegt; er wird nie doppelt "
                "gebucht. Bitte diese Termine auslassen („skip“) oder einen anderen Raum wählen.",
                conflicts=[d.as_problem(organisation.zone) for d in blocked],
            )
    booked = (
        plan.dates if on_conflict != OnConflict.SKIP else [d for d in plan.dates if not d.conflicts]
    )
    left_out = [d for d in plan.dates if d not in booked]
    if not booked:
        raise SeriesConflicts(
            "Alle Termine der Serie überschneiden sich; es wurde nichts angelegt.",
            conflicts=plan.conflicts_problem(),
        )
    refs = plan.refs
    series = AppointmentSeries.objects.create(
        organisation=organisation,
        patient=refs["patient"],
        calendar_column=refs["calendar_column"],
        room=refs.get("room"),
        service_chain=refs.get("service_chain"),
        first_start=booked[0].start,
        duration_minutes=plan.duration_minutes,
        interval_days=plan.interval_days,
        count=plan.count,
        until=plan.until,
        note=plan.note,
        created_by=actor,
    )
    appointments = appointments_create_series(
        series=series, starts=[planned.start for planned in booked], actor=actor, notify=notify
    )
    return series, appointments, left_out
