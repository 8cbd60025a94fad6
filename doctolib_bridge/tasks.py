"""Background jobs of the Doctolib bridge. Thin: they take ids and call services."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import OperationalError as DatabaseUnavailable
from kombu.exceptions import OperationalError as BrokerUnavailable

from doctolib_bridge.handover.job import EXPORT_TIME_LIMIT, FAILED_INTERNAL, export_run
from doctolib_bridge.handover.services import export_fail, unscoped_export_fail_dead
from doctolib_bridge.reconcile import reconcile_organisation, unscoped_organisations_with_doctolib
from doctolib_bridge.retention import purge_expired
from organisations.models import Organisation

logger = logging.getLogger(__name__)

# A reconciliation task works this long, then queues its own continuation.
RECONCILE_TIME_BUDGET = 240


@shared_task(name="doctolib_bridge.reconcile_all", time_limit=120, soft_time_limit=100)
def reconcile_all() -> int:
    """Periodic (Celery beat, every 15 minutes by default): one task per organisation."""
    ids = list(unscoped_organisations_with_doctolib().values_list("pk", flat=True))
    for organisation_pk in ids:
        reconcile_organisation_task.delay(organisation_pk)
    return len(ids)


@shared_task(
    name="doctolib_bridge.reconcile_organisation",
    time_limit=RECONCILE_TIME_BUDGET + 120,
    soft_time_limit=RECONCILE_TIME_BUDGET + 60,
)
def reconcile_organisation_task(organisation_pk: int, after_pk: int = 0) -> dict:
    organisation = Organisation.objects.filter(pk=organisation_pk).first()
    if organisation is None or not organisation.has_doctolib_plan:
        return {"skipped": True}
    result = reconcile_organisation(
        organisation=organisation, after_pk=after_pk, time_budget=RECONCILE_TIME_BUDGET
    )
    if result.skipped:
        logger.info(
            "reconciliation organisation=%s skipped: another one is running", organisation_pk
        )
        return {"skipped": True}
    if not result.finished:
        reconcile_organisation_task.delay(organisation_pk, result.last_pk)
    logger.info(
        "reconciliation organisation=%s checked=%s set_back=%s queued=%s finished=%s",
        organisation_pk,
        result.checked,
        result.set_back,
        result.queued,
        result.finished,
    )
    return {"checked": result.checked, "set_back": result.set_back, "queued": result.queued}


@shared_task(name="doctolib_bridge.purge_expired", time_limit=900, soft_time_limit=840)
def purge_expired_task() -> dict:
    """Periodic (Celery beat, daily by default): sync log after 90 days, Idempotency-Key
    answers after 24 hours, transfers after 7 days, export files 30 days after their
    job ended (doctolib_bridge.retention)."""
    purged = purge_expired()
    logger.info(
        "purge sync_log=%s idempotency=%s transfers=%s export_files=%s",
        purged.sync_log,
        purged.idempotency,
        purged.transfers,
        purged.export_files,
    )
    return vars(purged)


@shared_task(
    bind=True,
    name="doctolib_bridge.export_run",
    time_limit=EXPORT_TIME_LIMIT + 60,
    soft_time_limit=EXPORT_TIME_LIMIT,
    autoretry_for=(DatabaseUnavailable, BrokerUnavailable),
    retry_backoff=True,
    max_retries=3,
)
def export_run_task(self, job_id: int) -> str:
    """The handover export (doctolib_bridge.handover.job.export_run). A done or failed job
    is not run again; transient database or broker errors retry with backoff, and
    after the last retry the job is marked failed."""
    try:
        return export_run(job_id=job_id)
    except (DatabaseUnavailable, BrokerUnavailable):
        if self.request.retries >= self.max_retries:
            export_fail(job_id=job_id, reason=FAILED_INTERNAL)
        raise


@shared_task(name="doctolib_bridge.fail_dead_jobs", time_limit=60, soft_time_limit=50)
def fail_dead_jobs_task() -> int:
    """Periodic (Celery beat, every minute): export jobs whose worker died (no
    heartbeat for two minutes) are failed with a German reason and their files
    removed, so that a new export may start."""
    failed = unscoped_export_fail_dead()
    if failed:
        logger.warning("%s dead export jobs failed", failed)
    return failed


@worker_ready.connect
def fail_dead_jobs_on_start(**kwargs) -> None:
    """A worker that starts looks for jobs a killed worker left running."""
    try:
        unscoped_export_fail_dead()
    except Exception:  # the database may not be up yet: the beat task does it later
        logger.warning("dead export jobs not checked at worker start", exc_info=True)
