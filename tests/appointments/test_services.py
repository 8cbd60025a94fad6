from datetime import UTC, datetime

import pytest

from appointments import services
from appointments.models import Appointment, AppointmentStatus, CalendarColumn
from billing.models import InvoiceStatus
from lemniscus import errors
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("planned", "done", True),
        ("planned", "cancelled", True),
        ("planned", "no_show", True),
        ("done", "planned", True),
        ("cancelled", "planned", True),
        ("no_show", "planned", True),
        ("done", "cancelled", False),
        ("done", "no_show", False),
        ("cancelled", "done", False),
        ("cancelled", "no_show", False),
        ("no_show", "done", False),
        ("no_show", "cancelled", False),
    ],
)
def test_status_changes_follow_the_transition_table(current, new, allowed):
    appointment = Appointment(status=current)
    if allowed:
        assert services.apply_status(appointment, new) is True
        assert appointment.status == new
    else:
        with pytest.raises(errors.InvalidStatus):
            services.apply_status(appointment, new)
        assert appointment.status == current


def test_transition_table_names_every_status():
    assert set(services.ALLOWED_TRANSITIONS) == set(AppointmentStatus.values)


def test_create_records_creator_history_actor_and_manual_chain(organisation, admin_user):
    patient = PatientFactory(organisation=organisation)
    column = CalendarColumnFactory(organisation=organisation)
    chain = ServiceChainFactory(organisation=organisation)

    appointment = services.appointment_create(
        organisation=organisation,
        actor=admin_user,
        patient_id=patient.public_id,
        calendar_column_id=column.public_id,
        service_chain_id=chain.public_id,
        start=START,
        duration_minutes=45,
    )

    assert appointment.created_by == admin_user
    assert appointment.source == "lemniscus"
    assert appointment.status == "planned"
    assert appointment.service_chain_match == "manual"
    assert appointment.history.get().history_user == admin_user


def test_create_with_another_organisations_column_is_not_found(
    organisation, other_organisation, admin_user
):
    patient = PatientFactory(organisation=organisation)
    foreign = CalendarColumnFactory(organisation=other_organisation)
    with pytest.raises(errors.NotFound):
        services.appointment_create(
            organisation=organisation,
            actor=admin_user,
            patient_id=patient.public_id,
            calendar_column_id=foreign.public_id,
            start=START,
            duration_minutes=30,
        )
    assert Appointment.objects.count() == 0


def test_update_sets_manual_match_only_when_the_chain_changes(organisation, admin_user):
    appointment = AppointmentFactory(organisation=organisation, service_chain_match="sync_id")
    services.appointment_update(
        appointment=appointment,
        actor=admin_user,
        service_chain_id=appointment.service_chain.public_id,
    )
    appointment.refresh_from_db()
    assert appointment.service_chain_match == "sync_id"

    services.appointment_update(appointment=appointment, actor=admin_user, service_chain_id=None)
    appointment.refresh_from_db()
    assert appointment.service_chain is None
    assert appointment.service_chain_match == ""
    assert appointment.history.first().history_user == admin_user


def test_update_of_invoiced_appointment_is_refused_unless_nothing_changes(
    organisation, admin_user, put_on_invoice
):
    appointment = AppointmentFactory(organisation=organisation, note="alt")
    put_on_invoice(appointment, InvoiceStatus.DRAFT)
    versions = appointment.history.count()

    with pytest.raises(errors.AppointmentInvoiced):
        services.appointment_update(appointment=appointment, actor=admin_user, note="neu")
    services.appointment_update(appointment=appointment, actor=admin_user, note="alt")

    appointment.refresh_from_db()
    assert appointment.note == "alt"
    assert appointment.history.count() == versions


def test_lock_is_read_inside_the_transaction(organisation, admin_user, put_on_invoice):
    """The caller's copy predates the invoice; the service reads the row it locks."""
    appointment = AppointmentFactory(organisation=organisation)
    stale = Appointment.objects.get(pk=appointment.pk)
    put_on_invoice(appointment)
    with pytest.raises(errors.AppointmentInvoiced):
        services.appointment_update(appointment=stale, actor=admin_user, duration_minutes=60)
    with pytest.raises(errors.AppointmentInvoiced):
        services.appointment_delete(appointment=stale, actor=admin_user)
    assert Appointment.objects.get(pk=appointment.pk).duration_minutes == 30


def test_delete_records_actor_and_refuses_appointment_of_cancelled_invoice(
    organisation, admin_user, put_on_invoice
):
    kept = AppointmentFactory(organisation=organisation)
    put_on_invoice(kept, InvoiceStatus.CANCELLED)
    gone = AppointmentFactory(organisation=organisation)

    with pytest.raises(errors.HasInvoices):
        services.appointment_delete(appointment=kept, actor=admin_user)
    services.appointment_delete(appointment=gone, actor=admin_user)

    assert list(Appointment.objects.all()) == [kept]
    assert gone.history.get(history_type="-").history_user == admin_user


def test_column_agenda_id_is_unique_per_organisation(organisation, other_organisation):
    CalendarColumnFactory(organisation=organisation, doctolib_agenda_id="ag-1")
    CalendarColumnFactory(organisation=other_organisation, doctolib_agenda_id="ag-2")
    column = services.calendar_column_create(
        organisation=organisation, name="Raum 1", kind="room", doctolib_agenda_id="ag-2"
    )
    with pytest.raises(errors.ValidationFailed) as raised:
        services.calendar_column_update(column=column, doctolib_agenda_id="ag-1")
    assert "doctolib_agenda_id" in raised.value.errors
    assert CalendarColumn.objects.get(pk=column.pk).doctolib_agenda_id == "ag-2"


def test_column_with_appointments_cannot_be_deleted(organisation):
    appointment = AppointmentFactory(organisation=organisation)
    with pytest.raises(errors.ColumnInUse):
        services.calendar_column_delete(column=appointment.calendar_column)
    assert CalendarColumn.objects.filter(pk=appointment.calendar_column_id).exists()
