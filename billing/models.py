import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from lemniscus.models import TenantModel

MONEY = {"max_digits": 10, "decimal_places": 2}


class TaxCategory(models.TextChoices):
    """How a service is taxed (invoices-de.md 8, 9). The exemption note is printed
    only for `exempt_therapy` lines."""

    EXEMPT_THERAPY = "exempt_therapy", "steuerfrei (Heilbehandlung, § 4 Nr. 14 a UStG)"
    TAXABLE = "taxable", "steuerpflichtig"
    NOT_TAXABLE = "not_taxable", "nicht steuerbar (z. B. Ausfallhonorar)"


# Exempt and not taxable services carry no VAT, taxable ones do. On an invoice of a
# small business (§ 19 UStG) a taxable line carries 0 % too.
UNTAXED = Q(tax_category__in=["exempt_therapy", "not_taxable"], vat_rate=0)
SERVICE_TAX_FITS_RATE = UNTAXED | Q(tax_category="taxable", vat_rate__gt=0)
LINE_TAX_FITS_RATE = UNTAXED | Q(tax_category="taxable")


class ServiceChain(TenantModel):
    """A Leistungskette: what one appointment bills. `notes` may hold Doctolib sync ids."""

    description = models.CharField("Beschreibung", max_length=200)
    notes = models.TextField("Anmerkungen", blank=True)

    class Meta:
        verbose_name = "Leistungskette"
        verbose_name_plural = "Leistungsketten"
        indexes = [models.Index(fields=["organisation", "description"], name="chain_desc_idx")]

    def __str__(self) -> str:
        return self.description

    @property
    def total(self) -> Decimal:
        """The sum of the services' (net) prices."""
        return sum((service.price for service in self.services.all()), Decimal("0.00"))


class ServiceLine(models.Model):
    chain = models.ForeignKey(ServiceChain, on_delete=models.CASCADE, related_name="services")
    position = models.PositiveSmallIntegerField(default=0)
    code = models.CharField("Ziffer", max_length=32, blank=True)
    name = models.CharField("Leistung", max_length=200)
    price = models.DecimalField("Preis", validators=[MinValueValidator(0)], **MONEY)
    vat_rate = models.DecimalField(
        "USt-Satz", max_digits=5, decimal_places=2, default=Decimal("0.00")
    )
    tax_category = models.CharField(
        "Steuerart", max_length=16, choices=TaxCategory.choices, default=TaxCategory.EXEMPT_THERAPY
    )
    minutes = models.PositiveIntegerField("Minuten", default=0)

    class Meta:
        verbose_name = "Leistung"
        verbose_name_plural = "Leistungen"
        ordering = ["chain", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="service_price_non_negative"),
            models.CheckConstraint(
                condition=Q(vat_rate__gte=0) & Q(vat_rate__lt=100), name="service_vat_range"
            ),
            models.CheckConstraint(condition=SERVICE_TAX_FITS_RATE, name="service_tax_fits_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Entwurf"
    ISSUED = "issued", "gestellt"
    PARTLY_PAID = "partly_paid", "teilweise bezahlt"
    PAID = "paid", "bezahlt"
    WRITTEN_OFF = "written_off", "abgeschrieben"
    CANCELLED = "cancelled", "storniert"


# The statuses of an issued invoice that still carries its number as a claim.
NUMBERED_STATUSES = ("issued", "partly_paid", "paid", "written_off")


class Invoice(TenantModel):
    """An invoice. Issued ones are never deleted; a wrong one is cancelled (Storno)
    and keeps its number. Cancelling an issued or paid one also gives it the number
    and date of its cancellation document (Stornorechnung, `ST-YYYY-NNNN`)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="invoices"
    )
    status = models.CharField(
        max_length=12, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT
    )
    number = models.CharField(max_length=16, null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The Stornorechnung's number and date (organisation's zone); null unless an
    # issued or paid invoice was cancelled (a discarded draft has none).
    cancellation_number = models.CharField("Storno-Nr.", max_length=16, null=True, blank=True)
    cancellation_date = models.DateField("Stornodatum", null=True, blank=True)
    # Sent by e-mail (the last time); a write-off (Forderungsausfall) with its reason.
    sent_at = models.DateTimeField("Versendet", null=True, blank=True)
    written_off_at = models.DateTimeField("Abgeschrieben", null=True, blank=True)
    write_off_reason = models.CharField("Grund der Abschreibung", max_length=500, blank=True)
    diagnosis = models.TextField("Diagnose", blank=True)
    # Snapshot of Organisation.small_business when the lines were made (§ 19 UStG).
    small_business = models.BooleanField(default=False)
    # Who pays, when not the patient (a parent, a carer), as given when the draft was
    # made (billing.parties.RECIPIENT_FIELDS); null: the patient's `invoice_recipient`
    # or else the patient, as they are now.
    recipient = models.JSONField("Rechnungsempfänger", null=True, blank=True)
    # The practice's, the recipient's and the patient's data as they stood when the
    # invoice was issued (billing.parties); null while a draft, which shows the current data.
    parties = models.JSONField(null=True, blank=True, editable=False)
    net_total = models.DecimalField(default=Decimal("0.00"), **MONEY)
    vat_total = models.DecimalField(default=Decimal("0.00"), **MONEY)
    total = models.DecimalField(default=Decimal("0.00"), **MONEY)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The billing run (Rechnungslauf) that made the draft; null for one made by hand.
    billing_run = models.ForeignKey(
        "billing.BillingRun",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoices",
        verbose_name="Rechnungslauf",
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "Rechnung"
        verbose_name_plural = "Rechnungen"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "number"],
                condition=Q(number__isnull=False),
                name="invoice_number_unique_per_organisation",
            ),
            models.CheckConstraint(
                condition=Q(status="draft", number__isnull=True)
                | Q(status__in=NUMBERED_STATUSES, number__isnull=False)
                | Q(status="cancelled"),
                name="invoice_number_iff_issued",
            ),
            models.UniqueConstraint(
                fields=["organisation", "cancellation_number"],
                condition=Q(cancellation_number__isnull=False),
                name="invoice_cancellation_number_unique_per_organisation",
            ),
            # Invoices cancelled before cancellation documents existed have neither.
            models.CheckConstraint(
                condition=Q(cancellation_number__isnull=True, cancellation_date__isnull=True)
                | Q(
                    status="cancelled",
                    number__isnull=False,
                    cancellation_number__isnull=False,
                    cancellation_date__isnull=False,
                ),
                name="invoice_cancellation_only_of_issued",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "-created_at"], name="invoice_org_idx")]

    def __str__(self) -> str:
        return self.number or f"Entwurf {self.public_id}"


class InvoiceLine(models.Model):
    """A snapshot of one service of one appointment's chain at invoicing time (or the
    practice's no-show fee for a missed appointment), with who treated; or a free
    line of a draft without an appointment (a home-visit fee, materials)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    appointment = models.ForeignKey(
        "appointments.Appointment",
        on_delete=models.PROTECT,
        related_name="invoice_lines",
        null=True,
        blank=True,
    )
    position = models.PositiveSmallIntegerField(default=0)
    service_date = models.DateField()
    code = models.CharField(max_length=32, blank=True)
    name = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=7, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(**MONEY)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    tax_category = models.CharField(max_length=16, choices=TaxCategory.choices)
    amount = models.DecimalField(**MONEY)
    # The name of the appointment's calendar column when it is a therapist's, as it
    # was when the line was made; null for a room.
    therapist = models.CharField("Therapeut/in", max_length=200, null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "Rechnungsposition"
        verbose_name_plural = "Rechnungspositionen"
        ordering = ["invoice", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=LINE_TAX_FITS_RATE, name="line_tax_fits_rate"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()


class DocumentKind(models.TextChoices):
    INVOICE = "invoice", "Rechnung"
    CANCELLATION = "cancellation", "Stornorechnung"


def _document_path(document: "InvoiceDocument", filename: str) -> str:
    invoice = document.invoice
    return f"archiv/{invoice.organisation.public_id}/{document.kind}/{filename}"


class InvoiceDocument(models.Model):
    """A PDF as it was issued: rendered once when the invoice was issued (or
    cancelled, for its Stornorechnung), stored through Django's storage API and
    served as these bytes forever (billing.archive). Never changed or deleted."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField("Art", max_length=12, choices=DocumentKind.choices)
    file = models.FileField(upload_to=_document_path, max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Archiviertes Dokument"
        verbose_name_plural = "Archivierte Dokumente"
        constraints = [
            models.UniqueConstraint(fields=["invoice", "kind"], name="one_document_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.file.name}"


class SequenceKind(models.TextChoices):
    INVOICE = "invoice", "Rechnungen"
    CANCELLATION = "cancellation", "Stornorechnungen"


class InvoiceSequence(models.Model):
    """The last number used per organisation, kind (invoices, cancellation documents)
    and year; locked with select_for_update while an invoice is issued or cancelled,
    so numbers stay gapless under concurrency."""

    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(
        "Art", max_length=12, choices=SequenceKind.choices, default=SequenceKind.INVOICE
    )
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "Rechnungsnummernkreis"
        verbose_name_plural = "Rechnungsnummernkreise"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "kind", "year"], name="sequence_unique_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.year}: {self.last_number}"


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", "Überweisung"
    CASH = "cash", "bar"
    CARD = "card", "Karte"
    DIRECT_DEBIT = "direct_debit", "Lastschrift"


class Payment(TenantModel):
    """Money received for an invoice (GoBD: never changed or deleted). A wrong one is
    corrected by its reversal: a negative payment that `reverses` it. On PostgreSQL
    a trigger refuses any UPDATE or DELETE (migration 0009)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(**MONEY)
    date = models.DateField("Zahlungsdatum")
    method = models.CharField(max_length=12, choices=PaymentMethod.choices)
    note = models.CharField("Notiz", max_length=500, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal"
    )
    # Who recorded it, as text: users are deactivated, never deleted, but a payment
    # must not change even then.
    created_by_label = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "Zahlung"
        verbose_name_plural = "Zahlungen"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0, reverses__isnull=True)
                | Q(amount__lt=0, reverses__isnull=False),
                name="payment_positive_or_a_reversal",
            ),
        ]
        indexes = [models.Index(fields=["organisation", "date"], name="payment_org_date_idx")]

    def __str__(self) -> str:
        return f"{self.amount} € am {self.date:%d.%m.%Y}"


def _notice_path(notice: "DunningNotice", filename: str) -> str:
    return f"archiv/{notice.organisation.public_id}/dunning/{filename}"


class DunningNotice(TenantModel):
    """A dunning notice (Zahlungserinnerung, Mahnung) of an issued invoice: the level
    it reached, its fee (a `not_taxable` claim added to what is open: damages, no
    VAT), the new due date, and what was open at its date including this and earlier
    fees. Its PDF is rendered once, before the row is written, and stored with its
    hash like an invoice's (billing.dunning). On PostgreSQL a trigger refuses any
    UPDATE but of `sent_at`/`updated_at` and any DELETE but the erasure's
    (migration 0011)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="dunning_notices")
    level = models.PositiveSmallIntegerField("Mahnstufe")
    name = models.CharField("Bezeichnung", max_length=60)
    date = models.DateField("Datum")
    fee = models.DecimalField("Mahngebühr", **MONEY)
    due_date = models.DateField("Neue Frist")
    open_amount = models.DecimalField("Offener Betrag", **MONEY)
    sent_at = models.DateTimeField("Versendet", null=True, blank=True)
    file = models.FileField(upload_to=_notice_path, max_length=255)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    # Who made it, as text (like payments): the row never changes.
    created_by_label = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "Mahnung"
        verbose_name_plural = "Mahnungen"
        ordering = ["invoice", "level"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "level"], name="one_notice_per_level"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="notice_fee_non_negative"),
        ]
        indexes = [models.Index(fields=["organisation", "date"], name="notice_org_date_idx")]

    def __str__(self) -> str:
        return f"{self.name} zu {self.invoice}"


class BillingRunStatus(models.TextChoices):
    QUEUED = "queued", "wartet"
    RUNNING = "running", "läuft"
    DONE = "done", "fertig"
    FAILED = "failed", "fehlgeschlagen"


class BillingRunPhase(models.TextChoices):
    """What the run's job does: make the drafts, then (on "Alle stellen") issue them."""

    DRAFTS = "drafts", "Entwürfe erstellen"
    ISSUE = "issue", "Rechnungen stellen"


class BillingRun(TenantModel):
    """A Rechnungslauf: one draft per patient with billable appointments in the period
    (optionally of some calendar columns), made by a background job; then, on a
    person's click, issued by the same job and sent (billing.runs). `skipped` lists
    the patients (and appointments) left out, each with a German reason; `progress_*`
    count the patients (drafts) or invoices (issue) of the phase that runs."""

    period_start = models.DateField("Von")
    period_end = models.DateField("Bis")
    calendar_columns = models.ManyToManyField(
        "appointments.CalendarColumn", blank=True, related_name="+", verbose_name="Spalten"
    )
    status = models.CharField(
        "Status", max_length=10, choices=BillingRunStatus.choices, default=BillingRunStatus.QUEUED
    )
    phase = models.CharField(
        "Schritt", max_length=10, choices=BillingRunPhase.choices, default=BillingRunPhase.DRAFTS
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    # [{"patient_id": "<public id>", "reason": "<German>"}], in the order found.
    skipped = models.JSONField("Übersprungen", default=list, blank=True)
    error = models.TextField("Fehler", blank=True)
    attempts = models.PositiveSmallIntegerField("Läufe", default=0)
    started_at = models.DateTimeField("Gestartet", null=True, blank=True)
    # Written every few seconds while the job works (lemniscus.jobs.heartbeat).
    heartbeat_at = models.DateTimeField("Lebenszeichen", null=True, blank=True)
    finished_at = models.DateTimeField("Beendet", null=True, blank=True)
    # "Alle senden": when the e-mails of the run's invoices were last asked for.
    send_requested_at = models.DateTimeField("Versand angestoßen", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "Rechnungslauf"
        verbose_name_plural = "Rechnungsläufe"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_start__lte=models.F("period_end")),
                name="billing_run_period_ordered",
            ),
            # One run at work per organisation: two would compete for the same
            # appointments and the same invoice numbers.
            models.UniqueConstraint(
                fields=["organisation"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_billing_run",
            ),
        ]

    def __str__(self) -> str:
        return f"Rechnungslauf {self.period_start:%d.%m.%Y}–{self.period_end:%d.%m.%Y}"
