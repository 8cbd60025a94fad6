"""Background jobs of billing. Thin: they take ids and call the services, which
make each e-mail go out once (billing.sending); the daily dunning count
(billing.dunning) only logs."""

import logging
from smtplib import SMTPException

from celery import shared_task

from billing import sending
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
