from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from billing.models import (
    BillingRun,
    DunningNotice,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    InvoiceSequence,
    Payment,
    ServiceChain,
    ServiceLine,
)
from organisations.admin_base import (
    CREATED_COLUMN,
    ORGANISATION_COLUMN,
    OrganisationFilter,
    ReadOnlyAdminMixin,
    TenantAdmin,
    column,
)


class ServiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ServiceLine
    fields = ("position", "code", "name", "price", "vat_rate", "tax_category", "minutes")
    extra = 0


@admin.register(ServiceChain)
class ServiceChainAdmin(ReadOnlyAdminMixin, TenantAdmin):
    """Chains are kept by the practice (billing.services); support reads them."""

    inlines = (ServiceLineInline,)
    list_display = ("description", ORGANISATION_COLUMN, CREATED_COLUMN)
    search_fields = ("description", "notes", "services__code", "services__name")
    fields = ("organisation", "description", "notes", "public_id", "created_at", "updated_at")


class InvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceLine
    fields = (
        "position",
        "service_date",
        "appointment",
        "code",
        "name",
        "quantity",
        "unit_price",
        "vat_rate",
        "tax_category",
        "amount",
        "therapist",
    )
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("appointment")


class InvoiceDocumentInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The PDFs archived at issue and Storno, with their hashes (never changed)."""

    model = InvoiceDocument
    fields = ("kind", "file", "sha256", "size", "created_at")
    readonly_fields = fields
    extra = 0


class PaymentInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Payments and their reversals, as recorded (never changed: GoBD)."""

    model = Payment
    fk_name = "invoice"
    extra = 0
    fields = ("date", "amount", "method", "note", "reverses", "created_by_label", "created_at")
    readonly_fields = fields


class DunningNoticeInline(ReadOnlyAdminMixin, admin.TabularInline):
    """Dunning notices as made (never changed but for when they were sent)."""

    model = DunningNotice
    fk_name = "invoice"
    extra = 0
    fields = ("level", "name", "date", "fee", "due_date", "open_amount", "sent_at", "sha256")
    readonly_fields = fields


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin, TenantAdmin):
    """Invoices change only through billing.services (issue, pay, cancel) and are
    never deleted (GoBD); support reads them and their history here."""

    inlines = (InvoiceLineInline, InvoiceDocumentInline, PaymentInline, DunningNoticeInline)
    list_display = (
        column("number", "Nummer"),
        column("status", "Status"),
        column("patient", "Patient/in"),
        column("issue_date", "Rechnungsdatum"),
        column("total", "Betrag"),
        column("cancellation_number", "Storno-Nr."),
        ORGANISATION_COLUMN,
        CREATED_COLUMN,
    )
    list_select_related = ("organisation", "patient")
    list_filter = (*TenantAdmin.list_filter, "status")
    search_fields = (
        "number",
        "cancellation_number",
        "patient__last_name",
        "patient__first_name",
        "=public_id",
    )
    ordering = ("-created_at",)


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        ORGANISATION_COLUMN,
        column("kind", "Art"),
        column("year", "Jahr"),
        column("last_number", "Letzte Nummer"),
    )
    list_select_related = ("organisation",)
    list_filter = (("organisation", OrganisationFilter), "kind", "year")
    search_fields = ("organisation__name", "organisation__orga_id", "=year")
    ordering = ("organisation", "kind", "-year")


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdminMixin, TenantAdmin):
    """Billing runs (Rechnungsläufe), read only: they change through billing.runs
    and their job; a run whose worker died is failed by `billing.fail_dead_runs`."""

    list_display = (
        CREATED_COLUMN,
        ORGANISATION_COLUMN,
        column("period_start", "Von"),
        column("period_end", "Bis"),
        column("phase", "Schritt"),
        column("status", "Status"),
        column("progress_done", "Erledigt"),
        column("progress_total", "Gesamt"),
        column("finished_at", "Beendet"),
    )
    list_filter = (*TenantAdmin.list_filter, "status", "phase")
    search_fields = ("organisation__name", "organisation__orga_id", "=public_id")
    ordering = ("-created_at",)
