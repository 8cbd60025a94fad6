"""Heartbeats of long jobs (issue 12): a job that runs writes, every few seconds,
when it was last alive on its row. A running job whose heartbeat is older than
DEAD_AFTER is taken as dead (its worker was killed): the job's own app fails it
with a German reason and removes what it left behind, so that a new one may start.

The heartbeat comes from a thread of its own with its own database connection, so
that it keeps beating while the job sits in a long transaction or a slow query."""

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.db import connection, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

BEAT_EVERY_SECONDS = 15.0
DEAD_AFTER = timedelta(minutes=2)


def dead_before(now=None):
    """A running job whose last heartbeat is before this is dead."""
    return (now or timezone.now()) - DEAD_AFTER


@contextmanager
def heartbeat(model, pk: int, *, every: float = BEAT_EVERY_SECONDS):
    """Write `heartbeat_at` of row `pk` of `model` now and every `every` seconds until
    the block ends. On SQLite (the embedded default runs jobs in-process, and one
    writer at a time) only the first beat is written."""
    _beat(model, pk)
    if connection.vendor != "postgresql":
        yield
        return
    stop = threading.Event()

    def beat_on():
        try:
            while not stop.wait(every):
                try:
                    _beat(model, pk)
                except Exception:  # a missed beat is no reason to stop the job
                    logger.warning("heartbeat of %s %s not written", model.__name__, pk)
        finally:
            connections.close_all()  # this thread's connection

    thread = threading.Thread(target=beat_on, name=f"heartbeat-{model.__name__}-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


def _beat(model, pk: int) -> None:
    model.objects.filter(pk=pk).update(heartbeat_at=timezone.now())
