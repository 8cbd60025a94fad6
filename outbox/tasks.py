import logging

from celery import shared_task

from outbox.services import dispatch_pending, purge_sent

logger = logging.getLogger(__name__)


@shared_task(name="outbox.dispatch", time_limit=120, soft_time_limit=100)
def dispatch_task() -> int:
    """Periodic (Celery beat, every minute): hand over what the broker did not take
    after its commit (it was down), and delete what was delivered a week ago."""
    handed = dispatch_pending()
    purge_sent()
    if handed:
        logger.info("outbox: %s messages handed over", handed)
    return handed
