"""Treatment documentation and attachments of a record (staff-api.md 1.1, "Records
under retention law"; § 630f BGB).

An entry can be edited until it is finalised: by hand, or by itself at the end of the
day after its creation (`finalises_at`). From then on its text stands; a correction is
added beside it and the original stays visible. Attachments are stored through
Django's storage API with their SHA-256 and served only through an authorised view.

On PostgreSQL, triggers (migration 0002) refuse what the services never do: changing
a finalised entry's text, changing corrections or attachments, and deleting any of
them, but for the erasure of a record past its retention (lemniscus.erasure)."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from lemniscus.models import TenantModel


def _user(related_name: str = "+"):
    # The log outlives users: a user's deletion never blocks or changes an entry.
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name=related_name,
    )


class DocumentationEntry(TenantModel):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="documentation"
    )
    # The appointment documented, if any; set to null should the appointment go.
    appointment = models.ForeignKey(
        "appointments.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documentation",
    )
    text = models.TextField("Text")
    author = _user()
    # The author as shown when the entry was written.
    author_label = models.CharField("Verfasst von", max_length=300)
    # Set when written (not auto_now_add, so that an import or the demo can bring
    # entries with their own time); the database guard keeps it from then on.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # The end of the day after creation, in the organisation's zone: from then on the
    # entry counts as finalised even before the nightly task writes `finalised_at`.
    finalises_at = models.DateTimeField()
    finalised_at = models.DateTimeField("Abgeschlossen am", null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "Dokumentationseintrag"
        verbose_name_plural = "Dokumentation"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="doc_patient_created_idx"),
            models.Index(
                fields=["finalises_at"],
                name="doc_open_finalises_idx",
                condition=models.Q(finalised_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Eintrag vom {self.created_at:%d.%m.%Y %H:%M}"

    def finalised_when(self, now=None):
        """When the entry was finalised, or None while it is still open."""
        if self.finalised_at is not None:
            return self.finalised_at
        now = now or timezone.now()
        return self.finalises_at if self.finalises_at <= now else None

    @property
    def open_until(self):
        """The last moment of the entry's open time (to show "offen bis Ende 03.12.")."""
        return self.finalises_at - timedelta(seconds=1)

    @property
    def is_finalised(self) -> bool:
        return self.finalised_when() is not None


class DocumentationCorrection(models.Model):
    """A correction of a finalised entry; the entry's text stays as it was."""

    entry = models.ForeignKey(
        DocumentationEntry, on_delete=models.PROTECT, related_name="corrections"
    )
    text = models.TextField("Text")
    author = _user()
    author_label = models.CharField("Verfasst von", max_length=300)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "Korrektur"
        verbose_name_plural = "Korrekturen"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Korrektur vom {self.created_at:%d.%m.%Y %H:%M}"


def _attachment_path(attachment: "Attachment", filename: str) -> str:
    # Never the uploaded name (it may say something about the patient): the public id.
    return f"anhaenge/{attachment.organisation.public_id}/{attachment.public_id}"


class Attachment(TenantModel):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="attachments"
    )
    file = models.FileField(upload_to=_attachment_path, max_length=255)
    name = models.CharField("Dateiname", max_length=255)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField("Beschreibung", max_length=500, blank=True)
    uploaded_by = _user()
    uploaded_by_label = models.CharField("Hochgeladen von", max_length=300)

    class Meta:
        verbose_name = "Anhang"
        verbose_name_plural = "Anhänge"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="attachment_patient_idx"),
        ]

    def __str__(self) -> str:
        return self.name
