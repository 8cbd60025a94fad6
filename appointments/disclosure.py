"""The record's appointments in a patient's disclosure ZIP (patients.disclosure)."""

from appointments.models import Appointment
from appointments.serializers import AppointmentOutput
from patients.disclosure import DisclosureSection


def _appointments(patient, context) -> list:
    appointments = (
        Appointment.objects.filter(patient=patient)
        .select_related("patient", "calendar_column", "service_chain", "invoice")
        .order_by("start", "id")
    )
    return AppointmentOutput(appointments, many=True, context=context).data


SECTION = DisclosureSection(name="appointments", records=_appointments)
