"""Scale benchmark (issue 15): appointment PUT and patient suggestions at 10,000,
100,000 and 1,000,000 patients. Target: flat from 100,000 to 1,000,000 (the p95 at
1M at most 1.2 times the p95 at 100k).

What it does, on a fresh PostgreSQL database it fills itself:

- one organisation (plan XL) with a Doctolib token, five service chains and six
  calendar columns, three linked to Doctolib agendas: bench/zipper.py's `seed` with no
  patients;
- patients written with `COPY patients_patient (...) FROM STDIN` (psycopg's copy API),
  every NOT NULL column filled, the folded search keys computed by the model's own
  `Patient.refresh_search_keys` (cached per name pair); names from bench/zipper.py's
  `Names` (a Zipf-like head of common German surnames and a long tail); 1 % linked to
  Doctolib (`doctolib_patient_id`, `sync_to_doctolib`);
- the database grows to each size in turn (`--sizes`, default 10,000, 100,000,
  1,000,000: only the difference is copied), followed by `VACUUM (ANALYZE)` of the
  database (statistics and visibility map, as autovacuum would give them; the
  appointments the PUTs wrote included), and at each size it measures, in-process,
  one request at a time, in `--rounds` rounds (default 3; a figure is the median of
  the rounds' figures, so that a burst of other work on a shared machine spoils one
  round, not the figure):
  - patient suggestions (GET /api/zipper/v1/patient-suggestions): bench/zipper.py's
    `measure_suggestions` on `--requests` queries drawn from the patients (last-name
    prefixes of 1 to 4 letters, first name and birth date in 80 %, plus the hottest
    prefixes), timed through the stack (django.test.Client: the target figure), in the
    view, in the selector alone and as one bare SQL prefix lookup;
  - appointment PUTs (PUT /api/zipper/v1/appointments/{id}) through django.test.Client:
    bench/zipper.py's `measure_in_process`, `--requests` creates (new Doctolib ids,
    linked patients) and as many updates (a new note), with the SQL statements of one
    of each;
  - EXPLAIN (ANALYZE, BUFFERS) of every statement of the suggestion search for the
    widest one-letter prefix (up to three steps: same birth date, same first name,
    the rest; and the last name alone, which runs only the last step) and of the
    reading statements of one PUT (its one planning statement, re-run after the PUT,
    so that it finds the appointment as an update would).

The table has the p95 at each size for suggestions, PUT creates and PUT updates; the
largest size's row has the next smaller size's figure as its baseline and the ratio
as the target's figure. The measurements run in the order of the sizes, so anything
else the machine does at the time lands on one size only: the CPU other processes
used is reported per size, and beside the wall-clock p95 the table has the p95 of
this process's CPU time per request (time.thread_time: the Python side's work
without the waits for a core), whose ratio other processes move much less; the
database's side is in the plans (execution time and buffers per statement).

Run (from the project root; about 5 minutes on 2 cores, most of it the 1M COPY and its
indexes):

    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --sizes 2000,5000,20000 --requests 100   # a quick look

The database is BENCH_SCALE_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_scale); its name must contain
"bench": it is dropped and created anew and left in place afterwards for inspection
(`--drop-after` drops it; at 1M patients it takes about 1 GB). Redis is
BENCH_SCALE_REDIS_URL (default redis://127.0.0.1:6379/10, emptied at the start): the
rate limit (a budget far above the load) and the auth generation under which token
lookups are cached, as in production. DEBUG is off. Prints one table and writes
bench/results/scale-<date>.json (or `--output`).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common, zipper  # noqa: E402

DEFAULT_SIZES = "10000,100000,1000000"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/10"
FLAT_RATIO = 1.2
LINKED_SHARE = 0.01
# Every NOT NULL column of patients_patient but the identity `id` (check_copy_columns);
# the nullable ones left out (invoice_recipient, archived_at) are NULL, as for a new
# record.
COPY_COLUMNS = (
    "created_at", "updated_at", "public_id", "organisation_id", "salutation", "title",
    "first_name", "last_name", "birth_date", "email", "mobile_phone", "landline_phone",
    "street", "postal_code", "city", "notes", "sync_to_doctolib", "doctolib_patient_id",
    "reminder_consent", "first_name_folded", "last_name_folded", "search_words",
)  # fmt: skip
# (label in the table, result key in a size's measurements)
FIGURES = (
    ("suggestions p95, through the stack (ms)", "suggestions"),
    ("appointment PUT create p95, in-process (ms)", "put_create"),
    ("appointment PUT update p95, in-process (ms)", "put_update"),
)


# -- data -------------------------------------------------------------------------


def check_copy_columns() -> None:
    from patients.models import Patient

    required = {f.column for f in Patient._meta.concrete_fields if not f.null} - {"id"}
    if missing := required - set(COPY_COLUMNS):
        raise SystemExit(f"COPY_COLUMNS lacks NOT NULL column(s) {sorted(missing)}")


@cache
def search_keys(first_name: str, last_name: str) -> tuple[str, str, str]:
    """first_name_folded, last_name_folded and search_words, as save() sets them."""
    from patients.models import Patient

    patient = Patient(first_name=first_name, last_name=last_name)
    patient.refresh_search_keys()
    return patient.first_name_folded, patient.last_name_folded, patient.search_words


def copy_patients(fixture, names: zipper.Names, rng: random.Random, up_to: int) -> float:
    """COPYs patients until the organisation has `up_to`, then VACUUM (ANALYZE)s the
    database; returns the seconds it took."""
    from django.db import connection

    from organisations.demo import PLACES, STREETS

    started, now = time.monotonic(), datetime.now(UTC)
    statement = f"COPY patients_patient ({', '.join(COPY_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for number in range(len(fixture.people), up_to):
            salutation, first_name, last_name, birth_date = names.person()
            postal_code, city = rng.choice(PLACES)
            linked = rng.random() < LINKED_SHARE
            doctolib_id = f"dp-{number}" if linked else None
            copy.write_row(
                (
                    now,
                    now,
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    fixture.organisation.pk,
                    salutation,
                    "",
                    first_name,
                    last_name,
                    birth_date,
                    "",
                    f"+49171{number:07d}",
                    "",
                    f"{rng.choice(STREETS)} {rng.randint(1, 140)}",
                    postal_code,
                    city,
                    "",
                    linked,
                    doctolib_id,
                    False,
                    *search_keys(first_name, last_name),
                )
            )
            fixture.people.append((first_name, last_name, birth_date))
            if linked:
                fixture.linked_ids.append(doctolib_id)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return time.monotonic() - started


# -- EXPLAIN ----------------------------------------------------------------------


def explain_reads(action) -> list[dict]:
    """Runs `action`, then EXPLAIN (ANALYZE, BUFFERS) of each reading statement it
    sent (SELECT, or WITH without a write), in order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        action()
    statements = [query["sql"] for query in captured.captured_queries]
    plans = []
    for statement in statements:
        words = statement.lstrip().split(None, 1)
        writes = any(verb in statement.upper() for verb in ("INSERT ", "UPDATE ", "DELETE "))
        if not words or words[0].upper() not in ("SELECT", "WITH") or writes:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement)
            plans.append({"sql": statement, "plan": [row[0] for row in cursor.fetchall()]})
    return plans


def explain_size(fixture, params: dict, body: dict, doctolib_id: str) -> dict:
    from django.test import Client

    from patients.selectors import patient_suggestions

    def suggester(asked: dict):
        birth_date = asked.get("birth_date")
        return lambda: patient_suggestions(
            organisation=fixture.organisation,
            last_name=asked["last_name"],
            first_name=asked.get("first_name", ""),
            birth_date=date.fromisoformat(birth_date) if birth_date else None,
        )

    def put():
        response = Client(HTTP_HOST="127.0.0.1").put(
            f"/api/zipper/v1/appointments/{doctolib_id}",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {fixture.raw_token}",
        )
        assert response.status_code == 201, response.content

    # the last name alone: the last step ("the rest in last-name order") on its own
    only_last = {"last_name": params["last_name"]}
    return {
        "suggestions": {"params": params, "statements": explain_reads(suggester(params))},
        "suggestions_last_name_only": {
            "params": only_last,
            "statements": explain_reads(suggester(only_last)),
        },
        "put_create": {"doctolib_appointment_id": doctolib_id, "statements": explain_reads(put)},
    }


def cost(plan: list[str]) -> str:
    """ "0.08 ms, 9 buffers": the execution time and the shared buffers the plan read."""
    line = next(line for line in plan if line.startswith("Execution Time"))
    buffers = next((line for line in plan if line.strip().startswith("Buffers:")), "")
    hits = sum(int(part.split("=")[1]) for part in buffers.split()[1:] if "=" in part)
    return f"{float(line.split(':')[1].split()[0]):.2f} ms, {hits} buffers"


# -- one size ---------------------------------------------------------------------


def measure_size(fixture, size: int, args, rng: random.Random) -> dict:
    """`args.rounds` rounds of suggestions and PUTs (each on new draws), then the
    EXPLAINs. A figure is the median of its rounds: a burst of other work on the
    machine spoils one round, not the figure."""
    rounds = []
    for number in range(args.rounds):
        queries = zipper.suggestion_requests(fixture, args.requests, rng)
        suggestions = zipper.measure_suggestions(fixture, queries)
        bodies = zipper.appointment_bodies(fixture, rng)
        prefix = f"s{size}r{number}"
        puts = zipper.measure_in_process(fixture, bodies, repeats=args.requests, id_prefix=prefix)
        rounds.append({"suggestions": suggestions, "in_process": puts})
    explain = explain_size(
        fixture, suggestions["explain"]["params"], bodies[0], doctolib_id=f"s{size}-explain"
    )
    figures = {}
    for _, key in FIGURES:
        wall = [
            one["suggestions"]["modes"]["stack"] if key == "suggestions" else one["in_process"][key]
            for one in rounds
        ]
        cpu = [
            one["suggestions"]["cpu_in_this_process"]["stack"]
            if key == "suggestions"
            else one["in_process"][key]["cpu_in_this_process"]
            for one in rounds
        ]
        figures[key] = medians(wall) | {"cpu_in_this_process": medians(cpu)}
    phases = ("baseline", "put_create", "put_update")
    return {
        "patients": size,
        "linked_patients": len(fixture.linked_ids),
        "figures": figures,
        "queries": {
            name: sorted({one["in_process"][name]["queries"] for one in rounds}) for name in phases
        },
        "explain": explain,
        "failures": sum(
            len(one["suggestions"]["non_200"]) + sum(one["in_process"][n]["failed"] for n in phases)
            for one in rounds
        ),
        "cpu_others": max(
            max(one["suggestions"]["cpu"]["others"], one["in_process"]["cpu"]["others"])
            for one in rounds
        ),
        "rounds": rounds,
    }


def medians(stats: list[dict]) -> dict:
    """p50 and p95 of a figure: the medians of its rounds'."""
    return {
        f"{stat}_ms": statistics.median(one[f"{stat}_ms"] for one in stats)
        for stat in ("p50", "p95")
    } | {"p95_ms_by_round": [one["p95_ms"] for one in stats]}


def figure(measured: dict, key: str, stat: str, clock: str = "wall") -> float:
    figures = measured["figures"][key]
    return (figures["cpu_in_this_process"] if clock == "cpu" else figures)[stat]


def short(size: int) -> str:
    for unit, divisor in (("M", 1_000_000), ("k", 1000)):
        if size >= divisor and size % divisor == 0:
            return f"{size // divisor}{unit}"
    return f"{size:,}"


def table(sizes: list[int], measured: dict[int, dict]) -> list[list[str]]:
    rows = [common.TABLE_HEADER]
    largest, before = sizes[-1], sizes[-2] if len(sizes) > 1 else sizes[-1]
    failures = sum(m["failures"] for m in measured.values())
    for label, key in FIGURES:
        for size in sizes[:-1]:
            ours = figure(measured[size], key, "p95_ms")
            rows.append([f"{label}, {size:,} patients", f"{ours:.1f}", "-", "-", "-", ""])
        ours, baseline = (figure(measured[size], key, "p95_ms") for size in (largest, before))
        ratio = ours / baseline if baseline else float("inf")
        rows.append(
            [
                f"{label}, {largest:,} patients (baseline: {before:,})",
                f"{ours:.1f}",
                f"{baseline:.1f}",
                f"{ratio:.2f}x",
                f"flat (<= {FLAT_RATIO}x from {short(before)} to {short(largest)})",
                common.verdict(ratio <= FLAT_RATIO, failures),
            ]
        )
        p50s = " / ".join(f"{figure(measured[size], key, 'p50_ms'):.1f}" for size in sizes)
        rows.append([f"  p50 at {' / '.join(map(short, sizes))} (ms)", p50s, "-", "-", "-", ""])
        cpu = [figure(measured[size], key, "p95_ms", "cpu") for size in sizes]
        cpu_ratio = cpu[-1] / cpu[-2] if len(cpu) > 1 and cpu[-2] else 1.0
        rows.append(
            [
                f"  CPU time in this process, p95 at {' / '.join(map(short, sizes))} (ms)",
                " / ".join(f"{value:.1f}" for value in cpu),
                f"{cpu[-2 if len(cpu) > 1 else -1]:.1f}",
                f"{cpu_ratio:.2f}x",
                f"flat (<= {FLAT_RATIO}x from {short(before)} to {short(largest)})",
                common.verdict(cpu_ratio <= FLAT_RATIO, failures),
            ]
        )
    counts = [
        " / ".join(
            "|".join(map(str, measured[size]["queries"][name]))
            for name in ("put_create", "put_update")
        )
        for size in sizes
    ]
    rows.append(
        [
            f"SQL statements of one PUT create / update at {' / '.join(map(short, sizes))}",
            ", ".join(counts),
            "-",
            "-",
            "the same at every size",
            common.verdict(len(set(counts)) == 1 and "|" not in counts[0]),
        ]
    )
    return rows


def print_findings(sizes: list[int], measured: dict[int, dict]) -> None:
    print("EXPLAIN (ANALYZE, BUFFERS), per statement (suggestion steps, the PUT's reads):")
    for size in sizes:
        m = measured[size]
        print(
            f"  {size:,} patients (COPY {m['copy_seconds']:.0f} s, other processes' CPU up to "
            f"{m['cpu_others']:.0%})"
        )
        for name, explained in m["explain"].items():
            asked = explained.get("params") or explained.get("doctolib_appointment_id")
            costs = "; ".join(cost(statement["plan"]) for statement in explained["statements"])
            print(f"    {name} {asked}: {costs}")
    largest = measured[sizes[-1]]["explain"]
    print(f"\nplans at {sizes[-1]:,} patients:")
    for name, explained in largest.items():
        for statement in explained["statements"]:
            where = statement["sql"].find(" WHERE ")
            print(f"  -- {name}: ...{statement['sql'][where : where + 300]}...")
            for line in statement["plan"]:
                print(f"     {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="patient counts, ascending")
    parser.add_argument(
        "--requests", type=int, default=300, help="per round: suggestions, and PUTs of each kind"
    )
    parser.add_argument("--rounds", type=int, default=3, help="measurements per size")
    parser.add_argument("--seed", type=int, default=20240615)
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if sizes != sorted(set(sizes)) or sizes[0] < 1:
        parser.error("--sizes: positive patient counts, ascending")
    os.chdir(ROOT)  # Celery's Django fixup puts the working directory first on sys.path

    url = common.database_url("BENCH_SCALE_DATABASE_URL", "lemniscus_bench_scale")
    env = zipper.server_env(url, os.environ.get("SECRET_KEY") or "bench-only-secret-key")
    env["REDIS_URL"] = os.environ.get("BENCH_SCALE_REDIS_URL", DEFAULT_REDIS_URL)
    rng = random.Random(args.seed)
    started = time.monotonic()
    zipper.set_up(url, env)
    check_copy_columns()
    fixture = zipper.seed(patients=0, appointments_per_patient=0, rng=rng)
    names = zipper.Names(rng)
    measured = {}
    for size in sizes:
        print(f"COPY up to {size:,} patients", end="", flush=True)
        copy_seconds = copy_patients(fixture, names, rng, size)
        print(f": {copy_seconds:.0f} s; measuring", flush=True)
        measured[size] = {"copy_seconds": round(copy_seconds, 1)}
        measured[size] |= measure_size(fixture, size, args, rng)

    rows = table(sizes, measured)
    results = {
        "command": " ".join([".venv/bin/python", "bench/scale.py", *sys.argv[1:]]),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": common.environment(url),
        "sizes": {str(size): measured[size] for size in sizes},
        "table": rows,
        "total_seconds": round(time.monotonic() - started, 1),
    }
    from django.db import connections

    connections.close_all()
    if args.drop_after:
        common.drop_database(url)
    results["database_left"] = not args.drop_after
    output = common.write_results("scale", results, args.output)

    print()
    common.print_table(rows)
    print()
    print_findings(sizes, measured)
    print(f"\ndatabase {'dropped' if args.drop_after else 'left in place'}")
    print(f"results: {output} ({results['total_seconds']} s in all)")
    failures = sum(m["failures"] for m in measured.values())
    if failures:
        print(f"INVALID: {failures} requests failed (see the JSON)", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
