"""Confirmation and reminder e-mails: who gets one, what it says, once only."""

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from smtplib import SMTPRecipientsRefused, SMTPServerDisconnected

import pytest
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.utils import timezone

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from appointments.notifications import (
    notification_allowed,
    send_confirmation,
    send_due_reminders,
)
from appointments.tasks import send_confirmation_task
from tests.factories import AppointmentFactory, OrganisationFactory

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
LINK = re.compile(r"http://testserver/absage/[^/\s\"<]+/")


@pytest.fixture(autouse=True)
def _public_base_url(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"


def planned(organisation, *, hours: float = 48, email: str = "anna@example.org", **fields):
    """A planned staff-made appointment `hours` from now for Frau Anna Müller."""
    defaults = {
        "patient__salutation": "female",
        "patient__first_name": "Anna",
        "patient__last_name": "Müller",
        "calendar_column__name": "Jana Weber",
    }
    return AppointmentFactory(
        organisation=organisation,
        start=timezone.now() + timedelta(hours=hours),
        patient__email=email,
        **{**defaults, **fields},
    )


# Who gets e-mail


def test_staff_created_appointment_gets_one_confirmation(
    api, organisation, mailoutbox, django_capture_on_commit_callbacks
):
    appointment = planned(organisation, hours=72)  # the patient, column and chain to use
    body = {
        "patient_id": str(appointment.patient.public_id),
        "calendar_column_id": str(appointment.calendar_column.public_id),
        "start": (timezone.now() + timedelta(days=3)).isoformat(),
        "duration_minutes": 30,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(APPOINTMENTS, body, format="json")
    assert response.status_code == 201, response.content

    created = Appointment.objects.get(public_id=response.json()["id"])
    assert [m.to for m in mailoutbox] == [["anna@example.org"]]
    assert mailoutbox[0].from_email == "Praxis am See <praxis@localhost>"
    assert created.confirmation_sent_at is not None
    assert created.reminder_sent_at is None  # three days ahead: the reminder comes later
    assert created.history.first().history_change_reason == "Terminbestätigung per E-Mail gesendet"

    assert send_confirmation(appointment_id=created.pk) is False
    assert len(mailoutbox) == 1


def test_appointment_made_not_through_staff_gets_no_confirmation(
    organisation, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        planned(organisation, source=AppointmentSource.DOCTOLIB)
    assert mailoutbox == []


@pytest.mark.parametrize(
    "case",
    ["doctolib", "cancelled", "done", "past", "no_email", "handed_over"],
)
def test_who_gets_no_mail(organisation, mailoutbox, case):
    fields = {
        "doctolib": {"source": AppointmentSource.DOCTOLIB, "doctolib_appointment_id": "dl-9"},
        "cancelled": {"status": AppointmentStatus.CANCELLED},
        "done": {"status": AppointmentStatus.DONE},
        "past": {"hours": -1},
        "no_email": {"email": ""},
        "handed_over": {},
    }[case]
    appointment = planned(organisation, hours=fields.pop("hours", 2), **fields)
    if case == "handed_over":
        organisation.handover_at = timezone.now()
        organisation.save()
        appointment.refresh_from_db()

    assert notification_allowed(appointment) is False
    assert send_confirmation(appointment_id=appointment.pk) is False
    assert send_due_reminders() == 0
    assert mailoutbox == []
    appointment.refresh_from_db()
    assert (appointment.confirmation_sent_at, appointment.reminder_sent_at) == (None, None)


def test_a_planned_future_appointment_with_an_address_may_be_mailed(organisation):
    assert notification_allowed(planned(organisation, hours=2)) is True


def test_unknown_appointment_id_sends_nothing(mailoutbox, db):
    assert send_confirmation(appointment_id=987654) is False
    assert mailoutbox == []


# What the e-mail says


def test_mail_is_german_in_the_organisations_zone_with_a_working_link(
    organisation, mailoutbox, client
):
    organisation.time_zone = "Asia/Tokyo"  # UTC+9, unlike the server's Europe/Berlin
    organisation.phone = "+49301234567"
    organisation.save()
    appointment = planned(
        organisation, note="Diagnose: Lumbago", service_chain__description="Manuelle Therapie"
    )
    appointment.start = datetime(2030, 5, 14, 8, 0, tzinfo=UTC)
    appointment.save()

    assert send_confirmation(appointment_id=appointment.pk) is True

    mail = mailoutbox[0]
    assert mail.subject == "Terminbestätigung am 14.05.2030 um 17:00 Uhr – Praxis am See"
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    for body in (mail.body, html):
        assert "Guten Tag Frau Müller," in body
        assert "hiermit bestätigen wir Ihren Termin" in body
        assert "Dienstag, 14. Mai 2030" in body
        assert "17:00 Uhr" in body
        assert "Jana Weber" in body
        assert "030 1234567" in body  # nationally (issue 13)
        assert "Lumbago" not in body and "Manuelle Therapie" not in body
    links = {LINK.search(mail.body).group(), LINK.search(html).group()}
    assert len(links) == 1
    page = client.get(links.pop().removeprefix("http://testserver"))
    assert page.status_code == 200
    assert "Dienstag, 14. Mai 2030" in page.content.decode()


def test_reminder_mail_says_it_is_a_reminder_and_escapes_html(organisation, mailoutbox):
    planned(organisation, hours=3, patient__last_name="<b>Müller</b>")
    assert send_due_reminders() == 1
    mail = mailoutbox[0]
    assert mail.subject.startswith("Erinnerung an Ihren Termin am ")
    assert "wir erinnern Sie an Ihren Termin" in mail.body
    assert "Guten Tag Frau <b>Müller</b>," in mail.body
    assert "&lt;b&gt;Müller&lt;/b&gt;" in mail.alternatives[0][0]


def test_room_column_is_named_as_room(organisation, mailoutbox):
    planned(organisation, hours=3, calendar_column__kind="room", calendar_column__name="Raum 2")
    send_due_reminders()
    assert "Raum: Raum 2" in mailoutbox[0].body


# The periodic reminders


def test_reminders_follow_each_organisations_window_and_go_out_once(organisation, mailoutbox):
    far_ahead = OrganisationFactory(reminder_hours_before=48)
    due = [
        planned(organisation, hours=23, email="due-1@example.org"),
        planned(far_ahead, hours=30, email="due-2@example.org"),
    ]
    planned(organisation, hours=25, email="later@example.org")
    planned(organisation, hours=-1, email="past@example.org")
    planned(far_ahead, hours=50, email="later-2@example.org")

    assert send_due_reminders() == 2
    assert sorted(m.to[0] for m in mailoutbox) == ["due-1@example.org", "due-2@example.org"]
    for appointment in due:
        appointment.refresh_from_db()
        assert appointment.reminder_sent_at is not None

    assert send_due_reminders() == 0
    assert len(mailoutbox) == 2


def test_no_reminders_when_the_organisation_wants_none(organisation, mailoutbox):
    organisation.reminder_hours_before = 0
    organisation.save()
    planned(organisation, hours=1)
    assert send_due_reminders() == 0
    assert mailoutbox == []


def test_reminders_go_only_to_patients_who_consented(organisation, mailoutbox):
    """The record's "E-Mail-Erinnerungen" checkbox is the patient's consent."""
    consented = planned(organisation, hours=1, email="ja@example.org")
    planned(organisation, hours=1, email="nein@example.org", patient__reminder_consent=False)

    assert send_due_reminders() == 1

    assert [message.to for message in mailoutbox] == [["ja@example.org"]]
    consented.refresh_from_db()
    assert consented.reminder_sent_at is not None


def test_confirmation_inside_the_window_stands_for_the_reminder(organisation, mailoutbox):
    appointment = planned(organisation, hours=5)
    assert send_confirmation(appointment_id=appointment.pk) is True
    assert send_due_reminders() == 0
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at == appointment.confirmation_sent_at
    assert len(mailoutbox) == 1


def test_confirmation_outside_the_window_is_followed_by_the_reminder(organisation, mailoutbox):
    appointment = planned(organisation, hours=48)
    send_confirmation(appointment_id=appointment.pk)
    organisation.reminder_hours_before = 72
    organisation.save()
    assert send_due_reminders() == 1
    assert [m.subject.split(" am ")[0] for m in mailoutbox] == [
        "Terminbestätigung",
        "Erinnerung an Ihren Termin",
    ]


def test_refused_recipient_is_skipped_and_the_others_still_get_theirs(
    organisation, mailoutbox, monkeypatch
):
    refused = planned(organisation, hours=2, email="refused@example.org")
    other = planned(organisation, hours=3, email="ok@example.org")
    send = EmailMultiAlternatives.send

    def refusing(message, *args, **kwargs):
        if message.to == ["refused@example.org"]:
            raise SMTPRecipientsRefused({"refused@example.org": (550, b"no such user")})
        return send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", refusing)
    assert send_due_reminders() == 1
    refused.refresh_from_db()
    other.refresh_from_db()
    assert refused.reminder_sent_at is None  # tried again on the next run
    assert other.reminder_sent_at is not None
    assert [m.to for m in mailoutbox] == [["ok@example.org"]]


def test_server_error_rolls_back_the_mark_and_ends_the_run(organisation, mailoutbox, monkeypatch):
    appointment = planned(organisation, hours=2)

    def failing(message, *args, **kwargs):
        raise SMTPServerDisconnected("gone")

    monkeypatch.setattr(EmailMultiAlternatives, "send", failing)
    with pytest.raises(SMTPServerDisconnected):
        send_due_reminders()
    appointment.refresh_from_db()
    assert appointment.reminder_sent_at is None
    assert appointment.history.count() == 1  # no "sent" entry either


# The task


def test_task_retries_a_transient_error_and_then_sends(organisation, mailoutbox, monkeypatch):
    appointment = planned(organisation)
    send, calls = EmailMultiAlternatives.send, []

    def flaky(message, *args, **kwargs):
        calls.append(message.to)
        if len(calls) == 1:
            raise ConnectionRefusedError("mail server down")
        return send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky)
    result = send_confirmation_task.apply(args=[appointment.pk], throw=False)
    assert result.get() is True
    assert len(calls) == 2
    assert len(mailoutbox) == 1


def test_task_does_not_retry_a_bug(organisation, mailoutbox, monkeypatch):
    appointment = planned(organisation)
    calls = []

    def broken(message, *args, **kwargs):
        calls.append(1)
        raise ValueError("a bug, not the network")

    monkeypatch.setattr(EmailMultiAlternatives, "send", broken)
    with pytest.raises(ValueError):
        send_confirmation_task.apply(args=[appointment.pk], throw=False).get()
    assert calls == [1]
    appointment.refresh_from_db()
    assert appointment.confirmation_sent_at is None


# Two runs at once (PostgreSQL: row locks)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_runs_send_each_reminder_once(organisation, mailoutbox, monkeypatch):
    for n in range(8):
        planned(organisation, hours=2 + n, email=f"p{n}@example.org")
    send = EmailMultiAlternatives.send

    def slow(message, *args, **kwargs):
        time.sleep(0.05)  # hold the row lock while the other run looks for work
        return send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", slow)
    counts = []

    def run():
        try:
            counts.append(send_due_reminders())
        finally:
            connection.close()

    runs = [threading.Thread(target=run) for _ in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()

    recipients = [m.to[0] for m in mailoutbox]
    assert sorted(recipients) == [f"p{n}@example.org" for n in range(8)]
    assert sum(counts) == 8
    assert Appointment.objects.filter(reminder_sent_at__isnull=True).count() == 0
