"""The calendar's time grid: one lane per (day, column), each appointment a block at
its wall-clock time; appointments that overlap share the lane's width side by side.
Pure Python over appointments already fetched: no queries here."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from appointments.models import Appointment, AppointmentSource, AppointmentStatus

PX_PER_MINUTE = 1.2
MIN_BLOCK_PX = 20
DEFAULT_HOURS = (7, 20)


def lock_reason(appointment: Appointment) -> str:
    """Why an appointment cannot be changed, or "" (the invoice must be selected)."""
    invoice = appointment.invoice
    if invoice is None:
        return ""
    if invoice.number:
        return f"Steht auf Rechnung {invoice.number}; Änderungen sind nicht möglich."
    return "Steht auf einem Rechnungsentwurf; Änderungen sind nicht möglich."


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

    @property
    def cancelled(self) -> bool:
        return self.appointment.status == AppointmentStatus.CANCELLED

    @property
    def doctolib(self) -> bool:
        return self.appointment.source == AppointmentSource.DOCTOLIB

    @property
    def href(self) -> str:
        return f"/termine/{self.appointment.public_id}/"

    @property
    def time(self) -> str:
        return f"{self.start:%H:%M}"

    @property
    def name(self) -> str:
        return self.appointment.patient.display_name

    @property
    def sub(self) -> str:
        chain = self.appointment.service_chain
        return f"{chain.description if chain else 'keine Leistungskette'} · {self.minutes} Min."

    @property
    def minutes(self) -> int:
        return self.appointment.duration_minutes

    @property
    def invoice_label(self) -> str:
        return f"Rechnung {self.appointment.invoice.number or '(Entwurf)'}" if self.lock else ""

    @property
    def title(self) -> str:
        marks = [
            text
            for flag, text in (
                (self.doctolib, "aus Doctolib"),
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
        )


@dataclass
class Lane:
    day: date
    column: object
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Grid:
    lanes: list[Lane]
    hour_from: int
    hour_to: int

    @property
    def style(self) -> str:
        """The grid's CSS variables: lanes, the height of an hour and of the day."""
        hours = self.hour_to - self.hour_from
        return (
            f"--lanes: {len(self.lanes)}; --hour: {60 * PX_PER_MINUTE:.1f}px; "
            f"--day: {hours * 60 * PX_PER_MINUTE:.1f}px"
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


def build_grid(
    *, slots: list[tuple[date, object]], appointments: list[Appointment], zone, colliding: set
) -> Grid:
    """Lanes for the (day, column) slots, each with the appointments that overlap that
    local day, on one hour scale wide enough for all of them (at least 7 to 20 h)."""
    by_column: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        by_column.setdefault(appointment.calendar_column_id, []).append(appointment)
    lanes = []
    for day, column in slots:
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
                )
            )
        _arrange(lane.blocks)
        lanes.append(lane)
    blocks = [block for lane in lanes for block in lane.blocks]
    hour_from = min([DEFAULT_HOURS[0], *(b.first_minute // 60 for b in blocks)])
    hour_to = max([DEFAULT_HOURS[1], *(math.ceil(b.last_minute / 60) for b in blocks)])
    for block in blocks:
        block.top = round((block.first_minute - hour_from * 60) * PX_PER_MINUTE, 1)
        block.height = round(
            max((block.last_minute - block.first_minute) * PX_PER_MINUTE, MIN_BLOCK_PX), 1
        )
    return Grid(lanes=lanes, hour_from=hour_from, hour_to=hour_to)
