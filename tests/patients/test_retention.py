"""staff-api.md 1.1, "Records under retention law": treatment history, deleting,
archiving, and the nightly erasure past retention (§ 630f BGB, § 147 AO)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus
from appointments.services import appointment_update
from billing import services as billing
from billing.models import Invoice, InvoiceDocument, InvoiceLine
from patients.models import Patient
from patients.services import patient_archive, patient_erase_expired
from patients.tasks import erase_expired_task
from tests.conftest import assert_problem, token_client
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/patients/"
BERLIN = timezone.get_fixed_timezone(60)


def _treated(organisation, patient, when: datetime, status=AppointmentStatus.DONE):
    return AppointmentFactory(organisation=organisation, patient=patient, start=when, status=status)


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, last_name="Aufbewahrt")


# Treatment history and retain_until


@pytest.mark.parametrize("status", [AppointmentStatus.DONE, AppointmentStatus.NO_SHOW])
def test_a_treated_record_is_not_deleted_and_says_until_when(api, organisation, patient, status):
    _treated(organisation, patient, datetime(2024, 6, 3, 9, tzinfo=BERLIN), status)

    response = api.delete(f"{URL}{patient.public_id}/")

    assert_problem(response, 409, "retention_required")
    assert response.json()["retain_until"] == "2034-12-31"
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_the_latest_event_counts_in_the_organisations_zone(api, organisation, patient):
    # 31 Dec 2024, 23:30 UTC is already 2025 in Berlin
    _treated(organisation, patient, datetime(2024, 12, 31, 23, 30, tzinfo=UTC))
    _treated(organisation, patient, datetime(2020, 1, 5, 9, tzinfo=BERLIN))

    response = api.delete(f"{URL}{patient.public_id}/")

    assert response.json()["retain_until"] == "2035-12-31"


def test_an_appointment_that_once_was_done_still_counts(api, organisation, admin_user, patient):
    """A treatment set back to planned or cancelled stays in the history."""
    appointment = _treated(organisation, patient, datetime(2025, 3, 3, 9, tzinfo=BERLIN))
    appointment_update(appointment=appointment, actor=admin_user, status=AppointmentStatus.PLANNED)

    response = api.delete(f"{URL}{patient.public_id}/")

    assert_problem(response, 409, "retention_required")
    assert response.json()["retain_until"] == "2035-12-31"


def test_an_invoice_counts_as_treatment_history(api, organisation, admin_user, patient):
    done = _treated(organisation, patient, timezone.now() - timedelta(days=1))
    invoice = billing.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[done]
    )
    billing.invoice_cancel(invoice=invoice, actor=admin_user)  # discarded
    Appointment.history.filter(id=done.pk).update(status=AppointmentStatus.PLANNED)
    Appointment.objects.filter(pk=done.pk).update(status=AppointmentStatus.PLANNED)
    # the record's only event left is the (discarded) invoice

    response = api.delete(f"{URL}{patient.public_id}/")

    assert_problem(response, 409, "retention_required")
    assert response.json()["retain_until"] == f"{organisation.today().year + 10}-12-31"


def test_a_record_without_treatment_history_is_deleted_by_an_admin(api, organisation, patient):
    planned = AppointmentFactory(
        organisation=organisation, patient=patient, start=timezone.now() + timedelta(days=3)
    )
    cancelled = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        start=timezone.now() - timedelta(days=3),
        status=AppointmentStatus.CANCELLED,
    )

    response = api.delete(f"{URL}{patient.public_id}/")

    assert response.status_code == 204
    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert not Appointment.objects.filter(pk__in=[planned.pk, cancelled.pk]).exists()


def test_a_plain_staff_user_cannot_delete_a_treated_record(organisation, patient):
    _treated(organisation, patient, timezone.now() - timedelta(days=400))
    staff = token_client(UserFactory(organisation=organisation, role="staff"))

    response = staff.delete(f"{URL}{patient.public_id}/")

    assert_problem(response, 403, "permission_denied")
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_a_plain_staff_user_cannot_delete_any_record(organisation, patient):
    staff = token_client(UserFactory(organisation=organisation, role="staff"))

    assert_problem(staff.delete(f"{URL}{patient.public_id}/"), 403, "permission_denied")
    assert_problem(staff.post(f"{URL}{patient.public_id}/archive"), 403, "permission_denied")
    assert Patient.objects.get(pk=patient.pk).archived_at is None


# Archive and unarchive


def test_archive_makes_the_record_read_only(api, patient):
    response = api.post(f"{URL}{patient.public_id}/archive")

    assert response.status_code == 200, response.content
    assert response.json()["archived_at"] is not None
    refused = api.patch(f"{URL}{patient.public_id}/", {"city": "Hamburg"}, format="json")
    assert_problem(refused, 409, "record_archived")
    patient.refresh_from_db()
    assert patient.city == "Berlin"


def test_archived_records_are_left_out_of_lists_search_and_suggestions(api, organisation, patient):
    other = PatientFactory(organisation=organisation, last_name="Aufbewahrtneu")
    api.post(f"{URL}{patient.public_id}/archive/")

    listed = [r["id"] for r in api.get(URL).json()["results"]]
    searched = [r["id"] for r in api.get(URL, {"q": "aufbew"}).json()["results"]]
    with_archived = [r["id"] for r in api.get(URL, {"q": "aufbew", "archived": "true"}).json()
                     ["results"]]  # fmt: skip

    assert str(patient.public_id) not in listed + searched
    assert searched == [str(other.public_id)]
    assert set(with_archived) == {str(patient.public_id), str(other.public_id)}
    assert api.get(f"{URL}{patient.public_id}/").status_code == 200  # still readable
    from patients.selectors import patient_suggestions

    assert patient_suggestions(organisation=organisation, last_name="Aufbewahrt") == [other]


def test_unarchive_makes_it_writable_and_listed_again(api, patient):
    api.post(f"{URL}{patient.public_id}/archive")

    response = api.post(f"{URL}{patient.public_id}/unarchive/")

    assert response.json()["archived_at"] is None
    patch = api.patch(f"{URL}{patient.public_id}/", {"city": "Hamburg"}, format="json")
    assert patch.status_code == 200
    assert str(patient.public_id) in [r["id"] for r in api.get(URL).json()["results"]]


def test_archiving_is_in_the_records_history(api, admin_user, patient):
    api.post(f"{URL}{patient.public_id}/archive")

    latest = patient.history.first()

    assert (latest.history_user, latest.history_change_reason) == (admin_user, "Archiviert")


# The nightly erasure


def _issued_invoice(organisation, actor, patient, when: datetime) -> Invoice:
    done = _treated(organisation, patient, when)
    draft = billing.invoice_create(
        organisation=organisation, actor=actor, patient=patient, appointments=[done]
    )
    return billing.invoice_issue(invoice=draft, actor=actor)


def test_erasure_removes_archived_records_past_retention_with_everything(
    organisation, admin_user, patient, django_capture_on_commit_callbacks
):
    invoice = _issued_invoice(organisation, admin_user, patient, timezone.now() - timedelta(days=1))
    document = invoice.documents.get()
    path = document.file.path
    patient_archive(patient=patient, actor=admin_user)
    today = date(organisation.today().year + 11, 1, 1)

    with django_capture_on_commit_callbacks(execute=True):
        assert patient_erase_expired(today=today) == 1

    assert not Patient.objects.filter(pk=patient.pk).exists()
    assert not Patient.history.filter(id=patient.pk).exists()
    assert not Appointment.objects.filter(patient_id=patient.pk).exists()
    assert not Appointment.history.filter(patient_id=patient.pk).exists()
    assert not Invoice.objects.filter(pk=invoice.pk).exists()
    assert not Invoice.history.filter(id=invoice.pk).exists()
    assert not InvoiceLine.history.filter(invoice_id=invoice.pk).exists()
    assert not InvoiceDocument.objects.filter(pk=document.pk).exists()
    assert not _exists(path)


def test_erasure_keeps_what_is_within_retention(organisation, admin_user, patient):
    _treated(organisation, patient, timezone.now() - timedelta(days=1))
    patient_archive(patient=patient, actor=admin_user)
    last_day = date(organisation.today().year + 10, 12, 31)

    assert patient_erase_expired(today=last_day) == 0

    assert Patient.objects.filter(pk=patient.pk).exists()
    assert Patient.history.filter(id=patient.pk).count() >= 2
    assert Appointment.history.filter(patient_id=patient.pk).exists()


def test_erasure_keeps_records_that_are_not_archived(organisation, admin_user, patient):
    _treated(organisation, patient, datetime(2001, 1, 1, 9, tzinfo=BERLIN))

    assert patient_erase_expired(today=date(2030, 1, 1)) == 0

    assert Patient.objects.filter(pk=patient.pk).exists()


def test_erasure_waits_for_an_invoice_within_its_eight_years(organisation, admin_user, patient):
    """An old treatment, but an invoice issued this year: the record (10 years after
    that invoice) and the invoice (8 years) are both kept."""
    _treated(organisation, patient, datetime(2001, 1, 1, 9, tzinfo=BERLIN))
    invoice = _issued_invoice(organisation, admin_user, patient, timezone.now() - timedelta(days=1))
    patient_archive(patient=patient, actor=admin_user)

    assert patient_erase_expired(today=date(organisation.today().year + 9, 1, 1)) == 0

    assert Invoice.objects.filter(pk=invoice.pk).exists()
    assert Patient.objects.filter(pk=patient.pk).exists()


def test_the_nightly_task_erases_and_is_safe_to_run_twice(organisation, admin_user, patient):
    patient_archive(patient=patient, actor=admin_user)  # no treatment history

    assert erase_expired_task.delay().get() == 1
    assert erase_expired_task.delay().get() == 0
    assert not Patient.objects.filter(pk=patient.pk).exists()


def _exists(path: str) -> bool:
    import os

    return os.path.exists(path)


def test_an_archived_record_gets_no_new_appointments_or_invoices(
    api, organisation, admin_user, patient
):
    done = _treated(organisation, patient, timezone.now() - timedelta(days=2))
    column = done.calendar_column
    patient_archive(patient=patient, actor=admin_user)

    booked = api.post(
        "/api/v1/appointments/",
        {
            "patient_id": str(patient.public_id),
            "calendar_column_id": str(column.public_id),
            "start": (timezone.now() + timedelta(days=1)).isoformat(),
            "duration_minutes": 30,
        },
        format="json",
    )
    billed = api.post(
        "/api/v1/invoices/",
        {"patient_id": str(patient.public_id), "appointment_ids": [str(done.public_id)]},
        format="json",
    )

    assert_problem(booked, 409, "record_archived")
    assert_problem(billed, 409, "record_archived")
    assert Appointment.objects.filter(patient=patient).count() == 1
    assert not Invoice.objects.exists()
