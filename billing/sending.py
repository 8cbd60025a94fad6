"""Documents by e-mail (staff-api.md 1.1, "Money in", **Sending**; issue 14).

`send_document` is the one way a document leaves by e-mail: the PDF it is given as
the attachment, from DEFAULT_FROM_EMAIL with the practice's name as display name,
Reply-To the practice's e-mail, through Django's e-mail backend (console unless
EMAIL_URL is set). Invoices use it here; dunning notices call it with their own
PDF, subject and text.

Sending an invoice is two steps: `invoice_send_request` (the staff API and the page)
checks status and address and queues the job through the outbox in its transaction;
`invoice_send` (the Celery task) e-mails the stored PDF (billing.archive: the bytes
archived at issue, never rendered again) and sets `sent_at`. Delivery is at least
once, so the job checks `sent_at` against the time of the request it serves: a mail
sent after the request was made answers it, and a second run sends nothing.

Logs name ids only, never an address or the document."""

import logging
from datetime import datetime
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from audit.actions import Action
from audit.services import audit_record
from billing import archive
from billing.models import Invoice, InvoiceStatus
from billing.parties import invoice_parties
from billing.payments import balance, refuse_status

# The PDF's own formatting, so that the e-mail says what the attachment says.
from billing.pdf import _date, _eur, _iban, _recipient, invoice_filename
from lemniscus.errors import NoEmail
from organisations.models import Organisation
from outbox.services import enqueue

logger = logging.getLogger(__name__)

TASK = "billing.send_invoice"
SENT_REASON = "Rechnung per E-Mail gesendet"
# Issued, partly paid and paid invoices (a paid one as the patient's copy). Not a
# draft or a cancelled one, and not a written-off one: its claim is booked as lost,
# and a mail asking for the money would contradict the books.
SENDABLE = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID, InvoiceStatus.PAID})


def send_document(
    *,
    organisation: Organisation,
    to: str,
    subject: str,
    body: str,
    filename: str,
    pdf_bytes: bytes,
) -> None:
    """E-mail `pdf_bytes` as `filename` to `to` in the practice's name. Raises what
    the backend raises (smtplib errors, OSError): the caller's task retries."""
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=formataddr((organisation.name, settings.DEFAULT_FROM_EMAIL)),
        to=[to],
        reply_to=[organisation.email] if organisation.email else None,
    )
    message.attach(filename, pdf_bytes, "application/pdf")
    message.send()


def recipient_email(invoice: Invoice) -> str:
    """Where the invoice goes: its recipient's `email` (frozen at issue), else the
    patient's current one; "" when neither has one."""
    return invoice_parties(invoice).recipient.email or invoice.patient.email or ""


def masked(address: str) -> str:
    """An address as the pages show it: `m…@example.org`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def invoice_send_request(*, invoice: Invoice, actor) -> str:
    """Queue the e-mail of an issued invoice (after the caller's commit) and return
    the address it goes to. A draft, cancelled or written-off invoice: 409
    `invalid_status` (checked first); no address: 422 `no_email`, nothing queued."""
    refuse_status(invoice, SENDABLE, "ein Versand per E-Mail")
    if not recipient_email(invoice):
        raise NoEmail()
    with transaction.atomic():
        enqueue(TASK, invoice_id=invoice.pk, requested_at=timezone.now().isoformat())
        audit_record(
            organisation=invoice.organisation_id,
            actor=actor,
            action=Action.INVOICE_SEND,
            object_type="invoice",
            object_id=invoice.public_id,
            patient=invoice.patient.public_id,
            detail=invoice.number,
        )
    return recipient_email(invoice)


def invoice_mail(invoice: Invoice) -> tuple[str, str]:
    """Subject and German text of an invoice's e-mail: greeting, number, total and
    due date, the bank details printed on it, the practice's signature."""
    organisation = invoice.organisation
    parties = invoice_parties(invoice)
    sender = parties.sender
    _, greeting = _recipient(parties.recipient)
    money = balance(invoice)
    bank = [f"IBAN {_iban(sender.iban)}" if sender.iban else ""]
    bank += [f"BIC {sender.bic}" if sender.bic else ""]
    holder = sender.bank_account_holder or sender.name
    bank += [f"Kontoinhaber: {holder}" if sender.iban and holder else ""]
    context = {
        "greeting": greeting,
        "number": invoice.number,
        "issue_date": _date(invoice.issue_date),
        "due_date": _date(invoice.due_date),
        "total": _eur(invoice.total),
        "paid": invoice.status == InvoiceStatus.PAID,
        "paid_amount": _eur(money.paid) if invoice.status == InvoiceStatus.PARTLY_PAID else "",
        "open_amount": _eur(money.open),
        "bank_line": " · ".join(part for part in bank if part),
        "organisation": organisation,
        "signature": organisation.email_signature.strip(),
    }
    with translation.override("de"):
        subject = f"Ihre Rechnung {invoice.number} – {organisation.name}"
        body = render_to_string("billing/email/invoice.txt", context).strip() + "\n"
    return subject, body


@transaction.atomic
def invoice_send(*, invoice_id: int, requested_at: str) -> bool:
    """The job: e-mail the invoice's stored PDF once for the request made at
    `requested_at` and set `sent_at`. True when a mail went out; False when the
    request was answered already (a second delivery), or the invoice can no longer
    be sent (cancelled or written off meanwhile, the address removed)."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "patient")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        return False
    if invoice.sent_at is not None and invoice.sent_at >= datetime.fromisoformat(requested_at):
        logger.info("invoice %s already sent for this request", invoice.pk)
        return False
    to = recipient_email(invoice)
    if invoice.status not in SENDABLE or not to:
        logger.warning("invoice %s not sent: %s or no address", invoice.pk, invoice.status)
        return False
    pdf_bytes = archive.invoice_pdf(invoice)
    subject, body = invoice_mail(invoice)
    invoice.sent_at = timezone.now()
    invoice._history_user = None
    invoice._change_reason = SENT_REASON
    invoice.save(update_fields=["sent_at"])
    # Inside the transaction: a mail the server refused leaves `sent_at` as it was.
    send_document(
        organisation=invoice.organisation,
        to=to,
        subject=subject,
        body=body,
        filename=invoice_filename(invoice),
        pdf_bytes=pdf_bytes,
    )
    logger.info("invoice sent invoice=%s", invoice.pk)
    return True
