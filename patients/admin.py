from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from lemniscus.phones import normalize_phone
from lemniscus.text import clean
from organisations.admin_base import CREATED_COLUMN, ORGANISATION_COLUMN, TenantAdmin, column
from patients.models import Patient
from patients.services import EDITABLE_FIELDS, patient_update

TEXT_FIELDS = ("title", "first_name", "last_name", "street", "postal_code", "city", "notes")


class PatientForm(forms.ModelForm):
    """Normalises as the APIs do: NFC-trimmed text, e-mail in lower case, phones in E.164."""

    class Meta:
        model = Patient
        fields = EDITABLE_FIELDS

    def clean(self):
        data = super().clean()
        for name in TEXT_FIELDS:
            if name in data:
                data[name] = clean(data[name])
        if data.get("email"):
            data["email"] = data["email"].lower()
        for name in ("mobile_phone", "landline_phone"):
            if name in data:
                try:
                    data[name] = normalize_phone(data[name])
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        return data


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin, TenantAdmin):
    """Records are made by the practice (or Doctolib) and deleted only through the app,
    which keeps invoiced ones; support may correct a record, through patient_update,
    so the change is in the record's history with its author."""

    form = PatientForm
    list_display = (
        "last_name",
        "first_name",
        "birth_date",
        "mobile_phone",
        "city",
        ORGANISATION_COLUMN,
        column("sync_to_doctolib", "Doctolib", boolean=True),
        CREATED_COLUMN,
    )
    list_filter = (*TenantAdmin.list_filter, "sync_to_doctolib")
    search_fields = (
        "last_name",
        "first_name",
        "email",
        "mobile_phone",
        "landline_phone",
        "=doctolib_patient_id",
        "=public_id",
    )
    ordering = ("last_name", "first_name", "id")
    labels = {"salutation": "Anrede"}
    fieldsets = (
        (None, {"fields": ("organisation", "salutation", "title", "first_name", "last_name")}),
        (
            "Kontakt",
            {
                "fields": (
                    "birth_date",
                    "email",
                    "mobile_phone",
                    "landline_phone",
                    "street",
                    "postal_code",
                    "city",
                )
            },
        ),
        ("Notizen", {"fields": ("notes",)}),
        ("Doctolib", {"fields": ("sync_to_doctolib", "doctolib_patient_id")}),
        ("Kennungen", {"fields": ("public_id", "archived_at", "created_at", "updated_at")}),
    )

    def has_change_permission(self, request, obj=None):
        # An archived record is read-only for support too (patients.services).
        if (
            obj is not None
            and Patient.objects.filter(pk=obj.pk, archived_at__isnull=False).exists()
        ):
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = [
            "organisation",
            "doctolib_patient_id",
            "public_id",
            "archived_at",
            "created_at",
            "updated_at",
        ]
        # Linked (now: `obj` may be an old version): the checkbox stays set until
        # the link is removed in Doctolib.
        if (
            obj is not None
            and Patient.objects.filter(pk=obj.pk, doctolib_patient_id__isnull=False).exists()
        ):
            readonly.append("sync_to_doctolib")
        return readonly

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Compared with the record as it is now, so reverting to an old version
        # (history page) changes what differs, like any other correction.
        fields = {
            name: value for name, value in form.cleaned_data.items() if name in EDITABLE_FIELDS
        }
        patient_update(patient=Patient.objects.get(pk=obj.pk), actor=request.user, **fields)
