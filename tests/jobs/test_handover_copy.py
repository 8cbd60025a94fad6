"""The handover's files through COPY (PostgreSQL) are byte for byte those of Python's
csv module (the SQLite default), and the removal compares fingerprints the database
computed: what changed since the file was written stays."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appointments.models import Appointment, AppointmentStatus
from doctolib_bridge.handover import csv_files
from doctolib_bridge.handover.job import export_run
from doctolib_bridge.handover.selectors import today_starts
from doctolib_bridge.models import ExportedAppointment, ExportJob, ExportState
from patients.models import Patient
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db

TRICKY = (
    "",
    "Knie links",
    "Bitte; zweimal",
    'Termin "dringend"',
    "erste Zeile\nzweite Zeile",
    "Windows\r\nZeilenende",
    "nur\rWagenrücklauf",
    'alles; "zusammen"\r\nund\nmehr\r',
    " führendes Leerzeichen ",
    "Tab\tdazwischen",
    "Backslash \\ und \\N",
    "\\.",
    "=SUMME(A1)",
    "Emoji 🦵 und Ümläute ßÄÖÜ",
    '"',
    ";",
    "\n",
)


def _transitions(zone: ZoneInfo, after: datetime) -> list[datetime]:
    """The next changes of the UTC offset in `zone` (to the hour), as UTC datetimes."""
    found, moment = [], after.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while len(found) < 2:
        later = moment + timedelta(hours=1)
        if later.astimezone(zone).utcoffset() != moment.astimezone(zone).utcoffset():
            found.append(later)
        moment = later
    return found


@pytest.fixture
def tricky(organisation):
    """Patients and appointments with everything CSV quoting can trip over."""
    organisation.time_zone = "Europe/Berlin"
    organisation.save()
    zone = organisation.zone
    patients = [
        PatientFactory(
            organisation=organisation,
            salutation="female",
            title='Dr. "med."',
            first_name="Jürgen-Öztürk",
            last_name="Müßig; Sohn",
            birth_date="1980-02-03",
            mobile_phone="+491711234567",
            email="anna@example.org",
            street="Lindenstraße 4\nHinterhaus",
            city="Köln\r\nDeutz",
        ),
        PatientFactory(
            organisation=organisation,
            salutation="",
            title="",
            first_name="",
            last_name="Ohne",
            birth_date=None,
            street="",
            postal_code="",
            city="",
        ),
        PatientFactory(
            organisation=organisation,
            salutation="male",
            last_name="O'Brien",
            birth_date="0901-01-01",
        ),
    ]
    columns = [
        CalendarColumnFactory(organisation=organisation, name=name)
        for name in ("Raum Süd", "Therapeut/in; 2", '"Raum" 3')
    ]
    chains = [
        ServiceChainFactory(organisation=organisation, description=description)
        for description in ("KG; 30 min", 'MLD "45"', "Massage\nmit Wärme")
    ]
    today = today_starts(organisation)
    starts = [today + timedelta(minutes=1), today + timedelta(days=1, hours=8, minutes=5)]
    for change in _transitions(zone, today):  # around both DST changeovers
        starts += [change + timedelta(minutes=m) for m in (-61, -30, -1, 0, 1, 30, 59, 60, 61)]
    for i, note in enumerate(TRICKY * 2):
        AppointmentFactory(
            organisation=organisation,
            patient=patients[i % len(patients)],
            calendar_column=columns[i % len(columns)],
            service_chain=None if i % 4 == 0 else chains[i % len(chains)],
            start=starts[i % len(starts)] + timedelta(days=7 * (i // len(starts))),
            duration_minutes=(20, 45, 60, 90)[i % 4],
            note=note,
            status=AppointmentStatus.DONE if i % 5 == 0 else AppointmentStatus.PLANNED,
        )
    AppointmentFactory(  # not handed over: before today, or cancelled
        organisation=organisation, patient=patients[0], start=today - timedelta(minutes=1)
    )
    AppointmentFactory(
        organisation=organisation,
        patient=patients[0],
        start=today + timedelta(days=2),
        status=AppointmentStatus.CANCELLED,
    )
    return organisation


def _written(tmp_path, label: str) -> csv_files.Written:
    return csv_files.Written(
        patients_path=tmp_path / f"{label}-patients.csv",
        appointments_path=tmp_path / f"{label}-appointments.csv",
    )


@pytest.mark.postgres
def test_copy_writes_the_csv_modules_bytes(tricky, admin_user, tmp_path):
    job = ExportJob.objects.create(organisation=tricky, created_by=admin_user)
    cutoff = today_starts(tricky)
    by_copy, by_python = _written(tmp_path, "copy"), _written(tmp_path, "python")

    csv_files.write_with_copy(job=job, cutoff=cutoff, written=by_copy)
    csv_files.write_with_csv_module(job=job, cutoff=cutoff, written=by_python)

    for name in ("patients_path", "appointments_path"):
        ours, reference = getattr(by_copy, name).read_bytes(), getattr(by_python, name).read_bytes()
        assert ours == reference, name
    assert (by_copy.patients_count, by_copy.appointments_count) == (3, 2 * len(TRICKY))
    assert (by_python.patients_count, by_python.appointments_count) == (3, 2 * len(TRICKY))
    appointments = by_copy.appointments_path.read_bytes()
    assert appointments.startswith("\ufefflemniscus id;".encode())
    assert b'"alles; ""zusammen""\r\nund\nmehr\r"\r\n' in appointments
    assert b";;" in appointments  # an empty field is written as nothing, not ""


@pytest.mark.postgres
def test_times_around_the_dst_changeovers_are_wall_clock_times(tricky, admin_user, tmp_path):
    job = ExportJob.objects.create(organisation=tricky, created_by=admin_user)
    written = _written(tmp_path, "copy")

    cutoff = today_starts(tricky)
    csv_files.write_with_copy(job=job, cutoff=cutoff, written=written)

    lines = written.appointments_path.read_bytes().decode("utf-8-sig").split("\r\n")
    zone = tricky.zone
    handed_over = Appointment.objects.filter(organisation=tricky, start__gte=cutoff).exclude(
        status=AppointmentStatus.CANCELLED
    )
    for appointment in handed_over:
        local = appointment.start.astimezone(zone)
        [line] = [line for line in lines if line.startswith(str(appointment.public_id))]
        assert f";{local:%d.%m.%Y};{local:%H:%M};{appointment.duration_minutes};" in line
    # Both 02:30 of the night the clocks go back are there, once in summer time.
    assert len([line for line in lines if ";02:30;" in line]) >= 2


# Removal with fingerprints computed by the database


def _run(job: ExportJob, monkeypatch, change) -> ExportJob:
    """Run the job; `change` edits the data after the files were written."""
    write = csv_files.write

    def write_then_change(**kwargs):
        written = write(**kwargs)
        change()
        return written

    monkeypatch.setattr(csv_files, "write", write_then_change)
    assert export_run(job_id=job.pk) == ExportState.DONE
    job.refresh_from_db()
    return job


@pytest.fixture
def eight(organisation, admin_user):
    """Eight appointments to hand over: one for each kind of change, and one unchanged."""
    patient = PatientFactory(organisation=organisation)
    today = today_starts(organisation)
    return [
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            start=today + timedelta(days=1 + i, hours=9),
            duration_minutes=30,
            note=f"Termin {i}",
        )
        for i in range(8)
    ]


def test_removal_refuses_every_appointment_whose_exported_data_changed(
    organisation, admin_user, eight, monkeypatch
):
    unchanged = eight[0]
    other_patient = PatientFactory(organisation=organisation)
    other_column = CalendarColumnFactory(organisation=organisation)
    other_chain = ServiceChainFactory(organisation=organisation)
    changes = [
        {"patient": other_patient},
        {"start": eight[2].start + timedelta(minutes=1)},
        {"duration_minutes": 45},
        {"calendar_column": other_column},
        {"service_chain": other_chain},
        {"service_chain": None},
        {"note": "Termin 7 (verschoben)"},
    ]

    def change():
        for appointment, fields in zip(eight[1:], changes, strict=True):
            Appointment.objects.filter(pk=appointment.pk).update(**fields)

    job = ExportJob.objects.create(
        organisation=organisation, created_by=admin_user, delete_appointments=True
    )
    job = _run(job, monkeypatch, change)

    assert (job.appointments_count, job.removed_count) == (8, 1)
    remaining = set(Appointment.objects.values_list("pk", flat=True))
    assert remaining == {a.pk for a in eight[1:]}
    assert unchanged.pk not in remaining
    assert not ExportedAppointment.objects.exists()  # only while the run lasts


def test_removal_deletes_unchanged_appointments_whatever_else_changed(
    organisation, admin_user, eight, monkeypatch
):
    """What the file does not say about the appointment (its room, the patient's
    name) does not keep it, nor do seconds within the exported minute."""

    def change():
        Appointment.objects.filter(pk=eight[0].pk).update(
            start=eight[0].start + timedelta(seconds=30)
        )
        Patient.objects.filter(pk=eight[1].patient_id).update(last_name="Umbenannt")

    job = ExportJob.objects.create(
        organisation=organisation, created_by=admin_user, delete_appointments=True
    )
    job = _run(job, monkeypatch, change)

    assert (job.appointments_count, job.removed_count) == (8, 8)
    assert not Appointment.objects.exists()


def test_an_appointment_created_after_the_files_stays(organisation, admin_user, eight, monkeypatch):
    def change():
        AppointmentFactory(
            organisation=organisation,
            patient=eight[0].patient,
            start=eight[0].start + timedelta(hours=2),
        )

    job = ExportJob.objects.create(
        organisation=organisation, created_by=admin_user, delete_appointments=True
    )
    job = _run(job, monkeypatch, change)

    assert (job.appointments_count, job.removed_count) == (8, 8)
    assert Appointment.objects.count() == 1


def test_fingerprints_only_for_a_removal_and_only_of_the_running_attempt(
    organisation, admin_user, eight, monkeypatch
):
    stored = {}

    def look():
        stored["rows"] = list(
            ExportedAppointment.objects.values_list("job_id", "attempt", "appointment_pk")
        )

    plain = ExportJob.objects.create(organisation=organisation, created_by=admin_user)
    _run(plain, monkeypatch, look)
    assert stored["rows"] == []

    removal = ExportJob.objects.create(
        organisation=organisation, created_by=admin_user, delete_appointments=True
    )
    ExportedAppointment.objects.create(  # left by an earlier run that died
        job=removal, attempt=0, appointment_pk=eight[0].pk, fingerprint="0" * 32
    )
    removal = _run(removal, monkeypatch, look)

    assert sorted(stored["rows"]) == [(removal.pk, 1, a.pk) for a in eight]
    assert removal.removed_count == 8
    assert not ExportedAppointment.objects.exists()


@pytest.mark.postgres
def test_on_postgresql_the_export_goes_through_copy(organisation, admin_user, eight, monkeypatch):
    def not_this_one(**kwargs):
        raise AssertionError("the csv module's writer is SQLite's")

    monkeypatch.setattr(csv_files, "write_with_csv_module", not_this_one)
    job = ExportJob.objects.create(organisation=organisation, created_by=admin_user)

    assert export_run(job_id=job.pk) == ExportState.DONE
    job.refresh_from_db()
    assert (job.patients_count, job.appointments_count) == (1, 8)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_files_and_fingerprints_from_one_snapshot_outside_a_transaction(
    organisation, admin_user, eight
):
    """As a worker runs it (no surrounding transaction): the files and fingerprints are
    read in one REPEATABLE READ transaction, and the removal takes what they name."""
    job = ExportJob.objects.create(
        organisation=organisation, created_by=admin_user, delete_appointments=True
    )

    assert export_run(job_id=job.pk) == ExportState.DONE
    job.refresh_from_db()
    assert (job.appointments_count, job.removed_count) == (8, 8)
    assert not Appointment.objects.exists()
    assert not ExportedAppointment.objects.exists()
