"""`patients.csv` and `appointments.csv` (operations.md's columns): UTF-8 with BOM,
`;`, CRLF, minimal quoting, written into a run's temporary files.

On PostgreSQL the database formats every field and `COPY … TO STDOUT` streams the
rows straight into the files (psycopg's copy API): no row object in Python. Elsewhere
(the embedded SQLite default) Python's csv module writes them, chunk by chunk of rows.
Both write the same bytes (tests/jobs/test_handover_copy.py compares them).

For "…und Termine löschen" the database also stores each exported appointment's key
and a fingerprint of what the file says about it (`ExportedAppointment`), read in the
same snapshot as the files; the removal (`removal.remove`) compares them in SQL."""

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    Func,
    IntegerField,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import MD5, Cast, Concat, NullIf, TruncMinute

from doctolib_bridge.handover.selectors import CHUNK, handover_appointments
from doctolib_bridge.handover.storage import temp_path
from doctolib_bridge.models import ExportedAppointment, ExportJob
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
DELIMITER = ";"
LINE_END = "\r\n"


@dataclass
class Written:
    """What a run wrote: its temporary files and how many rows each has."""

    patients_path: Path
    appointments_path: Path
    patients_count: int = 0
    appointments_count: int = 0


def write(*, job: ExportJob, cutoff: datetime) -> Written:
    """Both files into the run's temporary files and, for a job with removal, the
    exported appointments' fingerprints into the database, on PostgreSQL all from one
    snapshot."""
    written = Written(
        patients_path=temp_path(job, "patients.csv"),
        appointments_path=temp_path(job, "appointments.csv"),
    )
    postgresql = connection.vendor == "postgresql"
    with _one_snapshot() if postgresql else nullcontext():
        # Fingerprints first: whatever changes before the files are read differs from
        # its fingerprint and stays (what matters on SQLite, read without a snapshot).
        if job.delete_appointments:
            exported_record(job=job, cutoff=cutoff)
        if postgresql:
            write_with_copy(job=job, cutoff=cutoff, written=written)
        else:
            write_with_csv_module(job=job, cutoff=cutoff, written=written)
    return written


@contextmanager
def _one_snapshot():
    """One REPEATABLE READ transaction (PostgreSQL), so that the files and the
    fingerprints the removal reads show the same moment. Inside a transaction already
    (tests), that one is used as it is. Not on SQLite: its transactions begin
    IMMEDIATE (settings), and holding the write lock while the files are written would
    make every staff write wait."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _header(headers) -> bytes:
    """The BOM and the header line, as the csv module writes it."""
    line = io.StringIO()
    csv.writer(line, delimiter=DELIMITER, lineterminator=LINE_END).writerow(headers)
    return line.getvalue().encode("utf-8-sig")


# Fingerprints: what the file says about an appointment, computed by the database.


def local_start(zone) -> Cast:
    """The start as wall-clock text in `zone`, `YYYY-MM-DD HH:MM:SS`, made by the
    database (PostgreSQL and SQLite alike): no datetime object per row."""
    return Cast(TruncMinute("start", tzinfo=zone), CharField())


def fingerprint(zone) -> MD5:
    """The appointment's own exported data (patient, start to the minute in the
    organisation's zone, duration, column, chain, note) as an MD5 made by the database
    (Django registers MD5 for SQLite too); a change after the file was written makes
    the removal leave the appointment in place. Ids and the fixed-width start come
    before the note, so the joined text is unambiguous."""
    sep = Value("|")
    return MD5(
        Concat(
            "patient_id",
            sep,
            local_start(zone),
            sep,
            "duration_minutes",
            sep,
            "calendar_column_id",
            sep,
            "service_chain_id",  # NULL (no chain) becomes "", which no id is
            sep,
            "note",
            output_field=TextField(),
        )
    )


def exported_record(*, job: ExportJob, cutoff: datetime) -> None:
    """Each appointment the file takes, with its fingerprint, stored for this run in
    one INSERT … SELECT (the same selector as the file's rows)."""
    rows = (
        handover_appointments(organisation=job.organisation, cutoff=cutoff)
        .annotate(
            exported_job=Value(job.pk, output_field=IntegerField()),
            exported_attempt=Value(job.attempts, output_field=IntegerField()),
            exported_fingerprint=fingerprint(job.organisation.zone),
        )
        .values_list("exported_job", "exported_attempt", "pk", "exported_fingerprint")
    )
    select, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    table = ExportedAppointment._meta
    columns = ", ".join(
        quote(table.get_field(name).column)
        for name in ("job", "attempt", "appointment_pk", "fingerprint")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {quote(table.db_table)} ({columns}) {select}", params)


# PostgreSQL: formatted by the database, streamed by COPY.


class _ToChar(Func):
    function = "to_char"
    output_field = TextField()


class _AtZone(Func):
    """`start AT TIME ZONE 'Europe/Berlin'`: the wall-clock time in the zone."""

    template = "(%(expressions)s)"
    arg_joiner = " AT TIME ZONE "
    output_field = DateTimeField()


def _text(name: str) -> NullIf:
    """A text field; "" becomes NULL, because COPY writes NULL as nothing but quotes
    an empty string (`""`), which the csv module writes as nothing."""
    return NullIf(name, Value(""), output_field=TextField())


def _german_date_sql(expression) -> _ToChar:
    return _ToChar(expression, Value("DD.MM.YYYY"))


def patient_lines(*, organisation) -> QuerySet:
    """patients.csv's fields as the database formats them, in the file's order."""
    formatted = {
        "public_id": F("public_id"),  # COPY writes a uuid as str(uuid) does
        "salutation": Case(
            *[
                When(salutation=key, then=Value(label))
                for key, label in SALUTATIONS.items()
                if label
            ],
            default=Value(None),
            output_field=TextField(),
        ),
        "birth_date": _german_date_sql(F("birth_date")),
    }
    columns = {f"csv_{name}": formatted.get(name, _text(name)) for _, name in PATIENT_COLUMNS}
    return scoped(Patient, organisation).order_by("pk").annotate(**columns).values_list(*columns)


def appointment_lines(*, organisation, cutoff: datetime) -> QuerySet:
    """appointments.csv's fields as the database formats them, in the file's order."""
    start = _AtZone(F("start"), Value(organisation.zone.key))
    columns = {
        "csv_public_id": F("public_id"),
        "csv_patient": F("patient__public_id"),
        "csv_last_name": _text("patient__last_name"),
        "csv_first_name": _text("patient__first_name"),
        "csv_birth_date": _german_date_sql(F("patient__birth_date")),
        "csv_date": _german_date_sql(start),
        "csv_time": _ToChar(start, Value("HH24:MI")),
        "csv_duration": F("duration_minutes"),
        "csv_column": _text("calendar_column__name"),
        "csv_chain": _text("service_chain__description"),  # NULL without a chain
        "csv_note": _text("note"),
    }
    return (
        handover_appointments(organisation=organisation, cutoff=cutoff)
        .order_by("start", "pk")
        .annotate(**columns)
        .values_list(*columns)
    )


# COPY's CSV format quotes exactly what the csv module's QUOTE_MINIMAL quotes here
# (a field with `;`, `"`, CR or LF; quotes doubled) once "" is NULL (`_text`). It
# ends every row with LF, never CRLF, and no option changes that; nor can the database
# put the CR at the end of the last field, since COPY would then quote that field
# (and its text format escapes CR). psycopg hands over COPY's output one row at a
# time, so each row's final LF is replaced by CRLF as it goes into the file: LFs
# inside a quoted note stay as they are, as the csv module writes them.
COPY_CSV = f"COPY ({{query}}) TO STDOUT (FORMAT csv, DELIMITER '{DELIMITER}', ENCODING 'UTF8')"
CRLF = LINE_END.encode()


def _copy_into(path: Path, headers, lines: QuerySet) -> int:
    """The file at `path` from the rows of `lines`; returns how many."""
    query, params = lines.query.sql_with_params()
    count = 0
    with connection.cursor() as cursor, path.open("wb", buffering=1 << 20) as out:
        write = out.write
        write(_header(headers))
        # psycopg's own cursor: Django's debug wrapper passes no parameters to copy().
        with cursor.cursor.copy(COPY_CSV.format(query=query), params) as copy:
            for row in copy:
                write(row[:-1])
                write(CRLF)
                count += 1
    return count


def write_with_copy(*, job: ExportJob, cutoff: datetime, written: Written) -> None:
    organisation = job.organisation
    written.patients_count = _copy_into(
        written.patients_path,
        [header for header, _ in PATIENT_COLUMNS],
        patient_lines(organisation=organisation),
    )
    written.appointments_count = _copy_into(
        written.appointments_path,
        APPOINTMENT_HEADERS,
        appointment_lines(organisation=organisation, cutoff=cutoff),
    )


# Elsewhere (SQLite): Python's csv module, chunk by chunk of rows.


def _german_date(iso: str | None) -> str:
    """`YYYY-MM-DD…` (as the database casts a date or time to text) as `TT.MM.JJJJ`."""
    return f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}" if iso else ""


def _as_text(field: str) -> Cast:
    return Cast(field, CharField())


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
    "public_id",
    "patient__public_id",
    "patient__last_name",
    "patient__first_name",
    "birth",
    "local_start",
    "duration_minutes",
    "calendar_column__name",
    "service_chain__description",
    "note",
)


def _appointment_rows(*, organisation, cutoff: datetime, written: Written) -> Iterator[list]:
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
        public_id,
        patient_public_id,
        last,
        first,
        birth,
        start,
        duration,
        column,
        chain,
        note,
    ) in rows.iterator(CHUNK):
        written.appointments_count += 1
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


def write_with_csv_module(*, job: ExportJob, cutoff: datetime, written: Written) -> None:
    organisation = job.organisation
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
            writer = csv.writer(handle, delimiter=DELIMITER, lineterminator=LINE_END)
            writer.writerow(headers)
            writer.writerows(rows)
