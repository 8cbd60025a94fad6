"""The transactional outbox (issue 12): a side effect is written with the write that
asks for it, handed to Celery after the commit, and kept until the broker takes it."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from appointments.models import Appointment
from lemniscus.celery import app as celery_app
from outbox.models import OutboxMessage
from outbox.services import dispatch_pending, enqueue, purge_sent
from outbox.tasks import dispatch_task
from tests.factories import CalendarColumnFactory, PatientFactory
from tests.jobs.conftest import _fresh_producers

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down():
    """A closed port: handing over fails as with a stopped Redis."""
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    _fresh_producers()
    yield
    celery_app.conf.update(saved)
    _fresh_producers()


def test_a_rolled_back_write_leaves_no_message(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue("outbox.dispatch")
        raise RuntimeError("the write failed")

    assert not OutboxMessage.objects.exists()


def test_after_the_commit_the_message_is_handed_over(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = enqueue("outbox.dispatch")

    message.refresh_from_db()
    assert message.sent_at is not None and message.attempts == 1


def test_a_broker_that_is_down_keeps_it_with_a_growing_pause(
    broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = enqueue("outbox.dispatch")
    message.refresh_from_db()
    first_pause = message.available_at - timezone.now()

    assert message.sent_at is None
    assert dispatch_pending() == 0  # not due yet
    assert dispatch_pending(now=message.available_at) == 0  # due, the broker still down
    message.refresh_from_db()
    second_pause = message.available_at - timezone.now()
    assert message.attempts == 2
    assert timedelta(0) < first_pause < second_pause <= timedelta(minutes=10)


def test_a_staff_appointment_answers_201_with_the_broker_down_and_its_mail_follows(
    api, organisation, broker_down, django_capture_on_commit_callbacks
):
    """Finding 1: the appointment was saved but the answer was a 500, and the e-mail
    was lost. Now: 201, the confirmation waits in the outbox, and goes out once."""
    patient = PatientFactory(organisation=organisation, email="anna@example.org")
    body = {
        "patient_id": str(patient.public_id),
        "calendar_column_id": str(CalendarColumnFactory(organisation=organisation).public_id),
        "start": (timezone.now() + timedelta(days=2)).isoformat(),
        "duration_minutes": 30,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/appointments/", body, format="json")

    assert response.status_code == 201, response.content
    assert Appointment.objects.count() == 1
    assert OutboxMessage.objects.get().sent_at is None
    assert mail.outbox == []

    celery_app.conf.update(task_always_eager=True)  # the broker is back
    later = timezone.now() + timedelta(minutes=1)
    assert dispatch_pending(now=later) == 1
    assert dispatch_pending(now=later) == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.org"]


def test_the_beat_task_and_the_command_dispatch(capsys):
    OutboxMessage.objects.create(task="outbox.dispatch")

    assert dispatch_task.delay().get() == 1
    OutboxMessage.objects.create(task="outbox.dispatch")
    call_command("outbox_dispatch")
    assert "1 übergeben, 0 warten noch." in capsys.readouterr().out


def test_delivered_messages_are_deleted_after_a_week():
    old = OutboxMessage.objects.create(
        task="outbox.dispatch", sent_at=timezone.now() - timedelta(days=8)
    )
    waiting = OutboxMessage.objects.create(task="outbox.dispatch")

    assert purge_sent() == 1
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()
    assert OutboxMessage.objects.filter(pk=waiting.pk).exists()
