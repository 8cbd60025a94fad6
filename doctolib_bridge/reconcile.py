"""Reconciliation ("Abgleich", operations.md): the leading-system rules applied to
every linked record against Doctolib's last known values, without asking.

Batched by primary key, each batch in its own transaction; idempotent (a second run
changes nothing) and resumable (`after_pk`)."""

import time
from dataclasses import dataclass
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef
from django.utils import timezone

from doctolib_bridge.feed import feed_append_many
from doctolib_bridge.models import DoctolibPatientState
from doctolib_bridge.sync import RECONCILE_ACTOR, evaluate, rules_would_change
from lemniscus.db import single_flight
from lemniscus.tenancy import scoped
from organisations.models import PLANS_WITH_DOCTOLIB, Organisation
from patients.models import Patient
from patients.services import patient_update_many
from tokens.models import Token, TokenKind

BATCH_SIZE = 1000


@dataclass
class ReconcileResult:
    checked: int = 0
    set_back: int = 0
    queued: int = 0
    last_pk: int = 0
    finished: bool = True
    # Another reconciliation of the organisation was running: this one did nothing.
    skipped: bool = False

    def add(self, other: "ReconcileResult") -> None:
        self.checked += other.checked
        self.set_back += other.set_back
        self.queued += other.queued
        self.last_pk = other.last_pk
        self.finished = other.finished


def unscoped_organisations_with_doctolib():
    """Every organisation whose plan includes the integration and that has an active
    Doctolib token (a cross-tenant read, for the periodic job)."""
    active_token = Token.objects.filter(
        organisation=OuterRef("pk"), kind=TokenKind.DOCTOLIB, revoked_at__isnull=True
    )
    return Organisation.objects.filter(plan__in=PLANS_WITH_DOCTOLIB).filter(Exists(active_token))


def _needs_work(patient: Patient) -> bool:
    """Whether the rules would change anything for this record (evaluated on a copy
    read without a lock). `sync.rules_would_change` is the same question in SQL."""
    state = patient.doctolib_state
    pairs_before = dict(state.queued_pairs)
    outcome = evaluate(patient, state, dict(state.last_known))
    return bool(outcome.applied or outcome.to_doctolib or state.queued_pairs != pairs_before)


def _linked(organisation):
    return scoped(Patient, organisation).filter(
        doctolib_patient_id__isnull=False, doctolib_state__isnull=False
    )


def _select_batch(organisation, after_pk: int, size: int) -> tuple[int, int, list[int]]:
    """Of up to `size` linked records after `after_pk`: how many there are, the last
    primary key, and the primary keys of those the rules would change. On PostgreSQL
    one statement compares them all (`sync.rules_would_change`) and returns only those
    keys; elsewhere (SQLite, the development default) each record is evaluated here."""
    batch = _linked(organisation).filter(pk__gt=after_pk).order_by("pk")
    if connection.vendor != "postgresql":
        candidates = list(batch.select_related("doctolib_state")[:size])
        differing = [patient.pk for patient in candidates if _needs_work(patient)]
        return len(candidates), candidates[-1].pk if candidates else after_pk, differing
    sql, params = _selection_statement(organisation.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, after_pk, after_pk, size])
        checked, last_pk, differing = cursor.fetchone()
    return checked, last_pk or after_pk, differing


@lru_cache(maxsize=64)
def _selection_statement(organisation_pk: int) -> tuple[str, tuple]:
    """The batch statement of `_select_batch`, compiled once per organisation and
    process (compiling the ten fields' comparison costs more than running it)."""
    flagged = _linked(organisation_pk).values(
        patient_id=F("pk"),
        state_patient_id=F("doctolib_state__patient_id"),
        differs=ExpressionWrapper(rules_would_change(), output_field=BooleanField()),
    )
    sql, params = flagged.query.sql_with_params()
    # The bound on both sides of the join: PostgreSQL carries `id > n` over to the
    # state's `patient_id` only for equalities, and without it each batch read the
    # states from the first one on (a merge join), so batch k read k batches.
    statement = (
        "SELECT count(*), max(batch.patient_id), coalesce(array_agg(batch.patient_id "
        "ORDER BY batch.patient_id) FILTER (WHERE batch.differs), '{}') "
        f"FROM (SELECT * FROM ({sql}) AS linked WHERE linked.patient_id > %s "
        "AND linked.state_patient_id > %s ORDER BY linked.patient_id LIMIT %s) AS batch"
    )
    return statement, params


@transaction.atomic
def reconcile_batch(*, organisation, after_pk: int = 0, size: int = BATCH_SIZE) -> ReconcileResult:
    """Up to `size` linked records after `after_pk`, compared without locks; only those
    the rules would change are locked, read again and reconciled, so staff edits and
    pushes of the others never wait for the batch."""
    checked, last_pk, differing = _select_batch(organisation, after_pk, size)
    result = ReconcileResult(checked=checked, finished=checked < size, last_pk=last_pk)
    if not differing:
        return result
    linked = _linked(organisation)
    locked = (
        linked.filter(pk__in=differing)
        .select_related("doctolib_state")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    set_back, to_feed, newly_queued = [], [], []
    for patient in locked:  # as stored now: a change since the first read counts
        patient.organisation = organisation
        state = patient.doctolib_state
        pairs_before = dict(state.queued_pairs)
        outcome = evaluate(patient, state, dict(state.last_known))
        if outcome.applied:
            set_back.append((patient, outcome.applied))
        if state.queued_pairs != pairs_before:
            state.updated_at = timezone.now()
            newly_queued.append(state)
        if outcome.to_doctolib:
            to_feed.append((patient, outcome.to_doctolib))
    # Written for the whole batch at once, each writer in a few statements.
    patient_update_many(changes=set_back, reason=RECONCILE_ACTOR, queue_for_doctolib=False)
    feed_append_many(organisation=organisation, entries=to_feed)
    _save_queued_pairs(newly_queued)
    result.set_back, result.queued = len(set_back), len(to_feed)
    return result


def _save_queued_pairs(states: list[DoctolibPatientState]) -> None:
    """The states' new `queued_pairs` in one UPDATE … FROM (VALUES …) on PostgreSQL
    (bulk_update's CASE per row cost more in Python than the rest of the batch)."""
    if connection.vendor != "postgresql" or not states:
        DoctolibPatientState.objects.bulk_update(states, ["queued_pairs", "updated_at"])
        return
    pairs = DoctolibPatientState._meta.get_field("queued_pairs")
    params = []
    for state in states:
        params += [
            state.pk,
            pairs.get_db_prep_save(state.queued_pairs, connection),
            state.updated_at,
        ]
    values = ", ".join(["(%s::bigint, %s::jsonb, %s::timestamptz)"] * len(states))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DoctolibPatientState._meta.db_table} AS s "
            "SET queued_pairs = v.pairs, updated_at = v.updated_at "
            f"FROM (VALUES {values}) AS v(id, pairs, updated_at) WHERE s.id = v.id",
            params,
        )


def reconcile_organisation(
    *,
    organisation,
    after_pk: int = 0,
    time_budget: float | None = None,
    batch_size: int = BATCH_SIZE,
) -> ReconcileResult:
    """Batches until done, or until `time_budget` seconds are spent (then `finished`
    is False and `last_pk` says where to go on). Single-flight per organisation: while
    another reconciliation of it runs (beat and `manage.py reconcile` at once), this
    one does nothing and answers `skipped` (two at once queued every change twice)."""
    with single_flight("reconcile", organisation.pk) as mine:
        if not mine:
            return ReconcileResult(last_pk=after_pk, finished=True, skipped=True)
        return _reconcile(organisation, after_pk, time_budget, batch_size)


def _reconcile(organisation, after_pk, time_budget, batch_size) -> ReconcileResult:
    started = time.monotonic()
    total = ReconcileResult(last_pk=after_pk)
    while True:
        batch = reconcile_batch(organisation=organisation, after_pk=total.last_pk, size=batch_size)
        total.add(batch)
        if batch.finished:
            return total
        if time_budget is not None and time.monotonic() - started > time_budget:
            total.finished = False
            return total
