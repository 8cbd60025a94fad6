"""Dunning (staff-api.md 1.1, "Money in", **Dunning**): the levels, the proposals,
notices with their fee added to what is open, the order of refusals, the stored PDF
with its GiroCode for what is open then, the Protokoll and the database guard."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from billing import payments, services
from billing.dunning import NOTICE_TERM_DAYS, dunning_notice_create
from billing.models import DunningNotice, InvoiceStatus
from billing.payments import open_amount
from billing.pdf import dunning_html
from billing.selectors import access_invoice, invoice_search
from billing.tasks import dunning_proposals_task
from lemniscus.erasure import erasure
from tests.billing.conftest import make_draft
from tests.billing.test_girocode import _codes
from tests.conftest import assert_problem, token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/invoices/"
PROPOSALS = "/api/v1/dunning/proposals/"
NOTICE_FIELDS = {"id", "level", "name", "date", "fee", "due_date", "open_amount", "sent_at"}


def issued_days_overdue(organisation, actor, days: int, monkeypatch):
    """An invoice issued long enough ago to be `days` past its due date today."""
    past = timezone.now() - timedelta(days=organisation.payment_term_days + days)
    with monkeypatch.context() as then:
        then.setattr(timezone, "now", lambda: past)
        invoice = services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=actor), actor=actor
        )
    assert (organisation.today() - invoice.due_date).days == days
    return invoice


def dun(api, invoice):
    return api.post(f"{URL}{invoice.public_id}/dunning-notices")


def fresh(invoice):
    return access_invoice(organisation=invoice.organisation, public_id=invoice.public_id)


@pytest.fixture
def overdue(organisation, admin_user, monkeypatch):
    return issued_days_overdue(organisation, admin_user, 40, monkeypatch)


def test_practice_settings_default_to_the_three_levels_of_the_contract(api):
    levels = api.get("/api/v1/practice/").json()["dunning_levels"]
    assert levels == [
        {"level": 1, "name": "Zahlungserinnerung", "days_after_due": 7, "fee": "0.00"},
        {"level": 2, "name": "1. Mahnung", "days_after_due": 21, "fee": "5.00"},
        {"level": 3, "name": "2. Mahnung", "days_after_due": 35, "fee": "10.00"},
    ]


def test_proposals_list_overdue_open_invoices_with_their_next_level(
    api, organisation, admin_user, monkeypatch
):
    late = issued_days_overdue(organisation, admin_user, 8, monkeypatch)
    issued_days_overdue(organisation, admin_user, 3, monkeypatch)  # not yet level 1
    services.invoice_issue(  # not overdue at all
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    paid = issued_days_overdue(organisation, admin_user, 30, monkeypatch)
    services.invoice_pay(invoice=paid, actor=admin_user)

    body = api.get(PROPOSALS).json()

    assert body["count"] == 1
    (row,) = body["results"]
    assert row == {
        "id": str(late.public_id),
        "number": late.number,
        "patient_id": str(late.patient.public_id),
        "due_date": str(late.due_date),
        "open_amount": f"{late.total:.2f}",
        "days_overdue": 8,
        "next_level": {"level": 1, "name": "Zahlungserinnerung", "fee": "0.00"},
    }
    assert api.get(PROPOSALS.rstrip("/")).json()["count"] == 1  # with or without slash


def test_the_next_level_follows_the_notices_made(api, overdue):
    assert api.get(PROPOSALS).json()["results"][0]["next_level"]["level"] == 1
    dun(api, overdue)
    assert api.get(PROPOSALS).json()["results"][0]["next_level"] == {
        "level": 2,
        "name": "1. Mahnung",
        "fee": "5.00",
    }


def test_a_notice_is_made_for_the_next_level(api, organisation, overdue):
    response = dun(api, overdue)

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == NOTICE_FIELDS
    today = organisation.today()
    assert body["level"] == 1 and body["name"] == "Zahlungserinnerung"
    assert body["date"] == str(today)
    assert body["due_date"] == str(today + timedelta(days=NOTICE_TERM_DAYS))
    assert body["fee"] == "0.00"
    assert body["open_amount"] == f"{overdue.total:.2f}"
    second = dun(api, overdue).json()
    assert second["level"] == 2 and second["fee"] == "5.00"
    assert Decimal(second["open_amount"]) == overdue.total + Decimal("5.00")
    assert dun(api, overdue).json()["level"] == 3


def test_a_fee_is_added_to_what_is_open(api, organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    dun(api, invoice)  # level 1, no fee
    dun(api, invoice)  # level 2, 5.00
    body = api.get(f"{URL}{invoice.public_id}/").json()
    assert Decimal(body["open_amount"]) == invoice.total + Decimal("5.00")
    assert [n["level"] for n in body["dunning_notices"]] == [1, 2]
    listed = invoice_search(organisation=organisation, status="open").get(pk=invoice.pk)
    assert listed.open_amount == invoice.total + Decimal("5.00")


def test_partly_paid_until_total_and_fees_are_paid(api, organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    dun(api, invoice)
    dun(api, invoice)
    payment = {"amount": f"{invoice.total:.2f}", "date": str(organisation.today())}
    paid_total = api.post(
        f"{URL}{invoice.public_id}/payments", {**payment, "method": "cash"}, format="json"
    )
    assert paid_total.status_code == 201, paid_total.content
    assert fresh(invoice).status == InvoiceStatus.PARTLY_PAID  # the fee is still open
    too_much = api.post(
        f"{URL}{invoice.public_id}/payments",
        {"amount": "5.01", "date": payment["date"], "method": "cash"},
        format="json",
    )
    assert_problem(too_much, 422, "validation_error")
    rest = api.post(f"{URL}{invoice.public_id}/pay")
    assert rest.status_code == 200 and rest.json()["status"] == "paid"
    assert rest.json()["paid_amount"] == f"{invoice.total + Decimal('5.00'):.2f}"
    assert rest.json()["open_amount"] == "0.00"


def test_open_amount_stays_zero_once_written_off(api, organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    dun(api, invoice)
    dun(api, invoice)
    api.post(f"{URL}{invoice.public_id}/write-off", {"reason": "Insolvenz"}, format="json")
    assert open_amount(fresh(invoice)) == Decimal("0.00")
    assert api.get(f"{URL}{invoice.public_id}/").json()["open_amount"] == "0.00"


@pytest.mark.parametrize("state", ["paid", "cancelled", "written_off", "draft"])
def test_invalid_status_is_checked_first(api, organisation, admin_user, state, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 1, monkeypatch)  # not due either
    if state == "paid":
        services.invoice_pay(invoice=invoice, actor=admin_user)
    elif state == "cancelled":
        services.invoice_cancel(invoice=invoice, actor=admin_user)
    elif state == "written_off":
        api.post(f"{URL}{invoice.public_id}/write-off", {"reason": "verzogen"}, format="json")
    else:
        invoice = make_draft(organisation=organisation, actor=admin_user)

    assert_problem(dun(api, invoice), 409, "invalid_status")
    assert not DunningNotice.objects.exists()


def test_not_due_before_the_levels_days_have_passed(api, organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 6, monkeypatch)
    assert_problem(dun(api, invoice), 409, "dunning_not_due")
    later = issued_days_overdue(organisation, admin_user, 7, monkeypatch)
    assert dun(api, later).status_code == 201
    assert_problem(dun(api, later), 409, "dunning_not_due")  # level 2 only after 21 days
    assert DunningNotice.objects.count() == 1


def test_no_level_left_is_not_due_either(api, overdue):
    for _ in range(3):
        assert dun(api, overdue).status_code == 201
    response = dun(api, overdue)
    assert_problem(response, 409, "dunning_not_due")
    assert "alle Mahnstufen" in response.json()["detail"]


def test_the_practices_own_levels_count(api, organisation, admin_user, monkeypatch):
    organisation.dunning_levels = [
        {"level": 1, "name": "Erinnerung", "days_after_due": 2, "fee": "1.50"}
    ]
    organisation.save()
    invoice = issued_days_overdue(organisation, admin_user, 2, monkeypatch)
    body = dun(api, invoice).json()
    assert body["name"] == "Erinnerung" and body["fee"] == "1.50"
    assert Decimal(body["open_amount"]) == invoice.total + Decimal("1.50")


def test_other_organisations_and_clerks_are_refused(api, other_api, organisation, overdue):
    assert_problem(dun(other_api, overdue), 404, "not_found")
    clerk = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))
    assert_problem(dun(clerk, overdue), 403, "permission_denied")
    assert other_api.get(PROPOSALS).json()["count"] == 0
    notice = dun(api, overdue).json()
    pdf_url = f"/api/v1/dunning-notices/{notice['id']}/pdf"
    assert_problem(other_api.get(pdf_url), 404, "not_found")


def test_the_pdf_names_invoice_amounts_and_new_due_date_and_carries_the_girocode(
    api, organisation, admin_user, monkeypatch
):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    dun(api, invoice)
    notice = dun(api, invoice).json()  # 1. Mahnung, 5.00

    response = api.get(f"/api/v1/dunning-notices/{notice['id']}/pdf")

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    content = response.content
    stored = DunningNotice.objects.get(public_id=notice["id"])
    assert hashlib.sha256(content).hexdigest() == stored.sha256
    assert api.get(f"/api/v1/dunning-notices/{notice['id']}/pdf/").content == content
    (code,) = _codes(content)
    lines = code[1].decode().split("\n")
    expected = invoice.total + Decimal("5.00")
    assert lines[7] == f"EUR{expected:.2f}"
    assert lines[10] == invoice.number
    assert lines[6] == organisation.iban.replace(" ", "")


def test_the_girocode_asks_for_what_is_open_at_the_notice(
    api, organisation, admin_user, monkeypatch
):
    """ "A dunning notice's PDF carries one for what is open then": after a part
    payment and an earlier notice, the total less what came in plus all fees."""
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    dun(api, invoice)  # level 1, no fee
    payments.payment_record(
        invoice=fresh(invoice), actor=admin_user, amount=Decimal("20.00"), method="cash"
    )
    notice = dun(api, invoice).json()  # level 2, 5.00

    content = api.get(f"/api/v1/dunning-notices/{notice['id']}/pdf").content

    expected = invoice.total - Decimal("20.00") + Decimal("5.00")
    assert notice["open_amount"] == f"{expected:.2f}"
    (code,) = _codes(content)
    assert code[1].decode().split("\n")[7] == f"EUR{expected:.2f}"


def test_the_pdf_text_is_german_and_complete(organisation, admin_user, monkeypatch):
    invoice = issued_days_overdue(organisation, admin_user, 25, monkeypatch)
    dunning_notice_create(invoice=invoice, actor=admin_user)
    notice = dunning_notice_create(invoice=fresh(invoice), actor=admin_user)
    notice.paid_before = Decimal("0.00")
    html = dunning_html(notice)
    assert "1. Mahnung zur Rechnung " + invoice.number in html
    assert invoice.issue_date.strftime("%d.%m.%Y") in html
    assert notice.due_date.strftime("%d.%m.%Y") in html
    assert "5,00 €" in html and "Offener Betrag" in html and "IBAN" in html


def test_the_protokoll_names_the_notice_never_amounts(api, overdue):
    notice = dun(api, overdue).json()
    api.get(f"/api/v1/dunning-notices/{notice['id']}/pdf")
    events = AuditEvent.objects.filter(object_id=notice["id"]).order_by("id")
    assert [e.action for e in events] == ["dunning.create", "dunning.pdf"]
    assert all("€" not in e.detail and "." not in e.detail.split()[-1] for e in events)


def test_the_daily_task_counts_and_makes_nothing(overdue):
    assert dunning_proposals_task() == 1
    assert not DunningNotice.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is PostgreSQL's")
def test_the_database_refuses_to_change_or_delete_a_notice(api, overdue):
    notice = DunningNotice.objects.get(public_id=dun(api, overdue).json()["id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        DunningNotice.objects.filter(pk=notice.pk).update(fee=Decimal("0.01"))
    with pytest.raises(IntegrityError), transaction.atomic():
        DunningNotice.objects.filter(pk=notice.pk).delete()
    DunningNotice.objects.filter(pk=notice.pk).update(sent_at=timezone.now())
    with erasure():
        DunningNotice.objects.filter(pk=notice.pk).delete()
    assert not DunningNotice.objects.exists()
