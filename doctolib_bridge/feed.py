"""The change feed (lemniscus → Doctolib), zipper-api.md "Change feed".

Writers append in the same transaction as the patient change and lock the
organisation's counter row until they commit: cursors become visible in the
order they were issued, so a reader that has seen cursor n has seen every cursor
below n, and never skips an entry.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from doctolib_bridge.fields import LEMNISCUS_LED_FIELDS, SYNCED_PATIENT_FIELDS
from doctolib_bridge.models import ChangeFeedEntry, ChangeKind, FeedCounter
from lemniscus.errors import ValidationFailed
from lemniscus.text import is_ascii_number
from patients.models import Patient

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
_SCAN_BATCH = 1000


def _locked_counter(organisation) -> FeedCounter:
    counter = FeedCounter.objects.select_for_update().filter(organisation=organisation).first()
    if counter is None:
        try:
            with transaction.atomic():
                FeedCounter.objects.create(organisation=organisation)
        except IntegrityError:
            pass  # created by a concurrent writer
        counter = FeedCounter.objects.select_for_update().get(organisation=organisation)
    return counter


@transaction.atomic
def feed_append(*, patient: Patient, fields: Iterable[str]) -> ChangeFeedEntry:
    """Queue the record for Doctolib. Call inside the transaction that changes it."""
    counter = _locked_counter(patient.organisation)
    counter.last_cursor += 1
    counter.save(update_fields=["last_cursor"])
    return ChangeFeedEntry.objects.create(
        organisation_id=patient.organisation_id,
        cursor=counter.last_cursor,
        patient=patient,
        fields=list(fields),
    )


@transaction.atomic
def feed_append_many(
    *, organisation, entries: Iterable[tuple[Patient, Iterable[str]]]
) -> list[ChangeFeedEntry]:
    """`feed_append` for many records of `organisation` at once (reconciliation): the
    counter is locked and advanced once for all of them and the entries are inserted
    in one statement, cursors in the order given. Call inside the transaction that
    changes them: the counter stays locked until it commits, so cursors still become
    visible in the order they were issued."""
    entries = [(patient, list(fields)) for patient, fields in entries]
    if not entries:
        return []
    if any(patient.organisation_id != organisation.pk for patient, _ in entries):
        raise ValueError("feed_append_many: a record of another organisation")
    counter = _locked_counter(organisation)
    first = counter.last_cursor + 1
    counter.last_cursor += len(entries)
    counter.save(update_fields=["last_cursor"])
    return ChangeFeedEntry.objects.bulk_create(
        ChangeFeedEntry(
            organisation_id=organisation.pk, cursor=cursor, patient=patient, fields=fields
        )
        for cursor, (patient, fields) in enumerate(entries, start=first)
    )


@dataclass(frozen=True)
class Change:
    cursor: int
    kind: str
    patient: Patient


@dataclass(frozen=True)
class FeedPage:
    changes: list[Change]
    next_cursor: int


def parse_cursor(raw: str | None, *, organisation) -> int:
    """0 for "from the beginning"; a cursor this organisation never issued is a 422."""
    if raw is None or raw == "":
        return 0
    last = (
        FeedCounter.objects.filter(organisation=organisation)
        .values_list("last_cursor", flat=True)
        .first()
    ) or 0
    # Issued cursors are plain decimals: "07" or "+7" name no cursor, not cursor 7.
    if not is_ascii_number(raw) or raw != str(int(raw)) or int(raw) > last:
        raise ValidationFailed(
            "Diesen Cursor hat lemniscus nie ausgegeben.",
            errors={"after": ["Unbekannter Cursor."]},
        )
    return int(raw)


def feed_page(*, organisation, after: int, limit: int = DEFAULT_LIMIT) -> FeedPage:
    """Up to `limit` records changed after `after`, each once, with current values,
    ordered by their newest cursor in the page. Records whose checkbox is no longer
    set are passed over: they take no place in the page, and their entries advance
    the cursor only with a page that has changes (an empty page keeps `after`)."""
    newest: dict[int, int] = {}
    next_cursor = after
    scanned_to = after
    done = False
    while not done:
        batch = list(
            ChangeFeedEntry.objects.filter(organisation=organisation, cursor__gt=scanned_to)
            .order_by("cursor")
            .values_list("cursor", "patient_id", "patient__sync_to_doctolib")[:_SCAN_BATCH]
        )
        for cursor, patient_id, ticked in batch:
            if ticked:
                if patient_id not in newest and len(newest) >= limit:
                    done = True
                    break
                newest[patient_id] = cursor
            next_cursor = cursor
        if len(batch) < _SCAN_BATCH:
            break
        scanned_to = batch[-1][0]
    patients = Patient.objects.in_bulk(list(newest))
    changes = []
    for patient_id, cursor in sorted(newest.items(), key=lambda item: item[1]):
        patient = patients.get(patient_id)
        if patient is None or not patient.sync_to_doctolib:
            continue
        kind = ChangeKind.UPDATE if patient.doctolib_patient_id else ChangeKind.CREATE
        changes.append(Change(cursor=cursor, kind=kind, patient=patient))
    return FeedPage(changes=changes, next_cursor=next_cursor if changes else after)


def change_field_names(change: Change) -> tuple[str, ...]:
    """The fields a change carries: every synced field for a record Doctolib does not
    have yet (`patient.create`), the lemniscus-led ones for a linked one."""
    return LEMNISCUS_LED_FIELDS if change.kind == ChangeKind.UPDATE else SYNCED_PATIENT_FIELDS
