"""A patient's copy of their data (GDPR Art. 15 and 20; staff-api.md 1.1,
"Disclosure"): one ZIP with `record.json` and the files the record holds.

The record's master data and history are this app's; the apps above it (appointments,
invoices, documentation and attachments) each register, in their `AppConfig.ready`,
a section of `record.json` and the files that go with it, as they do for retention."""

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone

from audit.services import audit_record
from lemniscus.text import fold
from patients import selectors
from patients.models import Patient
from patients.serializers import PatientHistoryOutput, PatientOutput


@dataclass(frozen=True)
class DisclosureSection:
    name: str  # the key in record.json
    # The section's content, as its API answers it (context: the organisation).
    records: Callable[[Patient, dict], list]
    # The files that go with it: (path in the ZIP, bytes).
    files: Callable[[Patient], Iterable[tuple[str, bytes]]] = lambda patient: ()


_sections: dict[str, DisclosureSection] = {}


def register(section: DisclosureSection) -> None:
    _sections[section.name] = section


def disclosure_zip(*, patient: Patient, actor) -> bytes:
    """The ZIP, and its entry in the Protokoll (organisation admins; the caller
    checks the role)."""
    organisation = patient.organisation
    context = {"organisation": organisation}
    record = {
        "created_at": timezone.localtime(timezone.now(), organisation.zone).isoformat(),
        "practice": {
            "name": organisation.name,
            "owner": organisation.owner_name,
            "street": organisation.street,
            "postal_code": organisation.postal_code,
            "city": organisation.city,
            "phone": organisation.phone,
            "email": organisation.email,
        },
        "patient": PatientOutput(patient, context=context).data,
        "history": PatientHistoryOutput(
            selectors.patient_history(patient=patient), many=True, context=context
        ).data,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for section in _sections.values():
            record[section.name] = section.records(patient, context)
            for path, content in section.files(patient):
                archive.writestr(path, content)
        archive.writestr(
            "record.json",
            json.dumps(record, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        )
    with transaction.atomic():
        audit_record(
            organisation=organisation,
            actor=actor,
            action="disclosure.create",
            object_type="disclosure",
            object_id=patient.public_id,
            patient=patient,
            detail=f"{len(buffer.getvalue())} Bytes",
        )
    return buffer.getvalue()


def file_name(patient: Patient, today=None) -> str:
    """`Auskunft-Bauer-Felix-2026-12-02.zip` (ASCII, for every mail program)."""
    today = today or patient.organisation.today()
    name = "-".join(
        part for part in (fold(patient.last_name), fold(patient.first_name)) if part
    ).replace(" ", "-")
    safe = "".join(ch for ch in name if ch.isalnum() or ch == "-")[:60] or "Akte"
    return f"Auskunft-{safe.title()}-{today.isoformat()}.zip"


def disclosure_response(patient: Patient, content: bytes) -> HttpResponse:
    response = HttpResponse(content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{file_name(patient)}"'
    response["Cache-Control"] = "private, no-store"
    return response
