"""The leading-system rule, declared once: which patient fields Doctolib leads.

The Zipper API, the staff API and pages, reconciliation and the export all read
this table (zipper-api.md, "Leading system per field").
"""

from enum import StrEnum

from appointments.models import PLATFORM_OWNED_FIELDS


class Leader(StrEnum):
    DOCTOLIB = "doctolib"
    LEMNISCUS = "lemniscus"


# In the contract's field order.
PATIENT_FIELD_LEADERS: dict[str, Leader] = {
    "salutation": Leader.LEMNISCUS,
    "first_name": Leader.LEMNISCUS,
    "last_name": Leader.LEMNISCUS,
    "birth_date": Leader.LEMNISCUS,
    "mobile_phone": Leader.DOCTOLIB,
    "landline_phone": Leader.DOCTOLIB,
    "email": Leader.DOCTOLIB,
    "street": Leader.LEMNISCUS,
    "postal_code": Leader.LEMNISCUS,
    "city": Leader.LEMNISCUS,
}

SYNCED_PATIENT_FIELDS: tuple[str, ...] = tuple(PATIENT_FIELD_LEADERS)
DOCTOLIB_LED_FIELDS: tuple[str, ...] = tuple(
    name for name, leader in PATIENT_FIELD_LEADERS.items() if leader is Leader.DOCTOLIB
)
LEMNISCUS_LED_FIELDS: tuple[str, ...] = tuple(
    name for name, leader in PATIENT_FIELD_LEADERS.items() if leader is Leader.LEMNISCUS
)


def doctolib_led_fields_for(patient) -> list[str]:
    """The fields Doctolib leads for this record: none unless it is linked."""
    return list(DOCTOLIB_LED_FIELDS) if patient.doctolib_patient_id else []


# What a push of a Doctolib appointment overwrites (zipper-api.md, "PUT /appointments"):
# staff change these in Doctolib and transfer the appointment again; status and
# service chain stay theirs to edit in lemniscus.
DOCTOLIB_OWNED_APPOINTMENT_FIELDS = PLATFORM_OWNED_FIELDS
