from django.contrib import admin

from audit import actions
from audit.models import AuditEvent
from organisations.admin_base import (
    ORGANISATION_COLUMN,
    ReadOnlyAdminMixin,
    TenantAdmin,
    column,
)


class ActionFilter(admin.SimpleListFilter):
    title = "Aktion"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return actions.Action.choices

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, TenantAdmin):
    """The Protokoll is written by the services only and never changed (a database
    guard refuses it); support reads it here."""

    list_display = (
        column("time", "Zeit"),
        column("actor_label", "Wer"),
        "action_label",
        column("object_type", "Objekt"),
        column("object_id", "Objekt-ID"),
        column("patient_id", "Akte"),
        column("detail", "Details"),
        ORGANISATION_COLUMN,
    )
    list_filter = (*TenantAdmin.list_filter, ActionFilter)
    search_fields = ("=patient_id", "=object_id", "actor_label")
    ordering = ("-time", "-id")
    date_hierarchy = "time"
    fields = (
        "organisation",
        "time",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "patient_id",
        "detail",
    )

    @admin.display(description="Aktion", ordering="action")
    def action_label(self, obj):
        return actions.label(obj.action)
