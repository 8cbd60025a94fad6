"""Documents by e-mail (staff-api.md 1.1, "Money in", **Sending**; issue 14).

`send_document` is the one way a document leaves by e-mail: the PDF it is given as
the attachment, from DEFAULT_FROM_EMAIL with the practice's name as display name,
Reply-To the practice's e-mail, through Django's e-mail backend (console unless
EMAIL_URL is set). Invoices and dunning notices use it, each with its own stored
PDF, subject and text.

Sending an invoice is two steps: `invoice_send_request` (the staff API and the page)
checks status and address and queues the job through the outbox in its transaction;
`invoice_send` (the Celery task) e-mails the stored PDF (billing.archive: the bytes
archived at issue, never rendered again) and sets `sent_at`. Delivery is at least
once, so the job checks `sent_at` against the time of the request it serves: a mail
sent after the request was made answers it, and a second run sends nothing.
A dunning notice goes the same two steps (`dunning_notice_send_request`,
`dunning_notice_send`) with the PDF stored when it was made (billing.dunning) and
its own `sent_at`; it goes out only while the invoice is open (issued or partly
paid): a notice asking for money no longer owed must not leave.

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
from billing.dunning import stored_notice_pdf
from billing.models import DunningNotice, Invoice, InvoiceStatus
from billing.parties import invoice_parties
from billing.payments import PAYABLE, ZERO, balance, refuse_status

# The PDF's own formatting, so that the e-mail says what the attachment says.
from billing.pdf import _date, _eur, _iban, _recipient, dunning_filename, invoice_filename
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

NOTICE_TASK = "billing.send_dunning_notice"
# A dunning notice asks for money: it goes out only while the invoice is open. Paid,
# cancelled and written-off invoices (and drafts, which have no notices) are 409.
NOTICE_SENDABLE = PAYABLE
NO_EMAIL_NOTICE = (
    "Weder der Rechnungsempfänger noch die Patientin oder der Patient hat eine "
    "E-Mail-Adresse; die Mahnung kann nicht per E-Mail gesendet werden."
)


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
    return _queue(
        invoice=invoice,
        actor=actor,
        task=TASK,
        ids={"invoice_id": invoice.pk},
        action=Action.INVOICE_SEND,
        document=invoice,
        detail=invoice.number,
        no_email=NoEmail(),
    )


def dunning_notice_send_request(*, notice: DunningNotice, actor) -> str:
    """Queue the e-mail of a dunning notice (after the caller's commit) and return the
    address it goes to. Its invoice paid, cancelled or written off: 409
    `invalid_status` (checked first); no address: 422 `no_email`, nothing queued."""
    invoice = notice.invoice
    refuse_status(invoice, NOTICE_SENDABLE, "ein Versand der Mahnung per E-Mail")
    return _queue(
        invoice=invoice,
        actor=actor,
        task=NOTICE_TASK,
        ids={"notice_id": notice.pk},
        action=Action.DUNNING_SEND,
        document=notice,
        detail=f"{invoice.number} Stufe {notice.level}",
        no_email=NoEmail(NO_EMAIL_NOTICE),
    )


def _queue(*, invoice, actor, task, ids, action, document, detail, no_email) -> str:
    """The address, or `no_email` raised; else the job's outbox message (with the time
    of this request) and the Protokoll entry, in one transaction."""
    to = recipient_email(invoice)
    if not to:
        raise no_email
    with transaction.atomic():
        enqueue(task, **ids, requested_at=timezone.now().isoformat())
        audit_record(
            organisation=invoice.organisation_id,
            actor=actor,
            action=action,
            object_id=document.public_id,
            patient=invoice.patient.public_id,
            detail=detail,
        )
    return to


def _answered(sent_at, requested_at: str) -> bool:
    """Whether a mail went out after the request was made (at-least-once delivery:
    a second run of the same message, or an older request, sends nothing)."""
    return sent_at is not None and sent_at >= datetime.fromisoformat(requested_at)


def _bank_line(sender) -> str:
    """The bank details the PDF prints, on one line: IBAN in groups, BIC, holder."""
    bank = [f"IBAN {_iban(sender.iban)}" if sender.iban else ""]
    bank += [f"BIC {sender.bic}" if sender.bic else ""]
    holder = sender.bank_account_holder or sender.name
    bank += [f"Kontoinhaber: {holder}" if sender.iban and holder else ""]
    return " · ".join(part for part in bank if part)


def invoice_mail(invoice: Invoice) -> tuple[str, str]:
    """Subject and German text of an invoice's e-mail: greeting, number, total and
    due date, the bank details printed on it, the practice's signature."""
    organisation = invoice.organisation
    parties = invoice_parties(invoice)
    sender = parties.sender
    _, greeting = _recipient(parties.recipient)
    money = balance(invoice)
    context = {
        "greeting": greeting,
        "number": invoice.number,
        "issue_date": _date(invoice.issue_date),
        "due_date": _date(invoice.due_date),
        "total": _eur(invoice.total),
        "paid": invoice.status == InvoiceStatus.PAID,
        "paid_amount": _eur(money.paid) if invoice.status == InvoiceStatus.PARTLY_PAID else "",
        "open_amount": _eur(money.open),
        "bank_line": _bank_line(sender),
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
    invoice._history_user = None  # the job's change: no actor, a reason
    invoice._change_reason = SENT_REASON
    return _deliver(
        invoice,
        invoice=invoice,
        sendable=SENDABLE,
        requested_at=requested_at,
        pdf=archive.invoice_pdf,
        mail=invoice_mail,
        filename=invoice_filename,
        update_fields=["sent_at"],
    )


def _deliver(
    document, *, invoice, sendable, requested_at, pdf, mail, filename, update_fields
) -> bool:
    """The jobs' common part, in their transaction with the rows locked: nothing when
    a mail went out since the request (`_answered`) or the invoice can no longer be
    sent to (its status, no address); else `sent_at` set and the stored PDF mailed.
    Inside the transaction: a mail the server refused leaves `sent_at` as it was."""
    kind = document._meta.model_name
    if _answered(document.sent_at, requested_at):
        logger.info("%s %s already sent for this request", kind, document.pk)
        return False
    to = recipient_email(invoice)
    if invoice.status not in sendable or not to:
        logger.warning("%s %s not sent: %s or no address", kind, document.pk, invoice.status)
        return False
    pdf_bytes = pdf(document)
    subject, body = mail(document)
    document.sent_at = timezone.now()
    document.save(update_fields=update_fields)
    send_document(
        organisation=invoice.organisation,
        to=to,
        subject=subject,
        body=body,
        filename=filename(document),
        pdf_bytes=pdf_bytes,
    )
    logger.info("%s sent id=%s", kind, document.pk)
    return True


def dunning_notice_mail(notice: DunningNotice) -> tuple[str, str]:
    """Subject and German text of a notice's e-mail: what its PDF says (the invoice's
    number and date, the open amount with the fees, the new due date, the bank
    details frozen on the invoice), what came in since the notice's date if anything
    did, and the practice's signature."""
    invoice = notice.invoice
    organisation = invoice.organisation
    parties = invoice_parties(invoice)
    _, greeting = _recipient(parties.recipient)
    # What had come in at the notice's date: its open amount is the total plus the
    # fees so far (this one's included) less the payments then.
    fees_then = sum((n.fee for n in invoice.dunning_notices.all() if n.level <= notice.level), ZERO)
    paid_since = balance(invoice).paid - (invoice.total + fees_then - notice.open_amount)
    context = {
        "greeting": greeting,
        "name": notice.name,
        "number": invoice.number,
        "issue_date": _date(invoice.issue_date),
        "notice_date": _date(notice.date),
        "fee": _eur(notice.fee) if notice.fee > 0 else "",
        "open_amount": _eur(notice.open_amount),
        "new_due_date": _date(notice.due_date),
        "paid_since": _eur(paid_since) if paid_since > 0 else "",
        "open_now": _eur(max(notice.open_amount - paid_since, ZERO)),
        "bank_line": _bank_line(parties.sender),
        "organisation": organisation,
        "signature": organisation.email_signature.strip(),
    }
    with translation.override("de"):
        subject = f"{notice.name} zur Rechnung {invoice.number} – {organisation.name}"
        body = render_to_string("billing/email/dunning.txt", context).strip() + "\n"
    return subject, body


@transaction.atomic
def dunning_notice_send(*, notice_id: int, requested_at: str) -> bool:
    """The job: e-mail the notice's stored PDF once for the request made at
    `requested_at` and set its `sent_at`. True when a mail went out; False when the
    request was answered already, or the notice can no longer be sent (its invoice
    paid, cancelled or written off meanwhile, the address removed).

    The invoice row is locked first (as payments lock it), so that no payment
    settles it while its notice is on the way; then the notice's row."""
    invoice_id = (
        DunningNotice.objects.filter(pk=notice_id).values_list("invoice_id", flat=True).first()
    )
    if invoice_id is None:
        return False
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "patient")
        .get(pk=invoice_id)
    )
    notice = DunningNotice.objects.select_for_update().get(pk=notice_id)
    notice.invoice = invoice
    return _deliver(
        notice,
        invoice=invoice,
        sendable=NOTICE_SENDABLE,
        requested_at=requested_at,
        pdf=stored_notice_pdf,
        mail=dunning_notice_mail,
        filename=dunning_filename,
        update_fields=["sent_at", "updated_at"],
    )
