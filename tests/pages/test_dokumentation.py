"""The record's documentation and attachments pages (issue 11), through Django's
test client: rights, archived records, the forms' German messages, the Protokoll."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from documentation import services
from documentation.models import Attachment, DocumentationEntry
from organisations.models import Role
from patients.services import patient_archive
from tests.documentation.conftest import PDF_BYTES, png_bytes
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, first_name="Felix", last_name="Bauer")


def record(patient) -> str:
    return f"/akten/{patient.public_id}/"


def test_the_record_shows_documentation_and_attachments(staff, admin_user, patient):
    entry = services.entry_create(patient=patient, actor=admin_user, text="Befund: LWS frei")
    services.attachment_create(
        patient=patient,
        actor=admin_user,
        file=SimpleUploadedFile("Arztbrief.pdf", PDF_BYTES),
        description="vom Hausarzt",
    )

    page = staff.get(record(patient)).content.decode()

    assert "Befund: LWS frei" in page
    assert f"/akten/{patient.public_id}/dokumentation/{entry.public_id}/" in page
    assert "Arztbrief.pdf" in page and "vom Hausarzt" in page
    assert "Dokumentation schreiben" in page
    assert AuditEvent.objects.filter(action="documentation.read", patient_id=patient.public_id)


def test_without_the_documentation_right_nothing_of_it_is_shown_or_reachable(
    client, organisation, admin_user, patient
):
    services.entry_create(patient=patient, actor=admin_user, text="Befund: LWS frei")
    attachment = services.attachment_create(
        patient=patient, actor=admin_user, file=SimpleUploadedFile("a.pdf", PDF_BYTES)
    )
    client.force_login(
        UserFactory(organisation=organisation, role=Role.STAFF, can_documentation=False)
    )

    page = client.get(record(patient)).content.decode()

    assert "Befund: LWS frei" not in page
    assert "fehlt Ihnen das Recht „Dokumentation“" in page
    assert client.get(f"{record(patient)}dokumentation/neu/").status_code == 403
    assert client.get(f"/anhaenge/{attachment.public_id}/datei/").status_code == 403
    assert not AuditEvent.objects.filter(action="documentation.read").exists()


def test_writing_an_entry_for_an_appointment(staff, organisation, patient):
    appointment = AppointmentFactory(organisation=organisation, patient=patient)
    url = f"{record(patient)}dokumentation/neu/?termin={appointment.public_id}"

    form = staff.get(url).content.decode()
    response = staff.post(url, {"text": "Manuelle Therapie", "appointment": appointment.public_id})

    assert f'<option value="{appointment.public_id}" selected>' in form
    assert response.status_code == 302
    entry = DocumentationEntry.objects.get()
    assert entry.appointment == appointment
    assert entry.text == "Manuelle Therapie"


def test_an_empty_entry_gets_a_german_message_and_nothing_is_saved(staff, patient):
    response = staff.post(f"{record(patient)}dokumentation/neu/", {"text": "  "})

    assert response.status_code == 422
    assert "Bitte einen Text eingeben." in response.content.decode()
    assert not DocumentationEntry.objects.exists()


def test_save_and_finalise_then_only_a_correction(staff, admin_user, patient):
    entry = services.entry_create(patient=patient, actor=admin_user, text="Erstbefund")
    edit = f"{record(patient)}dokumentation/{entry.public_id}/"

    staff.post(edit, {"text": "Erstbefund, ergänzt", "abschliessen": "1"})
    entry.refresh_from_db()
    again = staff.get(edit)
    correction = staff.post(f"{edit}korrektur/", {"text": "Seite links, nicht rechts"})

    assert entry.text == "Erstbefund, ergänzt" and entry.finalised_at is not None
    assert again.status_code == 302 and again["Location"].endswith("korrektur/")
    assert correction.status_code == 302
    page = staff.get(record(patient)).content.decode()
    assert "Erstbefund, ergänzt" in page and "Seite links, nicht rechts" in page
    assert "Korrektur hinzufügen" in page


def test_finalise_asks_first(staff, admin_user, patient):
    entry = services.entry_create(patient=patient, actor=admin_user, text="Erstbefund")
    url = f"{record(patient)}dokumentation/{entry.public_id}/abschliessen/"

    question = staff.get(url).content.decode()
    entry.refresh_from_db()
    assert "Eintrag abschließen?" in question and entry.finalised_at is None

    staff.post(url)
    entry.refresh_from_db()
    assert entry.finalised_at is not None


def test_an_archived_record_offers_no_writing(staff, admin_user, patient):
    patient_archive(patient=patient, actor=admin_user)

    page = staff.get(record(patient)).content.decode()
    response = staff.post(f"{record(patient)}dokumentation/neu/", {"text": "x"})

    assert "Dokumentation schreiben" not in page
    assert response.status_code == 422
    assert "archiviert" in response.content.decode()
    assert not DocumentationEntry.objects.exists()


def test_upload_without_script_posts_and_comes_back_with_a_message(staff, patient):
    url = f"{record(patient)}anhaenge/"

    ok = staff.post(url, {"file": SimpleUploadedFile("Foto.png", png_bytes())}, follow=True)
    bad = staff.post(url, {"file": SimpleUploadedFile("x.pdf", b"not a pdf")}, follow=True)

    assert "„Foto.png“ ist angehängt." in ok.content.decode()
    assert "Nur PDF, JPEG oder PNG" in bad.content.decode()
    assert Attachment.objects.count() == 1


def test_the_pages_script_gets_json(staff, patient):
    url = f"{record(patient)}anhaenge/"

    ok = staff.post(
        url, {"file": SimpleUploadedFile("a.pdf", PDF_BYTES)}, HTTP_ACCEPT="application/json"
    )
    bad = staff.post(
        url, {"file": SimpleUploadedFile("a.txt", b"hello")}, HTTP_ACCEPT="application/json"
    )

    assert ok.status_code == 201 and ok.json()["ok"] is True
    assert bad.status_code == 422 and bad.json() == {
        "ok": False,
        "message": "Nur PDF, JPEG oder PNG (nach dem Inhalt der Datei).",
    }


def test_the_file_view_serves_the_bytes_for_preview_in_the_page(staff, admin_user, patient):
    attachment = services.attachment_create(
        patient=patient, actor=admin_user, file=SimpleUploadedFile("Befund.pdf", PDF_BYTES)
    )

    preview = staff.get(f"/anhaenge/{attachment.public_id}/datei/?vorschau=1")
    download = staff.get(f"/anhaenge/{attachment.public_id}/datei/")

    assert preview.content == PDF_BYTES
    assert preview["Content-Type"] == "application/pdf"
    assert preview["Content-Disposition"].startswith("inline;")
    assert preview["X-Frame-Options"] == "SAMEORIGIN"
    assert download["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="attachment.download").count() == 2


def test_another_organisations_attachment_is_404(client, other_organisation, admin_user, patient):
    attachment = services.attachment_create(
        patient=patient, actor=admin_user, file=SimpleUploadedFile("a.pdf", PDF_BYTES)
    )
    client.force_login(UserFactory(organisation=other_organisation))

    assert client.get(f"/anhaenge/{attachment.public_id}/datei/").status_code == 404


def test_auskunft_erstellen_downloads_the_zip_for_admins_only(staff, client, organisation, patient):
    page = staff.get(record(patient)).content.decode()
    response = staff.post(f"{record(patient)}auskunft/")

    assert "Auskunft erstellen" in page
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="Auskunft-Bauer-Felix-' in response["Content-Disposition"]
    assert AuditEvent.objects.filter(action="disclosure.create").count() == 1

    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF))
    assert "Auskunft erstellen" not in client.get(record(patient)).content.decode()
    assert client.post(f"{record(patient)}auskunft/").status_code == 403
