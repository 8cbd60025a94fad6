from django.db.models import QuerySet

from appointments.models import Appointment, CalendarColumn
from lemniscus.tenancy import access, scoped


def calendar_column_list(*, organisation) -> QuerySet[CalendarColumn]:
    """The organisation's calendar columns, newest first (the staff API's default order)."""
    return scoped(CalendarColumn, organisation).order_by("-created_at", "-id")


def access_calendar_column(*, organisation, public_id, lock: bool = False) -> CalendarColumn:
    return access(CalendarColumn, organisation=organisation, public_id=public_id, lock=lock)


def appointment_list(*, organisation) -> QuerySet[Appointment]:
    """The organisation's appointments ordered by start, with what their output names."""
    return (
        scoped(Appointment, organisation)
        .select_related("patient", "calendar_column", "service_chain", "invoice")
        .order_by("start", "id")
    )


def access_appointment(*, organisation, public_id) -> Appointment:
    return access(
        appointment_list(organisation=organisation), organisation=organisation, public_id=public_id
    )
