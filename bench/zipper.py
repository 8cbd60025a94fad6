"""Zipper API benchmark: the issue's performance targets, each next to its baseline.

What it measures, on a fresh PostgreSQL database it fills itself:

1. Patient suggestions (GET /api/zipper/v1/patient-suggestions) on one organisation
   with 100,000 patients (realistic German surnames: a frequent head plus a long
   tail, so prefixes have realistic selectivity). Target: p95 under 20 ms "in the
   view". Timed in-process, per request, four ways on the same request list:
   - view: RequestFactory -> SuggestionsView -> rendered JSON; token check, rate
     limit, the search, the sync-log insert (this is the target figure);
   - stack: django.test.Client, i.e. the view plus middleware and URL routing;
   - selector: patients.selectors.patient_suggestions alone;
   - bare_sql (the baseline): one raw SQL prefix lookup on the same index, ten rows
     in last-name order, no ranking, no token, no sync log.
   Last-name prefixes of 1 to 4 letters, drawn from the patients themselves (a common
   name is asked for as often as it occurs), plus the hottest prefixes ("m", "s",
   "sch", ...); first name and birth date of the drawn patient in 80 % of requests.
   Reported overall and per prefix length, with the slowest prefixes and their
   match counts, and EXPLAIN ANALYZE of the one-letter prefix with most matches.
   The organisation also holds 200,000 lemniscus appointments, 12 a day per
   calendar column (the PUT's collision check reads them), 1,000 linked patients,
   five service chains and three columns linked to Doctolib agendas.
2. Appointment PUTs (PUT /api/zipper/v1/appointments/{id}) through gunicorn
   (`-w 4`, sync workers, DEBUG off) on PostgreSQL, in one run with the baseline:
   POST /bench/insert (bench/baseline.py), a bare DRF view on the same stack
   that does one INSERT (no auth, no throttling, no sync log). Same duration, same
   concurrency, the same load generator (threads with http.client on loopback).
   Phases: baseline, PUT creates (a new Doctolib id each), PUT updates (re-pushes
   of the created ids with a new note), each warmed up, then run in interleaved
   rounds (baseline, creates, updates, baseline, ...) so that anything else the
   machine does hits all three alike. Every response is checked (status and
   `outcome`); anything else is counted as a failure, never as throughput.
   Reported: requests/s, p50 and p99 latency, PUT/baseline ratio (target >= 0.5).
3. In-process, one request at a time (django.test.Client, no HTTP server): the SQL
   queries of one PUT create / update and of one baseline request (as the test's
   django_assert_max_num_queries counts them), and their median times: the work
   per request without concurrency.

The machine's CPU is split into the processes under test (this one, gunicorn,
PostgreSQL) and everything else; when other processes ran, the report says how
much, since they lower the absolute figures (the interleaved ratio less so).

Run (from the project root; about 3 minutes on 2 cores):

    .venv/bin/python bench/zipper.py
    .venv/bin/python bench/zipper.py --patients 10000 --seconds 5   # a quick look

The database is BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench); its name must contain "bench":
it is dropped and created anew, and left in place afterwards for inspection
(`--drop-after` drops it). Redis is BENCH_REDIS_URL (default
redis://127.0.0.1:6379/13, emptied at the start), as a deployment has it: the rate
limit (with a budget far above the load), the failed-token count and the auth
generation under which each process caches its token lookups. Prints one table and writes
everything to bench/results/zipper-<date>.json.
"""

import argparse
import http.client
import itertools
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    CpuMeter,
    cpu_shares,
    drop_database,
    environment,
    free_port,
    print_table,
    recreate_database,
    summary,
    verdict,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/lemniscus_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/13"
RATE_LIMIT = "100000000/min"  # the budget must never answer 429 during the benchmark
SUGGESTION_TARGET_MS = 20.0
THROUGHPUT_TARGET_RATIO = 0.5
# Issue 15: at most six round trips per PUT; Redis's one (the rate limit, the auth
# generation) comes on top of the SQL statements (tests/zipper/test_hot_path.py).
PUT_ROUND_TRIP_BOUND = 6
REDIS_ROUND_TRIPS = 1
HOT_PREFIXES = ("m", "s", "sch", "schm", "mue", "b", "k", "h", "w")
HOT_REPEATS = 10
BATCH_SIZE = 2000
LINKED_PATIENTS = 1000
PAYLOAD_VARIANTS = 500
# Lemniscus appointments: spread over enough columns for a realistic day (the PUT's
# collision check reads the column's day around the pushed appointment).
APPOINTMENT_DAYS_BACK, APPOINTMENT_DAYS_AHEAD = 180, 60
APPOINTMENTS_PER_COLUMN_DAY = 12
ZONE = ZoneInfo("Europe/Berlin")

# Surnames: the demo's common names (roughly by frequency) as a Zipf-like head for
# 12 % of patients, the rest from stems x endings (about 3,600 names), with initial
# letters in about the proportions of German surnames (S, B, K, H, M, W first).
COMMON_SHARE = 0.12
TAIL_STEMS = (
    "Sand", "Seel", "Sieg", "Sonn", "Spiel", "Stahl", "Stein", "Stroh", "Schaf", "Schall",
    "Scharn", "Schei", "Schenk", "Schill", "Schlott", "Schnee", "Schön", "Schreck", "Schütt",
    "Schwan", "Bach", "Bär", "Baum", "Beer", "Berg", "Bier", "Bind", "Blum", "Bock", "Brand",
    "Brenn", "Bruck", "Büch", "Burk", "Kamm", "Kess", "Kirch", "Klaus", "Klett", "Knapp",
    "Koll", "Korn", "Kramm", "Kreu", "Kron", "Kuh", "Küst", "Haber", "Hag", "Hein", "Held",
    "Hell", "Hert", "Hilde", "Hirsch", "Hoch", "Holz", "Horn", "Hütt", "Mahl", "Mark", "Matt",
    "Mehl", "Merk", "Mies", "Moos", "Mohr", "Mühl", "Münz", "Wag", "Wald", "Warn", "Weid",
    "Weiss", "Wend", "Wies", "Wilm", "Wörl", "Gärt", "Geb", "Gerl", "Glas", "Gold", "Gött",
    "Grün", "Gut", "Rabe", "Rahn", "Reich", "Rein", "Ried", "Ros", "Rück", "Fal", "Feld",
    "Fink", "Flad", "Forst", "Frei", "Lamm", "Land", "Lehn", "Lind", "Loh", "Lütt", "Pahl",
    "Pfaff", "Pfeif", "Pohl", "Prell", "Pütz", "Dahl", "Diek", "Dorn", "Dreh", "Dürr", "Eber",
    "Eck", "Eich", "Engel", "Tann", "Thiel", "Trapp", "Tröst", "Nagel", "Nies", "Nord",
    "Acker", "Alt", "Arn", "Zahn", "Zell", "Zorn", "Voss", "Vett", "Jahn", "Jost", "Ober",
    "Ost", "Cord", "Imm", "Uhl", "Öhl", "Yild",
)  # fmt: skip
TAIL_ENDINGS = (
    "", "er", "mann", "meier", "bauer", "berg", "hof", "hoff", "inger", "ke", "ler", "ner",
    "s", "rich", "bach", "feld", "stein", "haus", "brink", "kamp", "horst", "wald", "ert",
    "ling", "mayr",
)  # fmt: skip
DOUBLE_NAME_SHARE = 0.03

AGENDAS = (  # (Doctolib agenda id, name); the last two name columns not linked yet
    ("ag-1", "Anna Schneider"),
    ("ag-2", "Jonas Weber"),
    ("ag-3", "Lea Hoffmann"),
    ("ag-4", "Mehmet Yilmaz"),
    ("ag-5", "Sophie Krüger"),
)
CHAINS = (  # (description, notes with Doctolib sync ids, service code, minutes)
    ("Krankengymnastik", "KG-DL", "KG", 25),
    ("Manuelle Therapie", "MT-DL MT2", "MT", 30),
    ("Osteopathie", "OST-DL", "OST", 60),
    ("Manuelle Lymphdrainage 45", "MLD45-DL", "MLD45", 45),
    ("Wellness-Massage", "", "WM60", 60),
)
MOTIVES = (  # (name, sync_id, weight): by description, by sync id, no chain
    ("Krankengymnastik", None, 30),
    ("Osteopathie", None, 15),
    ("Manuelle Therapie", "MT-DL", 20),
    ("Lymphdrainage", "MLD45-DL", 10),
    ("Erstgespräch", None, 15),
    ("Kontrolle", "UNBEKANNT", 10),
)


# -- small helpers --------------------------------------------------------------


def server_env(database_url: str, secret_key: str) -> dict:
    """The environment of gunicorn and of this process's Django."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        ZIPPER_RATE_LIMIT=RATE_LIMIT,
        BENCH_BASELINE="on",
        DEBUG="off",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    return env


def set_up(database_url: str, env: dict) -> None:
    """This process's Django with the server's settings (`env`), its Redis database
    emptied, and the database dropped, created anew and migrated."""
    os.environ.pop("REDIS_URL", None)
    os.environ.update(env)
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    print(f"database {urlsplit(database_url).path.lstrip('/')}: drop, create, migrate", flush=True)
    recreate_database(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


# -- data -----------------------------------------------------------------------


class Names:
    """Surname, first name and birth date draws (see COMMON_SHARE)."""

    def __init__(self, rng: random.Random):
        from organisations.demo import FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES

        self.rng = rng
        self.common = LAST_NAMES
        self.common_weights = list(
            itertools.accumulate(1 / (rank + 1) ** 0.7 for rank in range(len(LAST_NAMES)))
        )
        self.female, self.male = FEMALE_FIRST_NAMES, MALE_FIRST_NAMES

    def last_name(self) -> str:
        if self.rng.random() < DOUBLE_NAME_SHARE:
            return f"{self._single()}-{self._single()}"
        return self._single()

    def _single(self) -> str:
        if self.rng.random() < COMMON_SHARE:
            return self.rng.choices(self.common, cum_weights=self.common_weights)[0]
        return self.rng.choice(TAIL_STEMS) + self.rng.choice(TAIL_ENDINGS)

    def person(self) -> tuple[str, str, str, date]:
        female = self.rng.random() < 0.55
        first_name = self.rng.choice(self.female if female else self.male)
        birth_date = date(1930, 1, 1) + timedelta(days=self.rng.randrange(92 * 365))
        return ("female" if female else "male"), first_name, self.last_name(), birth_date


@dataclass
class Fixture:
    organisation: object
    raw_token: str
    people: list[tuple[str, str, date]]  # (first name, last name, birth date) per patient
    linked_ids: list[str]
    counts: dict


def seed(*, patients: int, appointments_per_patient: int, rng: random.Random) -> Fixture:
    """One XL organisation: patients (bulk, LINKED_PATIENTS of them linked to Doctolib),
    service chains, calendar columns (three linked to agendas, as many as make
    APPOINTMENTS_PER_COLUMN_DAY), lemniscus appointments and a Doctolib token."""
    from django.db import connection, transaction

    from appointments.models import Appointment, AppointmentStatus, ColumnKind
    from appointments.services import calendar_column_create
    from billing.services import service_chain_create
    from organisations.demo import PLACES, STREETS
    from organisations.models import Plan
    from organisations.services import organisation_create
    from patients.models import Patient
    from tokens.models import TokenKind
    from tokens.services import token_create

    names = Names(rng)
    with transaction.atomic():
        organisation, _owner = organisation_create(
            name="Physiotherapie Benchmark",
            plan=Plan.XL,
            owner_email="bench@lemniscus.test",
            owner_password=f"bench-{rng.getrandbits(64):x}",
        )
        columns = [
            calendar_column_create(
                organisation=organisation,
                name=name,
                kind=ColumnKind.THERAPIST,
                doctolib_agenda_id=agenda_id if index < 3 else None,
            )
            for index, (agenda_id, name) in enumerate(AGENDAS)
        ]
        columns.append(
            calendar_column_create(
                organisation=organisation, name="Raum 1 (Massage)", kind=ColumnKind.ROOM
            )
        )
        days = APPOINTMENT_DAYS_BACK + APPOINTMENT_DAYS_AHEAD + 1
        wanted = math.ceil(patients * appointments_per_patient / days / APPOINTMENTS_PER_COLUMN_DAY)
        columns += [
            calendar_column_create(organisation=organisation, name=f"Behandler/in {number}")
            for number in range(len(columns) + 1, wanted + 1)
        ]
        chains = [
            service_chain_create(
                organisation=organisation,
                description=description,
                notes=notes,
                services=[
                    {
                        "code": code,
                        "name": description,
                        "price": Decimal("40.00"),
                        "vat_rate": Decimal("0.00"),
                        "minutes": minutes,
                    }
                ],
            )
            for description, notes, code, minutes in CHAINS
        ]
        linked_numbers = set(rng.sample(range(patients), min(LINKED_PATIENTS, patients)))
        people, today = [], date.today()
        for start in range(0, patients, BATCH_SIZE):
            batch = []
            for number in range(start, min(start + BATCH_SIZE, patients)):
                salutation, first_name, last_name, birth_date = names.person()
                postal_code, city = rng.choice(PLACES)
                linked = number in linked_numbers
                patient = Patient(
                    organisation=organisation,
                    salutation=salutation,
                    first_name=first_name,
                    last_name=last_name,
                    birth_date=birth_date,
                    street=f"{rng.choice(STREETS)} {rng.randint(1, 140)}",
                    postal_code=postal_code,
                    city=city,
                    sync_to_doctolib=linked,
                    doctolib_patient_id=f"dp-{number}" if linked else None,
                )
                patient.refresh_search_keys()
                batch.append(patient)
                people.append((first_name, last_name, birth_date))
            Patient.objects.bulk_create(batch, batch_size=BATCH_SIZE)
            appointments = [
                Appointment(
                    organisation=organisation,
                    patient_id=patient.pk,
                    calendar_column=rng.choice(columns),
                    service_chain=rng.choice(chains),
                    start=datetime.combine(
                        today
                        + timedelta(
                            days=rng.randint(-APPOINTMENT_DAYS_BACK, APPOINTMENT_DAYS_AHEAD)
                        ),
                        clock_time(rng.randint(8, 17), rng.choice((0, 15, 30, 45))),
                        tzinfo=ZONE,
                    ),
                    duration_minutes=rng.choice((20, 25, 30, 45, 60)),
                    status=AppointmentStatus.DONE,
                )
                for patient in batch
                for _ in range(appointments_per_patient)
            ]
            Appointment.objects.bulk_create(appointments, batch_size=BATCH_SIZE)
        _, raw_token = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    with connection.cursor() as cursor:  # statistics and visibility map, as autovacuum would
        cursor.execute("VACUUM ANALYZE")
    return Fixture(
        organisation=organisation,
        raw_token=raw_token,
        people=people,
        linked_ids=[f"dp-{number}" for number in sorted(linked_numbers)],
        counts={
            "patients": len(people),
            "linked_patients": len(linked_numbers),
            "calendar_columns": len(columns),
            "service_chains": len(chains),
            "lemniscus_appointments": len(people) * appointments_per_patient,
        },
    )


# -- 1. suggestions -------------------------------------------------------------


def suggestion_requests(fixture: Fixture, count: int, rng: random.Random) -> list[dict]:
    """`count` queries with prefixes of 1..4 letters of drawn patients' last names,
    then the hot prefixes HOT_REPEATS times each."""
    queries = []
    for index in range(count):
        first_name, last_name, birth_date = rng.choice(fixture.people)
        params = {"last_name": last_name[: 1 + index % 4]}
        if rng.random() < 0.8:
            params["first_name"] = first_name
        if rng.random() < 0.8:
            params["birth_date"] = birth_date.isoformat()
        queries.append(params)
    for prefix in HOT_PREFIXES:
        for _ in range(HOT_REPEATS):
            first_name, _, birth_date = rng.choice(fixture.people)
            queries.append(
                {"last_name": prefix, "first_name": first_name, "birth_date": str(birth_date)}
            )
    return queries


def measure_suggestions(fixture: Fixture, queries: list[dict]) -> dict:
    from django.db import connection
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext

    from doctolib_bridge.zipper.views import SuggestionsView
    from lemniscus.text import fold
    from patients.models import Patient
    from patients.selectors import patient_suggestions

    path = "/api/zipper/v1/patient-suggestions"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {fixture.raw_token}", "HTTP_HOST": "127.0.0.1"}
    factory, client, view = RequestFactory(), Client(), SuggestionsView.as_view()
    organisation = fixture.organisation

    def through_view(params):
        response = view(factory.get(path, params, **auth))
        response.render()
        return response.status_code

    def through_stack(params):
        return client.get(path, params, **auth).status_code

    def selector_only(params):
        patient_suggestions(
            organisation=organisation,
            last_name=params["last_name"],
            first_name=params.get("first_name", ""),
            birth_date=date.fromisoformat(params["birth_date"]) if "birth_date" in params else None,
        )
        return 200

    def bare_sql(params):
        """The baseline: one prefix lookup on the same index, ten rows, no ranking."""
        prefix = fold(params["last_name"]).replace("\\", "\\\\").replace("%", "\\%")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, first_name, last_name, birth_date, city FROM patients_patient "
                "WHERE organisation_id = %s AND last_name_folded LIKE %s "
                "ORDER BY last_name_folded, id LIMIT 10",
                [organisation.pk, prefix.replace("_", "\\_") + "%"],
            )
            cursor.fetchall()
        return 200

    modes = {
        "view": through_view,
        "stack": through_stack,
        "selector": selector_only,
        "bare_sql": bare_sql,
    }
    timings: dict[str, list[float]] = {}
    cpu_times: dict[str, list[float]] = {}  # this thread's CPU time: no waiting for a core
    statuses: Counter = Counter()
    with CpuMeter() as meter:
        for mode, call in modes.items():
            for params in queries[:20]:  # warm-up: connections, caches, code paths
                call(params)
            timings[mode], cpu_times[mode] = [], []
            for params in queries:
                started, cpu_started = time.perf_counter(), time.thread_time()
                status = call(params)
                cpu_times[mode].append(time.thread_time() - cpu_started)
                timings[mode].append(time.perf_counter() - started)
                statuses[(mode, status)] += 1
    bad = {f"{mode} {status}": n for (mode, status), n in statuses.items() if status != 200}

    view_times = timings["view"]
    by_length = {}
    for length in range(1, 5):
        values = [
            t for t, q in zip(view_times, queries, strict=True) if len(q["last_name"]) == length
        ]
        by_length[str(length)] = summary(values)
    per_prefix: dict[str, list[float]] = {}
    for seconds, params in zip(view_times, queries, strict=True):
        per_prefix.setdefault(fold(params["last_name"]), []).append(seconds)
    slowest = sorted(per_prefix.items(), key=lambda item: -max(item[1]))[:8]
    patients = Patient.objects.filter(organisation=organisation)
    total = patients.count()
    slowest_prefixes = [
        {
            "prefix": prefix,
            "requests": len(values),
            "matches": (matches := patients.filter(last_name_folded__startswith=prefix).count()),
            "share": round(matches / total, 4),
            **summary(values),
        }
        for prefix, values in slowest
    ]

    # EXPLAIN the one-letter prefix with the most matches (the most rows to rank).
    one_letter = {fold(q["last_name"]) for q in queries if len(q["last_name"]) == 1}
    widest = max(
        one_letter, key=lambda prefix: patients.filter(last_name_folded__startswith=prefix).count()
    )
    sample = next(q for q in queries if fold(q["last_name"]) == widest and len(q) == 3)
    with CaptureQueriesContext(connection) as captured:
        selector_only(sample)
    search_sql = next(q["sql"] for q in captured.captured_queries if "last_name_folded" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + search_sql)
        plan = [row[0] for row in cursor.fetchall()]

    return {
        "requests": len(queries),
        "patients": total,
        "modes": {mode: summary(values) for mode, values in timings.items()},
        "cpu_in_this_process": {mode: summary(values) for mode, values in cpu_times.items()},
        "view_by_prefix_length": by_length,
        "slowest_prefixes": slowest_prefixes,
        "non_200": bad,
        "cpu": meter.shares(),
        "explain": {"params": sample, "sql": search_sql, "plan": plan},
    }


def measure_in_process(
    fixture: Fixture, bodies: list[dict], repeats: int, id_prefix: str = "seq"
) -> dict:
    """One request at a time through django.test.Client, no HTTP server: the SQL
    queries of one PUT create, PUT update and baseline insert (outside any
    transaction, as CaptureQueriesContext counts them: BEGIN and COMMIT included),
    and the median time of `repeats` of each (the work per request, without
    concurrency), with this thread's CPU time per request beside it
    (`cpu_in_this_process`: the Python side's work, without the waits for a core on a
    busy machine). The created appointments' Doctolib ids are `{id_prefix}-{n}`: a
    second measurement on the same database needs another prefix."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {fixture.raw_token}"}

    def put(doctolib_id, body):
        return client.put(
            f"/api/zipper/v1/appointments/{doctolib_id}",
            json.dumps(body),
            content_type="application/json",
            **auth,
        ).status_code

    def baseline(_number):
        return client.post(
            "/bench/insert",
            json.dumps({"organisation_id": fixture.organisation.pk}),
            content_type="application/json",
        ).status_code

    calls = {
        "baseline": (baseline, 201),
        "put_create": (lambda n: put(f"{id_prefix}-{n}", bodies[n % len(bodies)]), 201),
        "put_update": (
            lambda n: put(f"{id_prefix}-{n}", {**bodies[n % len(bodies)], "note": f"Änderung {n}"}),
            200,
        ),
    }
    # The first push to an agenda links its column (a transaction, more statements):
    # one to each agenda first, so that the figures are those of every later push.
    for number, (agenda_id, agenda_name) in enumerate(AGENDAS):
        put(
            f"{id_prefix}-agenda-{number}",
            {**bodies[0], "agenda": {"id": agenda_id, "name": agenda_name}},
        )
    results = {}
    with CpuMeter() as meter:
        for name, (call, expected) in calls.items():
            call(repeats)  # warm-up
            with CaptureQueriesContext(connection) as captured:
                status = call(repeats + 1)
            # now: the next request through the Client empties the log it reads from
            query_count = len(captured.captured_queries)
            timings, cpu_times, statuses = [], [], Counter()
            for number in range(repeats):
                started, cpu_started = time.perf_counter(), time.thread_time()
                statuses[call(number)] += 1
                cpu_times.append(time.thread_time() - cpu_started)
                timings.append(time.perf_counter() - started)
            results[name] = {
                "queries": query_count,
                "query_status": status,
                "statuses": {str(k): v for k, v in statuses.items()},
                "failed": sum(n for k, n in statuses.items() if k != expected)
                + (status != expected),
                **summary(timings),
                "cpu_in_this_process": summary(cpu_times),
            }
    results["cpu"] = meter.shares()
    return results


# -- 2. load through gunicorn ---------------------------------------------------


def appointment_bodies(fixture: Fixture, rng: random.Random) -> list[dict]:
    motives, weights = [m[:2] for m in MOTIVES], [m[2] for m in MOTIVES]
    today = date.today()
    bodies = []
    for _ in range(PAYLOAD_VARIANTS):
        agenda_id, agenda_name = rng.choice(AGENDAS)
        name, sync_id = rng.choices(motives, weights)[0]
        start = datetime.combine(
            today - timedelta(days=rng.randint(0, 60)),
            clock_time(rng.randint(8, 17), rng.choice((0, 15, 30, 45))),
            tzinfo=ZONE,
        )
        bodies.append(
            {
                "doctolib_patient_id": rng.choice(fixture.linked_ids),
                "agenda": {"id": agenda_id, "name": agenda_name},
                "visit_motive": {"name": name, "sync_id": sync_id},
                "start": start.isoformat(),
                "duration_minutes": rng.choice((20, 25, 30, 45, 60)),
                "note": rng.choice(("", "Knie links", "Schulter rechts, Kontrolle in 2 Wochen")),
            }
        )
    return bodies


class Gunicorn:
    """`gunicorn lemniscus.wsgi -w WORKERS` on a free loopback port, stopped on exit.
    Its log (workers' output included) is kept in `log_tail` and then removed."""

    def __init__(self, *, workers: int, env: dict):
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bench-gunicorn-"))
        self.log = self.folder / "gunicorn.log"
        binary = Path(sys.executable).parent / "gunicorn"
        self.command = [
            str(binary if binary.exists() else shutil.which("gunicorn")),
            "lemniscus.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{self.port}",
            "--error-logfile",
            str(self.log),
            "--capture-output",
        ]
        self.env = env
        self.process = None
        self.log_tail = ""

    def __enter__(self):
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self._tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gunicorn did not answer /healthz within 60 s:\n{self.log_tail}")

    def _tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_tail = self._tail()
        shutil.rmtree(self.folder)


@dataclass
class ThreadStats:
    latencies: list[float] = field(default_factory=list)
    non_2xx: Counter = field(default_factory=Counter)
    unexpected: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)


def run_slice(*, server: "Gunicorn", seconds: float, concurrency: int, next_request, check) -> dict:
    """`concurrency` threads send `next_request()` -> (method, path, body, headers) for
    `seconds`; a 2xx answer counts only when `check(status, body)` returns None (else
    the returned label is counted as unexpected). Returns the raw measurements."""
    deadline = time.monotonic() + seconds
    stats = [ThreadStats() for _ in range(concurrency)]

    def worker(own: ThreadStats):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while time.monotonic() < deadline:
            method, path, body, headers = next_request()
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                own.errors[type(exc).__name__] += 1
                conn.close()
                continue
            elapsed = time.perf_counter() - started
            if not 200 <= response.status < 300:
                own.non_2xx[response.status] += 1
            elif (label := check(response.status, data)) is not None:
                own.unexpected[label] += 1
            else:
                own.latencies.append(elapsed)
        conn.close()

    threads = [threading.Thread(target=worker, args=(own,)) for own in stats]
    with CpuMeter(server.process.pid) as meter:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    merged = ThreadStats()
    for own in stats:
        merged.latencies += own.latencies
        for name in ("non_2xx", "unexpected", "errors"):
            getattr(merged, name).update(getattr(own, name))
    return {
        "stats": merged,
        "wall": time.perf_counter() - wall0,
        "generator_cpu": time.process_time() - cpu0,
        "cpu": meter.ticks,
    }


def phase_summary(slices: list[dict]) -> dict:
    """One phase over its slices: throughput = checked 2xx answers / wall time."""
    latencies = [t for one in slices for t in one["stats"].latencies]
    wall = sum(one["wall"] for one in slices)
    counters = {
        name: sum((getattr(one["stats"], name) for one in slices), Counter())
        for name in ("non_2xx", "unexpected", "errors")
    }
    return {
        "seconds": round(wall, 2),
        "ok": len(latencies),
        "failed": sum(sum(counter.values()) for counter in counters.values()),
        **{name: {str(k): v for k, v in counter.items()} for name, counter in counters.items()},
        "requests_per_s": round(len(latencies) / wall, 1) if wall else 0.0,
        "requests_per_s_by_round": [
            round(len(one["stats"].latencies) / one["wall"], 1) for one in slices
        ],
        **summary(latencies),
        "cpu": cpu_shares([one["cpu"] for one in slices]),
        "load_generator_cpu_s": round(sum(one["generator_cpu"] for one in slices), 2),
    }


def measure_load(fixture: Fixture, bodies: list[dict], args, env: dict) -> dict:
    """The three phases in `args.rounds` interleaved rounds (baseline, creates, updates,
    baseline, ...), so that anything else the machine does hits them alike."""
    put_headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {fixture.raw_token}",
    }
    baseline_body = json.dumps({"organisation_id": fixture.organisation.pk}).encode()
    baseline_headers = {"Content-Type": "application/json"}
    encoded = [json.dumps(body).encode() for body in bodies]
    numbers = itertools.count()
    created: list[int] = []
    updates = itertools.count()

    def baseline_request():
        return "POST", "/bench/insert", baseline_body, baseline_headers

    def baseline_check(status, data):
        return None if status == 201 else f"status {status}"

    def create_request():
        number = next(numbers)
        path = f"/api/zipper/v1/appointments/bench-{number}"
        return "PUT", path, encoded[number % len(encoded)], put_headers

    def create_check(status, data):
        answer = json.loads(data)
        if status != 201 or answer.get("outcome") != "created":
            return f"{status} {answer.get('outcome')}"
        created.append(int(answer["doctolib_appointment_id"].removeprefix("bench-")))
        return None

    def update_request():
        round_number = next(updates)
        number = created[round_number % len(created)]
        body = {**bodies[number % len(bodies)], "note": f"Nachtrag {round_number}"}
        path = f"/api/zipper/v1/appointments/bench-{number}"
        return "PUT", path, json.dumps(body).encode(), put_headers

    def update_check(status, data):
        outcome = json.loads(data).get("outcome")
        return None if status == 200 and outcome == "updated" else f"{status} {outcome}"

    phases = {
        "baseline": (baseline_request, baseline_check),
        "put_create": (create_request, create_check),
        "put_update": (update_request, update_check),
    }
    slices: dict[str, list[dict]] = {name: [] for name in phases}
    skipped = False
    with Gunicorn(workers=args.workers, env=env) as server:
        for next_request, check in phases.values():
            # warm-up: every worker's DB connection and code paths, and ids to update
            run_slice(
                server=server,
                seconds=args.warmup,
                concurrency=args.concurrency,
                next_request=next_request,
                check=check,
            )
            if check is create_check and not created:
                skipped = True
                break
        for round_number in range(args.rounds * (not skipped)):
            for name, (next_request, check) in phases.items():
                slices[name].append(
                    run_slice(
                        server=server,
                        seconds=args.seconds / args.rounds,
                        concurrency=args.concurrency,
                        next_request=next_request,
                        check=check,
                    )
                )
            print(f"  round {round_number + 1}/{args.rounds} done", flush=True)
    results = {name: phase_summary(phase_slices) for name, phase_slices in slices.items()}
    results["gunicorn"] = " ".join(["gunicorn", *server.command[1:7]])
    if skipped or any(results[name]["failed"] for name in phases):
        results["gunicorn_log_tail"] = server.log_tail
    for name in phases if skipped else ():
        results[name] |= {"failed": 1, "skipped": "no PUT created an appointment in the warm-up"}
    return results


# -- report ---------------------------------------------------------------------


def table(results: dict) -> list[list[str]]:
    suggestions, load, in_process = (
        results["suggestions"],
        results["load"],
        results["in_process"],
    )
    view = suggestions["modes"]["view"]
    bare = suggestions["modes"]["bare_sql"]
    base = load["baseline"]
    rows = [
        ["what", "ours", "baseline", "ratio", "target", "result"],
        [
            f"suggestions p95, in the view, {suggestions['patients']:,} patients (ms; "
            "baseline: one bare SQL prefix lookup)",
            f"{view['p95_ms']:.1f}",
            f"{bare['p95_ms']:.1f}",
            f"{view['p95_ms'] / bare['p95_ms']:.1f}x",
            f"< {SUGGESTION_TARGET_MS:.0f} ms",
            verdict(view["p95_ms"] < SUGGESTION_TARGET_MS, len(suggestions["non_200"])),
        ],
        [
            "suggestions p50 / max, in the view (ms)",
            f"{view['p50_ms']:.1f} / {view['max_ms']:.1f}",
            "-",
            "-",
            "-",
            "",
        ],
    ]
    for length, stats in suggestions["view_by_prefix_length"].items():
        rows.append(
            [
                f"  prefix of {length} letter(s): p50 / p95 / max (ms)",
                f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f} / {stats['max_ms']:.1f}",
                "-",
                "-",
                "-",
                "",
            ]
        )
    for mode in ("stack", "selector"):
        stats = suggestions["modes"][mode]
        rows.append(
            [
                f"suggestions p50 / p95, {mode} (ms)",
                f"{stats['p50_ms']:.1f} / {stats['p95_ms']:.1f}",
                "-",
                "-",
                "-",
                "",
            ]
        )
    for name, label in (("put_create", "creates"), ("put_update", "updates")):
        ours = load[name]
        ratio = ours["requests_per_s"] / base["requests_per_s"] if base["requests_per_s"] else 0
        failures = ours["failed"] + base["failed"]
        rows.append(
            [
                f"appointment PUT {label}, throughput (req/s)",
                f"{ours['requests_per_s']:.0f}",
                f"{base['requests_per_s']:.0f}",
                f"{ratio:.2f}",
                f">= {THROUGHPUT_TARGET_RATIO}",
                verdict(ratio >= THROUGHPUT_TARGET_RATIO, failures),
            ]
        )
        rows.append(
            [
                f"appointment PUT {label}, p50 / p99 (ms)",
                f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f}",
                f"{base['p50_ms']:.1f} / {base['p99_ms']:.1f}",
                f"{ours['p50_ms'] / base['p50_ms']:.1f}x / {ours['p99_ms'] / base['p99_ms']:.1f}x",
                "-",
                "",
            ]
        )
    for name, label in (("put_create", "create"), ("put_update", "update")):
        ours, baseline = in_process[name], in_process["baseline"]
        failures = ours["failed"] + baseline["failed"]
        rows.append(
            [
                f"one PUT {label} at a time, in-process p50 (ms)",
                f"{ours['p50_ms']:.1f}",
                f"{baseline['p50_ms']:.1f}",
                f"{ours['p50_ms'] / baseline['p50_ms']:.1f}x",
                "-",
                verdict(True, failures) if failures else "",
            ]
        )
    create, update = in_process["put_create"]["queries"], in_process["put_update"]["queries"]
    rows.append(
        [
            "SQL statements of one PUT, create / update (+ 1 to Redis)",
            f"{create} / {update}",
            str(in_process["baseline"]["queries"]),
            "-",
            f"<= {PUT_ROUND_TRIP_BOUND} round trips",
            verdict(max(create, update) + REDIS_ROUND_TRIPS <= PUT_ROUND_TRIP_BOUND),
        ]
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--appointments-per-patient", type=int, default=2)
    parser.add_argument("--requests", type=int, default=500, help="suggestion requests")
    parser.add_argument("--seconds", type=float, default=20, help="per load phase, in all")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds of phases")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each phase")
    parser.add_argument("--in-process-repeats", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    os.chdir(ROOT)  # Celery's Django fixup puts the working directory first on sys.path

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    env = server_env(database_url, os.environ.get("SECRET_KEY") or "bench-only-secret-key")
    rng = random.Random(args.seed)
    started = time.monotonic()
    set_up(database_url, env)
    print(f"seeding {args.patients:,} patients", end="", flush=True)
    seed_started = time.monotonic()
    fixture = seed(
        patients=args.patients,
        appointments_per_patient=args.appointments_per_patient,
        rng=rng,
    )
    seed_seconds = time.monotonic() - seed_started
    print(f": {fixture.counts} in {seed_seconds:.0f} s", flush=True)

    print(f"suggestions: {args.requests} requests (+ hot prefixes) x 3 modes", flush=True)
    suggestions = measure_suggestions(fixture, suggestion_requests(fixture, args.requests, rng))
    bodies = appointment_bodies(fixture, rng)
    in_process = measure_in_process(fixture, bodies, repeats=args.in_process_repeats)
    print(
        f"load: {args.seconds:g} s per phase, concurrency {args.concurrency}, "
        f"gunicorn -w {args.workers}",
        flush=True,
    )
    load = measure_load(fixture, bodies, args, env)

    results = {
        "command": " ".join([".venv/bin/python", "bench/zipper.py", *sys.argv[1:]]),
        "date": datetime.now(ZONE).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(database_url),
        "seed_seconds": round(seed_seconds, 1),
        "data": fixture.counts,
        "suggestions": suggestions,
        "in_process": in_process,
        "load": load,
    }
    rows = table(results)
    results["table"] = rows
    results["total_seconds"] = round(time.monotonic() - started, 1)

    from django.db import connections

    connections.close_all()
    if args.drop_after:
        drop_database(database_url)
    results["database_left"] = not args.drop_after

    output = args.output or ROOT / "bench" / "results" / f"zipper-{date.today().isoformat()}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    print()
    print_table(rows)
    print()
    print("slowest suggestion prefixes (in the view):")
    for item in suggestions["slowest_prefixes"]:
        print(
            f"  {item['prefix']!r:8} {item['matches']:>6} matches ({item['share']:.1%}), "
            f"{item['requests']:>3} requests, p50 {item['p50_ms']:.1f} ms, "
            f"max {item['max_ms']:.1f} ms"
        )
    print(f"EXPLAIN ANALYZE, {suggestions['explain']['params']}:")
    for line in suggestions["explain"]["plan"]:
        print(f"  {line}")
    for name in phases_of(load):
        phase = load[name]
        print(
            f"{name}: {phase['ok']} ok, {phase['failed']} failed in {phase['seconds']} s, "
            f"req/s by round {phase['requests_per_s_by_round']}; machine CPU "
            f"{phase['cpu']['machine_busy']:.0%} busy, other processes {phase['cpu']['others']:.0%}"
            f"; load generator {phase['load_generator_cpu_s']} CPU s"
        )
    others = max(
        [suggestions["cpu"]["others"], in_process["cpu"]["others"]]
        + [load[name]["cpu"]["others"] for name in phases_of(load)]
    )
    if others > 0.05:
        print(
            f"NOTE: other processes used up to {others:.0%} of the machine's CPU while "
            "measuring; absolute figures are lower than on an idle machine."
        )
    database = urlsplit(database_url).path.lstrip("/")
    print(f"database {database} {'left in place' if not args.drop_after else 'dropped'}")
    print(f"results: {output} ({results['total_seconds']} s in all)")
    invalid = (
        suggestions["non_200"]
        or any(in_process[name]["failed"] for name in phases_of(load))
        or any(load[name]["failed"] for name in phases_of(load))
    )
    if invalid:
        print("INVALID: some requests failed (see the JSON, gunicorn_log_tail)", file=sys.stderr)
    sys.exit(1 if invalid else 0)


def phases_of(load: dict) -> list[str]:
    return [name for name in ("baseline", "put_create", "put_update") if name in load]


if __name__ == "__main__":
    main()
