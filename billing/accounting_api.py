"""Staff API of the accountant's export: `GET /api/v1/accounting-export?month=YYYY-MM
&format=datev|csv` (billing right). The file itself, as a download; a malformed or
missing month and an unknown format are 422 (billing.accounting has the content)."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from billing.accounting import FORMATS, accounting_export, month_bounds
from lemniscus.api import IsOrganisationMember
from organisations.models import Right

CONTENT_TYPES = {"datev": "text/csv; charset=windows-1252", "csv": "text/csv; charset=utf-8"}


class AccountingExportQuery(serializers.Serializer):
    month = serializers.CharField(
        help_text="The month, YYYY-MM, in the organisation's time zone.",
        error_messages={"required": "Bitte einen Monat angeben (JJJJ-MM)."},
    )
    format = serializers.ChoiceField(
        choices=FORMATS,
        help_text="`datev`: DATEV EXTF Buchungsstapel (Windows-1252, CRLF); `csv`: "
        "Rechnungsausgangsbuch (UTF-8 with BOM).",
        error_messages={"invalid_choice": "Bitte „datev“ oder „csv“."},
    )

    def validate_month(self, value: str) -> str:
        try:
            month_bounds(value)
        except ValueError:
            raise serializers.ValidationError(
                "Bitte einen Monat im Format JJJJ-MM angeben, z. B. 2026-11."
            ) from None
        return value


class AccountingExportView(APIView):
    """A month's issued invoices, Stornos, payments and write-offs for the tax advisor:
    a DATEV EXTF Buchungsstapel or a Rechnungsausgangsbuch. The download is logged."""

    permission_classes = [IsOrganisationMember]
    read_right = Right.BILLING

    @extend_schema(
        parameters=[AccountingExportQuery],
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        query = AccountingExportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        month, file_format = query.validated_data["month"], query.validated_data["format"]
        content, filename = accounting_export(
            organisation=request.user.organisation,
            actor=request.user,
            month=month,
            file_format=file_format,
        )
        return HttpResponse(
            content,
            content_type=CONTENT_TYPES[file_format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
