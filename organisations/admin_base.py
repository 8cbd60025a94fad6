"""What every app's Django admin (lemniscus support) shares.

Practice data is written by the practice through the services; the admin shows it
and changes it only where a service or action does the writing. Many model fields
have English default names, so admins give German column headers (`column`) and
form labels (`labels`).
"""

from django.contrib import admin


class OrganisationFilter(admin.RelatedFieldListFilter):
    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = "Organisation"


def column(name: str, label: str, *, boolean: bool = False, ordering: str | None = None):
    """A changelist column showing attribute `name` (its choice label, if any) under
    a German header, sortable by that field (or by `ordering`)."""

    @admin.display(description=label, ordering=ordering or name, boolean=boolean)
    def value(obj):
        display = getattr(obj, f"get_{name}_display", None)
        return display() if display else getattr(obj, name)

    value.__name__ = name
    return value


class GermanLabelsAdmin(admin.ModelAdmin):
    """Form labels for fields whose model has no German verbose name."""

    labels: dict[str, str] = {}

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["labels"] = {**self.labels, **kwargs.get("labels", {})}
        return super().get_form(request, obj, change=change, **kwargs)


class TenantAdmin(GermanLabelsAdmin):
    """A tenant-owned model: filtered, searchable and shown with its organisation,
    which is fetched in the same query as the rows."""

    list_filter = (("organisation", OrganisationFilter),)
    list_select_related = ("organisation",)
    list_per_page = 50
    # The full count of a big table costs a second COUNT(*) per page.
    show_full_result_count = False


class ReadOnlyAdminMixin:
    """Shown to support, never changed in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


ORGANISATION_COLUMN = column("organisation", "Organisation")
CREATED_COLUMN = column("created_at", "Angelegt")
