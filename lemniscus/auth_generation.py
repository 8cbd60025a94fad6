"""A counter that every change of who may call the APIs moves: a token issued or
revoked, an organisation's plan or settings changed. Processes cache token lookups
(tokens.services.token_authenticate_cached) under the counter's value and use an
entry only while the counter still has it, so a revocation or a plan change is
effective on the next request in every process.

The counter is in Redis (`REDIS_URL`) and is read in the round trip the failed-token
limit makes anyway (lemniscus.throttle.FailureLimit.over_with_generation), before the
token is looked at. Where it cannot be read (no Redis, Redis unreachable) there is no
value and nothing is taken from the cache: every request looks its token up in the
database, as before the cache."""

import logging
import secrets
import threading
from functools import lru_cache

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

KEY = "auth-generation"

_listeners_lock = threading.Lock()
_listeners: list = []


def on_bump(listener) -> None:
    """`listener()` is called in this process whenever it moves the counter (a cache
    of this process forgets its entries at once, Redis or not)."""
    with _listeners_lock:
        _listeners.append(listener)


def bump() -> None:
    """Move the counter once the current transaction commits (at once outside one):
    after the change is visible, so a lookup that still read the old value cannot
    cache the state from before it."""
    transaction.on_commit(_bump_now)


def _bump_now() -> None:
    for listener in list(_listeners):
        listener()
    if not settings.REDIS_URL:
        return
    import redis

    try:
        _client(settings.REDIS_URL).incr(KEY)
    except redis.RedisError:
        # Entries cached elsewhere expire on their own (tokens.services.CACHE_SECONDS).
        logger.warning("auth generation: Redis unreachable, the counter did not move")


@lru_cache(maxsize=1)
def _client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)


def initial_value() -> int:
    """A random start for a counter that Redis lost (a restart): values cached before
    it cannot come back by chance."""
    return secrets.randbits(62)
