from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus, CalendarColumn
from billing.models import Invoice, ServiceChain
from lemniscus.tenancy import access, scoped
from patients.models import Patient

MAX_DURATION = timedelta(minutes=1440)
CALENDAR_FIELDS = (
    "public_id",
    "calendar_column_id",
    "start",
    "duration_minutes",
    "status",
    "source",
    "patient__public_id",
    "patient__first_name",
    "patient__last_name",
    "service_chain__description",
    "invoice__number",
    "room_id",
    "room__name",
    "series_id",
)


def calendar_column_list(*, organisation) -> QuerySet[CalendarColumn]:
    """The organisation's calendar columns, newest first (the staff API's default order)."""
    return scoped(CalendarColumn, organisation).order_by("-created_at", "-id")


def calendar_columns_in_order(*, organisation) -> QuerySet[CalendarColumn]:
    """The organisation's columns as the calendar shows them (position, then name),
    each with `appointment_count` (any status): Einstellungen → Kalenderspalten."""
    return (
        scoped(CalendarColumn, organisation)
        .annotate(appointment_count=Count("appointments"))
        .order_by("position", "name", "id")
    )


def access_calendar_column(*, organisation, public_id, lock: bool = False) -> CalendarColumn:
    return access(CalendarColumn, organisation=organisation, public_id=public_id, lock=lock)


def appointment_list(*, organisation) -> QuerySet[Appointment]:
    """The organisation's appointments ordered by start, with what their output names."""
    return (
        scoped(Appointment, organisation)
        .select_related("patient", "calendar_column", "service_chain", "invoice", "room", "series")
        .order_by("start", "id")
    )


def patient_appointments(*, patient, upcoming: bool) -> QuerySet[Appointment]:
    """A record's appointments for its page: the next ones (from now, soonest first)
    or the past ones (latest first), with column, chain and invoice number."""
    now = timezone.now()
    appointments = Appointment.objects.filter(patient=patient).select_related(
        "calendar_column", "service_chain", "invoice"
    )
    if upcoming:
        return appointments.filter(start__gte=now).order_by("start", "id")
    return appointments.filter(start__lt=now).order_by("-start", "-id")


def access_appointment(*, organisation, public_id) -> Appointment:
    return access(
        appointment_list(organisation=organisation), organisation=organisation, public_id=public_id
    )


def calendar_appointments(
    *, organisation, start: datetime, end: datetime, calendar_column=None
) -> list[Appointment]:
    """The appointments that overlap [start, end) (of one column, or of all), and every
    appointment that overlaps one of them, so that `colliding_ids` is exact for them;
    ordered by start, with only what the calendar shows, in one query."""
    qs = (
        scoped(Appointment, organisation)
        .filter(start__gt=start - 2 * MAX_DURATION, start__lt=end + MAX_DURATION)
        .select_related("patient", "service_chain", "invoice", "room")
        .only(*CALENDAR_FIELDS)
        .order_by("start", "id")
    )
    if calendar_column is not None:
        qs = qs.filter(Q(calendar_column=calendar_column) | Q(room=calendar_column))
    return list(qs)


def day_list(*, organisation, start: datetime, end: datetime, columns) -> list[Appointment]:
    """The appointments of [start, end) in the columns (or holding them as a room),
    by start, with patient, chain, column and room: the printable day list."""
    ids = [column.pk for column in columns]
    return list(
        scoped(Appointment, organisation)
        .filter(start__gte=start, start__lt=end)
        .filter(Q(calendar_column_id__in=ids) | Q(room_id__in=ids))
        .select_related("patient", "service_chain", "calendar_column", "room")
        .order_by("start", "id")
    )


def colliding_ids(appointments: list[Appointment]) -> set[int]:
    """Keys of the non-cancelled appointments that overlap (half-open intervals) another
    non-cancelled appointment of the same column, computed over the given ones."""
    by_column: dict[int, list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        if appointment.status != AppointmentStatus.CANCELLED:
            by_column[appointment.calendar_column_id].append(appointment)
    hits: set[int] = set()
    for items in by_column.values():
        items.sort(key=lambda a: a.start)
        running: list[Appointment] = []
        for appointment in items:
            running = [other for other in running if other.end > appointment.start]
            if running:
                hits.add(appointment.pk)
                hits.update(other.pk for other in running)
            running.append(appointment)
    return hits


HISTORY_FIELDS = {
    "patient": "Akte",
    "calendar_column": "Kalenderspalte",
    "room": "Raum",
    "start": "Beginn",
    "duration_minutes": "Dauer (Minuten)",
    "service_chain": "Leistungskette",
    "status": "Status",
    "cancellation_reason": "Absagegrund",
    "note": "Anmerkung",
    "invoice": "Rechnung",
}
_HISTORY_REFERENCES = {
    "patient": (Patient, lambda row: row.display_name),
    "calendar_column": (CalendarColumn, lambda row: row.name),
    "room": (CalendarColumn, lambda row: row.name),
    "service_chain": (ServiceChain, lambda row: row.description),
    "invoice": (Invoice, lambda row: row.number or "Entwurf"),
}


def appointment_history(*, appointment: Appointment) -> list[dict]:
    """Every change of the appointment, newest first: when, who (the user), why (the
    change reason, e.g. "Doctolib-Sync"), and each field's old and new value as text
    (related rows by name, times in the organisation's zone). A bounded number of
    queries: one for the history, one per kind of related row that changed."""
    organisation = appointment.organisation
    records = list(appointment.history.select_related("history_user").order_by("-history_id"))
    deltas = [
        newer.diff_against(older, included_fields=list(HISTORY_FIELDS)).changes
        if older is not None
        else []
        for newer, older in zip(records, [*records[1:], None], strict=True)
    ]
    wanted: dict[str, set] = defaultdict(set)
    for changes in deltas:
        for change in changes:
            if change.field in _HISTORY_REFERENCES:
                wanted[change.field].update(v for v in (change.old, change.new) if v)
    names: dict[str, dict] = {}
    for name, pks in wanted.items():
        model, label = _HISTORY_REFERENCES[name]
        names[name] = {row.pk: label(row) for row in scoped(model, organisation).filter(pk__in=pks)}

    def text(name: str, value) -> str:
        if value in (None, ""):
            return "–"
        if name in names:
            return names[name].get(value, "(gelöscht)")
        if name == "start":
            return f"{value.astimezone(organisation.zone):%d.%m.%Y %H:%M}"
        if name == "status":
            return AppointmentStatus(value).label
        return str(value)

    order = list(HISTORY_FIELDS)
    return [
        {
            "time": record.history_date,
            "type": {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
            "actor": record.history_user.display_name if record.history_user else "",
            "reason": record.history_change_reason or "",
            "changes": [
                {
                    "label": HISTORY_FIELDS[c.field],
                    "old": text(c.field, c.old),
                    "new": text(c.field, c.new),
                }
                for c in sorted(changes, key=lambda c: order.index(c.field))
            ],
        }
        for record, changes in zip(records, deltas, strict=True)
    ]
