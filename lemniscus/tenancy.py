"""Tenancy in one place: every read of tenant-owned rows goes through `scoped`.

`access(...)` is the authorizing lookup: an object of another organisation is
answered exactly like a missing one (NotFound). A deliberate cross-tenant read
must say so in its name (`unscoped_...`).
"""

import uuid

from django.db.models import Model, QuerySet

from lemniscus.errors import NotFound


def scoped(model_or_qs: type[Model] | QuerySet, organisation) -> QuerySet:
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs.objects.all()
    return qs.filter(organisation=organisation)


def parse_public_id(value) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def access(
    model_or_qs: type[Model] | QuerySet,
    *,
    organisation,
    public_id,
    lock: bool = False,
    not_found: str | None = None,
):
    """The organisation's object with that public id, or NotFound."""
    parsed = parse_public_id(public_id)
    if parsed is None:
        raise NotFound(not_found)
    qs = scoped(model_or_qs, organisation)
    if lock:
        qs = qs.select_for_update()
    try:
        return qs.get(public_id=parsed)
    except qs.model.DoesNotExist:
        raise NotFound(not_found) from None
