"""Handover export benchmark: export_run next to PostgreSQL's own COPY of the same rows.

On a PostgreSQL database it fills itself (bulk inserts): one organisation with
100,000 patients and 300,000 appointments to hand over (from today on, over two
years, in 8 calendar columns, with 6 service chains; notes with umlauts, some with
`;`, quotes and line breaks). Then, in interleaved rounds (COPY, export, COPY,
export, ...):

- export: `doctolib_bridge.handover.job.export_run` of a job without removal, in a
  subprocess as a worker runs it. Time: inside the subprocess, around export_run (no
  interpreter or Django start-up), with the CPU seconds of the subprocess and of its
  PostgreSQL backend. Memory: the subprocess's peak RSS (VmHWM; ru_maxrss too) and
  its RSS just before export_run (Django and the app loaded), so the export's own
  share shows. RUSAGE_CHILDREN's maxrss of this process is recorded as well; it can
  include this process's own RSS at fork time.
- COPY: `COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)` of the same rows with the
  same columns and formatting (dates and times formatted by PostgreSQL in the
  organisation's zone), streamed by psycopg into files, timed in this process, with
  the CPU seconds of this process and of its backend.

The best round of each is compared (target: export at most 1.5x COPY, peak RSS under
200 MB). Both outputs of the last round are compared row by row (parsed, streamed),
so the comparison is of the same rows. The export's files of the last round must also
be byte for byte what Python's csv module writes for the same job
(`csv_files.write_with_csv_module`, the writer of the SQLite default and of the export
before COPY), or the run is INVALID. Once, after the rounds: the export with
removal of all 300,000 appointments (same subprocess measurement) and the undo that
restores them (in this process, timed), for scale.

Run (from the project root; about 6 minutes on 2 cores):

    .venv/bin/python bench/export.py
    .venv/bin/python bench/export.py --patients 10000 --appointments 30000  # a quick look

The database is BENCH_EXPORT_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_export); its name must contain
"bench": it is dropped and created anew, and left in place afterwards (`--drop-after`
drops it). Files go to a temporary folder. Prints a table and writes everything to
bench/results/export-<date>.json.
"""

import argparse
import csv
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    TABLE_HEADER,
    database_url,
    drop_database,
    environment,
    memory_kb,
    print_table,
    recreate_database,
    verdict,
    write_results,
)

TIME_TARGET_RATIO = 1.5
MEMORY_TARGET_MB = 200
BATCH = 5000
ZONE = "Europe/Berlin"
FIRST_NAMES = ("Anna", "Jürgen", "Özlem", "Lea", "Jonas", "Sophie", "Mehmet", "Grete", "Ali")
LAST_NAMES = ("Müller", "Schmidt", "Schäfer", "Weiß", "Öztürk", "Krüger", "Hoffmann", "Groß")
NOTES = (
    "",
    "",
    "Knie links",
    "Bitte Handtuch mitbringen; Rezept liegt vor",
    'Termin "dringend"\nPatient ruft zurück',
    "Übungen für zuhause besprechen",
)

PATIENT_SQL = """
SELECT p.public_id::text, CASE p.salutation WHEN 'male' THEN 'Herr' WHEN 'female'
    THEN 'Frau' ELSE '' END, p.title, p.first_name, p.last_name,
    COALESCE(to_char(p.birth_date, 'DD.MM.YYYY'), ''), p.mobile_phone,
    p.landline_phone, p.email, p.street, p.postal_code, p.city
FROM patients_patient p WHERE p.organisation_id = {org} ORDER BY p.id
"""
APPOINTMENT_SQL = """
SELECT a.public_id::text, p.public_id::text, p.last_name, p.first_name,
    COALESCE(to_char(p.birth_date, 'DD.MM.YYYY'), ''),
    to_char(a.start AT TIME ZONE '{zone}', 'DD.MM.YYYY'),
    to_char(a.start AT TIME ZONE '{zone}', 'HH24:MI'), a.duration_minutes,
    c.name, COALESCE(s.description, ''), a.note
FROM appointments_appointment a
JOIN patients_patient p ON p.id = a.patient_id
JOIN appointments_calendarcolumn c ON c.id = a.calendar_column_id
LEFT JOIN billing_servicechain s ON s.id = a.service_chain_id
WHERE a.organisation_id = {org} AND a.start >= '{cutoff}' AND a.invoice_id IS NULL
    AND a.status <> 'cancelled'
ORDER BY a.start, a.id
"""


def django_setup(url: str, media: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-export-not-a-secret"),
        MEDIA_ROOT=media,
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
    )
    os.environ.pop("REDIS_URL", None)  # tasks in-process; the export is called directly
    import django

    django.setup()


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) a local PostgreSQL backend has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# -- the subprocess: one export_run as a worker runs it ---------------------------


def child(job_id: int) -> None:
    from django.db import connection

    from doctolib_bridge.handover.job import export_run

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    before = memory_kb("VmRSS")
    cpu, db_cpu = own_cpu(), backend_cpu(backend)
    started = time.perf_counter()
    result = export_run(job_id=job_id)
    measured = {
        "result": result,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": own_cpu() - cpu,
        "db_cpu_seconds": backend_cpu(backend) - db_cpu,
        "rss_before_kb": before,
        "peak_rss_kb": memory_kb("VmHWM"),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    print(json.dumps(measured))


def run_export(url: str, media: str, job_id: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child-job", str(job_id)],
        env={**os.environ, "DATABASE_URL": url, "MEDIA_ROOT": media},
        capture_output=True,
        text=True,
        check=True,
    )
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    if measured["result"] != "done":
        sys.exit(f"export job {job_id} ended {measured['result']}: {completed.stderr[-2000:]}")
    return measured


# -- filling the database ---------------------------------------------------------


def fill(patients: int, appointments: int):
    from django.core.management import call_command
    from django.db import connection

    from appointments.models import Appointment, CalendarColumn
    from billing.models import ServiceChain
    from organisations.models import Organisation, Role, User
    from patients.models import Patient

    call_command("migrate", verbosity=0)
    rng = random.Random(4)
    organisation = Organisation.objects.create(name="Praxis Benchmark", plan="XL", time_zone=ZONE)
    admin = User.objects.create_user(
        "admin@bench.test", "bench-geheim-1", organisation=organisation, role=Role.ADMIN
    )
    columns = CalendarColumn.objects.bulk_create(
        CalendarColumn(organisation=organisation, name=f"Therapeut/in {i}") for i in range(8)
    )
    chains = ServiceChain.objects.bulk_create(
        ServiceChain(organisation=organisation, description=d)
        for d in (
            "Krankengymnastik",
            "Manuelle Therapie",
            "Osteopathie",
            "MLD 45",
            "KG; Gerät",
            "Massage",
        )
    )
    for offset in range(0, patients, BATCH):
        Patient.objects.bulk_create(
            Patient(
                organisation=organisation,
                salutation=rng.choice(("", "male", "female")),
                title=rng.choice(("", "", "", "Dr.")),
                first_name=rng.choice(FIRST_NAMES),
                last_name=f"{rng.choice(LAST_NAMES)}-{i}",
                birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(30000)),
                mobile_phone=f"+49171{i:07}",
                landline_phone=f"+4930{i:07}" if i % 3 else "",
                email=f"patient{i}@example.org",
                street=f"Lindenstraße {i % 200}",
                postal_code=f"{10000 + i % 89999:05}",
                city=rng.choice(("Berlin", "Köln", "München", "Görlitz")),
            )
            for i in range(offset, min(offset + BATCH, patients))
        )
    patient_ids = list(
        Patient.objects.filter(organisation=organisation).values_list("pk", flat=True)
    )
    today = datetime.combine(organisation.today(), datetime.min.time(), tzinfo=organisation.zone)
    for offset in range(0, appointments, BATCH):
        Appointment.objects.bulk_create(
            Appointment(
                organisation=organisation,
                patient_id=patient_ids[i % len(patient_ids)],
                calendar_column=columns[i % len(columns)],
                service_chain=None if i % 10 == 0 else chains[i % len(chains)],
                start=today + timedelta(days=i // 400, minutes=8 * 60 + (i % 50) * 15),
                duration_minutes=rng.choice((20, 30, 45, 60)),
                note=rng.choice(NOTES),
            )
            for i in range(offset, min(offset + BATCH, appointments))
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return organisation, admin, today


# -- the baseline -----------------------------------------------------------------


def copy_baseline(url: str, organisation, cutoff: datetime, folder: Path) -> dict:
    import psycopg

    statements = {
        "patients.csv": PATIENT_SQL.format(org=organisation.pk),
        "appointments.csv": APPOINTMENT_SQL.format(
            org=organisation.pk, zone=ZONE, cutoff=cutoff.isoformat()
        ),
    }
    with psycopg.connect(url) as connection:
        backend = connection.info.backend_pid
        started, cpu, db_cpu = time.perf_counter(), own_cpu(), backend_cpu(backend)
        for name, sql in statements.items():
            statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, DELIMITER ';')"
            with (
                (folder / name).open("wb") as out,
                connection.cursor() as cursor,
                cursor.copy(statement) as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
        return {
            "seconds": time.perf_counter() - started,
            "cpu_seconds": own_cpu() - cpu,
            "db_cpu_seconds": backend_cpu(backend) - db_cpu,
        }


def same_rows(exported: Path, copied: Path) -> bool:
    """Row by row (streamed): the export's file without its header against COPY's."""
    with (
        exported.open(encoding="utf-8-sig", newline="") as ours,
        copied.open(encoding="utf-8", newline="") as theirs,
    ):
        rows = csv.reader(ours, delimiter=";")
        next(rows)
        return all(
            a == b for a, b in itertools.zip_longest(rows, csv.reader(theirs, delimiter=";"))
        )


def byte_identical(job, cutoff: datetime, folder: Path) -> dict:
    """The job's files against those Python's csv module writes for it now (nothing
    changed in between), compared byte for byte (SHA-256, streamed)."""
    import hashlib

    from doctolib_bridge.handover import csv_files

    folder.mkdir()
    reference = csv_files.Written(
        patients_path=folder / "patients.csv", appointments_path=folder / "appointments.csv"
    )
    csv_files.write_with_csv_module(job=job, cutoff=cutoff, written=reference)

    def digest(path: Path) -> str:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()

    return {
        name: digest(Path(getattr(job, f"{name}_file").path))
        == digest(getattr(reference, f"{name}_path"))
        for name in ("patients", "appointments")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--appointments", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drop-after", action="store_true")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    parser.add_argument("--child-job", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_job:
        django_setup(os.environ["DATABASE_URL"], os.environ["MEDIA_ROOT"])
        child(args.child_job)
        return

    url = database_url("BENCH_EXPORT_DATABASE_URL", "lemniscus_bench_export")
    media = tempfile.mkdtemp(prefix="bench-export-")
    recreate_database(url)
    django_setup(url, media)
    from doctolib_bridge.handover.services import export_undo
    from doctolib_bridge.models import ExportJob

    started = time.perf_counter()
    organisation, admin, cutoff = fill(args.patients, args.appointments)
    fill_seconds = time.perf_counter() - started
    print(f"filled {args.patients:,} patients, {args.appointments:,} appointments")

    copies, exports = [], []
    copy_folder = Path(media, "copy")
    copy_folder.mkdir()
    for round_ in range(1, args.rounds + 1):
        copies.append(copy_baseline(url, organisation, cutoff, copy_folder))
        job = ExportJob.objects.create(organisation=organisation, created_by=admin)
        exports.append(run_export(url, media, job.pk))
        copy_s, export_s = copies[-1]["seconds"], exports[-1]["seconds"]
        peak = exports[-1]["peak_rss_kb"] / 1024
        print(f"round {round_}: COPY {copy_s:.2f} s, export {export_s:.2f} s, peak {peak:.0f} MB")

    job.refresh_from_db()
    same = {
        name: same_rows(Path(getattr(job, f"{name}_file").path), copy_folder / f"{name}.csv")
        for name in ("patients", "appointments")
    }
    counts = {"patients": job.patients_count, "appointments": job.appointments_count}
    identical = byte_identical(job, cutoff, Path(media, "csv-module"))

    removal_job = ExportJob.objects.create(
        organisation=organisation, created_by=admin, delete_appointments=True
    )
    removal = run_export(url, media, removal_job.pk)
    removal_job.refresh_from_db()
    started = time.perf_counter()
    export_undo(job=removal_job, actor=admin)
    undo_seconds = time.perf_counter() - started

    best_copy = min(copies, key=lambda c: c["seconds"])
    best_export = min(exports, key=lambda e: e["seconds"])
    peak_mb = max(e["peak_rss_kb"] for e in [*exports, removal]) / 1024
    loaded_mb = min(e["rss_before_kb"] for e in [*exports, removal]) / 1024
    ratio = best_export["seconds"] / best_copy["seconds"]
    rows = table(
        args,
        best_copy=best_copy,
        best_export=best_export,
        removal={**removal, "removed": removal_job.removed_count},
        undo_seconds=undo_seconds,
        peak_mb=peak_mb,
        loaded_mb=loaded_mb,
        same=all(same.values()),
        identical=all(identical.values()),
    )
    results = {
        "command": " ".join([".venv/bin/python", "bench/export.py", *sys.argv[1:]]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(url),
        "patients": args.patients,
        "appointments": args.appointments,
        "exported_rows": counts,
        "same_rows_as_copy": same,
        "byte_identical_to_csv_module": identical,
        "fill_seconds": round(fill_seconds, 1),
        "load_average_at_end": os.getloadavg(),
        "rusage_children_maxrss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        "copy": copies,
        "export": exports,
        "ratio_export_to_copy": round(ratio, 2),
        "removal": {**removal, "removed": removal_job.removed_count},
        "undo_seconds": round(undo_seconds, 2),
        "table": rows,
    }
    print()
    print(f"{'(best round)':26}{'wall s':>8}{'CPU s':>8}{'DB CPU s':>10}{'peak RSS MB':>13}")
    for label, row in (
        ("COPY (PostgreSQL)", best_copy),
        ("export_run", best_export),
        ("export_run with removal", removal),
    ):
        rss = f"{row['peak_rss_kb'] / 1024:13.0f}" if "peak_rss_kb" in row else ""
        print(
            f"{label:26}{row['seconds']:8.2f}{row['cpu_seconds']:8.2f}"
            f"{row['db_cpu_seconds']:10.2f}{rss}"
        )
    print()
    print_table(rows)
    out = write_results("export", results, args.output)
    print(f"written to {out}")

    if args.drop_after:
        from django.db import connections

        connections.close_all()
        drop_database(url)
    if not all(same.values()):
        sys.exit("INVALID: the export's rows differ from COPY's")
    if not all(identical.values()):
        sys.exit("INVALID: the export's files differ from the csv module's bytes")


def table(
    args, *, best_copy, best_export, removal, undo_seconds, peak_mb, loaded_mb, same, identical
):
    ratio = best_export["seconds"] / best_copy["seconds"]
    invalid = (0 if same else 1) + (0 if identical else 1)
    return [
        TABLE_HEADER,
        [
            f"handover export, {args.patients:,} patients + {args.appointments:,} "
            "appointments (s, best round)",
            f"{best_export['seconds']:.2f}",
            f"{best_copy['seconds']:.2f} (COPY)",
            f"{ratio:.2f}x",
            f"<= {TIME_TARGET_RATIO:g}x COPY",
            verdict(ratio <= TIME_TARGET_RATIO, invalid),
        ],
        [
            "  files byte-identical to the csv module's (the writer before COPY)",
            "yes" if identical else "no",
            "-",
            "-",
            "yes",
            verdict(identical),
        ],
        [
            "  CPU s of the export process / of its PostgreSQL backend",
            f"{best_export['cpu_seconds']:.2f} / {best_export['db_cpu_seconds']:.2f}",
            f"{best_copy['cpu_seconds']:.2f} / {best_copy['db_cpu_seconds']:.2f}",
            "-",
            "-",
            "",
        ],
        [
            "export worker peak RSS (MB; baseline: the process before the export)",
            f"{peak_mb:.0f}",
            f"{loaded_mb:.0f}",
            "-",
            f"< {MEMORY_TARGET_MB} MB",
            verdict(peak_mb < MEMORY_TARGET_MB),
        ],
        [
            f"export with removal of {removal['removed']:,} appointments (s)",
            f"{removal['seconds']:.2f}",
            "-",
            "-",
            "-",
            "",
        ],
        [
            f"undo: restore {removal['removed']:,} appointments (s)",
            f"{undo_seconds:.2f}",
            "-",
            "-",
            "-",
            "",
        ],
    ]


if __name__ == "__main__":
    main()
