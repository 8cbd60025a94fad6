"""Parsing times as the contracts want them: ISO 8601 with an offset."""

from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

EARLIEST_YEAR, LATEST_YEAR = 1900, 2200


class TimeError(ValueError):
    """`code` is "invalid", "naive" or "range"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def parse_aware(value) -> datetime:
    """The instant (in UTC) of an ISO 8601 time with offset; raises TimeError."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = parse_datetime(str(value).strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise TimeError("invalid")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise TimeError("naive")
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        raise TimeError("range") from None
    if not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise TimeError("range")
    return instant
