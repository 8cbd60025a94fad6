from django.contrib import admin, messages

from organisations.admin_base import CREATED_COLUMN, ORGANISATION_COLUMN, TenantAdmin, column
from tokens.models import Token
from tokens.services import token_revoke


class ActiveFilter(admin.SimpleListFilter):
    title = "Zustand"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "aktiv"), ("no", "widerrufen")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "yes")
        return queryset


@admin.register(Token)
class TokenAdmin(TenantAdmin):
    """Tokens are made in token management or by `manage.py issue_token`; the admin
    never shows a token's hash, only its first characters, and can revoke it."""

    list_display = (
        column("display_prefix", "Anfang"),
        column("kind", "Art"),
        column("user", "Benutzer"),
        column("name", "Bezeichnung"),
        ORGANISATION_COLUMN,
        CREATED_COLUMN,
        column("last_used_at", "Zuletzt benutzt"),
        column("is_active", "Aktiv", boolean=True, ordering="revoked_at"),
    )
    list_select_related = ("organisation", "user")
    list_filter = (*TenantAdmin.list_filter, "kind", ActiveFilter)
    search_fields = ("display_prefix", "name", "user__email", "organisation__orga_id")
    fields = (
        "organisation",
        "kind",
        "display_prefix",
        "user",
        "name",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("tokens.change_token")

    @admin.action(description="Ausgewählte Tokens widerrufen", permissions=["revoke"])
    def revoke(self, request, queryset):
        active = list(queryset.filter(revoked_at__isnull=True))
        for token in active:
            token_revoke(token=token, actor=request.user)
        self.message_user(request, f"{len(active)} Token(s) widerrufen.", messages.SUCCESS)
