"""staff-api.md 1.1, "Records under retention law": Attachments."""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEvent
from documentation.models import Attachment
from documentation.services import MAX_ATTACHMENT_BYTES
from organisations.models import Role
from patients.services import patient_archive
from tests.conftest import assert_problem, token_client
from tests.documentation.conftest import PDF_BYTES, jpeg_bytes, png_bytes
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def url(patient) -> str:
    return f"/api/v1/patients/{patient.public_id}/attachments/"


def upload(api, patient, content: bytes, name="Befund.pdf", content_type=None, **extra):
    file = SimpleUploadedFile(name, content, content_type=content_type or "application/pdf")
    return api.post(url(patient), {"file": file, **extra}, format="multipart")


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (PDF_BYTES, "Arztbrief.pdf", "application/pdf"),
        (jpeg_bytes(), "Röntgen.jpg", "image/jpeg"),
        (png_bytes(), "Foto.png", "image/png"),
    ],
)
def test_an_upload_answers_its_stored_form(api, admin_user, patient, content, name, expected):
    response = upload(api, patient, content, name, description="Vom Orthopäden")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "content_type",
        "size",
        "sha256",
        "description",
        "uploaded_by",
        "created_at",
    }
    assert body["name"] == name
    assert body["content_type"] == expected
    assert body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["description"] == "Vom Orthopäden"
    assert body["uploaded_by"] == "admin@praxis.test"


def test_the_type_is_told_by_the_content_not_the_name(api, patient):
    """A PNG called .pdf is stored as what it is; a text file called .pdf is refused."""
    as_png = upload(api, patient, png_bytes(), "scan.pdf", "application/pdf")
    text = upload(api, patient, b"<script>alert(1)</script>", "harmless.pdf")

    assert as_png.json()["content_type"] == "image/png"
    assert as_png.json()["name"] == "scan.pdf.png"
    assert_problem(text, 422, "validation_error")
    assert "file" in text.json()["errors"]
    assert Attachment.objects.count() == 1


def test_an_empty_or_missing_file_is_422(api, patient):
    assert_problem(upload(api, patient, b""), 422, "validation_error")
    response = api.post(url(patient), {"description": "ohne Datei"}, format="multipart")
    assert_problem(response, 422, "validation_error")
    assert not Attachment.objects.exists()


def test_more_than_20_mb_is_413_and_stores_nothing(api, patient, settings, tmp_path):
    too_big = PDF_BYTES + b"\0" * (MAX_ATTACHMENT_BYTES + 1 - len(PDF_BYTES))

    response = upload(api, patient, too_big)

    assert_problem(response, 413, "payload_too_large")
    assert not Attachment.objects.exists()


def test_exactly_20_mb_is_taken(api, patient):
    content = PDF_BYTES + b"\0" * (MAX_ATTACHMENT_BYTES - len(PDF_BYTES))

    assert upload(api, patient, content).status_code == 201


def test_list_and_download_give_back_the_bytes(api, patient):
    content = png_bytes()
    created = upload(api, patient, content, "Foto.png").json()

    listed = api.get(url(patient)).json()
    response = api.get(f"/api/v1/attachments/{created['id']}/download")

    assert [a["id"] for a in listed["results"]] == [created["id"]]
    assert response.status_code == 200
    assert response.content == content
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == "attachment; filename*=UTF-8''Foto.png"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_file_is_never_at_a_public_url(api, patient, settings):
    created = upload(api, patient, PDF_BYTES).json()
    stored = Attachment.objects.get().file.name

    assert "Befund" not in stored  # the uploaded name says nothing about the patient
    assert api.get(f"/media/{stored}").status_code == 404
    assert api.get(f"/{stored}").status_code == 404
    assert created["id"] in stored


def test_a_changed_file_is_not_served(api, patient):
    created = upload(api, patient, PDF_BYTES).json()
    attachment = Attachment.objects.get()
    with attachment.file.open("wb") as file:
        file.write(PDF_BYTES + b"% changed")

    response = api.get(f"/api/v1/attachments/{created['id']}/download")

    assert_problem(response, 500, "archive_damaged")


def test_reading_needs_the_documentation_right(organisation, api, patient):
    created = upload(api, patient, PDF_BYTES).json()
    reader = token_client(
        UserFactory(organisation=organisation, role=Role.STAFF, can_documentation=False)
    )

    assert_problem(reader.get(url(patient)), 403, "permission_denied")
    assert_problem(
        reader.get(f"/api/v1/attachments/{created['id']}/download"), 403, "permission_denied"
    )
    assert_problem(upload(reader, patient, PDF_BYTES), 403, "permission_denied")


def test_other_organisations_reach_nothing(api, other_api, patient):
    created = upload(api, patient, PDF_BYTES).json()

    assert_problem(other_api.get(url(patient)), 404, "not_found")
    response = other_api.get(f"/api/v1/attachments/{created['id']}/download")
    assert_problem(response, 404, "not_found")
    assert_problem(upload(other_api, patient, PDF_BYTES), 404, "not_found")


def test_reads_and_writes_are_in_the_audit_log(api, admin_user, patient):
    created = upload(api, patient, PDF_BYTES, "Befund Müller.pdf").json()
    api.get(url(patient))
    api.get(f"/api/v1/attachments/{created['id']}/download")

    events = list(AuditEvent.objects.exclude(action="token.create").order_by("id"))
    assert [e.action for e in events] == [
        "attachment.upload",
        "attachment.list",
        "attachment.download",
    ]
    assert events[0].object_id == created["id"]
    assert {e.patient_id for e in events} == {patient.public_id}
    assert not any("Müller" in e.detail for e in events)


def test_an_archived_record_takes_no_uploads(api, admin_user, patient):
    patient_archive(patient=patient, actor=admin_user)

    assert_problem(upload(api, patient, PDF_BYTES), 409, "record_archived")
    assert api.get(url(patient)).status_code == 200


@pytest.mark.postgres
def test_the_database_refuses_to_change_or_delete_an_attachment(api, patient):
    upload(api, patient, PDF_BYTES)
    attachment = Attachment.objects.get()

    for sql in [
        f"UPDATE documentation_attachment SET sha256 = 'x' WHERE id = {attachment.pk}",
        f"DELETE FROM documentation_attachment WHERE id = {attachment.pk}",
    ]:
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
