import logging

from celery import shared_task

from patients.services import patient_erase_expired

logger = logging.getLogger(__name__)


@shared_task(name="patients.erase_expired", time_limit=3600, soft_time_limit=3500)
def erase_expired_task() -> int:
    """Periodic (Celery beat, nightly by default): erase the archived records whose
    retention has passed (patients.retention), each in its own transaction; safe to
    run twice (an erased record is gone, a kept one is looked at again next night)."""
    erased = patient_erase_expired()
    logger.info("erasure: %s records past retention erased", erased)
    return erased
