from django.conf import settings
from django.db import models
from django.db.models import Q

from lemniscus.models import TenantModel


class SyncLogEntry(TenantModel):
    """One Zipper API call, recorded before its answer is sent (kept 90 days)."""

    method = models.CharField(max_length=10)
    endpoint = models.CharField(max_length=200)
    doctolib_patient_id = models.CharField(max_length=64, blank=True)
    doctolib_appointment_id = models.CharField(max_length=64, blank=True)
    status = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=32, blank=True)
    code = models.CharField(max_length=40, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = "Sync-Protokolleintrag"
        verbose_name_plural = "Sync-Protokoll"
        indexes = [
            models.Index(fields=["organisation", "-created_at"], name="synclog_org_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status}"


class DoctolibPatientState(models.Model):
    """What Doctolib last said about a linked record (from its last patient push), and
    which (lemniscus value, Doctolib value) pairs were already queued per field, so a
    value Doctolib keeps reformatting is sent once, not in a loop."""

    patient = models.OneToOneField(
        "patients.Patient", on_delete=models.CASCADE, related_name="doctolib_state"
    )
    last_known = models.JSONField(default=dict)
    queued_pairs = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Doctolib-Stand einer Akte"
        verbose_name_plural = "Doctolib-Stände der Akten"

    def __str__(self) -> str:
        return f"Doctolib-Stand {self.patient_id}"


class FeedCounter(models.Model):
    """The organisation's last issued change-feed cursor. Writers lock this row until
    they commit, so cursors become visible in order and readers never skip one."""

    organisation = models.OneToOneField(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    last_cursor = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organisation_id}: {self.last_cursor}"


class ChangeKind(models.TextChoices):
    CREATE = "patient.create", "patient.create"
    UPDATE = "patient.update", "patient.update"


class ChangeFeedEntry(models.Model):
    """A record to be written to Doctolib. The reader reports each record once per page
    with its current values."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    cursor = models.PositiveBigIntegerField()
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="feed_entries"
    )
    fields = models.JSONField(default=list, help_text="The fields that made the entry.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Änderung für Doctolib"
        verbose_name_plural = "Änderungen für Doctolib"
        constraints = [
            models.UniqueConstraint(fields=["organisation", "cursor"], name="feed_cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.cursor}: {self.patient_id}"


class Transfer(TenantModel):
    """A staged appointment transfer ("Termin in lemniscus öffnen"), valid 24 h."""

    doctolib_appointment_id = models.CharField(max_length=64)
    payload = models.JSONField()
    committed_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        "appointments.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "Terminübertragung"
        verbose_name_plural = "Terminübertragungen"
        indexes = [
            models.Index(
                fields=["organisation", "doctolib_appointment_id"], name="transfer_appt_idx"
            )
        ]

    def __str__(self) -> str:
        return f"Übertragung {self.doctolib_appointment_id}"


class IdempotencyRecord(models.Model):
    """The first answer to a write carrying `Idempotency-Key` (kept 24 h)."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    key = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "method", "path", "key"], name="idempotency_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.key}"


class ExportState(models.TextChoices):
    QUEUED = "queued", "wartet"
    RUNNING = "running", "läuft"
    DONE = "done", "fertig"
    FAILED = "failed", "fehlgeschlagen"


class ExportJob(TenantModel):
    """The initial handover to Doctolib: `patients.csv` and `appointments.csv` made by a
    background job, optionally removing the exported appointments from the calendar
    (operations.md, "Initial handover"). The state changes only through
    `doctolib_bridge.handover.services.export_transition`."""

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    delete_appointments = models.BooleanField("Termine löschen", default=False)
    state = models.CharField(
        "Status", max_length=10, choices=ExportState.choices, default=ExportState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField("Läufe", default=0)
    patients_count = models.PositiveIntegerField("Akten", default=0)
    appointments_count = models.PositiveIntegerField("Termine", default=0)
    removed_count = models.PositiveIntegerField("Gelöschte Termine", default=0)
    error = models.TextField("Fehler", blank=True)
    started_at = models.DateTimeField("Gestartet", null=True, blank=True)
    # Written every few seconds while a run works (lemniscus.jobs.heartbeat): a running
    # job whose heartbeat is older than two minutes lost its worker.
    heartbeat_at = models.DateTimeField("Lebenszeichen", null=True, blank=True)
    finished_at = models.DateTimeField("Beendet", null=True, blank=True)
    undone_at = models.DateTimeField("Rückgängig gemacht", null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set only when the job is done: a file is never offered half written.
    patients_file = models.FileField("patients.csv", max_length=300, blank=True)
    appointments_file = models.FileField("appointments.csv", max_length=300, blank=True)

    class Meta:
        verbose_name = "Export für Doctolib"
        verbose_name_plural = "Exporte für Doctolib"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(state__in=["queued", "running"]),
                name="export_one_active_per_organisation",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="export_org_idx")]

    def __str__(self) -> str:
        return f"Export {self.created_at:%d.%m.%Y %H:%M} ({self.get_state_display()})"


class ExportedAppointment(models.Model):
    """An appointment a run of an export job with removal wrote into appointments.csv,
    with a fingerprint of what the file says about it (computed by the database in
    the snapshot the file was written from, `handover.csv_files.fingerprint`). Lives
    only while the run does: the run's final transaction removes the appointments
    whose fingerprint still matches, and every state change of the job (a new run,
    done, failed) deletes the job's rows."""

    pk = models.CompositePrimaryKey("job", "attempt", "appointment_pk")
    # The composite key's index serves the job's lookups too.
    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="+", db_index=False)
    attempt = models.PositiveSmallIntegerField()
    appointment_pk = models.BigIntegerField()
    fingerprint = models.CharField(max_length=32)

    class Meta:
        verbose_name = "Exportierter Termin"
        verbose_name_plural = "Exportierte Termine"

    def __str__(self) -> str:
        return f"{self.appointment_pk} (Export {self.job_id}, Lauf {self.attempt})"


class RemovedAppointment(models.Model):
    """An appointment the handover removed, as it was: every concrete field, so that
    support can restore it exactly (same key, same public id) within 7 days."""

    job = models.ForeignKey(ExportJob, on_delete=models.PROTECT, related_name="removed")
    appointment_pk = models.BigIntegerField()
    appointment_public_id = models.UUIDField()
    snapshot = models.JSONField(help_text="Every concrete field (attname → value).")
    # Staged transfers that pointed to the appointment (their link is cleared on removal).
    transfer_pks = models.JSONField(default=list)

    class Meta:
        verbose_name = "Übergebener Termin"
        verbose_name_plural = "Übergebene Termine"
        constraints = [
            models.UniqueConstraint(fields=["job", "appointment_pk"], name="removed_once_per_job"),
        ]

    def __str__(self) -> str:
        return str(self.appointment_public_id)
