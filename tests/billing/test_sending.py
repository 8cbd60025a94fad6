"""staff-api.md 1.1, "Money in", **Sending** for invoices: one test (or more) per
sentence, through the staff API, with a real SMTP server on loopback (aiosmtpd)."""

import hashlib
import logging
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from billing import payments, sending, services
from billing.models import Invoice
from outbox.models import OutboxMessage
from tests.billing.conftest import free_port
from tests.conftest import assert_problem, token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/invoices/"
ROOT = Path(__file__).resolve().parents[2]
SIGNATURE = "Herzliche Grüße\nIhr Team der Praxis am See\nTel. 040 123456"


@pytest.fixture
def practice(organisation):
    organisation.email = "kontakt@praxis-am-see.test"
    organisation.email_signature = SIGNATURE
    organisation.save()
    return organisation


@pytest.fixture
def issued(practice, draft, admin_user, patient):
    patient.email = "patient@example.org"
    patient.save()
    return services.invoice_issue(invoice=draft, actor=admin_user)  # total 127.49


def send(api, invoice):
    return api.post(f"{URL}{invoice.public_id}/send")


def send_and_run(api, invoice, capture):
    with capture(execute=True):
        return send(api, invoice)


# "POST /invoices/{id}/send → 202; a Celery job e-mails the stored PDF to the
# recipient's email, else the patient's"


def test_send_answers_202_and_the_job_mails_the_stored_pdf(
    api, issued, smtp, django_capture_on_commit_callbacks
):
    stored = api.get(f"{URL}{issued.public_id}/").json()["pdf_sha256"]

    response = send_and_run(api, issued, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.content
    assert response.json()["id"] == str(issued.public_id)
    [(to, message)] = smtp.received
    assert to == ["patient@example.org"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"Rechnung-{issued.number}.pdf"
    assert hashlib.sha256(attachment.get_content()).hexdigest() == stored


def test_the_mail_is_german_with_number_total_due_date_bank_details_and_signature(
    api, issued, smtp, django_capture_on_commit_callbacks
):
    send_and_run(api, issued, django_capture_on_commit_callbacks)

    [(_, message)] = smtp.received
    assert message["Subject"] == f"Ihre Rechnung {issued.number} – Praxis am See"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Praxis am See", "versand@lemniscus.test")
    assert message["Reply-To"] == "kontakt@praxis-am-see.test"
    assert message["To"] == "patient@example.org"
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    patient = issued.patient
    assert text.startswith(f"Guten Tag {patient.first_name} {patient.last_name},")
    assert f"Rechnung {issued.number} vom {issued.issue_date:%d.%m.%Y} über 127,49 €" in text
    assert f"bis zum {issued.due_date:%d.%m.%Y}" in text
    assert "IBAN DE89 3704 0044 0532 0130 00" in text
    assert text.rstrip().endswith(SIGNATURE)


def test_the_job_sets_sent_at(api, issued, smtp, django_capture_on_commit_callbacks):
    before = timezone.now()
    assert send(api, issued).json()["sent_at"] is None  # not yet: the job sets it

    send_and_run(api, issued, django_capture_on_commit_callbacks)

    sent_at = api.get(f"{URL}{issued.public_id}/").json()["sent_at"]
    assert sent_at is not None
    assert Invoice.objects.get(pk=issued.pk).sent_at >= before


def test_the_recipients_address_wins_over_the_patients(
    api, practice, admin_user, parents_draft, smtp, django_capture_on_commit_callbacks
):
    invoice = services.invoice_issue(invoice=parents_draft, actor=admin_user)

    send_and_run(api, invoice, django_capture_on_commit_callbacks)

    [(to, message)] = smtp.received
    assert to == ["mutter@example.org"]
    text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Sehr geehrte Frau Muster,")


def test_without_the_recipients_address_the_patients_is_used(
    api, practice, draft, admin_user, patient, smtp, django_capture_on_commit_callbacks
):
    invoice = services.invoice_issue(invoice=draft, actor=admin_user)  # frozen: no address
    patient.email = "neu@example.org"
    patient.save()

    send_and_run(api, invoice, django_capture_on_commit_callbacks)

    assert [to for to, _ in smtp.received] == [["neu@example.org"]]


def test_the_stored_pdf_is_sent_never_rendered_again(
    api, issued, smtp, monkeypatch, django_capture_on_commit_callbacks
):
    stored = issued.documents.get().sha256

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr("billing.pdf.invoice_pdf", no_rendering)
    monkeypatch.setattr("billing.archive.pdf.invoice_pdf", no_rendering)
    send_and_run(api, issued, django_capture_on_commit_callbacks)

    [(_, message)] = smtp.received
    [attachment] = list(message.iter_attachments())
    assert hashlib.sha256(attachment.get_content()).hexdigest() == stored


# Idempotent: the outbox delivers at least once.


def test_running_the_job_twice_sends_one_mail(api, issued, smtp):
    requested_at = timezone.now().isoformat()

    assert sending.invoice_send(invoice_id=issued.pk, requested_at=requested_at) is True
    assert sending.invoice_send(invoice_id=issued.pk, requested_at=requested_at) is False

    assert len(smtp.received) == 1


def test_the_send_is_queued_in_the_outbox_and_delivered_twice_mails_once(
    api, issued, smtp, django_capture_on_commit_callbacks
):
    send_and_run(api, issued, django_capture_on_commit_callbacks)
    [message] = OutboxMessage.objects.filter(task="billing.send_invoice")
    assert message.kwargs["invoice_id"] == issued.pk

    sending.invoice_send(**message.kwargs)  # the broker delivers it again

    assert len(smtp.received) == 1


def test_a_new_request_sends_again(api, issued, smtp, django_capture_on_commit_callbacks):
    send_and_run(api, issued, django_capture_on_commit_callbacks)
    send_and_run(api, issued, django_capture_on_commit_callbacks)

    assert len(smtp.received) == 2


def test_a_refused_mail_leaves_sent_at_unset(issued, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens

    with pytest.raises(ConnectionError):
        sending.invoice_send(invoice_id=issued.pk, requested_at=timezone.now().isoformat())

    assert Invoice.objects.get(pk=issued.pk).sent_at is None


# "none: 422 no_email"


def test_without_any_address_it_is_422_no_email_and_nothing_is_queued(
    api, practice, draft, admin_user
):
    invoice = services.invoice_issue(invoice=draft, actor=admin_user)

    problem = assert_problem(send(api, invoice), 422, "no_email")

    assert "E-Mail-Adresse" in problem["detail"]
    assert not OutboxMessage.objects.exists()
    assert not AuditEvent.objects.filter(action="invoice.send").exists()
    assert Invoice.objects.get(pk=invoice.pk).sent_at is None


# Only issued, partly paid and paid invoices are sent; status (409) before 422.


def test_a_draft_is_409_even_without_an_address(api, draft):
    assert_problem(send(api, draft), 409, "invalid_status")
    assert not OutboxMessage.objects.exists()


def test_cancelled_and_written_off_invoices_are_409(api, issued, admin_user, draft):
    services.invoice_cancel(invoice=issued, actor=admin_user)
    assert_problem(send(api, issued), 409, "invalid_status")

    other = services.invoice_issue(
        invoice=services.invoice_create(
            organisation=issued.organisation,
            actor=admin_user,
            patient=issued.patient,
            appointments=list(a for a in issued.patient.appointments.all()),
        ),
        actor=admin_user,
    )
    payments.invoice_write_off(invoice=other, actor=admin_user, reason="Uneinbringlich")
    assert_problem(send(api, other), 409, "invalid_status")
    assert not OutboxMessage.objects.exists()


def test_partly_paid_and_paid_invoices_are_sent(
    api, issued, admin_user, smtp, django_capture_on_commit_callbacks
):
    payments.payment_record(
        invoice=issued, actor=admin_user, amount=Decimal("27.49"), method="cash"
    )
    assert send_and_run(api, issued, django_capture_on_commit_callbacks).status_code == 202
    text = (
        smtp.received[-1][1].get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    )
    assert "offen sind noch 100,00 €" in text

    payments.payment_record(
        invoice=issued, actor=admin_user, amount=Decimal("100.00"), method="cash"
    )
    assert send_and_run(api, issued, django_capture_on_commit_callbacks).status_code == 202
    text = (
        smtp.received[-1][1].get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    )
    assert "bereits bei uns eingegangen" in text and "Bitte überweisen" not in text


# Tenancy, rights, Protokoll, logs


def test_another_organisations_invoice_is_404(other_api, issued):
    assert_problem(send(other_api, issued), 404, "not_found")
    assert not OutboxMessage.objects.exists()


def test_sending_needs_the_billing_right(organisation, issued):
    client = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))

    assert_problem(send(client, issued), 403, "permission_denied")
    assert not OutboxMessage.objects.exists()


def test_the_protokoll_names_the_number_only(api, issued, admin_user):
    send(api, issued)

    [event] = AuditEvent.objects.filter(action="invoice.send")
    assert event.detail == issued.number
    assert event.actor == admin_user


def test_logs_never_name_the_address(api, issued, smtp, caplog, django_capture_on_commit_callbacks):
    with caplog.at_level(logging.DEBUG):
        send_and_run(api, issued, django_capture_on_commit_callbacks)
        sending.invoice_send(invoice_id=issued.pk, requested_at=timezone.now().isoformat())

    assert len(smtp.received) == 2
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.")]
    assert ours and not any("patient@example.org" in line for line in ours)


def test_two_requests_before_the_job_ran_send_one_mail(api, issued, smtp):
    first = timezone.now().isoformat()
    second = timezone.now().isoformat()

    sending.invoice_send(invoice_id=issued.pk, requested_at=first)
    sending.invoice_send(invoice_id=issued.pk, requested_at=second)

    assert len(smtp.received) == 1


def test_without_a_signature_the_practice_greets_by_name(
    api, issued, smtp, django_capture_on_commit_callbacks
):
    issued.organisation.email_signature = ""
    issued.organisation.save()

    send_and_run(api, issued, django_capture_on_commit_callbacks)

    text = smtp.received[0][1].get_body(preferencelist=("plain",)).get_content()
    assert text.replace("\r\n", "\n").rstrip().endswith("Mit freundlichen Grüßen\nPraxis am See")


# "Mail goes through Django's e-mail backend (console unless EMAIL_URL is set)."


def _mail_settings(**env: str) -> list[str]:
    """EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS as a fresh process reads
    them from this environment (settings are read once, at start)."""
    script = (
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", script],
        cwd=ROOT,
        env={**base, "SECRET_KEY": "x", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1].split()


def test_mail_goes_to_the_console_unless_email_url_is_set():
    assert _mail_settings()[0] == "django.core.mail.backends.console.EmailBackend"

    backend, host, port, tls = _mail_settings(EMAIL_URL="smtp+tls://u:p@mail.example.org:587")

    assert backend == "django.core.mail.backends.smtp.EmailBackend"
    assert (host, port, tls) == ("mail.example.org", "587", "True")
