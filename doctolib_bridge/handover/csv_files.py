"""`patients.csv` and `appointments.csv` (operations.md's columns): UTF-8 with BOM,
`;`, CRLF, streamed chunk by chunk of rows into a run's temporary files. While
writing, each exported appointment's key and a fingerprint of what the file says
about it are kept for the removal (`removal.remove`)."""

import csv
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db.models import CharField
from django.db.models.functions import Cast, TruncMinute

from doctolib_bridge.handover.selectors import CHUNK, handover_appointments
from doctolib_bridge.handover.storage import temp_path
from doctolib_bridge.models import ExportJob
from lemniscus.tenancy import scoped
from patients.models import Patient, Salutation

# The CSV columns, in operations.md's order: (header, Patient field).
PATIENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("lemniscus id", "public_id"),
    ("Anrede", "salutation"),
    ("Titel", "title"),
    ("Vorname", "first_name"),
    ("Nachname", "last_name"),
    ("Geburtsdatum", "birth_date"),
    ("Mobil", "mobile_phone"),
    ("Festnetz", "landline_phone"),
    ("E-Mail", "email"),
    ("Straße", "street"),
    ("PLZ", "postal_code"),
    ("Ort", "city"),
)
APPOINTMENT_HEADERS: tuple[str, ...] = (
    "lemniscus id",
    "Patient lemniscus id",
    "Nachname",
    "Vorname",
    "Geburtsdatum",
    "Datum",
    "Beginn",
    "Dauer (Minuten)",
    "Kalenderspalte",
    "Leistungskette",
    "Anmerkung",
)
SALUTATIONS = {Salutation.NONE: "", Salutation.MALE: "Herr", Salutation.FEMALE: "Frau"}


@dataclass
class Written:
    """What a run wrote: temporary files and, per exported appointment, its key and a
    fingerprint of what the file says about it (16 bytes a row, not a row object)."""

    patients_path: Path
    appointments_path: Path
    patients_count: int = 0
    ids: array = field(default_factory=lambda: array("q"))
    fingerprints: array = field(default_factory=lambda: array("q"))


def _german_date(iso: str | None) -> str:
    """`YYYY-MM-DD…` (as the database casts a date or time to text) as `TT.MM.JJJJ`."""
    return f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}" if iso else ""


def _as_text(field: str) -> Cast:
    return Cast(field, CharField())


def local_start(zone) -> Cast:
    """The start as wall-clock text in `zone`, `YYYY-MM-DD HH:MM:SS`, made by the
    database (PostgreSQL and SQLite alike): no datetime object per row."""
    return Cast(TruncMinute("start", tzinfo=zone), CharField())


def _patient_rows(*, organisation, written: Written) -> Iterator[list]:
    names = [name for _, name in PATIENT_COLUMNS]
    rows = (
        scoped(Patient, organisation)
        .order_by("pk")
        .annotate(birth=_as_text("birth_date"))
        .values_list(*["birth" if name == "birth_date" else name for name in names])
    )
    for public_id, salutation, title, first, last, birth, *rest in rows.iterator(CHUNK):
        written.patients_count += 1
        yield [
            str(public_id),
            SALUTATIONS[salutation],
            title,
            first,
            last,
            _german_date(birth),
            *rest,
        ]


APPOINTMENT_VALUES = (
    "pk",
    "public_id",
    "patient_id",
    "patient__public_id",
    "patient__last_name",
    "patient__first_name",
    "birth",
    "local_start",
    "duration_minutes",
    "calendar_column_id",
    "calendar_column__name",
    "service_chain_id",
    "service_chain__description",
    "note",
)


def fingerprint(patient_id, local_start, duration, column_id, chain_id, note) -> int:
    """The appointment's own exported data; a change after it was written makes the
    removal leave the appointment in place."""
    return hash((patient_id, local_start, duration, column_id, chain_id, note))


def _appointment_rows(*, organisation, cutoff: datetime, written: Written) -> Iterator[list]:
    """The rows of appointments.csv; records each appointment's key and fingerprint."""
    rows = (
        handover_appointments(organisation=organisation, cutoff=cutoff)
        .order_by("start", "pk")
        .annotate(
            birth=_as_text("patient__birth_date"),
            local_start=local_start(organisation.zone),
        )
        .values_list(*APPOINTMENT_VALUES)
    )
    for (
        pk,
        public_id,
        patient_id,
        patient_public_id,
        last,
        first,
        birth,
        start,
        duration,
        column_id,
        column,
        chain_id,
        chain,
        note,
    ) in rows.iterator(CHUNK):
        written.ids.append(pk)
        written.fingerprints.append(
            fingerprint(patient_id, start, duration, column_id, chain_id, note)
        )
        yield [
            str(public_id),
            str(patient_public_id),
            last,
            first,
            _german_date(birth),
            _german_date(start),
            start[11:16],
            duration,
            column,
            chain or "",
            note,
        ]


def write(*, job: ExportJob, cutoff: datetime) -> Written:
    """Stream both files into temporary files, chunk by chunk of rows."""
    organisation = job.organisation
    written = Written(
        patients_path=temp_path(job, "patients.csv"),
        appointments_path=temp_path(job, "appointments.csv"),
    )
    for path, headers, rows in (
        (
            written.patients_path,
            [header for header, _ in PATIENT_COLUMNS],
            _patient_rows(organisation=organisation, written=written),
        ),
        (
            written.appointments_path,
            APPOINTMENT_HEADERS,
            _appointment_rows(organisation=organisation, cutoff=cutoff, written=written),
        ),
    ):
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
            writer.writerow(headers)
            writer.writerows(rows)
    return written
