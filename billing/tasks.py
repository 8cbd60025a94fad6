"""Background jobs of billing. Thin: they take ids and call the services, which
make each e-mail go out once (billing.sending) and each billing run go on where it
stopped (billing.runs); the daily dunning count (billing.dunning) only logs."""

import logging
from smtplib import SMTPException

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError as DatabaseUnavailable
from kombu.exceptions import OperationalError as BrokerUnavailable

from billing import runs, sending
from billing.dunning import proposal_counts

logger = logging.getLogger(__name__)

# Delivery errors worth another try; anything else is a bug and is not retried.
TRANSIENT = (SMTPException, ConnectionError, TimeoutError)
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name=sending.TASK, time_limit=120, soft_time_limit=90, **RETRY)
def send_invoice_task(invoice_id: int, requested_at: str) -> bool:
    """Queued through the outbox by `POST /invoices/{id}/send` and the page."""
    return sending.invoice_send(invoice_id=invoice_id, requested_at=requested_at)


@shared_task(name=sending.NOTICE_TASK, time_limit=120, soft_time_limit=90, **RETRY)
def send_dunning_notice_task(notice_id: int, requested_at: str) -> bool:
    """Queued through the outbox by `POST /dunning-notices/{id}/send` and the page."""
    return sending.dunning_notice_send(notice_id=notice_id, requested_at=requested_at)


@shared_task(name="billing.dunning_proposals", time_limit=600, soft_time_limit=550)
def dunning_proposals_task() -> int:
    """Daily (Celery beat): counts per organisation the invoices due for a dunning
    notice and logs them. The proposals themselves are computed on every read
    (billing.dunning.dunning_proposals), so there is nothing to store; nothing is
    made or sent here, only by a person's click. Safe to run twice."""
    counts = proposal_counts()
    for organisation_id, count in counts.items():
        logger.info(
            "dunning: organisation %s has %s invoices due for a notice", organisation_id, count
        )
    return sum(counts.values())


# A run of a few thousand patients makes its drafts in seconds and archives each
# issued invoice's PDF in about 0.2 s: an hour is far more than any practice needs.
RUN_TIME_LIMIT = 3600


@shared_task(
    bind=True,
    name=runs.TASK,
    time_limit=RUN_TIME_LIMIT + 60,
    soft_time_limit=RUN_TIME_LIMIT,
    autoretry_for=(DatabaseUnavailable, BrokerUnavailable),
    retry_backoff=True,
    max_retries=3,
)
def billing_run_task(self, run_id: int) -> str:
    """A billing run's phase (billing.runs.billing_run_execute), queued through the
    outbox by starting the run and by "Alle stellen". Transient database or broker
    errors retry with backoff; after the last retry the run is failed."""
    try:
        return runs.billing_run_execute(run_id=run_id)
    except (DatabaseUnavailable, BrokerUnavailable):
        if self.request.retries >= self.max_retries:
            runs.billing_run_fail(run_id=run_id)
        raise


@shared_task(name="billing.fail_dead_runs", time_limit=60, soft_time_limit=50)
def fail_dead_runs_task() -> int:
    """Periodic (Celery beat, every minute): runs whose worker died (no heartbeat for
    two minutes) are failed with a German reason, so that a new one may start."""
    failed = runs.unscoped_billing_run_fail_dead()
    if failed:
        logger.warning("%s dead billing runs failed", failed)
    return failed


@worker_ready.connect
def fail_dead_runs_on_start(**kwargs) -> None:
    """A worker that starts looks for runs a killed worker left running."""
    try:
        runs.unscoped_billing_run_fail_dead()
    except Exception:  # the database may not be up yet: the beat task does it later
        logger.warning("dead billing runs not checked at worker start", exc_info=True)
