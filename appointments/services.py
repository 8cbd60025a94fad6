"""Writing calendar columns and appointments. Every entry point (staff API, pages,
admin) calls these functions; appointment changes are kept in the history with
their actor."""

from datetime import datetime

from django.db import IntegrityError, transaction

from appointments.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    CalendarColumn,
    ColumnKind,
    ServiceChainMatch,
)
from billing.models import ServiceChain
from lemniscus.errors import (
    AppointmentInvoiced,
    ColumnInUse,
    HasInvoices,
    InvalidStatus,
    RecordArchived,
    ValidationFailed,
)
from lemniscus.tenancy import access
from outbox.services import enqueue
from patients.models import Patient

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
        last = (
            CalendarColumn.objects.filter(organisation=organisation)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        position = 0 if last is None else last + 1
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


def _resolve(organisation, fields: dict) -> dict:
    """Public ids in `fields` replaced by the rows they name."""
    resolved = dict(fields)
    for key, name, model in (
        ("patient_id", "patient", Patient),
        ("calendar_column_id", "calendar_column", CalendarColumn),
        ("service_chain_id", "service_chain", ServiceChain),
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
    return resolved


@transaction.atomic
def appointment_create(
    *,
    organisation,
    actor,
    patient_id,
    calendar_column_id,
    start: datetime,
    duration_minutes: int,
    service_chain_id=None,
    note: str = "",
    status: str = AppointmentStatus.PLANNED,
) -> Appointment:
    """A staff-made appointment (source lemniscus); a chain given here was chosen by hand."""
    refs = _resolve(
        organisation,
        {
            "patient_id": patient_id,
            "calendar_column_id": calendar_column_id,
            "service_chain_id": service_chain_id,
        },
    )
    appointment = Appointment(
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
    appointment._history_user = actor
    appointment.save()
    enqueue("appointments.send_confirmation", appointment.pk)
    return appointment


APPOINTMENT_FIELDS = (
    "patient",
    "calendar_column",
    "service_chain",
    "start",
    "duration_minutes",
    "note",
    "status",
)


@transaction.atomic
def appointment_update(*, appointment: Appointment, actor, **fields) -> Appointment:
    """Change the given fields (ids as public ids). An appointment on a non-cancelled
    invoice is not changed (409 `appointment_invoiced`); a request that changes
    nothing is answered all the same."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    values = _resolve(appointment.organisation, fields)
    unknown = set(values) - set(APPOINTMENT_FIELDS)
    if unknown:
        raise TypeError(f"not editable appointment fields: {sorted(unknown)}")
    changed = [name for name, value in values.items() if getattr(appointment, name) != value]
    if not changed:
        return appointment
    if appointment.invoice_id is not None:
        raise AppointmentInvoiced()
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
    appointment._history_user = actor
    appointment.save(update_fields=[*changed, "updated_at"])
    return appointment


@transaction.atomic
def appointment_delete(*, appointment: Appointment, actor) -> None:
    """Delete an appointment. One on a non-cancelled invoice stays (409
    `appointment_invoiced`), and so does one a cancelled invoice still lists."""
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.invoice_id is not None:
        raise AppointmentInvoiced()
    if appointment.invoice_lines.exists():
        raise HasInvoices(
            "Der Termin steht auf einer stornierten Rechnung und bleibt deshalb erhalten; "
            "setzen Sie ihn stattdessen auf „abgesagt“."
        )
    appointment._history_user = actor
    appointment.delete()
