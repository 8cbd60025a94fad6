"""Absolute URLs of the staff pages, built on PUBLIC_BASE_URL (used in API answers
and e-mails). The pages (web/urls_*.py) name their routes; the paths are fixed in
docs/decisions.md ("Page URLs")."""

from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse


def absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def patient_url(patient) -> str:
    return absolute(reverse("akte", args=[patient.public_id]))


def patient_link_url(doctolib_patient_id: str) -> str:
    query = urlencode({"doctolib_patient_id": doctolib_patient_id})
    return absolute(f"{reverse('akte_verknuepfen')}?{query}")


def appointment_url(appointment) -> str:
    return absolute(reverse("termin", args=[appointment.public_id]))


def calendar_url(appointment, organisation) -> str:
    day = appointment.start.astimezone(organisation.zone).date().isoformat()
    query = urlencode({"datum": day, "spalte": str(appointment.calendar_column.public_id)})
    return absolute(f"{reverse('kalender')}?{query}")


def transfer_dialog_url(transfer) -> str:
    return absolute(reverse("uebertragung", args=[transfer.public_id]))
