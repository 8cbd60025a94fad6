"""Writing and reading documentation and attachments. Every entry point (staff API,
pages) calls these functions: they check the documentation right, keep archived
records read-only, and write the Protokoll entry of each read and write in the same
transaction."""

import hashlib
import logging
from datetime import datetime, time, timedelta

import filetype
from django.core.files.base import File
from django.db import transaction
from django.utils import timezone

from audit.services import actor_label, audit_record
from documentation.models import Attachment, DocumentationCorrection, DocumentationEntry
from lemniscus.errors import (
    ArchiveDamaged,
    EntryFinalised,
    PayloadTooLarge,
    PermissionDenied,
    RecordArchived,
    ValidationFailed,
)
from lemniscus.text import has_nul
from organisations.models import Right

logger = logging.getLogger(__name__)

MAX_TEXT = 20_000
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
# What an attachment may be, told by its content (never by its name or the browser).
ALLOWED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def require_documentation_right(actor) -> None:
    if not actor.has_right(Right.DOCUMENTATION):
        raise PermissionDenied("Für die Dokumentation fehlt Ihnen das Recht „Dokumentation“.")


def _writable(patient, actor) -> None:
    require_documentation_right(actor)
    if patient.archived_at is not None:
        raise RecordArchived()


def _text(value: str, field: str = "text") -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationFailed(
            "Der Text darf nicht leer sein.", errors={field: ["Bitte einen Text eingeben."]}
        )
    if len(text) > MAX_TEXT:
        raise ValidationFailed(
            f"Der Text ist länger als {MAX_TEXT} Zeichen.",
            errors={field: [f"Höchstens {MAX_TEXT} Zeichen."]},
        )
    if has_nul(text):
        raise ValidationFailed(errors={field: ["Nullzeichen sind nicht erlaubt."]})
    return text


def finalises_at(organisation, created: datetime) -> datetime:
    """The end of the day after `created`, in the organisation's zone."""
    zone = organisation.zone
    day_after_next = timezone.localdate(created, zone) + timedelta(days=2)
    return datetime.combine(day_after_next, time.min, tzinfo=zone)


def _audit(entry_or_attachment, *, actor, action: str, detail: str = "") -> None:
    audit_record(
        organisation=entry_or_attachment.organisation,
        actor=actor,
        action=action,
        object_type=action.split(".")[0],
        object_id=entry_or_attachment.public_id,
        patient=entry_or_attachment.patient,
        detail=detail,
    )


@transaction.atomic
def entry_create(*, patient, actor, text: str, appointment=None) -> DocumentationEntry:
    """A new entry, optionally for one of the record's appointments."""
    _writable(patient, actor)
    if appointment is not None and appointment.patient_id != patient.pk:
        raise ValidationFailed(
            "Der Termin gehört nicht zu dieser Akte.",
            errors={"appointment_id": ["Der Termin gehört nicht zu dieser Akte."]},
        )
    now = timezone.now()
    entry = DocumentationEntry(
        organisation=patient.organisation,
        patient=patient,
        appointment=appointment,
        text=_text(text),
        author=actor,
        author_label=actor_label(actor),
        finalises_at=finalises_at(patient.organisation, now),
    )
    entry._history_user = actor
    entry.save()
    _audit(entry, actor=actor, action="documentation.create")
    return entry


def _locked(entry: DocumentationEntry) -> DocumentationEntry:
    return (
        DocumentationEntry.objects.select_for_update()
        .select_related("patient", "organisation")
        .get(pk=entry.pk)
    )


@transaction.atomic
def entry_update(*, entry: DocumentationEntry, actor, text: str) -> DocumentationEntry:
    """Change the text of an open entry; a finalised one is 409 `entry_finalised`."""
    entry = _locked(entry)
    _writable(entry.patient, actor)
    if entry.is_finalised:
        raise EntryFinalised()
    text = _text(text)
    if text != entry.text:
        entry.text = text
        entry._history_user = actor
        entry.save(update_fields=["text", "updated_at"])
        _audit(entry, actor=actor, action="documentation.update")
    return entry


@transaction.atomic
def entry_finalise(*, entry: DocumentationEntry, actor) -> DocumentationEntry:
    """Finalise an entry now; an entry finalised already keeps its time."""
    entry = _locked(entry)
    _writable(entry.patient, actor)
    if not entry.is_finalised:
        entry.finalised_at = timezone.now()
        entry._history_user = actor
        entry.save(update_fields=["finalised_at", "updated_at"])
        _audit(entry, actor=actor, action="documentation.finalise")
    return entry


@transaction.atomic
def entry_correct(*, entry: DocumentationEntry, actor, text: str) -> DocumentationCorrection:
    """Add a correction beside the entry's text, which stays as written."""
    entry = _locked(entry)
    _writable(entry.patient, actor)
    correction = DocumentationCorrection.objects.create(
        entry=entry, text=_text(text), author=actor, author_label=actor_label(actor)
    )
    _audit(entry, actor=actor, action="documentation.correct")
    return correction


def entries_finalise_due(*, now: datetime | None = None) -> int:
    """Write `finalised_at` of the entries whose day after creation has ended (the
    nightly task); they count as finalised from that moment anyway. Returns how many."""
    now = now or timezone.now()
    due = DocumentationEntry.objects.filter(finalised_at__isnull=True, finalises_at__lte=now)
    finalised = 0
    for entry in due.iterator():
        with transaction.atomic():
            entry._history_user = None
            entry._change_reason = "Automatisch abgeschlossen"
            entry.finalised_at = entry.finalises_at
            entry.save(update_fields=["finalised_at"])
            finalised += 1
    return finalised


@transaction.atomic
def documentation_read(*, patient, actor, detail: str = "") -> None:
    """Check the right and log that the record's documentation was read (the record
    page, which shows the attachments too, says so in `detail`)."""
    require_documentation_right(actor)
    audit_record(
        organisation=patient.organisation,
        actor=actor,
        action="documentation.read",
        object_type="documentation",
        object_id=patient.public_id,
        patient=patient,
        detail=detail,
    )


def _sniffed(file) -> str | None:
    """The content type by the file's first bytes: one of ALLOWED_TYPES, or None."""
    file.seek(0)
    head = file.read(8192)
    file.seek(0)
    kind = filetype.guess(head)
    return kind.mime if kind is not None and kind.mime in ALLOWED_TYPES else None


def _file_name(name: str, content_type: str) -> str:
    name = "".join(
        ch for ch in (name or "").replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable()
    ).strip()
    name = name[:200] or "Anhang"
    extension = "." + ALLOWED_TYPES[content_type]
    if not name.lower().endswith((extension, ".jpeg") if extension == ".jpg" else extension):
        name += extension
    return name


@transaction.atomic
def attachment_create(*, patient, actor, file, description: str = "") -> Attachment:
    """Store an upload: a PDF, JPEG or PNG by its content (otherwise 422), at most
    20 MB (otherwise 413), with its SHA-256."""
    _writable(patient, actor)
    if file is None:
        raise ValidationFailed(
            "Es wurde keine Datei gesendet.", errors={"file": ["Bitte eine Datei wählen."]}
        )
    if file.size > MAX_ATTACHMENT_BYTES:
        raise PayloadTooLarge("Die Datei ist größer als 20 MB.")
    if file.size == 0:
        raise ValidationFailed("Die Datei ist leer.", errors={"file": ["Die Datei ist leer."]})
    content_type = _sniffed(file)
    if content_type is None:
        raise ValidationFailed(
            "Nur PDF-, JPEG- und PNG-Dateien können angehängt werden.",
            errors={"file": ["Nur PDF, JPEG oder PNG (nach dem Inhalt der Datei)."]},
        )
    description = (description or "").strip()
    if len(description) > 500 or has_nul(description):
        raise ValidationFailed(errors={"description": ["Höchstens 500 Zeichen, ohne Nullzeichen."]})
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    file.seek(0)
    attachment = Attachment(
        organisation=patient.organisation,
        patient=patient,
        name=_file_name(getattr(file, "name", ""), content_type),
        content_type=content_type,
        size=file.size,
        sha256=digest.hexdigest(),
        description=description,
        uploaded_by=actor,
        uploaded_by_label=actor_label(actor),
    )
    attachment.file.save("upload", File(file), save=False)
    try:
        with transaction.atomic():
            attachment.save()
            _audit(attachment, actor=actor, action="attachment.upload")
    except Exception:
        # Files are not transactional: the file goes with the row that failed. (Should
        # a caller's longer transaction roll back after this, the file stays without a
        # row, as archived invoice PDFs do: docs/decisions.md, "Archive".)
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def attachments_read(*, patient, actor) -> None:
    """Check the right and log that the record's list of attachments was read."""
    require_documentation_right(actor)
    audit_record(
        organisation=patient.organisation,
        actor=actor,
        action="attachment.list",
        object_type="attachment",
        object_id=patient.public_id,
        patient=patient,
    )


@transaction.atomic
def attachment_open(*, attachment: Attachment, actor) -> bytes:
    """The attachment's bytes, checked against their hash (a changed or missing file
    is 500 `archive_damaged`, never served); the read is logged."""
    require_documentation_right(actor)
    content = stored_bytes(attachment)
    _audit(attachment, actor=actor, action="attachment.download")
    return content


def stored_bytes(attachment: Attachment) -> bytes:
    """The attachment's bytes, checked against their hash; a changed or missing file
    is ArchiveDamaged (500 `archive_damaged`), never served."""
    try:
        with attachment.file.open("rb") as stored:
            content = stored.read()
    except OSError:
        content = b""
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        logger.error("attachment %s fails its hash", attachment.pk)
        raise ArchiveDamaged("Die gespeicherte Datei ist beschädigt; bitte den Support fragen.")
    return content
