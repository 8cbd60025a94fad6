"""Money in: payments on issued invoices, their reversal, "bezahlt" for the open
amount, and the write-off (staff-api.md 1.1, "Money in"; money-de.md).

A payment is never changed or deleted (GoBD; a trigger refuses it on PostgreSQL,
migration 0009): a wrong one is reversed by a negative payment. The invoice's status
follows what was paid: nothing → issued, part → partly_paid, all → paid. Status
checks (409 `invalid_status`) come before the validation of amounts (422). Every
function locks the invoice row first, so two payments cannot both take the last euro.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from audit.actions import Action
from audit.services import actor_label, audit_record
from billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod
from lemniscus.errors import InvalidStatus, NotFound, ValidationFailed

ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("99999999.99")

# Where something is open (to pay or write off), where a payment may be recorded (on a
# paid one it is more than the open amount: 422), and where one may be reversed.
PAYABLE = frozenset({InvoiceStatus.ISSUED, InvoiceStatus.PARTLY_PAID})
RECORDABLE = PAYABLE | {InvoiceStatus.PAID}
REVERSIBLE = frozenset(
    {
        InvoiceStatus.ISSUED,
        InvoiceStatus.PARTLY_PAID,
        InvoiceStatus.PAID,
        InvoiceStatus.CANCELLED,  # money back after a Storno
    }
)
_STATE = {
    InvoiceStatus.DRAFT: "ein Entwurf",
    InvoiceStatus.ISSUED: "gestellt",
    InvoiceStatus.PARTLY_PAID: "teilweise bezahlt",
    InvoiceStatus.PAID: "bezahlt",
    InvoiceStatus.WRITTEN_OFF: "abgeschrieben",
    InvoiceStatus.CANCELLED: "storniert",
}


@dataclass(frozen=True)
class Balance:
    """What an invoice asks for and what came in."""

    due: Decimal  # total + the fees of the invoice's dunning notices
    paid: Decimal

    @property
    def open(self) -> Decimal:
        return max(self.due - self.paid, ZERO)


def paid_amount(invoice: Invoice) -> Decimal:
    """The sum of the invoice's payments (reversals count negative)."""
    prefetched = getattr(invoice, "_prefetched_objects_cache", {}).get("payments")
    if prefetched is not None:
        return sum((p.amount for p in prefetched), ZERO)
    return invoice.payments.aggregate(total=Sum("amount"))["total"] or ZERO


def dunning_fees(invoice: Invoice) -> Decimal:
    """The sum of the fees of the invoice's dunning notices (not_taxable claims)."""
    prefetched = getattr(invoice, "_prefetched_objects_cache", {}).get("dunning_notices")
    if prefetched is not None:
        return sum((n.fee for n in prefetched), ZERO)
    return invoice.dunning_notices.aggregate(total=Sum("fee"))["total"] or ZERO


def balance(invoice: Invoice) -> Balance:
    """Due: the total plus the dunning fees; paid: the payments."""
    return Balance(due=invoice.total + dunning_fees(invoice), paid=paid_amount(invoice))


def open_amount(invoice: Invoice) -> Decimal:
    """What is still to be paid: nothing for a draft, a cancelled or a written-off
    invoice (the write-off books the rest as a loss)."""
    if invoice.status not in (
        InvoiceStatus.ISSUED,
        InvoiceStatus.PARTLY_PAID,
        InvoiceStatus.PAID,
    ):
        return ZERO
    return balance(invoice).open


def _locked(invoice: Invoice) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "patient")
        .get(pk=invoice.pk)
    )


def refuse_status(invoice: Invoice, allowed, doing: str) -> None:
    if invoice.status not in allowed:
        raise InvalidStatus(
            f"Die Rechnung ist {_STATE[invoice.status]}; {doing} ist nicht möglich."
        )


def _settle(invoice: Invoice, actor) -> None:
    """The status after a payment or reversal: paid, partly paid or issued again."""
    if invoice.status not in PAYABLE | {InvoiceStatus.PAID}:
        return  # a cancelled invoice keeps its status when money goes back
    money = balance(invoice)
    if money.paid >= money.due:
        status = InvoiceStatus.PAID
    elif money.paid > ZERO:
        status = InvoiceStatus.PARTLY_PAID
    else:
        status = InvoiceStatus.ISSUED
    if status == invoice.status:
        return
    invoice.status = status
    invoice.paid_at = timezone.now() if status == InvoiceStatus.PAID else None
    invoice._history_user = actor
    invoice.save(update_fields=["status", "paid_at", "updated_at"])


def _audit(invoice: Invoice, actor, action: str, detail: str) -> None:
    audit_record(
        organisation=invoice.organisation_id,
        actor=actor,
        action=action,
        object_type="invoice",
        object_id=invoice.public_id,
        patient=invoice.patient.public_id,
        detail=detail,
    )


def _validated_amount(amount, *, open_: Decimal) -> Decimal:
    if amount is None or amount <= ZERO:
        raise ValidationFailed(
            "Der Betrag muss größer als 0 sein.",
            errors={"amount": ["Bitte einen Betrag größer als 0,00 € angeben."]},
        )
    if amount > open_:
        raise ValidationFailed(
            f"Der Betrag ist höher als der offene Betrag ({_euro(open_)}).",
            errors={"amount": [f"Höchstens der offene Betrag: {_euro(open_)}."]},
        )
    return amount


def _validated_date(day: date | None, invoice: Invoice) -> date:
    today = invoice.organisation.today()
    day = day or today
    if day > today:
        raise ValidationFailed(
            "Das Zahlungsdatum liegt in der Zukunft.",
            errors={"date": ["Bitte das Datum des Zahlungseingangs angeben (heute oder früher)."]},
        )
    return day


def _euro(amount: Decimal) -> str:
    return f"{amount:,.2f} €".replace(",", "X").replace(".", ",").replace("X", ".")


@transaction.atomic
def payment_record(
    *,
    invoice: Invoice,
    actor,
    amount: Decimal,
    method: str,
    date: date | None = None,
    note: str = "",
) -> Payment:
    """A payment on an issued or partly paid invoice (409 `invalid_status` on a draft,
    a cancelled or written-off one, checked first), at most the open amount (422)."""
    invoice = _locked(invoice)
    refuse_status(invoice, RECORDABLE, "eine Zahlung zu erfassen")
    amount = _validated_amount(amount, open_=open_amount(invoice))
    if method not in PaymentMethod.values:
        raise ValidationFailed(
            "Unbekannte Zahlungsart.", errors={"method": ["Überweisung, bar, Karte, Lastschrift."]}
        )
    payment = Payment.objects.create(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        amount=amount,
        date=_validated_date(date, invoice),
        method=method,
        note=note,
        created_by_label=actor_label(actor),
    )
    _settle(invoice, actor)
    _audit(invoice, actor, Action.PAYMENT_CREATE, invoice.number)
    return payment


@transaction.atomic
def payment_reverse(*, invoice: Invoice, payment_id, actor, note: str = "") -> Payment:
    """The reversal of a payment of the invoice: a negative payment of the same
    amount, today. A reversal, or a payment reversed already, is 409."""
    invoice = _locked(invoice)
    try:
        payment = Payment.objects.select_for_update().get(invoice=invoice, public_id=payment_id)
    except (Payment.DoesNotExist, ValueError, TypeError):
        raise NotFound("Diese Zahlung gibt es zu dieser Rechnung nicht.") from None
    refuse_status(invoice, REVERSIBLE, "eine Zahlung zu stornieren")
    if payment.reverses_id is not None:
        raise InvalidStatus("Das ist selbst eine Stornobuchung; sie wird nicht storniert.")
    if Payment.objects.filter(reverses=payment).exists():
        raise InvalidStatus("Diese Zahlung ist schon storniert.")
    reversal = Payment.objects.create(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        amount=-payment.amount,
        date=invoice.organisation.today(),
        method=payment.method,
        note=note,
        reverses=payment,
        created_by_label=actor_label(actor),
    )
    _settle(invoice, actor)
    _audit(invoice, actor, Action.PAYMENT_REVERSE, invoice.number)
    return reversal


@transaction.atomic
def invoice_pay(*, invoice: Invoice, actor) -> Invoice:
    """ "Bezahlt": a transfer of the whole open amount, today; with nothing open (a
    draft, a paid, cancelled or written-off invoice) 409 `invalid_status`."""
    invoice = _locked(invoice)
    open_ = open_amount(invoice)
    if invoice.status not in PAYABLE or open_ <= ZERO:
        raise InvalidStatus(
            f"Die Rechnung ist {_STATE[invoice.status]}; es ist nichts offen, das bezahlt "
            "werden könnte."
        )
    payment_record(invoice=invoice, actor=actor, amount=open_, method=PaymentMethod.TRANSFER)
    invoice.refresh_from_db()
    return invoice


@transaction.atomic
def invoice_write_off(*, invoice: Invoice, actor, reason: str) -> Invoice:
    """Forderungsausfall: the open amount is booked as a loss with a reason; the
    invoice stays as it was issued, its status becomes written_off and its open
    amount 0. Only issued and partly paid invoices (409 otherwise)."""
    invoice = _locked(invoice)
    refuse_status(invoice, PAYABLE, "eine Abschreibung")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Bitte einen Grund für die Abschreibung angeben.",
            errors={"reason": ["Bitte einen Grund angeben, z. B. „Patient verstorben“."]},
        )
    invoice.status = InvoiceStatus.WRITTEN_OFF
    invoice.written_off_at = timezone.now()
    invoice.write_off_reason = reason[:500]
    invoice._history_user = actor
    invoice.save(update_fields=["status", "written_off_at", "write_off_reason", "updated_at"])
    _audit(invoice, actor, Action.INVOICE_WRITE_OFF, invoice.number)
    return invoice
