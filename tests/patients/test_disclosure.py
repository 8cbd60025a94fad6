"""staff-api.md 1.1, "Records under retention law": Disclosure (GDPR Art. 15/20)."""

import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from appointments.models import AppointmentStatus
from audit.models import AuditEvent
from billing import services as billing
from billing.archive import archived_document
from billing.models import DocumentKind
from documentation import services as documentation
from organisations.models import Role
from patients.services import patient_update
from tests.conftest import assert_problem, token_client
from tests.documentation.conftest import png_bytes
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory, UserFactory

pytestmark = pytest.mark.django_db

THERAPY = [("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25)]


@pytest.fixture
def patient(organisation):
    return PatientFactory(
        organisation=organisation, first_name="Dörte", last_name="Weiß-Özdemir", city="Bremen"
    )


@pytest.fixture
def full_record(organisation, admin_user, patient):
    chain = ServiceChainFactory(organisation=organisation, services=THERAPY)
    done = [
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            status=AppointmentStatus.DONE,
            start=timezone.now() - timedelta(days=days),
        )
        for days in (9, 2)
    ]
    kept = billing.invoice_issue(
        invoice=billing.invoice_create(
            organisation=organisation, actor=admin_user, patient=patient, appointments=[done[0]]
        ),
        actor=admin_user,
    )
    cancelled = billing.invoice_cancel(
        invoice=billing.invoice_issue(
            invoice=billing.invoice_create(
                organisation=organisation,
                actor=admin_user,
                patient=patient,
                appointments=[done[1]],
            ),
            actor=admin_user,
        ),
        actor=admin_user,
    )
    entry = documentation.entry_create(
        patient=patient, actor=admin_user, text="Befund: Knie frei", appointment=done[0]
    )
    documentation.entry_finalise(entry=entry, actor=admin_user)
    documentation.entry_correct(entry=entry, actor=admin_user, text="links, nicht rechts")
    png = png_bytes()
    attachment = documentation.attachment_create(
        patient=patient, actor=admin_user, file=SimpleUploadedFile("Röntgen.png", png)
    )
    patient_update(patient=patient, actor=admin_user, city="Hamburg")
    return {
        "appointments": done,
        "kept": kept,
        "cancelled": cancelled,
        "attachment": attachment,
        "png": png,
    }


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(response.content))


def test_the_zip_holds_record_json_the_invoice_pdfs_and_the_attachments(api, patient, full_record):
    response = api.get(f"/api/v1/patients/{patient.public_id}/disclosure")

    archive = _zip(response)
    assert "Auskunft-Weiss-Oezdemir-Doerte-" in response["Content-Disposition"]
    record = json.loads(archive.read("record.json"))
    assert {"patient", "history", "appointments", "documentation", "invoices"} <= set(record)
    assert record["patient"]["id"] == str(patient.public_id)
    assert record["patient"]["city"] == "Hamburg"
    # the history shows the old value
    changes = [c for entry in record["history"] for c in entry["changes"]]
    assert {"field": "city", "old": "Bremen", "new": "Hamburg"}.items() <= next(
        c for c in changes if c["field"] == "city"
    ).items()
    assert sorted(a["id"] for a in record["appointments"]) == sorted(
        str(a.public_id) for a in full_record["appointments"]
    )
    [entry] = record["documentation"]
    assert entry["text"] == "Befund: Knie frei"
    assert [c["text"] for c in entry["corrections"]] == ["links, nicht rechts"]
    assert {i["number"] for i in record["invoices"]} == {
        full_record["kept"].number,
        full_record["cancelled"].number,
    }

    kept, cancelled = full_record["kept"], full_record["cancelled"]
    assert archive.read(f"rechnungen/{kept.number}.pdf") == archived_document(invoice=kept)
    assert archive.read(f"rechnungen/{cancelled.number}.pdf") == archived_document(
        invoice=cancelled
    )
    assert archive.read(
        f"rechnungen/{cancelled.cancellation_number}-Storno.pdf"
    ) == archived_document(invoice=cancelled, kind=DocumentKind.CANCELLATION)

    [attachment] = record["attachments"]
    assert attachment["name"] == "Röntgen.png"
    assert archive.read(attachment["file"]) == full_record["png"]


def test_disclosure_is_in_the_audit_log(api, admin_user, patient):
    api.get(f"/api/v1/patients/{patient.public_id}/disclosure")

    event = AuditEvent.objects.get(action="disclosure.create")
    assert event.actor == admin_user
    assert event.patient_id == patient.public_id


def test_only_organisation_admins_get_a_disclosure(organisation, patient):
    staff = token_client(UserFactory(organisation=organisation, role=Role.STAFF))

    response = staff.get(f"/api/v1/patients/{patient.public_id}/disclosure")

    assert_problem(response, 403, "permission_denied")
    assert not AuditEvent.objects.filter(action="disclosure.create").exists()


def test_another_organisations_record_is_404(other_api, patient):
    assert_problem(
        other_api.get(f"/api/v1/patients/{patient.public_id}/disclosure"), 404, "not_found"
    )


def test_a_record_without_anything_else_still_gets_its_json(api, organisation):
    bare = PatientFactory(organisation=organisation, first_name="", last_name="Ohne")

    archive = _zip(api.get(f"/api/v1/patients/{bare.public_id}/disclosure"))

    assert archive.namelist() == ["record.json"]
    record = json.loads(archive.read("record.json"))
    assert record["appointments"] == record["invoices"] == record["documentation"] == []
