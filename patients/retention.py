"""How long a record is kept (staff-api.md 1.1, "Records under retention law").

A record's treatment history is any appointment that is or ever was done or a
no-show, any documentation entry, attachment or invoice. It is kept until 31 December
of the year of its latest such event (in the organisation's zone) plus ten years
(§ 630f BGB), and is deleted before that only when it has none.

The apps that hold such events sit above patients: each registers, in its
`AppConfig.ready`, what it knows about a record (`register`): the date of its latest
event, and how to erase its rows of a record once the record is past retention."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from patients.models import Patient

RETENTION_YEARS = 10  # § 630f Abs. 3 BGB


@dataclass(frozen=True)
class HistorySource:
    name: str
    # The date (organisation's zone) of the record's latest treatment event here.
    latest_event: Callable[[Patient], date | None]
    # Deletes this app's rows of the record; runs inside lemniscus.erasure.erasure().
    # Returns False when something of it must still be kept (then nothing is erased).
    erase: Callable[[Patient, date], bool]


_sources: dict[str, HistorySource] = {}


def register(source: HistorySource) -> None:
    _sources[source.name] = source


def sources() -> list[HistorySource]:
    return list(_sources.values())


def latest_treatment(patient: Patient) -> date | None:
    """The date of the record's latest treatment event; None: it has none."""
    dates = [day for source in sources() if (day := source.latest_event(patient))]
    return max(dates, default=None)


def retain_until(patient: Patient) -> date | None:
    """31 December of the latest treatment event's year + 10; None: no history."""
    latest = latest_treatment(patient)
    return date(latest.year + RETENTION_YEARS, 12, 31) if latest else None
