import pytest

from billing.models import Invoice, InvoiceLine, InvoiceStatus


@pytest.fixture
def put_on_invoice():
    """Put an appointment on an invoice of its patient, as billing does."""

    def put(appointment, status=InvoiceStatus.ISSUED):
        invoice = Invoice.objects.create(
            organisation=appointment.organisation,
            patient=appointment.patient,
            status=status,
            number=None
            if status == InvoiceStatus.DRAFT
            else f"2025-{Invoice.objects.count() + 1:04}",
        )
        InvoiceLine.objects.create(
            invoice=invoice,
            appointment=appointment,
            service_date=appointment.start.date(),
            name="Krankengymnastik",
            unit_price="65.00",
            vat_rate="0.00",
            amount="65.00",
        )
        if status != InvoiceStatus.CANCELLED:
            appointment.invoice = invoice
            appointment.save(update_fields=["invoice"])
        return invoice

    return put
