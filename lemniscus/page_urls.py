"""Absolute URLs of the staff pages, built on PUBLIC_BASE_URL (used in API answers
and e-mails). The pages themselves live under these paths."""

from urllib.parse import urlencode

from django.conf import settings


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def patient_url(patient) -> str:
    return absolute(f"/akten/{patient.public_id}/")


def patient_link_url(doctolib_patient_id: str) -> str:
    return absolute(
        "/akten/verknuepfen/?" + urlencode({"doctolib_patient_id": doctolib_patient_id})
    )


def appointment_url(appointment) -> str:
    return absolute(f"/termine/{appointment.public_id}/")


def calendar_url(appointment, organisation) -> str:
    day = appointment.start.astimezone(organisation.zone).date().isoformat()
    query = urlencode({"datum": day, "spalte": str(appointment.calendar_column.public_id)})
    return absolute(f"/kalender/?{query}")


def transfer_dialog_url(transfer) -> str:
    return absolute(f"/uebertragungen/{transfer.public_id}/")
