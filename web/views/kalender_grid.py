"""The calendar's time grid: one lane per (day, column), each appointment a block at
its wall-clock time; appointments that overlap share the lane's width side by side.
Pure Python over appointments already fetched: no queries here."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from appointments.models import Appointment, AppointmentStatus

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
    def left(self) -> float:
        return round(100 * self.lane / self.lanes, 3)

    @property
    def width(self) -> float:
        return round(100 / self.lanes, 3)


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

    hour_px = 60 * PX_PER_MINUTE

    @property
    def height(self) -> float:
        return (self.hour_to - self.hour_from) * 60 * PX_PER_MINUTE

    @property
    def hours(self) -> list[dict]:
        return [
            {"label": f"{hour:02d}:00", "top": (hour - self.hour_from) * 60 * PX_PER_MINUTE}
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
