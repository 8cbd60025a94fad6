"""Record search benchmark (issue 11): `patients.selectors.patient_list(q=...)`, the
selector behind the staff API's `?q=` and every page's record search, at 100,000
records, for each query shape of the issue, next to the bare SQL that uses the same
index.

Data, on a PostgreSQL database it fills itself (bulk inserts, `migrate` first, so the
trigram index of migration patients 0007 is there): one organisation with `--patients`
records (default 100,000) of German names from the demo's lists (organisations.demo:
"von Bülow", "Özdemir", umlauts, hyphenated names by joining two last names for 5 %),
birth dates over 95 years and mobile numbers, plus 1,000 records of a second
organisation; `ANALYZE` afterwards.

Measured per shape, `--rounds` times (default 200) with a different record's data
each round, in-process: the selector's first page as the staff API reads it
(`list(patient_list(...)[:50])`, the page size). Shapes:
- "Last, First": "Bauer, Felix" (both words, with a comma);
- "First Last": "Felix Bauer";
- one word, a middle word of the name: "Bülow" of "von Bülow", "Özdemir" of a
  hyphenated one;
- folded without umlaut: "dorte" style (the umlaut typed as plain vowel);
- a three-letter prefix: "Bau";
- a birth date TT.MM.JJ;
- name and birth date: "Bauer 18.11.08".

Baseline, same run, same rounds: the bare SQL of the same question on the same index
(`SELECT id ... WHERE organisation_id = %s AND search_words LIKE '% w%' [AND ...]
ORDER BY lower(last_name_folded), first_name_folded, id LIMIT 50` through psycopg:
the trigram index, or the birth date index for the date shapes). Target: p95 < 20 ms
per shape (issue 11).

Run (from the project root; about two minutes, most of it filling the database):

    .venv/bin/python bench/search.py
    .venv/bin/python bench/search.py --patients 10000 --rounds 50   # a quick look

The database is BENCH_SEARCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_search); its name must contain
"bench": it is dropped and created anew (`--drop-after` drops it at the end).
Prints a table and writes bench/results/search-<date>.json (or `--output`).
"""

import argparse
import os
import random
import sys
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
    print_table,
    recreate_database,
    summary,
    verdict,
    write_results,
)

TARGET_MS = 20.0
PAGE = 50
BATCH = 5000


def django_setup(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-search-not-a-secret"),
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
    )
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(count: int, rng: random.Random):
    from organisations.demo import FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES
    from organisations.models import Organisation
    from patients.models import Patient

    first_names = FEMALE_FIRST_NAMES + MALE_FIRST_NAMES
    today = date.today()

    def make(organisation, n):
        last = rng.choice(LAST_NAMES)
        if rng.random() < 0.05:
            last = f"{last}-{rng.choice(LAST_NAMES)}"
        patient = Patient(
            organisation=organisation,
            first_name=rng.choice(first_names),
            last_name=last,
            birth_date=today - timedelta(days=rng.randint(365, 95 * 365)),
            mobile_phone=f"+49171{n:07d}",
        )
        patient.refresh_search_keys()
        return patient

    ours = Organisation.objects.create(name="Praxis Suche")
    other = Organisation.objects.create(name="Praxis Nebenan")
    for start in range(0, count, BATCH):
        Patient.objects.bulk_create(
            [make(ours, n) for n in range(start, min(count, start + BATCH))], batch_size=BATCH
        )
    Patient.objects.bulk_create([make(other, count + n) for n in range(1000)])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_patient")
    return ours


def shapes(patient) -> dict[str, tuple[str, list[str], date | None]]:
    """shape -> (q as typed, the name words the bare SQL looks for, birth date)."""
    from lemniscus.text import fold, split_name_words

    last_words = split_name_words(patient.last_name)
    last, first = patient.last_name, patient.first_name
    plain = fold(last_words[-1])  # umlauts typed as plain vowels where the name has them
    for umlaut, vowel in (("ae", "a"), ("oe", "o"), ("ue", "u")):
        if umlaut in plain and any(ch in last_words[-1].lower() for ch in "äöü"):
            plain = plain.replace(umlaut, vowel)
    short = patient.birth_date.strftime("%d.%m.%y")
    return {
        "Last, First": (f"{last}, {first}", [*last_words, first], None),
        "First Last": (f"{first} {last}", [first, *last_words], None),
        "a later word of the name": (last_words[-1], [last_words[-1]], None),
        "umlaut typed as plain vowel": (plain, [plain], None),
        "three-letter prefix": (last_words[0][:3], [last_words[0][:3]], None),
        "birth date TT.MM.JJ": (short, [], patient.birth_date),
        "name and birth date": (f"{last_words[0]} {short}", [last_words[0]], patient.birth_date),
    }


def baseline_sql(cursor, organisation_id, words, birth_date) -> list:
    from lemniscus.text import fold

    sql = "SELECT id FROM patients_patient WHERE organisation_id = %s AND archived_at IS NULL"
    params: list = [organisation_id]
    for word in words:
        sql += " AND search_words LIKE %s"
        params.append(f"% {fold(word)}%")
    if birth_date:
        sql += " AND birth_date = %s"
        params.append(birth_date)
    # ordered as the selector orders (an expression, so that the search index is used)
    sql += " ORDER BY lower(last_name_folded), first_name_folded, id LIMIT %s"
    params.append(PAGE)
    cursor.execute(sql, params)
    return cursor.fetchall()


def measure(organisation, rounds: int, rng: random.Random) -> dict:
    import psycopg
    from django.db import connection

    from patients.models import Patient
    from patients.selectors import patient_list

    pks = list(Patient.objects.filter(organisation=organisation).values_list("pk", flat=True))
    samples = [Patient.objects.get(pk=pk) for pk in rng.sample(pks, rounds)]
    timings: dict[str, dict[str, list[float]]] = {}
    missing = 0
    settings = connection.settings_dict
    dsn = (
        f"host={settings['HOST']} port={settings['PORT'] or 5432} "
        f"user={settings['USER']} dbname={settings['NAME']}"
    )
    with psycopg.connect(dsn) as bare, bare.cursor() as cursor:
        for patient in samples:
            for shape, (q, words, birth_date) in shapes(patient).items():
                times = timings.setdefault(shape, {"ours": [], "baseline": []})
                started = time.perf_counter()
                baseline_sql(cursor, organisation.pk, words, birth_date)
                times["baseline"].append(time.perf_counter() - started)
                started = time.perf_counter()
                found = list(patient_list(organisation=organisation, q=q)[:PAGE])
                times["ours"].append(time.perf_counter() - started)
                if shape != "three-letter prefix" and patient not in found and len(found) < PAGE:
                    missing += 1  # the record searched for must be found
    return {"timings": timings, "missing": missing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    args = parser.parse_args()
    os.chdir(ROOT)

    url = database_url("BENCH_SEARCH_DATABASE_URL", "lemniscus_bench_search")
    print(f"database {url.rsplit('/', 1)[1]}: drop, create, migrate", flush=True)
    recreate_database(url)
    django_setup(url)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    organisation = fill(args.patients, rng)
    print(f"{args.patients:,} records in {time.perf_counter() - started:.0f} s", flush=True)

    result = measure(organisation, args.rounds, rng)
    table = [TABLE_HEADER]
    for shape, times in result["timings"].items():
        ours, base = summary(times["ours"]), summary(times["baseline"])
        table.append(
            [
                f"search p95, {shape}, {args.patients:,} records (ms)",
                f"{ours['p95_ms']:.1f}",
                f"{base['p95_ms']:.1f} (bare SQL, same index)",
                f"{ours['p95_ms'] / base['p95_ms']:.1f}x" if base["p95_ms"] else "-",
                f"< {TARGET_MS:.0f} ms",
                verdict(ours["p95_ms"] < TARGET_MS, result["missing"]),
            ]
        )
    table.append(
        ["records not found by their own data", str(result["missing"]), "-", "-", "0",
         verdict(result["missing"] == 0)]
    )  # fmt: skip
    print_table(table)
    path = write_results(
        "search",
        {
            "environment": environment(url),
            "patients": args.patients,
            "rounds": args.rounds,
            "summaries": {
                shape: {side: summary(values) for side, values in times.items()}
                for shape, times in result["timings"].items()
            },
            "table": table,
        },
        args.output,
    )
    print(f"written to {path}")
    if args.drop_after:  # bench/run.py asks every benchmark to
        from django.db import connections

        connections.close_all()
        drop_database(url)


if __name__ == "__main__":
    main()
