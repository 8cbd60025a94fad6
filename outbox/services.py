"""Writing to the outbox and handing its messages to Celery.

`enqueue` is called inside the transaction of the write that wants the side effect;
after the commit the message is handed over at once when the broker is up. What the
broker does not take waits: the dispatcher (Celery beat every minute, or
`manage.py outbox_dispatch`) hands it over again with a growing pause between tries
(backoff up to 10 minutes). Delivery is at least once: a task run from here must be
safe to run twice (they are: each checks what it already did)."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from lemniscus.celery import app as current_app
from outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

BATCH = 200
MAX_BACKOFF = timedelta(minutes=10)
KEEP_SENT = timedelta(days=7)


def enqueue(task: str, *args, **kwargs) -> OutboxMessage:
    """Ask for `task(*args, **kwargs)` once the caller's transaction commits; nothing
    if it rolls back. Arguments must be JSON (ids, not objects)."""
    message = OutboxMessage.objects.create(task=task, args=list(args), kwargs=kwargs)
    transaction.on_commit(lambda: dispatch_one(message.pk))
    return message


def dispatch_one(pk: int) -> bool:
    """Hand one message over now (after the commit that wrote it). Never raises: a
    broker that is down leaves it to the dispatcher."""
    run_here = None
    try:
        with transaction.atomic():
            message = (
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, sent_at__isnull=True)
                .first()
            )
            if message is None:
                return False
            if _eager():
                _mark_sent(message)
                run_here = message
            elif not _hand_over(message):
                return False
    except Exception:  # the database itself: the dispatcher tries later
        logger.warning("outbox message %s not handed over after commit", pk, exc_info=True)
        return False
    if run_here is not None:
        _run_here(run_here)
    return True


def dispatch_pending(*, now=None, limit: int = BATCH) -> int:
    """Hand over every message that is due (oldest first, `limit` at most); returns
    how many Celery took. Two dispatchers at once share the work (SKIP LOCKED)."""
    now = now or timezone.now()
    handed, run_here = 0, []
    with transaction.atomic():
        due = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True, available_at__lte=now)
            .order_by("available_at", "id")[:limit]
        )
        for message in due:
            if _eager():
                _mark_sent(message)
                run_here.append(message)
            elif not _hand_over(message):
                break  # the broker is down: the rest waits for the next round
            handed += 1
    for message in run_here:
        _run_here(message)
    return handed


def purge_sent(*, now=None) -> int:
    """Delivered messages are kept a week (to look into), then deleted."""
    now = now or timezone.now()
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=now - KEEP_SENT).delete()
    return deleted


def _eager() -> bool:
    """Tasks run in this process (the embedded default, without a broker)."""
    return bool(current_app.conf.task_always_eager)


def _hand_over(message: OutboxMessage) -> bool:
    """Give the message to the broker, without Celery's own retries (a broker that is
    down fails at once); record the outcome on the row (the caller holds its lock)."""
    try:
        current_app.send_task(message.task, message.args, message.kwargs, retry=False)
    except Exception as error:
        message.attempts += 1
        pause = min(timedelta(seconds=2**message.attempts), MAX_BACKOFF)
        message.available_at = timezone.now() + pause
        message.last_error = f"{type(error).__name__}: {error}"[:300]
        message.save(update_fields=["attempts", "available_at", "last_error"])
        logger.warning(
            "outbox message %s (%s) not handed over, try %s: %s",
            message.pk,
            message.task,
            message.attempts,
            type(error).__name__,
        )
        return False
    _mark_sent(message)
    return True


def _mark_sent(message: OutboxMessage) -> None:
    message.sent_at = timezone.now()
    message.attempts += 1
    message.save(update_fields=["sent_at", "attempts"])


def _task(name: str):
    """The registered task `name`; the apps' task modules are imported on first use
    (a worker imports them at its start, a web process only here)."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[name]


def _run_here(message: OutboxMessage) -> None:
    """Run the task in this process, after the hand-over committed (its failure is
    the task's, as on a worker, and never the request's)."""
    try:
        _task(message.task).apply(message.args, message.kwargs, throw=True)
    except Exception:
        logger.exception("outbox task %s (#%s) failed in-process", message.task, message.pk)
