"""The Protokoll as a CSV file (staff API `?format=csv`, the page's download): every
matching entry, streamed in chunks, so memory does not grow with the log.

Made for German spreadsheet programs: UTF-8 with BOM, `;` between cells, CRLF line
ends (as the handover export). The columns are the API's fields with their names,
plus `action_label` (German). A cell starting with `=`, `+`, `-`, `@` or a control
character gets a leading `'`, so Excel never reads a name or detail as a formula."""

import csv
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from audit.actions import label
from audit.models import AuditEvent

COLUMNS = (
    "time",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "detail",
    "action_label",
)
CHUNK = 2000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def csv_row(event: AuditEvent, *, zone) -> list[str]:
    return [
        event.time.astimezone(zone).isoformat(),
        _cell(event.actor_label),
        event.action,
        event.object_type,
        _cell(event.object_id),
        str(event.patient_id) if event.patient_id else "",
        _cell(event.detail),
        label(event.action),
    ]


def csv_lines(events: QuerySet[AuditEvent], *, zone) -> Iterator[str]:
    writer = csv.writer(_Echo(), delimiter=";", lineterminator="\r\n")
    yield "\ufeff" + writer.writerow(COLUMNS)
    for event in events.iterator(chunk_size=CHUNK):
        yield writer.writerow(csv_row(event, zone=zone))


def csv_response(events: QuerySet[AuditEvent], *, organisation) -> StreamingHttpResponse:
    filename = f"protokoll-{organisation.today().isoformat()}.csv"
    return StreamingHttpResponse(
        (line.encode("utf-8") for line in csv_lines(events, zone=organisation.zone)),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
