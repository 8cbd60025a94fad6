"""Forms of the payment pages: a payment, a write-off (billing.payments decides)."""

from decimal import Decimal

from django import forms

from billing.models import PaymentMethod
from billing.payments import open_amount
from web.fields import CleanCharField


class PaymentForm(forms.Form):
    amount = forms.DecimalField(
        label="Betrag (€)",
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
        error_messages={"min_value": "Bitte einen Betrag größer als 0,00 € angeben."},
    )
    date = forms.DateField(
        label="Eingegangen am",
        input_formats=["%Y-%m-%d", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Bitte ein Datum angeben (TT.MM.JJJJ)."},
    )
    method = forms.ChoiceField(label="Zahlungsart", choices=PaymentMethod.choices)
    note = CleanCharField(label="Notiz (freiwillig)", max_length=500)


class WriteOffForm(forms.Form):
    reason = CleanCharField(
        label="Grund",
        max_length=500,
        required=True,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Z. B. „Patient verstorben“, „Insolvenz“, „Kleinbetrag nicht eintreibbar“.",
    )


def payment_form(invoice, data=None) -> PaymentForm:
    """The "Zahlung erfassen" form with the open amount and today filled in."""
    initial = {
        "amount": open_amount(invoice),
        "date": invoice.organisation.today(),
        "method": PaymentMethod.TRANSFER,
    }
    return PaymentForm(data, initial=initial)
