"""The start page: today's appointments in the organisation's zone, open transfers,
problems from the sync log; only the organisation's own, in constant queries."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from appointments.models import AppointmentSource, AppointmentStatus
from doctolib_bridge.models import SyncLogEntry, Transfer
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    SyncLogEntryFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def far_east(organisation):
    """UTC+14: the organisation's day is not the UTC day."""
    organisation.time_zone = "Pacific/Kiritimati"
    organisation.save(update_fields=["time_zone"])
    return organisation


def local(organisation, days: int, hour: int, minute: int = 0) -> datetime:
    day = organisation.today() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=organisation.zone)


def transfer(organisation, doctolib_patient_id="dl-p1", **fields) -> Transfer:
    start = local(organisation, 0, 9, 15)
    return Transfer.objects.create(
        organisation=organisation,
        doctolib_appointment_id=fields.pop("doctolib_appointment_id", "dl-a1"),
        payload={
            "doctolib_patient_id": doctolib_patient_id,
            "agenda": {"id": "ag-1", "name": "Raum Sonne"},
            "visit_motive": {"name": "Osteopathie", "sync_id": ""},
            "start": start.isoformat(),
            "duration_minutes": 45,
            "note": "",
        },
        **fields,
    )


def section(html: str, heading_id: str) -> str:
    return html.split(f'id="{heading_id}"')[1].split("</section>")[0]


def test_todays_appointments_in_the_organisations_zone_ordered_by_start(
    staff, far_east, other_organisation
):
    column = CalendarColumnFactory(organisation=far_east, name="Frau Weber")
    chain = ServiceChainFactory(organisation=far_east, description="Krankengymnastik")
    late = AppointmentFactory(
        organisation=far_east,
        calendar_column=column,
        start=local(far_east, 0, 17),
        patient__last_name="Spät",
    )
    early = AppointmentFactory(
        organisation=far_east,
        calendar_column=column,
        service_chain=chain,
        start=local(far_east, 0, 0, 30),  # the day before, in UTC
        source=AppointmentSource.DOCTOLIB,
        status=AppointmentStatus.DONE,
        patient__last_name="Früh",
    )
    AppointmentFactory(
        organisation=far_east, start=local(far_east, -1, 23, 30), patient__last_name="Gestern"
    )
    AppointmentFactory(
        organisation=far_east, start=local(far_east, 1, 0, 0), patient__last_name="Morgen"
    )
    AppointmentFactory(
        organisation=other_organisation, start=timezone.now(), patient__last_name="Fremd"
    )

    today = section(staff.get("/").content.decode(), "heute-heading")

    assert today.index("Früh") < today.index("Spät")
    for name in ("Gestern", "Morgen", "Fremd"):
        assert name not in today
    early_row = today.split(f"/termine/{early.public_id}/")[1].split("</tr>")[0]
    assert "00:30–01:00" in early_row
    assert "Frau Weber" in early_row
    assert "Krankengymnastik" in early_row
    assert "Doctolib</span>" in early_row
    assert "erledigt" in early_row
    assert f"/akten/{early.patient.public_id}/" in early_row
    late_row = today.split(f"/termine/{late.public_id}/")[1].split("</tr>")[0]
    assert "17:00–17:30" in late_row
    assert "Doctolib</span>" not in late_row


def test_no_appointments_today_says_so(staff, organisation):
    assert "Heute stehen keine Termine im Kalender." in staff.get("/").content.decode()


def test_open_transfers_link_to_their_dialog(staff, organisation, other_organisation):
    PatientFactory(
        organisation=organisation,
        last_name="Verknüpft",
        first_name="Vera",
        doctolib_patient_id="dl-p1",
        sync_to_doctolib=True,
    )
    open_linked = transfer(organisation)
    open_unlinked = transfer(organisation, "dl-p2", doctolib_appointment_id="dl-a2")
    committed = transfer(organisation, doctolib_appointment_id="dl-a3", committed_at=timezone.now())
    replaced = transfer(organisation, doctolib_appointment_id="dl-a4", replaced_at=timezone.now())
    old = transfer(organisation, doctolib_appointment_id="dl-a5")
    Transfer.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    foreign = transfer(other_organisation)

    transfers = section(staff.get("/").content.decode(), "uebertragungen-heading")

    assert f'href="/uebertragungen/{open_linked.public_id}/"' in transfers
    assert f'href="/uebertragungen/{open_unlinked.public_id}/"' in transfers
    for hidden in (committed, replaced, old, foreign):
        assert str(hidden.public_id) not in transfers
    assert "Verknüpft, Vera" in transfers
    assert "Doctolib-Patient dl-p2 (nicht verknüpft)" in transfers
    assert "Raum Sonne" in transfers
    assert "Osteopathie" in transfers
    assert "09:15" in transfers


def test_problems_from_the_sync_log(staff, organisation, other_organisation):
    SyncLogEntryFactory(
        organisation=organisation,
        status=409,
        outcome="",
        code="appointment_invoiced",
        detail="Der Termin steht auf einer Rechnung.",
    )
    SyncLogEntryFactory(organisation=organisation, status=200, detail="Alles gut.")
    old = SyncLogEntryFactory(
        organisation=organisation, status=422, code="validation_error", detail="Uralt."
    )
    SyncLogEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    SyncLogEntryFactory(
        organisation=other_organisation, status=404, code="not_found", detail="Fremder Fehler."
    )

    problems = section(staff.get("/").content.decode(), "probleme-heading")

    assert "409 appointment_invoiced" in problems
    assert "Der Termin steht auf einer Rechnung." in problems
    for hidden in ("Alles gut.", "Uralt.", "Fremder Fehler."):
        assert hidden not in problems
    assert 'href="/sync-protokoll/?ergebnis=fehler"' in problems


def test_no_problems_says_so(staff, organisation):
    problems = section(staff.get("/").content.decode(), "probleme-heading")
    assert "Keine Fehler in den letzten 7 Tagen." in problems


@pytest.mark.parametrize("rows", [1, 25])
def test_start_page_queries_do_not_grow_with_rows(
    staff, organisation, rows, django_assert_max_num_queries
):
    for n in range(rows):
        AppointmentFactory(
            organisation=organisation, start=local(organisation, 0, 8) + timedelta(minutes=n)
        )
        PatientFactory(
            organisation=organisation, doctolib_patient_id=f"dl-p{n}", sync_to_doctolib=True
        )
        transfer(organisation, f"dl-p{n}", doctolib_appointment_id=f"dl-a{n}")
        SyncLogEntryFactory(organisation=organisation, status=409, code="link_conflict")
    with django_assert_max_num_queries(7):
        html = staff.get("/").content.decode()
    assert html.count("/termine/") == rows
    assert html.count("/uebertragungen/") == min(rows, 20)
