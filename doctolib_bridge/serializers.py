from rest_framework import serializers

from doctolib_bridge.models import SyncLogEntry
from lemniscus.api import LocalDateTimeField, StringIdField


class SyncLogEntryOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    time = LocalDateTimeField(source="created_at")

    class Meta:
        model = SyncLogEntry
        fields = [
            "id",
            "time",
            "method",
            "endpoint",
            "doctolib_patient_id",
            "doctolib_appointment_id",
            "status",
            "outcome",
            "code",
            "detail",
        ]
        read_only_fields = fields
