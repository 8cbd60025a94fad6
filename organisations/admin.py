from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from organisations.admin_base import CREATED_COLUMN, GermanLabelsAdmin, OrganisationFilter, column
from organisations.models import Organisation, User
from organisations.validators import normalize_tax_number, normalize_vat_id


class OrganisationForm(forms.ModelForm):
    """Tax number and VAT id checked and normalised as every writer's are
    (organisations.validators)."""

    class Meta:
        model = Organisation
        fields = ("tax_number", "vat_id")  # the admin adds its fieldsets' fields

    def clean_tax_number(self):
        return normalize_tax_number(self.cleaned_data["tax_number"])

    def clean_vat_id(self):
        return normalize_vat_id(self.cleaned_data["vat_id"])


@admin.register(Organisation)
class OrganisationAdmin(GermanLabelsAdmin):
    """Master data and plan. A new organisation comes with its first admin user, so
    it is made by `manage.py create_organisation`; organisations are never deleted
    (their invoices are kept)."""

    list_display = (
        column("name", "Name"),
        column("orga_id", "Orga-ID"),
        column("plan", "Abo"),
        "city",
        column("time_zone", "Zeitzone"),
        CREATED_COLUMN,
    )
    form = OrganisationForm
    list_filter = ("plan", "small_business", ("handover_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "orga_id", "city", "email", "owner_name")
    readonly_fields = ("orga_id", "public_id", "handover_at", "created_at", "updated_at")
    labels = {"name": "Name", "plan": "Abo", "time_zone": "Zeitzone"}
    fieldsets = (
        (None, {"fields": ("name", "plan", "time_zone")}),
        (
            "Angaben für Rechnungen",
            {
                "fields": (
                    "owner_name",
                    "street",
                    "postal_code",
                    "city",
                    "phone",
                    "email",
                    "tax_number",
                    "vat_id",
                    "iban",
                    "bic",
                    "bank_account_holder",
                    "small_business",
                    "payment_term_days",
                    "no_show_fee",
                    "no_show_fee_name",
                )
            },
        ),
        (
            "Terminbenachrichtigungen",
            {
                "fields": ("reminder_hours_before", "handover_at"),
                "description": "Ab der Übergabe an Doctolib verschickt lemniscus keine "
                "Terminbenachrichtigungen mehr; rückgängig machen lässt sie sich nur mit "
                "der Aktion „Löschen der Termine rückgängig machen“ bei den "
                "Export-Aufträgen (7 Tage lang).",
            },
        ),
        ("Kennungen", {"fields": ("orga_id", "public_id", "created_at", "updated_at")}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "organisation", "role")

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("Es gibt schon einen Benutzer mit dieser E-Mail.")
        return email


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Es gibt schon einen Benutzer mit dieser E-Mail.")
        return email


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Staff of the organisations (log in with their e-mail) and support users
    (`is_staff`, no organisation)."""

    form = UserEditForm
    add_form = UserCreationForm
    list_display = (
        "email",
        "first_name",
        "last_name",
        column("organisation", "Organisation"),
        column("role", "Rolle"),
        column("is_active", "Aktiv", boolean=True),
        "is_staff",
    )
    list_select_related = ("organisation",)
    list_filter = (("organisation", OrganisationFilter), "role", "is_staff", "is_active")
    search_fields = ("email", "first_name", "last_name", "organisation__name")
    ordering = ("email",)
    readonly_fields = ("last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name")}),
        (
            "Praxis",
            {
                "fields": (
                    "organisation",
                    "role",
                    "can_appointments",
                    "can_documentation",
                    "can_billing",
                )
            },
        ),
        (
            "Zugang und Support-Rechte",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Daten", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": (
                    "email",
                    "organisation",
                    "role",
                    "usable_password",
                    "password1",
                    "password2",
                ),
            },
        ),
    )
    labels = {
        "organisation": "Organisation",
        "role": "Rolle",
        "is_active": "Aktiv",
        "date_joined": "Registriert seit",
    }

    def get_form(self, request, obj=None, **kwargs):
        kwargs["labels"] = self.labels
        return super().get_form(request, obj, **kwargs)
