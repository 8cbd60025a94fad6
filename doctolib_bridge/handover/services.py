"""The handover's writes: the job's state changes (one table), starting a job with
its outbox message, failing it, handing out its files (with the Protokoll entry),
purging old files, and the undo of a removal."""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from appointments.models import Appointment, AppointmentSource
from audit.actions import Action
from audit.services import audit_record
from doctolib_bridge.handover.removal import forget_exported, mark_handover, restore
from doctolib_bridge.handover.selectors import access_export, dead_jobs
from doctolib_bridge.handover.storage import remove_files
from doctolib_bridge.models import ExportJob, ExportState
from lemniscus.errors import (
    ExportRunning,
    InvalidStatus,
    NotFound,
    PermissionDenied,
    UndoRefused,
)
from lemniscus.tenancy import scoped
from organisations.models import Organisation, Role
from outbox.models import OutboxMessage
from outbox.services import dispatch_one, enqueue

logger = logging.getLogger(__name__)

UNDO_DAYS = 7

# The one table of allowed state changes; "running" again is the restart of a run
# whose worker died.
TRANSITIONS: dict[str, frozenset[str]] = {
    ExportState.QUEUED: frozenset({ExportState.RUNNING, ExportState.FAILED}),
    ExportState.RUNNING: frozenset({ExportState.RUNNING, ExportState.DONE, ExportState.FAILED}),
    ExportState.DONE: frozenset(),
    ExportState.FAILED: frozenset(),
}
ACTIVE_STATES = (ExportState.QUEUED, ExportState.RUNNING)

FAILED_STALE = (
    "Der Export kam nicht zu Ende (der Hintergrunddienst hat sich nicht mehr gemeldet). "
    "Bitte erneut starten."
)


def export_transition(job: ExportJob, state: str, **fields) -> None:
    """The one way a job's state changes (saved here): only along TRANSITIONS."""
    if state not in TRANSITIONS[job.state]:
        raise InvalidStatus(
            f"Ein Export im Status „{ExportState(job.state).label}“ kann nicht auf "
            f"„{ExportState(state).label}“ gesetzt werden."
        )
    now = timezone.now()
    job.state = state
    if state == ExportState.RUNNING:
        job.started_at = now
        job.heartbeat_at = now
        job.attempts += 1
    else:
        job.finished_at = now
    for name, value in fields.items():
        setattr(job, name, value)
    job.save()
    # Fingerprints stored by a run (csv_files.exported_record) serve only that run's
    # removal: a new run, or the end of the job, leaves none behind.
    forget_exported(job)


def _require_admin(*, actor, organisation) -> None:
    if (
        actor is None
        or not actor.is_active
        or actor.organisation_id != organisation.pk
        or actor.role != Role.ADMIN
    ):
        raise PermissionDenied(
            "Exporte für Doctolib dürfen nur Organisations-Admins sehen und starten."
        )


# The CSV files hold every record's contact data: deleted this long after their job
# ended (nightly, doctolib_bridge.retention); the job row stays.
EXPORT_FILE_RETENTION = timedelta(days=30)


def export_purge_files(*, now: datetime) -> int:
    """Deletes the files of jobs that ended more than EXPORT_FILE_RETENTION before
    `now` and clears their file fields; returns how many jobs. Idempotent."""
    ended = ExportJob.objects.filter(finished_at__lt=now - EXPORT_FILE_RETENTION).exclude(
        patients_file="", appointments_file=""
    )
    purged = 0
    for job in ended.select_related("organisation").iterator(chunk_size=200):
        remove_files(job)
        ExportJob.objects.filter(pk=job.pk).update(patients_file="", appointments_file="")
        purged += 1
    return purged


def export_file(*, organisation, actor, public_id, name: str) -> FieldFile:
    """`patients.csv` or `appointments.csv` of a finished job, for an admin of its
    organisation only; NotFound while the job is not done."""
    _require_admin(actor=actor, organisation=organisation)
    job = access_export(organisation=organisation, public_id=public_id)
    files = {"patients.csv": job.patients_file, "appointments.csv": job.appointments_file}
    if job.state != ExportState.DONE:
        raise NotFound("Die Datei gibt es erst, wenn der Export fertig ist.")
    if not files[name]:
        raise NotFound("Die Dateien werden 30 Tage nach dem Export gelöscht (Datenschutz).")
    if not files[name].storage.exists(files[name].name):
        raise NotFound("Die Datei ist nicht mehr vorhanden; bitte den Export erneut starten.")
    export_audit(job, actor, Action.EXPORT_DOWNLOAD, name)
    return files[name]


def export_audit(job: ExportJob, actor, action: str, detail: str = "") -> None:
    """The job's entry in the Protokoll: names of files and counts only."""
    audit_record(
        organisation=job.organisation_id,
        actor=actor,
        action=action,
        object_id=job.public_id,
        detail=detail,
    )


# Starting


def export_start(*, organisation, actor, delete_appointments: bool) -> ExportJob:
    """Create the job and, in the same transaction, its message in the outbox; hand
    it to the workers right after the commit. A broker that is down changes nothing
    for the caller (202, the job queued): the outbox's dispatcher hands the job over
    once it is back, and the job then runs."""
    _require_admin(actor=actor, organisation=organisation)
    job, message = _job_create(organisation=organisation, actor=actor, delete=delete_appointments)
    dispatch_one(message.pk)  # now, not only on commit: called outside a transaction
    job.refresh_from_db()
    return job


def _fail_dead(jobs) -> int:
    """Fail each dead job (locked, checked again) and remove its files."""
    failed = 0
    for job in dead_jobs(jobs).select_for_update(skip_locked=True):
        export_transition(job, ExportState.FAILED, error=FAILED_STALE)
        remove_files(job)
        logger.warning("export job %s failed: its worker stopped (no heartbeat)", job.pk)
        failed += 1
    return failed


@transaction.atomic
def unscoped_export_fail_dead() -> int:
    """Every organisation's dead export jobs, failed with a German reason and their
    files removed (a beat task every minute and each worker's start run this)."""
    return _fail_dead(ExportJob.objects.all())


@transaction.atomic
def _job_create(*, organisation, actor, delete: bool) -> tuple[ExportJob, OutboxMessage]:
    _fail_dead(scoped(ExportJob, organisation))
    try:
        with transaction.atomic():
            job = ExportJob.objects.create(
                organisation=organisation, created_by=actor, delete_appointments=delete
            )
    except IntegrityError:  # the constraint: one queued or running job per organisation
        raise ExportRunning() from None
    export_audit(job, actor, Action.EXPORT_CREATE, "mit Löschen der Termine" if delete else "")
    # By name: the task (doctolib_bridge.tasks) imports this module, not the other way.
    return job, enqueue("doctolib_bridge.export_run", job.pk)


@transaction.atomic
def export_fail(*, job_id: int, reason: str, attempt: int | None = None) -> None:
    """Fail a queued or running job; with `attempt`, only if no newer run took over."""
    job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state not in ACTIVE_STATES:
        return
    if attempt is None or job.attempts == attempt:
        export_transition(job, ExportState.FAILED, error=reason)


# Undoing


@transaction.atomic
def export_undo(*, job: ExportJob, actor) -> ExportJob:
    """Bring the removed appointments back exactly as they were (support, Django
    admin): within 7 days, for the latest handover only, and only if staff created no
    appointment in lemniscus since (transfers from Doctolib do not count). Otherwise
    UndoRefused (409) says why."""
    organisation = Organisation.objects.select_for_update().get(pk=job.organisation_id)
    job = ExportJob.objects.select_for_update().get(pk=job.pk)
    _check_undo(job)
    try:
        with transaction.atomic():
            restore(job=job, actor=actor)
            connection.check_constraints(table_names=[Appointment._meta.db_table])
    except IntegrityError:
        raise UndoRefused(
            "Die Termine lassen sich nicht wiederherstellen: inzwischen wurden Akten, "
            "Kalenderspalten oder Leistungsketten gelöscht, oder Doctolib hat einen der "
            "Termine erneut übertragen."
        ) from None
    job.undone_at = timezone.now()
    job.undone_by = actor
    job.save(update_fields=["undone_at", "undone_by", "updated_at"])
    mark_handover(organisation)
    export_audit(job, actor, Action.EXPORT_UNDO, f"{job.removed_count} Termine")
    return job


def _check_undo(job: ExportJob) -> None:
    if job.state != ExportState.DONE or not job.delete_appointments:
        raise UndoRefused(
            "Nur ein fertiger Export mit Löschen der Termine kann rückgängig gemacht werden."
        )
    if job.undone_at:
        raise UndoRefused("Das Löschen der Termine wurde schon rückgängig gemacht.")
    if timezone.now() > job.finished_at + timedelta(days=UNDO_DAYS):
        raise UndoRefused(
            f"Das Löschen liegt mehr als {UNDO_DAYS} Tage zurück und kann nicht mehr "
            "rückgängig gemacht werden."
        )
    newer = scoped(ExportJob, job.organisation_id).filter(
        state=ExportState.DONE,
        delete_appointments=True,
        undone_at__isnull=True,
        finished_at__gt=job.finished_at,
    )
    if newer.exists():
        raise UndoRefused("Nur die letzte Übergabe an Doctolib kann rückgängig gemacht werden.")
    by_staff = {"organisation_id": job.organisation_id, "source": AppointmentSource.LEMNISCUS}
    created_since = (
        Appointment.objects.filter(**by_staff, created_at__gt=job.finished_at).exists()
        or Appointment.history.filter(
            **by_staff, history_type="+", history_date__gt=job.finished_at
        ).exists()
    )
    if created_since:
        raise UndoRefused(
            "Seit der Übergabe wurden in lemniscus Termine angelegt; das Löschen kann "
            "nicht mehr rückgängig gemacht werden."
        )
