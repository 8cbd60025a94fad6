from django.db.models import QuerySet
from django.utils import timezone

from doctolib_bridge.appointment_push import TRANSFER_LIFETIME
from doctolib_bridge.models import SyncLogEntry, Transfer
from lemniscus.tenancy import scoped


def sync_log_list(*, organisation) -> QuerySet[SyncLogEntry]:
    """The organisation's Zipper API calls, newest first."""
    return scoped(SyncLogEntry, organisation).order_by("-created_at", "-id")


def transfer_open_list(*, organisation) -> QuerySet[Transfer]:
    """Staged transfers still waiting in their dialog: not committed, not replaced and
    younger than 24 h; newest first."""
    return (
        scoped(Transfer, organisation)
        .filter(
            committed_at__isnull=True,
            replaced_at__isnull=True,
            created_at__gt=timezone.now() - TRANSFER_LIFETIME,
        )
        .order_by("-created_at", "-id")
    )
