"""The leading-system rules for linked records (zipper-api.md, "Leading system per
field"), applied alike at every patient push, at staff edits and by reconciliation.

Values are compared in a canonical form: text NFC-normalised and trimmed, "" for
none, phones in E.164, dates as `YYYY-MM-DD`.
"""

import operator
from dataclasses import dataclass, field
from datetime import date
from functools import reduce

from django.db.models import BooleanField, DateField, F, Func, JSONField, Q, TextField, Value
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Exact

from doctolib_bridge.feed import feed_append
from doctolib_bridge.fields import (
    LEMNISCUS_LED_FIELDS,
    PATIENT_FIELD_LEADERS,
    SYNCED_PATIENT_FIELDS,
    Leader,
)
from doctolib_bridge.models import DoctolibPatientState
from patients.models import Patient

DOCTOLIB_SYNC_ACTOR = "Doctolib-Sync"
RECONCILE_ACTOR = "Abgleich Doctolib"


def _is_date(name: str) -> bool:
    return isinstance(Patient._meta.get_field(name), DateField)


def canonical(patient: Patient, name: str) -> str:
    value = getattr(patient, name)
    if _is_date(name):
        return value.isoformat() if value else ""
    return value or ""


def to_model_value(name: str, value: str):
    if _is_date(name):
        return date.fromisoformat(value) if value else None
    return value


@dataclass
class RuleOutcome:
    """Field changes for lemniscus (`applied`, with their new model values) and the
    fields newly queued for Doctolib, both in the contract's field order."""

    applied: dict[str, object] = field(default_factory=dict)
    to_doctolib: list[str] = field(default_factory=list)


def state_for(patient: Patient) -> DoctolibPatientState:
    state, _ = DoctolibPatientState.objects.get_or_create(patient=patient)
    return state


def _queue_if_new_pair(state: DoctolibPatientState, name: str, ours: str, theirs: str) -> bool:
    """Queue a lemniscus-led value for Doctolib once per (ours, theirs) pair."""
    pair = [ours, theirs]
    if state.queued_pairs.get(name) == pair:
        return False
    state.queued_pairs[name] = pair
    return True


def evaluate(
    patient: Patient, state: DoctolibPatientState, doctolib: dict[str, str]
) -> RuleOutcome:
    """Apply Doctolib's view `doctolib` (canonical values of the fields it sent) to the
    record in memory: Doctolib-led fields take Doctolib's value (its "none" clears
    ours), an empty lemniscus-led field is filled from Doctolib, a differing
    non-empty lemniscus-led value is queued for Doctolib. Updates `state`."""
    outcome = RuleOutcome()
    for name in SYNCED_PATIENT_FIELDS:
        if name not in doctolib:
            continue
        theirs = doctolib[name]
        state.last_known[name] = theirs
        ours = canonical(patient, name)
        if PATIENT_FIELD_LEADERS[name] is Leader.DOCTOLIB or not ours:
            if ours != theirs:
                outcome.applied[name] = to_model_value(name, theirs)
            continue
        if ours != theirs and _queue_if_new_pair(state, name, ours, theirs):
            outcome.to_doctolib.append(name)
    return outcome


class _Distinct(Func):
    """`a IS DISTINCT FROM b`: inequality where NULL is a value like any other."""

    arg_joiner = " IS DISTINCT FROM "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def canonical_expression(name: str) -> Func:
    """`canonical` in SQL (PostgreSQL): dates as `YYYY-MM-DD`, text as stored, "" for
    none."""
    if _is_date(name):
        value = Func(F(name), Value("YYYY-MM-DD"), function="to_char", output_field=TextField())
    else:
        value = Cast(F(name), TextField())
    return Coalesce(value, Value(""), output_field=TextField())


def rules_would_change() -> Q:
    """A condition on linked patients (PostgreSQL) that holds exactly for the records
    where `evaluate` against the state's `last_known` would change something: a
    Doctolib-led field differs from Doctolib's value, an empty lemniscus-led field
    would be filled, or a differing lemniscus-led value forms a pair not yet queued.

    Values are compared as JSON (`to_jsonb` of our canonical text against the stored
    value), so a stored value compares as in Python: equal only to the same string."""
    conditions = []
    for name in SYNCED_PATIENT_FIELDS:
        ours = canonical_expression(name)
        theirs = KeyTransform(name, "doctolib_state__last_known")
        differs = Q(**{"doctolib_state__last_known__has_key": name}) & Q(
            _Distinct(theirs, Func(ours, function="to_jsonb", output_field=JSONField()))
        )
        if PATIENT_FIELD_LEADERS[name] is Leader.LEMNISCUS:
            queued = KeyTransform(name, "doctolib_state__queued_pairs")
            pair = Func(ours, theirs, function="jsonb_build_array", output_field=JSONField())
            differs &= Q(Exact(ours, Value(""))) | Q(_Distinct(queued, pair))
        conditions.append(differs)
    return reduce(operator.or_, conditions)


def queue_lemniscus_changes(patient: Patient, names: list[str]) -> list[str]:
    """After staff changed `names` of a record with the checkbox set: a record not yet
    linked goes to the feed as `patient.create`; on a linked one each lemniscus-led
    value that differs from Doctolib's last known value is queued once."""
    if not patient.sync_to_doctolib:
        return []
    if not patient.doctolib_patient_id:
        relevant = [n for n in SYNCED_PATIENT_FIELDS if n in names]
        if relevant or "sync_to_doctolib" in names:
            feed_append(patient=patient, fields=relevant)
        return relevant
    state = state_for(patient)
    queued = []
    for name in LEMNISCUS_LED_FIELDS:
        if name not in names:
            continue
        ours = canonical(patient, name)
        theirs = state.last_known.get(name)
        if ours and ours != theirs and _queue_if_new_pair(state, name, ours, theirs or ""):
            queued.append(name)
    if queued:
        state.save(update_fields=["queued_pairs", "updated_at"])
        feed_append(patient=patient, fields=queued)
    return queued
