from rest_framework import serializers

from lemniscus.api import LocalDateTimeField, StringIdField
from lemniscus.fields import CleanCharField, CleanEmailField, PhoneField
from patients import platforms
from patients.models import Patient, Salutation


class RecipientInput(serializers.Serializer):
    """Who pays, when not the patient (a parent, a carer): RECIPIENT_FIELDS. The last
    name is needed; what else an invoice needs is checked when it is issued."""

    salutation = serializers.ChoiceField(
        choices=Salutation.choices, required=False, allow_blank=True, default=""
    )
    title = CleanCharField(max_length=50, required=False, default="")
    first_name = CleanCharField(max_length=100, required=False, default="")
    last_name = CleanCharField(max_length=100, allow_blank=False, allow_null=False)
    street = CleanCharField(max_length=200, required=False, default="")
    postal_code = CleanCharField(max_length=10, required=False, default="")
    city = CleanCharField(max_length=100, required=False, default="")
    email = CleanEmailField(max_length=254, required=False, default="")

    def validate_last_name(self, value):
        if not value:
            raise serializers.ValidationError("Der Nachname darf nicht leer sein.")
        return value


class RecipientOutput(serializers.Serializer):
    salutation = serializers.CharField()
    title = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    street = serializers.CharField()
    postal_code = serializers.CharField()
    city = serializers.CharField()
    email = serializers.CharField()


class PatientInput(serializers.Serializer):
    salutation = serializers.ChoiceField(
        choices=Salutation.choices, required=False, allow_blank=True
    )
    title = CleanCharField(max_length=50, required=False)
    first_name = CleanCharField(max_length=100, required=False)
    last_name = CleanCharField(max_length=100, required=True, allow_blank=False, allow_null=False)
    birth_date = serializers.DateField(required=False, allow_null=True)
    email = CleanEmailField(max_length=254, required=False)
    mobile_phone = PhoneField(required=False)
    landline_phone = PhoneField(required=False)
    street = CleanCharField(max_length=200, required=False)
    postal_code = CleanCharField(max_length=10, required=False)
    city = CleanCharField(max_length=100, required=False)
    notes = CleanCharField(max_length=20000, required=False)
    sync_to_doctolib = serializers.BooleanField(required=False)
    reminder_consent = serializers.BooleanField(required=False)
    invoice_recipient = RecipientInput(required=False, allow_null=True)
    # POST only: create the record although it looks like an existing one.
    confirm_duplicate = serializers.BooleanField(required=False, write_only=True)

    def validate_salutation(self, value):
        return value or ""

    def validate_last_name(self, value):
        if not value:
            raise serializers.ValidationError("Der Nachname darf nicht leer sein.")
        return value


class PatientOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    doctolib_led_fields = serializers.SerializerMethodField()
    email = serializers.CharField(help_text='An e-mail address, or "" for none.')
    invoice_recipient = RecipientOutput(allow_null=True)
    archived_at = LocalDateTimeField(allow_null=True)
    created_at = LocalDateTimeField()
    updated_at = LocalDateTimeField()

    class Meta:
        model = Patient
        fields = [
            "id",
            "salutation",
            "title",
            "first_name",
            "last_name",
            "birth_date",
            "email",
            "mobile_phone",
            "landline_phone",
            "street",
            "postal_code",
            "city",
            "notes",
            "invoice_recipient",
            "reminder_consent",
            "sync_to_doctolib",
            "doctolib_patient_id",
            "doctolib_led_fields",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_doctolib_led_fields(self, patient) -> list[str]:
        return platforms.led_fields(patient, platform="doctolib")


class PatientChangeOutput(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    old = serializers.JSONField()
    new = serializers.JSONField()


class PatientHistoryOutput(serializers.Serializer):
    time = LocalDateTimeField()
    type = serializers.ChoiceField(choices=["created", "changed", "deleted"])
    actor = serializers.CharField()
    changes = PatientChangeOutput(many=True)
