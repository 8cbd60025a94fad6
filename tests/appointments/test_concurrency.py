import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from appointments import services
from appointments.models import Appointment, CalendarColumn
from lemniscus import errors
from tests.factories import CalendarColumnFactory, OrganisationFactory, PatientFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_appointment_for_a_column_being_deleted_is_not_found_not_a_crash():
    """The column delete holds its row lock; the appointment waits for it, then finds
    the column gone (404), instead of failing on the foreign key."""
    organisation = OrganisationFactory()
    patient = PatientFactory(organisation=organisation)
    column = CalendarColumnFactory(organisation=organisation)
    locked, outcome = threading.Event(), {}

    def delete_column_slowly():
        try:
            with transaction.atomic():
                CalendarColumn.objects.select_for_update().get(pk=column.pk)
                locked.set()
                time.sleep(0.5)
                services.calendar_column_delete(column=column)
        finally:
            connection.close()

    deleter = threading.Thread(target=delete_column_slowly)
    deleter.start()
    assert locked.wait(5)
    try:
        services.appointment_create(
            organisation=organisation,
            actor=None,
            patient_id=patient.public_id,
            calendar_column_id=column.public_id,
            start=datetime(2025, 3, 4, 9, 0, tzinfo=UTC),
            duration_minutes=30,
        )
    except errors.NotFound:
        outcome["create"] = "not_found"
    deleter.join(5)

    assert outcome == {"create": "not_found"}
    assert not CalendarColumn.objects.filter(pk=column.pk).exists()
    assert not Appointment.objects.exists()
