from django.db.models import QuerySet

from doctolib_bridge.models import SyncLogEntry
from lemniscus.tenancy import scoped


def sync_log_list(*, organisation) -> QuerySet[SyncLogEntry]:
    """The organisation's Zipper API calls, newest first."""
    return scoped(SyncLogEntry, organisation).order_by("-created_at", "-id")
