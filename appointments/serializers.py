from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from appointments.models import (
    COLOUR_PATTERN,
    Appointment,
    AppointmentStatus,
    CalendarColumn,
    ColumnKind,
    ServiceChainMatch,
)
from lemniscus.api import LocalDateTimeField, StringIdField
from lemniscus.fields import CleanCharField

# A Doctolib id: 1 to 64 characters of [A-Za-z0-9_.:-] (zipper-api.md, "Ids").
DOCTOLIB_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: strings, booleans and fractions are refused."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class PublicIdInput(serializers.UUIDField):
    """A public id in a body: a UUID string; numbers and other types are refused."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class CalendarColumnInput(serializers.Serializer):
    name = CleanCharField(max_length=100, allow_blank=False, allow_null=False)
    kind = serializers.ChoiceField(choices=ColumnKind.choices, required=False)
    doctolib_agenda_id = serializers.RegexField(
        DOCTOLIB_ID_PATTERN,
        max_length=64,
        required=False,
        allow_null=True,
        allow_blank=True,
        error_messages={"invalid": "1 bis 64 Zeichen aus Buchstaben, Ziffern und _ . : -"},
    )
    position = StrictIntegerField(min_value=0, max_value=10_000, required=False)
    colour = serializers.RegexField(
        COLOUR_PATTERN,
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Eine Farbe wie #1f6f8b."},
    )

    def validate_name(self, value):
        if not value:
            raise serializers.ValidationError("Der Name darf nicht leer sein.")
        return value

    def validate_doctolib_agenda_id(self, value):
        return value or None


class CalendarColumnOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    created_at = LocalDateTimeField()
    updated_at = LocalDateTimeField()

    class Meta:
        model = CalendarColumn
        fields = [
            "id",
            "name",
            "kind",
            "doctolib_agenda_id",
            "position",
            "colour",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AppointmentInput(serializers.Serializer):
    patient_id = PublicIdInput()
    calendar_column_id = PublicIdInput()
    service_chain_id = PublicIdInput(required=False, allow_null=True)
    room_id = PublicIdInput(
        required=False,
        allow_null=True,
        help_text="A room column booked together with the therapist's column.",
    )
    start = LocalDateTimeField()
    duration_minutes = StrictIntegerField(
        min_value=1,
        max_value=1440,
        required=False,
        help_text="Left out on creation: the minutes of the service chain's services.",
    )
    note = CleanCharField(max_length=5000, required=False)
    status = serializers.ChoiceField(choices=AppointmentStatus.choices, required=False)
    cancellation_reason = CleanCharField(max_length=500, required=False)


class SeriesInput(serializers.Serializer):
    patient_id = PublicIdInput()
    calendar_column_id = PublicIdInput()
    service_chain_id = PublicIdInput(required=False, allow_null=True)
    room_id = PublicIdInput(required=False, allow_null=True)
    start = LocalDateTimeField(help_text="The first appointment.")
    duration_minutes = StrictIntegerField(min_value=1, max_value=1440, required=False)
    note = CleanCharField(max_length=5000, required=False)
    interval_days = StrictIntegerField(
        min_value=1, max_value=365, required=False, help_text="7: weekly (the default)."
    )
    count = StrictIntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    until = serializers.DateField(required=False, allow_null=True)
    on_conflict = serializers.ChoiceField(
        choices=["ask", "skip", "book"],
        required=False,
        help_text="ask (default): 409 series_conflicts listing them; skip: leave those "
        "dates out; book: book therapist overlaps anyway (a room is never booked twice).",
    )


class SeriesConflictOutput(serializers.Serializer):
    appointment_id = serializers.CharField()
    kind = serializers.ChoiceField(["column", "room"])
    detail = serializers.CharField()


class SeriesDateOutput(serializers.Serializer):
    """A date of a series (PlannedDate.as_problem: also the members of the 409
    `series_conflicts` problem) and what it collides with."""

    start = serializers.DateTimeField(help_text="In the organisation's zone.")
    conflicts = SeriesConflictOutput(many=True)


class SeriesPreviewOutput(serializers.Serializer):
    dates = SeriesDateOutput(many=True)
    skipped_closed = serializers.ListField(child=serializers.DateField())


class SeriesOutput(serializers.Serializer):
    id = StringIdField(source="public_id")
    patient_id = StringIdField(source="patient.public_id")
    calendar_column_id = StringIdField(source="calendar_column.public_id")
    room_id = StringIdField(source="room.public_id", allow_null=True)
    service_chain_id = StringIdField(source="service_chain.public_id", allow_null=True)
    start = LocalDateTimeField(source="first_start")
    duration_minutes = serializers.IntegerField()
    interval_days = serializers.IntegerField()
    count = serializers.IntegerField(allow_null=True)
    until = serializers.DateField(allow_null=True)
    note = serializers.CharField()
    appointment_ids = serializers.SerializerMethodField()
    left_out = serializers.SerializerMethodField(
        help_text="Dates left out for conflicts (on_conflict skip)."
    )
    created_at = LocalDateTimeField()

    def get_appointment_ids(self, series) -> list[str]:
        return [str(row.public_id) for row in self.context.get("appointments", [])]

    @extend_schema_field(SeriesDateOutput(many=True))
    def get_left_out(self, series) -> list[dict]:
        zone = series.organisation.zone
        dates = [d.as_problem(zone) for d in self.context.get("left_out", [])]
        return SeriesDateOutput(dates, many=True).data


class AppointmentOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    patient_id = StringIdField(source="patient.public_id")
    calendar_column_id = StringIdField(source="calendar_column.public_id")
    service_chain_id = StringIdField(source="service_chain.public_id", allow_null=True)
    room_id = StringIdField(source="room.public_id", allow_null=True)
    series_id = StringIdField(source="series.public_id", allow_null=True)
    invoice_id = StringIdField(
        source="invoice.public_id",
        allow_null=True,
        help_text="The non-cancelled invoice the appointment is on; it locks the appointment.",
    )
    service_chain_match = serializers.ChoiceField(
        ServiceChainMatch.choices,
        allow_blank=True,
        help_text='How a Doctolib appointment\'s chain was found; "" for lemniscus ones.',
    )
    start = LocalDateTimeField()
    created_at = LocalDateTimeField()
    updated_at = LocalDateTimeField()

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient_id",
            "calendar_column_id",
            "service_chain_id",
            "service_chain_match",
            "room_id",
            "series_id",
            "start",
            "duration_minutes",
            "note",
            "status",
            "cancellation_reason",
            "source",
            "doctolib_appointment_id",
            "invoice_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
