"""Appointments in a record's treatment history (patients.retention): every
appointment that is or ever was done or a no-show, as its history rows tell, also
when it was deleted or set back since."""

from datetime import date

from django.db.models import Max
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus
from patients.retention import HistorySource

TREATED = (AppointmentStatus.DONE, AppointmentStatus.NO_SHOW)


def latest_treated_appointment(patient) -> date | None:
    start = Appointment.history.filter(patient_id=patient.pk, status__in=TREATED).aggregate(
        latest=Max("start")
    )["latest"]
    return timezone.localdate(start, patient.organisation.zone) if start else None


def erase_appointments(patient, today: date) -> bool:
    Appointment.objects.filter(patient=patient).delete()
    Appointment.history.filter(patient_id=patient.pk).delete()  # with the "-" rows
    return True


SOURCE = HistorySource(
    name="appointments", latest_event=latest_treated_appointment, erase=erase_appointments
)
