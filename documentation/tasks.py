import logging

from celery import shared_task

from documentation.services import entries_finalise_due

logger = logging.getLogger(__name__)


@shared_task(name="documentation.finalise_due")
def finalise_due_task() -> int:
    """Periodic (Celery beat, hourly): write when entries finalised by themselves at
    the end of the day after their creation. They count as finalised from that moment
    whether or not this has run; safe to run twice."""
    finalised = entries_finalise_due()
    logger.info("documentation: %s entries finalised by themselves", finalised)
    return finalised
