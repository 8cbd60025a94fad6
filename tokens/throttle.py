"""Failed token attempts per client address (zipper-api.md 1.1, on the Zipper and
the staff API alike): an address that sent FAILED_LIMIT unknown, revoked or
malformed bearer tokens within a minute gets 429 `rate_limited` with `Retry-After`
for its next ones (the 21st on), before their token is even looked at, until that
minute is over.

Counted in Redis when `REDIS_URL` is set (shared by every process), else, and while
Redis cannot be reached, in this process (the limit then holds per process)."""

import logging
import math
import threading
import time
from functools import lru_cache

from django.conf import settings

from lemniscus.errors import RateLimited

logger = logging.getLogger(__name__)

FAILED_LIMIT = 20
WINDOW_SECONDS = 60
REDIS_TIMEOUT_SECONDS = 0.25


def client_address(request) -> str:
    """The address the request came from (REMOTE_ADDR: a proxy in front must pass the
    client's address on, e.g. gunicorn's --forwarded-allow-ips with the proxy's)."""
    return request.META.get("REMOTE_ADDR") or "unknown"


class _Memory:
    def __init__(self):
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}

    def get(self, key: str) -> int:
        with self._lock:
            return self.counts.get(key, 0)

    def incr(self, key: str) -> int:
        with self._lock:
            if len(self.counts) > 10_000:  # old windows
                self.counts.clear()
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]


_memory = _Memory()


@lru_cache(maxsize=1)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


def reset() -> None:
    """For tests: forget the in-process counts."""
    _memory.counts.clear()


def _window(now: float) -> tuple[str, int]:
    start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    return str(start), start + WINDOW_SECONDS


def _count(key: str, *, add: bool) -> int:
    if settings.REDIS_URL:
        import redis

        try:
            client = _redis(settings.REDIS_URL)
            if add:
                pipe = client.pipeline()
                pipe.incr(key)
                pipe.expire(key, WINDOW_SECONDS * 2)
                return int(pipe.execute()[0])
            return int(client.get(key) or 0)
        except redis.RedisError:
            logger.warning("failed-token counter: Redis unreachable, counting in-process")
    return _memory.incr(key) if add else _memory.get(key)


def refuse_if_over(request, *, now: float | None = None) -> None:
    """429 for an address past the limit in this minute (call before the token check)."""
    now = time.time() if now is None else now
    window, ends = _window(now)
    if _count(f"token-fail:{client_address(request)}:{window}", add=False) >= FAILED_LIMIT:
        raise RateLimited(retry_after=max(1, math.ceil(ends - now)))


def record_failure(request, *, now: float | None = None) -> None:
    """A bearer token that was sent and is not valid."""
    now = time.time() if now is None else now
    window, _ = _window(now)
    _count(f"token-fail:{client_address(request)}:{window}", add=True)
