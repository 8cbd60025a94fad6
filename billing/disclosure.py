"""The record's invoices in a patient's disclosure ZIP (patients.disclosure):
`record.json` lists them as the API shows them, `rechnungen/` holds each issued
invoice's archived PDF (and its Stornorechnung), exactly as it was issued."""

from billing import selectors
from billing.archive import archived_document
from billing.models import DocumentKind
from billing.serializers import InvoiceOutput
from patients.disclosure import DisclosureSection


def _invoices(patient):
    return selectors.invoice_list(organisation=patient.organisation).filter(patient=patient)


def _records(patient, context) -> list:
    invoices = list(_invoices(patient))
    data = InvoiceOutput(invoices, many=True, context=context).data
    for item, invoice in zip(data, invoices, strict=True):
        item["files"] = [path for path, _ in _paths(invoice)]
    return data


def _paths(invoice):
    if invoice.number is None:
        return []
    paths = [(f"rechnungen/{invoice.number}.pdf", DocumentKind.INVOICE)]
    if invoice.cancellation_number:
        paths.append(
            (f"rechnungen/{invoice.cancellation_number}-Storno.pdf", DocumentKind.CANCELLATION)
        )
    return paths


def _files(patient):
    for invoice in _invoices(patient):
        for path, kind in _paths(invoice):
            yield path, archived_document(invoice=invoice, kind=kind)


SECTION = DisclosureSection(name="invoices", records=_records, files=_files)
