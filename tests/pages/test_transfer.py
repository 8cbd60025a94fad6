"""The transfer dialog (/uebertragungen/{id}/) through the Django test client: the
preview, saving through transfer_commit, linking first, expired / replaced /
committed transfers, locks, rights, other organisations, query counts. The browser
flows are in test_transfer_browser.py."""

from datetime import UTC, datetime, timedelta

import pytest

from appointments.models import Appointment, AppointmentSource, AppointmentStatus, CalendarColumn
from billing.models import Invoice
from doctolib_bridge.appointment_push import transfer_stage
from doctolib_bridge.models import Transfer
from doctolib_bridge.services import link_create
from organisations.models import Role
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 8, tzinfo=UTC)  # 09:00 in Berlin


def stage(organisation, appointment_id: str = "da-1", **overrides):
    payload = {
        "doctolib_patient_id": "dp-1",
        "agenda": {"id": "ag-1", "name": "Frau Weber"},
        "visit_motive": {"name": "Osteopathie", "sync_id": ""},
        "start": START,
        "duration_minutes": 45,
        "note": "Knie links",
    }
    payload.update(overrides)
    transfer, _ = transfer_stage(
        organisation=organisation, doctolib_appointment_id=appointment_id, payload=payload
    )
    return transfer


def url(transfer) -> str:
    return f"/uebertragungen/{transfer.public_id}/"


@pytest.fixture
def user(admin_user, client):
    client.force_login(admin_user)
    return admin_user


@pytest.fixture
def linked(organisation):
    return PatientFactory(
        organisation=organisation,
        last_name="Weber",
        first_name="Jonas",
        doctolib_patient_id="dp-1",
        sync_to_doctolib=True,
    )


@pytest.fixture
def osteo(organisation):
    return ServiceChainFactory(organisation=organisation, description="Osteopathie")


def test_preview_says_what_saving_would_do_and_changes_nothing(
    client, user, organisation, linked, osteo
):
    transfer = stage(organisation)
    response = client.get(url(transfer))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Weber, Jonas" in text and ">verknüpft<" in text
    assert "Montag, 02.03.2026, 09:00 Uhr, 45 Minuten" in text
    assert "Frau Weber" in text and "wird neu angelegt" in text
    assert "Gefunden, weil die Beschreibung dem Besuchsgrund „Osteopathie“ gleicht." in text
    assert "Speichern legt den Termin in lemniscus neu an" in text
    assert "Termin in lemniscus speichern" in text
    assert f'href="/akten/{linked.public_id}/">Patientenakte öffnen' in text
    assert not Appointment.objects.exists() and not CalendarColumn.objects.exists()
    transfer.refresh_from_db()
    assert transfer.committed_at is None


def test_save_commits_and_offers_edit_and_calendar(client, user, organisation, linked, osteo):
    transfer = stage(organisation)
    response = client.post(url(transfer))
    assert response.status_code == 302 and response["Location"] == url(transfer)
    saved = Appointment.objects.get()
    assert (saved.patient, saved.service_chain, saved.start) == (linked, osteo, START)
    assert saved.source == AppointmentSource.DOCTOLIB and saved.status == AppointmentStatus.DONE
    assert saved.calendar_column.doctolib_agenda_id == "ag-1"
    record = saved.history.get()
    assert record.history_user == user and record.history_change_reason == "Doctolib-Sync"
    transfer.refresh_from_db()
    assert transfer.committed_at is not None and transfer.appointment == saved
    text = client.get(url(transfer)).content.decode()
    assert "Der Termin wurde in lemniscus gespeichert." in text
    assert f'href="/termine/{saved.public_id}/">Termin bearbeiten' in text
    calendar = f"/kalender/?datum=2026-03-02&amp;spalte={saved.calendar_column.public_id}"
    assert f'href="{calendar}">Im Kalender anzeigen' in text
    assert "Termin in lemniscus speichern" not in text


def test_saving_twice_changes_nothing_the_second_time(client, user, organisation, linked, osteo):
    transfer = stage(organisation)
    client.post(url(transfer))
    saved = Appointment.objects.get()
    response = client.post(url(transfer), follow=True)
    assert "Diese Übertragung wurde schon gespeichert." in response.content.decode()
    assert Appointment.objects.get().updated_at == saved.updated_at
    assert saved.history.count() == 1


def test_unlinked_patient_links_first_then_saves(client, user, organisation, osteo):
    record = PatientFactory(organisation=organisation, last_name="Weber")
    transfer = stage(organisation, doctolib_patient_id="dp-x")
    text = client.get(url(transfer)).content.decode()
    assert "Doctolib-Patient dp-x" in text and "nicht verknüpft" in text
    assert "ist mit keiner Akte in lemniscus verknüpft" in text
    link = (
        f"/akten/verknuepfen/?doctolib_patient_id=dp-x&amp;next=%2Fuebertragungen%2F"
        f"{transfer.public_id}%2F"
    )
    assert f'href="{link}">Akte verknüpfen' in text
    assert "Termin in lemniscus speichern" not in text
    refused = client.post(url(transfer), follow=True)
    assert "mit keiner Akte verknüpft" in refused.content.decode()
    assert not Appointment.objects.exists()

    link_create(organisation=organisation, patient_id=record.public_id, doctolib_patient_id="dp-x")
    assert "Termin in lemniscus speichern" in client.get(url(transfer)).content.decode()
    client.post(url(transfer))
    assert Appointment.objects.get().patient == record


@pytest.mark.parametrize(
    ("make_unusable", "sentence"),
    [
        ("replace", "Diese Übertragung wurde durch eine neuere ersetzt."),
        ("age", "Diese Übertragung ist älter als 24 Stunden."),
    ],
)
def test_replaced_or_expired_transfer_explains_and_saves_nothing(
    client, user, organisation, linked, make_unusable, sentence
):
    transfer = stage(organisation)
    if make_unusable == "replace":
        stage(organisation)
    else:
        Transfer.objects.filter(pk=transfer.pk).update(
            created_at=transfer.created_at - timedelta(hours=25)
        )
    text = client.get(url(transfer)).content.decode()
    assert sentence in text and "erneut mit „Termin in lemniscus öffnen“ übertragen" in text
    assert "Termin in lemniscus speichern" not in text
    assert sentence in client.post(url(transfer), follow=True).content.decode()
    assert not Appointment.objects.exists()


def test_committed_transfer_whose_appointment_is_gone(client, user, organisation, linked):
    transfer = stage(organisation)
    client.post(url(transfer))
    Appointment.objects.all().delete()
    text = client.get(url(transfer)).content.decode()
    assert "der Termin ist in lemniscus aber nicht mehr vorhanden" in text


def test_collision_and_unmatched_sync_id_are_explained(client, user, organisation, linked):
    column = CalendarColumnFactory(organisation=organisation, doctolib_agenda_id="ag-1")
    mine = AppointmentFactory(
        organisation=organisation, calendar_column=column, start=START + timedelta(minutes=30)
    )
    ServiceChainFactory(organisation=organisation, description="Osteopathie")
    transfer = stage(organisation, visit_motive={"name": "Osteopathie", "sync_id": "#OST"})
    text = client.get(url(transfer)).content.decode()
    assert "Überschneidung im Kalender" in text
    assert f'href="/termine/{mine.public_id}/">Termin ansehen' in text
    assert "Keine Leistungskette passt auf die Synchronisationskennung „#OST“" in text
    assert "wird neu angelegt" not in text


def test_invoiced_appointment_refuses_changes_and_says_why(
    client, user, organisation, linked, osteo
):
    existing = AppointmentFactory(
        organisation=organisation,
        patient=linked,
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="da-1",
        start=START,
    )
    invoice = Invoice.objects.create(
        organisation=organisation, patient=linked, status="issued", number="2026-0007"
    )
    Appointment.objects.filter(pk=existing.pk).update(invoice=invoice)
    transfer = stage(organisation, duration_minutes=60)
    text = client.get(url(transfer)).content.decode()
    assert "Steht auf Rechnung 2026-0007; Änderungen sind nicht möglich." in text
    assert "Änderungen aus Doctolib werden nicht übernommen." in text
    assert "Termin in lemniscus speichern" not in text
    client.post(url(transfer))
    existing.refresh_from_db()
    assert existing.duration_minutes == 30
    transfer.refresh_from_db()
    assert transfer.committed_at is None


def test_transfer_of_another_organisation_is_404_and_unchanged(client, user, other_organisation):
    PatientFactory(
        organisation=other_organisation, doctolib_patient_id="dp-1", sync_to_doctolib=True
    )
    foreign = stage(other_organisation)
    assert client.get(url(foreign)).status_code == 404
    assert client.post(url(foreign)).status_code == 404
    assert client.get("/uebertragungen/kaputt/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.committed_at is None and not Appointment.objects.exists()


def test_without_the_right_the_dialog_only_shows(client, organisation, linked):
    client.force_login(
        UserFactory(organisation=organisation, role=Role.STAFF, can_appointments=False)
    )
    transfer = stage(organisation)
    response = client.get(url(transfer))
    text = response.content.decode()
    assert response.status_code == 200
    assert "Termin in lemniscus speichern" not in text
    assert "Zum Speichern fehlt Ihnen das Recht „Termine“." in text
    assert client.post(url(transfer)).status_code == 403
    assert not Appointment.objects.exists()


def test_login_required(client, organisation, linked):
    transfer = stage(organisation)
    response = client.get(url(transfer))
    assert response.status_code == 302 and response["Location"].startswith("/anmelden/")


@pytest.mark.parametrize("collisions", [1, 25])
def test_dialog_queries_do_not_grow_with_collisions(
    client, user, organisation, linked, osteo, django_assert_max_num_queries, collisions
):
    column = CalendarColumnFactory(organisation=organisation, doctolib_agenda_id="ag-1")
    for n in range(collisions):
        AppointmentFactory(
            organisation=organisation,
            calendar_column=column,
            start=START + timedelta(minutes=n),
        )
    transfer = stage(organisation)
    with django_assert_max_num_queries(10):
        response = client.get(url(transfer))
    assert len(response.context["plan"].warnings) == collisions
