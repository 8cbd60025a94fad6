"""End to end: confirmation and reminder e-mails sent by a real Celery worker
through Redis, written by the worker's file-based mail backend."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.utils import timezone

from appointments.models import Appointment
from appointments.tasks import send_due_reminders_task
from tests.factories import AppointmentFactory, CalendarColumnFactory, PatientFactory
from tests.jobs.conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail_dir(tmp_path):
    return tmp_path


@pytest.fixture
def worker_env(mail_dir):
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }


def mails(mail_dir) -> list:
    """The messages the worker wrote (one file per connection, one message each)."""
    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(mail_dir.glob("*.log"), key=lambda p: p.stat().st_mtime)
    ]


def test_worker_sends_the_confirmation_and_the_due_reminder(
    celery_worker, api, organisation, mail_dir
):
    patient = PatientFactory(organisation=organisation, email="anna@example.org")
    column = CalendarColumnFactory(organisation=organisation, name="Jana Weber")
    response = api.post(
        "/api/v1/appointments/",
        {
            "patient_id": str(patient.public_id),
            "calendar_column_id": str(column.public_id),
            "start": (timezone.now() + timedelta(days=3)).isoformat(),
            "duration_minutes": 30,
        },
        format="json",
    )
    assert response.status_code == 201, response.content

    confirmation = wait_for(lambda: mails(mail_dir), timeout=60)[0]
    assert confirmation["To"] == "anna@example.org"
    assert confirmation["Subject"].strip().startswith("Terminbestätigung am ")
    assert "/absage/" in confirmation.get_body(("plain",)).get_content()
    created = Appointment.objects.get(public_id=response.json()["id"])
    assert created.confirmation_sent_at is not None

    AppointmentFactory(
        organisation=organisation,
        patient=patient,
        calendar_column=column,
        start=timezone.now() + timedelta(hours=2),
    )
    send_due_reminders_task.delay()
    reminder = wait_for(lambda: mails(mail_dir)[1:], timeout=60)[0]
    assert reminder["Subject"].strip().startswith("Erinnerung an Ihren Termin am ")
    assert "Jana Weber" in reminder.get_body(("plain",)).get_content()
