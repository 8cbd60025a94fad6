"""The calendar's time grid: one lane per (day, column), each appointment a block at
its wall-clock time. Appointments that overlap are laid out side by side, and a lane
grows with the most it holds at once, so that none shrinks to a sliver; short ones
are shown on one line. Hours outside the practice's opening hours are shaded.
Pure Python over appointments already fetched: no queries here."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.urls import reverse

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from organisations.opening_hours import intervals_on

PX_PER_MINUTE = 1.2
MIN_BLOCK_PX = 18
COMPACT_BELOW_MINUTES = 30  # shorter: time and name on one line
DEFAULT_HOURS = (7, 20)
SUBLANE_REM = 8.0  # the least width of one of side-by-side appointments


def lock_reason(appointment: Appointment) -> str:
    """Why an appointment cannot be changed, or "" (the invoice must be selected)."""
    invoice = appointment.invoice
    if invoice is None:
        return ""
    if invoice.number:
        return f"Steht auf Rechnung {invoice.number}; Änderungen sind nicht möglich."
    return "Steht auf einem Rechnungsentwurf; Änderungen sind nicht möglich."


DOCTOLIB_MOVE_REASON = "Termin aus Doctolib: bitte in Doctolib verschieben und erneut übertragen."


@dataclass
class Block:
    """One appointment in a lane; what the template shows is prepared here (a week
    holds hundreds of blocks, and Python formats them far faster than template
    filters)."""

    appointment: Appointment
    start: datetime  # local
    end: datetime  # local
    first_minute: int  # wall-clock minutes of the lane's day, clipped to 0..1440
    last_minute: int
    colliding: bool
    lock: str
    lane: int = 0
    lanes: int = 1
    top: float = 0
    height: float = 0
    colour: str = ""  # the column's, "" for the default
    column_id: str = ""  # the public id of its column, "" when shown in a room's lane

    @property
    def cancelled(self) -> bool:
        return self.appointment.status == AppointmentStatus.CANCELLED

    @property
    def doctolib(self) -> bool:
        return self.appointment.source == AppointmentSource.DOCTOLIB

    @property
    def series(self) -> bool:
        return self.appointment.series_id is not None

    @property
    def href(self) -> str:
        return reverse("termin", args=[self.appointment.public_id])

    @property
    def id(self) -> str:
        return str(self.appointment.public_id)

    @property
    def time(self) -> str:
        return f"{self.start:%H:%M}"

    @property
    def name(self) -> str:
        return self.appointment.patient.display_name

    @property
    def chain(self) -> str:
        chain = self.appointment.service_chain
        return chain.description if chain else "keine Leistungskette"

    @property
    def sub(self) -> str:
        room = self.appointment.room
        return " · ".join(
            [self.chain, f"{self.minutes} Min.", *([room.name] if room is not None else [])]
        )

    @property
    def minutes(self) -> int:
        return self.appointment.duration_minutes

    @property
    def compact(self) -> bool:
        return self.minutes < COMPACT_BELOW_MINUTES

    @property
    def marked(self) -> bool:
        """Whether it carries a badge in its corner (the first line leaves room)."""
        return bool(self.series or self.doctolib or self.lock)

    @property
    def invoice_label(self) -> str:
        return f"Rechnung {self.appointment.invoice.number or '(Entwurf)'}" if self.lock else ""

    @property
    def fixed(self) -> str:
        """Why it cannot be dragged, or "" (cancelled ones are not moved either)."""
        if self.lock:
            return self.lock
        if self.doctolib:
            return DOCTOLIB_MOVE_REASON
        if self.cancelled:
            return "Abgesagter Termin: bitte zuerst die Absage zurücknehmen."
        if not self.column_id:
            return "Hier ist nur der Raum gebucht: bitte in der Spalte des Termins verschieben."
        return ""

    @property
    def title(self) -> str:
        marks = [
            text
            for flag, text in (
                (self.doctolib, "aus Doctolib"),
                (self.series, "Serientermin"),
                (self.colliding, "Überschneidung"),
                (self.cancelled, "abgesagt"),
                (self.lock, self.lock),
            )
            if flag
        ]
        return " · ".join([f"{self.time}–{self.end:%H:%M} {self.name}", self.sub, *marks])

    @property
    def css(self) -> str:
        classes = ["kal-appt"]
        for flag, name in (
            (self.compact, "kal-compact"),
            (self.doctolib, "kal-doctolib"),
            (self.colliding, "kal-collision"),
            (self.cancelled, "kal-cancelled"),
            (self.lock, "kal-locked"),
        ):
            if flag:
                classes.append(name)
        return " ".join(classes)

    @property
    def style(self) -> str:
        left, width = 100 * self.lane / self.lanes, 100 / self.lanes
        return (
            f"top: {self.top:.1f}px; height: {self.height:.1f}px; "
            f"left: {left:.3f}%; width: {width:.3f}%"
            + (f"; --col: {self.colour}" if self.colour else "")
        )


@dataclass
class Lane:
    day: date
    column: object
    blocks: list[Block] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)  # styles of the shaded spans

    @property
    def width(self) -> int:
        """The most appointments side by side at one time (at least 1)."""
        return max([1, *(block.lanes for block in self.blocks)])


@dataclass
class Grid:
    lanes: list[Lane]
    hour_from: int
    hour_to: int

    @property
    def style(self) -> str:
        """The grid's CSS: its columns (each lane as wide as its side-by-side
        appointments need, sharing the rest of the width), the height of an hour
        and of the day."""
        hours = self.hour_to - self.hour_from
        columns = " ".join(
            f"minmax({lane.width * SUBLANE_REM:.1f}rem, {lane.width}fr)" for lane in self.lanes
        )
        shares = " ".join(f"minmax(0, {lane.width}fr)" for lane in self.lanes)
        return (
            f"--lanes: {len(self.lanes)}; --hour: {60 * PX_PER_MINUTE:.1f}px; "
            f"--day: {hours * 60 * PX_PER_MINUTE:.1f}px; --from: {self.hour_from}; "
            f"--px-per-minute: {PX_PER_MINUTE}; --print-columns: 2.6rem {shares}; "
            f"grid-template-columns: 3.5rem {columns}"
        )

    @property
    def hours(self) -> list[dict]:
        return [
            {
                "label": f"{hour:02d}:00",
                "style": f"top: {(hour - self.hour_from) * 60 * PX_PER_MINUTE:.1f}px",
            }
            for hour in range(self.hour_from, self.hour_to)
        ]


def _minute_of(moment: datetime, day: date) -> int:
    if moment.date() < day:
        return 0
    if moment.date() > day:
        return 1440
    return moment.hour * 60 + moment.minute


def _arrange(blocks: list[Block]) -> None:
    """Side by side within each cluster of overlapping blocks (greedy lanes)."""
    cluster: list[Block] = []
    lane_ends: list[int] = []
    cluster_end = -1

    def close():
        for block in cluster:
            block.lanes = len(lane_ends)

    for block in sorted(blocks, key=lambda b: (b.first_minute, -b.last_minute)):
        if block.first_minute >= cluster_end and cluster:
            close()
            cluster, lane_ends = [], []
        free = next((i for i, end in enumerate(lane_ends) if end <= block.first_minute), None)
        if free is None:
            lane_ends.append(block.last_minute)
            free = len(lane_ends) - 1
        else:
            lane_ends[free] = block.last_minute
        block.lane = free
        cluster.append(block)
        cluster_end = max(cluster_end, block.last_minute)
    close()


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _closed_spans(opening: list[tuple[time, time]], hour_from: int, hour_to: int) -> list[str]:
    """Styles of the shaded spans of a lane: the shown hours outside the intervals."""
    start, end = hour_from * 60, hour_to * 60
    spans, cursor = [], start
    for opens, closes in opening:
        a, b = max(_minutes(opens), start), min(_minutes(closes), end)
        if a > cursor:
            spans.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        spans.append((cursor, end))
    return [
        f"top: {(a - start) * PX_PER_MINUTE:.1f}px; height: {(b - a) * PX_PER_MINUTE:.1f}px"
        for a, b in spans
    ]


def build_grid(
    *,
    slots: list[tuple[date, object]],
    appointments: list[Appointment],
    zone,
    colliding: set,
    organisation=None,
) -> Grid:
    """Lanes for the (day, column) slots, each with the appointments that overlap that
    local day, on one hour scale wide enough for all of them and for the opening
    hours (at least 7 to 20 h when the practice names none)."""
    by_column: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        by_column.setdefault(appointment.calendar_column_id, []).append(appointment)
        if appointment.room_id and appointment.room_id != appointment.calendar_column_id:
            # A room column shows who holds it, too.
            by_column.setdefault(appointment.room_id, []).append(appointment)
    colours = {column.pk: column.colour for _, column in slots}
    lanes = []
    opening: dict[date, list] = {}
    for day, column in slots:
        if organisation is not None and day not in opening:
            opening[day] = intervals_on(organisation, day)
        day_start = datetime.combine(day, time.min, tzinfo=zone)
        day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        lane = Lane(day=day, column=column)
        for appointment in by_column.get(column.pk, []):
            if not (appointment.start < day_end and appointment.end > day_start):
                continue
            start, end = appointment.start.astimezone(zone), appointment.end.astimezone(zone)
            lane.blocks.append(
                Block(
                    appointment=appointment,
                    start=start,
                    end=end,
                    first_minute=_minute_of(start, day),
                    last_minute=max(_minute_of(end, day), _minute_of(start, day) + 1),
                    colliding=appointment.pk in colliding,
                    lock=lock_reason(appointment),
                    colour=colours.get(appointment.calendar_column_id, ""),
                    column_id=str(column.public_id)
                    if appointment.calendar_column_id == column.pk
                    else "",
                )
            )
        _arrange(lane.blocks)
        lanes.append(lane)
    blocks = [block for lane in lanes for block in lane.blocks]
    hours = [iv for intervals in opening.values() for iv in intervals]
    if hours:
        first = min(_minutes(a) for a, _ in hours) // 60
        last = math.ceil(max(_minutes(b) for _, b in hours) / 60)
    else:
        first, last = DEFAULT_HOURS
    hour_from = min([first, *(b.first_minute // 60 for b in blocks)])
    hour_to = max([last, *(math.ceil(b.last_minute / 60) for b in blocks)])
    for block in blocks:
        block.top = round((block.first_minute - hour_from * 60) * PX_PER_MINUTE, 1)
        block.height = round(
            max((block.last_minute - block.first_minute) * PX_PER_MINUTE, MIN_BLOCK_PX), 1
        )
    if organisation is not None:
        for lane in lanes:
            lane.closed = _closed_spans(opening[lane.day], hour_from, hour_to)
    return Grid(lanes=lanes, hour_from=hour_from, hour_to=hour_to)
