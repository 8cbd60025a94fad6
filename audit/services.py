"""Writing the Protokoll. Every service that reads or changes what the audit log
covers calls `audit_record` inside its own transaction, so an action that rolls
back leaves no entry and a committed one always has its entry."""

import uuid

from audit.models import AuditEvent

SYSTEM = "System"


def actor_label(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return SYSTEM
    name = " ".join(part for part in (actor.first_name, actor.last_name) if part)
    return f"{name} <{actor.email}>" if name else actor.email


def audit_record(
    *,
    organisation,
    actor,
    action: str,
    object_type: str,
    object_id: str | uuid.UUID | None = "",
    patient=None,
    detail: str = "",
) -> AuditEvent:
    """One entry. `patient` is a Patient (or its public id) the action concerns;
    `detail` never holds health data (field names, numbers, counts only)."""
    patient_id = getattr(patient, "public_id", patient)
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        organisation=organisation,
        actor=user,
        actor_label=actor_label(user),
        action=action,
        object_type=object_type,
        object_id=str(object_id or ""),
        patient_id=patient_id,
        detail=detail[:500],
    )
