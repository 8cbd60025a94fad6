from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from appointments.models import Appointment, AppointmentSeries, CalendarColumn
from appointments.services import calendar_column_update
from organisations.admin_base import (
    CREATED_COLUMN,
    ORGANISATION_COLUMN,
    ReadOnlyAdminMixin,
    TenantAdmin,
    column,
)

COLUMN_LABELS = {"name": "Name", "kind": "Art", "doctolib_agenda_id": "Doctolib-Agenda-ID"}


class CalendarColumnForm(forms.ModelForm):
    class Meta:
        model = CalendarColumn
        fields = ("name", "kind", "doctolib_agenda_id")
        labels = COLUMN_LABELS

    def clean_doctolib_agenda_id(self):
        agenda = self.cleaned_data["doctolib_agenda_id"] or None
        taken = CalendarColumn.objects.filter(
            organisation_id=self.instance.organisation_id, doctolib_agenda_id=agenda
        ).exclude(pk=self.instance.pk)
        if agenda and taken.exists():
            raise forms.ValidationError("Schon mit einer anderen Kalenderspalte verknüpft.")
        return agenda


@admin.register(CalendarColumn)
class CalendarColumnAdmin(TenantAdmin):
    """Columns are made and deleted by the practice (or the Doctolib bridge); support
    may rename one or fix its agenda link, through calendar_column_update."""

    form = CalendarColumnForm
    list_display = (
        column("name", "Name"),
        column("kind", "Art"),
        column("doctolib_agenda_id", "Doctolib-Agenda-ID"),
        ORGANISATION_COLUMN,
        CREATED_COLUMN,
    )
    list_filter = (*TenantAdmin.list_filter, "kind")
    search_fields = ("name", "=doctolib_agenda_id", "=public_id")
    readonly_fields = ("organisation", "public_id", "created_at", "updated_at")
    fields = ("organisation", "name", "kind", "doctolib_agenda_id", *readonly_fields[1:])

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        calendar_column_update(
            column=CalendarColumn.objects.get(pk=obj.pk),
            **{name: form.cleaned_data[name] for name in form.changed_data},
        )


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin, TenantAdmin):
    """Appointments are kept by the practice's calendar and Doctolib; support reads
    them and their history here."""

    list_display = (
        column("start", "Beginn"),
        column("patient", "Patient/in"),
        column("calendar_column", "Kalenderspalte"),
        column("service_chain", "Leistungskette"),
        column("status", "Status"),
        column("source", "Quelle"),
        column("invoice", "Rechnung"),
        ORGANISATION_COLUMN,
    )
    list_select_related = ("organisation", "patient", "calendar_column", "service_chain", "invoice")
    list_filter = (*TenantAdmin.list_filter, "status", "source")
    search_fields = (
        "patient__last_name",
        "patient__first_name",
        "calendar_column__name",
        "=doctolib_appointment_id",
        "=public_id",
    )
    ordering = ("-start",)


@admin.register(AppointmentSeries)
class AppointmentSeriesAdmin(ReadOnlyAdminMixin, TenantAdmin):
    """Series are made in the calendar; support reads what a series was made with."""

    list_display = (
        column("first_start", "Erster Termin"),
        column("patient", "Patient/in"),
        column("calendar_column", "Kalenderspalte"),
        column("interval_days", "Abstand (Tage)"),
        column("count", "Anzahl"),
        column("until", "Bis"),
        ORGANISATION_COLUMN,
    )
    list_select_related = ("organisation", "patient", "calendar_column")
    search_fields = ("patient__last_name", "=public_id")
    ordering = ("-first_start",)
