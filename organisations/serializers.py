from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from localflavor.generic.validators import BICValidator, IBANValidator
from rest_framework import serializers

from lemniscus.fields import CleanCharField, CleanEmailField, PhoneField
from organisations.models import Organisation
from organisations.services import MAX_PAYMENT_TERM_DAYS, MAX_REMINDER_HOURS


class _BankField(CleanCharField):
    """Bank identifiers, upper case without spaces, checked by django-localflavor."""

    validator = None

    def to_internal_value(self, data):
        value = "".join(super().to_internal_value(data).split()).upper()
        if value:
            try:
                self.validator()(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value


class IbanField(_BankField):
    validator = IBANValidator


class BicField(_BankField):
    validator = BICValidator


class PracticeInput(serializers.Serializer):
    """PATCH /api/v1/practice/: any of the fields. Tax number and VAT id are checked
    (and normalised) by organisations.services, like every other writer's."""

    name = CleanCharField(max_length=200, allow_blank=False, allow_null=False, required=False)
    owner = CleanCharField(source="owner_name", max_length=200, required=False)
    street = CleanCharField(max_length=200, required=False)
    postal_code = CleanCharField(max_length=10, required=False)
    city = CleanCharField(max_length=100, required=False)
    phone = PhoneField(required=False)
    email = CleanEmailField(max_length=254, required=False)
    tax_number = CleanCharField(max_length=32, required=False)
    vat_id = CleanCharField(max_length=20, required=False)
    iban = IbanField(max_length=42, required=False)
    bic = BicField(max_length=11, required=False)
    account_holder = CleanCharField(source="bank_account_holder", max_length=200, required=False)
    small_business = serializers.BooleanField(required=False)
    payment_term_days = serializers.IntegerField(
        min_value=0, max_value=MAX_PAYMENT_TERM_DAYS, required=False
    )
    no_show_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), allow_null=True, required=False
    )
    no_show_fee_name = CleanCharField(
        max_length=100, allow_blank=False, allow_null=False, required=False
    )
    reminder_hours_before = serializers.IntegerField(
        min_value=0, max_value=MAX_REMINDER_HOURS, required=False
    )
    reminder_consent_default = serializers.BooleanField(required=False)
    opening_hours = serializers.JSONField(
        required=False,
        help_text='Per weekday the opening intervals: {"mon": [["08:00", "18:00"]], …, '
        '"sun": []}. Checked by organisations.opening_hours.',
    )
    closed_dates = serializers.ListField(
        child=serializers.DateField(),
        required=False,
        max_length=400,
        help_text="Single closed days (holidays): series appointments skip them.",
    )

    dunning_levels = serializers.JSONField(
        required=False,
        help_text='[{"level": 1, "name": "Zahlungserinnerung", "days_after_due": 7, '
        '"fee": "0.00"}, …]; checked by organisations.money_settings.',
    )
    email_signature = CleanCharField(max_length=2000, required=False)
    datev = serializers.JSONField(
        required=False,
        help_text='{"advisor_number", "client_number", "fiscal_year_start" ("MM-DD"), '
        '"account_length", "accounts": {…}} with SKR03 defaults.',
    )

    def validate_closed_dates(self, value):
        return [day.isoformat() for day in value]


class PracticeOutput(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner_name")
    email = serializers.CharField(help_text='An e-mail address, or "" for none.')
    account_holder = serializers.CharField(source="bank_account_holder")

    class Meta:
        model = Organisation
        fields = [
            "name",
            "owner",
            "street",
            "postal_code",
            "city",
            "phone",
            "email",
            "tax_number",
            "vat_id",
            "iban",
            "bic",
            "account_holder",
            "small_business",
            "payment_term_days",
            "no_show_fee",
            "no_show_fee_name",
            "reminder_hours_before",
            "reminder_consent_default",
            "opening_hours",
            "closed_dates",
            "dunning_levels",
            "email_signature",
            "datev",
        ]
        read_only_fields = fields
