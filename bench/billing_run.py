"""Billing run benchmark (issue 14): a month of 2,000 patients with 4 appointments
each, billed by a Rechnungslauf: drafts, then issuing. Targets: at most 10x a
baseline of bare SQL writing the same rows, and < 200 MB.

Data, on a fresh PostgreSQL database it fills itself: two organisations with the
same 2,000 patients (complete addresses), one calendar column, one service chain (one
exempt service of 32.50 EUR) and 4 done appointments per patient in October 2026
(bulk inserts, not timed). One organisation is billed by our code, the other by the
baseline.

Ours, in this process, the job's own functions in the order the Celery task runs
them (billing.runs; the task adds only its claim and heartbeat):
- drafts: `_make_drafts` (2,000 drafts, 8,000 lines, the appointments' lock, history
  rows, Protokoll entries; in chunks of 200 patients);
- numbering: `_number_drafts` (2,000 numbers, parties copied, history, Protokoll);
- PDFs: `_archive_pdfs` (each issued invoice's PDF rendered by WeasyPrint and
  archived), reported on a row of its own.
Memory: the process's peak RSS (VmHWM) while each phase runs, reset before it
(/proc/self/clear_refs), so the seeding does not count.

Baseline, same database, one transaction each: set-based INSERT ... SELECT and UPDATE
... FROM writing the same rows: the invoices, their lines, the appointments' lock,
the history rows of invoices, lines and appointments, and the Protokoll entries; then
the numbers, status, dates and parties of the issue with their history and Protokoll
rows. No PDF: SQL does not render one.

Run (from the project root; the 2,000 PDFs take about 7 minutes on 2 cores; `--no-pdfs`
skips them):

    .venv/bin/python bench/billing_run.py
    .venv/bin/python bench/billing_run.py --patients 200      # a quick look

The database is BENCH_BILLING_RUN_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_billing_run); its name must
contain "bench": it is dropped and created anew. Prints a table and writes
bench/results/billing_run-<date>.json (or `--output`).
"""

import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    TABLE_HEADER,
    ZONE,
    database_url,
    drop_database,
    environment,
    memory_kb,
    print_table,
    recreate_database,
    verdict,
    write_results,
)

RATIO_TARGET = 10.0
MEMORY_TARGET_MB = 200
APPOINTMENTS_EACH = 4
PRICE = Decimal("32.50")
PERIOD = (date(2026, 10, 1), date(2026, 10, 31))


def seed(patients: int) -> dict:
    from django.db import transaction

    from appointments.models import Appointment, AppointmentStatus, CalendarColumn
    from billing.models import ServiceChain, ServiceLine
    from organisations.demo import FEMALE_FIRST_NAMES, LAST_NAMES
    from organisations.models import Organisation, Plan
    from patients.models import Patient

    orgs = []
    with transaction.atomic():
        for name in ("Praxis Benchmark (ours)", "Praxis Benchmark (baseline)"):
            organisation = Organisation.objects.create(
                name=name,
                plan=Plan.L,
                owner_name="Anna Beispiel",
                street="Seestraße 1",
                postal_code="10115",
                city="Berlin",
                tax_number="12/345/67890",
                iban="DE89370400440532013000",
                bic="COBADEFFXXX",
            )
            column = CalendarColumn.objects.create(organisation=organisation, name="Frau Lind")
            chain = ServiceChain.objects.create(organisation=organisation, description="KG")
            ServiceLine.objects.create(
                chain=chain, code="X1501", name="Krankengymnastik", price=PRICE, minutes=25
            )
            people = []
            for n in range(patients):
                patient = Patient(
                    organisation=organisation,
                    first_name=FEMALE_FIRST_NAMES[n % len(FEMALE_FIRST_NAMES)],
                    last_name=f"{LAST_NAMES[n % len(LAST_NAMES)]}-{n}",
                    street="Hauptstraße 5",
                    postal_code="10115",
                    city="Berlin",
                    email=f"p{n}@example.org" if n % 5 else "",
                )
                patient.refresh_search_keys()
                people.append(patient)
            people = Patient.objects.bulk_create(people, batch_size=1000)
            Appointment.objects.bulk_create(
                (
                    Appointment(
                        organisation=organisation,
                        patient=patient,
                        calendar_column=column,
                        service_chain=chain,
                        start=datetime(2026, 10, 5 + 7 * week, 9, tzinfo=ZONE)
                        + timedelta(minutes=30 * (n % 16)),
                        duration_minutes=30,
                        status=AppointmentStatus.DONE,
                    )
                    for n, patient in enumerate(people)
                    for week in range(APPOINTMENTS_EACH)
                ),
                batch_size=2000,
            )
            orgs.append(organisation)
    return {"ours": orgs[0], "baseline": orgs[1]}


def _reset_peak() -> None:
    """Resets VmHWM to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def timed(function, *args, **kwargs) -> dict:
    _reset_peak()
    started = time.perf_counter()
    function(*args, **kwargs)
    return {
        "seconds": round(time.perf_counter() - started, 3),
        "peak_mb": round(memory_kb("VmHWM") / 1024, 1),
    }


def ours(organisation, pdfs: bool) -> dict:
    from billing import runs
    from billing.models import BillingRun, BillingRunPhase, BillingRunStatus

    # The row `billing_run_start` writes (which would also queue the task: without a
    # broker it runs at once, in one piece), then what the task does first.
    run = BillingRun.objects.create(
        organisation=organisation, period_start=PERIOD[0], period_end=PERIOD[1]
    )
    run = runs._claim(run.pk)
    figures = {"drafts": timed(runs._make_drafts, run)}
    run.refresh_from_db()
    run.phase, run.status = BillingRunPhase.ISSUE, BillingRunStatus.RUNNING
    run.save()
    figures["numbering"] = timed(runs._number_drafts, run)
    if pdfs:
        figures["pdfs"] = timed(runs._archive_pdfs, run)
    run.refresh_from_db()
    figures["invoices"] = run.invoices.count()
    figures["skipped"] = len(run.skipped)
    return figures


# The baseline's SQL. %(org)s is the organisation, %(now)s the moment.
DRAFTS_SQL = [
    """INSERT INTO billing_invoice (public_id, created_at, updated_at, organisation_id,
        patient_id, status, diagnosis, small_business, net_total, vat_total, total,
        write_off_reason)
    SELECT gen_random_uuid(), %(now)s, %(now)s, a.organisation_id, a.patient_id, 'draft',
        '', false, sum(l.price), 0, sum(l.price), ''
    FROM appointments_appointment a JOIN billing_serviceline l ON l.chain_id = a.service_chain_id
    WHERE a.organisation_id = %(org)s AND a.invoice_id IS NULL
    GROUP BY a.organisation_id, a.patient_id""",
    """INSERT INTO billing_invoiceline (public_id, invoice_id, appointment_id, position,
        service_date, code, name, quantity, unit_price, vat_rate, tax_category, amount,
        therapist)
    SELECT gen_random_uuid(), i.id, a.id,
        row_number() OVER (PARTITION BY i.id ORDER BY a.start) - 1,
        (a.start AT TIME ZONE 'Europe/Berlin')::date, l.code, l.name, 1, l.price, 0,
        l.tax_category, l.price, c.name
    FROM appointments_appointment a
    JOIN billing_serviceline l ON l.chain_id = a.service_chain_id
    JOIN appointments_calendarcolumn c ON c.id = a.calendar_column_id
    JOIN billing_invoice i ON i.patient_id = a.patient_id AND i.status = 'draft'
    WHERE a.organisation_id = %(org)s""",
    """UPDATE appointments_appointment a SET invoice_id = i.id, updated_at = %(now)s
    FROM billing_invoice i
    WHERE i.patient_id = a.patient_id AND i.status = 'draft' AND a.organisation_id = %(org)s""",
]


def _history_sql(table: str, history: str, where: str) -> str:
    """INSERT INTO the history table a copy of each row of `table` matching `where`."""
    from django.db import connection

    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
        kept = [
            c.name
            for c in connection.introspection.get_table_description(cursor, history)
            if c.name in columns
        ]
    names = ", ".join(kept)
    return (
        f"INSERT INTO {history} ({names}, history_date, history_type, history_change_reason) "
        f"SELECT {names}, %(now)s, '~', NULL FROM {table} t WHERE {where}"
    )


ISSUE_SQL = [
    """UPDATE billing_invoice i SET status = 'issued', issued_at = %(now)s,
        updated_at = %(now)s, issue_date = %(today)s, due_date = %(today)s + 14,
        number = '2026-' || lpad(n.k::text, 4, '0'),
        parties = jsonb_build_object(
            'sender', jsonb_build_object('name', o.name, 'street', o.street,
                'postal_code', o.postal_code, 'city', o.city, 'iban', o.iban),
            'recipient', jsonb_build_object('first_name', p.first_name,
                'last_name', p.last_name, 'street', p.street, 'postal_code', p.postal_code,
                'city', p.city, 'email', p.email),
            'patient', jsonb_build_object('name', p.last_name || ', ' || p.first_name,
                'birth_date', p.birth_date))
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM billing_invoice
          WHERE organisation_id = %(org)s AND status = 'draft') n,
        organisations_organisation o, patients_patient p
    WHERE i.id = n.id AND o.id = i.organisation_id AND p.id = i.patient_id""",
]


def audit_sql(action: str, detail: str) -> str:
    return f"""INSERT INTO audit_auditevent (organisation_id, actor_label, action,
        object_type, object_id, patient_id, detail, time)
    SELECT i.organisation_id, 'System', '{action}', 'invoice', i.public_id::text,
        p.public_id, {detail}, %(now)s
    FROM billing_invoice i JOIN patients_patient p ON p.id = i.patient_id
    WHERE i.organisation_id = %(org)s"""


def baseline(organisation) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    invoices_of_org = "t.organisation_id = %(org)s"
    lines_of_org = (
        "t.invoice_id IN (SELECT id FROM billing_invoice WHERE organisation_id = %(org)s)"
    )
    drafts = [
        *DRAFTS_SQL,
        _history_sql("billing_invoice", "billing_historicalinvoice", invoices_of_org),
        _history_sql("billing_invoiceline", "billing_historicalinvoiceline", lines_of_org),
        _history_sql(
            "appointments_appointment", "appointments_historicalappointment", invoices_of_org
        ),
        audit_sql("invoice.create", "'4 Termine (Rechnungslauf)'"),
    ]
    issue = [
        """INSERT INTO billing_invoicesequence (organisation_id, kind, year, last_number)
        SELECT %(org)s, 'invoice', 2026, count(*) FROM billing_invoice
        WHERE organisation_id = %(org)s AND status = 'draft'""",
        *ISSUE_SQL,
        _history_sql("billing_invoice", "billing_historicalinvoice", invoices_of_org),
        audit_sql("invoice.issue", "i.number"),
    ]
    params = {
        "org": organisation.pk,
        "now": timezone.now(),
        "today": organisation.today(),
    }

    def run(statements):
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, params)

    figures = {"drafts": timed(run, drafts), "numbering": timed(run, issue)}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(number) FROM billing_invoice WHERE organisation_id = %s",
            [organisation.pk],
        )
        figures["invoices"], figures["numbered"] = cursor.fetchone()
    return figures


def checks(ours_org, base_org) -> dict:
    """Both organisations end with the same rows: invoices, lines, locked appointments."""
    from appointments.models import Appointment
    from billing.models import Invoice, InvoiceLine

    def counts(organisation):
        return {
            "invoices": Invoice.objects.filter(organisation=organisation).count(),
            "issued": Invoice.objects.filter(organisation=organisation, status="issued").count(),
            "lines": InvoiceLine.objects.filter(invoice__organisation=organisation).count(),
            "unbilled": Appointment.objects.filter(
                organisation=organisation, invoice__isnull=True
            ).count(),
        }

    return {"ours": counts(ours_org), "baseline": counts(base_org)}


def table(figures: dict, patients: int) -> list[list[str]]:
    ours, base = figures["ours"], figures["baseline"]
    same = figures["checks"]["ours"] == figures["checks"]["baseline"]
    failures = 0 if same else 1
    label = f"{patients:,} patients x {APPOINTMENTS_EACH}"
    ours_s = ours["drafts"]["seconds"] + ours["numbering"]["seconds"]
    base_s = base["drafts"]["seconds"] + base["numbering"]["seconds"]
    peak = max(ours["drafts"]["peak_mb"], ours["numbering"]["peak_mb"])
    rows = [
        TABLE_HEADER,
        [
            f"billing run, {label}: drafts + issuing (numbers), time",
            f"{ours_s:.2f} s",
            f"{base_s:.2f} s (bare SQL)",
            f"{ours_s / base_s:.1f}x",
            f"<= {RATIO_TARGET:.0f}x",
            verdict(ours_s / base_s <= RATIO_TARGET, failures),
        ],
        [
            f"billing run, {label}: drafts + issuing (numbers), peak memory",
            f"{peak:.0f} MB",
            "-",
            "-",
            f"< {MEMORY_TARGET_MB} MB",
            verdict(peak < MEMORY_TARGET_MB, failures),
        ],
    ]
    if "pdfs" in ours:
        pdf_s, pdf_mb = ours["pdfs"]["seconds"], ours["pdfs"]["peak_mb"]
        total = ours_s + pdf_s
        rows.append(
            [
                f"billing run, {label}: issuing with every PDF archived (WeasyPrint)",
                f"{total:.0f} s, {max(peak, pdf_mb):.0f} MB",
                f"{base_s:.2f} s (bare SQL, no PDF)",
                f"{total / base_s:.0f}x",
                f"<= {RATIO_TARGET:.0f}x, < {MEMORY_TARGET_MB} MB",
                verdict(total / base_s <= RATIO_TARGET and pdf_mb < MEMORY_TARGET_MB, failures),
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--no-pdfs", action="store_true", help="skip archiving the PDFs")
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    os.chdir(ROOT)
    url = database_url("BENCH_BILLING_RUN_DATABASE_URL", "lemniscus_bench_billing_run")
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        DEBUG="off",
        LOG_LEVEL="WARNING",
        MEDIA_ROOT=os.environ.get("MEDIA_ROOT") or f"/tmp/{Path(url).name}-media",
    )
    print(f"database {url.rsplit('/', 1)[1]}: drop, create, migrate", flush=True)
    recreate_database(url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    started = time.monotonic()
    orgs = seed(args.patients)
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
    figures = {"baseline": baseline(orgs["baseline"])}
    print("baseline", figures["baseline"], flush=True)
    figures["ours"] = ours(orgs["ours"], pdfs=not args.no_pdfs)
    print("ours", figures["ours"], flush=True)
    figures["checks"] = checks(orgs["ours"], orgs["baseline"])
    results = {
        "command": " ".join([".venv/bin/python", "bench/billing_run.py", *sys.argv[1:]]),
        "date": datetime.now(UTC).astimezone(ZONE).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(url),
        "figures": figures,
        "table": table(figures, args.patients),
    }
    print(figures["checks"])
    print_table(results["table"])
    output = write_results("billing_run", results, args.output)
    print(f"written to {output}")
    if args.drop_after:
        from django.db import connections

        connections.close_all()
        drop_database(url)


if __name__ == "__main__":
    main()
