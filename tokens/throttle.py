"""Failed token attempts per client address (zipper-api.md 1.1, on the Zipper and
the staff API alike): an address that sent 20 unknown, revoked or malformed bearer
tokens within a minute gets 429 `rate_limited` with `Retry-After` for its next ones
(the 21st on), before their token is even looked at, until that minute is over."""

from lemniscus import throttle
from lemniscus.errors import RateLimited

FAILED_TOKENS = throttle.FailureLimit(name="token-fail", limit=20, window=60)


def reset() -> None:
    throttle.reset()


def refuse_if_over(request, *, now: float | None = None, along=None) -> tuple[int | None, object]:
    """429 for an address past the limit in this minute (call before the token check).
    Returns the auth generation read in the same round trip (None without Redis), for
    tokens.services.token_authenticate_cached, and the reply to what `along(pipe)`
    queued on that round trip (lemniscus.throttle.FailureLimit.over_with_generation)."""
    wait, generation, reply = FAILED_TOKENS.over_with_generation(request, now=now, along=along)
    if wait:
        raise RateLimited(retry_after=wait)
    return generation, reply


def record_failure(request, *, now: float | None = None) -> None:
    """A bearer token that was sent and is not valid."""
    FAILED_TOKENS.record(request, now=now)
