"""Documentation and attachments are treatment history (staff-api.md 1.1): they date
the record's retention and go with it when it is erased."""

import os
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from appointments.models import AppointmentStatus
from documentation import services
from documentation.models import Attachment, DocumentationCorrection, DocumentationEntry
from patients.models import Patient
from patients.services import patient_archive, patient_erase_expired
from tests.conftest import assert_problem
from tests.documentation.conftest import PDF_BYTES, backdate
from tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db


def _entry(patient, actor, when: datetime) -> DocumentationEntry:
    entry = services.entry_create(patient=patient, actor=actor, text="Befund")
    backdate(entry, created_at=when, finalises_at=when)
    return entry


def test_a_documented_record_is_kept_ten_years_after_the_entry(api, admin_user, patient):
    _entry(patient, admin_user, datetime(2023, 12, 31, 23, 30, tzinfo=UTC))  # 2024 in Berlin

    response = api.delete(f"/api/v1/patients/{patient.public_id}/")

    assert_problem(response, 409, "retention_required")
    assert response.json()["retain_until"] == "2034-12-31"


def test_an_attachment_alone_is_treatment_history(api, admin_user, patient):
    services.attachment_create(
        patient=patient, actor=admin_user, file=SimpleUploadedFile("a.pdf", PDF_BYTES)
    )

    response = api.delete(f"/api/v1/patients/{patient.public_id}/")

    assert_problem(response, 409, "retention_required")
    assert response.json()["retain_until"] == f"{date.today().year + 10}-12-31"


def test_erasure_removes_documentation_attachments_and_files(
    organisation, admin_user, patient, django_capture_on_commit_callbacks
):
    appointment = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        status=AppointmentStatus.DONE,
        start=datetime(2001, 3, 1, 9, tzinfo=UTC),
    )
    entry = services.entry_create(
        patient=patient, actor=admin_user, text="Befund", appointment=appointment
    )
    services.entry_finalise(entry=entry, actor=admin_user)
    services.entry_correct(entry=entry, actor=admin_user, text="Korrektur")
    backdate(entry, created_at=datetime(2001, 3, 1, 10, tzinfo=UTC))
    attachment = services.attachment_create(
        patient=patient, actor=admin_user, file=SimpleUploadedFile("a.pdf", PDF_BYTES)
    )
    path = attachment.file.path
    patient_archive(patient=patient, actor=admin_user)

    # the attachment was uploaded this year: kept until ten years after
    assert patient_erase_expired(today=date(2020, 1, 1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert patient_erase_expired(today=date(date.today().year + 11, 1, 1)) == 1

    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert not DocumentationEntry.objects.exists()
    assert not DocumentationEntry.history.exists()
    assert not DocumentationCorrection.objects.exists()
    assert not Attachment.objects.exists()
    assert not os.path.exists(path)
