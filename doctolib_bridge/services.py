"""What the Zipper API does, as services: taking Doctolib patients in, linking,
applying Doctolib's view of a patient, and (below) appointment transfers.
The staff pages' dialog calls the same functions."""

from dataclasses import dataclass, field

from django.db import transaction

from doctolib_bridge.feed import feed_append
from doctolib_bridge.fields import SYNCED_PATIENT_FIELDS
from doctolib_bridge.models import DoctolibPatientState
from doctolib_bridge.sync import DOCTOLIB_SYNC_ACTOR, evaluate, state_for, to_model_value
from lemniscus.errors import LinkConflict, NotFound, PatientNotLinked, ValidationFailed
from lemniscus.tenancy import scoped
from patients.models import Patient
from patients.selectors import access_patient, likely_duplicates
from patients.services import (
    DUPLICATE_FIELDS,
    patient_create,
    patient_link,
    patient_unlink,
    patient_update,
)


class Outcome:
    CREATED = "created"
    MERGED = "merged"
    UNCHANGED = "unchanged"
    UPDATED = "updated"


@dataclass
class PatientSyncResult:
    patient: Patient
    outcome: str = Outcome.UNCHANGED
    applied: list[str] = field(default_factory=list)
    to_doctolib: list[str] = field(default_factory=list)
    # Records a created one likely duplicates (public ids), for the sync log.
    duplicates: list[str] = field(default_factory=list)


def linked_patient(*, organisation, doctolib_patient_id: str, lock: bool = False) -> Patient:
    """The record linked to that Doctolib patient, or PatientNotLinked (404)."""
    qs = scoped(Patient, organisation).filter(doctolib_patient_id=doctolib_patient_id)
    if lock:
        qs = qs.select_for_update()
    patient = qs.first()
    if patient is None:
        raise PatientNotLinked(doctolib_patient_id=doctolib_patient_id)
    return patient


def _apply_doctolib_view(
    *, patient: Patient, doctolib: dict[str, str], reason: str = DOCTOLIB_SYNC_ACTOR
) -> PatientSyncResult:
    state = state_for(patient)
    outcome = evaluate(patient, state, doctolib)
    state.save()
    if outcome.applied:
        patient_update(patient=patient, reason=reason, queue_for_doctolib=False, **outcome.applied)
    if outcome.to_doctolib:
        feed_append(patient=patient, fields=outcome.to_doctolib)
    return PatientSyncResult(
        patient=patient, applied=list(outcome.applied), to_doctolib=outcome.to_doctolib
    )


def _link(patient: Patient, doctolib_patient_id: str, actor=None) -> None:
    """Linking sets the "Doctolib" checkbox too (patients.services.patient_link). The
    history names `actor` (a staff member linking on a page), else the Doctolib sync."""
    patient_link(
        patient=patient,
        doctolib_patient_id=doctolib_patient_id,
        actor=actor,
        reason=DOCTOLIB_SYNC_ACTOR,
    )


@transaction.atomic
def patient_take_in(
    *, organisation, doctolib_patient_id: str, merge_into=None, doctolib: dict[str, str]
) -> PatientSyncResult:
    """POST /patients: create a linked record, merge into an unlinked one, or confirm
    an existing link; the leading-system rules apply in every case."""
    existing = (
        scoped(Patient, organisation)
        .select_for_update()
        .filter(doctolib_patient_id=doctolib_patient_id)
        .first()
    )
    target = None
    if merge_into is not None:
        target = access_patient(organisation=organisation, public_id=merge_into, lock=True)
    if existing is not None:
        if target is not None and target.pk != existing.pk:
            raise LinkConflict(
                f"Der Doctolib-Patient {doctolib_patient_id} ist schon mit einer anderen "
                "Akte verknüpft."
            )
        result = _apply_doctolib_view(patient=existing, doctolib=doctolib)
        result.outcome = Outcome.UNCHANGED
        return result
    if target is not None:
        if target.doctolib_patient_id:
            raise LinkConflict("Die Akte ist schon mit einem anderen Doctolib-Patienten verknüpft.")
        _link(target, doctolib_patient_id)
        result = _apply_doctolib_view(patient=target, doctolib=doctolib)
        result.outcome = Outcome.MERGED
        return result
    if not doctolib.get("last_name"):
        raise ValidationFailed(
            "Für eine neue Akte fehlt der Nachname.",
            errors={"last_name": ["Für eine neue Akte nötig."]},
        )
    values = {name: to_model_value(name, value) for name, value in doctolib.items()}
    # The Zipper API keeps creating (its contract); the sync log names the likely
    # duplicates so that staff can merge them.
    duplicates = likely_duplicates(
        organisation=organisation,
        **{name: values[name] for name in DUPLICATE_FIELDS if values.get(name)},
    )
    patient = patient_create(
        organisation=organisation,
        reason=DOCTOLIB_SYNC_ACTOR,
        doctolib_patient_id=doctolib_patient_id,
        sync_to_doctolib=True,
        confirm_duplicate=True,
        **values,
    )
    DoctolibPatientState.objects.create(patient=patient, last_known=doctolib)
    return PatientSyncResult(
        patient=patient,
        outcome=Outcome.CREATED,
        applied=[name for name in SYNCED_PATIENT_FIELDS if doctolib.get(name)],
        duplicates=[str(duplicate.public_id) for duplicate in duplicates],
    )


@transaction.atomic
def patient_push(*, organisation, doctolib_patient_id: str, doctolib: dict[str, str]):
    """PUT /patients/{id}: Doctolib's current view of a linked patient."""
    patient = linked_patient(
        organisation=organisation, doctolib_patient_id=doctolib_patient_id, lock=True
    )
    return _apply_doctolib_view(patient=patient, doctolib=doctolib)


@transaction.atomic
def link_create(
    *, organisation, patient_id, doctolib_patient_id: str, actor=None
) -> tuple[Patient, bool]:
    """POST /links: a record sent from lemniscus now exists in Doctolib; also the staff
    pages' linking (with `actor`). Returns the record and whether the link is new."""
    patient = access_patient(organisation=organisation, public_id=patient_id, lock=True)
    if patient.doctolib_patient_id == doctolib_patient_id:
        return patient, False
    if patient.doctolib_patient_id:
        raise LinkConflict("Die Akte ist schon mit einem anderen Doctolib-Patienten verknüpft.")
    other = scoped(Patient, organisation).filter(doctolib_patient_id=doctolib_patient_id).first()
    if other is not None:
        raise LinkConflict(
            f"Der Doctolib-Patient {doctolib_patient_id} ist schon mit einer anderen Akte "
            "verknüpft."
        )
    _link(patient, doctolib_patient_id, actor)
    return patient, True


@transaction.atomic
def link_new_record(*, organisation, actor, doctolib_patient_id: str, fields: dict) -> Patient:
    """The staff pages' "Neue Akte anlegen und verknüpfen": a new record, then its
    link (the history and the Protokoll show both, by the member) and its Doctolib
    state, in one transaction. It is created without the "Doctolib" checkbox, which
    the link sets: so it never goes to the feed as a new patient for Doctolib, which
    has it already. The suggestions shown above the form are the duplicate check; a
    Doctolib id linked elsewhere is 409 `link_conflict`."""
    if scoped(Patient, organisation).filter(doctolib_patient_id=doctolib_patient_id).exists():
        raise LinkConflict(
            f"Der Doctolib-Patient {doctolib_patient_id} ist schon mit einer anderen Akte "
            "verknüpft."
        )
    patient = patient_create(
        organisation=organisation,
        actor=actor,
        confirm_duplicate=True,
        **{**fields, "sync_to_doctolib": False},
    )
    patient_link(patient=patient, doctolib_patient_id=doctolib_patient_id, actor=actor)
    DoctolibPatientState.objects.create(patient=patient)
    return patient


@transaction.atomic
def link_remove(*, organisation, doctolib_patient_id: str) -> Patient:
    """DELETE /patients/{id}: the link goes, the checkbox is cleared, the record stays."""
    patient = linked_patient(
        organisation=organisation, doctolib_patient_id=doctolib_patient_id, lock=True
    )
    patient_unlink(patient=patient, reason=DOCTOLIB_SYNC_ACTOR)
    DoctolibPatientState.objects.filter(patient=patient).delete()
    return patient


__all__ = [
    "NotFound",
    "Outcome",
    "PatientSyncResult",
    "link_create",
    "link_new_record",
    "link_remove",
    "linked_patient",
    "patient_push",
    "patient_take_in",
]
