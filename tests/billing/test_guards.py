"""Issued invoices are unalterable below the API: raw SQL against PostgreSQL is refused
by the triggers of billing 0007, and the transitions the services make still work."""

import pytest
from django.db import IntegrityError, connection, transaction

from appointments.models import Appointment
from billing import services
from billing.models import Invoice, InvoiceDocument, InvoiceLine, InvoiceSequence
from lemniscus.erasure import erasure

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _sql(statement: str, params=()) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _refused(statement: str, params=()) -> str:
    """The database's German refusal; nothing changed (the savepoint rolled back)."""
    with pytest.raises(IntegrityError) as refusal, transaction.atomic():
        _sql(statement, params)
    return str(refusal.value)


@pytest.fixture
def issued(admin_user, draft):
    return services.invoice_issue(invoice=draft, actor=admin_user)


def test_update_of_an_issued_invoices_total_is_refused(issued):
    message = _refused("UPDATE billing_invoice SET total = 1 WHERE id = %s", [issued.pk])

    assert f"Die Rechnung {issued.number} ist gestellt und kann nicht geändert werden" in message
    issued.refresh_from_db()
    assert str(issued.total) == "127.49"


def test_update_of_a_lines_amount_is_refused(issued):
    line = issued.lines.first()

    message = _refused("UPDATE billing_invoiceline SET amount = 0 WHERE id = %s", [line.pk])

    assert "Positionen der gestellten Rechnung" in message
    line.refresh_from_db()
    assert str(line.amount) == "32.50"


def test_delete_of_an_issued_invoice_is_refused(issued):
    message = _refused("DELETE FROM billing_invoice WHERE id = %s", [issued.pk])

    assert "wird nie gelöscht" in message
    assert Invoice.objects.filter(pk=issued.pk).exists()


def test_delete_of_a_line_is_refused(issued):
    count = issued.lines.count()

    _refused("DELETE FROM billing_invoiceline WHERE invoice_id = %s", [issued.pk])

    assert issued.lines.count() == count


def test_a_line_is_not_added_to_an_issued_invoice(issued):
    line = issued.lines.first()

    _refused(
        "INSERT INTO billing_invoiceline (public_id, invoice_id, appointment_id, position, "
        "service_date, code, name, quantity, unit_price, vat_rate, tax_category, amount) "
        "VALUES (gen_random_uuid(), %s, %s, 99, CURRENT_DATE, '', 'Zusatz', 1, 5, 0, "
        "'exempt_therapy', 5)",
        [issued.pk, line.appointment_id],
    )

    assert issued.lines.count() == 6


@pytest.mark.parametrize(
    "change",
    [
        "number = '2099-9999'",
        "issue_date = issue_date - 1",
        "patient_id = patient_id",  # unchanged: allowed, see below
        "parties = '{}'::jsonb",
        "diagnosis = 'geändert'",
    ],
)
def test_only_the_transition_columns_may_change(issued, change):
    statement = f"UPDATE billing_invoice SET {change} WHERE id = %s"
    if change == "patient_id = patient_id":
        assert _sql(statement, [issued.pk]) == 1  # writing the same value changes nothing
    else:
        _refused(statement, [issued.pk])


def test_an_issued_invoice_never_becomes_a_draft_again(issued):
    message = _refused("UPDATE billing_invoice SET status = 'draft' WHERE id = %s", [issued.pk])

    assert "nicht wieder zum Entwurf" in message


def test_a_cancelled_invoice_does_not_change_any_more(admin_user, issued):
    services.invoice_cancel(invoice=issued, actor=admin_user)

    _refused("UPDATE billing_invoice SET status = 'paid' WHERE id = %s", [issued.pk])
    _refused(
        "UPDATE billing_invoice SET cancellation_number = 'ST-2099-0001' WHERE id = %s",
        [issued.pk],
    )


def test_the_allowed_transitions_still_work(admin_user, issued):
    paid = services.invoice_pay(invoice=issued, actor=admin_user)
    cancelled = services.invoice_cancel(invoice=paid, actor=admin_user)

    assert (cancelled.status, cancelled.number) == ("cancelled", issued.number)
    assert cancelled.cancellation_number.startswith("ST-")
    assert cancelled.documents.count() == 2
    assert _sql("UPDATE billing_invoice SET updated_at = now() WHERE id = %s", [issued.pk]) == 1


def test_drafts_stay_writable(admin_user, draft):
    assert _sql("UPDATE billing_invoice SET diagnosis = 'M54.5' WHERE id = %s", [draft.pk]) == 1
    assert _sql("UPDATE billing_invoiceline SET amount = 1 WHERE invoice_id = %s", [draft.pk]) == 6


def test_queryset_update_and_model_save_are_refused_too(issued):
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.filter(pk=issued.pk).update(total=0)
    issued.diagnosis = "nachträglich"
    with pytest.raises(IntegrityError), transaction.atomic():
        issued.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        issued.lines.first().delete()


def test_archived_pdfs_and_history_are_append_only(issued):
    document = issued.documents.get()

    _refused("UPDATE billing_invoicedocument SET sha256 = 'x' WHERE id = %s", [document.pk])
    _refused("DELETE FROM billing_invoicedocument WHERE id = %s", [document.pk])
    _refused("UPDATE billing_historicalinvoice SET total = 0 WHERE id = %s", [issued.pk])
    _refused("DELETE FROM billing_historicalinvoiceline WHERE invoice_id = %s", [issued.pk])
    assert InvoiceDocument.objects.filter(pk=document.pk, sha256=document.sha256).exists()


def test_number_ranges_only_count_forwards(issued):
    sequence = InvoiceSequence.objects.get(last_number=1)

    _refused("UPDATE billing_invoicesequence SET last_number = 0 WHERE id = %s", [sequence.pk])
    _refused("DELETE FROM billing_invoicesequence WHERE id = %s", [sequence.pk])


def test_only_the_erasure_may_delete(issued):
    """The erasure of records past retention (§ 147 AO) opens the guard for its own
    transaction, to delete – never to change."""
    with erasure():
        _refused("UPDATE billing_invoice SET total = 0 WHERE id = %s", [issued.pk])
        InvoiceDocument.objects.filter(invoice=issued).delete()
        InvoiceLine.objects.filter(invoice=issued).delete()
        Invoice.history.filter(id=issued.pk).delete()
        Appointment.objects.filter(invoice=issued).update(invoice=None)
        Invoice.objects.filter(pk=issued.pk).delete()
    assert not Invoice.objects.filter(pk=issued.pk).exists()

    # and the guard is closed again after it
    with erasure():
        pass
    assert not _setting_on()


def _setting_on() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT lemniscus_erasure_allowed()")
        return cursor.fetchone()[0]


def test_lines_have_history_with_their_actor(admin_user, draft):
    line = draft.lines.first()

    history = line.history.all()

    assert [(h.history_type, h.history_user) for h in history] == [("+", admin_user)]
