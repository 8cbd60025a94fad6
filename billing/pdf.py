"""The invoice as PDF (WeasyPrint): the facts § 14 Abs. 4 UStG asks for, in German.

What an issued invoice prints depends only on what was frozen when it was issued
(number, dates, parties, lines), never on what happened later: it is rendered once
and archived (billing.archive). Only a draft is rendered live, marked "ENTWURF".

The cancellation document (Stornorechnung) of a cancelled invoice is a PDF of its
own from the same template family (billing/cancellation.html extends
billing/invoice.html): the same parties and lines with every amount negated, the
reference to the invoice it cancels, and no payment request.

An issued invoice with an amount to pay prints a GiroCode (billing.girocode) next to
its bank details: for the amount due at issue, the invoice total. The amount is a
parameter (`girocode_svg`), so a dunning notice prints one for what is open then plus
its fee. Drafts and cancellation documents have none."""

import logging
import threading
from datetime import date
from decimal import Decimal

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from billing.girocode import MAX_NAME, GiroCodeError, epc_payload, epc_qr_svg
from billing.models import Invoice, TaxCategory
from billing.parties import Recipient, invoice_parties
from billing.selectors import vat_breakdown
from patients.models import Salutation

logger = logging.getLogger(__name__)

EXEMPT_NOTE = "Umsatzsteuerfrei gemäß § 4 Nr. 14 a UStG."
SMALL_BUSINESS_NOTE = (
    "Gemäß § 19 UStG wird keine Umsatzsteuer berechnet (Kleinunternehmerregelung)."
)
# What the USt column says of a line that carries no VAT.
UNTAXED_LABEL = {TaxCategory.EXEMPT_THERAPY: "frei", TaxCategory.NOT_TAXABLE: "–"}
GROUP_LABEL = {
    TaxCategory.EXEMPT_THERAPY: "Umsatzsteuerfreie Heilbehandlungen",
    TaxCategory.NOT_TAXABLE: "Nicht steuerbar",
}


def _number(value: Decimal) -> str:
    """German decimal comma, no trailing zeros: 19.00 -> "19", 7.50 -> "7,5"."""
    text = f"{value.normalize():f}"
    return text.replace(".", ",")


def _eur(value: Decimal) -> str:
    """1234.5 -> "1.234,50 €"."""
    text = f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{text} €"


def _date(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def _iban(value: str) -> str:
    compact = value.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def girocode_svg(*, sender, amount: Decimal, remittance: str) -> str:
    """The GiroCode (inline SVG) of a transfer of `amount` to the practice's account
    (`sender`: the practice, or the copy frozen on an issued invoice) with
    `remittance` (the invoice number) as its reference; "" when there is nothing to
    pay or no IBAN. The beneficiary is the account holder, else the practice's name,
    cut to the 70 characters a SEPA transfer carries.

    Bank details that make no valid payload (an IBAN entered past the API's checks)
    leave the code out, logged: the printed bank details still stand, and issuing
    does not fail over a convenience."""
    if not sender.iban or amount <= 0:
        return ""
    name = " ".join((sender.bank_account_holder or sender.name or "").split())[:MAX_NAME]
    try:
        payload = epc_payload(
            bic=sender.bic, name=name, iban=sender.iban, amount=amount, remittance=remittance
        )
    except GiroCodeError as error:
        logger.warning("no GiroCode for %s: %s", remittance, error)
        return ""
    return epc_qr_svg(payload)


def _recipient(recipient: Recipient) -> tuple[list[str], str]:
    """The address block's lines and the greeting."""
    parts = (recipient.title, recipient.first_name, recipient.last_name)
    name = " ".join(part for part in parts if part)
    formal = " ".join(part for part in (recipient.title, recipient.last_name) if part)
    if recipient.salutation == Salutation.MALE:
        address, greeting = f"Herrn {name}", f"Sehr geehrter Herr {formal},"
    elif recipient.salutation == Salutation.FEMALE:
        address, greeting = f"Frau {name}", f"Sehr geehrte Frau {formal},"
    else:
        address, greeting = name, f"Guten Tag {name},"
    place = " ".join(part for part in (recipient.postal_code, recipient.city) if part)
    return [line for line in (address, recipient.street, place) if line], greeting


def _tax_note(invoice: Invoice, lines) -> str:
    """§ 19 UStG instead of any tax for a small business; else the exemption of
    therapeutic services when a line is one (never for a 0 % line of another kind)."""
    if invoice.small_business:
        return SMALL_BUSINESS_NOTE
    exempt = any(line.tax_category == TaxCategory.EXEMPT_THERAPY for line in lines)
    return EXEMPT_NOTE if exempt else ""


def _vat_label(line) -> str:
    if line.tax_category in UNTAXED_LABEL:
        return UNTAXED_LABEL[line.tax_category]
    return f"{_number(line.vat_rate)} %"


def _context(invoice: Invoice, *, negate: bool) -> dict:
    """What both documents print; `negate`: every amount with the opposite sign (the
    cancellation document). Neither has a GiroCode: `invoice_context` adds it."""
    organisation = invoice.organisation  # its zone and payment term
    parties = invoice_parties(invoice)
    sender = parties.sender
    lines = list(invoice.lines.all())
    groups = vat_breakdown(lines)
    address, greeting = _recipient(parties.recipient)

    def money(value: Decimal) -> str:
        return _eur(-value if negate and value else value)

    return {
        "invoice": invoice,
        "organisation": sender,
        "mark": "" if invoice.number else "ENTWURF",
        "title": f"Rechnung {invoice.number}" if invoice.number else "Rechnungsentwurf",
        "sender": " · ".join(
            part
            for part in (
                sender.name,
                sender.street,
                f"{sender.postal_code} {sender.city}".strip(),
            )
            if part
        ),
        "address": address,
        "greeting": greeting,
        "patient_name": parties.patient_name,
        "birth_date": _date(parties.birth_date),
        "issue_date": _date(invoice.issue_date),
        "due_date": _date(invoice.due_date),
        "term_days": (
            (invoice.due_date - invoice.issue_date).days
            if invoice.due_date and invoice.issue_date
            else organisation.payment_term_days
        ),
        "paid_date": _date(invoice.paid_at and invoice.paid_at.astimezone(organisation.zone)),
        "cancellation_date": _date(invoice.cancellation_date),
        "show_vat": not invoice.small_business,
        "lines": [
            {
                "date": _date(line.service_date),
                "code": line.code,
                "name": line.name,
                "quantity": _number(line.quantity),
                "unit_price": money(line.unit_price),
                "vat_rate": _vat_label(line),
                "amount": money(line.amount),
                "therapist": line.therapist or "",
            }
            for line in lines
        ],
        "groups": [
            {
                "label": GROUP_LABEL.get(group.tax_category, ""),
                "rate": f"{_number(group.rate)} %",
                "taxed": group.tax_category == TaxCategory.TAXABLE,
                "net": money(group.net),
                "vat": money(group.vat),
            }
            for group in groups
        ],
        "taxed": any(group.rate for group in groups),
        "net_total": money(invoice.net_total),
        "vat_total": money(invoice.vat_total),
        "total": money(invoice.total),
        "tax_note": _tax_note(invoice, lines),
        "iban": _iban(sender.iban) if sender.iban else "",
        "girocode": "",
    }


def invoice_context(invoice: Invoice, *, amount_due: Decimal | None = None) -> dict:
    """The invoice; an issued one (it has a number) with the GiroCode for
    `amount_due`, by default the total (what is due at issue)."""
    context = _context(invoice, negate=False)
    if invoice.number:
        context["girocode"] = girocode_svg(
            sender=context["organisation"],
            amount=invoice.total if amount_due is None else amount_due,
            remittance=invoice.number,
        )
    return context


_fonts = threading.local()


def _pdf(html: str) -> bytes:
    """The PDF of `html`, with one font configuration per thread, kept. WeasyPrint's
    default, a new one per document, leaves about 0.2 MB of Pango and fontconfig state
    behind each time: a billing run's 2,000 PDFs grew its worker by 450 MB (bench/
    billing_run.py); kept, the process stays flat. Pango's font map is not shared
    across threads, hence one per thread."""
    if not hasattr(_fonts, "config"):
        _fonts.config = FontConfiguration()
    return HTML(string=html).write_pdf(font_config=_fonts.config)


def invoice_html(invoice: Invoice, *, amount_due: Decimal | None = None) -> str:
    return render_to_string("billing/invoice.html", invoice_context(invoice, amount_due=amount_due))


def invoice_pdf(invoice: Invoice, *, amount_due: Decimal | None = None) -> bytes:
    return _pdf(invoice_html(invoice, amount_due=amount_due))


def invoice_filename(invoice: Invoice) -> str:
    return f"Rechnung-{invoice.number}.pdf" if invoice.number else "Rechnungsentwurf.pdf"


def cancellation_context(invoice: Invoice) -> dict:
    """The Stornorechnung of an invoice cancelled after it was issued: the parties it
    was issued to, its lines and totals negated, what it cancels; a paid one's
    amount is refunded. Only for an invoice with a `cancellation_number`."""
    if not invoice.cancellation_number:
        raise ValueError("Die Rechnung hat keine Stornorechnung.")
    return {
        **_context(invoice, negate=True),
        "mark": "",
        "title": f"Stornorechnung {invoice.cancellation_number}",
        "invoice_total": _eur(invoice.total),
    }


def cancellation_html(invoice: Invoice) -> str:
    return render_to_string("billing/cancellation.html", cancellation_context(invoice))


def cancellation_pdf(invoice: Invoice) -> bytes:
    return _pdf(cancellation_html(invoice))


def cancellation_filename(invoice: Invoice) -> str:
    return f"Storno-{invoice.cancellation_number}.pdf"


def dunning_context(notice) -> dict:
    """A dunning notice of an issued invoice (`notice`: a billing.models.DunningNotice,
    saved or not): the parties frozen on the invoice, its number and dates, what was
    billed and paid, the fees, what is open now with this fee, the new due date, and
    a GiroCode for that open amount."""
    invoice = notice.invoice
    context = _context(invoice, negate=False)
    # `paid_before`: what had come in at the notice's date (set by billing.dunning)
    earlier_fees = notice.open_amount - notice.fee - (invoice.total - notice.paid_before)
    context.update(
        {
            "mark": "",
            "title": f"{notice.name} zur Rechnung {invoice.number}",
            "name": notice.name,
            "first": notice.level == 1,
            "notice_date": _date(notice.date),
            "new_due_date": _date(notice.due_date),
            "paid": _eur(notice.paid_before) if notice.paid_before else "",
            "earlier_fees": _eur(earlier_fees) if earlier_fees > 0 else "",
            "has_fee": notice.fee > 0,
            "fee": _eur(notice.fee),
            "open_amount": _eur(notice.open_amount),
            "girocode": girocode_svg(
                sender=context["organisation"],
                amount=notice.open_amount,
                remittance=invoice.number,
            ),
        }
    )
    return context


def dunning_html(notice) -> str:
    return render_to_string("billing/dunning.html", dunning_context(notice))


def dunning_pdf(notice) -> bytes:
    return _pdf(dunning_html(notice))


def dunning_filename(notice) -> str:
    return f"Mahnung-{notice.invoice.number}-Stufe-{notice.level}.pdf"
