"""Writing patient records. Every entry point (staff API, pages, bridge, admin)
calls these functions; each change is recorded in the record's history with its actor,
and in the Protokoll (audit) with the names of the changed fields, never their values."""

import logging
from collections.abc import Iterable, Mapping
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from appointments.models import Appointment
from audit.actions import Action
from audit.services import audit_event, audit_record, audit_record_many, fields_detail
from lemniscus.erasure import erasure
from lemniscus.errors import (
    LinkConflict,
    PossibleDuplicate,
    RecordArchived,
    RetentionRequired,
    ValidationFailed,
)
from patients import platforms, retention, selectors
from patients.models import RECIPIENT_FIELDS, Patient

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = (
    "salutation",
    "title",
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "mobile_phone",
    "landline_phone",
    "street",
    "postal_code",
    "city",
    "notes",
    "invoice_recipient",
    "reminder_consent",
    "sync_to_doctolib",
)


# What selectors.likely_duplicates compares.
DUPLICATE_FIELDS = ("first_name", "last_name", "birth_date", "mobile_phone", "email")


def _invoice_recipient(value: dict | None) -> dict | None:
    """Who pays, complete in RECIPIENT_FIELDS (absent ones empty); null or empty:
    the patient. It needs a last name."""
    if not value:
        return None
    recipient = {name: value.get(name) or "" for name in RECIPIENT_FIELDS}
    if not recipient["last_name"]:
        raise ValidationFailed(
            "Der abweichende Rechnungsempfänger braucht einen Nachnamen.",
            errors={"invoice_recipient.last_name": ["Der Nachname darf nicht leer sein."]},
        )
    return recipient


def _checked(fields: dict) -> dict:
    for name in fields:
        if name not in EDITABLE_FIELDS:
            raise TypeError(f"not an editable patient field: {name}")
    if "invoice_recipient" in fields:
        fields = {**fields, "invoice_recipient": _invoice_recipient(fields["invoice_recipient"])}
    return fields


def _audit(patient: Patient, actor, action: str, detail: str = "") -> None:
    """The record's entry in the Protokoll, in the caller's transaction. A change's
    `reason` (in `detail`) is only ever the label of the system that made it."""
    audit_record(
        organisation=patient.organisation_id,
        actor=actor,
        action=action,
        object_id=patient.public_id,
        patient=patient,
        detail=detail,
    )


def _attribute(patient: Patient, actor, reason: str | None) -> None:
    patient._history_user = actor
    if reason:
        patient._change_reason = reason


@transaction.atomic
def patient_create(
    *,
    organisation,
    actor=None,
    reason: str | None = None,
    doctolib_patient_id: str | None = None,
    confirm_duplicate: bool = False,
    **fields,
) -> Patient:
    """A new record from already validated, normalised fields; with
    `doctolib_patient_id` it is created linked (taken in from Doctolib).

    A record that looks like an existing one (selectors.likely_duplicates) is refused
    with 409 `possible_duplicate` naming them, unless `confirm_duplicate`."""
    if not confirm_duplicate:
        duplicates = selectors.likely_duplicates(
            organisation=organisation,
            **{name: fields[name] for name in DUPLICATE_FIELDS if fields.get(name)},
        )
        if duplicates:
            raise PossibleDuplicate(duplicates=[str(p.public_id) for p in duplicates])
    patient = Patient(
        organisation=organisation,
        doctolib_patient_id=doctolib_patient_id,
        reminder_consent=organisation.reminder_consent_default,
    )
    for name, value in _checked(fields).items():
        setattr(patient, name, value)
    _attribute(patient, actor, reason)
    patient.save()
    if patient.sync_to_doctolib and not doctolib_patient_id:
        platforms.synced_fields_changed(patient, list(fields))
    _audit(patient, actor, Action.PATIENT_CREATE, fields_detail([], reason))
    return patient


@transaction.atomic
def patient_link(*, patient: Patient, doctolib_patient_id: str, actor=None, reason=None) -> None:
    """Link the record to a Doctolib patient: the id and the "Doctolib" checkbox (a
    linked record always has it; the database checks it). The history and the
    Protokoll name `actor` (a member linking on a page), else `reason` (the sync).
    The caller locked the record and checked that the id is free."""
    patient.doctolib_patient_id = doctolib_patient_id
    patient.sync_to_doctolib = True
    _attribute(patient, actor, None if actor else reason)
    patient.save(update_fields=["doctolib_patient_id", "sync_to_doctolib", "updated_at"])
    _audit_link(patient, actor, Action.PATIENT_LINK, doctolib_patient_id, reason)


@transaction.atomic
def patient_unlink(*, patient: Patient, reason: str) -> None:
    """The link goes and the checkbox is cleared; the record stays."""
    doctolib_patient_id = patient.doctolib_patient_id
    patient.doctolib_patient_id = None
    patient.sync_to_doctolib = False
    _attribute(patient, None, reason)
    patient.save(update_fields=["doctolib_patient_id", "sync_to_doctolib", "updated_at"])
    _audit_link(patient, None, Action.PATIENT_UNLINK, doctolib_patient_id, reason)


def _audit_link(patient: Patient, actor, action: str, doctolib_patient_id: str, reason) -> None:
    detail = f"Doctolib-Patient {doctolib_patient_id}"
    _audit(patient, actor, action, detail + ("" if actor or not reason else f" ({reason})"))


def _refuse_update(patient: Patient, fields: dict, queue_for_doctolib: bool) -> None:
    """An archived record is read-only for staff (the platform's own changes still
    apply); a linked record keeps its checkbox (409 `link_conflict`)."""
    if patient.archived_at is not None and queue_for_doctolib:
        raise RecordArchived()
    if fields.get("sync_to_doctolib") is False and patient.doctolib_patient_id:
        raise LinkConflict(
            "Die Akte ist mit Doctolib verknüpft; das Häkchen „Doctolib“ bleibt gesetzt, "
            "solange die Verknüpfung besteht."
        )


@transaction.atomic
def patient_update(
    *,
    patient: Patient,
    actor=None,
    reason: str | None = None,
    queue_for_doctolib: bool = True,
    **fields,
) -> Patient:
    """Change the given fields. Clearing the "Doctolib" checkbox of a linked record
    is refused (`link_conflict`): the link must be removed in Doctolib first.

    A record with the checkbox set goes to the change feed in the same transaction
    (`queue_for_doctolib=False` for changes that came from Doctolib itself). An
    archived record is read-only for staff (409 `record_archived`); what Doctolib leads
    still follows Doctolib, so the bridge's own changes apply."""
    _refuse_update(patient, fields, queue_for_doctolib)
    changed = []
    for name, value in _checked(fields).items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    if changed:
        _attribute(patient, actor, reason)
        patient.save(update_fields=[*changed, "updated_at"])
        if queue_for_doctolib:
            platforms.synced_fields_changed(patient, changed)
        _audit(patient, actor, Action.PATIENT_UPDATE, fields_detail(changed, reason))
    return patient


# Records per statement of `patient_update_many` (a statement's size stays bounded
# whatever the caller passes).
ROWS_PER_STATEMENT = 1000

# What `Patient.save()` writes besides the fields asked for (its derived search keys,
# and `updated_at`, auto_now): `patient_update_many` writes the same.
_ALWAYS_WRITTEN = ("first_name_folded", "last_name_folded", "search_words", "updated_at")


@transaction.atomic
def patient_update_many(
    *,
    changes: Iterable[tuple[Patient, Mapping[str, object]]],
    actor=None,
    reason: str | None = None,
    queue_for_doctolib: bool = True,
) -> dict[int, list[str]]:
    """`patient_update` for many records at once (reconciliation): the same checks,
    and for each record that changes the same row update, history row (old values kept,
    `actor` / `reason`), platform call and Protokoll entry, but written in a few
    statements for all of them: one UPDATE … FROM (VALUES …) that also inserts the
    history rows, one INSERT of the Protokoll entries. Each record gets only its own changed fields.

    The caller locked the records (as for `patient_update`); each appears once.
    Returns the changed field names by primary key, for the records that changed."""
    changes = list(changes)
    if len({patient.pk for patient, _ in changes}) != len(changes):
        raise ValueError("patient_update_many: a record appears more than once")
    for patient, fields in changes:  # all refused before anything is written
        _refuse_update(patient, fields, queue_for_doctolib)
    now = timezone.now()
    written: list[tuple[Patient, list[str]]] = []
    for patient, fields in changes:
        changed = []
        for name, value in _checked(dict(fields)).items():
            if getattr(patient, name) != value:
                setattr(patient, name, value)
                changed.append(name)
        if changed:
            _attribute(patient, actor, reason)
            patient.refresh_search_keys()  # as save() does
            patient.updated_at = now  # auto_now, as save() sets it
            written.append((patient, changed))
    if not written:
        return {}
    _write_rows(written, when=now, actor=actor, reason=reason)
    if queue_for_doctolib:
        for patient, changed in written:
            platforms.synced_fields_changed(patient, changed)
    audit_record_many(
        [
            audit_event(
                organisation=patient.organisation_id,
                actor=actor,
                action=Action.PATIENT_UPDATE,
                object_id=patient.public_id,
                patient=patient,
                detail=fields_detail(changed, reason),
            )
            for patient, changed in written
        ]
    )
    return {patient.pk: changed for patient, changed in written}


def _write_rows(written: list[tuple[Patient, list[str]]], *, when, actor, reason) -> None:
    """Each record's changed fields (and what save() always writes), and its history
    row as simple_history's post_save makes it for `save()` (every tracked field as now
    stored, type "~", the user and reason `_attribute` sets), in one statement on
    PostgreSQL: UPDATE … FROM (VALUES (pk, value, changed?, …), …) RETURNING the rows
    into an INSERT of the history rows, in the order given. A field a record did not
    change keeps its stored value. Elsewhere one UPDATE per record and one INSERT."""
    if connection.vendor != "postgresql":
        for patient, changed in written:
            Patient.objects.filter(pk=patient.pk).update(
                **{name: getattr(patient, name) for name in (*changed, *_ALWAYS_WRITTEN)}
            )
        _history_rows([patient for patient, _ in written], when)
        return
    for start in range(0, len(written), ROWS_PER_STATEMENT):
        _write_chunk(
            written[start : start + ROWS_PER_STATEMENT], when=when, actor=actor, reason=reason
        )


def _write_chunk(written: list[tuple[Patient, list[str]]], *, when, actor, reason) -> None:
    names = sorted({name for _, changed in written for name in changed})
    fields = [Patient._meta.get_field(name) for name in (*names, *_ALWAYS_WRITTEN)]
    flagged = len(names)  # the first `flagged` columns are written only where changed
    row = ", ".join(
        ["%s::bigint", "%s::integer"]
        + [f"%s::{field.db_type(connection)}" for field in fields]
        + ["%s::boolean"] * flagged
    )
    params: list[object] = []
    for position, (patient, changed) in enumerate(written):
        params += [patient.pk, position]
        params.extend(
            field.get_db_prep_save(getattr(patient, field.attname), connection) for field in fields
        )
        params.extend(name in changed for name in names)
    quote = connection.ops.quote_name
    assignments = [
        f"{quote(field.column)} = CASE WHEN v.c{i} THEN v.f{i} ELSE p.{quote(field.column)} END"
        for i, field in enumerate(fields[:flagged])
    ] + [f"{quote(field.column)} = v.f{i}" for i, field in enumerate(fields) if i >= flagged]
    columns = ", ".join(
        [
            "id",
            "position",
            *(f"f{i}" for i in range(len(fields))),
            *(f"c{i}" for i in range(flagged)),
        ]
    )
    values = ", ".join(f"({row})" for _ in written)
    History = Patient.history.model
    tracked = [quote(Patient._meta.get_field(f.attname).column) for f in History.tracked_fields]
    history_columns = [quote(f.column) for f in History.tracked_fields] + [
        quote(History._meta.get_field(name).column)
        for name in ("history_date", "history_type", "history_user", "history_change_reason")
    ]
    params += [when, "~", getattr(actor, "pk", None), reason or None]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH changed AS (UPDATE {quote(Patient._meta.db_table)} AS p "
            f"SET {', '.join(assignments)} FROM (VALUES {values}) AS v({columns}) "
            f"WHERE p.id = v.id RETURNING v.position, {', '.join(f'p.{c}' for c in tracked)}) "
            f"INSERT INTO {quote(History._meta.db_table)} ({', '.join(history_columns)}) "
            f"SELECT {', '.join(tracked)}, %s, %s, %s, %s FROM changed ORDER BY position",
            params,
        )


def _history_rows(patients: list[Patient], when) -> None:
    """The history rows `Patient.save()` makes through simple_history's post_save, in
    one INSERT: every tracked field as now stored, type "~", the user and reason set by
    `_attribute`."""
    History = Patient.history.model
    History.objects.bulk_create(
        History(
            history_date=when,
            history_type="~",
            history_user=patient._history_user,
            history_change_reason=getattr(patient, "_change_reason", None),
            **{field.attname: getattr(patient, field.attname) for field in History.tracked_fields},
        )
        for patient in patients
    )


@transaction.atomic
def patient_delete(*, patient: Patient, actor=None) -> None:
    """Delete a record and its appointments. A record with treatment history is kept
    until its retention ends (409 `retention_required` with `retain_until`); it can
    be archived instead."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    keep_until = retention.retain_until(patient)
    if keep_until is not None:
        raise RetentionRequired(
            f"Die Akte hat eine Behandlungshistorie und wird bis zum "
            f"{keep_until:%d.%m.%Y} aufbewahrt (§ 630f BGB); sie kann archiviert, aber "
            "nicht gelöscht werden.",
            retain_until=keep_until.isoformat(),
        )
    for appointment in Appointment.objects.filter(patient=patient):
        appointment._history_user = actor
        appointment.delete()
    _attribute(patient, actor, None)
    _audit(patient, actor, Action.PATIENT_DELETE)
    patient.delete()


@transaction.atomic
def patient_archive(*, patient: Patient, actor) -> Patient:
    """Archive a record: read-only, and left out of lists, search and suggestions.
    Archiving an archived record changes nothing."""
    return _set_archived(patient=patient, actor=actor, archived=True)


@transaction.atomic
def patient_unarchive(*, patient: Patient, actor) -> Patient:
    return _set_archived(patient=patient, actor=actor, archived=False)


def _set_archived(*, patient: Patient, actor, archived: bool) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if (patient.archived_at is not None) != archived:
        patient.archived_at = timezone.now() if archived else None
        _attribute(patient, actor, "Archiviert" if archived else "Archivierung aufgehoben")
        patient.save(update_fields=["archived_at", "updated_at"])
        _audit(patient, actor, Action.PATIENT_ARCHIVE if archived else Action.PATIENT_UNARCHIVE)
    return patient


def patient_erase_expired(*, today: date | None = None) -> int:
    """Erase the archived records whose retention has passed, each in a transaction of
    its own: its rows in every app that registered them (invoices only once past
    their own 8 years), its history rows and the record. Returns how many."""
    today = today or timezone.localdate()
    erased = 0
    for pk in Patient.objects.filter(archived_at__isnull=False).values_list("pk", flat=True):
        try:
            if _erase_one(pk=pk, today=today):
                erased += 1
        except _KeptBack:
            continue
    return erased


class _KeptBack(Exception):
    """Something of the record must still be kept: its transaction rolls back."""


def _erase_one(*, pk: int, today: date) -> bool:
    with erasure():
        patient = (
            Patient.objects.select_for_update()
            .filter(pk=pk, archived_at__isnull=False)
            .select_related("organisation")
            .first()
        )
        if patient is None:
            return False
        keep_until = retention.retain_until(patient)
        if keep_until is not None and keep_until >= today:
            return False
        # The apps above patients first, the latest registered first (billing before
        # appointments: invoice lines point to appointments).
        for source in reversed(retention.sources()):
            if not source.erase(patient, today):
                raise _KeptBack()
        patient.delete()
        Patient.history.filter(id=pk).delete()  # with the "-" row the delete just wrote
        _audit(patient, None, Action.PATIENT_ERASE, "Aufbewahrungsfrist abgelaufen")
    logger.info("erased record %s after its retention", pk)
    return True
