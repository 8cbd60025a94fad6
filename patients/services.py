"""Writing patient records. Every entry point (staff API, pages, bridge, admin)
calls these functions; each change is recorded in the record's history with its actor."""

from django.db import transaction

from appointments.models import Appointment
from doctolib_bridge.sync import queue_lemniscus_changes
from lemniscus.errors import HasInvoices, LinkConflict, ValidationFailed
from patients.models import RECIPIENT_FIELDS, Patient

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
    "sync_to_doctolib",
)


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
    **fields,
) -> Patient:
    """A new record from already validated, normalised fields; with
    `doctolib_patient_id` it is created linked (taken in from Doctolib)."""
    patient = Patient(organisation=organisation, doctolib_patient_id=doctolib_patient_id)
    for name, value in _checked(fields).items():
        setattr(patient, name, value)
    _attribute(patient, actor, reason)
    patient.save()
    if patient.sync_to_doctolib and not doctolib_patient_id:
        queue_lemniscus_changes(patient, list(fields))
    return patient


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
    (`queue_for_doctolib=False` for changes that came from Doctolib itself)."""
    if fields.get("sync_to_doctolib") is False and patient.doctolib_patient_id:
        raise LinkConflict(
            "Die Akte ist mit Doctolib verknüpft; das Häkchen „Doctolib“ bleibt gesetzt, "
            "solange die Verknüpfung besteht."
        )
    changed = []
    for name, value in _checked(fields).items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    if changed:
        _attribute(patient, actor, reason)
        patient.save(update_fields=[*changed, "updated_at"])
        if queue_for_doctolib:
            queue_lemniscus_changes(patient, changed)
    return patient


@transaction.atomic
def patient_delete(*, patient: Patient, actor=None) -> None:
    """Delete a record and its appointments; a record with invoices stays (409)."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.invoices.exists():
        raise HasInvoices()
    for appointment in Appointment.objects.filter(patient=patient):
        appointment._history_user = actor
        appointment.delete()
    _attribute(patient, actor, None)
    patient.delete()
