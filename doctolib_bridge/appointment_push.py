"""Finished Doctolib appointments handed over for billing (zipper-api.md,
"Appointments"): the direct push, and staged transfers with their preview.

`plan_push` works out what a push would do without writing (the transfer preview
shows it); `appointment_push` does it."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from appointments.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    CalendarColumn,
    ColumnKind,
    ServiceChainMatch,
)
from billing.models import ServiceChain
from doctolib_bridge.models import Transfer
from doctolib_bridge.sync import DOCTOLIB_SYNC_ACTOR
from lemniscus.errors import AppointmentInvoiced, PatientNotLinked, TransferExpired
from lemniscus.page_urls import appointment_url
from lemniscus.tenancy import access, scoped
from patients.models import Patient

TRANSFER_LIFETIME = timedelta(hours=24)
MAX_DURATION = timedelta(minutes=1440)


class PushOutcome:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass
class PushPlan:
    """What a push does. `column` is None when a new column would be created."""

    payload: dict
    patient: Patient | None
    existing: Appointment | None
    column: CalendarColumn | None
    column_name: str
    column_created: bool
    chain: ServiceChain | None
    chain_match: str
    rematched: bool
    outcome: str
    warnings: list[dict] = field(default_factory=list)
    refusal: Exception | None = None

    @property
    def invoiced(self) -> bool:
        return bool(self.existing and self.existing.invoice_id)


def match_service_chain(
    *, organisation, name: str, sync_id: str
) -> tuple[ServiceChain | None, str]:
    """Case-sensitive, whole strings: a non-empty sync id must stand in a chain's notes
    as a white-space-separated word (the description is then not used, even when
    nothing matches); otherwise the description must equal the motive's name."""
    chains = scoped(ServiceChain, organisation)
    if sync_id:
        hits = [
            chain
            for chain in chains.filter(notes__contains=sync_id).only(
                "id", "public_id", "description", "notes"
            )
            if sync_id in chain.notes.split()
        ]
        kind = ServiceChainMatch.SYNC_ID
    else:
        hits = (
            list(chains.filter(description=name).only("id", "public_id", "description")[:2])
            if name
            else []
        )
        kind = ServiceChainMatch.DESCRIPTION
    if len(hits) == 1:
        return hits[0], kind
    return None, ServiceChainMatch.AMBIGUOUS if hits else ServiceChainMatch.NONE


def _match_column(organisation, agenda: dict) -> CalendarColumn | None:
    """Not locked: pushes to one agenda must not queue behind each other. Linking a
    column by name is a conditional update (see _column_for)."""
    columns = scoped(CalendarColumn, organisation)
    by_agenda = columns.filter(doctolib_agenda_id=agenda["id"]).first()
    if by_agenda is not None:
        return by_agenda
    return (
        columns.filter(doctolib_agenda_id__isnull=True, name=agenda["name"])
        .order_by("created_at", "id")
        .first()
    )


def _collisions(organisation, column, start: datetime, minutes: int, exclude_pk) -> list[dict]:
    """Lemniscus-only appointments in the same column that overlap (half-open)."""
    if column is None:
        return []
    end = start + timedelta(minutes=minutes)
    candidates = (
        scoped(Appointment, organisation)
        .filter(
            calendar_column=column,
            source=AppointmentSource.LEMNISCUS,
            start__lt=end,
            start__gt=start - MAX_DURATION,
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .exclude(pk=exclude_pk)
        .only("public_id", "start", "duration_minutes")
    )
    zone = organisation.zone
    return [
        {
            "code": "collision",
            "detail": (
                "Überschneidung mit einem nur in lemniscus vergebenen Termin "
                f"({other.start.astimezone(zone):%d.%m.%Y %H:%M}, {other.duration_minutes} Min.)"
                "; Doctolib sieht solche Termine nicht."
            ),
            "appointment_id": str(other.public_id),
        }
        for other in candidates
        if other.start + timedelta(minutes=other.duration_minutes) > start
    ]


def plan_push(*, organisation, doctolib_appointment_id: str, payload: dict, lock: bool) -> PushPlan:
    patient = (
        scoped(Patient, organisation)
        .filter(doctolib_patient_id=payload["doctolib_patient_id"])
        .only("id", "public_id", "first_name", "last_name", "doctolib_patient_id")
        .first()
    )
    existing_qs = scoped(Appointment, organisation).filter(
        doctolib_appointment_id=doctolib_appointment_id
    )
    if lock:
        existing_qs = existing_qs.select_for_update()
    existing = existing_qs.first()
    column = _match_column(organisation, payload["agenda"])
    motive = payload["visit_motive"]
    motive_name, sync_id = motive.get("name", ""), motive.get("sync_id", "")
    rematch = (
        existing is None
        or existing.service_chain_id is None
        or (existing.doctolib_motive_name, existing.doctolib_motive_sync_id)
        != (motive_name, sync_id)
    )
    if rematch:
        chain, chain_match = match_service_chain(
            organisation=organisation, name=motive_name, sync_id=sync_id
        )
    else:
        chain, chain_match = existing.service_chain, existing.service_chain_match
    plan = PushPlan(
        payload=payload,
        patient=patient,
        existing=existing,
        column=column,
        column_name=payload["agenda"]["name"],
        column_created=column is None,
        chain=chain,
        chain_match=chain_match,
        rematched=rematch,
        outcome=PushOutcome.CREATED,
        warnings=_collisions(
            organisation,
            column,
            payload["start"],
            payload["duration_minutes"],
            existing.pk if existing else None,
        ),
    )
    if existing is not None:
        same = (
            patient is not None
            and existing.patient_id == patient.pk
            and column is not None
            and existing.calendar_column_id == column.pk
            and existing.start == payload["start"]
            and existing.duration_minutes == payload["duration_minutes"]
            and existing.note == payload["note"]
            and existing.service_chain_id == (chain.pk if chain else None)
        )
        plan.outcome = PushOutcome.UNCHANGED if same else PushOutcome.UPDATED
    if patient is None:
        plan.refusal = PatientNotLinked(
            "Der Termin nennt einen Doctolib-Patienten, der mit keiner Akte verknüpft ist.",
            status=422,
        )
    elif plan.invoiced and plan.outcome != PushOutcome.UNCHANGED:
        plan.refusal = AppointmentInvoiced(
            "Der Termin steht auf einer Rechnung; Änderungen aus Doctolib werden nicht übernommen."
        )
    return plan


def _column_for(organisation, plan: PushPlan) -> CalendarColumn:
    agenda = plan.payload["agenda"]
    column = plan.column
    if column is None:
        return CalendarColumn.objects.create(
            organisation=organisation,
            name=agenda["name"],
            kind=ColumnKind.THERAPIST,
            doctolib_agenda_id=agenda["id"],
        )
    if column.doctolib_agenda_id is None:
        linked = CalendarColumn.objects.filter(
            pk=column.pk, doctolib_agenda_id__isnull=True
        ).update(doctolib_agenda_id=agenda["id"], updated_at=timezone.now())
        if not linked:  # a concurrent push linked it first: match again
            raise IntegrityError("calendar column linked concurrently")
        column.doctolib_agenda_id = agenda["id"]
    return column


@transaction.atomic(savepoint=False)  # nested: fails its caller's transaction whole
def appointment_push(*, organisation, doctolib_appointment_id: str, payload: dict) -> PushPlan:
    """PUT /appointments/{id} ("Termin in lemniscus speichern"). Raises the plan's
    refusal. Concurrent identical first pushes: the loser hits the unique constraint;
    run it with lemniscus.db.atomic_with_race_retry to have it find the winner's row."""
    plan = plan_push(
        organisation=organisation,
        doctolib_appointment_id=doctolib_appointment_id,
        payload=payload,
        lock=True,
    )
    if plan.refusal is not None:
        raise plan.refusal
    motive = payload["visit_motive"]
    if plan.outcome == PushOutcome.UNCHANGED and not plan.invoiced:
        # Nothing Doctolib owns changed; remember the motive it now has.
        existing = plan.existing
        new_motive = (motive.get("name", ""), motive.get("sync_id", ""))
        if (existing.doctolib_motive_name, existing.doctolib_motive_sync_id) != new_motive:
            existing.doctolib_motive_name, existing.doctolib_motive_sync_id = new_motive
            existing.service_chain_match = plan.chain_match
            existing._change_reason = DOCTOLIB_SYNC_ACTOR
            existing.save(
                update_fields=[
                    "doctolib_motive_name",
                    "doctolib_motive_sync_id",
                    "service_chain_match",
                    "updated_at",
                ]
            )
        return plan
    if plan.outcome == PushOutcome.UNCHANGED:
        return plan
    column = _column_for(organisation, plan)
    plan.column = column
    appointment = plan.existing or Appointment(
        organisation=organisation,
        doctolib_appointment_id=doctolib_appointment_id,
        source=AppointmentSource.DOCTOLIB,
        status=AppointmentStatus.DONE,
    )
    appointment.patient = plan.patient
    appointment.calendar_column = column
    appointment.start = payload["start"]
    appointment.duration_minutes = payload["duration_minutes"]
    appointment.note = payload["note"]
    appointment.service_chain = plan.chain
    appointment.service_chain_match = plan.chain_match
    appointment.doctolib_motive_name = motive.get("name", "")
    appointment.doctolib_motive_sync_id = motive.get("sync_id", "")
    appointment._change_reason = DOCTOLIB_SYNC_ACTOR
    appointment.save()
    plan.existing = appointment
    return plan


# -- staged transfers ---------------------------------------------------------


def transfer_stage(*, organisation, doctolib_appointment_id: str, payload: dict):
    """POST /transfers: stage a payload (nothing in the calendar changes); an older
    uncommitted transfer of the same appointment expires. Returns (transfer, plan)."""
    with transaction.atomic():
        Transfer.objects.filter(
            organisation=organisation,
            doctolib_appointment_id=doctolib_appointment_id,
            committed_at__isnull=True,
            replaced_at__isnull=True,
        ).update(replaced_at=timezone.now())
        transfer = Transfer.objects.create(
            organisation=organisation,
            doctolib_appointment_id=doctolib_appointment_id,
            payload=serialise_payload(payload),
        )
    plan = plan_push(
        organisation=organisation,
        doctolib_appointment_id=doctolib_appointment_id,
        payload=payload,
        lock=False,
    )
    return transfer, plan


def serialise_payload(payload: dict) -> dict:
    return {**payload, "start": payload["start"].isoformat()}


def deserialise_payload(stored: dict) -> dict:
    return {**stored, "start": datetime.fromisoformat(stored["start"])}


def access_transfer(*, organisation, transfer_id, lock: bool = False) -> Transfer:
    return access(Transfer, organisation=organisation, public_id=transfer_id, lock=lock)


def transfer_preview(*, transfer: Transfer) -> PushPlan:
    return plan_push(
        organisation=transfer.organisation,
        doctolib_appointment_id=transfer.doctolib_appointment_id,
        payload=deserialise_payload(transfer.payload),
        lock=False,
    )


def transfer_unusable(*, transfer: Transfer) -> TransferExpired | None:
    """Why the transfer can no longer be committed (already committed, replaced by a
    newer one, or older than 24 h), or None while it can."""
    if transfer.committed_at is not None:
        extra = {}
        if transfer.appointment is not None:
            extra = {
                "appointment_id": str(transfer.appointment.public_id),
                "url": appointment_url(transfer.appointment),
            }
        return TransferExpired("Diese Übertragung wurde schon gespeichert.", **extra)
    if transfer.replaced_at is not None:
        return TransferExpired("Diese Übertragung wurde durch eine neuere ersetzt.")
    if timezone.now() - transfer.created_at > TRANSFER_LIFETIME:
        return TransferExpired("Diese Übertragung ist älter als 24 Stunden.")
    return None


@transaction.atomic
def transfer_commit(*, organisation, transfer_id) -> tuple[Transfer, PushPlan]:
    """POST /transfers/{id}/commit: the PUT with the staged payload. Only a successful
    commit uses the transfer up."""
    transfer = access_transfer(organisation=organisation, transfer_id=transfer_id, lock=True)
    refusal = transfer_unusable(transfer=transfer)
    if refusal is not None:
        raise refusal
    plan = appointment_push(
        organisation=organisation,
        doctolib_appointment_id=transfer.doctolib_appointment_id,
        payload=deserialise_payload(transfer.payload),
    )
    transfer.committed_at = timezone.now()
    transfer.appointment = plan.existing
    transfer.save(update_fields=["committed_at", "appointment", "updated_at"])
    return transfer, plan
