from django.conf import settings
from django.db import models
from django.db.models import Q

from lemniscus.models import TenantModel


class TokenKind(models.TextChoices):
    DOCTOLIB = "doctolib", "Doctolib"
    API = "api", "Persönlicher API-Token"


TOKEN_PREFIXES = {TokenKind.DOCTOLIB: "lmn_dl_", TokenKind.API: "lmn_api_"}


class Token(TenantModel):
    """A bearer token. Only its SHA-256 hash is stored; the full token is shown once."""

    kind = models.CharField(max_length=10, choices=TokenKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="api_tokens",
        help_text="The user a personal API token acts as.",
    )
    name = models.CharField(max_length=100, blank=True)
    display_prefix = models.CharField(max_length=20, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Token"
        verbose_name_plural = "Tokens"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="doctolib") | Q(user__isnull=False),
                name="api_token_has_user",
            ),
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(kind="doctolib", revoked_at__isnull=True),
                name="one_active_doctolib_token",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_prefix}… ({self.get_kind_display()})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
