from audit.models import AuditEvent


def entries(organisation, action: str | None = None) -> list[AuditEvent]:
    """The organisation's entries (of `action`), oldest first."""
    qs = AuditEvent.objects.filter(organisation=organisation)
    if action:
        qs = qs.filter(action=action)
    return list(qs.order_by("time", "id"))


def only(organisation, action: str) -> AuditEvent:
    found = entries(organisation, action)
    assert len(found) == 1, [(e.action, e.detail) for e in entries(organisation)]
    return found[0]


def assert_no_trace(organisation, *secrets: str) -> None:
    """None of these values is anywhere in the organisation's entries."""
    for event in entries(organisation):
        text = " ".join(
            str(value)
            for value in (
                event.actor_label,
                event.action,
                event.object_type,
                event.object_id,
                event.patient_id,
                event.detail,
            )
        )
        for secret in secrets:
            assert secret.lower() not in text.lower(), (secret, event.action, text)
