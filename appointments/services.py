"""Writing calendar columns and appointments. Every entry point (staff API, pages,
admin) calls these functions; appointment changes are kept in the history with
their actor."""

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from appointments.external import ExternalAppointment, ExternalPlan, PushOutcome, external_plan
from appointments.models import (
    PLATFORM_OWNED_FIELDS,
    Appointment,
    AppointmentSeries,
    AppointmentSource,
    AppointmentStatus,
    CalendarColumn,
    ColumnKind,
    ServiceChainMatch,
)
from billing.models import ServiceChain
from lemniscus.db import insert_row, insert_unless_taken
from lemniscus.errors import (
    AppointmentExternal,
    ColumnInUse,
    HasInvoices,
    InvalidStatus,
    RecordArchived,
    RoomBooked,
    ValidationFailed,
)
from lemniscus.history_rows import (
    history_insert,
    history_params,
    insert_with_history,
    update_with_history,
)
from lemniscus.tenancy import access
from outbox.services import enqueue
from patients.models import Patient

MAX_DURATION = timedelta(minutes=1440)


COLUMN_FIELDS = ("name", "kind", "doctolib_agenda_id", "position", "colour")

# Status changes an appointment may make; staying in the same status is no change.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    AppointmentStatus.PLANNED: frozenset(
        {AppointmentStatus.DONE, AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.DONE: frozenset({AppointmentStatus.PLANNED}),
    AppointmentStatus.CANCELLED: frozenset({AppointmentStatus.PLANNED}),
    AppointmentStatus.NO_SHOW: frozenset({AppointmentStatus.PLANNED}),
}


def _save_column(column: CalendarColumn, **save_kwargs) -> None:
    """Save; a Doctolib agenda already linked to another column is a validation error."""
    try:
        with transaction.atomic():
            column.save(**save_kwargs)
    except IntegrityError:
        raise ValidationFailed(
            "Diese Doctolib-Agenda ist schon mit einer anderen Kalenderspalte verknüpft.",
            errors={"doctolib_agenda_id": ["Schon mit einer anderen Kalenderspalte verknüpft."]},
        ) from None


def _next_position(organisation) -> int:
    """The position after the organisation's last column."""
    last = (
        CalendarColumn.objects.filter(organisation=organisation)
        .order_by("-position")
        .values_list("position", flat=True)
        .first()
    )
    return 0 if last is None else last + 1


@transaction.atomic
def calendar_column_create(
    *,
    organisation,
    name: str,
    kind: str = ColumnKind.THERAPIST,
    doctolib_agenda_id: str | None = None,
    position: int | None = None,
    colour: str = "",
) -> CalendarColumn:
    """A new column; without a position it comes after the organisation's others."""
    if position is None:
        position = _next_position(organisation)
    column = CalendarColumn(
        organisation=organisation,
        name=name,
        kind=kind,
        doctolib_agenda_id=doctolib_agenda_id,
        position=position,
        colour=colour,
    )
    _save_column(column)
    return column


@transaction.atomic
def calendar_column_update(*, column: CalendarColumn, **fields) -> CalendarColumn:
    changed = []
    for name, value in fields.items():
        if name not in COLUMN_FIELDS:
            raise TypeError(f"not an editable column field: {name}")
        if getattr(column, name) != value:
            setattr(column, name, value)
            changed.append(name)
    if changed:
        _save_column(column, update_fields=[*changed, "updated_at"])
    return column


@transaction.atomic
def calendar_column_delete(*, column: CalendarColumn) -> None:
    """Delete a column; one that still has appointments stays (409 `column_in_use`)."""
    column = CalendarColumn.objects.select_for_update().get(pk=column.pk)
    if column.appointments.exists():
        raise ColumnInUse()
    column.delete()


@transaction.atomic
def calendar_column_move(*, column: CalendarColumn, step: int) -> CalendarColumn:
    """Moves a column `step` places in the calendar's order (-1: one up, 1: one down;
    at either end it stays). The organisation's columns are numbered 0, 1, 2, … anew
    in their order, so equal positions (older columns all had 0) sort out too."""
    columns = list(
        CalendarColumn.objects.select_for_update()
        .filter(organisation_id=column.organisation_id)
        .order_by("position", "name", "id")
    )
    index = next(i for i, c in enumerate(columns) if c.pk == column.pk)
    target = min(max(index + step, 0), len(columns) - 1)
    columns.insert(target, columns.pop(index))
    for position, current in enumerate(columns):
        if current.position != position:
            current.position = position
            current.save(update_fields=["position", "updated_at"])
    return columns[target]


def apply_status(appointment: Appointment, status: str) -> bool:
    """The one way an appointment's status changes (not saved here): only along
    ALLOWED_TRANSITIONS, else 409 `invalid_status`. True when it changed."""
    current = appointment.status
    if status == current:
        return False
    if status not in ALLOWED_TRANSITIONS[current]:
        raise InvalidStatus(
            f"Ein Termin im Status „{AppointmentStatus(current).label}“ kann nicht auf "
            f"„{AppointmentStatus(status).label}“ gesetzt werden."
        )
    appointment.status = status
    return True


def _referenced(model, *, organisation, public_id):
    """The organisation's row that an appointment will point to (404 otherwise), held
    until commit so that deleting it cannot slip in between."""
    return access(
        model.objects.select_for_update(no_key=True),
        organisation=organisation,
        public_id=public_id,
    )


def resolve_refs(organisation, fields: dict) -> dict:
    """Public ids in `fields` replaced by the rows they name."""
    resolved = dict(fields)
    for key, name, model in (
        ("patient_id", "patient", Patient),
        ("calendar_column_id", "calendar_column", CalendarColumn),
        ("service_chain_id", "service_chain", ServiceChain),
        ("room_id", "room", CalendarColumn),
    ):
        if key in resolved:
            public_id = resolved.pop(key)
            resolved[name] = (
                None
                if public_id is None
                else _referenced(model, organisation=organisation, public_id=public_id)
            )
    patient = resolved.get("patient")
    if patient is not None and patient.archived_at is not None:
        raise RecordArchived("Die Akte ist archiviert; sie bekommt keine neuen Termine.")
    room = resolved.get("room")
    if room is not None and room.kind != ColumnKind.ROOM:
        raise ValidationFailed(
            f"„{room.name}“ ist keine Raumspalte.",
            errors={"room_id": ["Bitte eine Kalenderspalte der Art „Raum“ wählen."]},
        )
    return resolved


def booking_refs(
    organisation, *, patient_id, calendar_column_id, service_chain_id, room_id, duration_minutes
) -> tuple[dict, int]:
    """The rows a new booking (one appointment or a series) names, and its duration:
    as given, or the chain's minutes (422 naming `duration_minutes` when the chain
    names none)."""
    refs = resolve_refs(
        organisation,
        {
            "patient_id": patient_id,
            "calendar_column_id": calendar_column_id,
            "service_chain_id": service_chain_id,
            "room_id": room_id,
        },
    )
    if duration_minutes is None:
        duration_minutes = chain_minutes(refs["service_chain"])
        if not duration_minutes:
            raise ValidationFailed(
                "Bitte eine Dauer angeben; die Leistungskette nennt keine Minuten.",
                errors={"duration_minutes": ["Bitte eine Dauer in Minuten angeben."]},
            )
    return refs, duration_minutes


def chain_minutes(chain: ServiceChain | None) -> int:
    """The minutes of a chain's services together (0: the chain does not say)."""
    if chain is None:
        return 0
    return sum(service.minutes for service in chain.services.all())


def _overlapping(organisation, *, start: datetime, end: datetime, exclude=()) -> list:
    """The organisation's non-cancelled appointments that overlap [start, end)
    (half-open), with their columns; one indexed range query, the end checked here."""
    candidates = (
        Appointment.objects.filter(
            organisation=organisation, start__lt=end, start__gt=start - MAX_DURATION
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .exclude(pk__in=[pk for pk in exclude if pk])
        .select_related("calendar_column", "room")
    )
    return [a for a in candidates if a.end > start]


def rooms_held(appointment: Appointment) -> set[int]:
    """The room columns an appointment occupies: its room, and its column when that
    is a room."""
    rooms = {appointment.room_id} if appointment.room_id else set()
    if appointment.calendar_column.kind == ColumnKind.ROOM:
        rooms.add(appointment.calendar_column_id)
    return rooms


@dataclass
class Clash:
    """Another appointment at the same time: in a room it holds (refused) or in the
    same therapist column (a warning)."""

    appointment: Appointment
    room: CalendarColumn | None = None

    @property
    def blocking(self) -> bool:
        return self.room is not None

    def detail(self, zone) -> str:
        other = self.appointment
        span = f"{other.start.astimezone(zone):%d.%m.%Y %H:%M}–{other.end.astimezone(zone):%H:%M}"
        if self.room is not None:
            return f"Der Raum „{self.room.name}“ ist am {span} schon belegt."
        return f"Überschneidung mit einem Termin am {span} in „{other.calendar_column.name}“."


def clashes(appointment: Appointment, *, exclude=()) -> list[Clash]:
    """What the (unsaved or saved) appointment would collide with: rooms first."""
    if appointment.status == AppointmentStatus.CANCELLED:
        return []
    rooms = rooms_held(appointment)
    found: list[Clash] = []
    for other in _overlapping(
        appointment.organisation,
        start=appointment.start,
        end=appointment.end,
        exclude=(appointment.pk, *exclude),
    ):
        shared = rooms & rooms_held(other)
        if shared:
            room = other.room if other.room_id in shared else other.calendar_column
            found.append(Clash(other, room=room))
        elif other.calendar_column_id == appointment.calendar_column_id:
            found.append(Clash(other))
    found.sort(key=lambda clash: (not clash.blocking, clash.appointment.start))
    return found


def _refuse_room_double_booking(appointment: Appointment) -> list[Clash]:
    """RoomBooked when the appointment would share a room; else the therapist
    column's overlaps (warnings). The rooms' rows are locked until commit, so two
    bookings of one room cannot both pass."""
    rooms = rooms_held(appointment) if appointment.status != AppointmentStatus.CANCELLED else ()
    if rooms:
        list(CalendarColumn.objects.select_for_update(no_key=True).filter(pk__in=rooms))
    found = clashes(appointment)
    blocking = [clash for clash in found if clash.blocking]
    if blocking:
        clash = blocking[0]
        raise RoomBooked(
            clash.detail(appointment.organisation.zone),
            appointment_id=str(clash.appointment.public_id),
        )
    return found


@transaction.atomic
def appointment_create(
    *,
    organisation,
    actor,
    patient_id,
    calendar_column_id,
    start: datetime,
    duration_minutes: int | None = None,
    service_chain_id=None,
    room_id=None,
    note: str = "",
    status: str = AppointmentStatus.PLANNED,
    cancellation_reason: str = "",
    series: AppointmentSeries | None = None,
) -> Appointment:
    """A staff-made appointment (source lemniscus); a chain given here was chosen by
    hand. Without a duration it lasts as long as the chain's services (422 when the
    chain names no minutes). A room already held then is refused (409 `room_booked`);
    an overlap in the therapist's column is allowed (the calendar marks it)."""
    refs, duration_minutes = booking_refs(
        organisation,
        patient_id=patient_id,
        calendar_column_id=calendar_column_id,
        service_chain_id=service_chain_id,
        room_id=room_id,
        duration_minutes=duration_minutes,
    )
    appointment = Appointment(
        series=series,
        cancellation_reason=cancellation_reason if status == AppointmentStatus.CANCELLED else "",
        organisation=organisation,
        start=start,
        duration_minutes=duration_minutes,
        note=note,
        status=status,
        source=AppointmentSource.LEMNISCUS,
        service_chain_match=ServiceChainMatch.MANUAL if refs["service_chain"] else "",
        created_by=actor,
        **refs,
    )
    _refuse_room_double_booking(appointment)
    appointment._history_user = actor
    appointment.save()
    enqueue("appointments.send_confirmation", appointment.pk)
    return appointment


def appointments_create_series(
    *, series: AppointmentSeries, starts: list[datetime], actor, notify: bool = True
):
    """The series' appointments at `starts`, written together with their history rows
    (two statements). The caller has checked the rooms under their locks
    (appointments.series); the patient is sent one confirmation, for the first."""
    rows = [
        Appointment(
            organisation=series.organisation,
            patient=series.patient,
            calendar_column=series.calendar_column,
            room=series.room,
            service_chain=series.service_chain,
            service_chain_match=ServiceChainMatch.MANUAL if series.service_chain else "",
            start=start,
            duration_minutes=series.duration_minutes,
            note=series.note,
            source=AppointmentSource.LEMNISCUS,
            series=series,
            created_by=actor,
        )
        for start in starts
    ]
    rows = bulk_create_with_history(rows, Appointment, default_user=actor)
    if rows and notify:
        enqueue("appointments.send_confirmation", rows[0].pk)
    return rows


APPOINTMENT_FIELDS = (
    "patient",
    "calendar_column",
    "service_chain",
    "room",
    "start",
    "duration_minutes",
    "note",
    "status",
    "cancellation_reason",
)
# A change of these can make an appointment collide (the rooms are checked again).
_PLACING_FIELDS = frozenset({"calendar_column", "room", "start", "duration_minutes", "status"})


@transaction.atomic
def appointment_update(*, appointment: Appointment, actor, **fields) -> Appointment:
    """Change the given fields (ids as public ids). An appointment on a non-cancelled
    invoice is not changed (409 `appointment_invoiced`); a request that changes
    nothing is answered all the same."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    values = resolve_refs(appointment.organisation, fields)
    unknown = set(values) - set(APPOINTMENT_FIELDS)
    if unknown:
        raise TypeError(f"not editable appointment fields: {sorted(unknown)}")
    changed = [name for name, value in values.items() if getattr(appointment, name) != value]
    if not changed:
        return appointment
    if refusal := appointment.invoice_lock():
        raise refusal
    if appointment.source != AppointmentSource.LEMNISCUS and set(changed) & set(
        PLATFORM_OWNED_FIELDS
    ):
        raise AppointmentExternal()
    for name in changed:
        if name == "status":
            apply_status(appointment, values[name])
        else:
            setattr(appointment, name, values[name])
    if "service_chain" in changed:
        appointment.service_chain_match = (
            ServiceChainMatch.MANUAL if appointment.service_chain else ""
        )
        changed.append("service_chain_match")
    # A reason belongs to a cancellation; taking it back keeps it in the history only.
    if (
        "status" in changed
        and appointment.status != AppointmentStatus.CANCELLED
        and appointment.cancellation_reason
        and "cancellation_reason" not in changed
    ):
        appointment.cancellation_reason = ""
        changed.append("cancellation_reason")
    if _PLACING_FIELDS & set(changed):
        _refuse_room_double_booking(appointment)
    appointment._history_user = actor
    appointment.save(update_fields=[*changed, "updated_at"])
    return appointment


def following(appointment: Appointment) -> list[Appointment]:
    """The appointment and the later ones of its series that may still change (not
    invoiced, not cancelled unless it is this one), by start; locked until commit."""
    if appointment.series_id is None:
        return [appointment]
    rows = (
        Appointment.objects.select_for_update()
        .filter(series_id=appointment.series_id, start__gte=appointment.start)
        .select_related("calendar_column", "organisation")
        .order_by("start", "id")
    )
    return [
        row
        for row in rows
        if row.pk == appointment.pk
        or (row.invoice_id is None and row.status != AppointmentStatus.CANCELLED)
    ]


@transaction.atomic
def appointment_update_following(*, appointment: Appointment, actor, **fields) -> list[Appointment]:
    """ "Diesen und alle folgenden": the change applied to the appointment and the
    later open ones of its series. A new start moves each by the same amount; the
    other fields are set as given. Invoiced or cancelled later ones stay as they are.
    A room clash on any of them refuses the whole change."""
    rows = following(appointment)
    first = rows[0] if rows[0].pk == appointment.pk else appointment
    shift = None
    if "start" in fields:
        shift = fields["start"] - first.start
    changed = []
    for row in rows:
        values = dict(fields)
        if shift is not None:
            values["start"] = row.start + shift
        changed.append(appointment_update(appointment=row, actor=actor, **values))
    return changed


@transaction.atomic
def appointment_cancel(
    *, appointment: Appointment, actor, reason: str = "", and_following: bool = False
) -> list[Appointment]:
    """Status "abgesagt" with an optional reason (kept in the history), for the
    appointment or for it and the later open ones of its series."""
    rows = following(appointment) if and_following else [appointment]
    return [
        appointment_update(
            appointment=row,
            actor=actor,
            status=AppointmentStatus.CANCELLED,
            cancellation_reason=reason,
        )
        for row in rows
        if row.status != AppointmentStatus.CANCELLED or row.pk == appointment.pk
    ]


@transaction.atomic
def appointment_delete_following(*, appointment: Appointment, actor) -> int:
    """Delete the appointment and the later open ones of its series; the number deleted."""
    rows = following(appointment)
    for row in rows:
        appointment_delete(appointment=row, actor=actor)
    return len(rows)


@transaction.atomic
def appointment_delete(*, appointment: Appointment, actor) -> None:
    """Delete an appointment. One on a non-cancelled invoice stays (409
    `appointment_invoiced`), and so does one a cancelled invoice still lists."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if refusal := appointment.invoice_lock():
        raise refusal
    if appointment.invoice_lines.exists():
        raise HasInvoices(
            "Der Termin steht auf einer stornierten Rechnung und bleibt deshalb erhalten; "
            "setzen Sie ihn stattdessen auf „abgesagt“."
        )
    appointment._history_user = actor
    appointment.delete()


# -- appointments handed over by an external booking platform ---------------------

# Tries of a push that lost a race (for the appointment's row or the agenda's column)
# before it gives up with an IntegrityError: each lost race means another writer
# won, so a push loses more than once only while several different ones race.
_EXTERNAL_TRIES = 5


def _external_column(organisation, plan: ExternalPlan) -> CalendarColumn | None:
    """The plan's column, linked to the agenda; a new therapist column (after the
    others) when none matched. None when a concurrent push linked or created it first
    (plan again: it is then found by the agenda)."""
    request, column = plan.request, plan.column
    if column is None:
        column = CalendarColumn(
            organisation=organisation,
            name=request.agenda_name,
            kind=ColumnKind.THERAPIST,
            doctolib_agenda_id=request.agenda_id,
            position=_next_position(organisation),
        )
        return column if insert_unless_taken(column) else None
    if column.doctolib_agenda_id is None:
        # Not locked beforehand (pushes to one agenda must not queue behind each
        # other): a conditional update, which only one of two concurrent pushes wins.
        linked = CalendarColumn.objects.filter(
            pk=column.pk, doctolib_agenda_id__isnull=True
        ).update(doctolib_agenda_id=request.agenda_id, updated_at=timezone.now())
        if not linked:
            return None
        column.doctolib_agenda_id = request.agenda_id
    return column


def _remember_motive(plan: ExternalPlan, change_reason: str, along) -> bool:
    """An unchanged push still records the motive the platform now gives. False when
    somebody changed the appointment since it was planned."""
    existing, request = plan.existing, plan.request
    motive = (request.motive_name, request.motive_sync_id)
    if plan.invoiced or (existing.doctolib_motive_name, existing.doctolib_motive_sync_id) == motive:
        for row in along:
            insert_row(row)
        return True
    existing.doctolib_motive_name, existing.doctolib_motive_sync_id = motive
    existing.service_chain_match = plan.chain_match
    return update_with_history(
        existing,
        ["doctolib_motive_name", "doctolib_motive_sync_id", "service_chain_match", "updated_at"],
        reason=change_reason,
        version=plan.version,
        along=along,
    )


_EXTERNAL_OWNED = (
    "patient",
    "calendar_column",
    "start",
    "duration_minutes",
    "note",
    "service_chain",
    "service_chain_match",
    "doctolib_motive_name",
    "doctolib_motive_sync_id",
)


def _write_external(organisation, plan: ExternalPlan, column, change_reason: str, along) -> bool:
    """Create or overwrite what the platform owns; False when the create lost the
    race for the external id, or somebody changed the appointment since the plan."""
    request = plan.request
    appointment = plan.existing or Appointment(
        organisation=organisation,
        doctolib_appointment_id=request.external_id,
        source=AppointmentSource.DOCTOLIB,
        status=AppointmentStatus.DONE,
    )
    appointment.patient = plan.patient
    appointment.calendar_column = column
    appointment.start = request.start
    appointment.duration_minutes = request.duration_minutes
    appointment.note = request.note
    appointment.service_chain = plan.chain
    appointment.service_chain_match = plan.chain_match
    appointment.doctolib_motive_name = request.motive_name
    appointment.doctolib_motive_sync_id = request.motive_sync_id
    if plan.existing is not None:
        written = update_with_history(
            appointment,
            [*_EXTERNAL_OWNED, "updated_at"],
            reason=change_reason,
            version=plan.version,
            along=along,
        )
    else:
        written = insert_with_history(appointment, reason=change_reason, along=along)
    if written:
        plan.existing = appointment
    return written


def _apply_external(organisation, plan: ExternalPlan, change_reason: str, along) -> bool:
    """Write what `plan` says; False (and nothing written) when it is out of date."""
    if plan.outcome == PushOutcome.UNCHANGED:
        return _remember_motive(plan, change_reason, along)
    if plan.column is not None and plan.column.doctolib_agenda_id is not None:
        # The common case: one statement, no transaction of its own.
        return _write_external(organisation, plan, plan.column, change_reason, along)
    with transaction.atomic():  # the agenda's column linked or created with the write
        column = _external_column(organisation, plan)
        if column is not None and _write_external(organisation, plan, column, change_reason, along):
            plan.column = column
            return True
        transaction.set_rollback(True)
        return False


def appointment_upsert_external(
    *, organisation, request: ExternalAppointment, change_reason: str, along=None
) -> ExternalPlan:
    """A finished appointment a booking platform hands over ("Termin in lemniscus
    speichern"): created (status done, source of the platform) or brought up to date
    in what the platform owns — patient, column, start, duration, note, and the chain
    when the motive changed or none is set. Refused: an unlinked patient (422
    `patient_not_linked`) and a change of an invoiced appointment (409
    `appointment_invoiced`).

    Planned without a lock and written only if the plan still holds: the
    appointment's UPDATE is conditional on its row version (PostgreSQL's `xmin`), a
    create on nobody holding the external id (or a new agenda's column). A push that
    lost such a race (identical pushes at once, an invoice issued meanwhile) plans
    again and finds the winner's row; no savepoint, no retry left to the caller. On
    PostgreSQL a push to a known column is two statements, the plan and the write
    (with its history row), and needs no transaction; SQLite, which has no row
    version, plans and writes in one.

    `change_reason` names the platform in the history. `along(plan)` gives rows the
    caller wants written with the push, in its statement (the bridge's sync-log
    row): they are written if and only if the push writes, or alone when nothing
    changed."""
    for _ in range(_EXTERNAL_TRIES):
        with _plan_and_write():
            plan = external_plan(organisation=organisation, request=request)
            if plan.refusal is not None:
                raise plan.refusal
            rows = list(along(plan)) if along is not None else []
            if _apply_external(organisation, plan, change_reason, rows):
                return plan
    raise IntegrityError(f"external appointment: lost the race {_EXTERNAL_TRIES} times")


def _plan_and_write():
    """Around a push's plan and write: nothing on PostgreSQL (the write checks the
    plan's row version), a transaction on SQLite (which has none)."""
    if connection.vendor == "postgresql":
        return nullcontext()
    return transaction.atomic()


# -- many at once: the handover takes appointments out and puts them back ----------


def _record_history_many(pks: list[int], *, history_type: str, actor, reason: str) -> None:
    """A history row for each of these appointments as stored now, in one statement:
    simple_history's per-row signals and model instances cost ~0.2 ms a row, which
    adds up over a handover's hundreds of thousands."""
    if not pks:
        return
    marks = ", ".join(["%s"] * len(pks))
    source = f"{connection.ops.quote_name(Appointment._meta.db_table)} WHERE id IN ({marks})"
    params = history_params(
        history_type=history_type, user_id=getattr(actor, "pk", None), reason=reason
    )
    with connection.cursor() as cursor:
        cursor.execute(history_insert(Appointment, source=source), [*params, *pks])


def appointments_take_out(*, pks: list[int], actor, reason: str) -> None:
    """Delete these appointments (the caller has locked them and kept what it needs
    to put them back), each with its history row naming `reason`. One DELETE: the
    caller has dealt with every row that points to them (invoice lines and
    documentation keep theirs: such appointments are not taken out)."""
    _record_history_many(pks, history_type="-", actor=actor, reason=reason)
    Appointment.objects.filter(pk__in=pks)._raw_delete(connection.alias)


def appointments_put_back(*, appointments: list[Appointment], actor, reason: str) -> None:
    """Insert appointments taken out before, every value as it was (their ids,
    created_at and updated_at too: a raw insert, which bulk_create is not), each
    with its history row naming `reason`."""
    fields = Appointment._meta.concrete_fields
    size = connection.ops.bulk_batch_size(fields, appointments) or len(appointments)
    for start in range(0, len(appointments), max(size, 1)):
        Appointment.objects._insert(appointments[start : start + size], fields=fields, raw=True)
    _record_history_many(
        [appointment.pk for appointment in appointments],
        history_type="+",
        actor=actor,
        reason=reason,
    )
