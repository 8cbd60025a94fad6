"""Accountant's export benchmark (issue 14): the DATEV EXTF Buchungsstapel of a month
with 10,000 bookings, target < 5 s, next to a baseline: bare SQL selecting the same
rows (invoices with their lines grouped by tax category and rate, Stornos, payments,
write-offs) and fetching them, without building a file.

Data, on a fresh PostgreSQL database it fills itself: one organisation, 2,000
patients and 4,300 invoices issued in October 2026 (Berlin), a quarter of them with a
19 % line besides the exempt therapy (two bookings each); the first tenth cancelled
(Storno), the next tenth partly paid in cash and written off, the rest paid by
transfer. Rows are inserted in bulk and issued by SQL (the database guard allows
numbering a draft), so the figures are the export's, not the seeding's.

Run (from the project root; under a minute):

    .venv/bin/python bench/accounting.py
    .venv/bin/python bench/accounting.py --rounds 3

The database is BENCH_ACCOUNTING_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/lemniscus_bench_accounting); its name must contain
"bench": it is dropped and created anew (`--drop-after` drops it at the end). Prints
the figures and the result table and writes bench/results/accounting-<date>.json.
"""

import argparse
import os
import random
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
    print_table,
    recreate_database,
    summary,
    verdict,
    write_results,
)

TARGET_S = 5.0
MONTH = "2026-10"
INVOICES = 4300
PATIENTS = 2000
THERAPY = Decimal("32.50")
OIL = Decimal("8.40")


def seed(rng: random.Random) -> dict:
    from django.db import connection, transaction

    from billing.models import Invoice, InvoiceLine, Payment
    from organisations.demo import FEMALE_FIRST_NAMES, LAST_NAMES
    from organisations.models import Organisation, Plan
    from patients.models import Patient

    with transaction.atomic():
        organisation = Organisation.objects.create(name="Praxis Benchmark", plan=Plan.XL)
        patients = Patient.objects.bulk_create(
            Patient(
                organisation=organisation,
                first_name=rng.choice(FEMALE_FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                city="Berlin",
            )
            for _ in range(PATIENTS)
        )
        invoices, lines = [], []
        for n in range(INVOICES):
            patient = patients[n % PATIENTS]
            mixed = n % 4 == 3
            vat = (OIL * Decimal("0.19")).quantize(Decimal("0.01")) if mixed else Decimal("0")
            net = THERAPY + (OIL if mixed else 0)
            name = f"{patient.first_name} {patient.last_name}"
            invoices.append(
                Invoice(
                    organisation=organisation,
                    patient=patient,
                    net_total=net,
                    vat_total=vat,
                    total=net + vat,
                    parties={
                        "recipient": {
                            "first_name": patient.first_name,
                            "last_name": patient.last_name,
                        },
                        "patient": {"name": name, "birth_date": None},
                    },
                )
            )
        invoices = Invoice.objects.bulk_create(invoices)
        for n, invoice in enumerate(invoices):
            common = dict(invoice=invoice, service_date=date(2026, 9, 28), quantity=1)
            lines.append(
                InvoiceLine(
                    **common,
                    code="X1501",
                    name="Krankengymnastik",
                    unit_price=THERAPY,
                    amount=THERAPY,
                    vat_rate=0,
                    tax_category="exempt_therapy",
                    position=0,
                )
            )
            if n % 4 == 3:
                lines.append(
                    InvoiceLine(
                        **common,
                        code="W1",
                        name="Massageöl",
                        unit_price=OIL,
                        amount=OIL,
                        vat_rate=19,
                        tax_category="taxable",
                        position=1,
                    )
                )
        InvoiceLine.objects.bulk_create(lines, batch_size=2000)
        tenth = INVOICES // 10
        with connection.cursor() as cursor:
            first_id = invoices[0].pk
            cursor.execute(
                "UPDATE billing_invoice SET status = 'issued',"
                " number = '2026-' || lpad((id - %s + 1)::text, 5, '0'),"
                " issue_date = date '2026-10-01' + ((id - %s) %% 31)::int,"
                " issued_at = (date '2026-10-01' + ((id - %s) %% 31)::int)::timestamp"
                "   AT TIME ZONE 'Europe/Berlin' + interval '10 hours',"
                " due_date = date '2026-11-15', updated_at = now()"
                " WHERE organisation_id = %s",
                [first_id, first_id, first_id, organisation.pk],
            )
        payments = []
        for n, invoice in enumerate(invoices):
            day = date(2026, 10, 1) + timedelta(days=n % 31)
            if n < tenth:
                continue
            if n < 2 * tenth:
                payments.append((invoice, Decimal("10.00"), "cash", day))
            else:
                payments.append((invoice, invoice.total, "transfer", day))
        Payment.objects.bulk_create(
            [
                Payment(
                    organisation=organisation,
                    invoice=invoice,
                    amount=amount,
                    method=method,
                    date=day,
                )
                for invoice, amount, method, day in payments
            ],
            batch_size=2000,
        )
        ids = [invoice.pk for invoice in invoices]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE billing_invoice SET status = 'cancelled', cancelled_at = issued_at,"
                " cancellation_number = 'ST-2026-' || lpad((id - %s + 1)::text, 5, '0'),"
                " cancellation_date = issue_date WHERE id = ANY(%s)",
                [ids[0], ids[:tenth]],
            )
            cursor.execute(
                "UPDATE billing_invoice SET status = 'written_off',"
                " written_off_at = issued_at + interval '1 hour', write_off_reason = 'Insolvenz'"
                " WHERE id = ANY(%s)",
                [ids[tenth : 2 * tenth]],
            )
            cursor.execute(
                "UPDATE billing_invoice SET status = 'paid', paid_at = issued_at"
                " WHERE id = ANY(%s)",
                [ids[2 * tenth :]],
            )
    return {
        "organisation": organisation,
        "counts": {"invoices": INVOICES, "payments": len(payments)},
    }


BASELINE_SQL = [
    # Issued invoices and Stornos with their lines grouped by tax category and rate.
    """SELECT i.id, i.issue_date, i.number, i.total, i.parties -> 'patient' ->> 'name',
              l.tax_category, l.vat_rate, sum(l.amount)
         FROM billing_invoice i JOIN billing_invoiceline l ON l.invoice_id = i.id
        WHERE i.organisation_id = %(org)s AND i.number IS NOT NULL
          AND i.issue_date BETWEEN %(first)s AND %(last)s
        GROUP BY i.id, l.tax_category, l.vat_rate""",
    """SELECT i.id, i.cancellation_date, i.cancellation_number, i.total,
              i.parties -> 'patient' ->> 'name', l.tax_category, l.vat_rate, sum(l.amount)
         FROM billing_invoice i JOIN billing_invoiceline l ON l.invoice_id = i.id
        WHERE i.organisation_id = %(org)s AND i.cancellation_number IS NOT NULL
          AND i.cancellation_date BETWEEN %(first)s AND %(last)s
        GROUP BY i.id, l.tax_category, l.vat_rate""",
    """SELECT p.date, p.amount, p.method, i.number, i.parties -> 'patient' ->> 'name'
         FROM billing_payment p JOIN billing_invoice i ON i.id = p.invoice_id
        WHERE p.organisation_id = %(org)s AND p.date BETWEEN %(first)s AND %(last)s""",
    """SELECT i.written_off_at, i.number, i.total, coalesce(sum(p.amount), 0)
         FROM billing_invoice i LEFT JOIN billing_payment p ON p.invoice_id = i.id
        WHERE i.organisation_id = %(org)s AND i.written_off_at >= %(start)s
          AND i.written_off_at < %(end)s
        GROUP BY i.id""",
]


def measure(organisation, rounds: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from billing.accounting import datev_file

    content = datev_file(organisation=organisation, month=MONTH)  # warm-up, and checked
    lines = content.decode("cp1252").split("\r\n")[:-1]
    bookings = len(lines) - 2
    ours = []
    for _ in range(rounds):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            datev_file(organisation=organisation, month=MONTH)
            ours.append(time.perf_counter() - started)
    params = {
        "org": organisation.pk,
        "first": date(2026, 10, 1),
        "last": date(2026, 10, 31),
        "start": datetime(2026, 10, 1, tzinfo=ZONE),
        "end": datetime(2026, 11, 1, tzinfo=ZONE),
    }
    baseline, rows = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        rows = 0
        with connection.cursor() as cursor:
            for statement in BASELINE_SQL:
                cursor.execute(statement, params)
                rows += len(cursor.fetchall())
        baseline.append(time.perf_counter() - started)
    return {
        "bookings": bookings,
        "bytes": len(content),
        "queries": len(queries),
        "baseline_rows": rows,
        "ours": summary(ours),
        "baseline": summary(baseline),
    }


def table(figures: dict) -> list[list[str]]:
    ours, base = figures["ours"]["p50_ms"], figures["baseline"]["p50_ms"]
    return [
        TABLE_HEADER,
        [
            f"DATEV export, {figures['bookings']:,} bookings (p50)",
            f"{ours / 1000:.2f} s",
            f"{base / 1000:.2f} s",
            f"{ours / base:.1f}x",
            f"< {TARGET_S:.0f} s",
            verdict(ours / 1000 < TARGET_S and figures["bookings"] >= 10_000),
        ],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed exports (and baselines)")
    parser.add_argument("--seed", type=int, default=20261031)
    parser.add_argument("--drop-after", action="store_true", help="drop the database at the end")
    parser.add_argument("--output", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    os.chdir(ROOT)
    url = database_url("BENCH_ACCOUNTING_DATABASE_URL", "lemniscus_bench_accounting")
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="lemniscus.settings",
        DATABASE_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY") or "bench-only-secret-key",
        DEBUG="off",
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
    figures = measure(fixture["organisation"], args.rounds)
    results = {
        "command": " ".join([".venv/bin/python", "bench/accounting.py", *sys.argv[1:]]),
        "date": datetime.now(UTC).astimezone(ZONE).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": environment(url),
        "data": fixture["counts"],
        "seed_seconds": round(seed_seconds, 1),
        "figures": figures,
        "table": table(figures),
    }
    print(figures)
    print_table(results["table"])
    output = write_results("accounting", results, args.output)
    print(f"written to {output}")
    if args.drop_after:
        from django.db import connections

        connections.close_all()
        drop_database(url)


if __name__ == "__main__":
    main()
