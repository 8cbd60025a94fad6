"""Reliability benchmark: the robustness figures of issue 6, each counted, never estimated.

What it measures, on a fresh PostgreSQL database it fills itself:

1. Fuzzing. The OpenAPI schema is loaded from the WSGI app (as tests/fuzz/ does) and
   every operation of the Zipper API (/api/zipper/v1/...) and of the staff API
   (/api/v1/...) gets up to `--examples` generated requests per generation mode
   (schema-conforming and schema-violating), and as many again with the ids of
   existing objects in its path where it has one, driven by Hypothesis outside pytest
   (`operation.as_strategy()` + `@given`, derandomized: a rerun sends the same
   requests; an operation with few possible requests gets fewer). The callers are an
   organisation's Doctolib token and an organisation admin's personal API token; the
   organisation holds one object of each kind (a patient linked as Doctolib patient
   "0", a column, a service chain "0", appointments, a draft invoice, an export, a
   Doctolib appointment "0", a staged transfer). Counted: requests sent per API,
   answers 5xx (target 0), and error answers (4xx/5xx) that are not
   application/problem+json with `code`, `detail` and the HTTP `status` (target 0). Up
   to 20 failures are kept with method, path, status, request body, an excerpt of the
   answer and, for a 500, the exception and the project line it came from.
2. Cross-organisation attempts. Two organisations A and B, each with every kind of
   object: records unlinked, linked and only marked for Doctolib, calendar columns,
   service chains, lemniscus and Doctolib appointments, invoices (draft, issued,
   cancelled with its Storno document), a staged transfer, personal API tokens and
   the Doctolib token, sync-log, change-feed and idempotency entries, export jobs (one
   that removed a handed-over appointment); A's names all contain a marker word.
   With B's credentials (Doctolib token on the Zipper API; personal API token and
   logged-in session on the staff API; session on the staff pages and the Django
   admin) every route that takes an id is tried with A's ids, with every method the
   route allows and a body that succeeds for the owner; also B's own objects with A's
   ids in the body (an appointment of B for A's record, ...), lists and searches for
   A's marker, and writes in B's own Doctolib id space that reuse A's Doctolib ids.
   The routes come from the URL resolver: a route (and method) with an id that no
   attempt reached is reported. A leak is: a 2xx/3xx answer to an attempt on A's
   object (a redirect to a login page is a refusal), any of A's markers (marker word,
   ids, e-mail, orga id, token prefixes) in an answer when B had not sent it itself,
   or any change to A's rows (every row of every table that belongs to A, compared
   before and after). Target 0 leaks. The control: the same requests with A's own
   credentials (each in a transaction rolled back afterwards) succeed, and A's lists
   and searches do show A's data, so the attempts were meaningful.
3. Concurrent identical pushes, through gunicorn (sync workers, one per concurrent
   request) on PostgreSQL: `--rounds` rounds each of `--concurrency` identical
   requests released together by a barrier, for PUT /api/zipper/v1/appointments/{id}
   (a new Doctolib appointment and agenda each round), POST /api/zipper/v1/patients
   (take-in of a new Doctolib patient) and POST /api/zipper/v1/links (a new link);
   then the same with an `Idempotency-Key` (one key per round). Counted: requests,
   answers by status, duplicates (appointments per Doctolib id, calendar columns per
   agenda, records per Doctolib patient or per taken-in name, beyond one), 5xx,
   rounds not answered "once" (one 201, the others 200), calls missing in the sync
   log, and for the keyed rounds repeats whose status or body differ from the first
   answer's.

Run (from the project root; about 4 minutes on 2 cores: fuzzing 2, the pushes 1.5):

    .venv/bin/python bench/reliability.py
    .venv/bin/python bench/reliability.py --examples 5 --rounds 5   # a quick look
    .venv/bin/python bench/reliability.py --parts cross              # one part

The database is BENCH_RELIABILITY_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_reliability); its name must
contain "bench": it is dropped and created anew, and left in place afterwards
(`--drop-after` drops it). Redis is not used; the Zipper rate limit is raised so
that no 429 is answered. Prints one table and writes everything to
bench/results/reliability-<date>.json. A missed target is printed as MISSED; the
exit status is 1 only when the run itself could not be done.
"""

import argparse
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import common  # noqa: E402
from bench.common import verdict  # noqa: E402

RATE_LIMIT = "100000000/min"  # no 429 during the benchmark
ZONE = ZoneInfo("Europe/Berlin")
EXAMPLES_KEPT = 20
EXCERPT = 300
ZIPPER, STAFF = "/api/zipper/v1", "/api/v1"
PROJECT_APPS = ("organisations", "patients", "appointments", "billing", "tokens", "doctolib_bridge")
LOGIN_PATHS = ("/anmelden/", "/admin/login/")
# Routes with a parameter that is not an organisation's object id, and why.
NOT_AN_ID = {
    "passwort/neu/<uidb64>/<token>/": "password reset link: a signed token, not an object id",
    "absage/<str:token>/": "the patient's cancellation link: a signed token by design",
}
NOT_AN_ID_GROUPS = ("app_label", "url")  # the admin's app index and catch-all
KIND_ORDER = ("list", "object", "own-space")
# Set one at a time into each query and path parameter of every fuzzed operation (the
# rest generated): values random generation seldom hits — NUL, digits that str.isdigit
# takes but int() does not, or that int() reads as other digits, huge and long values.
EDGE_VALUES = ("\x00", "a\x00", "²", "١", "-1", "9" * 30, " ", "x" * 2000, "'\"\\%_*")
KINDS = ("appointment_put", "patient_take_in", "link")  # the concurrent pushes
DUPLICATE_KEYS = ("appointments", "calendar_columns", "patients", "links")


# -- small helpers --------------------------------------------------------------


def excerpt(content: bytes | str, size: int = EXCERPT) -> str:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    return text[:size]


class ServerErrors(logging.Handler):
    """Keeps the last line of each server error's traceback (django.request logs a 500
    with its exception), so a 500 in the report says where it came from."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.last: str | None = None

    def emit(self, record):
        if record.exc_info:
            import traceback

            frames = traceback.extract_tb(record.exc_info[2])
            where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
            own = [f for f in frames if str(ROOT) in f.filename and "/.venv/" not in f.filename]
            if own:
                where = f"{Path(own[-1].filename).relative_to(ROOT)}:{own[-1].lineno} ({where})"
            self.last = f"{record.exc_info[0].__name__}: {record.exc_info[1]} at {where}"

    def take(self) -> str | None:
        last, self.last = self.last, None
        return last


def problem_defect(status: int, content_type: str, content: bytes) -> str | None:
    """Why an error answer is not problem+json with code, detail and status (or None)."""
    if status < 400:
        return None
    if not content_type.startswith("application/problem+json"):
        return f"content type {content_type or 'missing'}"
    try:
        body = json.loads(content)
    except ValueError:
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body is not a JSON object"
    missing = [key for key in ("code", "detail") if not body.get(key)]
    if missing:
        return f"no {' and no '.join(missing)}"
    if body.get("status") != status:
        return f"status {body.get('status')!r} in the body"
    return None


@contextmanager
def rolled_back():
    """Requests inside run in one transaction that is rolled back: the owner's control
    requests leave no trace. The WSGI handler must not close the connection meanwhile
    (as Django's test runner does)."""
    from django.core import signals
    from django.db import close_old_connections, transaction

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class Caller:
    """One set of credentials, in-process through the whole stack (django.test.Client
    with middleware and routing; a 500 is answered, not raised)."""

    def __init__(self, *, bearer: str | None = None, user=None):
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
        self.extra = {"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}
        if user is not None:
            self.client.force_login(user)

    def send(self, method: str, path: str, body=None, *, form: bool = False, **headers):
        call = getattr(self.client, method.lower())
        extra = {**self.extra, **headers}
        if method in ("GET", "DELETE") and body is None:
            return call(path, **extra)
        if form:
            return call(path, body or {}, **extra)
        return call(path, json.dumps(body or {}), content_type="application/json", **extra)


def ok(response, *expected: int) -> dict:
    if response.status_code not in expected:
        raise RuntimeError(
            f"setup: {response.request['REQUEST_METHOD']} {response.request['PATH_INFO']} "
            f"answered {response.status_code}: {excerpt(response.content)}"
        )
    return response.json() if response.get("Content-Type", "").find("json") >= 0 else {}


# -- 1. fuzzing -----------------------------------------------------------------


@dataclass
class FuzzTally:
    sent: Counter = field(default_factory=Counter)  # per API
    server_errors: Counter = field(default_factory=Counter)
    error_answers: Counter = field(default_factory=Counter)
    not_problem: Counter = field(default_factory=Counter)
    statuses: dict = field(default_factory=dict)  # API -> Counter of statuses
    per_operation: dict = field(default_factory=dict)
    not_sent: list = field(default_factory=list)  # the client could not send the case
    generation_errors: list = field(default_factory=list)
    examples: list = field(default_factory=list)


def fuzz_organisation() -> tuple[dict, dict]:
    """The fuzzed organisation: its Doctolib token, an admin's personal API token, and
    one object of each kind, whose ids are given to half of the fuzzed requests (so
    their bodies and queries reach an existing object, not just the 404)."""
    from organisations.models import Plan
    from organisations.services import organisation_create
    from tokens.models import TokenKind
    from tokens.services import token_create

    organisation, admin = organisation_create(
        name="Praxis Fuzz",
        plan=Plan.XL,
        owner_email="fuzz@bench.test",
        owner_password="fuzz-x7Q!2p",
    )
    tokens = {
        "zipper": token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1],
        "staff": token_create(organisation=organisation, kind=TokenKind.API, user=admin)[1],
    }
    plugin, staff = Caller(bearer=tokens["zipper"]), Caller(bearer=tokens["staff"])

    def post(path, body, status=201):
        return ok(staff.send("POST", STAFF + path, body), status)

    ok(
        plugin.send("POST", ZIPPER + "/patients", {"doctolib_patient_id": "0", "last_name": "0"}),
        201,
    )
    patient = post("/patients/", {"last_name": "Eins", "sync_to_doctolib": True})["id"]
    column = post("/calendar-columns/", {"name": "0", "doctolib_agenda_id": "0"})["id"]
    service = {"code": "0", "name": "0", "price": "1.00", "vat_rate": "0.00"}
    chain = post("/service-chains/", {"description": "0", "services": [service]})["id"]
    yesterday = datetime.combine(date.today() - timedelta(days=1), clock_time(9), tzinfo=ZONE)
    visit = {
        "patient_id": patient,
        "calendar_column_id": column,
        "service_chain_id": chain,
        "duration_minutes": 30,
        "status": "done",
    }
    appointments = [
        post("/appointments/", {**visit, "start": (yesterday + timedelta(hours=h)).isoformat()})[
            "id"
        ]
        for h in (0, 1)
    ]
    invoice = post("/invoices/", {"patient_id": patient, "appointment_ids": appointments[1:]})["id"]
    export = post("/exports/", {}, 202)["id"]
    push = {
        "doctolib_patient_id": "0",
        "agenda": {"id": "0", "name": "0"},
        "visit_motive": {"name": "0", "sync_id": None},
        "start": yesterday.isoformat(),
        "duration_minutes": 30,
        "note": "",
    }
    ok(plugin.send("PUT", ZIPPER + "/appointments/0", push), 201)
    transfer = ok(
        plugin.send("POST", ZIPPER + "/transfers", {**push, "doctolib_appointment_id": "1"}), 201
    )["transfer_id"]
    ids = {
        "patients": patient,
        "patient_id": patient,
        "invoice_id": invoice,
        "calendar-columns": column,
        "service-chains": chain,
        "appointments": appointments[0],
        "invoices": invoice,
        "exports": export,
        "doctolib_patient_id": "0",
        "doctolib_appointment_id": "0",
        "transfer_id": transfer,
    }
    return tokens, ids


def existing_ids(path: str, ids: dict) -> dict:
    """Path parameters of an operation set to the fuzzed organisation's objects; empty
    when one of them names a kind the fuzzed organisation has none of (attachments,
    billing runs, ...): such an operation is fuzzed with generated ids only."""
    found = {
        name: ids.get(path.split("/")[3]) if name == "id" else ids.get(name)
        for name in re.findall(r"{(\w+)}", path)
    }
    return found if None not in found.values() else {}


def fuzz(examples: int, errors: ServerErrors, application) -> dict:
    import schemathesis
    from hypothesis import HealthCheck, Phase, settings
    from schemathesis.core.result import Ok
    from schemathesis.generation import GenerationMode

    tokens, ids = fuzz_organisation()
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    tally = FuzzTally()
    fuzz_settings = settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    edge_settings = settings(fuzz_settings, max_examples=1)
    started = time.monotonic()
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            tally.generation_errors.append({"operation": "?", "error": str(result.err())[:EXCERPT]})
            continue
        operation = result.ok()
        api = "zipper" if operation.path.startswith(ZIPPER + "/") else "staff"
        if not operation.path.startswith((ZIPPER + "/", STAFF + "/")):
            continue
        label = f"{operation.method.upper()} {operation.path}"
        headers = {"Authorization": f"Bearer {tokens[api]}"}
        counts = tally.per_operation.setdefault(label, Counter())
        fixed = existing_ids(operation.path, ids)
        for mode in GenerationMode:
            for path_parameters in (None, fixed) if fixed else (None,):
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                send = fuzz_test(
                    strategy, fuzz_settings, tally, api, label, counts, headers, errors
                )
                run_fuzz_test(send, tally, label, mode=str(mode), existing_ids=bool(fixed))
        for location, parameters in (
            ("query", operation.query),
            ("path", operation.path_parameters),
        ):
            for parameter in parameters:
                for value in EDGE_VALUES:
                    fixed_values = {"query": {}, "path": dict(fixed)}
                    fixed_values[location][parameter.name] = value
                    strategy = operation.as_strategy(
                        query=fixed_values["query"], path_parameters=fixed_values["path"] or None
                    )
                    send = fuzz_test(
                        strategy, edge_settings, tally, api, label, counts, headers, errors
                    )
                    run_fuzz_test(send, tally, label, edge=f"{parameter.name}={value[:20]!r}")
    return {
        "examples_per_run": examples,
        "runs": "per operation: each generation mode (positive, negative), and for an "
        "operation with an id in its path each mode once more with the id of an existing "
        "object; then one request per query or path parameter and edge value",
        "edge_values": EDGE_VALUES,
        "existing_ids": ids,
        "seconds": round(time.monotonic() - started, 1),
        "sent": dict(tally.sent),
        "server_errors": dict(tally.server_errors),
        "error_answers": dict(tally.error_answers),
        "not_problem_json": dict(tally.not_problem),
        "statuses": {api: dict(sorted(c.items())) for api, c in tally.statuses.items()},
        "per_operation": {k: dict(sorted(v.items())) for k, v in tally.per_operation.items()},
        "not_sent": tally.not_sent[:EXAMPLES_KEPT],
        "not_sent_count": len(tally.not_sent),
        "generation_errors": tally.generation_errors,
        "failures": tally.examples,
    }


def run_fuzz_test(send, tally: "FuzzTally", label: str, **what) -> None:
    try:
        send()
    except Exception as exc:  # e.g. no schema-violating case exists for the operation
        tally.generation_errors.append({"operation": label, **what, "error": repr(exc)[:EXCERPT]})


def fuzz_test(strategy, fuzz_settings, tally, api, label, counts, headers, errors):
    """A Hypothesis test that sends each generated case and tallies the answer."""
    from hypothesis import given

    @fuzz_settings
    @given(case=strategy)
    def send(case):
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the client could not send it: not a request
            tally.not_sent.append(f"{label}: {type(exc).__name__}: {exc}"[:EXCERPT])
            return
        record_fuzzed(tally, api, counts, response, errors)

    return send


def record_fuzzed(tally: FuzzTally, api: str, counts: Counter, response, errors) -> None:
    status = response.status_code
    tally.sent[api] += 1
    counts[status] += 1
    tally.statuses.setdefault(api, Counter())[status] += 1
    traceback_line = errors.take()
    if status < 400:
        return
    tally.error_answers[api] += 1
    content_type = (response.headers.get("content-type") or [""])[0]
    defect = problem_defect(status, content_type, response.content)
    if status >= 500:
        tally.server_errors[api] += 1
    if defect:
        tally.not_problem[api] += 1
    if (status >= 500 or defect) and len(tally.examples) < EXAMPLES_KEPT:
        request = response.request
        body = request.body or b""
        split = urlsplit(request.url)
        tally.examples.append(
            {
                "api": api,
                "method": request.method,
                "path": split.path + (f"?{split.query}" if split.query else ""),
                "request_body": excerpt(body),
                "status": status,
                "defect": defect or "5xx",
                "body": excerpt(response.content),
                "server_error": traceback_line,
            }
        )


# -- 2. cross-organisation attempts ---------------------------------------------


@dataclass
class World:
    """One organisation with one object of every kind (ids as the APIs show them)."""

    tag: str
    marker: str
    organisation: object = None
    admin: object = None
    doctolib_raw: str = ""
    api_raw: str = ""
    ids: dict = field(default_factory=dict)
    callers: dict = field(default_factory=dict)  # surface -> Caller
    markers: list = field(default_factory=list)  # what only this organisation's data holds

    def __getattr__(self, name):
        ids = self.__dict__.get("ids", {})
        if name in ids:
            return ids[name]
        raise AttributeError(name)

    @property
    def search(self) -> str:
        """A prefix of the marker: a search for it must not find anything of A's, and
        an answer that contains the whole marker did not just echo the request."""
        return self.marker[:6]


def build_world(tag: str, marker: str, phone: str, birth_date: str) -> World:
    """Every kind of object, made through the APIs (and services where no API makes
    them: the organisation, its tokens)."""
    from doctolib_bridge.models import ChangeFeedEntry, SyncLogEntry
    from organisations.models import Plan
    from organisations.services import organisation_create, organisation_update_practice
    from tokens.models import Token, TokenKind
    from tokens.services import token_create

    world = World(tag=tag, marker=marker)
    world.organisation, world.admin = organisation_create(
        name=f"Praxis {marker}",
        plan=Plan.XL,
        owner_email=f"admin@{marker.lower()}.test",
        owner_password=f"{marker}-pw-9!x",
    )
    org = world.organisation = organisation_update_practice(
        organisation=world.organisation,
        data={
            "street": "Lindenstraße 1",
            "postal_code": "10969",
            "city": "Berlin",
            "tax_number": "12/345/67890",
            "iban": "DE02120300000000202051",
        },
    )  # what issuing an invoice needs (§ 14 Abs. 4 UStG)
    world.doctolib_raw = token_create(organisation=org, kind=TokenKind.DOCTOLIB)[1]
    world.api_raw = token_create(
        organisation=org, kind=TokenKind.API, user=world.admin, name=f"{marker} Skript"
    )[1]
    spare_token, _ = token_create(
        organisation=org, kind=TokenKind.API, user=world.admin, name=f"{marker} Reserve"
    )
    plugin, api = Caller(bearer=world.doctolib_raw), Caller(bearer=world.api_raw)
    ids = world.ids
    ids["token"] = str(spare_token.public_id)
    ids["user_pk"] = str(world.admin.pk)
    ids["dp1"], ids["da1"], ids["da2"] = f"dp-{tag}-1", f"da-{tag}-1", f"da-{tag}-2"
    ids["mobile_digits"], ids["birth_date"] = phone[-8:], birth_date  # searchable
    day = date.today() - timedelta(days=30)

    def post(path, body, *expected):
        return ok(api.send("POST", STAFF + path, body), *expected or (201,))

    ids["column"] = post("/calendar-columns/", {"name": f"{marker} Spalte"})["id"]
    ids["column_spare"] = post("/calendar-columns/", {"name": f"{marker} Raum"})["id"]
    service = {"code": "KG", "name": f"{marker} Leistung", "price": "40.00", "vat_rate": "0.00"}
    ids["chain"] = post(
        "/service-chains/",
        {"description": f"{marker} Kette", "notes": f"{marker}-SYNC", "services": [service]},
    )["id"]
    ids["chain_spare"] = post(
        "/service-chains/", {"description": f"{marker} Reservekette", "services": [service]}
    )["id"]
    person = {
        "first_name": f"{marker}vorname",
        "birth_date": birth_date,
        "street": "Hauptstraße 5",
        "postal_code": "10115",
        "city": f"{marker}stadt",
    }
    ids["patient"] = post(
        "/patients/",
        {**person, "last_name": f"{marker}akte", "mobile_phone": phone, "email": f"p@{tag}.test"},
    )["id"]
    ids["patient_spare"] = post("/patients/", {**person, "last_name": f"{marker}reserve"})["id"]
    ids["patient_marked"] = post(
        "/patients/", {**person, "last_name": f"{marker}doctolib", "sync_to_doctolib": True}
    )["id"]
    ids["patient_linked"] = ok(
        plugin.send(
            "POST",
            ZIPPER + "/patients",
            {**person, "doctolib_patient_id": ids["dp1"], "last_name": f"{marker}verknuepft"},
        ),
        201,
    )["patient_id"]

    def appointment(hour: int) -> str:
        start = datetime.combine(day, clock_time(hour), tzinfo=ZONE).isoformat()
        return post(
            "/appointments/",
            {
                "patient_id": ids["patient"],
                "calendar_column_id": ids["column"],
                "service_chain_id": ids["chain"],
                "start": start,
                "duration_minutes": 30,
                "note": f"{marker} Notiz {hour}",
                "status": "done",
            },
        )["id"]

    ids["appointment"] = appointment(8)
    ids["appointment_draft"] = appointment(9)
    ids["appointment_issued"] = appointment(10)
    ids["appointment_cancelled"] = appointment(11)  # on an invoice issued and cancelled
    ids["appointment_doctolib"] = ok(
        plugin.send("PUT", f"{ZIPPER}/appointments/{ids['da1']}", doctolib_payload(world, day)),
        201,
    )["appointment_id"]
    ids["transfer"] = ok(
        plugin.send(
            "POST",
            ZIPPER + "/transfers",
            {**doctolib_payload(world, day), "doctolib_appointment_id": ids["da2"]},
        ),
        201,
    )["transfer_id"]
    invoice = {"patient_id": ids["patient"], "appointment_ids": [ids["appointment_draft"]]}
    ids["invoice_draft"] = post("/invoices/", invoice)["id"]
    invoice["appointment_ids"] = [ids["appointment_issued"]]
    ids["invoice_issued"] = post("/invoices/", invoice)["id"]
    post(f"/invoices/{ids['invoice_issued']}/issue", {}, 200)
    invoice["appointment_ids"] = [ids["appointment_cancelled"]]
    ids["invoice_cancelled"] = post("/invoices/", invoice)["id"]
    post(f"/invoices/{ids['invoice_cancelled']}/issue", {}, 200)
    post(f"/invoices/{ids['invoice_cancelled']}/cancel", {}, 200)  # a Storno document
    ids["export"] = post("/exports/", {"delete_appointments": False}, 202)["id"]
    ok(api.send("GET", f"{STAFF}/exports/{ids['export']}/patients.csv"), 200)  # done (eager)
    # an appointment handed over and removed from the calendar (a removed-appointment row)
    tomorrow = datetime.combine(date.today() + timedelta(days=1), clock_time(9), tzinfo=ZONE)
    post(
        "/appointments/",
        {
            "patient_id": ids["patient"],
            "calendar_column_id": ids["column"],
            "start": tomorrow.isoformat(),
            "duration_minutes": 30,
            "note": f"{marker} übergeben",
        },
    )
    ids["export_removing"] = post("/exports/", {"delete_appointments": True}, 202)["id"]
    ok(  # a write with an Idempotency-Key (an idempotency record)
        plugin.send(
            "PUT",
            f"{ZIPPER}/patients/{ids['dp1']}",
            {"city": f"{marker}stadt"},
            HTTP_IDEMPOTENCY_KEY=f"{marker}-key",
        ),
        200,
    )
    world.callers = {
        "zipper": plugin,
        "staff-token": api,
        "staff-session": Caller(user=world.admin),
        "pages": Caller(user=world.admin),
    }
    assert ChangeFeedEntry.objects.filter(organisation=org).exists()
    assert SyncLogEntry.objects.filter(organisation=org).exists()
    world.markers = sorted(
        {
            marker,
            org.orga_id,
            world.admin.email,
            ids["dp1"],
            ids["da1"],
            ids["da2"],
            *(v for k, v in ids.items() if re.fullmatch(r"[0-9a-f-]{36}", str(v))),
            *Token.objects.filter(organisation=org).values_list("display_prefix", flat=True),
        }
    )
    return world


def doctolib_payload(world: World, day: date, patient: str | None = None) -> dict:
    return {
        "doctolib_patient_id": patient or world.dp1,
        "agenda": {"id": f"ag-{world.tag}", "name": f"{world.marker} Agenda"},
        "visit_motive": {"name": f"{world.marker} Kette", "sync_id": None},
        "start": datetime.combine(day, clock_time(14), tzinfo=ZONE).isoformat(),
        "duration_minutes": 30,
        "note": f"{world.marker} Doctolib-Notiz",
    }


@dataclass
class Attempt:
    """One request of `own`'s credentials at `target`'s objects. kind: "object"
    (an id of the target's: anything but a refusal is a leak), "list" (a list or
    search: only A's markers in the answer are a leak; the control must show A's
    `reveal`), "own-space" (a write in the caller's own Doctolib id space that reuses
    A's Doctolib ids: legitimate, but must neither touch A's rows nor show A's data)."""

    surface: str  # zipper, staff-token, staff-session, pages
    method: str
    path: str
    body: object = None
    kind: str = "object"
    form: bool = False
    reveal: str | None = None  # for lists: what the owner's answer shows (default marker)


def attempts(own: World, target: World) -> list[Attempt]:
    """Every attempt of `own` at `target`. The same function with own = target gives
    the owner's control requests."""
    o, t = own, target
    day = date.today() - timedelta(days=30)
    local = f"{day.isoformat()}T08:00"
    out: list[Attempt] = []

    # Zipper API, with the Doctolib token
    def z(method, path, body=None, kind="object", reveal=None):
        out.append(Attempt("zipper", method, ZIPPER + path, body, kind, reveal=reveal))

    z("GET", f"/patients/{t.dp1}")
    z("PUT", f"/patients/{t.dp1}", {"city": f"{o.marker}stadt"})
    z("DELETE", f"/patients/{t.dp1}")
    z("GET", f"/appointments/{t.da1}")
    z("PUT", f"/appointments/{o.tag}-{t.da1}", doctolib_payload(o, day, patient=t.dp1))
    z("POST", f"/transfers/{t.transfer}/commit", {})
    z(
        "POST",
        "/patients",
        {"doctolib_patient_id": f"dp-{o.tag}-merge", "last_name": "X", "merge_into": t.patient},
    )
    z("POST", "/links", {"patient_id": t.patient_marked, "doctolib_patient_id": f"dp-{o.tag}-l"})
    z("GET", f"/patient-suggestions?last_name={t.search}", kind="list")
    z("GET", f"/patient-suggestions?last_name={t.search}&first_name={t.search}", kind="list")
    z("GET", "/changes", kind="list")
    z("GET", "/changes?limit=500", kind="list")
    z("GET", "/connection", kind="list")

    # staff API, with the personal token and with the session
    api = []

    def s(method, path, body=None, kind="object", reveal=None):
        api.append((method, STAFF + path, body, kind, reveal))

    for key in ("patient", "patient_linked", "patient_marked"):
        s("GET", f"/patients/{t.ids[key]}/")
        s("PATCH", f"/patients/{t.ids[key]}/", {"city": f"{o.marker}stadt"})
        s("GET", f"/patients/{t.ids[key]}/history/")
    s("DELETE", f"/patients/{t.patient_spare}/")
    s("GET", f"/calendar-columns/{t.column}/")
    s("PATCH", f"/calendar-columns/{t.column}/", {"name": f"{o.marker} Umbenannt"})
    s("DELETE", f"/calendar-columns/{t.column_spare}/")
    s("GET", f"/service-chains/{t.chain}/")
    s("PATCH", f"/service-chains/{t.chain}/", {"notes": f"{o.marker} neu"})
    s("DELETE", f"/service-chains/{t.chain_spare}/")
    for key in ("appointment", "appointment_doctolib", "appointment_issued"):
        s("GET", f"/appointments/{t.ids[key]}/")
    s("PATCH", f"/appointments/{t.appointment}/", {"note": f"{o.marker} geändert"})
    s("PATCH", f"/appointments/{t.appointment_doctolib}/", {"status": "planned"})
    s("DELETE", f"/appointments/{t.appointment}/")
    for invoice, action in ((t.invoice_draft, "issue"), (t.invoice_issued, "pay")):
        for method, suffix in (("GET", ""), ("GET", "pdf/"), ("POST", "cancel/")):
            s(method, f"/invoices/{invoice}/{suffix}", {} if method == "POST" else None)
        s("POST", f"/invoices/{invoice}/{action}/", {})
    s("GET", f"/invoices/{t.invoice_cancelled}/cancellation-pdf/")
    s("GET", f"/exports/{t.export}/")
    s("GET", f"/exports/{t.export}/patients.csv")
    s("GET", f"/exports/{t.export}/appointments.csv")
    start = datetime.combine(day, clock_time(16), tzinfo=ZONE).isoformat()
    new = {"start": start, "duration_minutes": 30, "note": f"{o.marker} neu"}
    refs = {"patient_id": o.patient, "calendar_column_id": o.column, "service_chain_id": o.chain}
    for key, value in (
        ("patient_id", t.patient),
        ("calendar_column_id", t.column),
        ("service_chain_id", t.chain),
    ):
        s("POST", "/appointments/", {**new, **refs, key: value})
        s("PATCH", f"/appointments/{o.appointment}/", {key: value})
    s("POST", "/invoices/", {"patient_id": t.patient, "appointment_ids": [t.appointment]})
    s("POST", "/invoices/", {"patient_id": o.patient, "appointment_ids": [t.appointment]})
    s("GET", f"/patients/?q={t.search}", kind="list")
    s("GET", f"/patients/?q={t.mobile_digits}", kind="list")
    s("GET", f"/patients/?q={t.birth_date}", kind="list")
    s("GET", f"/appointments/?patient={t.patient}", kind="list")
    s("GET", f"/appointments/?calendar_column={t.column}", kind="list")
    for path in ("/patients/", "/appointments/", "/calendar-columns/", "/service-chains/"):
        s("GET", path, kind="list")
    s("GET", "/invoices/", kind="list")
    s("GET", "/sync-log/", kind="list", reveal=t.da2)
    s("GET", "/exports/", kind="list", reveal=t.export)
    for surface in ("staff-token", "staff-session"):
        out += [Attempt(surface, m, p, b, k, reveal=r) for m, p, b, k, r in api]

    # staff pages, with the session
    def p(method, path, body=None, kind="object", reveal=None):
        out.append(Attempt("pages", method, path, body, kind, form=True, reveal=reveal))

    record = {"last_name": f"{o.marker}geaendert", "first_name": "Eva", "salutation": ""}
    for key in ("patient", "patient_linked"):
        p("GET", f"/akten/{t.ids[key]}/")
        linked = {"sync_to_doctolib": "on"} if key == "patient_linked" else {}
        p("POST", f"/akten/{t.ids[key]}/", {**record, **linked})
    p("GET", f"/akten/{t.patient}/an-doctolib/")
    p("POST", f"/akten/{t.patient}/an-doctolib/", {})
    p("GET", f"/akten/{t.patient_spare}/loeschen/")
    p("POST", f"/akten/{t.patient_spare}/loeschen/", {})
    visit = {
        "patient": o.patient,
        "calendar_column": o.column,
        "start": local,
        "duration_minutes": "30",
        "service_chain": o.chain,
        "note": f"{o.marker} Seite",
        "status": "done",
    }
    theirs = {**visit, "patient": t.patient, "calendar_column": t.column, "service_chain": t.chain}
    for key in ("appointment", "appointment_doctolib"):
        p("GET", f"/termine/{t.ids[key]}/")
        p("POST", f"/termine/{t.ids[key]}/", theirs)
    p("POST", f"/termine/{t.appointment}/absagen/", {})
    p("GET", f"/uebertragungen/{t.transfer}/")
    p("POST", f"/uebertragungen/{t.transfer}/", {})
    chain_form = {
        "description": f"{o.marker} Kette",
        "notes": "",
        "services-TOTAL_FORMS": "1",
        "services-INITIAL_FORMS": "0",
        "services-0-code": "KG",
        "services-0-name": "Krankengymnastik",
        "services-0-price": "41.00",
        "services-0-vat_rate": "0.00",
        "services-0-minutes": "30",
    }
    p("GET", f"/leistungsketten/{t.chain}/")
    p("POST", f"/leistungsketten/{t.chain}/", chain_form)
    p("GET", f"/leistungsketten/{t.chain_spare}/loeschen/")
    p("POST", f"/leistungsketten/{t.chain_spare}/loeschen/", {})
    for invoice, action in ((t.invoice_draft, "stellen"), (t.invoice_issued, "bezahlt")):
        for suffix in ("", "pdf/", "stornieren/"):
            p("GET", f"/rechnungen/{invoice}/{suffix}")
        for suffix in ("stornieren/", f"{action}/"):
            p("POST", f"/rechnungen/{invoice}/{suffix}", {})
    p("GET", f"/rechnungen/{t.invoice_cancelled}/storno-pdf/")
    p("GET", f"/einstellungen/tokens/{t.token}/widerrufen/")
    p("POST", f"/einstellungen/tokens/{t.token}/widerrufen/", {})
    p("GET", f"/einstellungen/exporte/{t.export}/patients.csv")
    p("GET", f"/einstellungen/exporte/{t.export}/appointments.csv")
    p("GET", f"/kalender/?spalte={t.column}&datum={day}")
    p("GET", f"/kalender/?spalte={t.column}&datum={day}&ansicht=woche")
    p("GET", f"/rechnungen/neu/?patient={t.patient}")
    p("POST", f"/rechnungen/neu/?patient={t.patient}", {"appointments": t.appointment})
    p("POST", f"/rechnungen/neu/?patient={o.patient}", {"appointments": t.appointment})
    for key in ("patient", "calendar_column", "service_chain"):
        p("POST", "/kalender/neu/", {**visit, key: theirs[key]})
        p("POST", f"/termine/{o.appointment}/", {**visit, key: theirs[key]})
    p("POST", "/einstellungen/tokens/", {"user": t.user_pk, "name": "x"})
    p("POST", f"/akten/verknuepfen/?doctolib_patient_id=dp-{o.tag}-s", {"patient_id": t.patient})
    p("GET", f"/akten/?q={t.search}", kind="list")
    p("GET", f"/akten/?q={t.birth_date}", kind="list")
    p("GET", f"/kalender/akten-suche/?q={t.search}", kind="list")
    p("GET", f"/rechnungen/neu/?q={t.search}", kind="list")
    p("GET", f"/akten/verknuepfen/?doctolib_patient_id=x&nachname={t.search}", kind="list")
    p("GET", f"/kalender/neu/?spalte={t.column}", kind="list")
    p("GET", f"/kalender/?datum={day}", kind="list")
    p("GET", f"/sync-protokoll/?patient={t.dp1}", kind="list", reveal=t.da1)
    p("GET", "/sync-protokoll/", kind="list", reveal=t.da2)
    for path in ("/", "/akten/", "/rechnungen/", "/leistungsketten/", "/einstellungen/tokens/"):
        p("GET", path, kind="list")
    p("GET", "/einstellungen/praxis/", kind="list", reveal=t.organisation.name)
    p("GET", "/einstellungen/exporte/", kind="list", reveal=t.export)

    # writes in the caller's own Doctolib id space that reuse the target's ids: last,
    # since afterwards the caller has objects under those ids
    z("PUT", f"/appointments/{t.da1}", doctolib_payload(o, day), kind="own-space")
    z(
        "POST",
        "/transfers",
        {**doctolib_payload(o, day), "doctolib_appointment_id": t.da2},
        kind="own-space",
    )
    z("POST", "/links", {"patient_id": o.patient_marked, "doctolib_patient_id": t.dp1}, "own-space")
    z(
        "POST",
        "/patients",
        {"doctolib_patient_id": t.dp1, "last_name": f"{o.marker}neu"},
        kind="own-space",
    )
    # lists first (the caller's own sync log then holds none of the target's ids yet),
    # then the target's objects, then the caller's own id space
    return sorted(out, key=lambda attempt: KIND_ORDER.index(attempt.kind))


def admin_attempts(target: World) -> list[Attempt]:
    """The Django admin's object routes (from the resolver) with the target's rows:
    an organisation's admin is no support user and must be sent to the admin login."""
    from django.contrib import admin
    from django.contrib.contenttypes.models import ContentType

    from patients.models import Patient

    out = []
    for model in admin.site._registry:  # the registered models are the admin's routes
        row = owned_rows(target.organisation, model)
        pk = row.values_list("pk", flat=True).first() if row is not None else None
        if pk is None:
            continue
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{pk}/"
        for suffix in ("", "change/", "delete/", "history/"):
            out.append(Attempt("pages", "GET", base + suffix, form=True))
        out.append(Attempt("pages", "POST", base + "change/", {}, form=True))
        out.append(Attempt("pages", "POST", base + "delete/", {"post": "yes"}, form=True))
        history = getattr(model, "history", None)  # django-simple-history's version view
        if history is not None:
            version = history.filter(pk=pk).values_list("history_id", flat=True).first()
            out.append(Attempt("pages", "GET", f"{base}history/{version}/", form=True))
        if model._meta.model_name == "user":
            out.append(Attempt("pages", "GET", f"{base}password/", form=True))
    patient_type = ContentType.objects.get_for_model(Patient).pk
    pk = Patient.objects.get(public_id=target.patient).pk
    out.append(Attempt("pages", "GET", f"/admin/r/{patient_type}/{pk}/", form=True))
    return out


def owned_rows(organisation, model, depth: int = 2):
    """The model's rows that belong to `organisation`, or None when none can."""
    from organisations.models import Organisation

    if model is Organisation:
        return model._default_manager.filter(pk=organisation.pk)
    path = organisation_path(model, depth)
    return None if path is None else model._default_manager.filter(**{path: organisation.pk})


def owned_rows_path(model) -> str | None:
    from organisations.models import Organisation

    return "pk" if model is Organisation else organisation_path(model, 2)


def organisation_path(model, depth: int) -> str | None:
    from organisations.models import Organisation

    relations = [f for f in model._meta.concrete_fields if f.is_relation and f.related_model]
    for f in relations:
        if f.related_model is Organisation:
            return f.attname
    if depth:
        for f in relations:
            if f.related_model._meta.app_label in PROJECT_APPS:
                sub = organisation_path(f.related_model, depth - 1)
                if sub is not None:
                    return f"{f.name}__{sub}"
    return None


def snapshot(organisation) -> tuple[dict, list[str]]:
    """Every row of every project table that belongs to `organisation`: a digest per
    row, by table; and the tables that have no way to an organisation."""
    from django.apps import apps

    tables, unowned = {}, []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        rows = owned_rows(organisation, model)
        if rows is None:
            unowned.append(model._meta.label)
            continue
        tables[model._meta.label] = {
            row["pk"]: hashlib.sha256(
                json.dumps(row, default=str, sort_keys=True).encode()
            ).hexdigest()
            for row in rows.order_by("pk").values("pk", *[f.attname for f in model._meta.fields])
        }
    return tables, unowned


def compare(before: dict, after: dict) -> list[dict]:
    changes = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, {}), after.get(table, {})
        changed = sorted((pk for pk in old if pk in new and old[pk] != new[pk]), key=str)
        added, removed = sorted(set(new) - set(old), key=str), sorted(set(old) - set(new), key=str)
        if changed or added or removed:
            changes.append({"table": table, "changed": changed, "added": added, "removed": removed})
    return changes


def is_login_redirect(response) -> bool:
    location = urlsplit(response.get("Location", ""))
    return 300 <= response.status_code < 400 and location.path in LOGIN_PATHS


def judge(attempt: Attempt, response, markers: list[str], sent: list[str]) -> list[str]:
    """Why this answer to `attempt` leaks (empty: it does not). `sent`: what the caller
    sent so far, this request included — a marker it sent itself (an id in a path,
    echoed in its own sync log) is no news to it."""
    reasons = []
    status = response.status_code
    if attempt.kind == "object" and 200 <= status < 400 and not is_login_redirect(response):
        reasons.append(f"answered {status}")
    sent.append((attempt.path + json.dumps(attempt.body, default=str)).lower())
    body = response.content.decode("utf-8", "replace").lower()
    location = response.get("Location", "").lower()
    for marker in markers:
        needle = marker.lower()
        if (needle in body or needle in location) and not any(needle in x for x in sent):
            reasons.append(f"shows {marker!r}")
    return reasons


def route_of(path: str):
    from django.urls import Resolver404, resolve

    try:
        return resolve(urlsplit(path).path).route
    except Resolver404:
        return None


def routes_with_ids() -> tuple[dict[str, set[str]], list[str]]:
    """Every route of the resolver that takes a parameter (an id), with the methods
    its view answers (HEAD and OPTIONS aside); and the admin routes of models that
    belong to no organisation (auth groups, login attempts, schedules)."""
    from django.apps import apps
    from django.urls import URLResolver, get_resolver

    found, foreign = {}, []

    def walk(patterns, prefix):
        for pattern in patterns:
            # joined as Django's resolver joins them (ResolverMatch.route)
            route = str(pattern.pattern)
            route = prefix + route.removeprefix("^") if prefix else route
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            if not ("<" in route or "(" in route) or route in NOT_AN_ID:
                continue
            if any(f"(?P<{name}>" in route for name in NOT_AN_ID_GROUPS):
                continue
            parts = route.split("/")
            if parts[0] == "admin" and len(parts) > 3 and parts[1] != "r":
                model = apps.get_model(parts[1], parts[2])
                if model._meta.app_label not in PROJECT_APPS or owned_rows_path(model) is None:
                    foreign.append(route)
                    continue
            found[route] = view_methods(pattern.callback, route)

    walk(get_resolver().url_patterns, "")
    return found, foreign


def view_methods(callback, route: str) -> set[str]:
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route (DRF adds "head" to it)
        return {m.upper() for m in actions if m not in ("head", "options")}
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if route.startswith("admin/") or view_class is None:
        return {"GET"}
    allowed = getattr(view_class, "http_method_names", ())
    return {
        m.upper()
        for m in ("get", "post", "put", "patch", "delete")
        if m in allowed and hasattr(view_class, m)
    }


def cross_organisation(errors: ServerErrors) -> dict:
    a = build_world("alpha", "Quokkaxa", "+491711111111", "1911-11-11")
    b = build_world("beta", "Wombatyb", "+491722222222", "1922-02-22")
    tried = attempts(b, a) + admin_attempts(a)
    # the owner's control: not on the admin (support users only) nor in B's own id space
    controls = [x for x in attempts(a, a) if x.kind != "own-space"]
    before, unowned = snapshot(a.organisation)
    leaks, server_errors, answers, sent = [], [], Counter(), []
    started = time.monotonic()
    for attempt in tried:
        response = b.callers[attempt.surface].send(
            attempt.method, attempt.path, attempt.body, form=attempt.form
        )
        answers[(attempt.surface, attempt.kind, response.status_code)] += 1
        if response.status_code >= 500:
            server_errors.append({**describe(attempt, response), "server_error": errors.take()})
        reasons = judge(attempt, response, a.markers, sent)
        if reasons:
            leaks.append({**describe(attempt, response), "why": reasons})
    row_changes = compare(before, snapshot(a.organisation)[0])
    for change in row_changes:
        leaks.append({"why": [f"A's rows changed in {change['table']}"], **change})
    attempt_seconds = time.monotonic() - started

    control_ok, control_failed = 0, []
    for attempt in controls:
        with rolled_back():
            response = a.callers[attempt.surface].send(
                attempt.method, attempt.path, attempt.body, form=attempt.form
            )
        if attempt.kind == "list":
            reveal = (attempt.reveal or a.marker).lower()
            good = (
                response.status_code == 200
                and reveal in response.content.decode("utf-8", "replace").lower()
            )
        else:
            good = response.status_code < 400 and not is_login_redirect(response)
        if good:
            control_ok += 1
        else:
            control_failed.append(describe(attempt, response))

    routes, foreign = routes_with_ids()
    reached = {(route_of(x.path), x.method) for x in tried}
    missing = sorted(
        f"{method} {route}"
        for route, methods in routes.items()
        for method in methods
        if (route, method) not in reached
    )
    pairs = sum(len(methods) for methods in routes.values())
    return {
        "organisations": {w.tag: {"orga_id": w.organisation.orga_id} for w in (a, b)},
        "markers_of_a": a.markers,
        "attempts": len(tried),
        "attempts_by_kind": dict(Counter(x.kind for x in tried)),
        "attempts_by_surface": dict(Counter(x.surface for x in tried)),
        "answers": [
            {"surface": s, "kind": k, "status": st, "count": n}
            for (s, k, st), n in sorted(answers.items())
        ],
        "leaks": leaks,
        "server_errors": server_errors,
        "tables_compared": len(before),
        "rows_of_a_compared": sum(len(rows) for rows in before.values()),
        "tables_without_organisation": unowned,
        "control": {
            "requests": len(controls),
            "succeeded": control_ok,
            "failed": control_failed,
            "not_run": "the Django admin's routes (only support users, is_staff, get in: A's "
            "own admin is sent to the login as B's is) and the writes in B's own Doctolib id "
            "space (no object of A's to reach)",
        },
        "routes": {
            "with_id": sorted(routes),
            "route_methods": pairs,
            "route_methods_reached": pairs - len(missing),
            "not_reached": missing,
            "not_ids": NOT_AN_ID,
            "admin_routes_of_no_organisation": foreign,
        },
        "seconds": round(attempt_seconds, 1),
    }


def describe(attempt: Attempt, response) -> dict:
    return {
        "surface": attempt.surface,
        "kind": attempt.kind,
        "method": attempt.method,
        "path": attempt.path,
        "request_body": attempt.body,
        "status": response.status_code,
        "location": response.get("Location"),
        "body": excerpt(response.content),
    }


# -- 3. concurrent identical pushes ---------------------------------------------


def at_once(port: int, n: int, method: str, path: str, body: dict, headers: dict) -> list:
    """`n` identical requests on their own connections, released by one barrier.
    Returns (status, body bytes, replayed) per request; status 0 for a transport error."""
    barrier = threading.Barrier(n)
    payload = json.dumps(body).encode()
    results: list = [None] * n

    def one(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.connect()
            barrier.wait()
            conn.request(
                method, path, body=payload, headers={"Content-Type": "application/json", **headers}
            )
            response = conn.getresponse()
            content = response.read()
            replayed = response.getheader("Idempotency-Replayed") == "true"
            results[index] = (response.status, content, replayed)
        except Exception as exc:
            results[index] = (0, repr(exc).encode(), False)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def concurrency_organisation(rounds: int) -> dict:
    from billing.services import service_chain_create
    from doctolib_bridge.services import patient_take_in
    from organisations.models import Plan
    from organisations.services import organisation_create
    from patients.services import patient_create
    from tokens.models import TokenKind
    from tokens.services import token_create

    organisation, _ = organisation_create(
        name="Praxis Gleichzeitig",
        plan=Plan.XL,
        owner_email="gleich@bench.test",
        owner_password="gleich-x7Q!2p",
    )
    patient_take_in(
        organisation=organisation, doctolib_patient_id="dp-c", doctolib={"last_name": "C"}
    )
    service_chain_create(
        organisation=organisation,
        description="Krankengymnastik",
        services=[
            {"code": "KG", "name": "KG", "price": Decimal("40.00"), "vat_rate": Decimal("0")}
        ],
    )
    targets = {
        keyed: [
            str(
                patient_create(
                    organisation=organisation, last_name=f"Link{keyed}{r}", sync_to_doctolib=True
                ).public_id
            )
            for r in range(rounds)
        ]
        for keyed in ("", "k")
    }
    return {
        "organisation": organisation,
        "token": token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1],
        "link_targets": targets,
    }


def push_request(kind: str, r: int, keyed: str, fixture: dict) -> tuple[str, str, dict]:
    """The request of round `r` (`keyed`: "k" for the rounds with an Idempotency-Key,
    whose natural ids differ from the others')."""
    if kind == "appointment_put":
        start = datetime.combine(date.today() - timedelta(days=1), clock_time(7), ZONE)
        return (
            "PUT",
            f"{ZIPPER}/appointments/da-{keyed}{r}",
            {
                "doctolib_patient_id": "dp-c",
                "agenda": {"id": f"ag-{keyed}{r}", "name": f"Agenda {keyed}{r}"},
                "visit_motive": {"name": "Krankengymnastik", "sync_id": None},
                "start": (start + timedelta(minutes=15 * r)).isoformat(),
                "duration_minutes": 30,
                "note": f"Runde {keyed}{r}",
            },
        )
    if kind == "patient_take_in":
        body = {"doctolib_patient_id": f"dp-{keyed}{r}", "last_name": f"Neu{keyed}{r}"}
        return "POST", f"{ZIPPER}/patients", {**body, "first_name": "Nina", "city": "Bonn"}
    target = fixture["link_targets"][keyed][r]
    return (
        "POST",
        f"{ZIPPER}/links",
        {"patient_id": target, "doctolib_patient_id": f"dl-{keyed}{r}"},
    )


def duplicates(kind: str, rounds: int, keyed: str, organisation) -> dict:
    """Rows beyond one per natural key, and keys with no row at all (lost)."""
    from django.db.models import Count

    from appointments.models import Appointment, CalendarColumn
    from patients.models import Patient

    def beyond_one(queryset, field_name, keys):
        counts = dict(
            queryset.filter(organisation=organisation, **{f"{field_name}__in": keys})
            .values_list(field_name)
            .annotate(n=Count("pk"))
        )
        return sum(max(0, counts.get(k, 0) - 1) for k in keys), sum(k not in counts for k in keys)

    names = [f"{keyed}{r}" for r in range(rounds)]
    if kind == "appointment_put":
        extra, lost = beyond_one(
            Appointment.objects, "doctolib_appointment_id", [f"da-{n}" for n in names]
        )
        columns, _ = beyond_one(
            CalendarColumn.objects, "doctolib_agenda_id", [f"ag-{n}" for n in names]
        )
        named, _ = beyond_one(CalendarColumn.objects, "name", [f"Agenda {n}" for n in names])
        return {"appointments": extra, "calendar_columns": columns + named, "lost": lost}
    if kind == "patient_take_in":
        extra, lost = beyond_one(Patient.objects, "doctolib_patient_id", [f"dp-{n}" for n in names])
        named, _ = beyond_one(Patient.objects, "last_name", [f"Neu{n}" for n in names])
        return {"patients": extra + named, "lost": lost}
    extra, lost = beyond_one(Patient.objects, "doctolib_patient_id", [f"dl-{n}" for n in names])
    return {"links": extra, "lost": lost}


def unlogged(kind: str, rounds: int, keyed: str, organisation, calls: int) -> int:
    """Calls of the rounds that the organisation's sync log does not hold (each round's
    `calls` requests carry the round's Doctolib id)."""
    from django.db.models import Count

    from doctolib_bridge.models import SyncLogEntry

    field_name, prefix = {
        "appointment_put": ("doctolib_appointment_id", "da-"),
        "patient_take_in": ("doctolib_patient_id", "dp-"),
        "link": ("doctolib_patient_id", "dl-"),
    }[kind]
    keys = [f"{prefix}{keyed}{r}" for r in range(rounds)]
    logged = dict(
        SyncLogEntry.objects.filter(organisation=organisation, **{f"{field_name}__in": keys})
        .values_list(field_name)
        .annotate(n=Count("pk"))
    )
    return sum(max(0, calls - logged.get(key, 0)) for key in keys)


def concurrency(rounds: int, concurrency_n: int) -> dict:
    from bench.zipper import Gunicorn  # the same server as the throughput benchmark

    fixture = concurrency_organisation(rounds)
    headers = {"Authorization": f"Bearer {fixture['token']}"}
    results: dict = {}
    started = time.monotonic()
    with Gunicorn(workers=concurrency_n, env=dict(os.environ)) as server:
        boot_seconds = time.monotonic() - started
        for keyed in ("", "k"):
            for kind in KINDS:
                entry = {
                    "rounds": rounds,
                    "requests": 0,
                    "statuses": Counter(),
                    "transport_errors": 0,
                    "not_as_once": 0,
                    "examples": [],
                }
                if keyed:
                    entry.update(mismatches=0, originals_beyond_one=0)
                for r in range(rounds):
                    method, path, body = push_request(kind, r, keyed, fixture)
                    extra = {"Idempotency-Key": f"rel-{kind}-{r}"} if keyed else {}
                    answers = at_once(
                        server.port, concurrency_n, method, path, body, {**headers, **extra}
                    )
                    tally_round(entry, answers, method, path, body)
                entry.update(duplicates(kind, rounds, keyed, fixture["organisation"]))
                entry["not_in_sync_log"] = unlogged(
                    kind, rounds, keyed, fixture["organisation"], concurrency_n
                )
                entry["statuses"] = dict(sorted(entry["statuses"].items()))
                results[f"{kind}{'_idempotency_key' if keyed else ''}"] = entry
    return {
        "concurrency": concurrency_n,
        "server": f"gunicorn lemniscus.wsgi -w {concurrency_n} (sync workers)",
        "kinds": results,
        "answered": sum(e["requests"] - e["transport_errors"] for e in results.values()),
        "not_in_sync_log": sum(e["not_in_sync_log"] for e in results.values()),
        "seconds": round(time.monotonic() - started, 1),
        "server_boot_seconds": round(boot_seconds, 1),
        "server_log_tail": server.log_tail[-2000:],
    }


def tally_round(entry: dict, answers: list, method: str, path: str, body: dict) -> None:
    statuses = [status for status, _, _ in answers]
    entry["requests"] += len(answers)
    entry["statuses"].update(statuses)
    entry["transport_errors"] += statuses.count(0)
    once = sorted(statuses) == [200] * (len(answers) - 1) + [201]
    if "mismatches" in entry:  # with a key: every answer the first one
        originals = [a for a in answers if not a[2]]
        entry["originals_beyond_one"] += max(0, len(originals) - 1)
        first = (originals or answers)[0]
        reference = (first[0], parse(first[1]))
        entry["mismatches"] += sum((s, parse(c)) != reference for s, c, _ in answers) + (
            not originals
        )
        once = all((s, parse(c)) == reference for s, c, _ in answers)
    entry["not_as_once"] += not once
    if (not once or any(s >= 500 or s == 0 for s in statuses)) and len(entry["examples"]) < 5:
        entry["examples"].append(
            {
                "method": method,
                "path": path,
                "body": body,
                "statuses": sorted(statuses),
                "answers": sorted({excerpt(c, 200) for s, c, _ in answers if s != 200}),
            }
        )


def parse(content: bytes):
    try:
        return json.loads(content)
    except ValueError:
        return content


# -- report ---------------------------------------------------------------------


def row(what: str, ours: str, target: str, met: bool | None, failures: int = 0) -> list[str]:
    """A table row; no baseline here (counts, not a comparison). `met` None: no target."""
    return [what, ours, "-", "-", target, "" if met is None else verdict(met, failures)]


def table(results: dict) -> list[list[str]]:
    rows = [common.TABLE_HEADER]
    if f := results.get("fuzz"):
        for api, name in (("zipper", "Zipper API"), ("staff", "staff API")):
            sent, errors = f["sent"].get(api, 0), f["server_errors"].get(api, 0)
            what = f"fuzzed requests, {name}: sent / 5xx"
            rows.append(row(what, f"{sent} / {errors}", "0 5xx", errors == 0 and sent > 0))
        bad, errors = sum(f["not_problem_json"].values()), sum(f["error_answers"].values())
        what = "fuzzed error answers not problem+json (code, detail, status)"
        rows.append(row(what, f"{bad} of {errors}", "0", bad == 0))
    if c := results.get("cross_organisation"):
        leaks, control, routes = len(c["leaks"]), c["control"], c["routes"]
        ours = f"{c['attempts']} / {leaks}"
        rows.append(row("cross-organisation attempts / leaks", ours, "0 leaks", leaks == 0))
        errors = len(c["server_errors"])
        rows.append(row("cross-organisation attempts answered 5xx", str(errors), "0", not errors))
        ours = f"{control['succeeded']} of {control['requests']}"
        rows.append(row("control: the same requests as A's owner succeed", ours, "", None))
        what = "routes with an id (route x method) tried with A's ids"
        ours = f"{routes['route_methods_reached']} of {routes['route_methods']}"
        rows.append(row(what, ours, "all", not routes["not_reached"]))
    if k := results.get("concurrency"):
        n, plain = k["concurrency"], [k["kinds"][kind] for kind in KINDS]
        keyed = [k["kinds"][f"{kind}_idempotency_key"] for kind in KINDS]
        labels = ("PUT appointments", "POST patients", "POST links")
        for label, e in zip(labels, plain, strict=True):
            dup = sum(v for key, v in e.items() if key in DUPLICATE_KEYS)
            server = sum(v for status, v in e["statuses"].items() if status >= 500)
            what = f"concurrent identical {label} ({n} at once x {e['rounds']}): "
            what += "requests / duplicates / 5xx"
            ours = f"{e['requests']} / {dup} / {server}"
            met = dup == 0 and server == 0 and not e["lost"]
            rows.append(row(what, ours, "0 duplicates, 0 5xx", met, e["transport_errors"]))
        late = sum(e["not_as_once"] for e in plain)
        what = "concurrent rounds not answered as once (one 201, the rest 200)"
        rows.append(row(what, f"{late} of {sum(e['rounds'] for e in plain)}", "0", late == 0))
        repeats = sum(e["requests"] - e["rounds"] for e in keyed)
        mismatches = sum(e["mismatches"] for e in keyed)
        dup = sum(v for e in keyed for key, v in e.items() if key in DUPLICATE_KEYS)
        server = sum(v for e in keyed for status, v in e["statuses"].items() if status >= 500)
        what = f"Idempotency-Key repeats ({n} at once x {keyed[0]['rounds']} x 3 kinds): "
        what += "repeats / mismatches / duplicates / 5xx"
        ours = f"{repeats} / {mismatches} / {dup} / {server}"
        met, failures = mismatches == dup == server == 0, sum(e["transport_errors"] for e in keyed)
        rows.append(row(what, ours, "0 mismatches, 0 duplicates, 0 5xx", met, failures))
        missing = k["not_in_sync_log"]
        ours = f"{missing} of {k['answered']}"
        rows.append(row("concurrent Zipper calls missing in the sync log", ours, "0", not missing))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--examples", type=int, default=80, help="fuzzed cases per operation and generation mode"
    )
    parser.add_argument("--rounds", type=int, default=50, help="rounds per concurrent kind")
    parser.add_argument("--concurrency", type=int, default=20, help="identical requests at once")
    parser.add_argument(
        "--parts",
        default="fuzz,cross,concurrency",
        help="comma separated: fuzz, cross, concurrency (default all three)",
    )
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",")}
    os.chdir(ROOT)

    url = common.database_url("BENCH_RELIABILITY_DATABASE_URL", "lemniscus_bench_reliability")
    media = tempfile.mkdtemp(prefix="bench-reliability-media-")
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret-key-reliability-0123456789",
        ZIPPER_RATE_LIMIT=RATE_LIMIT,
        DEBUG="off",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="ERROR",  # 4xx answers are the point here; 500s are caught below
        MEDIA_ROOT=media,
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    warnings.filterwarnings("ignore", message="No directory at")  # static files not collected
    print(f"database {url.rsplit('/', 1)[1]}: drop, create, migrate", flush=True)
    common.recreate_database(url)
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()  # sets Django up (and its logging: first)
    call_command("migrate", verbosity=0)
    errors = ServerErrors()
    request_log = logging.getLogger("django.request")
    request_log.setLevel(logging.ERROR)  # 4xx answers are the point here, not news
    request_log.addHandler(errors)

    started = time.monotonic()
    results: dict = {
        "command": " ".join([".venv/bin/python", "bench/reliability.py", *sys.argv[1:]]),
        "date": datetime.now(ZONE).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": common.environment(url),
    }
    try:  # with --drop-after the database goes even when a part fails
        if "fuzz" in parts:
            print(f"fuzzing, {args.examples} cases per operation and mode ...", flush=True)
            results["fuzz"] = fuzz(args.examples, errors, application)
        if "cross" in parts:
            print("cross-organisation attempts ...", flush=True)
            results["cross_organisation"] = cross_organisation(errors)
        if "concurrency" in parts:
            print(f"concurrent pushes, {args.rounds} rounds of {args.concurrency} ...", flush=True)
            results["concurrency"] = concurrency(args.rounds, args.concurrency)
        results["seconds"] = round(time.monotonic() - started, 1)
        results["table"] = table(results)
        common.print_table(results["table"])
        output = common.write_results("reliability", results, args.output)
        print(f"{results['seconds']:.0f} s; written to {output}")
    finally:
        shutil.rmtree(media, ignore_errors=True)
        if args.drop_after:
            from django.db import connections

            connections.close_all()
            common.drop_database(url)


if __name__ == "__main__":
    main()
