"""The parties of an invoice as they stood when it was issued.

An issued invoice never changes (invoices-de.md, GoBD): when it is issued, the
practice's letterhead and bank details and the patient's name and address are
copied onto it, and its PDF shows that copy from then on, whatever is edited later.
A draft shows the current data."""

from datetime import date

from organisations.models import Organisation
from patients.models import Patient

SENDER_FIELDS = (
    "name",
    "owner_name",
    "street",
    "postal_code",
    "city",
    "phone",
    "email",
    "tax_number",
    "iban",
    "bic",
    "bank_account_holder",
)
RECIPIENT_FIELDS = (
    "salutation",
    "title",
    "first_name",
    "last_name",
    "street",
    "postal_code",
    "city",
    "birth_date",
)


def parties_snapshot(*, organisation: Organisation, patient: Patient) -> dict:
    recipient = {name: getattr(patient, name) for name in RECIPIENT_FIELDS}
    if recipient["birth_date"]:
        recipient["birth_date"] = recipient["birth_date"].isoformat()
    return {
        "sender": {name: getattr(organisation, name) for name in SENDER_FIELDS},
        "recipient": recipient,
    }


def invoice_parties(invoice) -> tuple[Organisation, Patient]:
    """(sender, recipient) to print: the copy taken at issue, or the current records
    for a draft. The copies are unsaved model instances, only for reading."""
    if not invoice.parties:
        return invoice.organisation, invoice.patient
    recipient = dict(invoice.parties["recipient"])
    if recipient.get("birth_date"):
        recipient["birth_date"] = date.fromisoformat(recipient["birth_date"])
    return Organisation(**invoice.parties["sender"]), Patient(**recipient)
