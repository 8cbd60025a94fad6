"""Invoices in a record's treatment history (patients.retention), and their own
retention: booking records are kept 8 years after the end of their year (§ 147 AO),
and erased with the record only once that has passed too."""

from datetime import date

from django.db import transaction
from django.db.models import DateField, Max
from django.db.models.functions import Cast, Coalesce

from billing.models import DunningNotice, Invoice, InvoiceDocument, InvoiceLine, Payment
from patients.retention import HistorySource

INVOICE_RETENTION_YEARS = 8  # § 147 Abs. 3 AO (as amended 2025)


def _invoice_dates(patient):
    """Per invoice its date: the issue date, for a draft the day it was made."""
    return Invoice.objects.filter(patient_id=patient.pk).annotate(
        day=Coalesce("issue_date", Cast("created_at", DateField()))
    )


def latest_invoice(patient) -> date | None:
    """The latest invoice's date (a draft's in UTC: a day off at most, at a year's
    end only for a draft made on New Year's Eve night)."""
    return _invoice_dates(patient).aggregate(latest=Max("day"))["latest"]


def erase_invoices(patient, today: date) -> bool:
    """Deletes the record's invoices with their lines, payments, dunning notices and
    archived PDFs (files too) and history; False (nothing deleted) while one of them
    is still within its 8 years."""
    latest = latest_invoice(patient)
    if latest is not None and date(latest.year + INVOICE_RETENTION_YEARS, 12, 31) >= today:
        return False
    invoices = Invoice.objects.filter(patient_id=patient.pk)
    documents = InvoiceDocument.objects.filter(invoice__in=invoices)
    for document in documents:
        # The files go once the rows are gone for good: a rolled back erasure keeps both.
        storage, name = document.file.storage, document.file.name
        transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
    documents.delete()
    notices = DunningNotice.objects.filter(invoice__in=invoices)
    for notice in notices:
        storage, name = notice.file.storage, notice.file.name
        transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
    notices.delete()
    invoice_ids = list(invoices.values_list("pk", flat=True))
    # Reversals first: they point to the payments they reverse.
    Payment.objects.filter(invoice_id__in=invoice_ids, reverses__isnull=False).delete()
    Payment.objects.filter(invoice_id__in=invoice_ids).delete()
    InvoiceLine.objects.filter(invoice_id__in=invoice_ids).delete()
    invoices.delete()
    # the history last, with the "-" rows the deletes just wrote
    InvoiceLine.history.filter(invoice_id__in=invoice_ids).delete()
    Invoice.history.filter(id__in=invoice_ids).delete()
    return True


SOURCE = HistorySource(name="billing", latest_event=latest_invoice, erase=erase_invoices)
