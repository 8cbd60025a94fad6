import re
from datetime import date, datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.actions import label
from audit.models import AuditEvent
from audit.selectors import period_end, period_start
from lemniscus.api import LocalDateTimeField, StringIdField
from lemniscus.times import EARLIEST_YEAR, LATEST_YEAR, TimeError, parse_aware

# "+01:00" that arrived as " 01:00" because the "+" was not URL-encoded.
_UNENCODED_OFFSET = re.compile(r"(T\S+) (\d{2}(?::?\d{2})?)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@extend_schema_field(OpenApiTypes.STR)
class DateOrTimeField(serializers.Field):
    """A date (`YYYY-MM-DD`, a whole day in the organisation's zone) or an ISO 8601
    time with offset; a time without offset is refused like everywhere else."""

    default_error_messages = {
        "invalid": "Ein Datum (JJJJ-MM-TT) oder eine Zeit nach ISO 8601 mit Offset, bitte.",
        "naive": "Die Zeit braucht eine Zeitzone (ISO 8601 mit Offset).",
        "range": "Die Zeit liegt außerhalb von 1900 bis 2200.",
    }

    def to_internal_value(self, value) -> date | datetime:
        text = str(value).strip()
        if _DATE.match(text):
            try:
                day = date.fromisoformat(text)
            except ValueError:
                self.fail("invalid")
            if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                self.fail("range")
            return day
        try:
            return parse_aware(_UNENCODED_OFFSET.sub(r"\1+\2", text))
        except TimeError as exc:
            self.fail(exc.code)

    def to_representation(self, value):
        return value.isoformat()


class AuditLogQuery(serializers.Serializer):
    """The filters of `GET /api/v1/audit-log/`."""

    patient = serializers.UUIDField(
        required=False, help_text="A record's id: only entries concerning that record."
    )
    actor = serializers.EmailField(
        required=False,
        help_text="A user's e-mail address (any case): only what that user did.",
    )
    since = DateOrTimeField(
        required=False,
        help_text="From this time (ISO 8601 with offset) or date (its start in the "
        "organisation's zone), inclusive.",
    )
    until = DateOrTimeField(
        required=False,
        help_text="Up to this time (ISO 8601 with offset) or date (its end in the "
        "organisation's zone), inclusive.",
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"],
        required=False,
        help_text="`csv`: every matching entry as one CSV file (UTF-8 with BOM, `;`), "
        "not paginated.",
    )

    def validate(self, data):
        """Adds the period's bounds in the organisation's zone: `start` (inclusive) and
        `before` (exclusive)."""
        zone = self.context["organisation"].zone
        since, until = data.get("since"), data.get("until")
        data["start"] = period_start(since, zone) if since is not None else None
        data["before"] = period_end(until, zone) if until is not None else None
        if data["start"] and data["before"] and data["before"] <= data["start"]:
            raise serializers.ValidationError({"until": ["Das Ende liegt vor dem Anfang."]})
        return data


class AuditEventOutput(serializers.ModelSerializer):
    time = LocalDateTimeField()
    actor = serializers.CharField(
        source="actor_label",
        help_text='Who acted, as shown then ("Name <e-mail>" or the e-mail), or "System".',
    )
    action_label = serializers.SerializerMethodField(help_text="The action in German.")
    patient_id = StringIdField(allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "time",
            "actor",
            "action",
            "object_type",
            "object_id",
            "patient_id",
            "detail",
            "action_label",
        ]
        read_only_fields = fields

    def get_action_label(self, event: AuditEvent) -> str:
        return label(event.action)
