"""The initial handover to Doctolib: export files, removal of the exported
appointments, the undo, and the staff API. Tasks run in-process here (no REDIS_URL);
tests/jobs/test_handover_worker.py runs them on a real worker."""

import csv
import io
import tracemalloc
from datetime import datetime, time, timedelta
from pathlib import Path
from time import sleep

import pytest
from django.conf import settings
from django.db import OperationalError
from django.db.models import ForeignObjectRel
from django.utils import timezone

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from appointments.services import appointment_create, appointment_delete
from billing.models import InvoiceStatus
from doctolib_bridge import tasks
from doctolib_bridge.fields import SYNCED_PATIENT_FIELDS
from doctolib_bridge.handover import csv_files, removal, services, storage
from doctolib_bridge.handover.job import FAILED_INTERNAL, MAX_RUNS, export_run
from doctolib_bridge.handover.services import export_start, export_undo
from doctolib_bridge.models import (
    ExportedAppointment,
    ExportJob,
    ExportState,
    RemovedAppointment,
    Transfer,
)
from doctolib_bridge.tasks import fail_dead_jobs_task
from documentation.services import entry_create
from lemniscus.celery import app as celery_app
from lemniscus.errors import InvalidStatus, PermissionDenied, UndoRefused
from lemniscus.jobs import heartbeat
from organisations.models import Role, User
from outbox.models import OutboxMessage
from outbox.services import dispatch_pending
from patients.models import Patient
from tests.admin.conftest import url
from tests.conftest import assert_problem, token_client
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    OrganisationFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
    invoice_over,
)
from tests.jobs.conftest import _fresh_producers

pytestmark = pytest.mark.django_db

BOM = "\ufeff".encode()
PATIENT_HEADER = (
    "lemniscus id;Anrede;Titel;Vorname;Nachname;Geburtsdatum;Mobil;Festnetz;E-Mail;Straße;PLZ;Ort"
)
APPOINTMENT_HEADER = (
    "lemniscus id;Patient lemniscus id;Nachname;Vorname;Geburtsdatum;Datum;Beginn;"
    "Dauer (Minuten);Kalenderspalte;Leistungskette;Anmerkung"
)


def at(organisation, days: int, hour: int, minute: int = 0) -> datetime:
    """A time `days` after today in the organisation's zone."""
    day = organisation.today() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute), tzinfo=organisation.zone)


def export(organisation, actor, *, delete: bool = False) -> ExportJob:
    return export_start(organisation=organisation, actor=actor, delete_appointments=delete)


def text(stored) -> str:
    with stored.open("rb") as handle:
        raw = handle.read()
    assert raw.startswith(BOM)
    return raw[len(BOM) :].decode("utf-8")


def rows(stored) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text(stored), newline=""), delimiter=";"))


def ids(stored) -> set[str]:
    return {row[0] for row in rows(stored)[1:]}


def every_field(queryset) -> list[dict]:
    return list(queryset.order_by("pk").values())


@pytest.fixture
def anna(organisation):
    return PatientFactory(
        organisation=organisation,
        salutation="female",
        title="Dr.",
        first_name="Jürgen-Öztürk",
        last_name="Müßig",
        birth_date="1980-02-03",
        mobile_phone="+491711234567",
        landline_phone="+49301234567",
        email="anna@example.org",
        street="Lindenstraße 4",
        postal_code="10115",
        city="Köln",
    )


@pytest.fixture
def ahead(organisation, anna):
    """An appointment to hand over: tomorrow 08:05 in the organisation's zone."""
    return AppointmentFactory(
        organisation=organisation,
        patient=anna,
        calendar_column=CalendarColumnFactory(organisation=organisation, name="Raum Süd"),
        service_chain=ServiceChainFactory(organisation=organisation, description="KG; 30 min"),
        start=at(organisation, 1, 8, 5),
        duration_minutes=45,
        note='Bitte; zweimal "klingeln"\nund warten',
    )


def _invoiced(appointment, status=InvoiceStatus.DRAFT):
    invoice_over(appointment, status, lock=status != InvoiceStatus.CANCELLED)
    return appointment


@pytest.fixture
def mixed(organisation, anna, ahead):
    """One appointment of every kind the rule tells apart."""
    make = lambda **kw: AppointmentFactory(organisation=organisation, patient=anna, **kw)  # noqa: E731
    other_org = AppointmentFactory(start=at(organisation, 2, 10))
    return {
        "ahead": ahead,
        "earlier_today": make(start=at(organisation, 0, 0, 1)),
        "next_month": make(start=at(organisation, 30, 17, 30)),
        "done_ahead": make(start=at(organisation, 3, 9), status=AppointmentStatus.DONE),
        "yesterday": make(start=at(organisation, -1, 23, 59)),
        "cancelled": make(start=at(organisation, 2, 9), status=AppointmentStatus.CANCELLED),
        "invoiced": _invoiced(make(start=at(organisation, 0, 23, 0))),
        "other_org": other_org,
    }


HANDED_OVER = {"ahead", "earlier_today", "next_month", "done_ahead"}


# The files


def test_patients_csv_has_bom_semicolons_german_headers_and_dates(organisation, admin_user, anna):
    PatientFactory(organisation=organisation, first_name="", last_name="Ohne", birth_date=None)

    job = export(organisation, admin_user)

    assert job.state == ExportState.DONE
    lines = text(job.patients_file).split("\r\n")
    assert lines[0] == PATIENT_HEADER
    assert lines[1] == (
        f"{anna.public_id};Frau;Dr.;Jürgen-Öztürk;Müßig;03.02.1980;+491711234567;"
        "+49301234567;anna@example.org;Lindenstraße 4;10115;Köln"
    )
    assert lines[2].split(";")[1:6] == ["", "", "", "Ohne", ""]
    assert lines[3:] == [""]
    assert job.patients_count == 2


def test_patients_csv_covers_every_field_doctolib_takes_over():
    exported = [name for _, name in csv_files.PATIENT_COLUMNS]
    assert set(SYNCED_PATIENT_FIELDS) <= set(exported)
    assert all(Patient._meta.get_field(name) for name in exported)


def test_appointments_csv_in_the_organisations_zone_with_quoted_note(
    organisation, admin_user, anna, ahead
):
    organisation.time_zone = "America/New_York"
    organisation.save()
    ahead.start = at(organisation, 1, 8, 5)
    ahead.save()

    job = export(organisation, admin_user)

    raw = text(job.appointments_file)
    assert raw.split("\r\n")[0] == APPOINTMENT_HEADER
    assert '"Bitte; zweimal ""klingeln""\nund warten"' in raw
    assert rows(job.appointments_file)[1] == [
        str(ahead.public_id),
        str(anna.public_id),
        "Müßig",
        "Jürgen-Öztürk",
        "03.02.1980",
        (organisation.today() + timedelta(days=1)).strftime("%d.%m.%Y"),
        "08:05",
        "45",
        "Raum Süd",
        "KG; 30 min",
        'Bitte; zweimal "klingeln"\nund warten',
    ]
    assert job.appointments_count == 1


def test_only_the_appointments_to_hand_over_are_exported(organisation, admin_user, mixed):
    job = export(organisation, admin_user)

    assert ids(job.appointments_file) == {str(mixed[name].public_id) for name in HANDED_OVER}
    assert job.appointments_count == len(HANDED_OVER)
    assert str(mixed["other_org"].patient.public_id) not in ids(job.patients_file)


def test_export_without_removal_changes_nothing(organisation, admin_user, mixed):
    Patient.objects.filter(organisation=organisation).update(sync_to_doctolib=True)
    before = (every_field(Appointment.objects), every_field(Patient.objects))

    job = export(organisation, admin_user)

    assert (job.state, job.removed_count) == (ExportState.DONE, 0)
    assert (every_field(Appointment.objects), every_field(Patient.objects)) == before
    organisation.refresh_from_db()
    assert organisation.handover_at is None
    assert not RemovedAppointment.objects.exists()


# Removing


def test_removal_takes_exactly_the_exported_appointments(organisation, admin_user, mixed):
    kept = {name for name in mixed if name not in HANDED_OVER}
    transfer = Transfer.objects.create(
        organisation=organisation,
        doctolib_appointment_id="dl-9",
        payload={},
        appointment=mixed["ahead"],
    )

    job = export(organisation, admin_user, delete=True)

    remaining = set(Appointment.objects.values_list("public_id", flat=True))
    assert remaining == {mixed[name].public_id for name in kept}
    assert ids(job.appointments_file) == {str(mixed[name].public_id) for name in HANDED_OVER}
    assert (job.appointments_count, job.removed_count) == (4, 4)
    assert RemovedAppointment.objects.filter(job=job).count() == 4
    gone = Appointment.history.filter(history_type="-", id=mixed["ahead"].pk).get()
    assert (gone.history_user, gone.history_change_reason) == (admin_user, "Übergabe an Doctolib")
    transfer.refresh_from_db()
    assert transfer.appointment is None
    organisation.refresh_from_db()
    assert organisation.handover_at == job.finished_at


def test_removal_leaves_an_appointment_changed_after_it_was_written(
    organisation, admin_user, mixed, monkeypatch
):
    write = csv_files.write

    def write_then_staff_edits(**kwargs):
        written = write(**kwargs)
        Appointment.objects.filter(pk=mixed["ahead"].pk).update(note="verschoben")
        Appointment.objects.filter(pk=mixed["next_month"].pk).update(
            status=AppointmentStatus.CANCELLED
        )
        AppointmentFactory(organisation=organisation, start=at(organisation, 4, 9))
        return written

    monkeypatch.setattr(csv_files, "write", write_then_staff_edits)

    job = export(organisation, admin_user, delete=True)

    assert (job.appointments_count, job.removed_count) == (4, 2)
    assert Appointment.objects.filter(pk=mixed["ahead"].pk, note="verschoben").exists()
    assert Appointment.objects.filter(pk=mixed["next_month"].pk).exists()
    assert Appointment.objects.filter(organisation=organisation).count() == 6


def test_removal_keeps_an_appointment_still_listed_on_a_cancelled_invoice(
    organisation, admin_user, anna
):
    listed = _invoiced(
        AppointmentFactory(organisation=organisation, patient=anna, start=at(organisation, 1, 9)),
        InvoiceStatus.CANCELLED,
    )

    job = export(organisation, admin_user, delete=True)

    assert ids(job.appointments_file) == {str(listed.public_id)}
    assert job.removed_count == 0
    assert Appointment.objects.filter(pk=listed.pk).exists()


def test_removal_keeps_a_documented_appointment(organisation, admin_user, anna, ahead):
    """Documentation written for an appointment of the next day keeps pointing to it:
    the appointment is exported but stays (docs/decisions.md, "Handover export")."""
    entry = entry_create(patient=anna, actor=admin_user, text="Vorbefund", appointment=ahead)

    job = export(organisation, admin_user, delete=True)

    assert ids(job.appointments_file) == {str(ahead.public_id)}
    assert job.removed_count == 0
    entry.refresh_from_db()
    assert entry.appointment_id == ahead.pk


def test_every_relation_to_appointments_is_handled_by_the_removal():
    """The removal deletes rows without Django's collector: a new model pointing to
    appointments must be handled in doctolib_bridge.handover.removal.remove first."""
    relations = {
        (rel.related_model._meta.label, rel.remote_field.name)
        for rel in Appointment._meta.get_fields(include_hidden=True)
        if isinstance(rel, ForeignObjectRel)
        and not rel.related_model._meta.label.endswith("HistoricalAppointment")
    }
    assert relations == {
        ("billing.InvoiceLine", "appointment"),  # excluded from the removal
        ("billing.HistoricalInvoiceLine", "appointment"),  # history, no constraint
        ("doctolib_bridge.Transfer", "appointment"),  # link kept in the snapshot
        ("documentation.DocumentationEntry", "appointment"),  # excluded from the removal
        ("documentation.HistoricalDocumentationEntry", "appointment"),  # history
    }


@pytest.mark.parametrize(
    ("module", "step"), [(csv_files, "fingerprint"), (removal, "remove")]
)  # while writing, in the final step
def test_a_failure_before_the_end_leaves_nothing(
    organisation, admin_user, mixed, monkeypatch, module, step
):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(module, step, broken)
    before = every_field(Appointment.objects)

    job = export(organisation, admin_user, delete=True)

    assert job.state == ExportState.FAILED
    assert job.error.startswith("Der Export ist wegen eines internen Fehlers abgebrochen")
    assert not job.patients_file and not job.appointments_file
    assert every_field(Appointment.objects) == before
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []
    assert not ExportedAppointment.objects.exists()  # the removal's fingerprints too
    organisation.refresh_from_db()
    assert organisation.handover_at is None


# Running again


def test_a_done_job_is_not_run_again(organisation, admin_user, mixed):
    job = export(organisation, admin_user, delete=True)
    AppointmentFactory(organisation=organisation, start=at(organisation, 4, 9))
    content = text(job.appointments_file)

    assert export_run(job_id=job.pk) == "skipped"

    job.refresh_from_db()
    assert (job.attempts, job.removed_count, text(job.appointments_file)) == (1, 4, content)


def test_a_running_job_whose_worker_died_starts_over(organisation, admin_user, mixed):
    job = ExportJob.objects.create(
        organisation=organisation, created_by=admin_user, delete_appointments=True
    )
    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.RUNNING, attempts=1)
    leftover = Path(settings.MEDIA_ROOT, "exports/tmp", f"{job.public_id}-1-patients.csv")
    leftover.parent.mkdir(parents=True)
    leftover.write_text("halb")

    assert export_run(job_id=job.pk) == ExportState.DONE

    job.refresh_from_db()
    assert (job.state, job.attempts, job.removed_count) == (ExportState.DONE, 2, 4)
    assert not leftover.exists()
    assert (
        len(rows(job.patients_file))
        == 1 + Patient.objects.filter(organisation=organisation).count()
    )


def test_a_job_interrupted_too_often_is_given_up(organisation, admin_user, mixed):
    job = ExportJob.objects.create(organisation=organisation, delete_appointments=True)
    ExportJob.objects.filter(pk=job.pk).update(state=ExportState.RUNNING, attempts=MAX_RUNS)

    assert export_run(job_id=job.pk) == "skipped"

    job.refresh_from_db()
    assert job.state == ExportState.FAILED
    assert "aufgegeben" in job.error
    assert Appointment.objects.count() == len(mixed)


def test_a_run_superseded_by_a_newer_run_offers_nothing(
    organisation, admin_user, mixed, monkeypatch
):
    job = ExportJob.objects.create(organisation=organisation, delete_appointments=True)
    write = csv_files.write

    def write_while_redelivered(**kwargs):
        written = write(**kwargs)
        ExportJob.objects.filter(pk=job.pk).update(attempts=2)  # another run claimed it
        return written

    monkeypatch.setattr(csv_files, "write", write_while_redelivered)

    assert export_run(job_id=job.pk) == "superseded"

    job.refresh_from_db()
    assert (job.state, job.removed_count) == (ExportState.RUNNING, 0)
    assert Appointment.objects.count() == len(mixed)
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []


def test_the_task_retries_database_errors_and_then_fails_the_job(organisation, monkeypatch):
    job = ExportJob.objects.create(organisation=organisation)
    calls = []

    def database_gone(*, job_id):
        calls.append(job_id)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tasks, "export_run", database_gone)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)

    result = tasks.export_run_task.apply((job.pk,))  # the retries run in-process too

    assert isinstance(result.result, OperationalError)
    assert len(calls) == 1 + tasks.export_run_task.max_retries
    job.refresh_from_db()
    assert (job.state, job.error) == (ExportState.FAILED, FAILED_INTERNAL)


def test_the_task_does_not_run_a_done_job_again(organisation, admin_user, anna):
    job = export(organisation, admin_user)

    assert tasks.export_run_task.apply((job.pk,)).get() == "skipped"
    assert ExportJob.objects.get(pk=job.pk).attempts == 1


def test_state_changes_only_along_the_table(organisation):
    job = ExportJob.objects.create(organisation=organisation, state=ExportState.DONE)
    with pytest.raises(InvalidStatus):
        services.export_transition(job, ExportState.RUNNING)
    assert ExportJob.objects.get(pk=job.pk).state == ExportState.DONE


# Undoing


def test_undo_restores_the_appointments_exactly(organisation, admin_user, mixed):
    transfer = Transfer.objects.create(
        organisation=organisation, doctolib_appointment_id="dl-9", payload={}
    )
    Appointment.objects.filter(pk=mixed["ahead"].pk).update(
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="dl-9",
        doctolib_motive_name="Osteopathie",
        service_chain_match="description",
        created_by=admin_user,
        confirmation_sent_at=timezone.now() - timedelta(hours=3),
        created_at=timezone.now() - timedelta(days=40, microseconds=123457),
    )
    transfer.appointment_id = mixed["ahead"].pk
    transfer.save()
    before = every_field(Appointment.objects)
    support = UserFactory(organisation=None, is_staff=True, is_superuser=True)
    job = export(organisation, admin_user, delete=True)

    export_undo(job=job, actor=support)

    assert every_field(Appointment.objects) == before
    transfer.refresh_from_db()
    assert transfer.appointment_id == mixed["ahead"].pk
    back = Appointment.history.filter(id=mixed["ahead"].pk).first()
    assert (back.history_type, back.history_user, back.created_at) == (
        "+",
        support,
        before[[row["id"] for row in before].index(mixed["ahead"].pk)]["created_at"],
    )
    job.refresh_from_db()
    assert (job.undone_by, job.undone_at is not None) == (support, True)
    organisation.refresh_from_db()
    assert organisation.handover_at is None


def _refused(job, actor, reason: str):
    before = every_field(Appointment.objects), every_field(ExportJob.objects)
    with pytest.raises(UndoRefused) as refused:
        export_undo(job=job, actor=actor)
    assert reason in refused.value.detail
    assert refused.value.status == 409
    assert (every_field(Appointment.objects), every_field(ExportJob.objects)) == before


def test_undo_is_refused_after_seven_days(organisation, admin_user, mixed):
    job = export(organisation, admin_user, delete=True)
    ExportJob.objects.filter(pk=job.pk).update(
        finished_at=timezone.now() - timedelta(days=7, minutes=1)
    )
    job.refresh_from_db()

    _refused(job, admin_user, "mehr als 7 Tage")


def test_undo_is_refused_once_staff_created_an_appointment(organisation, admin_user, anna, mixed):
    job = export(organisation, admin_user, delete=True)
    made = appointment_create(
        organisation=organisation,
        actor=admin_user,
        patient_id=anna.public_id,
        calendar_column_id=mixed["yesterday"].calendar_column.public_id,
        start=at(organisation, 2, 11),
        duration_minutes=30,
    )

    _refused(job, admin_user, "Termine angelegt")
    appointment_delete(appointment=made, actor=admin_user)  # deleting it again does not help
    _refused(job, admin_user, "Termine angelegt")


def test_undo_is_allowed_after_a_transfer_from_doctolib(organisation, admin_user, mixed, plugin):
    job = export(organisation, admin_user, delete=True)
    plugin.post("/patients", {"doctolib_patient_id": "dp-1", "last_name": "Ott"})
    pushed = plugin.put(
        "/appointments/dl-77",
        {
            "doctolib_patient_id": "dp-1",
            "agenda": {"id": "ag-1", "name": "Frau Weber"},
            "visit_motive": {"name": "Osteopathie", "sync_id": None},
            "start": at(organisation, 1, 9).isoformat(),
            "duration_minutes": 30,
            "note": "",
        },
    )
    assert pushed.status_code == 201, pushed.content

    export_undo(job=job, actor=admin_user)

    # the 7 appointments of the organisation are all back, next to the transferred one
    assert Appointment.objects.filter(organisation=organisation).count() == 7 + 1


def test_a_second_undo_is_refused(organisation, admin_user, mixed):
    job = export(organisation, admin_user, delete=True)
    export_undo(job=job, actor=admin_user)
    job.refresh_from_db()

    _refused(job, admin_user, "schon")
    assert Appointment.objects.count() == len(mixed)


def test_undo_is_refused_for_an_export_without_removal_and_for_older_handovers(
    organisation, admin_user, mixed
):
    plain = export(organisation, admin_user)
    older = export(organisation, admin_user, delete=True)
    newer = export(organisation, admin_user, delete=True)

    _refused(plain, admin_user, "Nur ein fertiger Export mit Löschen")
    _refused(older, admin_user, "Nur die letzte Übergabe")
    assert newer.removed_count == 0


def test_undo_is_refused_when_a_record_it_needs_is_gone(organisation, admin_user, mixed):
    job = export(organisation, admin_user, delete=True)
    chain = mixed["ahead"].service_chain
    Appointment.objects.filter(service_chain=chain).update(service_chain=None)
    chain.delete()

    _refused(job, admin_user, "lassen sich nicht wiederherstellen")
    assert ExportJob.objects.get(pk=job.pk).undone_at is None


def test_undo_action_in_the_django_admin(client, organisation, admin_user, mixed):
    User.objects.create_superuser("support@lemniscus.test", "support-geheim-1")
    assert client.login(email="support@lemniscus.test", password="support-geheim-1")
    plain = export(organisation, admin_user)
    job = export(organisation, admin_user, delete=True)
    changelist = url(ExportJob, "changelist")

    done = client.post(
        changelist, {"action": "undo_removal", "_selected_action": [job.pk]}, follow=True
    )
    refused = client.post(
        changelist, {"action": "undo_removal", "_selected_action": [plain.pk]}, follow=True
    )

    assert "4 Termin(e) wiederhergestellt" in done.content.decode()
    assert Appointment.objects.count() == len(mixed)
    assert "Nur ein fertiger Export mit Löschen" in refused.content.decode()


# Starting


def test_only_organisation_admins_start_exports(organisation):
    member = UserFactory(organisation=organisation, role=Role.STAFF, can_billing=True)
    with pytest.raises(PermissionDenied):
        export(organisation, member, delete=True)
    assert not ExportJob.objects.exists()


def test_a_job_that_lost_its_task_does_not_block_new_exports(organisation, admin_user, anna):
    lost = ExportJob.objects.create(organisation=organisation)
    ExportJob.objects.filter(pk=lost.pk).update(
        state=ExportState.RUNNING, started_at=timezone.now() - timedelta(hours=3)
    )

    job = export(organisation, admin_user)

    lost.refresh_from_db()
    assert (lost.state, job.state) == (ExportState.FAILED, ExportState.DONE)
    assert "nicht zu Ende" in lost.error


@pytest.fixture
def broker_down():
    """The broker is a closed port: queuing fails like an unreachable Redis."""
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    _fresh_producers()
    yield
    celery_app.conf.update(saved)
    _fresh_producers()


def test_a_broker_that_is_down_leaves_the_job_queued_in_the_outbox(api, organisation, broker_down):
    """The broker down (issue 12): 202 with the job queued, its message waiting in the
    outbox; once the broker is back, the dispatcher hands it over and the job runs."""
    response = api.post("/api/v1/exports/", {"delete_appointments": True}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "queued"
    message = OutboxMessage.objects.get(task="doctolib_bridge.export_run")
    assert message.sent_at is None and message.attempts == 1
    assert message.last_error.startswith("OperationalError")
    assert api.post("/api/v1/exports/", {}, format="json").status_code == 409  # one at a time

    celery_app.conf.update(task_always_eager=True)  # the broker is back (in-process here)
    assert dispatch_pending(now=timezone.now() + timedelta(minutes=1)) == 1

    job = ExportJob.objects.get()
    assert job.state == ExportState.DONE
    message.refresh_from_db()
    assert message.sent_at is not None


# The staff API


def test_post_answers_202_with_the_job_and_the_files_download(api, organisation, mixed):
    response = api.post("/api/v1/exports/", {"delete_appointments": True}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    job = ExportJob.objects.get(public_id=body["id"])
    assert body["state"] == "done"  # in-process (no REDIS_URL): done before the answer
    assert (body["delete_appointments"], body["appointments_count"], body["removed_count"]) == (
        True,
        4,
        4,
    )
    base = f"{settings.PUBLIC_BASE_URL}/api/v1/exports/{job.public_id}"
    assert body["files"] == {
        "patients": f"{base}/patients.csv",
        "appointments": f"{base}/appointments.csv",
    }
    assert body["finished_at"].endswith(("+01:00", "+02:00"))
    download = api.get(body["files"]["appointments"].removeprefix(settings.PUBLIC_BASE_URL))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="appointments.csv"' in download["Content-Disposition"]
    content = b"".join(download.streaming_content)
    assert content.startswith(BOM)
    assert content.decode("utf-8-sig").count("\r\n") == 5
    assert api.get(f"/api/v1/exports/{job.public_id}/patients.csv").status_code == 200


def test_files_are_not_found_until_the_job_is_done(api, organisation):
    job = ExportJob.objects.create(organisation=organisation)

    detail = api.get(f"/api/v1/exports/{job.public_id}/").json()
    assert detail["files"] == {"patients": None, "appointments": None}
    for name in ("patients.csv", "appointments.csv"):
        assert_problem(api.get(f"/api/v1/exports/{job.public_id}/{name}"), 404, "not_found")


def test_a_file_gone_from_the_storage_is_404_not_500(api, organisation, admin_user):
    job = export(organisation, admin_user)
    Path(job.patients_file.path).unlink()

    response = api.get(f"/api/v1/exports/{job.public_id}/patients.csv")

    assert "nicht mehr vorhanden" in assert_problem(response, 404, "not_found")["detail"]


def test_a_second_export_while_one_runs_is_409(api, organisation):
    ExportJob.objects.create(organisation=organisation, state=ExportState.QUEUED)

    assert_problem(api.post("/api/v1/exports/", {}, format="json"), 409, "export_running")
    assert ExportJob.objects.count() == 1


@pytest.mark.parametrize(
    "body", [{"delete_appointments": "vielleicht"}, {"delete_appointments": [1]}]
)
def test_bad_input_is_422_and_starts_nothing(api, body):
    response = api.post("/api/v1/exports/", body, format="json")
    assert "delete_appointments" in assert_problem(response, 422, "validation_error")["errors"]
    assert not ExportJob.objects.exists()


def test_malformed_body_is_400(api):
    assert_problem(
        api.post("/api/v1/exports/", "{nope", content_type="application/json"),
        400,
        "malformed_request",
    )
    assert not ExportJob.objects.exists()


def test_staff_without_admin_role_get_403_everywhere(organisation, admin_user, mixed):
    job = export(organisation, admin_user, delete=True)
    member = token_client(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=True))
    base = f"/api/v1/exports/{job.public_id}"

    for response in (
        member.get("/api/v1/exports/"),
        member.post("/api/v1/exports/", {"delete_appointments": True}, format="json"),
        member.get(f"{base}/"),
        member.get(f"{base}/patients.csv"),
        member.get(f"{base}/appointments.csv"),
    ):
        assert_problem(response, 403, "permission_denied")
    assert ExportJob.objects.count() == 1


def test_other_organisation_gets_404_and_changes_nothing(
    organisation, admin_user, mixed, other_api
):
    job = export(organisation, admin_user)
    base = f"/api/v1/exports/{job.public_id}"

    for path in (f"{base}/", f"{base}/patients.csv", f"{base}/appointments.csv"):
        assert_problem(other_api.get(path), 404, "not_found")
    assert other_api.get("/api/v1/exports/").json()["count"] == 0
    assert (
        other_api.post("/api/v1/exports/", {"delete_appointments": True}, format="json").status_code
        == 202
    )
    assert Appointment.objects.filter(organisation=organisation).count() == len(mixed) - 1


@pytest.mark.parametrize("page_size", [1, 500])
def test_list_is_newest_first_in_constant_queries(
    api, organisation, page_size, django_assert_max_num_queries
):
    jobs = [ExportJob.objects.create(organisation=organisation, state="done") for _ in range(3)]

    with django_assert_max_num_queries(4):
        body = api.get("/api/v1/exports/", {"page_size": page_size}).json()

    assert body["count"] == 3
    assert [row["id"] for row in body["results"]] == [str(job.public_id) for job in reversed(jobs)][
        :page_size
    ]


# Memory


def _peak_memory(organisation, admin, appointments: int) -> int:
    patients = Patient.objects.bulk_create(
        Patient(organisation=organisation, last_name=f"Name{i}") for i in range(200)
    )
    column = CalendarColumnFactory(organisation=organisation)
    chain = ServiceChainFactory(organisation=organisation)
    start = at(organisation, 1, 8)
    Appointment.objects.bulk_create(
        (
            Appointment(
                organisation=organisation,
                patient=patients[i % 200],
                calendar_column=column,
                service_chain=chain,
                start=start + timedelta(minutes=i),
                duration_minutes=30,
                note="Knie links, bitte Handtuch mitbringen",
            )
            for i in range(appointments)
        ),
        batch_size=2000,
    )
    job = ExportJob.objects.create(organisation=organisation, created_by=admin)
    tracemalloc.start()
    try:
        assert export_run(job_id=job.pk) == ExportState.DONE
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_does_not_grow_with_the_number_of_rows(organisation, other_organisation):
    # COPY streams row by row (PostgreSQL); the csv module reads chunks of 2,000 rows
    # (SQLite). The removal's fingerprints are kept in the database, not in memory.
    small = _peak_memory(organisation, None, 5_000)
    large = _peak_memory(other_organisation, None, 25_000)

    # Five times the rows, the same memory.
    assert large < 5 * 1024 * 1024, large
    assert large < small + 256 * 1024, (small, large)


# Heartbeats (issue 12): a running job whose worker died is failed after two minutes.


def _running(organisation, admin_user, *, beat_ago: timedelta) -> ExportJob:
    job = ExportJob.objects.create(
        organisation=organisation,
        created_by=admin_user,
        state=ExportState.RUNNING,
        attempts=1,
        started_at=timezone.now() - beat_ago,
        heartbeat_at=timezone.now() - beat_ago,
    )
    return job


def test_a_running_job_without_heartbeat_for_two_minutes_is_failed(organisation, admin_user):
    dead = _running(organisation, admin_user, beat_ago=timedelta(minutes=2, seconds=5))
    temp = storage.temp_path(dead, "patients.csv")
    temp.write_text("halb geschrieben")

    assert services.unscoped_export_fail_dead() == 1

    dead.refresh_from_db()
    assert dead.state == ExportState.FAILED
    assert dead.error == services.FAILED_STALE
    assert not temp.exists()
    assert export(organisation, admin_user).state == ExportState.DONE  # a new one runs


def test_a_job_that_beats_or_waits_in_the_queue_is_left_alone(organisation, admin_user):
    alive = _running(organisation, admin_user, beat_ago=timedelta(seconds=30))
    ExportJob.objects.filter(pk=alive.pk).update(state=ExportState.QUEUED)  # waiting
    queued_long = ExportJob.objects.get(pk=alive.pk)
    other = _running(OrganisationFactory(plan="XL"), admin_user, beat_ago=timedelta(seconds=30))

    assert services.unscoped_export_fail_dead() == 0
    assert queued_long.state == ExportState.QUEUED
    other.refresh_from_db()
    assert other.state == ExportState.RUNNING


def test_the_beat_task_fails_dead_jobs(organisation, admin_user):
    _running(organisation, admin_user, beat_ago=timedelta(minutes=5))

    assert fail_dead_jobs_task.delay().get() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_is_written_while_the_block_runs(organisation, admin_user):
    job = _running(organisation, admin_user, beat_ago=timedelta(minutes=1))
    first = ExportJob.objects.get(pk=job.pk).heartbeat_at

    with heartbeat(ExportJob, job.pk, every=0.1):
        sleep(0.45)
        during = ExportJob.objects.get(pk=job.pk).heartbeat_at

    assert during > first + timedelta(seconds=50)
