from django.contrib import admin

from doctolib_bridge.models import (
    ChangeFeedEntry,
    DoctolibPatientState,
    FeedCounter,
    IdempotencyRecord,
    SyncLogEntry,
    Transfer,
)
from organisations.admin_base import (
    CREATED_COLUMN,
    ORGANISATION_COLUMN,
    OrganisationFilter,
    ReadOnlyAdminMixin,
    TenantAdmin,
    column,
)

# The bridge's records are written by the Zipper API and reconciliation only; support
# reads them here.


@admin.register(SyncLogEntry)
class SyncLogEntryAdmin(ReadOnlyAdminMixin, TenantAdmin):
    list_display = (
        column("created_at", "Zeit"),
        column("method", "Methode"),
        column("endpoint", "Endpunkt"),
        column("status", "HTTP-Status"),
        column("outcome", "Ergebnis"),
        column("code", "Code"),
        ORGANISATION_COLUMN,
    )
    list_filter = (*TenantAdmin.list_filter, "method", "status")
    search_fields = ("endpoint", "=doctolib_patient_id", "=doctolib_appointment_id", "code")
    ordering = ("-created_at",)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdminMixin, TenantAdmin):
    list_display = (
        column("doctolib_appointment_id", "Doctolib-Termin-ID"),
        column("committed_at", "Übernommen"),
        column("replaced_at", "Ersetzt"),
        ORGANISATION_COLUMN,
        CREATED_COLUMN,
    )
    search_fields = ("doctolib_appointment_id", "=public_id")
    ordering = ("-created_at",)


@admin.register(ChangeFeedEntry)
class ChangeFeedEntryAdmin(ReadOnlyAdminMixin, TenantAdmin):
    list_display = (
        column("cursor", "Cursor"),
        column("patient", "Patient/in"),
        column("fields", "Felder"),
        ORGANISATION_COLUMN,
        CREATED_COLUMN,
    )
    list_select_related = ("organisation", "patient")
    search_fields = ("patient__last_name", "=patient__doctolib_patient_id")
    ordering = ("-cursor",)


@admin.register(DoctolibPatientState)
class DoctolibPatientStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (column("patient", "Patient/in"), column("updated_at", "Geändert"))
    list_select_related = ("patient",)
    list_filter = (("patient__organisation", OrganisationFilter),)
    search_fields = ("patient__last_name", "=patient__doctolib_patient_id")


@admin.register(FeedCounter)
class FeedCounterAdmin(ReadOnlyAdminMixin, TenantAdmin):
    list_display = (ORGANISATION_COLUMN, column("last_cursor", "Letzter Cursor"))
    search_fields = ("organisation__name", "organisation__orga_id")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, TenantAdmin):
    list_display = (
        column("method", "Methode"),
        column("path", "Pfad"),
        column("status", "HTTP-Status"),
        ORGANISATION_COLUMN,
        CREATED_COLUMN,
    )
    search_fields = ("=key", "path")
    ordering = ("-created_at",)
