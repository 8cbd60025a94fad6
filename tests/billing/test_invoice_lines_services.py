"""The line services of a draft (billing.services.invoice_line_*): totals, the
appointment's lock, the guard of issued invoices, concurrent edits."""

from decimal import Decimal

import pytest
from django.db import transaction

from appointments.models import Appointment
from billing import services
from billing.models import Invoice, InvoiceLine
from lemniscus.errors import InvalidStatus, NotFound, ValidationFailed
from tests.billing.conftest import make_draft

pytestmark = pytest.mark.django_db


def _totals(invoice) -> tuple[Decimal, Decimal, Decimal]:
    invoice.refresh_from_db()
    return invoice.net_total, invoice.vat_total, invoice.total


def test_add_update_remove_keep_the_totals(draft, admin_user):
    line = services.invoice_line_add(
        invoice=draft,
        actor=admin_user,
        code="HB",
        name="Hausbesuch",
        quantity=Decimal("1"),
        unit_price=Decimal("25.00"),
        vat_rate=Decimal("0.00"),
        tax_category="not_taxable",
    )
    assert _totals(draft) == (Decimal("147.70"), Decimal("4.79"), Decimal("152.49"))

    services.invoice_line_update(
        invoice=draft, line_id=line.public_id, actor=admin_user, quantity=Decimal("2")
    )
    assert _totals(draft) == (Decimal("172.70"), Decimal("4.79"), Decimal("177.49"))

    services.invoice_line_remove(invoice=draft, line_id=line.public_id, actor=admin_user)
    assert _totals(draft) == (Decimal("122.70"), Decimal("4.79"), Decimal("127.49"))


def test_a_new_rate_lets_the_category_follow(draft, admin_user):
    line = draft.lines.order_by("position").first()  # exempt therapy

    services.invoice_line_update(
        invoice=draft, line_id=line.public_id, actor=admin_user, vat_rate=Decimal("7.00")
    )

    line.refresh_from_db()
    assert (line.tax_category, line.vat_rate) == ("taxable", Decimal("7.00"))


def test_removing_the_last_line_of_an_appointment_releases_it(draft, admin_user, appointments):
    first, second = draft.lines.filter(appointment=appointments[0]).order_by("position")

    services.invoice_line_remove(invoice=draft, line_id=first.public_id, actor=admin_user)
    appointments[0].refresh_from_db()
    assert appointments[0].invoice_id == draft.pk  # its other line is still there

    services.invoice_line_remove(invoice=draft, line_id=second.public_id, actor=admin_user)
    appointments[0].refresh_from_db()
    assert appointments[0].invoice_id is None
    others = Appointment.objects.filter(pk__in=[a.pk for a in appointments[1:]])
    assert [a.invoice_id for a in others] == [draft.pk, draft.pk]


def test_discarding_a_draft_with_a_free_line_releases_its_appointments(
    draft, admin_user, appointments
):
    services.invoice_line_add(
        invoice=draft, actor=admin_user, name="Material", quantity=1, unit_price=5
    )

    services.invoice_cancel(invoice=draft, actor=admin_user)

    assert not Appointment.objects.filter(invoice=draft).exists()


def test_a_draft_with_a_free_line_renders_as_pdf(draft, admin_user):
    services.invoice_line_add(
        invoice=draft, actor=admin_user, name="Hausbesuch", quantity=1, unit_price=25
    )
    body = services.invoice_document(invoice=draft, actor=admin_user)
    assert body.startswith(b"%PDF")


def test_lines_of_anything_but_a_draft_are_refused(organisation, admin_user):
    invoice = make_draft(organisation=organisation, actor=admin_user)
    line = invoice.lines.get()
    Invoice.objects.filter(pk=invoice.pk).update(status="cancelled")

    with pytest.raises(InvalidStatus):
        services.invoice_line_add(
            invoice=invoice, actor=admin_user, name="X", quantity=1, unit_price=1
        )
    with pytest.raises(InvalidStatus):
        services.invoice_line_update(
            invoice=invoice, line_id=line.public_id, actor=admin_user, quantity=2
        )
    with pytest.raises(InvalidStatus):
        services.invoice_line_remove(invoice=invoice, line_id=line.public_id, actor=admin_user)


def test_a_line_of_another_invoice_is_not_found(draft, organisation, admin_user):
    other = make_draft(organisation=organisation, actor=admin_user)

    with pytest.raises(NotFound):
        services.invoice_line_remove(
            invoice=draft, line_id=other.lines.get().public_id, actor=admin_user
        )


def test_refused_change_rolls_back_entirely(draft, admin_user):
    before = _totals(draft)
    with pytest.raises(ValidationFailed):
        services.invoice_line_add(
            invoice=draft,
            actor=admin_user,
            name="Zu viel",
            quantity=Decimal("1"),
            unit_price=Decimal("99999999.99"),
        )
    assert _totals(draft) == before
    assert draft.lines.count() == 6


@pytest.mark.postgres
def test_the_guard_still_refuses_lines_of_an_issued_invoice(organisation, admin_user):
    """The services never need a way past the database guard (migration 0007)."""
    from django.db import DatabaseError

    organisation.street, organisation.postal_code, organisation.city = "Weg 1", "12345", "Ort"
    invoice = make_draft(organisation=organisation, actor=admin_user)
    Invoice.objects.filter(pk=invoice.pk).update(status="issued", number="2025-0001")

    with pytest.raises(DatabaseError), transaction.atomic():
        InvoiceLine.objects.create(
            invoice=invoice,
            service_date=organisation.today(),
            name="Nachträglich",
            unit_price=1,
            vat_rate=0,
            tax_category="exempt_therapy",
            amount=1,
        )
