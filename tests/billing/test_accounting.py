"""The accountant's export (staff-api.md 1.1, "Money in", Accountant export): the
DATEV EXTF Buchungsstapel parsed back (header, columns, sums per account, Storno and
write-off, the month boundary in the organisation's zone, tenancy), the
Rechnungsausgangsbuch CSV, the 422s and the Protokoll."""

import csv
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from billing import services
from billing.accounting import DATEV_COLUMNS
from billing.payments import invoice_write_off, payment_record, payment_reverse
from tests.billing.conftest import MIXED, make_draft
from tests.conftest import assert_problem, token_client
from tests.factories import ServiceChainFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounting-export"
MONTH = "2026-10"


def at(monkeypatch, moment: datetime, action):
    with monkeypatch.context() as then:
        then.setattr(timezone, "now", lambda: moment)
        return action()


@pytest.fixture
def october(organisation, admin_user, monkeypatch):
    """Invoices of October 2026 (Berlin): A (mixed: exempt + 19 %) paid by transfer;
    B partly paid in cash, then written off; C cancelled (Storno); E issued 22:30 UTC
    on 30 September (October in Berlin) with a transfer taken back; D issued 23:30 UTC
    on 31 October (November in Berlin)."""
    organisation.datev = {
        "advisor_number": "1234567",
        "client_number": "12345",
        "fiscal_year_start": "07-01",
        "account_length": 4,
    }
    organisation.save()
    mixed = ServiceChainFactory(organisation=organisation, services=MIXED)
    drafts = {
        name: make_draft(organisation=organisation, actor=admin_user, chain=chain)
        for name, chain in (("A", mixed), ("B", None), ("C", None), ("D", None), ("E", None))
    }
    issue_times = {
        "E": datetime(2026, 9, 30, 22, 30, tzinfo=UTC),
        "A": datetime(2026, 10, 5, 10, tzinfo=UTC),
        "B": datetime(2026, 10, 7, 10, tzinfo=UTC),
        "C": datetime(2026, 10, 9, 10, tzinfo=UTC),
        "D": datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
    }
    issued = {
        name: at(
            monkeypatch,
            moment,
            lambda name=name: services.invoice_issue(invoice=drafts[name], actor=admin_user),
        )
        for name, moment in issue_times.items()
    }
    a, b, c, e = issued["A"], issued["B"], issued["C"], issued["E"]
    pay = dict(actor=admin_user)
    payment_record(invoice=a, amount=a.total, method="transfer", date=date(2026, 10, 6), **pay)
    payment_record(invoice=b, amount=Decimal("10.00"), method="cash", date=date(2026, 10, 8), **pay)
    taken = payment_record(
        invoice=e, amount=Decimal("5.00"), method="card", date=date(2026, 10, 2), **pay
    )
    at(
        monkeypatch,
        datetime(2026, 10, 3, 9, tzinfo=UTC),
        lambda: payment_reverse(invoice=e, payment_id=taken.public_id, actor=admin_user),
    )
    at(
        monkeypatch,
        datetime(2026, 10, 20, 9, tzinfo=UTC),
        lambda: invoice_write_off(invoice=b, actor=admin_user, reason="Insolvenz"),
    )
    at(
        monkeypatch,
        datetime(2026, 10, 10, 9, tzinfo=UTC),
        lambda: services.invoice_cancel(invoice=c, actor=admin_user),
    )
    for invoice in issued.values():
        invoice.refresh_from_db()
    return issued


def datev(api, month=MONTH):
    response = api.get(f"{URL}?month={month}&format=datev")
    assert response.status_code == 200, response.content
    assert (
        response["Content-Disposition"] == f'attachment; filename="EXTF_Buchungsstapel_{month}.csv"'
    )
    text = response.content.decode("cp1252")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return list(csv.reader(text.split("\r\n")[:-1], delimiter=";"))


def amount(cell: str) -> Decimal:
    assert "." not in cell and not cell.startswith("-")
    return Decimal(cell.replace(",", "."))


def sums(bookings) -> dict[tuple[str, str], Decimal]:
    """Debit and credit per account: (account, "S"|"H") -> sum."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in bookings:
        value, side, account, counter = amount(row[0]), row[1], row[6], row[7]
        totals[account, side] += value
        totals[counter, "H" if side == "S" else "S"] += value
    return totals


def test_the_header_record_names_the_practice_and_the_month(api, october):
    header = datev(api)[0]
    assert header[:5] == ["EXTF", "700", "21", "Buchungsstapel", "13"]
    assert len(header[5]) == 17 and header[5].isdigit()  # YYYYMMDDHHMMSSFFF
    assert header[10:16] == ["1234567", "12345", "20260701", "4", "20261001", "20261031"]
    assert header[21] == "EUR"
    assert len(header) == 31


def test_every_booking_line_has_the_column_lines_fields(api, october):
    rows = datev(api)
    assert tuple(rows[1]) == DATEV_COLUMNS
    assert len(rows) > 2
    assert {len(row) for row in rows[2:]} == {len(DATEV_COLUMNS)}
    for row in rows[2:]:
        assert row[1] in ("S", "H") and row[2] == "EUR" and row[8] == ""
        assert len(row[9]) == 4 and row[9][2:] == "10"  # TTMM in October


def test_sums_per_account_are_the_months_invoices_and_payments(api, october):
    a, b, c, d, e = (october[name] for name in "ABCDE")
    bookings = datev(api)[2:]
    totals = sums(bookings)
    issued = a.total + b.total + c.total + e.total  # D is November's
    taken_back = Decimal("5.00")  # E's card payment and its reversal
    assert totals["1400", "S"] == issued + taken_back  # the reversal reopens E
    # Credits on receivables: the Storno, the payments, the write-off.
    paid_b = Decimal("10.00")
    assert totals["1400", "H"] == c.total + a.total + paid_b + taken_back + (b.total - paid_b)
    assert totals["1200", "S"] == a.total + Decimal("5.00")  # transfer A, card E
    assert totals["1200", "H"] == Decimal("5.00")  # E's card payment taken back
    assert totals["1000", "S"] == paid_b
    assert totals["2400", "S"] == b.total - paid_b
    # A's 19 % part is booked gross on the automatic account 8400, without BU key.
    vat_19 = sum(line.amount for line in a.lines.all() if line.vat_rate == Decimal("19.00"))
    assert totals["8400", "H"] == a.total - (a.net_total - vat_19)
    assert totals["8100", "H"] == a.net_total - vat_19 + b.total + c.total + e.total
    assert totals["8100", "S"] == c.total  # the Storno
    assert not any(d.number in row[10] for row in bookings)


def test_storno_and_write_off_bookings(api, october):
    b, c = october["B"], october["C"]
    bookings = datev(api)[2:]
    storno = [row for row in bookings if row[10] == c.cancellation_number]
    assert [(row[1], row[6], row[7], amount(row[0])) for row in storno] == [
        ("H", "1400", "8100", c.total)
    ]
    assert storno[0][9] == "1010" and storno[0][13].startswith(f"Storno {c.cancellation_number}")
    write_off = [row for row in bookings if row[13].startswith("Abschreibung")]
    assert [(row[1], row[6], row[7], row[9], row[10]) for row in write_off] == [
        ("S", "2400", "1400", "2010", b.number)
    ]


def test_the_month_is_the_organisations_zone(api, october):
    e, d = october["E"], october["D"]
    assert e.issue_date == date(2026, 10, 1) and d.issue_date == date(2026, 11, 1)
    september = datev(api, "2026-09")[2:]
    assert september == []
    november = datev(api, "2026-11")
    assert [row[10] for row in november[2:]] == [d.number]
    assert november[0][14:16] == ["20261101", "20261130"]


def test_other_organisations_data_never_appears(october, other_organisation, monkeypatch):
    other_admin = UserFactory(organisation=other_organisation)
    draft = make_draft(organisation=other_organisation, actor=other_admin)
    draft = at(
        monkeypatch,
        datetime(2026, 10, 15, 10, tzinfo=UTC),
        lambda: services.invoice_issue(invoice=draft, actor=other_admin),
    )
    theirs = datev(token_client(other_admin))[2:]
    assert [row[13] for row in theirs] == [f"Rechnung {draft.number} {draft_debtor(draft)}"]
    ours = {invoice.parties["patient"]["name"] for invoice in october.values()}
    assert not any(name in row[13] for row in theirs for name in ours)


def draft_debtor(invoice) -> str:
    invoice.refresh_from_db()
    recipient = invoice.parties["recipient"]
    return f"{recipient['last_name']}, {recipient['first_name']}"


def test_characters_beyond_windows_1252_are_replaced(api, october, organisation, admin_user):
    a = october["A"]
    # The debtor's name comes from the frozen parties; a name with a character cp1252
    # lacks must not break the file.
    from billing.accounting import Entry, datev_file

    entry = Entry(
        day=date(2026, 10, 5),
        kind="Zahlung",
        document=a.number,
        patient="Ewa Łukasz 😀",
        debtor="Łukasz, Ewa 😀",
        gross=Decimal("1.00"),
        counter="bank",
    )
    content = datev_file(organisation=organisation, month=MONTH, entries=[entry])
    row = content.decode("cp1252").split("\r\n")[2].split(";")
    assert row[13] == f'"Zahlung {a.number} ?ukasz, Ewa ?"'


def test_the_csv_journal(api, october):
    a, b, c, e = (october[name] for name in "ABCE")
    response = api.get(f"{URL}?month={MONTH}&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(response.content.decode("utf-8-sig").split("\r\n")[:-1], delimiter=";"))
    assert rows[0] == [
        "Datum",
        "Belegnummer",
        "Art",
        "Patient/in",
        "Netto steuerfrei",
        "Netto 7 %",
        "Netto 19 %",
        "Netto nicht steuerbar",
        "USt",
        "Brutto",
    ]
    body = rows[1:]
    assert {len(row) for row in body} == {10}
    kinds = defaultdict(Decimal)
    for row in body:
        kinds[row[2]] += amount(row[9].lstrip("-")) * (-1 if row[9].startswith("-") else 1)
    assert kinds["Rechnung"] == a.total + b.total + c.total + e.total
    assert kinds["Storno"] == -c.total
    assert kinds["Zahlung"] == a.total + Decimal("10.00")  # E's 5.00 and its reversal
    assert kinds["Abschreibung"] == b.total - Decimal("10.00")
    invoice_a = next(row for row in body if row[1] == a.number and row[2] == "Rechnung")
    assert invoice_a[0] == "05.10.2026" and invoice_a[3] == a.parties["patient"]["name"]
    assert amount(invoice_a[8]) == a.vat_total and amount(invoice_a[9]) == a.total
    assert amount(invoice_a[4]) + amount(invoice_a[6]) == a.net_total


@pytest.mark.parametrize(
    "query",
    [
        "format=datev",
        "month=2026-13&format=datev",
        "month=2026-1&format=csv",
        "month=Oktober&format=csv",
        "month=2026-10&format=xlsx",
        "month=2026-10",
    ],
)
def test_a_bad_month_or_format_is_422(api, query):
    assert_problem(api.get(f"{URL}?{query}"), 422, "validation_error")


def test_the_export_needs_the_billing_right_and_is_logged(api, organisation, october):
    clerk = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))
    assert_problem(clerk.get(f"{URL}?month={MONTH}&format=csv"), 403, "permission_denied")
    api.get(f"{URL}?month={MONTH}&format=datev")
    event = AuditEvent.objects.filter(action="export.accounting").get()
    assert event.detail == f"month={MONTH}, format=datev"


@pytest.mark.parametrize(
    "setting,month,start",
    [
        ("01-01", "2026-10", "20260101"),
        ("07-01", "2026-06", "20250701"),
        ("07-01", "2026-07", "20260701"),
        ("02-30", "2026-03", "20260228"),
    ],
)
def test_the_fiscal_year_start_is_that_of_the_month(organisation, setting, month, start):
    from billing.accounting import datev_header

    organisation.datev = {"fiscal_year_start": setting}
    assert datev_header(organisation=organisation, month=month)[12] == start


def test_the_export_takes_a_constant_number_of_queries(
    october, organisation, django_assert_max_num_queries
):
    from billing.accounting import datev_file, journal_file

    with django_assert_max_num_queries(7):  # five sources, two of them with their lines
        datev_file(organisation=organisation, month=MONTH)
    with django_assert_max_num_queries(7):
        journal_file(organisation=organisation, month=MONTH)


def test_dunning_fees_are_booked_and_written_off_with_the_rest(
    api, organisation, admin_user, monkeypatch
):
    """A fee is a claim that is not taxable: Forderungen an 8200 on the notice's day;
    a write-off afterwards takes the fee with it."""
    from billing.dunning import dunning_notice_create
    from billing.payments import invoice_write_off
    from tests.billing.test_dunning import issued_days_overdue

    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)  # level 2 is due
    dunning_notice_create(invoice=invoice, actor=admin_user)  # level 1, no fee
    notice = dunning_notice_create(invoice=invoice, actor=admin_user)  # level 2, 5.00
    invoice_write_off(invoice=invoice, actor=admin_user, reason="verzogen")
    month = organisation.today().strftime("%Y-%m")
    bookings = datev(api, month)[2:]  # after the header record and the column line
    fees = [b for b in bookings if b[10] == f"{invoice.number}-M2"]  # Belegfeld 1
    assert len(fees) == 1 and amount(fees[0][0]) == notice.fee == Decimal("5.00")
    assert (fees[0][1], fees[0][6], fees[0][7]) == ("S", "1400", "8200")  # Konto, Gegenkonto
    loss = [b for b in bookings if b[6] == "2400"]
    assert len(loss) == 1 and amount(loss[0][0]) == invoice.total + Decimal("5.00")
