"""The accountant's export (staff-api.md 1.1, "Money in", Accountant export): a month's
issued invoices, Stornos, payments and write-offs as a DATEV "EXTF" Buchungsstapel or
as a plain Rechnungsausgangsbuch (CSV).

The month is read in the organisation's zone. What belongs to it is gathered by
*booking sources*: functions `(organisation, first, last) -> list[Entry]`, one per
kind of document, each a query or two. A new kind (the dunning fees, once dunning
notices exist) is one more function appended to `SOURCES`.

An `Entry` is one document as the Rechnungsausgangsbuch lists it (signed amounts);
`datev_bookings` turns it into DATEV bookings (positive amounts with S/H), with the
accounts from the practice's `datev` settings (SKR03 defaults,
organisations.money_settings). docs/decisions.md "Accountant export" has the readings.
"""

import calendar
import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import DecimalField, F, OuterRef, Subquery, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.actions import Action
from audit.services import audit_record
from billing.models import (
    DunningNotice,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentMethod,
    TaxCategory,
)
from organisations.money_settings import normalize_datev

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class Kind:
    INVOICE = "Rechnung"
    CANCELLATION = "Storno"
    PAYMENT = "Zahlung"
    WRITE_OFF = "Abschreibung"
    DUNNING_FEE = "Mahngebühr"


# The Rechnungsausgangsbuch's net columns, by the datev account key they book to.
NET_COLUMNS = (
    ("revenue_exempt", "Netto steuerfrei"),
    ("revenue_7", "Netto 7 %"),
    ("revenue_19", "Netto 19 %"),
    ("revenue_not_taxable", "Netto nicht steuerbar"),
)


@dataclass
class Entry:
    """One document of the month. `nets` and `vat` only for invoices and Stornos
    (negative for a Storno); `gross` is signed: a Storno and a reversed payment are
    negative. `counter` names the money account of a payment (bank or cash)."""

    day: date
    kind: str
    document: str
    patient: str
    debtor: str
    gross: Decimal
    nets: dict[str, Decimal] = field(default_factory=dict)
    vat: dict[str, Decimal] = field(default_factory=dict)
    counter: str = ""


def revenue_account(tax_category: str, rate: Decimal) -> str:
    """The datev account key of a VAT group. A small business (§ 19 UStG) bills
    taxable services at 0.00: booked as exempt revenue (there is no § 19 account in
    the settings yet)."""
    if tax_category == TaxCategory.NOT_TAXABLE:
        return "revenue_not_taxable"
    if tax_category == TaxCategory.TAXABLE and rate == Decimal("19.00"):
        return "revenue_19"
    if tax_category == TaxCategory.TAXABLE and rate == Decimal("7.00"):
        return "revenue_7"
    return "revenue_exempt"


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of `YYYY-MM`; ValueError when malformed."""
    if len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        raise ValueError(month)
    first = date(int(month[:4]), int(month[5:]), 1)
    after = (first + timedelta(days=32)).replace(day=1)
    return first, after - timedelta(days=1)


def _annotated(queryset, prefix: str = "parties"):
    """Patient's and debtor's names from the frozen parties (never the record)."""
    return queryset.annotate(
        patient_name=KeyTextTransform("name", KeyTextTransform("patient", prefix)),
        debtor_last=KeyTextTransform("last_name", KeyTextTransform("recipient", prefix)),
        debtor_first=KeyTextTransform("first_name", KeyTextTransform("recipient", prefix)),
    )


def _debtor(row: dict) -> str:
    last, first = row.get("debtor_last") or "", row.get("debtor_first") or ""
    return f"{last}, {first}" if last and first else last or first


def _vat(net: Decimal, rate: Decimal) -> Decimal:
    return (net * rate / 100).quantize(CENT, ROUND_HALF_UP)


def _invoice_entries(organisation, rows: list[dict], kind: str, sign: int) -> list[Entry]:
    if not rows:
        return []
    groups: dict[int, list[tuple[str, Decimal, Decimal]]] = defaultdict(list)
    lines = (
        InvoiceLine.objects.filter(invoice_id__in=[row["id"] for row in rows])
        .values("invoice_id", "tax_category", "vat_rate")
        .annotate(net=Sum("amount"))
        .order_by()
    )
    for line in lines:
        groups[line["invoice_id"]].append((line["tax_category"], line["vat_rate"], line["net"]))
    entries = []
    for row in rows:
        entry = Entry(
            day=row["day"],
            kind=kind,
            document=row["document"],
            patient=row["patient_name"] or "",
            debtor=_debtor(row),
            gross=sign * row["total"],
        )
        for category, rate, net in groups[row["id"]]:
            account = revenue_account(category, rate)
            entry.nets[account] = entry.nets.get(account, ZERO) + sign * net
            entry.vat[account] = entry.vat.get(account, ZERO) + sign * _vat(net, rate)
        entries.append(entry)
    return entries


def issued_invoices(organisation, first: date, last: date) -> list[Entry]:
    """Every invoice issued in the month (also those cancelled or written off later)."""
    rows = list(
        _annotated(
            Invoice.objects.filter(
                organisation=organisation, number__isnull=False, issue_date__range=(first, last)
            )
        )
        .annotate(day=F("issue_date"), document=F("number"))
        .values("id", "day", "document", "total", "patient_name", "debtor_last", "debtor_first")
        .order_by("issue_date", "issued_at", "id")
    )
    return _invoice_entries(organisation, rows, Kind.INVOICE, 1)


def cancellations(organisation, first: date, last: date) -> list[Entry]:
    """Every Stornorechnung of the month: the invoice negated, with its own number."""
    rows = list(
        _annotated(
            Invoice.objects.filter(
                organisation=organisation,
                cancellation_number__isnull=False,
                cancellation_date__range=(first, last),
            )
        )
        .annotate(day=F("cancellation_date"), document=F("cancellation_number"))
        .values("id", "day", "document", "total", "patient_name", "debtor_last", "debtor_first")
        .order_by("cancellation_date", "cancelled_at", "id")
    )
    return _invoice_entries(organisation, rows, Kind.CANCELLATION, -1)


def payments(organisation, first: date, last: date) -> list[Entry]:
    """Every payment dated in the month; a reversal is a negative one."""
    rows = (
        _annotated(
            Payment.objects.filter(organisation=organisation, date__range=(first, last)),
            "invoice__parties",
        )
        .values(
            "date",
            "amount",
            "method",
            "invoice__number",
            "patient_name",
            "debtor_last",
            "debtor_first",
        )
        .order_by("date", "created_at", "id")
    )
    return [
        Entry(
            day=row["date"],
            kind=Kind.PAYMENT,
            document=row["invoice__number"],
            patient=row["patient_name"] or "",
            debtor=_debtor(row),
            gross=row["amount"],
            counter="cash" if row["method"] == PaymentMethod.CASH else "bank",
        )
        for row in rows
    ]


def write_offs(organisation, first: date, last: date) -> list[Entry]:
    """Every write-off of the month (its time in the organisation's zone): the amount
    that was open then, total − paid (nothing is paid or reversed after it)."""
    zone = organisation.zone
    start = datetime.combine(first, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    rows = (
        _annotated(
            Invoice.objects.filter(
                organisation=organisation,
                written_off_at__gte=start,
                written_off_at__lt=end,
                number__isnull=False,
            )
        )
        .annotate(
            paid=Coalesce(_sum_of(Payment, "amount"), ZERO),
            fees=Coalesce(_sum_of(DunningNotice, "fee"), ZERO),
        )
        .values(
            "written_off_at",
            "number",
            "total",
            "paid",
            "fees",
            "patient_name",
            "debtor_last",
            "debtor_first",
        )
        .order_by("written_off_at", "id")
    )
    return [
        Entry(
            day=timezone.localtime(row["written_off_at"], zone).date(),
            kind=Kind.WRITE_OFF,
            document=row["number"],
            patient=row["patient_name"] or "",
            debtor=_debtor(row),
            gross=row["total"] + row["fees"] - row["paid"],
        )
        for row in rows
        if row["total"] + row["fees"] - row["paid"] > 0
    ]


def _sum_of(model, column: str):
    """The sum of `column` over the invoice's rows of `model` (a subquery: two sums
    over joins would multiply each other)."""
    return Subquery(
        model.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(total=Sum(column))
        .values("total"),
        output_field=DecimalField(max_digits=10, decimal_places=2),
    )


def dunning_fees(organisation, first: date, last: date) -> list[Entry]:
    """Every dunning fee of the month (the notice's date): a claim that is not
    taxable (damages), booked like an invoice to `revenue_not_taxable`; the
    document is the invoice number with the level (`2026-0042-M2`)."""
    rows = (
        _annotated(
            DunningNotice.objects.filter(
                organisation=organisation, date__range=(first, last), fee__gt=0
            ),
            "invoice__parties",
        )
        .values(
            "date",
            "level",
            "fee",
            "invoice__number",
            "patient_name",
            "debtor_last",
            "debtor_first",
        )
        .order_by("date", "created_at", "id")
    )
    return [
        Entry(
            day=row["date"],
            kind=Kind.DUNNING_FEE,
            document=f"{row['invoice__number']}-M{row['level']}",
            patient=row["patient_name"] or "",
            debtor=_debtor(row),
            gross=row["fee"],
            nets={"revenue_not_taxable": row["fee"]},
        )
        for row in rows
    ]


# The booking sources, in the order the kinds are listed.
Source = Callable[[object, date, date], list[Entry]]
SOURCES: list[Source] = [issued_invoices, cancellations, dunning_fees, payments, write_offs]


def month_entries(*, organisation, month: str) -> list[Entry]:
    """Every entry of `month` (`YYYY-MM`, ValueError when malformed), by date, each
    day in the order of SOURCES."""
    first, last = month_bounds(month)
    entries = [entry for source in SOURCES for entry in source(organisation, first, last)]
    order = {kind: n for n, kind in enumerate(dict.fromkeys(e.kind for e in entries))}
    return sorted(entries, key=lambda entry: (entry.day, order[entry.kind]))


# --- DATEV ---------------------------------------------------------------------------

# The first 14 of the Buchungsstapel's columns (format version 13); DATEV reads them by
# position, so a line may end after the last used one.
DATEV_COLUMNS = (
    "Umsatz (ohne Soll/Haben-Kz)",
    "Soll/Haben-Kennzeichen",
    "WKZ Umsatz",
    "Kurs",
    "Basis-Umsatz",
    "WKZ Basis-Umsatz",
    "Konto",
    "Gegenkonto (ohne BU-Schlüssel)",
    "BU-Schlüssel",
    "Belegdatum",
    "Belegfeld 1",
    "Belegfeld 2",
    "Skonto",
    "Buchungstext",
)
HEADER_VERSION = 700
CATEGORY = 21
FORMAT_NAME = "Buchungsstapel"
FORMAT_VERSION = 13
ENCODING = "cp1252"
TEXT_LENGTH = 60
DOCUMENT_LENGTH = 36


@dataclass(frozen=True)
class Booking:
    amount: Decimal  # > 0
    side: str  # "S" or "H": Konto is debited (S) or credited (H)
    account: str  # settings key
    counter: str  # settings key
    day: date
    document: str
    text: str


def datev_bookings(entry: Entry) -> list[Booking]:
    """Invoice: Forderungen an Erlöse, one booking per revenue account, gross (the
    7 % and 19 % accounts are DATEV automatic accounts: DATEV takes the VAT out of
    the gross, no BU key). Storno: the same with H. Payment: Bank/Kasse an
    Forderungen (a reversal H). Write-off: Forderungsverluste an Forderungen."""
    text = f"{entry.kind} {entry.document} {entry.debtor}".strip()
    bookings = []

    def add(amount: Decimal, account: str, counter: str) -> None:
        if amount:
            side = "S" if amount > 0 else "H"
            bookings.append(
                Booking(abs(amount), side, account, counter, entry.day, entry.document, text)
            )

    if entry.nets:
        for account, net in entry.nets.items():
            add(net + entry.vat.get(account, ZERO), "receivables", account)
    elif entry.kind == Kind.PAYMENT:
        add(entry.gross, entry.counter, "receivables")
    elif entry.kind == Kind.WRITE_OFF:
        add(entry.gross, "bad_debt", "receivables")
    return bookings


def _fiscal_year_start(setting: str, first: date) -> date:
    """The start of the fiscal year that contains the month starting `first` (a day
    beyond the month's end, e.g. 02-30, is read as its last day)."""
    month, day = (int(part) for part in setting.split("-"))

    def on(year: int) -> date:
        return date(year, month, min(day, calendar.monthrange(year, month)[1]))

    start = on(first.year)
    return start if start <= first else on(first.year - 1)


def _amount(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def _text(value: str, limit: int) -> str:
    """Cut and made safe for Windows-1252 (what it cannot hold becomes "?"); the
    separator and quotes stay, csv quotes them."""
    clean = " ".join(value.split())[:limit]
    return clean.encode(ENCODING, "replace").decode(ENCODING)


def datev_header(*, organisation, month: str, now: datetime | None = None) -> list:
    first, last = month_bounds(month)
    settings = normalize_datev(organisation.datev or {})
    now = timezone.localtime(now or timezone.now(), organisation.zone)
    created = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
    return [
        "EXTF",
        HEADER_VERSION,
        CATEGORY,
        FORMAT_NAME,
        FORMAT_VERSION,
        created,
        "",  # imported (DATEV fills it)
        "RE",  # origin: Rechnungswesen
        "lemniscus",
        "",
        settings["advisor_number"],
        settings["client_number"],
        _fiscal_year_start(settings["fiscal_year_start"], first).strftime("%Y%m%d"),
        settings["account_length"],
        first.strftime("%Y%m%d"),
        last.strftime("%Y%m%d"),
        _text(f"Rechnungen {first:%m/%Y}", 30),
        "",  # Diktatkürzel
        1,  # Buchungstyp: Finanzbuchführung
        0,  # Rechnungslegungszweck: unabhängig
        0,  # Festschreibung: nein, the advisor checks first
        "EUR",
        "",
        "",
        "",
        "",
        "03",  # Sachkontenrahmen SKR03
        "",
        "",
        "",
        "",
    ]


def datev_file(*, organisation, month: str, entries: Iterable[Entry] | None = None) -> bytes:
    """The EXTF Buchungsstapel as bytes: Windows-1252, CRLF, `;`. Texts are quoted,
    numbers and account numbers are not (DATEV's rule; Python's csv module can only
    quote all or none of the cells, so the lines are joined here, quotes doubled)."""
    entries = month_entries(organisation=organisation, month=month) if entries is None else entries
    accounts = normalize_datev(organisation.datev or {})["accounts"]
    out = io.StringIO()
    header = datev_header(organisation=organisation, month=month)
    out.write(";".join(_cell(value) for value in header) + "\r\n")
    out.write(";".join(_quote(name) for name in DATEV_COLUMNS) + "\r\n")
    for entry in entries:
        for booking in datev_bookings(entry):
            out.write(
                ";".join(
                    (
                        _amount(booking.amount),
                        _quote(booking.side),
                        _quote("EUR"),
                        "",
                        "",
                        "",
                        accounts[booking.account],
                        accounts[booking.counter],
                        "",
                        booking.day.strftime("%d%m"),
                        _quote(_text(_document(booking.document), DOCUMENT_LENGTH)),
                        "",
                        "",
                        _quote(_text(booking.text, TEXT_LENGTH)),
                    )
                )
                + "\r\n"
            )
    return out.getvalue().encode(ENCODING, "replace")


def _document(value: str) -> str:
    """Belegfeld 1 allows letters, digits and `$&%*+-/`; anything else is dropped."""
    return "".join(c for c in value if c.isascii() and (c.isalnum() or c in "$&%*+-/"))


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _cell(value) -> str:
    return _quote(value) if isinstance(value, str) else str(value)


# --- Rechnungsausgangsbuch (CSV) -------------------------------------------------------

CSV_COLUMNS = (
    "Datum",
    "Belegnummer",
    "Art",
    "Patient/in",
    *(label for _, label in NET_COLUMNS),
    "USt",
    "Brutto",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _safe(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def journal_file(*, organisation, month: str, entries: Iterable[Entry] | None = None) -> bytes:
    """Date, document number, kind, patient, net per tax category, VAT, gross: one row
    per document, signed (a Storno and a reversal negative). UTF-8 with BOM, `;`,
    decimal comma, CRLF."""
    entries = month_entries(organisation=organisation, month=month) if entries is None else entries
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        nets = [_amount(entry.nets[key]) if key in entry.nets else "" for key, _ in NET_COLUMNS]
        vat = sum(entry.vat.values(), ZERO)
        writer.writerow(
            [
                entry.day.strftime("%d.%m.%Y"),
                entry.document,
                entry.kind,
                _safe(entry.patient),
                *nets,
                _amount(vat) if entry.nets else "",
                _amount(entry.gross),
            ]
        )
    return out.getvalue().encode("utf-8")


def export_filename(*, month: str, file_format: str) -> str:
    if file_format == "datev":
        return f"EXTF_Buchungsstapel_{month}.csv"
    return f"Rechnungsausgangsbuch_{month}.csv"


FORMATS = ("datev", "csv")


def accounting_export(*, organisation, actor, month: str, file_format: str) -> tuple[bytes, str]:
    """The month's file in `file_format` and its name; the download is logged (the
    month and the format, never amounts or names). ValueError on a malformed month or
    an unknown format."""
    if file_format not in FORMATS:
        raise ValueError(file_format)
    writer = datev_file if file_format == "datev" else journal_file
    content = writer(organisation=organisation, month=month)
    audit_record(
        organisation=organisation,
        actor=actor,
        action=Action.EXPORT_ACCOUNTING,
        detail=f"month={month}, format={file_format}",
    )
    return content, export_filename(month=month, file_format=file_format)
