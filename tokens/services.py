"""Issuing, checking and revoking bearer tokens. Only hashes are stored; issuing and
revoking are in the Protokoll (audit), each token named by its first characters."""

import hashlib
import hmac
import secrets
import string
import zlib
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.actions import Action
from audit.services import audit_record
from lemniscus.errors import PlanRequired, ValidationFailed
from tokens.models import TOKEN_PREFIXES, Token, TokenKind

_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40
_CHECKSUM_LENGTH = 6
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LENGTH)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def token_is_well_formed(raw: str) -> bool:
    """Prefix, secret and a matching checksum: a leaked token is recognisable, and a
    mistyped one is refused without a database lookup."""
    prefix = next((p for p in TOKEN_PREFIXES.values() if raw.startswith(p)), None)
    if prefix is None or len(raw) != len(prefix) + _SECRET_LENGTH + _CHECKSUM_LENGTH:
        return False
    body, checksum = raw[:-_CHECKSUM_LENGTH], raw[-_CHECKSUM_LENGTH:]
    return hmac.compare_digest(_checksum(body), checksum)


def _new_raw_token(kind: str) -> str:
    body = TOKEN_PREFIXES[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    return body + _checksum(body)


@transaction.atomic
def token_create(*, organisation, kind: str, user=None, created_by=None, name: str = ""):
    """A new token; returns (token, the full token text — shown this once).

    A Doctolib token needs plan XL or XXL and revokes the organisation's previous
    one; a personal API token belongs to a user of the organisation.
    """
    if kind == TokenKind.DOCTOLIB:
        if not organisation.has_doctolib_plan:
            raise PlanRequired()
        active = Token.objects.select_for_update().filter(
            organisation=organisation, kind=TokenKind.DOCTOLIB, revoked_at__isnull=True
        )
        for previous in active:
            _audit(previous, created_by, Action.TOKEN_REVOKE, "ersetzt durch einen neuen")
        active.update(revoked_at=timezone.now())
        user = None
    elif kind == TokenKind.API:
        if user is None or user.organisation_id != organisation.pk:
            raise ValidationFailed(
                "Ein persönlicher Token gehört zu einem Benutzer der Organisation.",
                errors={"user": ["Kein Benutzer dieser Organisation."]},
            )
    else:
        raise ValidationFailed(errors={"kind": [f"Unbekannte Art: {kind}"]})
    raw = _new_raw_token(kind)
    token = Token.objects.create(
        organisation=organisation,
        kind=kind,
        user=user,
        name=name,
        display_prefix=raw[: len(TOKEN_PREFIXES[kind]) + 6],
        token_hash=hash_token(raw),
        created_by=created_by,
    )
    _audit(token, created_by, Action.TOKEN_CREATE)
    return token, raw


@transaction.atomic
def token_revoke(*, token: Token, actor=None) -> Token:
    """Revokes at once; revoking twice (or twice at the same moment) keeps the first
    time: the update only touches a token not revoked yet (and only that one revoking
    is in the Protokoll, with `actor`)."""
    now = timezone.now()
    revoked = Token.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, updated_at=now
    )
    token.refresh_from_db(fields=["revoked_at", "updated_at"])
    if revoked:
        _audit(token, actor, Action.TOKEN_REVOKE)
    return token


def _audit(token: Token, actor, action: str, note: str = "") -> None:
    """`detail`: the kind, the first characters and whose it is, never the token."""
    owner = f" von {token.user.email}" if token.user_id else ""
    detail = f"{token.get_kind_display()} {token.display_prefix}…{owner}"
    audit_record(
        organisation=token.organisation_id,
        actor=actor,
        action=action,
        object_id=token.public_id,
        detail=f"{detail}, {note}" if note else detail,
    )


def token_authenticate(*, raw: str, kind: str) -> Token | None:
    """The active token of that kind for `raw`, or None. Records when it was last
    used, at most once a minute."""
    if not raw or not token_is_well_formed(raw):
        return None
    digest = hash_token(raw)
    related = ["organisation"] if kind == TokenKind.DOCTOLIB else ["user__organisation"]
    token = (
        Token.objects.select_related(*related)
        .filter(token_hash=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or token.kind != kind or not hmac.compare_digest(token.token_hash, digest):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        Token.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
