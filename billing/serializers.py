from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import (
    BillingRun,
    DocumentKind,
    DunningNotice,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    ServiceChain,
    TaxCategory,
)
from billing.parties import invoice_parties
from billing.payments import open_amount, paid_amount
from lemniscus.api import LocalDateTimeField, StringIdField
from lemniscus.fields import CleanCharField
from patients.serializers import RecipientInput, RecipientOutput


class PublicIdField(serializers.UUIDField):
    """A public id in a body: a UUID string, nothing else (no integers)."""

    default_error_messages = {"invalid": "Keine gültige ID."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=10, decimal_places=2, **kwargs)


class ServiceInput(serializers.Serializer):
    code = CleanCharField(max_length=32, default="")
    name = CleanCharField(max_length=200, allow_blank=False, allow_null=False)
    price = _money(min_value=Decimal("0"))
    vat_rate = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal("0"), max_value=Decimal("99.99")
    )
    tax_category = serializers.ChoiceField(choices=TaxCategory.choices, required=False)
    minutes = serializers.IntegerField(min_value=0, max_value=1440, required=False, default=0)

    def validate_name(self, value):
        if not value:
            raise serializers.ValidationError("Die Leistung braucht einen Namen.")
        return value


class ServiceChainInput(serializers.Serializer):
    description = CleanCharField(max_length=200, allow_blank=False, allow_null=False)
    notes = CleanCharField(max_length=20000, required=False)
    services = serializers.ListField(child=ServiceInput(), allow_empty=False, max_length=100)

    def validate_description(self, value):
        if not value:
            raise serializers.ValidationError("Die Beschreibung darf nicht leer sein.")
        return value


class ServiceChainPatchInput(ServiceChainInput):
    """Any of the fields; `services`, when given, is the whole new list (each service
    complete, as on create)."""

    description = CleanCharField(
        max_length=200, allow_blank=False, allow_null=False, required=False
    )
    services = serializers.ListField(
        child=ServiceInput(), allow_empty=False, max_length=100, required=False
    )


class ServiceOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price = _money()
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2)
    tax_category = serializers.ChoiceField(choices=TaxCategory.choices)
    minutes = serializers.IntegerField()


class ServiceChainOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    services = ServiceOutput(many=True)
    total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    created_at = LocalDateTimeField()
    updated_at = LocalDateTimeField()

    class Meta:
        model = ServiceChain
        fields = ["id", "description", "notes", "services", "total", "created_at", "updated_at"]
        read_only_fields = fields


class InvoiceInput(serializers.Serializer):
    patient_id = PublicIdField()
    appointment_ids = serializers.ListField(
        child=PublicIdField(), allow_empty=False, max_length=500
    )
    diagnosis = CleanCharField(max_length=2000, required=False)
    recipient = RecipientInput(required=False, allow_null=True)

    def validate_appointment_ids(self, value):
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Jeder Termin darf nur einmal vorkommen.")
        return value


def _quantity(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        error_messages={"min_value": "Die Menge muss größer als 0 sein."},
        **kwargs,
    )


class InvoiceLineInput(serializers.Serializer):
    """A free line of a draft (staff-api.md 1.1, "Lines"). `quantity` defaults to 1,
    `service_date` to today (organisation's zone); `tax_category` follows the rate
    when left out, and `vat_rate` left out is 0.00 (a taxable line needs one)."""

    code = CleanCharField(max_length=32, default="")
    name = CleanCharField(max_length=200, allow_blank=False, allow_null=False)
    quantity = _quantity(default=Decimal("1"))
    unit_price = _money(min_value=Decimal("0"))
    tax_category = serializers.ChoiceField(choices=TaxCategory.choices, required=False)
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("99.99"),
        required=False,
    )
    service_date = serializers.DateField(required=False, allow_null=True)

    def validate_name(self, value):
        if not value:
            raise serializers.ValidationError("Die Position braucht eine Bezeichnung.")
        return value

    def validate(self, data):
        if "vat_rate" not in data:
            if data.get("tax_category") == TaxCategory.TAXABLE:
                raise serializers.ValidationError(
                    {"vat_rate": "Steuerpflichtige Positionen brauchen den USt-Satz 7 oder 19."}
                )
            data["vat_rate"] = Decimal("0.00")
        return data


class InvoiceLinePatchInput(serializers.Serializer):
    """Any of the fields of a line; `service_date` only of a free line."""

    code = CleanCharField(max_length=32, required=False)
    name = CleanCharField(max_length=200, allow_blank=False, allow_null=False, required=False)
    quantity = _quantity(required=False)
    unit_price = _money(min_value=Decimal("0"), required=False)
    tax_category = serializers.ChoiceField(choices=TaxCategory.choices, required=False)
    vat_rate = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("99.99"),
        required=False,
    )
    service_date = serializers.DateField(required=False, allow_null=True)

    def validate_name(self, value):
        if not value:
            raise serializers.ValidationError("Die Position braucht eine Bezeichnung.")
        return value


class InvoiceLineOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    appointment_id = StringIdField(
        source="appointment.public_id",
        allow_null=True,
        help_text="The appointment the line bills; null for a free line.",
    )
    tax_category = serializers.ChoiceField(choices=TaxCategory.choices)

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "appointment_id",
            "service_date",
            "code",
            "name",
            "therapist",
            "quantity",
            "unit_price",
            "vat_rate",
            "tax_category",
            "amount",
        ]
        read_only_fields = fields


class PaymentInput(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="EUR, a decimal string, > 0."
    )
    date = serializers.DateField(help_text="When the money came in (today or earlier).")
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    note = CleanCharField(max_length=500, required=False)


class PaymentOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    reverses = StringIdField(
        source="reverses.public_id",
        allow_null=True,
        help_text="The payment this one reverses (a negative amount), or null.",
    )
    created_at = LocalDateTimeField()

    class Meta:
        model = Payment
        fields = ["id", "amount", "date", "method", "note", "reverses", "created_at"]
        read_only_fields = fields


class WriteOffInput(serializers.Serializer):
    reason = CleanCharField(max_length=500)


class DunningNoticeOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    fee = _money(help_text="The notice's fee (not taxable), added to what is open.")
    open_amount = _money(
        help_text="What was open at the notice's date, including this and earlier fees."
    )
    sent_at = LocalDateTimeField(
        help_text="When it was last e-mailed (set by the job); null until then."
    )

    class Meta:
        model = DunningNotice
        fields = ["id", "level", "name", "date", "fee", "due_date", "open_amount", "sent_at"]
        read_only_fields = fields


class DunningLevelOutput(serializers.Serializer):
    level = serializers.IntegerField()
    name = serializers.CharField()
    fee = _money()


class DunningProposalOutput(serializers.Serializer):
    """An overdue open invoice due for its next dunning level."""

    id = StringIdField(source="public_id", help_text="The invoice's id.")
    number = serializers.CharField()
    patient_id = StringIdField(source="patient.public_id")
    due_date = serializers.DateField()
    open_amount = _money(help_text="What is open now, fees of earlier notices included.")
    days_overdue = serializers.SerializerMethodField()
    next_level = serializers.SerializerMethodField()

    def get_days_overdue(self, invoice) -> int:
        return (self.context["today"] - invoice.due_date).days

    @extend_schema_field(DunningLevelOutput)
    def get_next_level(self, invoice) -> dict:
        level = next(lv for lv in self.context["levels"] if lv.level == invoice.notice_level + 1)
        return {"level": level.level, "name": level.name, "fee": f"{level.fee:.2f}"}


class InvoiceOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    status = serializers.ChoiceField(choices=InvoiceStatus.choices)
    patient_id = StringIdField(source="patient.public_id")
    lines = InvoiceLineOutput(many=True)
    recipient = serializers.SerializerMethodField()
    pdf_sha256 = serializers.SerializerMethodField()
    cancellation_pdf_sha256 = serializers.SerializerMethodField()
    created_at = LocalDateTimeField()
    issued_at = LocalDateTimeField()
    paid_at = LocalDateTimeField()
    cancelled_at = LocalDateTimeField()
    sent_at = LocalDateTimeField()
    written_off_at = LocalDateTimeField()
    payments = PaymentOutput(many=True)
    dunning_notices = DunningNoticeOutput(many=True)
    paid_amount = serializers.SerializerMethodField()
    open_amount = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "status",
            "patient_id",
            "recipient",
            "issue_date",
            "due_date",
            "lines",
            "net_total",
            "vat_total",
            "total",
            "small_business",
            "diagnosis",
            "created_at",
            "issued_at",
            "paid_at",
            "cancelled_at",
            "cancellation_number",
            "cancellation_date",
            "pdf_sha256",
            "cancellation_pdf_sha256",
            "payments",
            "dunning_notices",
            "paid_amount",
            "open_amount",
            "sent_at",
            "written_off_at",
            "write_off_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=10, decimal_places=2))
    def get_paid_amount(self, invoice) -> str:
        """What came in: the payments, reversals counting negative."""
        return f"{paid_amount(invoice):.2f}"

    @extend_schema_field(serializers.DecimalField(max_digits=10, decimal_places=2))
    def get_open_amount(self, invoice) -> str:
        """What is still to be paid: 0 for a draft, once paid, written off or cancelled."""
        return f"{open_amount(invoice):.2f}"

    @extend_schema_field(RecipientOutput)
    def get_recipient(self, invoice) -> dict:
        """Who the invoice goes to: as frozen at issue; for a draft as things stand."""
        return invoice_parties(invoice).recipient.as_dict()

    def get_pdf_sha256(self, invoice) -> str | None:
        """SHA-256 of the PDF archived at issue (null while a draft)."""
        return _document_hash(invoice, DocumentKind.INVOICE)

    def get_cancellation_pdf_sha256(self, invoice) -> str | None:
        """SHA-256 of the archived Stornorechnung (null unless cancelled after issue)."""
        return _document_hash(invoice, DocumentKind.CANCELLATION)


def _document_hash(invoice, kind: str) -> str | None:
    return next((d.sha256 for d in invoice.documents.all() if d.kind == kind), None)


class BillingRunInput(serializers.Serializer):
    period_start = serializers.DateField(help_text="First day of the period (included).")
    period_end = serializers.DateField(help_text="Last day of the period (included).")
    calendar_column_ids = serializers.ListField(
        child=PublicIdField(),
        required=False,
        default=list,
        max_length=200,
        help_text="Only appointments of these calendar columns; all when left out or empty.",
    )


class BillingRunProgressOutput(serializers.Serializer):
    done = serializers.IntegerField(source="progress_done")
    total = serializers.IntegerField(source="progress_total")


class BillingRunSkippedOutput(serializers.Serializer):
    patient_id = serializers.CharField()
    reason = serializers.CharField(help_text="Why (German).")


class BillingRunOutput(serializers.ModelSerializer):
    id = StringIdField(source="public_id")
    phase = serializers.CharField(
        help_text="What the job does or did last: `drafts` (making them) or `issue` "
        '("Alle stellen").'
    )
    calendar_column_ids = serializers.SerializerMethodField()
    progress = BillingRunProgressOutput(source="*")
    invoice_ids = serializers.SerializerMethodField()
    skipped = BillingRunSkippedOutput(many=True)
    error = serializers.CharField(help_text="Why the run failed (German); empty otherwise.")
    created_at = LocalDateTimeField()
    finished_at = LocalDateTimeField(allow_null=True)
    send_requested_at = LocalDateTimeField(allow_null=True)

    class Meta:
        model = BillingRun
        fields = [
            "id",
            "status",
            "phase",
            "period_start",
            "period_end",
            "calendar_column_ids",
            "progress",
            "invoice_ids",
            "skipped",
            "error",
            "created_at",
            "finished_at",
            "send_requested_at",
        ]
        read_only_fields = fields

    def get_calendar_column_ids(self, run) -> list[str]:
        return [str(column.public_id) for column in run.calendar_columns.all()]

    def get_invoice_ids(self, run) -> list[str]:
        ids = run.invoices.order_by("pk").values_list("public_id", flat=True)
        return [str(public_id) for public_id in ids]
