"""Money on the invoice pages: `{{ invoice|paid_amount }}`, `{{ invoice|open_amount }}`
and `{% payment_form invoice as form %}` (billing.payments computes)."""

from django import template

from billing import payments
from web import forms_zahlungen

register = template.Library()


@register.filter
def paid_amount(invoice):
    return payments.paid_amount(invoice)


@register.filter
def open_amount(invoice):
    return payments.open_amount(invoice)


@register.filter
def dunning_fees(invoice):
    return payments.dunning_fees(invoice)


@register.filter
def reversed_payment_ids(invoice) -> set:
    """The keys of the invoice's payments that have been reversed."""
    return {p.reverses_id for p in invoice.payments.all() if p.reverses_id}


@register.filter
def can_record_payment(invoice) -> bool:
    return invoice.status in payments.PAYABLE


@register.filter
def can_write_off(invoice) -> bool:
    return invoice.status in payments.PAYABLE


@register.simple_tag
def payment_form(invoice):
    return forms_zahlungen.payment_form(invoice)
