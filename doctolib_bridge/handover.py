"""The initial handover to Doctolib (operations.md, "Initial handover to Doctolib").

An organisation admin starts an export job (`export_start`); a worker writes
`patients.csv` and `appointments.csv` (`export_run`) and, for "Export erstellen und
Termine löschen", removes exactly the exported appointments in the same step; support
can undo the removal within 7 days (`export_undo`). Every entry point (staff API,
Celery task, Django admin) calls these functions.
"""

import csv
import logging
import os
import shutil
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from itertools import islice
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.fields.files import FieldFile
from django.db.models.functions import Cast, TruncMinute
from django.utils import timezone

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from audit.actions import Action
from audit.services import audit_record
from billing.models import InvoiceLine
from doctolib_bridge.models import ExportJob, ExportState, RemovedAppointment, Transfer
from documentation.models import DocumentationEntry
from lemniscus.errors import (
    ExportRunning,
    InvalidStatus,
    NotFound,
    PermissionDenied,
    UndoRefused,
)
from lemniscus.jobs import dead_before, heartbeat
from lemniscus.tenancy import access, scoped
from organisations.models import Organisation, Role
from outbox.models import OutboxMessage
from outbox.services import dispatch_one, enqueue
from patients.models import Patient, Salutation

logger = logging.getLogger(__name__)

CHUNK = 2000  # rows per database round trip, read and write alike
UNDO_DAYS = 7
# A run that starts this often without finishing (workers killed under it) is given up.
MAX_RUNS = 5
# The task's time limit; a run whose worker died is found by its heartbeat
# (lemniscus.jobs), a queued job waits for the broker (the outbox hands it over).
EXPORT_TIME_LIMIT = 1800
REMOVED_REASON = "Übergabe an Doctolib"
RESTORED_REASON = "Übergabe rückgängig gemacht"

# The CSV columns, in operations.md's order: (header, Patient field).
PATIENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lemniscus id", "public_id"),
    ("Anrede", "salutation"),
    ("Titel", "title"),
    ("Vorname", "first_name"),
    ("Nachname", "last_name"),
    ("Geburtsdatum", "birth_date"),
    ("Mobil", "mobile_phone"),
    ("Festnetz", "landline_phone"),
    ("E-Mail", "email"),
    ("Straße", "street"),
    ("PLZ", "postal_code"),
    ("Ort", "city"),
)
APPOINTMENT_HEADERS: tuple[str, ...] = (
    "lemniscus id",
    "Patient lemniscus id",
    "Nachname",
    "Vorname",
    "Geburtsdatum",
    "Datum",
    "Beginn",
    "Dauer (Minuten)",
    "Kalenderspalte",
    "Leistungskette",
    "Anmerkung",
)
SALUTATIONS = {Salutation.NONE: "", Salutation.MALE: "Herr", Salutation.FEMALE: "Frau"}

# The one table of allowed state changes; "running" again is the restart of a run
# whose worker died.
TRANSITIONS: dict[str, frozenset[str]] = {
    ExportState.QUEUED: frozenset({ExportState.RUNNING, ExportState.FAILED}),
    ExportState.RUNNING: frozenset({ExportState.RUNNING, ExportState.DONE, ExportState.FAILED}),
    ExportState.DONE: frozenset(),
    ExportState.FAILED: frozenset(),
}
ACTIVE_STATES = (ExportState.QUEUED, ExportState.RUNNING)

FAILED_INTERNAL = "Der Export ist wegen eines internen Fehlers abgebrochen. Bitte erneut starten."
FAILED_TIME = "Der Export hat zu lange gedauert und wurde abgebrochen. Bitte erneut starten."
FAILED_STALE = (
    "Der Export kam nicht zu Ende (der Hintergrunddienst hat sich nicht mehr gemeldet). "
    "Bitte erneut starten."
)
FAILED_RUNS = f"Der Export wurde {MAX_RUNS}-mal unterbrochen und deshalb aufgegeben."


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


# Reading


def export_list(*, organisation) -> QuerySet[ExportJob]:
    """The organisation's export jobs, newest first."""
    return scoped(ExportJob, organisation).order_by("-created_at", "-pk")


def access_export(*, organisation, public_id, lock: bool = False) -> ExportJob:
    return access(ExportJob, organisation=organisation, public_id=public_id, lock=lock)


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
        _remove_files(job)
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
    _audit(job, actor, Action.EXPORT_DOWNLOAD, name)
    return files[name]


def _audit(job: ExportJob, actor, action: str, detail: str = "") -> None:
    """The job's entry in the Protokoll: names of files and counts only."""
    audit_record(
        organisation=job.organisation_id,
        actor=actor,
        action=action,
        object_id=job.public_id,
        detail=detail,
    )


def handover_appointments(*, organisation, cutoff: datetime) -> QuerySet[Appointment]:
    """ "The appointments to hand over": starting at `cutoff` (today's midnight in the
    organisation's zone) or later, not cancelled, on no non-cancelled invoice."""
    return (
        scoped(Appointment, organisation)
        .filter(start__gte=cutoff, invoice__isnull=True)
        .exclude(status=AppointmentStatus.CANCELLED)
    )


def _today_starts(organisation) -> datetime:
    return datetime.combine(organisation.today(), time.min, tzinfo=organisation.zone)


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


def _dead(jobs):
    """Running jobs whose worker stopped beating (lemniscus.jobs.DEAD_AFTER)."""
    return jobs.filter(state=ExportState.RUNNING).filter(
        Q(heartbeat_at__lt=dead_before())
        | Q(heartbeat_at__isnull=True, started_at__lt=dead_before())
    )


def _fail_dead(jobs) -> int:
    """Fail each dead job (locked, checked again) and remove its files."""
    failed = 0
    for job in _dead(jobs).select_for_update(skip_locked=True):
        export_transition(job, ExportState.FAILED, error=FAILED_STALE)
        _remove_files(job)
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
    _audit(job, actor, Action.EXPORT_CREATE, "mit Löschen der Termine" if delete else "")
    return job, enqueue("doctolib_bridge.export_run", job.pk)


@transaction.atomic
def export_fail(*, job_id: int, reason: str, attempt: int | None = None) -> None:
    """Fail a queued or running job; with `attempt`, only if no newer run took over."""
    job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state not in ACTIVE_STATES:
        return
    if attempt is None or job.attempts == attempt:
        export_transition(job, ExportState.FAILED, error=reason)


# Running


@dataclass
class _Written:
    """What a run wrote: temporary files and, per exported appointment, its key and a
    fingerprint of what the file says about it (16 bytes a row, not a row object)."""

    patients_path: Path
    appointments_path: Path
    patients_count: int = 0
    ids: array = field(default_factory=lambda: array("q"))
    fingerprints: array = field(default_factory=lambda: array("q"))


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
    cutoff = _today_starts(job.organisation)
    try:
        with heartbeat(ExportJob, job.pk):
            written = _write(job=job, cutoff=cutoff)
            finished = _complete(job=job, attempt=attempt, written=written, cutoff=cutoff)
    except OperationalError:
        _discard(job)
        raise
    except SoftTimeLimitExceeded:
        _discard(job)
        export_fail(job_id=job.pk, reason=FAILED_TIME, attempt=attempt)
        return ExportState.FAILED
    except Exception:
        logger.exception("export job %s failed", job.pk)
        _discard(job)
        export_fail(job_id=job.pk, reason=FAILED_INTERNAL, attempt=attempt)
        return ExportState.FAILED
    if not finished:  # a newer run of the same job took over
        _discard(job)
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
    _remove_files(job)  # what an interrupted run left behind
    export_transition(job, ExportState.RUNNING)
    return job


def _storage():
    return ExportJob._meta.get_field("patients_file").storage


def _final_name(job: ExportJob, name: str) -> str:
    return f"exports/{job.organisation.public_id}/{job.public_id}/{name}"


def _temp_path(job: ExportJob, name: str) -> Path:
    """This run's temporary file (`job` as claimed by the run)."""
    path = Path(_storage().path(f"exports/tmp/{job.public_id}-{job.attempts}-{name}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _discard(job: ExportJob) -> None:
    """This run's temporary files, whatever it got to write."""
    for name in ("patients.csv", "appointments.csv"):
        _temp_path(job, name).unlink(missing_ok=True)


def _remove_files(job: ExportJob) -> None:
    """Every file of the job: temporary ones of any run and the final folder."""
    temp = Path(_storage().path("exports/tmp"))
    for stale in temp.glob(f"{job.public_id}-*"):
        stale.unlink(missing_ok=True)
    shutil.rmtree(Path(_storage().path(_final_name(job, ""))), ignore_errors=True)


def _german_date(iso: str | None) -> str:
    """`YYYY-MM-DD…` (as the database casts a date or time to text) as `TT.MM.JJJJ`."""
    return f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}" if iso else ""


def _as_text(field: str) -> Cast:
    return Cast(field, CharField())


def _local_start(zone) -> Cast:
    """The start as wall-clock text in `zone`, `YYYY-MM-DD HH:MM:SS`, made by the
    database (PostgreSQL and SQLite alike): no datetime object per row."""
    return Cast(TruncMinute("start", tzinfo=zone), CharField())


def _patient_rows(*, organisation, written: _Written) -> Iterator[list]:
    names = [name for _, name in PATIENT_COLUMNS]
    rows = (
        scoped(Patient, organisation)
        .order_by("pk")
        .annotate(birth=_as_text("birth_date"))
        .values_list(*["birth" if name == "birth_date" else name for name in names])
    )
    for public_id, salutation, title, first, last, birth, *rest in rows.iterator(CHUNK):
        written.patients_count += 1
        yield [
            str(public_id),
            SALUTATIONS[salutation],
            title,
            first,
            last,
            _german_date(birth),
            *rest,
        ]


APPOINTMENT_VALUES = (
    "pk",
    "public_id",
    "patient_id",
    "patient__public_id",
    "patient__last_name",
    "patient__first_name",
    "birth",
    "local_start",
    "duration_minutes",
    "calendar_column_id",
    "calendar_column__name",
    "service_chain_id",
    "service_chain__description",
    "note",
)


def _fingerprint(patient_id, local_start, duration, column_id, chain_id, note) -> int:
    """The appointment's own exported data; a change after it was written makes the
    removal leave the appointment in place."""
    return hash((patient_id, local_start, duration, column_id, chain_id, note))


def _appointment_rows(*, organisation, cutoff: datetime, written: _Written) -> Iterator[list]:
    """The rows of appointments.csv; records each appointment's key and fingerprint."""
    rows = (
        handover_appointments(organisation=organisation, cutoff=cutoff)
        .order_by("start", "pk")
        .annotate(
            birth=_as_text("patient__birth_date"),
            local_start=_local_start(organisation.zone),
        )
        .values_list(*APPOINTMENT_VALUES)
    )
    for (
        pk,
        public_id,
        patient_id,
        patient_public_id,
        last,
        first,
        birth,
        local_start,
        duration,
        column_id,
        column,
        chain_id,
        chain,
        note,
    ) in rows.iterator(CHUNK):
        written.ids.append(pk)
        written.fingerprints.append(
            _fingerprint(patient_id, local_start, duration, column_id, chain_id, note)
        )
        yield [
            str(public_id),
            str(patient_public_id),
            last,
            first,
            _german_date(birth),
            _german_date(local_start),
            local_start[11:16],
            duration,
            column,
            chain or "",
            note,
        ]


def _write(*, job: ExportJob, cutoff: datetime) -> _Written:
    """Stream both files into temporary files, chunk by chunk of rows."""
    organisation = job.organisation
    written = _Written(
        patients_path=_temp_path(job, "patients.csv"),
        appointments_path=_temp_path(job, "appointments.csv"),
    )
    for path, headers, rows in (
        (
            written.patients_path,
            [header for header, _ in PATIENT_COLUMNS],
            _patient_rows(organisation=organisation, written=written),
        ),
        (
            written.appointments_path,
            APPOINTMENT_HEADERS,
            _appointment_rows(organisation=organisation, cutoff=cutoff, written=written),
        ),
    ):
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
            writer.writerow(headers)
            writer.writerows(rows)
    return written


def _complete(*, job: ExportJob, attempt: int, written: _Written, cutoff: datetime) -> bool:
    """The one transaction that makes the job count: remove the exported appointments
    (when asked), mark the handover, offer the files, mark the job done. False when
    another run of the job took over meanwhile."""
    storage = _storage()
    moved: list[Path] = []
    try:
        with transaction.atomic():
            organisation = Organisation.objects.select_for_update().get(pk=job.organisation_id)
            job = ExportJob.objects.select_for_update().get(pk=job.pk)
            if job.state != ExportState.RUNNING or job.attempts != attempt:
                return False
            removed = 0
            if job.delete_appointments:
                removed = _remove(job=job, written=written, cutoff=cutoff)
            files = {}
            for name, path in (
                ("patients.csv", written.patients_path),
                ("appointments.csv", written.appointments_path),
            ):
                final = Path(storage.path(_final_name(job, name)))
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, final)
                moved.append(final)
                files[name] = _final_name(job, name)
            export_transition(
                job,
                ExportState.DONE,
                patients_count=written.patients_count,
                appointments_count=len(written.ids),
                removed_count=removed,
                patients_file=files["patients.csv"],
                appointments_file=files["appointments.csv"],
            )
            if job.delete_appointments:
                _mark_handover(organisation)
                # On behalf of the admin who started it, as in the appointments' history.
                _audit(job, job.created_by, Action.EXPORT_DELETE, f"{removed} Termine")
    except BaseException:
        for path in moved:
            path.unlink(missing_ok=True)
        raise
    return True


def _chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _to_json(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _from_json(model_field, value):
    return None if value is None else model_field.to_python(value)


def _remove(*, job: ExportJob, written: _Written, cutoff: datetime) -> int:
    """Remove exactly the exported appointments that still match the rule and are
    unchanged since they were written, keeping each one's snapshot for the undo.
    Appointments still listed on a cancelled invoice stay (the invoice keeps its lines)."""
    fields = Appointment._meta.concrete_fields
    attnames = [f.attname for f in fields]
    removed = 0
    still_handed_over = handover_appointments(organisation=job.organisation, cutoff=cutoff).exclude(
        Q(Exists(InvoiceLine.objects.filter(appointment=OuterRef("pk"))))
        | Q(Exists(DocumentationEntry.objects.filter(appointment=OuterRef("pk"))))
    )
    for chunk in _chunks(zip(written.ids, written.fingerprints, strict=True)):
        exported = dict(chunk)
        rows = [
            row
            for row in still_handed_over.filter(pk__in=list(exported))
            .select_for_update()
            .order_by("pk")
            .annotate(local_start=_local_start(job.organisation.zone))
            .values(*attnames, "local_start")
            if exported[row["id"]]
            == _fingerprint(
                row["patient_id"],
                row["local_start"],
                row["duration_minutes"],
                row["calendar_column_id"],
                row["service_chain_id"],
                row["note"],
            )
        ]
        if not rows:
            continue
        pks = [row["id"] for row in rows]
        transfers: dict[int, list[int]] = {}
        for transfer_pk, appointment_pk in Transfer.objects.filter(
            appointment_id__in=pks
        ).values_list("pk", "appointment_id"):
            transfers.setdefault(appointment_pk, []).append(transfer_pk)
        RemovedAppointment.objects.bulk_create(
            RemovedAppointment(
                job=job,
                appointment_pk=row["id"],
                appointment_public_id=row["public_id"],
                snapshot={name: _to_json(row[name]) for name in attnames},
                transfer_pks=transfers.get(row["id"], []),
            )
            for row in rows
        )
        _record_history(pks, history_type="-", actor=job.created_by, reason=REMOVED_REASON)
        Transfer.objects.filter(appointment_id__in=pks).update(appointment=None)
        # Related rows are handled above (tests/jobs/test_handover.py checks that no
        # other relation exists); the plain DELETE skips per-row signals.
        Appointment.objects.filter(pk__in=pks)._raw_delete(connection.alias)
        removed += len(rows)
    return removed


def _mark_handover(organisation: Organisation) -> None:
    """handover_at: when the latest removal that was not undone finished, or None."""
    latest = (
        scoped(ExportJob, organisation)
        .filter(state=ExportState.DONE, delete_appointments=True, undone_at__isnull=True)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    organisation.handover_at = latest
    organisation.save(update_fields=["handover_at", "updated_at"])


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
            _restore(job=job, actor=actor)
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
    _mark_handover(organisation)
    _audit(job, actor, Action.EXPORT_UNDO, f"{job.removed_count} Termine")
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


def _restore(*, job: ExportJob, actor) -> None:
    fields = Appointment._meta.concrete_fields
    for chunk in _chunks(job.removed.order_by("pk").iterator(CHUNK)):
        appointments = [
            Appointment(
                **{
                    f.attname: (
                        _from_json(f, r.snapshot[f.attname])
                        if f.attname in r.snapshot
                        else f.get_default()
                    )
                    for f in fields
                }
            )
            for r in chunk
        ]
        # A raw insert keeps every value as it was: bulk_create would stamp
        # created_at and updated_at anew (auto_now_add, auto_now).
        for part in _chunks(appointments, connection.ops.bulk_batch_size(fields, appointments)):
            Appointment.objects._insert(part, fields=fields, raw=True)
        _record_history(
            [r.appointment_pk for r in chunk], history_type="+", actor=actor, reason=RESTORED_REASON
        )
        for r in chunk:
            if r.transfer_pks:
                Transfer.objects.filter(pk__in=r.transfer_pks).update(
                    appointment_id=r.appointment_pk
                )


def _record_history(pks: list[int], *, history_type: str, actor, reason: str) -> None:
    """A history row for each of these appointments as stored now, in one statement:
    simple_history's per-row signals and model instances cost ~0.2 ms a row, which
    adds up over a handover's hundreds of thousands."""
    history = Appointment.history.model
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in history.tracked_fields)
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({columns}, history_date, "
            f"history_type, history_user_id, history_change_reason) SELECT {columns}, %s, %s, "
            f"%s, %s FROM {quote(Appointment._meta.db_table)} WHERE id IN ({marks})",
            [
                connection.ops.adapt_datetimefield_value(timezone.now()),
                history_type,
                actor.pk if actor else None,
                reason,
                *pks,
            ],
        )
