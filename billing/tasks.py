import logging

from celery import shared_task

from billing.dunning import proposal_counts

logger = logging.getLogger(__name__)


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
