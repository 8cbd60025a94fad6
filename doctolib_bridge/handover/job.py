"""The run a worker does for a job (the body of the task `doctolib_bridge.export_run`):
claim the job, write both files, then one final transaction that removes the
exported appointments (when asked), offers the files and marks the job done."""

import logging
import os
from datetime import datetime
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError, transaction

from audit.actions import Action
from doctolib_bridge.handover import csv_files, removal
from doctolib_bridge.handover.selectors import today_starts
from doctolib_bridge.handover.services import (
    ACTIVE_STATES,
    export_audit,
    export_fail,
    export_transition,
)
from doctolib_bridge.handover.storage import discard, file_storage, final_name, remove_files
from doctolib_bridge.models import ExportJob, ExportState
from lemniscus.jobs import heartbeat
from organisations.models import Organisation

logger = logging.getLogger(__name__)

# A run that starts this often without finishing (workers killed under it) is given up.
MAX_RUNS = 5
# The task's time limit; a run whose worker died is found by its heartbeat
# (lemniscus.jobs), a queued job waits for the broker (the outbox hands it over).
EXPORT_TIME_LIMIT = 1800

FAILED_INTERNAL = "Der Export ist wegen eines internen Fehlers abgebrochen. Bitte erneut starten."
FAILED_TIME = "Der Export hat zu lange gedauert und wurde abgebrochen. Bitte erneut starten."
FAILED_RUNS = f"Der Export wurde {MAX_RUNS}-mal unterbrochen und deshalb aufgegeben."


def export_run(*, job_id: int) -> str:
    """Run a job (the Celery task's body); idempotent. A done or failed job is left
    alone; a running one (its worker died, the broker delivered the task again) starts
    over from scratch. Until the final transaction nothing is changed; if anything
    fails before it, no file is offered and the job is failed with a German reason.
    Transient database errors propagate so that the task retries."""
    job = _claim(job_id=job_id)
    if job is None:
        return "skipped"
    attempt = job.attempts
    cutoff = today_starts(job.organisation)
    try:
        with heartbeat(ExportJob, job.pk):
            written = csv_files.write(job=job, cutoff=cutoff)
            finished = _complete(job=job, attempt=attempt, written=written, cutoff=cutoff)
    except OperationalError:
        discard(job)
        raise
    except SoftTimeLimitExceeded:
        discard(job)
        export_fail(job_id=job.pk, reason=FAILED_TIME, attempt=attempt)
        return ExportState.FAILED
    except Exception:
        logger.exception("export job %s failed", job.pk)
        discard(job)
        export_fail(job_id=job.pk, reason=FAILED_INTERNAL, attempt=attempt)
        return ExportState.FAILED
    if not finished:  # a newer run of the same job took over
        discard(job)
        return "superseded"
    return ExportState.DONE


@transaction.atomic
def _claim(*, job_id: int) -> ExportJob | None:
    job = (
        ExportJob.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .filter(pk=job_id)
        .first()
    )
    if job is None or job.state not in ACTIVE_STATES:
        return None
    if job.attempts >= MAX_RUNS:
        export_transition(job, ExportState.FAILED, error=FAILED_RUNS)
        return None
    remove_files(job)  # what an interrupted run left behind
    export_transition(job, ExportState.RUNNING)
    return job


def _complete(
    *, job: ExportJob, attempt: int, written: csv_files.Written, cutoff: datetime
) -> bool:
    """The one transaction that makes the job count: remove the exported appointments
    (when asked), mark the handover, offer the files, mark the job done. False when
    another run of the job took over meanwhile."""
    storage = file_storage()
    moved: list[Path] = []
    try:
        with transaction.atomic():
            organisation = Organisation.objects.select_for_update().get(pk=job.organisation_id)
            job = ExportJob.objects.select_for_update().get(pk=job.pk)
            if job.state != ExportState.RUNNING or job.attempts != attempt:
                return False
            removed = 0
            if job.delete_appointments:
                removed = removal.remove(job=job, cutoff=cutoff)
            files = {}
            for name, path in (
                ("patients.csv", written.patients_path),
                ("appointments.csv", written.appointments_path),
            ):
                final = Path(storage.path(final_name(job, name)))
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, final)
                moved.append(final)
                files[name] = final_name(job, name)
            export_transition(
                job,
                ExportState.DONE,
                patients_count=written.patients_count,
                appointments_count=written.appointments_count,
                removed_count=removed,
                patients_file=files["patients.csv"],
                appointments_file=files["appointments.csv"],
            )
            if job.delete_appointments:
                removal.mark_handover(organisation)
                # On behalf of the admin who started it, as in the appointments' history.
                export_audit(job, job.created_by, Action.EXPORT_DELETE, f"{removed} Termine")
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    return True
