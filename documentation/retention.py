"""Documentation entries and attachments are treatment history (patients.retention):
the latest one written or uploaded dates the record's retention."""

from datetime import date

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from documentation.models import Attachment, DocumentationCorrection, DocumentationEntry
from patients.models import Patient
from patients.retention import HistorySource


def latest_documented(patient) -> date | None:
    def latest(model):
        return Subquery(
            model.objects.filter(patient_id=OuterRef("pk"))
            .order_by()
            .values("patient_id")
            .annotate(latest=Max("created_at"))
            .values("latest")
        )

    times = (
        Patient.objects.filter(pk=patient.pk)
        .values_list(latest(DocumentationEntry), latest(Attachment))
        .first()
    ) or ()
    latest = max((t for t in times if t), default=None)
    return timezone.localdate(latest, patient.organisation.zone) if latest else None


def erase_documentation(patient, today: date) -> bool:
    entries = DocumentationEntry.objects.filter(patient_id=patient.pk)
    DocumentationCorrection.objects.filter(entry__in=entries).delete()
    entries.delete()
    DocumentationEntry.history.filter(patient_id=patient.pk).delete()  # with the "-" rows
    attachments = list(Attachment.objects.filter(patient_id=patient.pk))
    names = [a.file.name for a in attachments]
    Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
    if names:
        storage = attachments[0].file.storage
        # The files go once the rows are gone for good.
        transaction.on_commit(lambda: [storage.delete(name) for name in names])
    return True


SOURCE = HistorySource(
    name="documentation", latest_event=latest_documented, erase=erase_documentation
)
