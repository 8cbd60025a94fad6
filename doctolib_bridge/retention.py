"""How long the bridge keeps what it records (zipper-api.md), and the purge that
enforces it: sync-log entries 90 days, Idempotency-Key answers 24 hours, staged
transfers 7 days (they are used up or expired after 24 hours; the week after lets
the dialog still say what became of them), the handover's CSV files 30 days after
their job ended (the job row stays)."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from doctolib_bridge.handover.services import export_purge_files
from doctolib_bridge.models import IdempotencyRecord, SyncLogEntry, Transfer

SYNC_LOG_RETENTION = timedelta(days=90)
IDEMPOTENCY_TTL = timedelta(hours=24)
TRANSFER_RETENTION = timedelta(days=7)
CHUNK = 5000


@dataclass(frozen=True)
class Purged:
    sync_log: int
    idempotency: int
    transfers: int
    export_files: int


def _delete_older(model, cutoff, chunk: int) -> int:
    """Deletes the rows created before `cutoff`, `chunk` at a time in short
    transactions (no long lock on a busy table); returns how many."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(
                model.objects.filter(created_at__lt=cutoff)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                return deleted
            deleted += model.objects.filter(pk__in=ids).delete()[0]


def purge_expired(*, now=None, chunk: int = CHUNK) -> Purged:
    """Removes what is past its retention, across all organisations. Idempotent."""
    now = now or timezone.now()
    return Purged(
        sync_log=_delete_older(SyncLogEntry, now - SYNC_LOG_RETENTION, chunk),
        idempotency=_delete_older(IdempotencyRecord, now - IDEMPOTENCY_TTL, chunk),
        transfers=_delete_older(Transfer, now - TRANSFER_RETENTION, chunk),
        export_files=export_purge_files(now=now),
    )
