"""Appointments an external booking platform hands over for billing (Doctolib's
"Termin in lemniscus speichern", zipper-api.md "Appointments"): what such a push
would do, read in one SQL statement. The push (appointments.services
`appointment_upsert_external`) and the transfer preview both plan with
`external_plan`: one path, not two.

The statement reads, in one round trip: the linked patient, the appointment already
held for the external id (on PostgreSQL with its row version, `xmin`: the push writes
only if nobody has changed the row since, else plans again), the calendar
column for the agenda (linked to it, else the oldest unlinked one of that name), the
service chains the motive could match (and the one the appointment has), and the
lemniscus-only appointments the time overlaps in that column. Each row comes back as
a JSON object (PostgreSQL `json_build_object`, SQLite `json_object`: the same
arguments) and is turned into a model instance here."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache

from django.db import connection, models
from django.utils.dateparse import parse_datetime

from appointments.models import (
    Appointment,
    AppointmentSource,
    AppointmentStatus,
    CalendarColumn,
    ServiceChainMatch,
)
from billing.models import ServiceChain
from lemniscus.db import fetch_prepared
from lemniscus.errors import PatientNotLinked
from patients.models import Patient

MAX_DURATION = timedelta(minutes=1440)


class PushOutcome:
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass(frozen=True)
class ExternalAppointment:
    """A finished appointment as the platform sends it (already validated)."""

    external_id: str
    patient_external_id: str
    agenda_id: str
    agenda_name: str
    motive_name: str
    motive_sync_id: str
    start: datetime
    duration_minutes: int
    note: str

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.duration_minutes)


@dataclass
class ExternalPlan:
    """What a push does. `column` is None when a new column would be created;
    `existing` is the appointment held (after a write: the one written), `version`
    its row version when read (PostgreSQL's `xmin`; None on SQLite)."""

    request: ExternalAppointment
    patient: Patient | None
    existing: Appointment | None
    column: CalendarColumn | None
    column_created: bool
    chain: ServiceChain | None
    chain_match: str
    rematched: bool
    outcome: str
    warnings: list[dict] = field(default_factory=list)
    refusal: Exception | None = None
    version: str | None = None

    @property
    def column_name(self) -> str:
        return self.request.agenda_name

    @property
    def invoiced(self) -> bool:
        return bool(self.existing and self.existing.invoice_id)


def match_service_chain(
    chains: list[ServiceChain], *, name: str, sync_id: str
) -> tuple[ServiceChain | None, str]:
    """Case-sensitive, whole strings: a non-empty sync id must stand in a chain's notes
    as a white-space-separated word (the description is then not used, even when
    nothing matches); otherwise the description must equal the motive's name."""
    if sync_id:
        hits = [chain for chain in chains if sync_id in chain.notes.split()]
        kind = ServiceChainMatch.SYNC_ID
    else:
        hits = [chain for chain in chains if name and chain.description == name]
        kind = ServiceChainMatch.DESCRIPTION
    if len(hits) == 1:
        return hits[0], kind
    return None, ServiceChainMatch.AMBIGUOUS if hits else ServiceChainMatch.NONE


# -- the statement ------------------------------------------------------------------

_PATIENT_FIELDS = ("id", "public_id", "first_name", "last_name", "doctolib_patient_id")
_CHAIN_FIELDS = ("id", "public_id", "description", "notes")
_COLLISION_FIELDS = ("id", "public_id", "start", "duration_minutes")


def _concrete(model) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def _object(function: str, alias: str, names, extra: str = "") -> str:
    pairs = ", ".join(f"'{name}', {alias}.{connection.ops.quote_name(name)}" for name in names)
    return f"{function}({pairs}{extra})"


@cache
def _statement(vendor: str) -> str:
    function = "json_build_object" if vendor == "postgresql" else "json_object"
    # The row version (PostgreSQL's xmin moves with every UPDATE): the push's write is
    # conditional on it. SQLite has none; there the push plans and writes in one
    # transaction.
    version = ", xmin::text AS row_version" if vendor == "postgresql" else ""
    version_pair = ", 'row_version', e.row_version" if vendor == "postgresql" else ""
    # Only those that end after the start (external_plan checks it again: SQLite
    # reads them all from the day before on).
    overlapping = (
        "\n   AND o.start + o.duration_minutes * interval '1 minute' > %(start)s"
        if vendor == "postgresql"
        else ""
    )
    table = connection.ops.quote_name
    appointments = table(Appointment._meta.db_table)
    return f"""
WITH existing AS (
    SELECT *{version} FROM {appointments}
    WHERE organisation_id = %(organisation)s AND doctolib_appointment_id = %(external_id)s
),
col AS (
    SELECT * FROM {table(CalendarColumn._meta.db_table)}
    WHERE organisation_id = %(organisation)s
      AND (doctolib_agenda_id = %(agenda_id)s
           OR (doctolib_agenda_id IS NULL AND name = %(agenda_name)s))
    ORDER BY CASE WHEN doctolib_agenda_id IS NULL THEN 1 ELSE 0 END, created_at, id
    LIMIT 1
)
SELECT 'patient', {_object(function, "p", _PATIENT_FIELDS)}
  FROM {table(Patient._meta.db_table)} p
 WHERE p.organisation_id = %(organisation)s AND p.doctolib_patient_id = %(patient_external_id)s
UNION ALL
SELECT 'existing', {_object(function, "e", _concrete(Appointment), version_pair)}
  FROM existing e
UNION ALL
SELECT 'column', {_object(function, "c", _concrete(CalendarColumn))} FROM col c
UNION ALL
SELECT 'chain', {_object(function, "s", _CHAIN_FIELDS)}
  FROM {table(ServiceChain._meta.db_table)} s
 WHERE s.organisation_id = %(organisation)s
   AND (s.id IN (SELECT service_chain_id FROM existing)
        OR (%(sync_id)s <> '' AND s.notes LIKE %(sync_pattern)s ESCAPE '\\')
        OR (%(sync_id)s = '' AND s.description = %(motive_name)s))
UNION ALL
SELECT 'collision', {_object(function, "o", _COLLISION_FIELDS)}
  FROM {appointments} o JOIN col ON o.calendar_column_id = col.id
 WHERE o.organisation_id = %(organisation)s
   AND o.source = %(lemniscus)s AND o.status <> %(cancelled)s
   AND o.start < %(end)s AND o.start > %(earliest)s{overlapping}
   AND NOT EXISTS (SELECT 1 FROM existing x WHERE x.id = o.id)
"""


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _python_value(model_field, value):
    """A value as the JSON object holds it, as the model field holds it."""
    if value is None:
        return None
    if isinstance(model_field, models.DateTimeField):
        moment = parse_datetime(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(model_field, models.UUIDField):
        return uuid.UUID(value)
    return value


def _instance(model, data: dict):
    """A model instance from the statement's JSON object (fields not in it deferred)."""
    fields = [f for f in model._meta.concrete_fields if f.attname in data]
    return model.from_db(
        connection.alias,
        [f.attname for f in fields],
        [_python_value(f, data[f.attname]) for f in fields],
    )


def _rows(organisation, request: ExternalAppointment):
    params = {
        "organisation": organisation.pk,
        "external_id": request.external_id,
        "agenda_id": request.agenda_id,
        "agenda_name": request.agenda_name,
        "patient_external_id": request.patient_external_id,
        "sync_id": request.motive_sync_id,
        "sync_pattern": _like_pattern(request.motive_sync_id),
        "motive_name": request.motive_name,
        "lemniscus": AppointmentSource.LEMNISCUS,
        "cancelled": AppointmentStatus.CANCELLED,
        "start": connection.ops.adapt_datetimefield_value(request.start),
        "end": connection.ops.adapt_datetimefield_value(request.end),
        "earliest": connection.ops.adapt_datetimefield_value(request.start - MAX_DURATION),
    }
    for kind, data in fetch_prepared(_statement(connection.vendor), params):
        yield kind, json.loads(data) if isinstance(data, str) else data


def _collision(other: Appointment, zone) -> dict:
    return {
        "code": "collision",
        "detail": (
            "Überschneidung mit einem nur in lemniscus vergebenen Termin "
            f"({other.start.astimezone(zone):%d.%m.%Y %H:%M}, {other.duration_minutes} Min.)"
            "; Doctolib sieht solche Termine nicht."
        ),
        "appointment_id": str(other.public_id),
    }


def external_plan(*, organisation, request: ExternalAppointment) -> ExternalPlan:
    """What pushing `request` would do now, without writing or locking."""
    found: dict[str, list] = {"patient": [], "existing": [], "column": [], "chain": []}
    collisions: list[Appointment] = []
    models_by_kind = {
        "patient": Patient,
        "existing": Appointment,
        "column": CalendarColumn,
        "chain": ServiceChain,
    }
    version = None
    for kind, data in _rows(organisation, request):
        if kind == "existing":
            version = data.get("row_version")
        if kind == "collision":
            collisions.append(_instance(Appointment, data))
        else:
            found[kind].append(_instance(models_by_kind[kind], data))
    patient = found["patient"][0] if found["patient"] else None
    existing = found["existing"][0] if found["existing"] else None
    column = found["column"][0] if found["column"] else None
    chains = {chain.pk: chain for chain in found["chain"]}

    motive = (request.motive_name, request.motive_sync_id)
    rematch = (
        existing is None
        or existing.service_chain_id is None
        or (existing.doctolib_motive_name, existing.doctolib_motive_sync_id) != motive
    )
    if rematch:
        chain, chain_match = match_service_chain(
            list(chains.values()), name=request.motive_name, sync_id=request.motive_sync_id
        )
    else:
        chain, chain_match = chains.get(existing.service_chain_id), existing.service_chain_match
    zone = organisation.zone
    plan = ExternalPlan(
        request=request,
        patient=patient,
        existing=existing,
        column=column,
        column_created=column is None,
        chain=chain,
        chain_match=chain_match,
        rematched=rematch,
        outcome=PushOutcome.CREATED,
        version=version,
        warnings=[
            _collision(other, zone)
            for other in sorted(collisions, key=lambda other: (other.start, other.pk))
            if other.start + timedelta(minutes=other.duration_minutes) > request.start
        ],
    )
    if existing is not None:
        existing.organisation = organisation
        if column is not None and existing.calendar_column_id == column.pk:
            existing.calendar_column = column
        if patient is not None and existing.patient_id == patient.pk:
            existing.patient = patient
        if existing.service_chain_id in chains:
            existing.service_chain = chains[existing.service_chain_id]
        same = (
            patient is not None
            and existing.patient_id == patient.pk
            and column is not None
            and existing.calendar_column_id == column.pk
            and existing.start == request.start
            and existing.duration_minutes == request.duration_minutes
            and existing.note == request.note
            and existing.service_chain_id == (chain.pk if chain else None)
        )
        plan.outcome = PushOutcome.UNCHANGED if same else PushOutcome.UPDATED
    if patient is None:
        plan.refusal = PatientNotLinked(
            "Der Termin nennt einen Doctolib-Patienten, der mit keiner Akte verknüpft ist.",
            status=422,
        )
    elif plan.outcome != PushOutcome.UNCHANGED and existing is not None:
        plan.refusal = existing.invoice_lock(
            "Der Termin steht auf einer Rechnung; Änderungen aus Doctolib werden nicht übernommen."
        )
    return plan
