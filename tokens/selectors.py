"""Reading tokens (token management page)."""

from django.db.models import F, QuerySet

from lemniscus.tenancy import access, scoped
from tokens.models import Token, TokenKind


def token_list(*, organisation) -> QuerySet[Token]:
    """The organisation's tokens with their users: active ones first, newest first."""
    return (
        scoped(Token, organisation)
        .select_related("user", "created_by")
        .order_by(F("revoked_at").desc(nulls_first=True), "-created_at", "-id")
    )


def active_doctolib_token(*, organisation) -> Token | None:
    return (
        scoped(Token, organisation).filter(kind=TokenKind.DOCTOLIB, revoked_at__isnull=True).first()
    )


def access_token(*, organisation, public_id) -> Token:
    return access(Token, organisation=organisation, public_id=public_id)
