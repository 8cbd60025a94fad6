"""The parties of an invoice: the practice (sender), who pays (recipient) and who
was treated (patient).

The recipient is the patient unless someone else pays (a parent, a carer): then it
is the draft's own `recipient`, else the patient's `invoice_recipient`.

An issued invoice never changes (invoices-de.md, GoBD): when it is issued, the
practice's letterhead and bank details, the recipient's name and address and the
patient's name and birth date are copied onto it, and it shows that copy from then
on, whatever is edited later. A draft shows the current data."""

from dataclasses import dataclass
from datetime import date

from organisations.models import Organisation
from patients.models import RECIPIENT_FIELDS, Patient

SENDER_FIELDS = (
    "name",
    "owner_name",
    "street",
    "postal_code",
    "city",
    "phone",
    "email",
    "tax_number",
    "vat_id",
    "iban",
    "bic",
    "bank_account_holder",
)
# What issuing needs (§ 14 Abs. 4 UStG): field -> what to call it when it is missing.
REQUIRED_SENDER = {
    "name": "Name der Praxis",
    "street": "Straße der Praxis",
    "postal_code": "PLZ der Praxis",
    "city": "Ort der Praxis",
    "tax_number": "Steuernummer oder USt-IdNr.",
    "iban": "IBAN",
}
REQUIRED_RECIPIENT = {
    "first_name": "Vorname des Rechnungsempfängers",
    "last_name": "Nachname des Rechnungsempfängers",
    "street": "Straße des Rechnungsempfängers",
    "postal_code": "PLZ des Rechnungsempfängers",
    "city": "Ort des Rechnungsempfängers",
}


@dataclass(frozen=True)
class Recipient:
    salutation: str = ""
    title: str = ""
    first_name: str = ""
    last_name: str = ""
    street: str = ""
    postal_code: str = ""
    city: str = ""
    email: str = ""

    @classmethod
    def of(cls, data: dict) -> "Recipient":
        return cls(**{name: data.get(name) or "" for name in RECIPIENT_FIELDS})

    @classmethod
    def of_patient(cls, patient: Patient) -> "Recipient":
        if patient.invoice_recipient:
            return cls.of(patient.invoice_recipient)
        return cls.of({name: getattr(patient, name) for name in RECIPIENT_FIELDS})

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in RECIPIENT_FIELDS}


@dataclass(frozen=True)
class Parties:
    sender: Organisation  # unsaved when it is the copy of an issued invoice
    recipient: Recipient
    patient_name: str
    birth_date: date | None


def current_recipient(invoice) -> Recipient:
    """Who a draft goes to as things stand: its own recipient, else the patient's
    default recipient, else the patient."""
    if invoice.recipient:
        return Recipient.of(invoice.recipient)
    return Recipient.of_patient(invoice.patient)


def parties_snapshot(*, invoice) -> dict:
    """The copy taken when the invoice is issued."""
    organisation, patient = invoice.organisation, invoice.patient
    return {
        "sender": {name: getattr(organisation, name) for name in SENDER_FIELDS},
        "recipient": current_recipient(invoice).as_dict(),
        "patient": {
            "name": patient.display_name,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        },
    }


def invoice_parties(invoice) -> Parties:
    """The parties to print and show: the copy taken at issue, or the current
    records for a draft. Invoices issued before the recipient could differ from the
    patient kept the patient (with the birth date) as their recipient."""
    if not invoice.parties:
        patient = invoice.patient
        return Parties(
            sender=invoice.organisation,
            recipient=current_recipient(invoice),
            patient_name=patient.display_name,
            birth_date=patient.birth_date,
        )
    copy = invoice.parties
    recipient = copy["recipient"]
    patient = copy.get("patient") or {
        "name": Patient(
            last_name=recipient["last_name"], first_name=recipient["first_name"]
        ).display_name,
        "birth_date": recipient.get("birth_date"),
    }
    sender_fields = {name: value for name, value in copy["sender"].items() if name in SENDER_FIELDS}
    return Parties(
        sender=Organisation(**sender_fields),
        recipient=Recipient.of(recipient),
        patient_name=patient["name"],
        birth_date=date.fromisoformat(patient["birth_date"]) if patient["birth_date"] else None,
    )


def missing_data(*, organisation: Organisation, recipient: Recipient) -> dict[str, list[str]]:
    """What § 14 Abs. 4 UStG asks of an invoice and is missing, keyed
    `practice.<field>` / `recipient.<field>` (the contract's `invoice_incomplete`)."""
    missing = missing_practice_data(organisation=organisation)
    for name, label in REQUIRED_RECIPIENT.items():
        if not getattr(recipient, name).strip():
            missing[f"recipient.{name}"] = [f"{label} fehlt."]
    return missing


def missing_practice_data(*, organisation: Organisation) -> dict[str, list[str]]:
    """The practice's part of `missing_data`: what every invoice would lack."""
    missing: dict[str, list[str]] = {}
    for name, label in REQUIRED_SENDER.items():
        value = getattr(organisation, name)
        if name == "tax_number":
            value = value or organisation.vat_id
        if not (value or "").strip():
            missing[f"practice.{name}"] = [f"{label} fehlt."]
    return missing
