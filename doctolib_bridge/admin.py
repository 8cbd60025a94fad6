from django.contrib import admin, messages

from doctolib_bridge.handover.services import export_undo
from doctolib_bridge.models import (
    ChangeFeedEntry,
    DoctolibPatientState,
    ExportJob,
    FeedCounter,
    IdempotencyRecord,
    RemovedAppointment,
    SyncLogEntry,
    Transfer,
)
from lemniscus.errors import UndoRefused
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


@admin.register(ExportJob)
class ExportJobAdmin(ReadOnlyAdminMixin, TenantAdmin):
    """Handover exports; support can undo the removal of the appointments."""

    list_display = (
        CREATED_COLUMN,
        ORGANISATION_COLUMN,
        column("state", "Status"),
        column("delete_appointments", "Termine löschen", boolean=True),
        column("patients_count", "Akten"),
        column("appointments_count", "Termine"),
        column("removed_count", "Gelöscht"),
        column("finished_at", "Beendet"),
        column("undone_at", "Rückgängig gemacht"),
    )
    list_filter = (*TenantAdmin.list_filter, "state", "delete_appointments")
    search_fields = ("organisation__name", "organisation__orga_id", "=public_id")
    ordering = ("-created_at",)
    actions = ("undo_removal",)

    def has_undo_permission(self, request):
        return request.user.has_perm("doctolib_bridge.change_exportjob")

    @admin.action(description="Löschen der Termine rückgängig machen", permissions=["undo"])
    def undo_removal(self, request, queryset):
        for job in queryset.order_by("-created_at"):
            try:
                export_undo(job=job, actor=request.user)
            except UndoRefused as refused:
                self.message_user(request, f"{job}: {refused.detail}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{job}: {job.removed_count} Termin(e) wiederhergestellt.",
                    messages.SUCCESS,
                )


@admin.display(description="Organisation", ordering="job__organisation__name")
def _job_organisation(removed: RemovedAppointment):
    return removed.job.organisation


@admin.register(RemovedAppointment)
class RemovedAppointmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the handover removed, kept for the undo."""

    list_display = (
        column("appointment_public_id", "Termin-ID"),
        column("job", "Export"),
        _job_organisation,
    )
    list_select_related = ("job__organisation",)
    list_filter = (("job__organisation", OrganisationFilter),)
    search_fields = ("=appointment_public_id", "job__organisation__name")
    list_per_page = 50
    show_full_result_count = False
