"""Issued invoices archived as issued (staff-api.md 1.1, "Archived as issued"; GoBD).

Issuing renders the invoice's PDF once and stores it through Django's storage API
(the default storage: MEDIA_ROOT unless configured otherwise) with its SHA-256; a
Storno stores its Stornorechnung the same way. From then on the PDF is these bytes,
whatever happens to the invoice: they are read back and checked against the hash,
never rendered again."""

import hashlib
import logging

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from billing import pdf
from billing.models import DocumentKind, Invoice, InvoiceDocument
from lemniscus.errors import ArchiveDamaged

logger = logging.getLogger(__name__)

RENDER = {DocumentKind.INVOICE: pdf.invoice_pdf, DocumentKind.CANCELLATION: pdf.cancellation_pdf}


def archive_store(*, invoice: Invoice, kind: str) -> InvoiceDocument:
    """Render the document once and store it with its hash; the row is written in
    the caller's transaction (issuing, cancelling), as its last step.

    Files are not transactional: should the transaction fail after this, the file
    stays without a row (docs/decisions.md, "Archive")."""
    content = RENDER[kind](invoice)
    document = InvoiceDocument(
        invoice=invoice,
        kind=kind,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
    document.file.save(f"{invoice.public_id}.pdf", ContentFile(content), save=False)
    try:
        with transaction.atomic():
            document.save()
    except Exception:
        document.file.storage.delete(document.file.name)
        raise
    return document


def archived_document(*, invoice: Invoice, kind: str = DocumentKind.INVOICE) -> bytes:
    """The stored bytes of the invoice's document of `kind`, checked against their
    hash. An invoice issued before the archive existed is archived on its first
    read (rendered once, then stored like any other)."""
    # the documents as the invoice selectors prefetch them
    document = next((d for d in invoice.documents.all() if d.kind == kind), None)
    if document is None:
        document = _archive_late(invoice=invoice, kind=kind)
    try:
        with document.file.open("rb") as file:
            content = file.read()
    except OSError:  # the file is gone: as damaged as a changed one
        content = b""
    if hashlib.sha256(content).hexdigest() != document.sha256:
        logger.error("archived %s of invoice %s fails its hash", kind, invoice.pk)
        raise ArchiveDamaged()
    return content


def _archive_late(*, invoice: Invoice, kind: str) -> InvoiceDocument:
    if kind == DocumentKind.CANCELLATION and not invoice.cancellation_number:
        raise ValueError("Die Rechnung hat keine Stornorechnung.")
    try:
        return archive_store(invoice=invoice, kind=kind)
    except IntegrityError:  # archived by a concurrent first read
        return invoice.documents.get(kind=kind)


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as PDF: a draft (or a discarded one) rendered live and marked as
    draft; an issued one exactly as it was issued."""
    if invoice.number is None:
        return pdf.invoice_pdf(invoice)
    return archived_document(invoice=invoice, kind=DocumentKind.INVOICE)


def cancellation_pdf(invoice: Invoice) -> bytes:
    """The Stornorechnung as it was made when the invoice was cancelled."""
    return archived_document(invoice=invoice, kind=DocumentKind.CANCELLATION)
