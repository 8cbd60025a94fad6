"""The leading-system rules for linked records (zipper-api.md, "Leading system per
field"), applied alike at every patient push, at staff edits and by reconciliation.

Values are compared in a canonical form: text NFC-normalised and trimmed, "" for
none, phones in E.164, dates as `YYYY-MM-DD`.
"""

from dataclasses import dataclass, field
from datetime import date

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


def canonical(patient: Patient, name: str) -> str:
    value = getattr(patient, name)
    if name == "birth_date":
        return value.isoformat() if value else ""
    return value or ""


def to_model_value(name: str, value: str):
    if name == "birth_date":
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
