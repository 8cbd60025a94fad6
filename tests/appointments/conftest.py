import pytest

from billing.models import InvoiceStatus
from tests.factories import invoice_over


@pytest.fixture
def put_on_invoice():
    """Put an appointment on an invoice of its patient, as billing does."""

    def put(appointment, status=InvoiceStatus.ISSUED):
        return invoice_over(appointment, status, lock=status != InvoiceStatus.CANCELLED)

    return put
