from rest_framework import serializers

from lemniscus.api import LocalDateTimeField, StringIdField
from lemniscus.fields import CleanCharField


class TextInput(serializers.Serializer):
    text = CleanCharField(allow_blank=False, allow_null=False, max_length=20000)


class EntryInput(TextInput):
    appointment_id = StringIdField(required=False, allow_null=True)


class CorrectionOutput(serializers.Serializer):
    text = serializers.CharField()
    author = serializers.CharField(source="author_label")
    created_at = LocalDateTimeField()


class EntryOutput(serializers.Serializer):
    id = StringIdField(source="public_id")
    appointment_id = StringIdField(source="appointment.public_id", allow_null=True)
    text = serializers.CharField()
    author = serializers.CharField(source="author_label")
    created_at = LocalDateTimeField()
    # finalised by hand, or by itself at the end of the day after creation
    finalised_at = LocalDateTimeField(source="finalised_when", allow_null=True)
    corrections = CorrectionOutput(many=True)


class AttachmentInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    description = CleanCharField(required=False, max_length=500)


class AttachmentOutput(serializers.Serializer):
    id = StringIdField(source="public_id")
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    description = serializers.CharField()
    uploaded_by = serializers.CharField(source="uploaded_by_label")
    created_at = LocalDateTimeField()
