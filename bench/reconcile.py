"""Reconciliation ("Abgleich") benchmark: the periodic job on 100,000 linked records,
next to PostgreSQL's own COPY of the rows it compares.

Target (issue 15): the reconciliation of 100,000 linked patients in under 10 s (issue 4
asked for 60 s), with flat memory.

Data, on a PostgreSQL database it fills itself (bulk inserts): one XL organisation
with an active Doctolib token (what `unscoped_organisations_with_doctolib` asks for)
and 100,000 linked patients (Doctolib id, checkbox set), each with its
`DoctolibPatientState`: Doctolib's last known values of the ten synced fields, as a
patient push leaves them. Drift, on records drawn at random and disjoint:
- 5 %: one Doctolib-led field changed by hand in lemniscus (mobile changed,
  landline cleared or, where Doctolib has none, typed in, e-mail changed); the
  reconciliation must set each back;
- 5 %: one lemniscus-led field (street, postal code, city) differs from Doctolib's
  last known value; it must be queued in the change feed, once;
- the rest equal to Doctolib's values.

Measured, in a subprocess as a worker runs it: `doctolib_bridge.tasks.reconcile_all`,
the Celery beat entry point (tasks in-process, REDIS_URL unset, so it runs
`reconcile_organisation_task` for each organisation in the same process, each in
batches of `reconcile.BATCH_SIZE`). Time inside the subprocess around the call (no
interpreter or Django start-up): wall seconds, CPU seconds of the subprocess and of
its PostgreSQL backend. Memory: VmRSS before the call (Django and the app loaded),
after the first batch (`reconcile_batch` is wrapped to note it after each batch),
sampled every 0.2 s by a thread, at the end, and the peak (VmHWM). "Flat" is met when
the peak is less than 30 MB above the RSS after the first batch. Then a second run
right away, measured the same way: it must change nothing.

Checked (a failed check makes the run INVALID, exit 1): every record checked in both
runs; the first run set back exactly the seeded Doctolib-led drift (records, and the
history rows with the actor "Abgleich Doctolib") and queued exactly the seeded
lemniscus-led drift (change-feed entries naming that field of that record); no
Doctolib-led field differs from Doctolib's last known value afterwards, and the
lemniscus-led differences are still there (lemniscus leads); the second run set back
and queued nothing, and wrote no history row and no feed entry.

Baseline, same run, same database: `COPY (SELECT <the ten synced fields of the
patient, its state's last_known and queued_pairs> FROM patients_patient JOIN
doctolib_bridge_doctolibpatientstate WHERE linked ORDER BY id) TO STDOUT`, streamed by
psycopg and discarded, timed in this process (best of three, before the first run):
how far the reconciliation is from a bare read of the same rows.

Run (from the project root; about a minute on 2 cores: 20 s filling, 35 s the two runs):

    .venv/bin/python bench/reconcile.py
    .venv/bin/python bench/reconcile.py --patients 10000      # a quick look

The database is BENCH_RECONCILE_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_reconcile); its name must contain
"bench": it is dropped and created anew, and left in place afterwards (`--drop-after`
drops it). A missed target is printed MISSED; a run that failed a check exits 1.
Prints a table and writes everything to bench/results/reconcile-<date>.json (or
`--output`).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
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
    process_ticks,
    recreate_database,
    verdict,
    write_results,
)

TARGET_SECONDS = 10.0
FLAT_MB = 30
DRIFT_SHARE = 0.05
SAMPLE_SECONDS = 0.2
COPY_ROUNDS = 3
BATCH = 5000
ZONE = "Europe/Berlin"
FIRST_NAMES = ("Anna", "Jürgen", "Özlem", "Lea", "Jonas", "Sophie", "Mehmet", "Grete", "Ali")
LAST_NAMES = ("Müller", "Schmidt", "Schäfer", "Weiß", "Öztürk", "Krüger", "Hoffmann", "Groß")
CITIES = ("Berlin", "Köln", "München", "Görlitz", "Leipzig")
DOCTOLIB_LED_DRIFT = ("mobile_phone", "landline_phone", "email")
LEMNISCUS_LED_DRIFT = ("street", "postal_code", "city")

COMPARED_SQL = """
SELECT p.id, p.salutation, p.first_name, p.last_name, p.birth_date, p.mobile_phone,
    p.landline_phone, p.email, p.street, p.postal_code, p.city, s.last_known, s.queued_pairs
FROM patients_patient p JOIN doctolib_bridge_doctolibpatientstate s ON s.patient_id = p.id
WHERE p.organisation_id = {org} AND p.doctolib_patient_id IS NOT NULL ORDER BY p.id
"""
MISMATCH_SQL = """
SELECT count(*) FROM patients_patient p
JOIN doctolib_bridge_doctolibpatientstate s ON s.patient_id = p.id
WHERE p.organisation_id = %s AND ({})
"""


def mismatches(organisation_pk: int, fields: tuple[str, ...]) -> int:
    """Linked records of the organisation where one of `fields` differs from Doctolib's
    last known value."""
    from django.db import connection

    condition = " OR ".join(f"p.{name} <> s.last_known->>'{name}'" for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(MISMATCH_SQL.format(condition), [organisation_pk])
        return cursor.fetchone()[0]


def django_setup(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-reconcile-not-a-secret"),
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
    )
    os.environ.pop("REDIS_URL", None)  # tasks in-process, as the embedded default runs them
    import django

    django.setup()


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a local process has used so far (this one, or the
    PostgreSQL backend of a connection)."""
    return process_ticks(pid) / os.sysconf("SC_CLK_TCK")


# -- the subprocess: one reconciliation of all organisations, as a worker runs it ----


def child() -> None:
    from django.db import connection

    import doctolib_bridge.reconcile as reconcile_module
    from doctolib_bridge.tasks import reconcile_all

    batches: list[dict] = []
    reconcile_batch = reconcile_module.reconcile_batch

    def observed_batch(**kwargs):
        result = reconcile_batch(**kwargs)
        batches.append(
            {
                "seconds": round(time.perf_counter() - started, 3),
                "rss_kb": memory_kb("VmRSS"),
                "checked": result.checked,
                "set_back": result.set_back,
                "queued": result.queued,
            }
        )
        return result

    # reconcile_organisation looks the batch function up in its module at each call.
    reconcile_module.reconcile_batch = observed_batch

    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_SECONDS):
            samples.append((round(time.perf_counter() - started, 2), memory_kb("VmRSS")))

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    before = memory_kb("VmRSS")
    sampler = threading.Thread(target=sample, daemon=True)
    cpu, db_cpu = cpu_seconds(os.getpid()), cpu_seconds(backend)
    started = time.perf_counter()
    sampler.start()
    organisations = reconcile_all()
    seconds = time.perf_counter() - started
    own, db = cpu_seconds(os.getpid()) - cpu, cpu_seconds(backend) - db_cpu
    stop.set()
    sampler.join()
    connection.ensure_connection()
    measured = {
        "organisations": organisations,
        "batches": len(batches),
        "checked": sum(b["checked"] for b in batches),
        "set_back": sum(b["set_back"] for b in batches),
        "queued": sum(b["queued"] for b in batches),
        "seconds": seconds,
        "cpu_seconds": own,
        "db_cpu_seconds": db,
        "same_backend": connection.connection.info.backend_pid == backend,
        "rss_before_kb": before,
        "rss_after_first_batch_kb": batches[0]["rss_kb"] if batches else before,
        "rss_at_end_kb": memory_kb("VmRSS"),
        "peak_rss_kb": memory_kb("VmHWM"),
        "sampled_max_rss_kb": max((kb for _, kb in samples), default=0),
        "rss_samples": samples,
        "per_batch": batches,
    }
    print(json.dumps(measured))


def run_reconciliation(url: str) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        sys.exit(f"INVALID: the reconciliation failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# -- filling the database ---------------------------------------------------------


def doctolib_led_drift(kind: str, i: int, theirs: str) -> str:
    """A value staff typed by hand into a field Doctolib leads."""
    if kind == "mobile_phone":
        return f"+49151{i:08}"
    if kind == "landline_phone":
        return "" if theirs else f"+4989{i:07}"  # cleared, or typed in where Doctolib has none
    return f"hand{i}@example.net"


def lemniscus_led_drift(kind: str, i: int, theirs: str) -> str:
    """A lemniscus-led value that differs from Doctolib's last known one."""
    if kind == "street":
        return f"Neue Straße {i % 90 + 1}"
    if kind == "postal_code":
        return f"{(int(theirs) + 1) % 100000:05}"
    return "Potsdam"  # not among CITIES


def fill(patients: int, rng: random.Random) -> dict:
    """One XL organisation with the Doctolib integration and `patients` linked records,
    5 % with a Doctolib-led and 5 % with a lemniscus-led field drifted. Returns the
    organisation and the seeded drift, {doctolib patient id: field}."""
    from django.core.management import call_command
    from django.db import connection

    from doctolib_bridge.models import DoctolibPatientState
    from lemniscus.text import fold
    from organisations.models import Organisation, Plan
    from patients.models import Patient
    from tokens.models import TokenKind
    from tokens.services import token_create

    call_command("migrate", verbosity=0)
    organisation = Organisation.objects.create(name="Praxis Abgleich", plan=Plan.XL, time_zone=ZONE)
    token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)

    drifted = rng.sample(range(patients), 2 * round(patients * DRIFT_SHARE))
    half = len(drifted) // 2
    doctolib_drift = {
        i: DOCTOLIB_LED_DRIFT[n % len(DOCTOLIB_LED_DRIFT)] for n, i in enumerate(drifted[:half])
    }
    lemniscus_drift = {
        i: LEMNISCUS_LED_DRIFT[n % len(LEMNISCUS_LED_DRIFT)] for n, i in enumerate(drifted[half:])
    }

    for offset in range(0, patients, BATCH):
        records, known = [], []
        for i in range(offset, min(offset + BATCH, patients)):
            theirs = {
                "salutation": rng.choice(("", "male", "female")),
                "first_name": rng.choice(FIRST_NAMES),
                "last_name": f"{rng.choice(LAST_NAMES)}-{i}",
                "birth_date": (date(1940, 1, 1) + timedelta(days=rng.randrange(30000))).isoformat(),
                "mobile_phone": f"+49171{i:07}",
                "landline_phone": f"+4930{i:07}" if i % 3 else "",
                "email": f"patient{i}@example.org",
                "street": f"Lindenstraße {i % 200 + 1}",
                "postal_code": f"{10000 + i % 89999:05}",
                "city": rng.choice(CITIES),
            }
            ours = dict(theirs)
            if i in doctolib_drift:
                name = doctolib_drift[i]
                ours[name] = doctolib_led_drift(name, i, theirs[name])
            elif i in lemniscus_drift:
                name = lemniscus_drift[i]
                ours[name] = lemniscus_led_drift(name, i, theirs[name])
            ours["birth_date"] = date.fromisoformat(ours["birth_date"])
            records.append(
                Patient(
                    organisation=organisation,
                    doctolib_patient_id=f"dl-{i:07}",
                    sync_to_doctolib=True,
                    title=rng.choice(("", "", "", "Dr.")),
                    first_name_folded=fold(ours["first_name"]),
                    last_name_folded=fold(ours["last_name"]),
                    **ours,
                )
            )
            known.append(theirs)
        Patient.objects.bulk_create(records)
        DoctolibPatientState.objects.bulk_create(
            DoctolibPatientState(patient=record, last_known=theirs)
            for record, theirs in zip(records, known, strict=True)
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return {
        "organisation": organisation,
        "doctolib_drift": {f"dl-{i:07}": name for i, name in doctolib_drift.items()},
        "lemniscus_drift": {f"dl-{i:07}": name for i, name in lemniscus_drift.items()},
    }


# -- the baseline -----------------------------------------------------------------


def copy_baseline(url: str, organisation_pk: int) -> dict:
    import psycopg

    statement = f"COPY ({COMPARED_SQL.format(org=organisation_pk)}) TO STDOUT"
    with psycopg.connect(url) as connection:
        backend = connection.info.backend_pid
        started, cpu, db_cpu = time.perf_counter(), cpu_seconds(os.getpid()), cpu_seconds(backend)
        size = rows = 0
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in copy:
                size += len(chunk)
                rows += bytes(chunk).count(b"\n")
        return {
            "seconds": time.perf_counter() - started,
            "cpu_seconds": cpu_seconds(os.getpid()) - cpu,
            "db_cpu_seconds": cpu_seconds(backend) - db_cpu,
            "rows": rows,
            "bytes": size,
        }


# -- checks -----------------------------------------------------------------------


def state_counts(organisation) -> dict:
    """What the reconciliation may write: history rows with its actor, feed entries."""
    from doctolib_bridge.models import ChangeFeedEntry
    from doctolib_bridge.sync import RECONCILE_ACTOR
    from patients.models import Patient

    return {
        "history_rows": Patient.history.filter(
            organisation=organisation, history_change_reason=RECONCILE_ACTOR
        ).count(),
        "feed_entries": ChangeFeedEntry.objects.filter(organisation=organisation).count(),
        "doctolib_led_mismatches": mismatches(organisation.pk, DOCTOLIB_LED_DRIFT),
        "lemniscus_led_mismatches": mismatches(organisation.pk, LEMNISCUS_LED_DRIFT),
    }


def check(fixture: dict, patients: int, first: dict, second: dict, counts: dict) -> list[str]:
    """The problems found (empty: the runs did what they must)."""
    from doctolib_bridge.models import ChangeFeedEntry
    from doctolib_bridge.sync import RECONCILE_ACTOR
    from patients.models import Patient

    organisation = fixture["organisation"]
    seeded_back, seeded_queued = fixture["doctolib_drift"], fixture["lemniscus_drift"]
    problems = []

    def expect(label: str, got, wanted) -> None:
        if got != wanted:
            problems.append(f"{label}: {got!r}, expected {wanted!r}")

    expect(
        "seeded Doctolib-led mismatches",
        counts["seeded"]["doctolib_led_mismatches"],
        len(seeded_back),
    )
    expect(
        "seeded lemniscus-led mismatches",
        counts["seeded"]["lemniscus_led_mismatches"],
        len(seeded_queued),
    )
    expect("organisations reconciled", first["organisations"], 1)
    for label, run in (("first", first), ("second", second)):
        expect(f"{label} run: records checked", run["checked"], patients)
    expect("first run: records set back", first["set_back"], len(seeded_back))
    expect("first run: records queued", first["queued"], len(seeded_queued))
    expect("second run: set back / queued", (second["set_back"], second["queued"]), (0, 0))

    after = counts["after_first"]
    expect("history rows of the first run", after["history_rows"], len(seeded_back))
    expect("feed entries of the first run", after["feed_entries"], len(seeded_queued))
    expect("Doctolib-led mismatches after the first run", after["doctolib_led_mismatches"], 0)
    expect("lemniscus-led differences kept", after["lemniscus_led_mismatches"], len(seeded_queued))
    expect("after the second run (unchanged)", counts["after_second"], after)

    reason = RECONCILE_ACTOR
    set_back = set(
        Patient.history.filter(organisation=organisation, history_change_reason=reason)
        .values_list("doctolib_patient_id", flat=True)
    )  # fmt: skip
    expect("records with a history row are the seeded ones", set_back == set(seeded_back), True)
    queued = {
        (doctolib_id, tuple(fields))
        for doctolib_id, fields in ChangeFeedEntry.objects.filter(
            organisation=organisation
        ).values_list("patient__doctolib_patient_id", "fields")
    }
    wanted = {(doctolib_id, (name,)) for doctolib_id, name in seeded_queued.items()}
    expect("feed entries name the seeded record and field", queued == wanted, True)
    return problems


# -- the table --------------------------------------------------------------------


def table(
    args, *, copy: dict, first: dict, second: dict, seeded: tuple[int, int], invalid: int
) -> list[list[str]]:
    mb = 1024
    after_first = first["rss_after_first_batch_kb"] / mb
    peak = first["peak_rss_kb"] / mb
    growth = peak - after_first
    return [
        TABLE_HEADER,
        [
            f"reconciliation of {args.patients:,} linked patients (s)",
            f"{first['seconds']:.2f}",
            f"{copy['seconds']:.2f} (COPY)",
            f"{first['seconds'] / copy['seconds']:.1f}x",
            f"< {TARGET_SECONDS:g} s",
            verdict(first["seconds"] < TARGET_SECONDS, invalid),
        ],
        [
            "  CPU s of the worker process / of its PostgreSQL backend",
            f"{first['cpu_seconds']:.2f} / {first['db_cpu_seconds']:.2f}",
            f"{copy['cpu_seconds']:.2f} / {copy['db_cpu_seconds']:.2f}",
            "-",
            "-",
            "",
        ],
        [
            "second run (nothing to do) (s)",
            f"{second['seconds']:.2f}",
            f"{copy['seconds']:.2f} (COPY)",
            f"{second['seconds'] / copy['seconds']:.1f}x",
            "-",
            "",
        ],
        [
            "peak RSS / RSS after first batch (MB)",
            f"{peak:.0f} / {after_first:.0f}",
            f"{first['rss_before_kb'] / mb:.0f} (before the run)",
            "-",
            f"flat (< +{FLAT_MB} MB)",
            verdict(growth < FLAT_MB, invalid),
        ],
        [
            "fields set back / queued (one field a drifted record)",
            f"{first['set_back']:,} / {first['queued']:,}",
            f"{seeded[0]:,} / {seeded[1]:,} (seeded)",
            "-",
            "-",
            "",
        ],
    ]


def rss_profile(run: dict) -> str:
    """RSS (MB) at tenths of the run, from the samples."""
    samples = run["rss_samples"]
    if not samples:
        return "-"
    picks = [samples[min(len(samples) - 1, len(samples) * k // 10)] for k in range(11)]
    return " ".join(f"{kb / 1024:.0f}" for _, kb in picks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        django_setup(os.environ["DATABASE_URL"])
        child()
        return

    os.chdir(ROOT)
    url = database_url("BENCH_RECONCILE_DATABASE_URL", "lemniscus_bench_reconcile")
    print(f"database {url.rsplit('/', 1)[1]}: drop, create, migrate", flush=True)
    recreate_database(url)
    django_setup(url)

    started = time.perf_counter()
    fixture = fill(args.patients, random.Random(args.seed))
    fill_seconds = time.perf_counter() - started
    organisation = fixture["organisation"]
    print(
        f"filled {args.patients:,} linked patients ({len(fixture['doctolib_drift']):,} "
        f"Doctolib-led, {len(fixture['lemniscus_drift']):,} lemniscus-led drifted) "
        f"in {fill_seconds:.0f} s",
        flush=True,
    )
    counts = {"seeded": state_counts(organisation)}

    copies = [copy_baseline(url, organisation.pk) for _ in range(COPY_ROUNDS)]
    best_copy = min(copies, key=lambda c: c["seconds"])
    print(f"COPY of the compared rows: {best_copy['seconds']:.2f} s (best of {COPY_ROUNDS})")
    first = run_reconciliation(url)
    print(
        f"first run: {first['seconds']:.2f} s, set back {first['set_back']:,}, "
        f"queued {first['queued']:,}",
        flush=True,
    )
    counts["after_first"] = state_counts(organisation)
    second = run_reconciliation(url)
    print(f"second run: {second['seconds']:.2f} s", flush=True)
    counts["after_second"] = state_counts(organisation)

    problems = check(fixture, args.patients, first, second, counts)
    if best_copy["rows"] != args.patients:
        problems.append(f"COPY read {best_copy['rows']} rows, expected {args.patients}")
    seeded = (len(fixture["doctolib_drift"]), len(fixture["lemniscus_drift"]))
    rows = table(
        args, copy=best_copy, first=first, second=second, seeded=seeded, invalid=len(problems)
    )
    results = {
        "command": " ".join([".venv/bin/python", "bench/reconcile.py", *sys.argv[1:]]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(url),
        "patients": args.patients,
        "seeded": {"doctolib_led_drift": seeded[0], "lemniscus_led_drift": seeded[1]},
        "fill_seconds": round(fill_seconds, 1),
        "load_average_at_end": os.getloadavg(),
        "copy": copies,
        "first_run": first,
        "second_run": second,
        "counts": counts,
        "problems": problems,
        "table": rows,
    }
    print()
    print(f"{'':22}{'wall s':>8}{'CPU s':>8}{'DB CPU s':>10}{'peak RSS MB':>13}")
    for label, run in (("COPY (best)", best_copy), ("first run", first), ("second run", second)):
        rss = f"{run['peak_rss_kb'] / 1024:13.0f}" if "peak_rss_kb" in run else ""
        print(
            f"{label:22}{run['seconds']:8.2f}{run['cpu_seconds']:8.2f}"
            f"{run['db_cpu_seconds']:10.2f}{rss}"
        )
    print(f"RSS of the first run at tenths of it (MB): {rss_profile(first)}")
    print()
    print_table(rows)
    out = write_results("reconcile", results, args.output)
    print(f"written to {out}")

    if args.drop_after:
        from django.db import connections

        connections.close_all()
        drop_database(url)
    if problems:
        sys.exit("INVALID:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
