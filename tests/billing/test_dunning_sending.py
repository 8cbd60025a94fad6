"""staff-api.md 1.1, "Money in", **Sending** for dunning notices: `POST
/dunning-notices/{id}/send` → 202; a job e-mails the PDF stored when the notice was
made to the recipient's `email`, else the patient's; none: 422 `no_email`; sets
`sent_at`. Through the staff API, with a real SMTP server on loopback (aiosmtpd)."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from billing import payments, sending, services
from billing.dunning import dunning_notice_create
from billing.models import DunningNotice
from outbox.models import OutboxMessage
from tests.billing.conftest import free_port, mail_text
from tests.billing.test_dunning import NOTICE_FIELDS, issued_days_overdue
from tests.conftest import assert_problem, token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/dunning-notices/"
SIGNATURE = "Mit freundlichen Grüßen\nIhr Team der Praxis am See"


@pytest.fixture
def practice(organisation):
    organisation.email = "kontakt@praxis-am-see.test"
    organisation.email_signature = SIGNATURE
    organisation.save()
    return organisation


@pytest.fixture
def overdue(practice, admin_user, monkeypatch):
    """An invoice 25 days past its due date, its patient with an e-mail address."""
    invoice = issued_days_overdue(practice, admin_user, 25, monkeypatch)
    invoice.patient.email = "patient@example.org"
    invoice.patient.save()
    return invoice


@pytest.fixture
def notice(overdue, admin_user) -> DunningNotice:
    """The "1. Mahnung" (level 2, fee 5.00) after a Zahlungserinnerung."""
    dunning_notice_create(invoice=overdue, actor=admin_user)
    return dunning_notice_create(invoice=overdue, actor=admin_user)


def send(api, notice):
    return api.post(f"{URL}{notice.public_id}/send")


def send_and_run(api, notice, capture):
    with capture(execute=True):
        return send(api, notice)


def stored_bytes(notice) -> bytes:
    with notice.file.open("rb") as file:
        return file.read()


def nothing_queued() -> bool:
    return (
        not OutboxMessage.objects.filter(task=sending.NOTICE_TASK).exists()
        and not AuditEvent.objects.filter(action="dunning.send").exists()
    )


# "POST /dunning-notices/{id}/send → 202; a Celery job e-mails the stored PDF to the
# recipient's email, else the patient's ... Sets sent_at."


def test_send_answers_202_and_the_job_mails_the_stored_notice_pdf(
    api, notice, smtp, django_capture_on_commit_callbacks
):
    response = send_and_run(api, notice, django_capture_on_commit_callbacks)

    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == NOTICE_FIELDS
    assert body["id"] == str(notice.public_id) and body["sent_at"] is None  # the job sets it
    [(to, message)] = smtp.received
    assert to == ["patient@example.org"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"Mahnung-{notice.invoice.number}-Stufe-2.pdf"
    assert attachment.get_content() == stored_bytes(notice)
    assert hashlib.sha256(attachment.get_content()).hexdigest() == notice.sha256


def test_the_job_sets_sent_at_and_the_invoice_shows_it(
    api, notice, smtp, django_capture_on_commit_callbacks
):
    before = timezone.now()

    send_and_run(api, notice, django_capture_on_commit_callbacks)

    notice.refresh_from_db()
    assert notice.sent_at is not None and notice.sent_at >= before
    invoice = api.get(f"/api/v1/invoices/{notice.invoice.public_id}/").json()
    shown = {n["level"]: n["sent_at"] for n in invoice["dunning_notices"]}
    assert shown[1] is None  # the Zahlungserinnerung was not sent
    assert shown[2] == timezone.localtime(notice.sent_at, notice.organisation.zone).isoformat()


def test_the_stored_pdf_is_sent_never_rendered_again(
    api, notice, smtp, monkeypatch, django_capture_on_commit_callbacks
):
    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr("billing.pdf.dunning_pdf", no_rendering)
    monkeypatch.setattr("billing.dunning.pdf.dunning_pdf", no_rendering)

    send_and_run(api, notice, django_capture_on_commit_callbacks)

    [(_, message)] = smtp.received
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == stored_bytes(notice)


def test_the_mail_is_german_with_the_notices_amounts_deadline_bank_and_signature(
    api, notice, smtp, django_capture_on_commit_callbacks
):
    send_and_run(api, notice, django_capture_on_commit_callbacks)

    [(_, message)] = smtp.received
    invoice = notice.invoice
    # A subject this long is folded before its encoded word; the parser keeps the fold.
    subject = message["Subject"].strip()
    assert subject == f"1. Mahnung zur Rechnung {invoice.number} – Praxis am See"
    [sender] = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Praxis am See", "versand@lemniscus.test")
    assert message["Reply-To"] == "kontakt@praxis-am-see.test"
    text = mail_text(message)
    patient = invoice.patient
    assert text.startswith(f"Guten Tag {patient.first_name} {patient.last_name},")
    assert (
        f"unsere 1. Mahnung vom {notice.date:%d.%m.%Y} zur Rechnung {invoice.number} "
        f"vom {invoice.issue_date:%d.%m.%Y}"
    ) in text
    open_ = f"{invoice.total + Decimal('5.00'):.2f}".replace(".", ",")
    assert f"Offen sind {open_} €, darin eine Mahngebühr von 5,00 €." in text
    assert f"bis zum {notice.due_date:%d.%m.%Y}" in text
    assert "IBAN DE89 3704 0044 0532 0130 00" in text
    assert "eingegangen" not in text
    assert text.rstrip().endswith(SIGNATURE)


def test_a_payment_since_the_notice_is_named_in_the_mail(
    api, notice, admin_user, smtp, django_capture_on_commit_callbacks
):
    payments.payment_record(
        invoice=notice.invoice, actor=admin_user, amount=Decimal("20.00"), method="cash"
    )

    send_and_run(api, notice, django_capture_on_commit_callbacks)

    rest = f"{notice.open_amount - Decimal('20.00'):.2f}".replace(".", ",")
    text = mail_text(smtp.received[0][1])
    assert f"sind 20,00 € bei uns eingegangen, vielen Dank; offen sind damit noch {rest} €" in text


def test_the_recipients_address_wins_over_the_patients(
    api, practice, admin_user, parents_draft, monkeypatch, smtp, django_capture_on_commit_callbacks
):
    past = timezone.now() - timedelta(days=practice.payment_term_days + 10)
    with monkeypatch.context() as then:
        then.setattr(timezone, "now", lambda: past)
        invoice = services.invoice_issue(invoice=parents_draft, actor=admin_user)
    notice = dunning_notice_create(invoice=invoice, actor=admin_user)

    send_and_run(api, notice, django_capture_on_commit_callbacks)

    [(to, message)] = smtp.received
    assert to == ["mutter@example.org"]
    assert mail_text(message).startswith("Sehr geehrte Frau Muster,")


# Idempotent: the outbox delivers at least once.


def test_a_second_delivery_of_the_message_sends_nothing(
    api, notice, smtp, django_capture_on_commit_callbacks
):
    send_and_run(api, notice, django_capture_on_commit_callbacks)
    [message] = OutboxMessage.objects.filter(task="billing.send_dunning_notice")
    assert message.kwargs["notice_id"] == notice.pk
    sent_at = DunningNotice.objects.get(pk=notice.pk).sent_at

    assert sending.dunning_notice_send(**message.kwargs) is False  # the broker again

    assert len(smtp.received) == 1
    assert DunningNotice.objects.get(pk=notice.pk).sent_at == sent_at


def test_a_new_request_sends_again(api, notice, smtp, django_capture_on_commit_callbacks):
    send_and_run(api, notice, django_capture_on_commit_callbacks)
    send_and_run(api, notice, django_capture_on_commit_callbacks)

    assert len(smtp.received) == 2


def test_a_refused_mail_leaves_sent_at_unset(notice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens

    with pytest.raises(ConnectionError):
        sending.dunning_notice_send(notice_id=notice.pk, requested_at=timezone.now().isoformat())

    assert DunningNotice.objects.get(pk=notice.pk).sent_at is None


def test_the_job_sends_nothing_once_the_invoice_was_paid_meanwhile(api, notice, admin_user, smtp):
    assert send(api, notice).status_code == 202  # queued, not run yet
    [message] = OutboxMessage.objects.filter(task="billing.send_dunning_notice")
    services.invoice_pay(invoice=notice.invoice, actor=admin_user)

    assert sending.dunning_notice_send(**message.kwargs) is False

    assert smtp.received == []
    assert DunningNotice.objects.get(pk=notice.pk).sent_at is None


# Refusals: 404 → 409 → 422, nothing queued, nothing in the Protokoll.


@pytest.mark.parametrize("state", ["paid", "cancelled", "written_off"])
def test_a_notice_of_an_invoice_no_longer_open_is_409_before_the_address(
    api, notice, admin_user, state
):
    invoice = notice.invoice
    invoice.patient.email = ""  # no address either: the status is checked first
    invoice.patient.save()
    if state == "paid":
        services.invoice_pay(invoice=invoice, actor=admin_user)
    elif state == "cancelled":
        services.invoice_cancel(invoice=invoice, actor=admin_user)
    else:
        payments.invoice_write_off(invoice=invoice, actor=admin_user, reason="Insolvenz")

    problem = assert_problem(send(api, notice), 409, "invalid_status")

    assert "Versand der Mahnung" in problem["detail"]
    assert nothing_queued()


def test_a_partly_paid_invoices_notice_is_sent(api, notice, admin_user):
    payments.payment_record(
        invoice=notice.invoice, actor=admin_user, amount=Decimal("1.00"), method="cash"
    )
    assert send(api, notice).status_code == 202
    assert api.post(f"{URL}{notice.public_id}/send/").status_code == 202  # with the slash too


def test_without_any_address_it_is_422_no_email_and_nothing_is_queued(api, notice):
    notice.invoice.patient.email = ""
    notice.invoice.patient.save()

    problem = assert_problem(send(api, notice), 422, "no_email")

    assert "Mahnung" in problem["detail"] and "E-Mail-Adresse" in problem["detail"]
    assert nothing_queued()
    assert DunningNotice.objects.get(pk=notice.pk).sent_at is None


def test_another_organisations_notice_is_404_and_nothing_is_queued(other_api, api, notice):
    assert_problem(send(other_api, notice), 404, "not_found")
    assert_problem(api.post(f"{URL}00000000-0000-0000-0000-000000000000/send"), 404, "not_found")
    assert_problem(api.post(f"{URL}kein-id/send"), 404, "not_found")
    assert nothing_queued()


def test_sending_needs_the_billing_right(organisation, notice):
    client = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))

    assert_problem(send(client, notice), 403, "permission_denied")
    assert nothing_queued()


def test_the_protokoll_names_number_and_level_only(api, notice, admin_user):
    send(api, notice)

    [event] = AuditEvent.objects.filter(action="dunning.send")
    assert event.detail == f"{notice.invoice.number} Stufe 2"
    assert event.object_id == str(notice.public_id)
    assert event.actor == admin_user
