"""Zipper API bodies, exactly as zipper-api.md names them: the input serializers
validate what the plugin sends, the output serializers render every answer (and are
what the OpenAPI schema documents). Field order is the contract's order."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from appointments.external import PushOutcome
from appointments.models import ServiceChainMatch
from doctolib_bridge.feed import change_field_names
from lemniscus import page_urls
from lemniscus.api import LocalDateTimeField
from lemniscus.fields import CleanCharField, CleanEmailField, PhoneField
from lemniscus.text import clean

API_VERSION = "1"

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


# -- answers ---------------------------------------------------------------------
# Ids are strings, opaque to the plugin (CharField renders a UUID as its string).


@extend_schema_field(OpenApiTypes.URI)
class PageUrlField(serializers.Field):
    """The absolute URL of a staff page for the object (lemniscus.page_urls); with
    `with_organisation`, the builder also gets the organisation of the context."""

    def __init__(self, build, *, with_organisation=False, **kwargs):
        kwargs.setdefault("source", "*")
        super().__init__(read_only=True, **kwargs)
        self.build = build
        self.with_organisation = with_organisation

    def to_representation(self, value):
        if self.with_organisation:
            return self.build(value, self.context["organisation"])
        return self.build(value)


class NullIfBlankCharField(serializers.CharField):
    """A text the plugin reads as null when it is empty ("none")."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_representation(self, value):
        return super().to_representation(value) or None


class ZipperConnectionOutput(serializers.Serializer):
    orga_id = serializers.CharField()
    organisation = serializers.CharField(source="name")
    plan = serializers.CharField()
    api_version = serializers.SerializerMethodField()

    def get_api_version(self, organisation) -> str:
        return API_VERSION


class ZipperSuggestionOutput(serializers.Serializer):
    patient_id = serializers.CharField(source="public_id")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField(allow_null=True)
    city = serializers.CharField()
    doctolib_patient_id = serializers.CharField(allow_null=True)
    url = PageUrlField(page_urls.patient_url)


class ZipperSuggestionsOutput(serializers.Serializer):
    """At most 10, best first."""

    results = ZipperSuggestionOutput(many=True)


class ZipperPatientFieldsOutput(serializers.Serializer):
    """Every patient field as lemniscus holds it; none is null."""

    salutation = NullIfBlankCharField(help_text='"male", "female" or null')
    first_name = NullIfBlankCharField()
    last_name = NullIfBlankCharField()
    birth_date = serializers.DateField(allow_null=True)
    mobile_phone = NullIfBlankCharField()
    landline_phone = NullIfBlankCharField()
    email = NullIfBlankCharField()
    street = NullIfBlankCharField()
    postal_code = NullIfBlankCharField()
    city = NullIfBlankCharField()


class ZipperChangeFieldsOutput(ZipperPatientFieldsOutput):
    """`patient.create`: every patient field. `patient.update`: the lemniscus-led
    fields only (the Doctolib-led `mobile_phone`, `landline_phone` and `email` are
    then absent)."""

    mobile_phone = NullIfBlankCharField(required=False)
    landline_phone = NullIfBlankCharField(required=False)
    email = NullIfBlankCharField(required=False)

    def to_representation(self, change):
        names = change_field_names(change)
        fields = super().to_representation(change.patient)
        return {name: value for name, value in fields.items() if name in names}


class ZipperPatientOutput(serializers.Serializer):
    """ "Patienty-Akte in lemniscus öffnen": the plugin opens `url`."""

    patient_id = serializers.CharField(source="public_id")
    doctolib_patient_id = serializers.CharField()
    url = PageUrlField(page_urls.patient_url)
    fields = ZipperPatientFieldsOutput(source="*")


class PatientSyncOutput(serializers.Serializer):
    """`applied`: fields changed in lemniscus; `to_doctolib`: fields queued for
    Doctolib; both in the contract's field order."""

    patient_id = serializers.CharField(source="patient.public_id")
    doctolib_patient_id = serializers.CharField(source="patient.doctolib_patient_id")
    outcome = serializers.ChoiceField(["created", "merged", "unchanged"])
    url = PageUrlField(page_urls.patient_url, source="patient")
    applied = serializers.ListField(child=serializers.CharField())
    to_doctolib = serializers.ListField(child=serializers.CharField())


class ZipperPatientPushOutput(serializers.Serializer):
    patient_id = serializers.CharField(source="patient.public_id")
    applied = serializers.ListField(child=serializers.CharField())
    to_doctolib = serializers.ListField(child=serializers.CharField())


class ZipperLinkOutput(serializers.Serializer):
    patient_id = serializers.CharField(source="public_id")
    doctolib_patient_id = serializers.CharField()


class ZipperChangeOutput(serializers.Serializer):
    cursor = serializers.CharField()
    kind = serializers.ChoiceField(["patient.create", "patient.update"])
    patient_id = serializers.CharField(source="patient.public_id")
    doctolib_patient_id = serializers.CharField(
        source="patient.doctolib_patient_id", allow_null=True
    )
    fields = ZipperChangeFieldsOutput(source="*")


class ZipperChangesOutput(serializers.Serializer):
    changes = ZipperChangeOutput(many=True)
    next_cursor = serializers.CharField()


class _ColumnRef(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()


class _ChainRef(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    description = serializers.CharField()


class ZipperWarningOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    appointment_id = serializers.CharField()


MATCH_CHOICES = ServiceChainMatch.choices


class ZipperPushOutput(serializers.Serializer):
    """A saved push (or commit): the appointment as it is now stored."""

    appointment_id = serializers.CharField(source="existing.public_id")
    doctolib_appointment_id = serializers.CharField(source="existing.doctolib_appointment_id")
    outcome = serializers.ChoiceField(["created", "updated", "unchanged"])
    url = PageUrlField(page_urls.appointment_url, source="existing")
    calendar_url = PageUrlField(page_urls.calendar_url, source="existing", with_organisation=True)
    calendar_column = _ColumnRef(source="existing.calendar_column")
    service_chain = _ChainRef(source="chain", allow_null=True)
    service_chain_match = serializers.ChoiceField(MATCH_CHOICES, source="chain_match")
    warnings = ZipperWarningOutput(many=True)


class ZipperAppointmentOutput(serializers.Serializer):
    appointment_id = serializers.CharField(source="public_id")
    doctolib_appointment_id = serializers.CharField()
    url = PageUrlField(page_urls.appointment_url)
    calendar_url = PageUrlField(page_urls.calendar_url, with_organisation=True)
    start = LocalDateTimeField()
    duration_minutes = serializers.IntegerField()
    status = serializers.CharField()
    invoiced = serializers.SerializerMethodField(
        help_text="On a non-cancelled invoice, draft included."
    )

    def get_invoiced(self, appointment) -> bool:
        return appointment.invoice_id is not None


class _PreviewPatient(serializers.Serializer):
    patient_id = serializers.CharField(source="patient.public_id", allow_null=True)
    display_name = serializers.SerializerMethodField()
    linked = serializers.SerializerMethodField()

    def get_display_name(self, plan) -> str:
        if plan.patient is not None:
            return plan.patient.display_name
        return f"Doctolib-Patient {plan.request.patient_external_id} (nicht verknüpft)"

    def get_linked(self, plan) -> bool:
        return plan.patient is not None


class _PreviewColumn(serializers.Serializer):
    id = serializers.CharField(source="column.public_id", allow_null=True)
    name = serializers.SerializerMethodField()
    created = serializers.BooleanField(source="column_created")

    def get_name(self, plan) -> str:
        return plan.column.name if plan.column is not None else plan.column_name


class ZipperPreviewOutput(serializers.Serializer):
    """What a PUT now would do; `outcome` `refused` carries the error's `code` and
    `detail` (absent otherwise)."""

    patient = _PreviewPatient(source="*")
    calendar_column = _PreviewColumn(source="*")
    service_chain = _ChainRef(source="chain", allow_null=True)
    service_chain_match = serializers.ChoiceField(MATCH_CHOICES, source="chain_match")
    warnings = ZipperWarningOutput(many=True)
    invoiced = serializers.BooleanField()
    outcome = serializers.SerializerMethodField()
    code = serializers.CharField(source="refusal.code", required=False)
    detail = serializers.CharField(source="refusal.detail", required=False)

    @extend_schema_field(serializers.ChoiceField(["created", "updated", "unchanged", "refused"]))
    def get_outcome(self, plan) -> str:
        return PushOutcome.REFUSED if plan.refusal is not None else plan.outcome


class ZipperTransferOutput(serializers.Serializer):
    transfer_id = serializers.CharField(source="transfer.public_id")
    dialog_url = PageUrlField(page_urls.transfer_dialog_url, source="transfer")
    preview = ZipperPreviewOutput(source="plan")
