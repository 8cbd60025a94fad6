"""Counting failures per client address in fixed windows (failed tokens, failed
logins): in Redis when `REDIS_URL` is set (shared by every process), else, and while
Redis cannot be reached, in this process (a limit then holds per process)."""

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from lemniscus import auth_generation

logger = logging.getLogger(__name__)

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
def redis_client(url: str):
    import redis

    return redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )


def reset() -> None:
    """For tests: forget the in-process counts and the Redis client."""
    _memory.counts.clear()
    redis_client.cache_clear()


@dataclass(frozen=True)
class FailureLimit:
    """At most `limit` failures per client address in each window of `window`
    seconds; from then on `over()` says how many seconds are left of the window."""

    name: str
    limit: int
    window: int

    def _key(self, request, now: float) -> tuple[str, float]:
        start = int(now // self.window) * self.window
        return f"{self.name}:{client_address(request)}:{start}", start + self.window

    def over(self, request, *, now: float | None = None) -> int:
        """0 while the address is within the limit, else the seconds to wait."""
        now = time.time() if now is None else now
        key, ends = self._key(request, now)
        if _count(key, add=False, expire=self.window * 2) >= self.limit:
            return max(1, math.ceil(ends - now))
        return 0

    def over_with_generation(
        self, request, *, now: float | None = None, along=None
    ) -> tuple[int, int | None, object]:
        """`over()`, and the auth generation (lemniscus.auth_generation) read in the
        same Redis round trip; None for the generation without Redis. `along(pipe)`
        may queue one more command on that round trip (a Redis pipeline, not a
        transaction); its reply is the third value (None without Redis)."""
        now = time.time() if now is None else now
        key, ends = self._key(request, now)
        count, generation, reply = _memory.get(key), None, None
        if settings.REDIS_URL:
            import redis

            try:
                client = redis_client(settings.REDIS_URL)
                pipe = client.pipeline(transaction=False)
                pipe.mget([key, auth_generation.KEY])
                if along is not None:
                    along(pipe)
                (raw_count, raw_generation), *rest = pipe.execute()
                reply = rest[0] if rest else None
                count = int(raw_count or 0)
                if raw_generation is None:
                    client.set(auth_generation.KEY, auth_generation.initial_value(), nx=True)
                else:
                    generation = int(raw_generation)
            except redis.RedisError:
                logger.warning("failure counter: Redis unreachable, counting in-process")
        if count >= self.limit:
            return max(1, math.ceil(ends - now)), generation, reply
        return 0, generation, reply

    def record(self, request, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        key, _ = self._key(request, now)
        _count(key, add=True, expire=self.window * 2)


def _count(key: str, *, add: bool, expire: int) -> int:
    if settings.REDIS_URL:
        import redis

        try:
            client = redis_client(settings.REDIS_URL)
            if add:
                pipe = client.pipeline()
                pipe.incr(key)
                pipe.expire(key, expire)
                return int(pipe.execute()[0])
            return int(client.get(key) or 0)
        except redis.RedisError:
            logger.warning("failure counter: Redis unreachable, counting in-process")
    return _memory.incr(key) if add else _memory.get(key)
