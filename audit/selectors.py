"""Reading the Protokoll: an organisation's entries, newest first, filtered the same
way for the staff API, the page and their CSV files."""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet

from audit.models import AuditEvent
from lemniscus.tenancy import scoped

AWARE_STEP = timedelta(microseconds=1)  # PostgreSQL keeps microseconds


def audit_log(
    *,
    organisation,
    patient_ids: Iterable | None = None,
    actor=None,
    actor_email: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """The organisation's entries, newest first. `patient_ids`: public ids of records
    (an empty list matches nothing); `actor`: a user (or its pk), or `actor_email`
    that user's address (any case), whose entries these are; `since` inclusive,
    `before` exclusive (see `period_start` / `period_end`)."""
    qs = scoped(AuditEvent, organisation)
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=list(patient_ids))
    if actor is not None:
        qs = qs.filter(actor_id=getattr(actor, "pk", actor))
    if actor_email:
        qs = qs.filter(actor__email__iexact=actor_email.strip())
    if since is not None:
        qs = qs.filter(time__gte=since)
    if before is not None:
        qs = qs.filter(time__lt=before)
    return qs.order_by("-time", "-id")


def period_start(value: date | datetime, zone) -> datetime:
    """`since`: a time as it is, a date from its midnight in the organisation's zone."""
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, time.min, tzinfo=zone)


def period_end(value: date | datetime, zone) -> datetime:
    """`until` is inclusive: a time up to and including that instant, a date up to the
    end of that day in the organisation's zone. Returned as the exclusive bound."""
    if isinstance(value, datetime):
        return value + AWARE_STEP
    return datetime.combine(value + timedelta(days=1), time.min, tzinfo=zone)
