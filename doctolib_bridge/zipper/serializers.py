"""Zipper API bodies, exactly as zipper-api.md names them."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from appointments.models import ServiceChainMatch
from lemniscus.api import LocalDateTimeField, StringIdField
from lemniscus.fields import CleanCharField, CleanEmailField, PhoneField
from lemniscus.text import clean

DOCTOLIB_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def is_doctolib_id(value: str) -> bool:
    return bool(DOCTOLIB_ID_RE.fullmatch(value))


@extend_schema_field({"type": "string", "pattern": DOCTOLIB_ID_RE.pattern, "maxLength": 64})
class DoctolibIdField(serializers.Field):
    """1–64 characters of `[A-Za-z0-9_.:-]`; a JSON number is taken as its decimal string."""

    default_error_messages = {
        "invalid": "Eine Doctolib-Id besteht aus 1–64 Zeichen aus A–Z, a–z, 0–9, _ . : -.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        text = str(data)
        if not is_doctolib_id(text):
            self.fail("invalid")
        return text

    def to_representation(self, value):
        return value


@extend_schema_field(
    {"type": "string", "nullable": True, "description": '"male", "female" or null'}
)
class SalutationField(serializers.Field):
    """ "male" or "female"; anything else Doctolib sends means none."""

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        return data if data in ("male", "female") else ""

    def to_representation(self, value):
        return value or None


class DateOrNoneField(serializers.DateField):
    def __init__(self, **kwargs):
        super().__init__(format="iso-8601", input_formats=["iso-8601"], **kwargs)

    def validate_empty_values(self, data):
        if data is None or data == "":
            return True, ""
        return super().validate_empty_values(data)

    def to_internal_value(self, value):
        return super().to_internal_value(value).isoformat()


class ZipperPatientFields(serializers.Serializer):
    """The patient fields, canonical: "" for none, phones E.164, date `YYYY-MM-DD`.
    A field left out is left out of `validated_data` (it changes nothing)."""

    salutation = SalutationField(required=False, allow_null=True)
    first_name = CleanCharField(max_length=100, required=False)
    last_name = CleanCharField(max_length=100, required=False)
    birth_date = DateOrNoneField(required=False, allow_null=True)
    mobile_phone = PhoneField(required=False)
    landline_phone = PhoneField(required=False)
    email = CleanEmailField(max_length=254, required=False)
    street = CleanCharField(max_length=200, required=False)
    postal_code = CleanCharField(max_length=10, required=False)
    city = CleanCharField(max_length=100, required=False)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        if "salutation" in data and "salutation" not in values:
            values["salutation"] = ""  # null
        return values


class PatientTakeInInput(ZipperPatientFields):
    doctolib_patient_id = DoctolibIdField()
    merge_into = serializers.CharField(required=False, allow_null=True, allow_blank=True)

    def validate_merge_into(self, value):
        return clean(value) or None


class LinkInput(serializers.Serializer):
    patient_id = serializers.CharField()
    doctolib_patient_id = DoctolibIdField()


class PatientSyncOutput(serializers.Serializer):
    patient_id = StringIdField(source="patient.public_id")
    doctolib_patient_id = serializers.CharField(source="patient.doctolib_patient_id")
    outcome = serializers.CharField()
    url = serializers.URLField()
    applied = serializers.ListField(child=serializers.CharField())
    to_doctolib = serializers.ListField(child=serializers.CharField())


class ZipperPatientOutput(serializers.Serializer):
    salutation = serializers.CharField(allow_null=True)
    first_name = serializers.CharField(allow_null=True)
    last_name = serializers.CharField(allow_null=True)
    birth_date = serializers.DateField(allow_null=True)
    mobile_phone = serializers.CharField(allow_null=True)
    landline_phone = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    street = serializers.CharField(allow_null=True)
    postal_code = serializers.CharField(allow_null=True)
    city = serializers.CharField(allow_null=True)


class AgendaInput(serializers.Serializer):
    id = DoctolibIdField()
    name = CleanCharField(max_length=100, allow_blank=False, allow_null=False)


class VisitMotiveInput(serializers.Serializer):
    name = CleanCharField(max_length=200, required=False)
    sync_id = CleanCharField(max_length=100, required=False)


class AppointmentPayloadInput(serializers.Serializer):
    doctolib_patient_id = DoctolibIdField()
    agenda = AgendaInput()
    visit_motive = VisitMotiveInput()
    start = LocalDateTimeField()
    duration_minutes = serializers.IntegerField(min_value=1, max_value=1440)
    note = CleanCharField(max_length=5000, required=False)

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        values.setdefault("note", "")
        return values


class TransferInput(AppointmentPayloadInput):
    doctolib_appointment_id = DoctolibIdField()


class SuggestionQuery(serializers.Serializer):
    last_name = CleanCharField(max_length=100, allow_blank=False, allow_null=False)
    first_name = CleanCharField(max_length=100, required=False)
    birth_date = serializers.DateField(required=False, allow_null=True, input_formats=["iso-8601"])

    def validate_last_name(self, value):
        if not value:
            raise serializers.ValidationError("Der Nachname fehlt.")
        return value


class _Ref(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class _ChainRef(serializers.Serializer):
    id = serializers.CharField()
    description = serializers.CharField()


class ZipperWarningOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    appointment_id = serializers.CharField()


MATCH_CHOICES = ServiceChainMatch.choices


class ZipperPushOutput(serializers.Serializer):
    appointment_id = serializers.CharField()
    doctolib_appointment_id = serializers.CharField()
    outcome = serializers.ChoiceField(["created", "updated", "unchanged"])
    url = serializers.URLField()
    calendar_url = serializers.URLField()
    calendar_column = _Ref()
    service_chain = _ChainRef(allow_null=True)
    service_chain_match = serializers.ChoiceField(MATCH_CHOICES)
    warnings = ZipperWarningOutput(many=True)


class ZipperAppointmentOutput(serializers.Serializer):
    appointment_id = serializers.CharField()
    doctolib_appointment_id = serializers.CharField()
    url = serializers.URLField()
    calendar_url = serializers.URLField()
    start = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField()
    status = serializers.CharField()
    invoiced = serializers.BooleanField()


class _PreviewPatient(serializers.Serializer):
    patient_id = serializers.CharField(allow_null=True)
    display_name = serializers.CharField()
    linked = serializers.BooleanField()


class _PreviewColumn(serializers.Serializer):
    id = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    created = serializers.BooleanField()


class ZipperPreviewOutput(serializers.Serializer):
    patient = _PreviewPatient()
    calendar_column = _PreviewColumn()
    service_chain = _ChainRef(allow_null=True)
    service_chain_match = serializers.ChoiceField(MATCH_CHOICES)
    warnings = ZipperWarningOutput(many=True)
    invoiced = serializers.BooleanField()
    outcome = serializers.ChoiceField(["created", "updated", "unchanged", "refused"])
    code = serializers.CharField(required=False)


class ZipperTransferOutput(serializers.Serializer):
    transfer_id = serializers.CharField()
    dialog_url = serializers.URLField()
    preview = ZipperPreviewOutput()
