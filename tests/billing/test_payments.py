"""Money in, the payments part (staff-api.md 1.1, "Money in"): recording payments,
partly paid, reversal, "bezahlt" for the open amount, write-off, the open and overdue
filters, the 409-before-422 order, and the database guard of payments."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.models import AuditEvent
from billing import services
from billing.models import InvoiceStatus, Payment
from billing.payments import open_amount, payment_record
from tests.billing.conftest import make_draft
from tests.conftest import assert_problem, token_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/invoices/"
PAYMENT_FIELDS = {"id", "amount", "date", "method", "note", "reverses", "created_at"}


@pytest.fixture
def issued(draft, admin_user):
    return services.invoice_issue(invoice=draft, actor=admin_user)  # total 127.49


def pay(api, invoice, amount, **extra):
    body = {"amount": amount, "date": str(timezone.localdate()), "method": "transfer", **extra}
    return api.post(f"{URL}{invoice.public_id}/payments", body, format="json")


def invoice(api, target) -> dict:
    return api.get(f"{URL}{target.public_id}/").json()


def test_a_payment_is_recorded_and_the_invoice_is_partly_paid(api, issued):
    response = pay(api, issued, "27.49", note="Teilzahlung")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PAYMENT_FIELDS
    assert body["amount"] == "27.49" and body["method"] == "transfer"
    assert body["reverses"] is None and body["note"] == "Teilzahlung"
    data = invoice(api, issued)
    assert data["status"] == "partly_paid"
    assert (data["paid_amount"], data["open_amount"]) == ("27.49", "100.00")
    assert [p["id"] for p in data["payments"]] == [body["id"]]
    assert data["paid_at"] is None


def test_paying_the_rest_makes_it_paid(api, issued):
    pay(api, issued, "100.00", method="cash")
    response = pay(api, issued, "27.49", method="card")
    assert response.status_code == 201
    data = invoice(api, issued)
    assert data["status"] == "paid" and data["open_amount"] == "0.00"
    assert data["paid_amount"] == "127.49" and data["paid_at"]


@pytest.mark.parametrize("method", ["transfer", "cash", "card", "direct_debit"])
def test_each_method_of_the_contract_is_taken_and_the_note_is_optional(api, issued, method):
    body = {"amount": "10.00", "date": str(timezone.localdate()), "method": method}

    response = api.post(f"{URL}{issued.public_id}/payments/", body, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["method"], response.json()["note"]) == (method, "")
    assert Payment.objects.get().method == method


def test_more_than_the_open_amount_is_422_and_changes_nothing(api, issued):
    pay(api, issued, "100.00")
    problem = assert_problem(pay(api, issued, "27.50"), 422, "validation_error")
    assert "27,49 €" in problem["detail"]
    assert Payment.objects.count() == 1
    for amount in ("0", "-5.00", "abc"):
        assert_problem(pay(api, issued, amount), 422, "validation_error")
    assert_problem(pay(api, issued, "1.00", method="cheque"), 422, "validation_error")
    future = str(timezone.localdate() + timedelta(days=3))
    assert_problem(pay(api, issued, "1.00", date=future), 422, "validation_error")
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("state", ["draft", "cancelled", "written_off"])
def test_status_is_checked_before_the_amount(api, draft, admin_user, state):
    target = draft
    if state == "cancelled":
        target = services.invoice_cancel(
            invoice=services.invoice_issue(invoice=draft, actor=admin_user), actor=admin_user
        )
    elif state == "written_off":
        issued = services.invoice_issue(invoice=draft, actor=admin_user)
        api.post(f"{URL}{issued.public_id}/write-off", {"reason": "verzogen"}, format="json")
    # an amount that would be 422 still answers 409: status first
    assert_problem(pay(api, target, "99999.00"), 409, "invalid_status")
    assert_problem(pay(api, target, "not a number"), 409, "invalid_status")
    assert not Payment.objects.exists()


def test_reversal_is_a_negative_payment_and_reopens(api, issued):
    first = pay(api, issued, "127.49").json()
    assert invoice(api, issued)["status"] == "paid"
    response = api.post(f"{URL}{issued.public_id}/payments/{first['id']}/reverse")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == "-127.49" and body["reverses"] == first["id"]
    data = invoice(api, issued)
    assert data["status"] == "issued" and data["open_amount"] == "127.49"
    assert data["paid_amount"] == "0.00" and data["paid_at"] is None
    assert len(data["payments"]) == 2  # never deleted
    again = api.post(f"{URL}{issued.public_id}/payments/{first['id']}/reverse/")
    assert_problem(again, 409, "invalid_status")
    reversal = api.post(f"{URL}{issued.public_id}/payments/{body['id']}/reverse")
    assert_problem(reversal, 409, "invalid_status")
    unknown = api.post(
        f"{URL}{issued.public_id}/payments/00000000-0000-0000-0000-000000000000/reverse"
    )
    assert_problem(unknown, 404, "not_found")


def test_pay_records_a_transfer_of_the_open_amount_today(api, issued):
    pay(api, issued, "27.49")
    response = api.post(f"{URL}{issued.public_id}/pay")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "paid"
    last = data["payments"][-1]
    assert (last["amount"], last["method"]) == ("100.00", "transfer")
    assert last["date"] == str(issued.organisation.today())
    assert_problem(api.post(f"{URL}{issued.public_id}/pay"), 409, "invalid_status")


def test_pay_on_a_draft_is_409(api, draft):
    assert_problem(api.post(f"{URL}{draft.public_id}/pay"), 409, "invalid_status")


@pytest.mark.parametrize("action", ["write-off", "cancel"])
def test_pay_with_nothing_open_is_409_and_records_nothing(api, issued, action):
    api.post(f"{URL}{issued.public_id}/{action}", {"reason": "Insolvenz"}, format="json")
    assert invoice(api, issued)["open_amount"] == "0.00"

    assert_problem(api.post(f"{URL}{issued.public_id}/pay"), 409, "invalid_status")
    assert not Payment.objects.exists()


def test_write_off_with_a_reason(api, issued):
    pay(api, issued, "27.49")
    assert_problem(
        api.post(f"{URL}{issued.public_id}/write-off", {"reason": "  "}, format="json"),
        422,
        "validation_error",
    )
    response = api.post(
        f"{URL}{issued.public_id}/write-off", {"reason": "Patient verstorben"}, format="json"
    )
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "written_off" and data["open_amount"] == "0.00"
    assert data["write_off_reason"] == "Patient verstorben" and data["written_off_at"]
    assert data["paid_amount"] == "27.49"
    again = api.post(f"{URL}{issued.public_id}/write-off", {"reason": "x"}, format="json")
    assert_problem(again, 409, "invalid_status")
    assert_problem(api.post(f"{URL}{issued.public_id}/cancel"), 409, "invalid_status")


@pytest.mark.parametrize("paid", ["0.00", "20.00", "127.49"])  # issued, partly paid, paid
def test_cancel_applies_to_issued_partly_paid_and_paid(api, issued, paid):
    if paid != "0.00":
        pay(api, issued, paid)
    assert invoice(api, issued)["paid_amount"] == paid

    response = api.post(f"{URL}{issued.public_id}/cancel")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled" and body["open_amount"] == "0.00"
    assert body["cancellation_number"]  # a Storno with its document, not a discarded draft
    assert body["paid_amount"] == paid  # the payments stay (a refund is a reversal)


def test_write_off_checks_the_status_before_the_reason(api, issued):
    pay(api, issued, "127.49")  # paid: nothing to write off

    response = api.post(f"{URL}{issued.public_id}/write-off", {"reason": ""}, format="json")

    assert_problem(response, 409, "invalid_status")
    assert invoice(api, issued)["status"] == "paid"


def test_open_and_overdue_filters(api, organisation, issued, admin_user, monkeypatch):
    paid = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )
    pay(api, paid, str(paid.total))
    past = timezone.now() - timedelta(days=organisation.payment_term_days + 2)
    with monkeypatch.context() as then:  # issued long enough ago to be past due now
        then.setattr(timezone, "now", lambda: past)
        partly = services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
    assert partly.due_date < organisation.today()
    pay(api, partly, "1.00")
    listed = lambda query: {i["id"] for i in api.get(f"{URL}?{query}").json()["results"]}  # noqa: E731
    assert listed("status=open") == {str(issued.public_id), str(partly.public_id)}
    assert listed("overdue=true") == {str(partly.public_id)}
    assert listed("status=paid") == {str(paid.public_id)}
    assert listed("status=partly_paid") == {str(partly.public_id)}
    assert_problem(api.get(f"{URL}?status=offen"), 422, "validation_error")


def test_payments_need_the_billing_right(organisation, issued):
    clerk = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))
    assert_problem(pay(clerk, issued, "1.00"), 403, "permission_denied")


def test_other_organisations_invoices_are_404(other_api, issued):
    assert_problem(pay(other_api, issued, "1.00"), 404, "not_found")


def test_actions_are_in_the_protokoll(api, issued):
    payment = pay(api, issued, "27.49").json()
    api.post(f"{URL}{issued.public_id}/payments/{payment['id']}/reverse")
    api.post(f"{URL}{issued.public_id}/write-off", {"reason": "Insolvenz"}, format="json")
    actions = list(
        AuditEvent.objects.filter(object_id=str(issued.public_id))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == ["payment.create", "payment.reverse", "invoice.write_off"]


def test_paying_in_parts_to_the_cent(issued, admin_user):
    payment_record(invoice=issued, actor=admin_user, amount=Decimal("127.00"), method="cash")
    payment_record(invoice=issued, actor=admin_user, amount=Decimal("0.49"), method="cash")
    issued.refresh_from_db()
    assert issued.status == InvoiceStatus.PAID and open_amount(issued) == 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is a PostgreSQL trigger")
def test_the_database_refuses_to_change_or_delete_a_payment(issued, admin_user):
    payment = payment_record(
        invoice=issued, actor=admin_user, amount=Decimal("10.00"), method="cash"
    )
    for statement in (
        "UPDATE billing_payment SET amount = 1 WHERE id = %s",
        "DELETE FROM billing_payment WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="nie geändert oder gelöscht"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [payment.pk])
    assert Payment.objects.get().amount == Decimal("10.00")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is a PostgreSQL trigger")
def test_a_written_off_invoice_changes_no_more_in_the_database(api, issued):
    api.post(f"{URL}{issued.public_id}/write-off", {"reason": "Insolvenz"}, format="json")
    with (
        pytest.raises(IntegrityError, match="abgeschrieben"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE billing_invoice SET status = 'paid' WHERE id = %s", [issued.pk])
