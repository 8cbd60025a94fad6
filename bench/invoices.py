"""Invoice issuing benchmark: gapless numbers under concurrency, next to the bare SQL of
a gapless counter.

No throughput target: the figure says how far `billing.services.invoice_issue` is
from the serialisation that gapless numbering costs anyway (every issue of an
organisation's year waits for the one before it to commit), and that its numbers
stay gapless and unique when issued concurrently.

Data, on a PostgreSQL database it fills itself: one organisation with three service
chains (one to three services each, VAT 0 % and 19 %), three calendar columns,
patients with done appointments over the last half year (bulk inserts), and, not
timed, 2 x `--drafts` draft invoices made with `invoice_create` (one to three of a
patient's appointments each).

Measured, for `--threads` threads (default 8) and then for 1 thread, on `--drafts`
drafts each (default 2,000): each thread opens its own database connection before
the clock starts, takes the next draft from a shared queue and issues it through
`invoice_issue` (the service the API and the pages call: it checks the mandatory
data, takes the number, and renders and archives the PDF in the same transaction),
until none is left; then it closes its connection. Reported: invoices issued per
second (all drafts over the wall time from the start to the last issue), p50 and
p99 of one issue (ms), and the machine's CPU while it ran (other processes
included; see bench.common.CpuMeter). Threads share one Python process (and its
GIL), as threads of one worker do.

Baseline, same run, same database, same threads and number of items, before each of
ours: per item one transaction on a psycopg connection of the thread's own:
`SELECT last_number FROM bench_invoice_counter WHERE id = 1 FOR UPDATE`, `UPDATE
bench_invoice_counter SET last_number = ...`, `UPDATE bench_invoice_item SET number =
'YYYY-NNNN' WHERE id = ...` (the item table has a unique index on number, like the
invoices). Ratio: our throughput over the baseline's.

Checked afterwards, for ours and the baseline alike: every item of the phase issued,
the phase's numbers exactly YYYY-(k+1)..YYYY-(k+N) (after the k numbers of the phases
before): gaps and duplicates are counted and must be 0; over the whole organisation
the numbers are YYYY-0001..YYYY-2N and the sequence row stands at 2N. A failed issue
or a failed check makes the run INVALID (exit 1).

Run (from the project root; with the PDF rendered at issue about 0.1 s an invoice, so
the default 2 x 2,000 issues take several minutes on 2 cores):

    .venv/bin/python bench/invoices.py
    .venv/bin/python bench/invoices.py --drafts 200 --threads 4      # a quick look

The database is BENCH_INVOICES_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_invoices); its name must contain
"bench": it is dropped and created anew, and left in place afterwards (`--drop-after`
drops it). Prints a table and writes everything to bench/results/invoices-<date>.json
(or `--output`).
"""

import argparse
import os
import queue
import random
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    TABLE_HEADER,
    CpuMeter,
    database_url,
    drop_database,
    environment,
    print_table,
    recreate_database,
    summary,
    verdict,
    write_results,
)

ZONE = "Europe/Berlin"
DRAFTS_PER_PATIENT = 4
APPOINTMENTS_PER_DRAFT = 3
CHAINS = {
    "Krankengymnastik": [("X0501", "Krankengymnastik", "25.60", "0.00")],
    "Manuelle Therapie": [
        ("X1201", "Manuelle Therapie", "31.40", "0.00"),
        ("X9701", "Wärmetherapie", "8.90", "0.00"),
    ],
    "Osteopathie": [
        ("", "Osteopathische Behandlung", "80.00", "19.00"),
        ("", "Befundung", "20.00", "19.00"),
        ("", "Kinesio-Tape", "12.50", "19.00"),
    ],
}
FIRST_NAMES = ("Anna", "Jürgen", "Özlem", "Lea", "Jonas", "Sophie", "Mehmet", "Grete", "Ali")
LAST_NAMES = ("Müller", "Schmidt", "Schäfer", "Weiß", "Öztürk", "Krüger", "Hoffmann", "Groß")
BASELINE_SQL = (
    "SELECT last_number FROM bench_invoice_counter WHERE id = 1 FOR UPDATE",
    "UPDATE bench_invoice_counter SET last_number = %s WHERE id = 1",
    "UPDATE bench_invoice_item SET number = %s WHERE id = %s",
)


def django_setup(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-invoices-not-a-secret"),
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
        # The PDFs archived at issue go to a folder of their own, not the project's media.
        MEDIA_ROOT=tempfile.mkdtemp(prefix="bench-invoices-media-"),
    )
    os.environ.pop("REDIS_URL", None)  # tasks in-process
    import django

    django.setup()


# -- filling the database ---------------------------------------------------------


def fill(drafts: int, rng: random.Random) -> dict:
    """The organisation, its admin and `drafts` draft invoices (their pks in order)."""
    from django.core.management import call_command
    from django.db import connection

    from appointments.models import Appointment, AppointmentStatus, CalendarColumn
    from billing.services import invoice_create, service_chain_create
    from lemniscus.text import fold
    from organisations.models import Organisation, Plan, Role, User
    from patients.models import Patient

    call_command("migrate", verbosity=0)
    organisation = Organisation.objects.create(
        name="Praxis Rechnungslauf",
        plan=Plan.M,
        time_zone=ZONE,
        owner_name="Anna Schneider",
        street="Lindenstraße 1",
        postal_code="10969",
        city="Berlin",
        tax_number="12/345/67890",
        iban="DE02120300000000202051",
    )
    admin = User.objects.create_user(
        "admin@bench.test", "bench-geheim-1", organisation=organisation, role=Role.ADMIN
    )
    chains = [
        service_chain_create(
            organisation=organisation,
            description=description,
            services=[
                {
                    "code": code,
                    "name": name,
                    "price": Decimal(price),
                    "vat_rate": Decimal(rate),
                    "minutes": 30,
                }
                for code, name, price, rate in services
            ],
        )
        for description, services in CHAINS.items()
    ]
    columns = CalendarColumn.objects.bulk_create(
        CalendarColumn(organisation=organisation, name=name)
        for name in ("Anna Schneider", "Jonas Weber", "Raum 2")
    )
    patient_count = -(-drafts // DRAFTS_PER_PATIENT)
    names = [
        (rng.choice(FIRST_NAMES), f"{rng.choice(LAST_NAMES)}-{i}") for i in range(patient_count)
    ]
    patients = Patient.objects.bulk_create(
        Patient(
            organisation=organisation,
            first_name=first,
            last_name=last,
            first_name_folded=fold(first),
            last_name_folded=fold(last),
            street=f"Lindenstraße {i % 200 + 1}",
            postal_code=f"{10000 + i:05}",
            city="Berlin",
        )
        for i, (first, last) in enumerate(names)
    )

    # Each draft takes one to three of its patient's appointments (done, past).
    now = datetime.now(organisation.zone).replace(minute=0, second=0, microsecond=0)
    plan = []  # (patient, [appointment, ...]) per draft
    appointments = []
    for n in range(drafts):
        patient = patients[n // DRAFTS_PER_PATIENT]
        chain = chains[n % len(chains)]
        own = [
            Appointment(
                organisation=organisation,
                patient=patient,
                calendar_column=columns[(n + k) % len(columns)],
                service_chain=chain,
                start=now - timedelta(days=rng.randrange(1, 180), hours=rng.randrange(0, 9)),
                duration_minutes=30,
                status=AppointmentStatus.DONE,
            )
            for k in range(rng.randint(1, APPOINTMENTS_PER_DRAFT))
        ]
        appointments.extend(own)
        plan.append((patient, own))
    Appointment.objects.bulk_create(appointments, batch_size=5000)
    pks = [
        invoice_create(organisation=organisation, actor=admin, patient=patient, appointments=own).pk
        for patient, own in plan
    ]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "organisation": organisation,
        "admin": admin,
        "drafts": pks,
        "patients": len(patients),
        "appointments": len(appointments),
    }


def create_baseline_tables(items: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_invoice_counter "
            "(id integer PRIMARY KEY, last_number integer NOT NULL)"
        )
        cursor.execute("INSERT INTO bench_invoice_counter VALUES (1, 0)")
        cursor.execute(
            "CREATE TABLE bench_invoice_item (id bigint PRIMARY KEY, number varchar(16) UNIQUE)"
        )
        cursor.execute(
            "INSERT INTO bench_invoice_item SELECT n, NULL FROM generate_series(1, %s) n", [items]
        )
        cursor.execute("VACUUM ANALYZE bench_invoice_counter, bench_invoice_item")


# -- threads ----------------------------------------------------------------------


def run_threads(*, threads: int, items: list, open_session, issue, close_session) -> dict:
    """`threads` threads issue `items` from a shared queue, each with its own session,
    opened before the clock starts and closed after its last issue."""
    pending: queue.SimpleQueue = queue.SimpleQueue()
    for item in items:
        pending.put(item)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    finished = [0.0] * threads
    errors: list[str] = []
    # ready: every thread connected; go: the clock starts; done: every thread issued
    # its last; released: the CPU meter has read the backends, connections may close.
    ready, go, done = (threading.Barrier(threads + 1) for _ in range(3))
    released = threading.Event()

    def worker(index: int) -> None:
        try:
            session = open_session()
        except Exception as exc:  # counted: the run is invalid
            errors.append(f"connect: {exc!r}")
            for barrier in (ready, go, done):
                barrier.abort()
            return
        try:
            ready.wait()
            go.wait()
            while True:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
                started = time.perf_counter()
                try:
                    issue(session, item)
                except Exception as exc:  # counted: the run is invalid
                    errors.append(repr(exc)[:300])
                    continue
                latencies[index].append(time.perf_counter() - started)
            finished[index] = time.perf_counter()
            done.wait()
            released.wait()
        except threading.BrokenBarrierError:
            pass
        finally:
            close_session(session)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    try:
        ready.wait(timeout=120)
        with CpuMeter() as meter:
            go.wait()
            started = time.perf_counter()
            done.wait()
    except threading.BrokenBarrierError:
        errors.append("a thread could not connect")
        meter = CpuMeter()
        started = time.perf_counter()
    released.set()
    for thread in workers:
        thread.join()
    seconds = max(finished) - started if all(finished) else float("nan")
    issued = [value for own in latencies for value in own]
    return {
        "threads": threads,
        "items": len(items),
        "issued": len(issued),
        "failed": len(errors),
        "errors": errors[:10],
        "seconds": seconds,
        "per_second": len(issued) / seconds if seconds > 0 else 0.0,
        "latency": summary(issued),
        "cpu": meter.shares(),
    }


def issue_ours(*, threads: int, drafts: list, admin) -> dict:
    from django.db import connection

    from billing.services import invoice_issue

    def open_session():
        connection.ensure_connection()

    def issue(_session, draft):
        invoice_issue(invoice=draft, actor=admin)

    return run_threads(
        threads=threads,
        items=drafts,
        open_session=open_session,
        issue=issue,
        close_session=lambda _session: connection.close(),
    )


def issue_baseline(*, threads: int, items: list[int], url: str, year: int) -> dict:
    import psycopg

    select, count, number = BASELINE_SQL

    def issue(conn, item):
        with conn.transaction():
            last = conn.execute(select).fetchone()[0] + 1
            conn.execute(count, (last,))
            conn.execute(number, (f"{year}-{last:04d}", item))

    return run_threads(
        threads=threads,
        items=items,
        open_session=lambda: psycopg.connect(url, autocommit=True),
        issue=issue,
        close_session=lambda conn: conn.close(),
    )


# -- checks -----------------------------------------------------------------------


def numbering(rows: list[tuple[bool, str | None]], year: int, first: int, count: int) -> dict:
    """Of (issued?, number) rows: how many are not issued, and the gaps and duplicates
    against the expected numbers first..first+count-1 of `year`."""
    numbers = [number for issued, number in rows if issued and number]
    expected = {f"{year}-{n:04d}" for n in range(first, first + count)}
    distinct = set(numbers)
    return {
        "not_issued": sum(1 for issued, number in rows if not (issued and number)),
        "gaps": len(expected - distinct),
        "duplicates": len(numbers) - len(distinct),
        "unexpected": len(distinct - expected),
    }


def check_ours(pks: list[int], year: int, first: int) -> dict:
    from billing.models import Invoice, InvoiceStatus

    rows = Invoice.objects.filter(pk__in=pks).values_list("status", "number")
    return numbering([(s == InvoiceStatus.ISSUED, n) for s, n in rows], year, first, len(pks))


def check_baseline(ids: list[int], year: int, first: int) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT number FROM bench_invoice_item WHERE id = ANY(%s)", [ids])
        rows = [(number is not None, number) for (number,) in cursor.fetchall()]
    return numbering(rows, year, first, len(ids))


def check_whole(organisation, year: int, total: int) -> dict:
    from billing.models import Invoice, InvoiceSequence, SequenceKind

    rows = [
        (True, number)
        for number in Invoice.objects.filter(organisation=organisation).values_list(
            "number", flat=True
        )
    ]
    sequence = InvoiceSequence.objects.filter(
        organisation=organisation, kind=SequenceKind.INVOICE, year=year
    ).first()
    return {
        **numbering(rows, year, 1, total),
        "sequence_last_number": sequence.last_number if sequence else None,
    }


def problems_of(check: dict) -> int:
    return check["not_issued"] + check["gaps"] + check["duplicates"] + check["unexpected"]


# -- the table --------------------------------------------------------------------


def table(phases: list[dict]) -> list[list[str]]:
    rows = [TABLE_HEADER]
    for phase in phases:
        ours, base = phase["ours"], phase["baseline"]
        threads = ours["threads"]
        label = f"{threads} thread{'s' if threads > 1 else ''}"
        failures = ours["failed"] + base["failed"]
        wrong = problems_of(phase["ours_check"]) + problems_of(phase["baseline_check"])
        rows += [
            [
                f"invoice issuing, {label} (invoices/s)",
                f"{ours['per_second']:.0f}",
                f"{base['per_second']:.0f} (SQL counter)",
                f"{ours['per_second'] / base['per_second']:.2f}x",
                "-",
                verdict(True, failures) if failures else "",
            ],
            [
                f"  p50 / p99 per issue, {label} (ms)",
                f"{ours['latency']['p50_ms']:.1f} / {ours['latency']['p99_ms']:.1f}",
                f"{base['latency']['p50_ms']:.1f} / {base['latency']['p99_ms']:.1f}",
                "-",
                "-",
                "",
            ],
            [
                f"gaps / duplicates in numbers, {label}",
                f"{phase['ours_check']['gaps']} / {phase['ours_check']['duplicates']}",
                f"{phase['baseline_check']['gaps']} / {phase['baseline_check']['duplicates']}",
                "-",
                "0",
                verdict(wrong == 0, failures),
            ],
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drafts", type=int, default=2000, help="drafts issued per phase")
    parser.add_argument("--threads", type=int, default=8, help="threads of the first phase")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    os.chdir(ROOT)

    url = database_url("BENCH_INVOICES_DATABASE_URL", "lemniscus_bench_invoices")
    print(f"database {url.rsplit('/', 1)[1]}: drop, create, migrate", flush=True)
    recreate_database(url)
    django_setup(url)

    concurrency = [args.threads] if args.threads == 1 else [args.threads, 1]
    total = args.drafts * len(concurrency)
    started = time.perf_counter()
    fixture = fill(total, random.Random(args.seed))
    create_baseline_tables(total)
    fill_seconds = time.perf_counter() - started
    print(
        f"{fixture['patients']:,} patients, {fixture['appointments']:,} appointments, "
        f"{total:,} drafts in {fill_seconds:.0f} s",
        flush=True,
    )

    from billing.models import Invoice

    organisation, admin = fixture["organisation"], fixture["admin"]
    year = organisation.today().year
    drafts = list(Invoice.objects.filter(pk__in=fixture["drafts"]).order_by("pk"))
    phases = []
    for index, threads in enumerate(concurrency):
        first = index * args.drafts + 1
        own = drafts[index * args.drafts : (index + 1) * args.drafts]
        items = list(range(first, first + args.drafts))
        phase = {"baseline": issue_baseline(threads=threads, items=items, url=url, year=year)}
        phase["ours"] = issue_ours(threads=threads, drafts=own, admin=admin)
        phase["ours_check"] = check_ours([d.pk for d in own], year, first)
        phase["baseline_check"] = check_baseline(items, year, first)
        phases.append(phase)
        print(
            f"{threads} thread(s): ours {phase['ours']['per_second']:.0f}/s "
            f"({phase['ours']['failed']} failed), baseline "
            f"{phase['baseline']['per_second']:.0f}/s ({phase['baseline']['failed']} failed), "
            f"CPU others {phase['ours']['cpu']['others']:.0%}",
            flush=True,
        )
    whole = check_whole(organisation, year, total)

    rows = table(phases)
    invalid = (
        any(
            phase[side]["failed"] or problems_of(phase[f"{side}_check"])
            for phase in phases
            for side in ("ours", "baseline")
        )
        or problems_of(whole)
        or whole["sequence_last_number"] != total
    )
    results = {
        "command": " ".join([".venv/bin/python", "bench/invoices.py", *sys.argv[1:]]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(url),
        "data": {k: fixture[k] for k in ("patients", "appointments")} | {"drafts": total},
        "fill_seconds": round(fill_seconds, 1),
        "load_average_at_end": os.getloadavg(),
        "phases": phases,
        "whole_organisation": whole,
        "table": rows,
    }
    print()
    print_table(rows)
    out = write_results("invoices", results, args.output)
    print(f"written to {out}")

    if args.drop_after:
        from django.db import connections

        connections.close_all()
        drop_database(url)
    if invalid:
        sys.exit(f"INVALID: failed issues or wrong numbers; whole organisation: {whole}")


if __name__ == "__main__":
    main()
