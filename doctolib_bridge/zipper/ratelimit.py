"""Each organisation's Zipper API budget (`ZIPPER_RATE_LIMIT`, e.g. `1200/min`): a
token bucket that refills at the rate and holds a twelfth of a minute's budget, so
bursts of that size pass. Kept in Redis when `REDIS_URL` is set (shared by every
worker process), else in this process's memory (the embedded default).

Redis is no single point of failure (zipper-api.md 1.1): when it cannot be reached,
each process falls back to its own bucket with the same budget (so the budget then
holds per process), logs a warning at most once a minute, and goes back to Redis as
soon as it answers again."""

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
}

# KEYS[1] bucket; ARGV: capacity, refill per second, now (s). Returns retry-after ms (0: ok).
_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 60)
return wait
"""


@dataclass(frozen=True)
class Budget:
    capacity: float
    per_second: float


def parse_rate(text: str) -> Budget:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*([a-z]+)\s*", text)
    if not match or match.group(2) not in _PERIODS:
        raise ValueError(f"ZIPPER_RATE_LIMIT must look like '1200/min', not {text!r}")
    count, period = int(match.group(1)), _PERIODS[match.group(2)]
    per_second = count / period
    return Budget(capacity=max(1.0, per_second * 60 / 12), per_second=per_second)


class _MemoryBuckets:
    def __init__(self):
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, key: str, budget: Budget, now: float) -> float:
        with self._lock:
            tokens, at = self._state.get(key, (budget.capacity, now))
            tokens = min(budget.capacity, tokens + max(0.0, now - at) * budget.per_second)
            if tokens >= 1:
                self._state[key] = (tokens - 1, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (1 - tokens) / budget.per_second


_memory = _MemoryBuckets()
logger = logging.getLogger(__name__)

# A Redis that does not answer within this long counts as unreachable: a call is never
# held up longer than that by the rate limiter.
REDIS_TIMEOUT_SECONDS = 0.25
WARN_EVERY_SECONDS = 60.0


@lru_cache(maxsize=1)
def _redis_script(url: str):
    import redis

    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    return client.register_script(_LUA)


class _Warnings:
    """At most one warning a minute per process while Redis is unreachable."""

    def __init__(self):
        self._lock = threading.Lock()
        self.last: float | None = None

    def warn(self, error: Exception, now: float) -> None:
        with self._lock:
            if self.last is not None and now - self.last < WARN_EVERY_SECONDS:
                return
            self.last = now
        logger.warning(
            "rate limit store (Redis) unreachable (%s): this process counts the Zipper "
            "API budget on its own until Redis answers again",
            type(error).__name__,
        )


_warnings = _Warnings()


def reset_memory_buckets() -> None:
    """For tests: forget the in-process buckets and when the last warning was."""
    _memory._state.clear()
    _warnings.last = None


def _redis_key(organisation_key: str) -> str:
    return f"zipper-rate:{organisation_key}"


def take(organisation_key: str, *, rate: str | None = None, now: float | None = None) -> int:
    """Spend one request of the organisation's budget. Returns 0 when allowed, else the
    seconds to wait (for `Retry-After`)."""
    budget = parse_rate(rate or settings.ZIPPER_RATE_LIMIT)
    now = time.time() if now is None else now
    key = _redis_key(organisation_key)
    if settings.REDIS_URL:
        import redis

        try:
            wait_ms = int(
                _redis_script(settings.REDIS_URL)(
                    keys=[key], args=[budget.capacity, budget.per_second, now]
                )
            )
        except redis.RedisError as error:
            _warnings.warn(error, time.monotonic())
        else:
            return _seconds(wait_ms)
    wait = _memory.take(key, budget, now)
    return math.ceil(wait) if wait else 0


def take_along(organisation_key: str, *, rate: str | None = None, now: float | None = None):
    """`take` on a Redis round trip made anyway: a callable that queues the spending
    on a pipeline (lemniscus.throttle's, before the token check, for the organisation
    of the token this process has cached). Its reply goes to `wait_from_reply`."""
    budget = parse_rate(rate or settings.ZIPPER_RATE_LIMIT)
    now = time.time() if now is None else now

    def along(pipe) -> None:
        pipe.eval(_LUA, 1, _redis_key(organisation_key), budget.capacity, budget.per_second, now)

    return along


def wait_from_reply(reply) -> int:
    """The seconds to wait (0: allowed) from the reply to `take_along`'s command."""
    return _seconds(int(reply))


def _seconds(wait_ms: int) -> int:
    return math.ceil(wait_ms / 1000) if wait_ms else 0
