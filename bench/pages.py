"""Staff pages benchmark: render times and SQL queries of the busiest pages.

Targets: the week view of a calendar column with 200 appointments renders in under
150 ms in the view (issue 5); so does the record page of a patient with 500
appointments and 50 invoices (and 200 documentation entries, every fifth corrected,
and 30 attachments), in a constant number of queries (issue 11). Also
measured, for comparison: the day view of all columns of that Monday, and the records
list /akten/ with 50 rows (the page size). Issue 13: 20 of the week's appointments
belong to series and every seventh holds a room; moving an appointment by drag and
drop (the calendar's POST through the whole stack, in-process: the server's time)
has p95 < 50 ms, and creating a series of 20 with its conflict check
(POST /api/v1/appointment-series/, two conflicts each, booked anyway) < 300 ms; both
next to bare SQL writing the same rows and history rows.

Data, on a fresh PostgreSQL database it fills itself: one XL organisation with
2,000 patients, five service chains, three calendar columns and a year of
appointments in every column (about 15,000), among them the measured week of the
first column: 200 appointments Monday to Saturday, 07:00 to 19:00 in Berlin, 20 to 60
minutes each (so some overlap and are marked as collisions), a sixth from Doctolib,
a tenth cancelled, a tenth on an issued invoice, a fifth without chain.

Each page is timed in two ways, `--renders` times after a warm-up:
- view: RequestFactory -> the page's view -> rendered HTML (what "in the view"
  means; the logged-in user is loaded before the clock starts, as the middleware
  would have done);
- stack: django.test.Client with a session: the view plus middleware and routing.
Reported: p50, p95 and max in ms, and the SQL queries of one render (each way).
Every response is checked (status 200 and the number of appointments or rows).
Baselines, measured the same way in the same run: the week view of the same column
two years on (no appointments), /akten/ with a search that finds one record, and the
record page of a patient with one appointment past, one ahead and one invoice; the
query counts must be the same as the baseline's (constant, whatever the rows).

Run (from the project root; about a minute):

    .venv/bin/python bench/pages.py
    .venv/bin/python bench/pages.py --renders 50      # a quick look

The database is BENCH_PAGES_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_pages); its name must contain
"bench": it is dropped and created anew (`--drop-after` drops it at the end).
Prints the figures, the result table and writes everything to
bench/results/pages-<date>.json (or `--output`).
"""

import argparse
import os
import random
import re
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

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

TARGET_MS = 150.0
RECORD_APPOINTMENTS = 500  # the record page (issue 11): 400 past, 100 ahead
RECORD_DOCUMENTATION = (200, 30)  # entries (every fifth corrected), attachments
RECORD_INVOICES = 50
HUB_PAGE = 10  # web.views.akten.HUB_PAGE_SIZE: links to ten past and ten next ones
BASELINES = {
    "week_view_200": "no rows",
    "akten_50_rows": "1 row",
    "record_500_appointments": "one of each",
}
ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 3, 2)
EMPTY_MONDAY = date(2028, 3, 6)  # no appointment seeded that far ahead
WEEK_APPOINTMENTS = 200
SERIES_IN_WEEK = 20
MOVE_TARGET_MS = 50.0
SERIES_TARGET_MS = 300.0
SERIES_LENGTH = 20
PATIENTS = 2000
CHAINS = ("Krankengymnastik", "Manuelle Therapie", "Osteopathie", "Lymphdrainage", "Massage")
COLUMNS = ("Anna Schneider", "Jonas Weber", "Raum 2")
OTHER_PER_COLUMN_DAY = 16  # the rest of the year, every column


def local(day: date, minutes: int) -> datetime:
    return datetime.combine(day, clock_time(0), tzinfo=ZONE) + timedelta(minutes=minutes)


def day_slots(count: int, rng: random.Random) -> list[tuple[int, int]]:
    """`count` (start minute, duration) pairs spread over 07:00-19:00."""
    step = 12 * 60 / count
    return [
        (7 * 60 + round(n * step / 5) * 5, rng.choice((20, 30, 30, 45, 60))) for n in range(count)
    ]


def seed(rng: random.Random) -> dict:
    from django.db import transaction

    from appointments.models import (
        Appointment,
        AppointmentSeries,
        AppointmentSource,
        AppointmentStatus,
    )
    from billing.models import Invoice, InvoiceStatus
    from documentation.models import Attachment, DocumentationCorrection, DocumentationEntry
    from organisations.demo import FEMALE_FIRST_NAMES, LAST_NAMES, MALE_FIRST_NAMES
    from organisations.models import Organisation, Plan, Role, User
    from patients.models import Patient
    from tests.factories import CalendarColumnFactory, ServiceChainFactory

    with transaction.atomic():
        organisation = Organisation.objects.create(name="Praxis Benchmark", plan=Plan.XL)
        user = User.objects.create_user(
            "bench@praxis.test", "bench", organisation=organisation, role=Role.ADMIN
        )
        patients = []
        for n in range(PATIENTS):
            patient = Patient(
                organisation=organisation,
                first_name=rng.choice(FEMALE_FIRST_NAMES + MALE_FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365)),
                mobile_phone=f"+49171{n:07d}",
                city="Berlin",
            )
            patient.refresh_search_keys()
            patients.append(patient)
        Patient.objects.bulk_create(patients, batch_size=1000)
        chains = [ServiceChainFactory(organisation=organisation, description=d) for d in CHAINS]
        columns = [CalendarColumnFactory(organisation=organisation, name=n) for n in COLUMNS]

        def appointment(column, start, minutes, n, week: bool) -> Appointment:
            doctolib = week and n % 6 == 1
            return Appointment(
                organisation=organisation,
                patient=rng.choice(patients),
                calendar_column=column,
                service_chain=None if n % 5 == 4 else chains[n % len(chains)],
                start=start.astimezone(UTC),
                duration_minutes=minutes,
                status=AppointmentStatus.CANCELLED if week and n % 10 == 3 else "done",
                source=AppointmentSource.DOCTOLIB if doctolib else AppointmentSource.LEMNISCUS,
                doctolib_appointment_id=f"da-{n}" if doctolib else None,
            )

        rows = []
        per_day = -(-WEEK_APPOINTMENTS // 6)
        for offset in range(6):
            for minute, minutes in day_slots(per_day, rng):
                if len(rows) < WEEK_APPOINTMENTS:
                    rows.append(
                        appointment(
                            columns[0], local(MONDAY + timedelta(offset), minute), minutes,
                            len(rows), week=True,
                        )
                    )  # fmt: skip
        week = Appointment.objects.bulk_create(rows)
        # Issue 13: 20 of the week's appointments belong to series, every seventh holds
        # the pool as its room (the week view marks both).
        pool = CalendarColumnFactory(organisation=organisation, name="Bewegungsbad", kind="room")
        for row in week[5 : 5 + 10 * SERIES_IN_WEEK : 10]:
            row.series = AppointmentSeries.objects.create(
                organisation=organisation,
                patient=row.patient,
                calendar_column=row.calendar_column,
                first_start=row.start,
                duration_minutes=row.duration_minutes,
                count=6,
            )
        for row in week[::7]:
            row.room = pool
        Appointment.objects.bulk_update(week, ["series", "room"])
        invoices = Invoice.objects.bulk_create(
            Invoice(
                organisation=organisation,
                patient=row.patient,
                status=InvoiceStatus.ISSUED,
                number=f"2026-{n + 1:04d}",
            )
            for n, row in enumerate(week[::10])
        )
        for row, invoice in zip(week[::10], invoices, strict=True):
            row.invoice = invoice
        Appointment.objects.bulk_update(week[::10], ["invoice"])

        others = []
        for offset in range(-182, 183):
            day = MONDAY + timedelta(days=offset)
            for index, column in enumerate(columns):
                if (index == 0 and 0 <= offset < 7) or day.weekday() == 6:
                    continue
                for minute, minutes in day_slots(OTHER_PER_COLUMN_DAY, rng):
                    others.append(appointment(column, local(day, minute), minutes, 0, False))
        Appointment.objects.bulk_create(others, batch_size=2000)

        # The record page (issue 11): one record with 500 appointments (400 past, 100
        # ahead) and 50 invoices, next to one with one of each kind (so both pages run
        # the same queries). Not in the measured week's column.
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

        def record(
            last_name: str,
            appointments: int,
            ahead: int,
            invoices: int,
            documented: int,
            attached: int,
        ) -> Patient:
            patient = Patient(organisation=organisation, first_name="Felix", last_name=last_name)
            patient.refresh_search_keys()
            patient.save()
            Appointment.objects.bulk_create(
                Appointment(
                    organisation=organisation,
                    patient=patient,
                    calendar_column=columns[1 + n % (len(columns) - 1)],
                    service_chain=chains[n % len(chains)],
                    start=now
                    + timedelta(days=n - (appointments - ahead) + (n >= appointments - ahead)),
                    duration_minutes=30,
                    status="done" if n < appointments - ahead else "planned",
                )
                for n in range(appointments)
            )
            Invoice.objects.bulk_create(
                Invoice(
                    organisation=organisation,
                    patient=patient,
                    status=InvoiceStatus.ISSUED,
                    number=f"2025-{last_name[:3]}{n + 1:04d}",
                    total=65,
                )
                for n in range(invoices)
            )
            entries = DocumentationEntry.objects.bulk_create(
                DocumentationEntry(
                    organisation=organisation,
                    patient=patient,
                    text="Befund: LWS eingeschränkt, Mobilisation und Kräftigung. " * 3,
                    author_label="Anna Schneider <anna@bench.test>",
                    created_at=now - timedelta(days=n + 1),
                    finalises_at=now - timedelta(days=n),
                    finalised_at=now - timedelta(days=n),
                )
                for n in range(documented)
            )
            DocumentationCorrection.objects.bulk_create(
                DocumentationCorrection(entry=entry, text="Nachtrag", author_label="Anna")
                for entry in entries[::5]
            )
            Attachment.objects.bulk_create(
                Attachment(
                    organisation=organisation,
                    patient=patient,
                    file=f"anhaenge/bench/{n}",
                    name=f"Befund {n}.pdf",
                    content_type="application/pdf",
                    size=120_000,
                    sha256="0" * 64,
                    uploaded_by_label="Anna",
                )
                for n in range(attached)
            )
            return patient

        busy = record(
            "Vielbesucht", RECORD_APPOINTMENTS, 100, RECORD_INVOICES, *RECORD_DOCUMENTATION
        )
        quiet = record("Neu", 2, 1, 1, 1, 1)
        # Moving and series (issue 13) happen in a column of their own, two years on.
        planning = CalendarColumnFactory(organisation=organisation, name="Planung")
    return {
        "organisation": organisation,
        "user": user,
        "planning": planning,
        "patient": patients[0],
        "chain": chains[0],
        "column": columns[0],
        "busy_record": busy,
        "quiet_record": quiet,
        "counts": {
            "patients": PATIENTS,
            "columns": len(columns),
            "appointments": len(week) + len(others),
            "week_appointments": len(week),
            "week_in_series": SERIES_IN_WEEK,
            "invoiced_in_week": len(invoices),
        },
    }


def pages(fixture: dict) -> dict:
    from web.views.akten import AktenListView, AkteView
    from web.views.kalender import KalenderView

    def record_view(request):
        """The record page's view with its URL argument, measured like the others."""
        patient_id = uuid.UUID(request.path.rstrip("/").rsplit("/", 1)[1])
        return AkteView.as_view()(request, patient_id=patient_id)

    record_view.as_view = lambda: record_view

    column = fixture["column"].public_id
    appointment_blocks = re.compile(r'<li class="kal-appt')
    record_rows = re.compile(r'<td><a href="/akten/[0-9a-f-]{36}/">')
    hub_links = re.compile(r'href="/termine/[0-9a-f-]{36}/"')
    return {
        "week_view_200": (
            KalenderView,
            f"/kalender/?datum={MONDAY}&spalte={column}&ansicht=woche",
            appointment_blocks,
            WEEK_APPOINTMENTS,
        ),
        "day_view_all_columns": (
            KalenderView,
            f"/kalender/?datum={MONDAY}",
            appointment_blocks,
            None,
        ),
        "akten_50_rows": (AktenListView, "/akten/", record_rows, 50),
        "record_500_appointments": (
            record_view,
            f"/akten/{fixture['busy_record'].public_id}/",
            hub_links,
            2 * HUB_PAGE,
        ),
        # Baselines: the same pages showing (almost) nothing: a week two years on, a
        # search that finds one record by its phone number (with none, the page skips
        # a query), so the cost of the rows and the query count show.
        "week_view_empty": (
            KalenderView,
            f"/kalender/?datum={EMPTY_MONDAY}&spalte={column}&ansicht=woche",
            appointment_blocks,
            0,
        ),
        "akten_one_row": (AktenListView, "/akten/?q=1710000007", record_rows, 1),
        "record_one_each": (
            record_view,
            f"/akten/{fixture['quiet_record'].public_id}/",
            hub_links,
            2,
        ),
    }


class QueryCounter:
    """Counts the SQL statements run inside it (an execute wrapper: unlike the query
    log, the test client's request_started does not reset it)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(fixture: dict, renders: int) -> dict:
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.test import Client, RequestFactory

    from organisations.models import User

    factory = RequestFactory(HTTP_HOST="127.0.0.1")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(fixture["user"])
    user_pk = fixture["user"].pk

    def through_view(view, path):
        request = factory.get(path)
        request.user = User.objects.get(pk=user_pk)  # the middleware's part, not timed
        request.session = SessionStore()
        request._messages = FallbackStorage(request)
        counter = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = view(request)
            response.render()
        return time.perf_counter() - started, response, counter.count

    def through_stack(view, path):
        counter = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            response = client.get(path)
        return time.perf_counter() - started, response, counter.count

    results = {}
    for name, (view_class, path, marker, expected) in pages(fixture).items():
        view = view_class.as_view()
        entry = {"path": path}
        for mode, call in (("view", through_view), ("stack", through_stack)):
            for _ in range(10):  # warm-up
                call(view, path)
            timings, queries, failures, shown = [], set(), 0, set()
            for _ in range(renders):
                elapsed, response, count = call(view, path)
                timings.append(elapsed)
                queries.add(count)
                rows = len(marker.findall(response.content.decode()))
                shown.add(rows)
                failures += response.status_code != 200 or expected not in (None, rows)
            entry[mode] = {
                "queries": sorted(queries),
                "shown": sorted(shown),
                "failed": failures,
                **summary(timings),
            }
        results[name] = entry
    return results


def _columns(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
        "ORDER BY ordinal_position",
        [table],
    )
    return [row[0] for row in cursor.fetchall()]


def _copy_sql(cursor, *, overrides: dict[str, str], rows: str) -> tuple[str, str]:
    """Bare SQL that writes appointment rows like an existing one (with `overrides`),
    and their history rows: the baseline's two statements."""
    table, history = "appointments_appointment", "appointments_historicalappointment"
    columns = [c for c in _columns(cursor, table) if c != "id"]
    values = ", ".join(overrides.get(c, f"a.{c}") for c in columns)
    insert = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} a, {rows} "
        "WHERE a.id = %(model)s RETURNING id"
    )
    kept = [c for c in _columns(cursor, history) if not c.startswith("history_")]
    copy = (
        f"INSERT INTO {history} ({', '.join(kept)}, history_date, history_type, history_user_id) "
        f"SELECT {', '.join(kept)}, now(), %(type)s, %(user)s FROM {table} WHERE id = ANY(%(ids)s)"
    )
    return insert, copy


def measure_planning(fixture: dict, rounds: int) -> dict:
    """Issue 13: moving an appointment by drag and drop (the calendar's POST, through
    the whole Django stack in-process: the server's time) and creating a series of 20
    with its conflict check (POST /api/v1/appointment-series/), each next to bare SQL
    writing the same rows and history rows."""
    from django.db import connection, transaction
    from django.test import Client

    from appointments.models import Appointment
    from appointments.services import appointment_create

    organisation, user = fixture["organisation"], fixture["user"]
    planning, patient, chain = fixture["planning"], fixture["patient"], fixture["chain"]
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    day = date(2028, 6, 5)  # a Monday, nothing seeded then
    moved = appointment_create(
        organisation=organisation,
        actor=user,
        patient_id=patient.public_id,
        calendar_column_id=planning.public_id,
        start=local(day, 9 * 60),
        duration_minutes=30,
    )
    Appointment.objects.bulk_create(  # neighbours for the overlap check to look at
        Appointment(
            organisation=organisation,
            patient=patient,
            calendar_column=planning,
            start=local(day, 7 * 60 + 45 * n),
            duration_minutes=20,
        )
        for n in range(16)
    )
    url = f"/termine/{moved.public_id}/verschieben/"
    results = {}

    def timed(call, warmup: int = 10) -> dict:
        timings, queries, failures = [], set(), 0
        for n in range(warmup + rounds):
            counter = QueryCounter()
            started = time.perf_counter()
            with connection.execute_wrapper(counter):
                ok = call(n)
            elapsed = time.perf_counter() - started
            if n >= warmup:
                timings.append(elapsed)
                queries.add(counter.count)
                failures += not ok
        return {"queries": sorted(queries), "failed": failures, **summary(timings)}

    def drag(n: int) -> bool:
        minute = 7 * 60 + (n % 40) * 15
        response = client.post(
            url,
            {
                "start": f"{day}T{minute // 60:02d}:{minute % 60:02d}",
                "duration_minutes": "30",
                "calendar_column": str(planning.public_id),
            },
        )
        return response.status_code == 200 and "undo" in response.json()

    results["move"] = timed(drag)
    with connection.cursor() as cursor:
        _, history = _copy_sql(cursor, overrides={}, rows="(SELECT 1) g")

        def bare_move(n: int) -> bool:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE appointments_appointment SET start = %s, updated_at = now() "
                    "WHERE id = %s",
                    [local(day, 7 * 60 + (n % 40) * 15), moved.pk],
                )
                cursor.execute(history, {"type": "~", "user": user.pk, "ids": [moved.pk]})
                return cursor.rowcount == 1

        results["move_bare_sql"] = timed(bare_move)

    first = date(2029, 1, 1)  # a Monday; each round in a window of its own, 5 weeks on

    def window(n: int) -> date:
        return first + timedelta(days=35 * n)

    Appointment.objects.bulk_create(  # two conflicts in every round's window
        Appointment(
            organisation=organisation,
            patient=patient,
            calendar_column=planning,
            start=local(window(n) + timedelta(days=offset), 8 * 60 + 15),
            duration_minutes=30,
        )
        for n in range(2 * (10 + rounds))
        for offset in (2, 9)
    )

    def series(n: int) -> bool:
        response = client.post(
            "/api/v1/appointment-series/",
            {
                "patient_id": str(patient.public_id),
                "calendar_column_id": str(planning.public_id),
                "service_chain_id": str(chain.public_id),
                "start": local(window(n), 8 * 60).isoformat(),
                "duration_minutes": 30,
                "interval_days": 1,
                "count": SERIES_LENGTH,
                "on_conflict": "book",
            },
            content_type="application/json",
        )
        return response.status_code == 201 and len(response.json()["appointment_ids"]) == 20

    results["series"] = timed(series, warmup=5)
    template = Appointment.objects.filter(calendar_column=planning).order_by("id").first()
    with connection.cursor() as cursor:
        insert, history = _copy_sql(
            cursor,
            overrides={
                "public_id": "gen_random_uuid()",
                "start": "%(start)s::timestamptz + g * interval '1 day'",
                "created_at": "now()",
                "updated_at": "now()",
            },
            rows=f"generate_series(0, {SERIES_LENGTH - 1}) g",
        )
        offset = 10 + rounds  # windows after the API's

        def bare_series(n: int) -> bool:
            start = local(window(offset + n), 8 * 60)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, start, duration_minutes FROM appointments_appointment "
                    "WHERE organisation_id = %s AND calendar_column_id = %s AND status <> "
                    "'cancelled' AND start < %s AND start > %s",
                    [
                        organisation.pk,
                        planning.pk,
                        start + timedelta(days=SERIES_LENGTH + 1),
                        start - timedelta(days=1),
                    ],
                )
                cursor.fetchall()
                cursor.execute(insert, {"model": template.pk, "start": start})
                ids = [row[0] for row in cursor.fetchall()]
                cursor.execute(history, {"type": "+", "user": user.pk, "ids": ids})
                return len(ids) == SERIES_LENGTH

        results["series_bare_sql"] = timed(bare_series, warmup=5)
    return results


def planning_table(planning: dict) -> list[list[str]]:
    rows = []
    for name, label, target in (
        ("move", "moving an appointment by drag and drop: server p95 (ms)", MOVE_TARGET_MS),
        ("series", "series of 20 with its conflict check: p95 (ms)", SERIES_TARGET_MS),
    ):
        ours, base = planning[name], planning[f"{name}_bare_sql"]
        failures = ours["failed"] + base["failed"]
        rows.append(
            [
                f"{label}; baseline: bare SQL writing the same rows and history rows",
                f"{ours['p95_ms']:.1f}",
                f"{base['p95_ms']:.1f}",
                f"{ours['p95_ms'] / base['p95_ms']:.1f}x",
                f"< {target:.0f} ms",
                verdict(ours["p95_ms"] < target, failures),
            ]
        )
        rows.append(
            [
                f"  p50 / SQL statements per {name}",
                f"{ours['p50_ms']:.1f} / {'/'.join(map(str, ours['queries']))}",
                f"{base['p50_ms']:.1f} / {'/'.join(map(str, base['queries']))}",
                "-",
                "-",
                "",
            ]
        )
    return rows


def print_details(results: dict) -> None:
    rows = [["page", "mode", "shown", "queries", "p50 ms", "p95 ms", "max ms", "failed"]]
    for name, entry in results["pages"].items():
        for mode in ("view", "stack"):
            m = entry[mode]
            rows.append(
                [name, mode, "/".join(map(str, m["shown"])), "/".join(map(str, m["queries"])),
                 f"{m['p50_ms']:.1f}",
                 f"{m['p95_ms']:.1f}", f"{m['max_ms']:.1f}", str(m["failed"])]
            )  # fmt: skip
    print_table(rows)


def table(pages: dict) -> list[list[str]]:
    """Each page next to the same page showing (almost) no rows: p95 in the view, and the SQL
    queries of one render (constant: the same as with no rows)."""
    rows = [TABLE_HEADER]
    for name, baseline, label, target in (
        ("week_view_200", "week_view_empty", "week view, 200 appointments", TARGET_MS),
        ("akten_50_rows", "akten_one_row", "Akten list, 50 of 2,000 records", None),
        (
            "record_500_appointments",
            "record_one_each",
            "record page, 500 appointments, 50 invoices, 200 notes",
            TARGET_MS,
        ),
    ):
        ours, base = pages[name]["view"], pages[baseline]["view"]
        failures = ours["failed"] + base["failed"]
        rows.append(
            [
                f"{label}: p95 in the view (ms; baseline: {BASELINES[name]})",
                f"{ours['p95_ms']:.1f}",
                f"{base['p95_ms']:.1f}",
                f"{ours['p95_ms'] / base['p95_ms']:.1f}x",
                f"< {target:.0f} ms" if target else "-",
                verdict(ours["p95_ms"] < target, failures)
                if target
                else verdict(True, failures)
                if failures
                else "",
            ]
        )
        constant = ours["queries"] == base["queries"] and len(ours["queries"]) == 1
        rows.append(
            [
                f"{label}: SQL queries per render",
                "/".join(map(str, ours["queries"])),
                "/".join(map(str, base["queries"])),
                "-",
                "constant",
                verdict(constant, failures),
            ]
        )
    day = pages["day_view_all_columns"]["view"]
    rows.append(
        [
            "day view of all columns: p95 in the view (ms) / queries",
            f"{day['p95_ms']:.1f} / {'/'.join(map(str, day['queries']))}",
            "-",
            "-",
            "-",
            verdict(True, day["failed"]) if day["failed"] else "",
        ]
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--renders", type=int, default=200, help="timed renders per page and mode")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    os.chdir(ROOT)

    url = database_url("BENCH_PAGES_DATABASE_URL", "lemniscus_bench_pages")
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        DEBUG="off",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
    )
    print(f"database {url.rsplit('/', 1)[1]}: drop, create, migrate", flush=True)
    recreate_database(url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    fixture = seed(random.Random(args.seed))
    seed_seconds = time.monotonic() - started
    print(f"seeded {fixture['counts']} in {seed_seconds:.0f} s", flush=True)
    results = {
        "command": " ".join([".venv/bin/python", "bench/pages.py", *sys.argv[1:]]),
        "date": datetime.now(ZONE).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(url),
        "data": fixture["counts"],
        "seed_seconds": round(seed_seconds, 1),
        "pages": measure(fixture, args.renders),
        "planning": measure_planning(fixture, args.renders),
    }
    results["table"] = table(results["pages"]) + planning_table(results["planning"])
    print_details(results)
    print()
    print_table(results["table"])
    output = write_results("pages", results, args.output)
    print(f"written to {output}")
    if args.drop_after:
        from django.db import connections

        connections.close_all()
        drop_database(url)


if __name__ == "__main__":
    main()
