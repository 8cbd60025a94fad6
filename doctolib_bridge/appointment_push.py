"""Finished Doctolib appointments handed over for billing (zipper-api.md,
"Appointments"): the direct push, and staged transfers with their preview.

`plan_push` works out what a push would do without writing (the transfer preview
shows it); `appointment_push` does it."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from appointments.external import (
    ExternalAppointment,
    ExternalPlan,
    external_plan,
)
from appointments.services import appointment_upsert_external
from doctolib_bridge.models import Transfer
from doctolib_bridge.sync import DOCTOLIB_SYNC_ACTOR
from lemniscus.errors import TransferExpired
from lemniscus.page_urls import appointment_url
from lemniscus.tenancy import access

TRANSFER_LIFETIME = timedelta(hours=24)


def external_appointment(doctolib_appointment_id: str, payload: dict) -> ExternalAppointment:
    """The validated payload (zipper-api.md) in the appointment domain's terms."""
    motive = payload["visit_motive"]
    return ExternalAppointment(
        external_id=doctolib_appointment_id,
        patient_external_id=payload["doctolib_patient_id"],
        agenda_id=payload["agenda"]["id"],
        agenda_name=payload["agenda"]["name"],
        motive_name=motive.get("name", "") or "",
        motive_sync_id=motive.get("sync_id", "") or "",
        start=payload["start"],
        duration_minutes=payload["duration_minutes"],
        note=payload["note"],
    )


def plan_push(*, organisation, doctolib_appointment_id: str, payload: dict) -> ExternalPlan:
    """What the PUT would do now (the transfer preview), without writing."""
    return external_plan(
        organisation=organisation,
        request=external_appointment(doctolib_appointment_id, payload),
    )


def appointment_push(
    *, organisation, doctolib_appointment_id: str, payload: dict, along=None
) -> ExternalPlan:
    """PUT /appointments/{id} ("Termin in lemniscus speichern"): the appointment
    domain's one writer, with Doctolib named in the history; `along(plan)` gives rows
    to write with it (the call's sync-log row). Raises the refusal."""
    return appointment_upsert_external(
        organisation=organisation,
        request=external_appointment(doctolib_appointment_id, payload),
        change_reason=DOCTOLIB_SYNC_ACTOR,
        along=along,
    )


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
        organisation=organisation, doctolib_appointment_id=doctolib_appointment_id, payload=payload
    )
    return transfer, plan


def serialise_payload(payload: dict) -> dict:
    return {**payload, "start": payload["start"].isoformat()}


def deserialise_payload(stored: dict) -> dict:
    return {**stored, "start": datetime.fromisoformat(stored["start"])}


def access_transfer(*, organisation, transfer_id, lock: bool = False) -> Transfer:
    return access(Transfer, organisation=organisation, public_id=transfer_id, lock=lock)


def transfer_preview(*, transfer: Transfer) -> ExternalPlan:
    return plan_push(
        organisation=transfer.organisation,
        doctolib_appointment_id=transfer.doctolib_appointment_id,
        payload=deserialise_payload(transfer.payload),
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
def transfer_commit(*, organisation, transfer_id) -> tuple[Transfer, ExternalPlan]:
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
