"""Writing the Protokoll. Every service that reads or changes what the audit log
covers calls `audit_record` inside its own transaction, so an action that rolls
back leaves no entry and a committed one always has its entry."""

import uuid

from audit.actions import LABELS, Action, object_type_of
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
    object_type: str | None = None,
    object_id: str | uuid.UUID | None = "",
    patient=None,
    detail: str = "",
) -> AuditEvent:
    """One entry of `organisation` (an Organisation or its pk). `action` is one of
    audit.actions.Action (anything else is a ValueError); `object_type` defaults to its
    first part. `patient` is a Patient (or its public id) the action concerns; `detail`
    never holds health data (field names, numbers, counts only). `actor` None (or not a
    logged-in user) is the system."""
    event = audit_event(
        organisation=organisation,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        patient=patient,
        detail=detail,
    )
    event.save()
    return event


def audit_record_many(events: list[AuditEvent]) -> None:
    """Write entries made by `audit_event` at once (a billing run's thousands of
    drafts), in the caller's transaction."""
    AuditEvent.objects.bulk_create(events, batch_size=500)


def audit_event(
    *,
    organisation,
    actor,
    action: str,
    object_type: str | None = None,
    object_id: str | uuid.UUID | None = "",
    patient=None,
    detail: str = "",
) -> AuditEvent:
    """The entry `audit_record` writes, not yet saved."""
    if action not in LABELS:
        raise ValueError(f"unknown audit action {action!r}: add it to audit.actions.Action")
    patient_id = getattr(patient, "public_id", patient)
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        organisation_id=getattr(organisation, "pk", organisation),
        actor=user,
        actor_label=actor_label(user)[:300],
        action=action,
        object_type=object_type or object_type_of(action),
        object_id=str(object_id or ""),
        patient_id=patient_id,
        detail=detail[:500],
    )


def fields_detail(names, reason: str | None = None) -> str:
    """`detail` of a change: the names of the changed fields, never their values;
    `reason` is the label of the system that made it (e.g. "Doctolib-Sync")."""
    text = "Felder: " + ", ".join(names) if names else ""
    return f"{text} ({reason})" if reason and text else (reason or text)


def audit_log_exported(*, organisation, actor, patient=None, filters: dict) -> AuditEvent:
    """The download of the Protokoll as CSV is an export like any other: logged, with
    the record it was narrowed to and the other filters (never a search term, which
    could be a name)."""
    return audit_record(
        organisation=organisation,
        actor=actor,
        action=Action.AUDIT_EXPORT,
        patient=patient,
        detail=", ".join(f"{name}={_text(value)}" for name, value in filters.items() if value),
    )


def _text(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
