"""Issuing, checking and revoking bearer tokens. Only hashes are stored; issuing and
revoking are in the Protokoll (audit), each token named by its first characters."""

import copy
import hashlib
import hmac
import secrets
import string
import threading
import time
import zlib
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from audit.actions import Action
from audit.services import audit_record
from lemniscus import auth_generation
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
    auth_generation.bump()
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
        auth_generation.bump()
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
    _touch(token)
    return token


def _touch(token: Token) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        Token.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


# -- the per-process cache of token lookups ------------------------------------------

# An entry is used only while the auth generation is the one it was cached under, and
# never longer than this: the bound should a counter move have been lost (Redis away
# at the moment of a revocation).
CACHE_SECONDS = 60.0
_CACHE_MAX_ENTRIES = 10_000


@dataclass
class _Entry:
    token: Token
    generation: int
    cached_at: float


class _TokenCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def get(self, digest: str, generation: int) -> Token | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry.generation != generation or time.monotonic() - entry.cached_at > CACHE_SECONDS:
                del self._entries[digest]
                return None
            return entry.token

    def peek(self, digest: str) -> Token | None:
        """The entry's token whatever its generation (only a hint: not checked)."""
        with self._lock:
            entry = self._entries.get(digest)
        if entry is None or time.monotonic() - entry.cached_at > CACHE_SECONDS:
            return None
        return entry.token

    def put(self, digest: str, token: Token, generation: int) -> None:
        with self._lock:
            if len(self._entries) >= _CACHE_MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = _Entry(token, generation, time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _TokenCache()
auth_generation.on_bump(_cache.clear)


def _private_copy(token: Token) -> Token:
    """The cached token and its organisation, copied: a request may set attributes on
    its own objects without another request seeing them."""
    own = copy.copy(token)
    own._state = copy.copy(token._state)
    own._state.fields_cache = dict(token._state.fields_cache)
    if "organisation" in own._state.fields_cache:
        own.organisation = copy.copy(token.organisation)
    return own


def token_authenticate_cached(*, raw: str, kind: str, generation: int | None) -> Token | None:
    """`token_authenticate`, with the lookup kept in this process under the auth
    `generation` read before it (lemniscus.auth_generation): a token revoked or an
    organisation changed since moves the counter, and the next request looks it up
    again. Without a generation (no Redis) it always looks it up."""
    if generation is None:
        return token_authenticate(raw=raw, kind=kind)
    if not raw or not token_is_well_formed(raw):
        return None
    digest = hash_token(raw)
    cached = _cache.get(digest, generation)
    if cached is not None and cached.kind == kind:
        token = _private_copy(cached)
        _touch(cached)
        token.last_used_at = cached.last_used_at
        return token
    token = token_authenticate(raw=raw, kind=kind)
    if token is not None:
        _cache.put(digest, _private_copy(token), generation)
    return token


def cached_organisation(*, raw: str, kind: str):
    """The organisation of `raw` as this process cached it, before any check (the
    token may since have been revoked): a hint, e.g. for whose budget to spend on the
    round trip that reads the auth generation. Never a grant of access."""
    if not raw or not token_is_well_formed(raw):
        return None
    token = _cache.peek(hash_token(raw))
    return token.organisation if token is not None and token.kind == kind else None


def forget_cached_tokens() -> None:
    """For tests: an empty cache in this process."""
    _cache.clear()
