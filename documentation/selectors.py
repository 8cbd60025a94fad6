"""Reading documentation and attachments: always through one record of one
organisation (lemniscus.tenancy); the right and the Protokoll are the services'."""

from django.db.models import Prefetch, QuerySet

from documentation.models import Attachment, DocumentationCorrection, DocumentationEntry
from lemniscus.tenancy import access, scoped


def patient_entries(*, patient) -> QuerySet[DocumentationEntry]:
    """The record's entries, newest first, each with its corrections (two queries)."""
    return (
        DocumentationEntry.objects.filter(patient=patient)
        .select_related("appointment")
        .prefetch_related(
            Prefetch("corrections", queryset=DocumentationCorrection.objects.order_by("id"))
        )
        .order_by("-created_at", "-id")
    )


def access_entry(*, patient, public_id) -> DocumentationEntry:
    entry = access(
        DocumentationEntry.objects.filter(patient=patient).select_related("appointment"),
        organisation=patient.organisation,
        public_id=public_id,
        not_found="Diesen Eintrag gibt es nicht.",
    )
    entry.patient = patient
    return entry


def patient_attachments(*, patient) -> QuerySet[Attachment]:
    return Attachment.objects.filter(patient=patient).order_by("-created_at", "-id")


def access_attachment(*, organisation, public_id) -> Attachment:
    return access(
        scoped(Attachment, organisation).select_related("patient", "organisation"),
        organisation=organisation,
        public_id=public_id,
        not_found="Diesen Anhang gibt es nicht.",
    )
