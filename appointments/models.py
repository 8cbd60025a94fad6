from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from lemniscus.errors import AppointmentInvoiced
from lemniscus.models import TenantModel


class ColumnKind(models.TextChoices):
    THERAPIST = "therapist", "Therapeut/in"
    ROOM = "room", "Raum"


COLOUR_PATTERN = r"^#[0-9a-fA-F]{6}$"


class CalendarColumn(TenantModel):
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=ColumnKind.choices, default=ColumnKind.THERAPIST)
    doctolib_agenda_id = models.CharField(max_length=64, null=True, blank=True)
    # The calendar shows columns by position, then name; the colour marks the
    # column's appointments ("" = the default).
    position = models.PositiveIntegerField("Reihenfolge", default=0)
    colour = models.CharField(
        "Farbe",
        max_length=7,
        blank=True,
        validators=[RegexValidator(COLOUR_PATTERN, "Eine Farbe wie #1f6f8b.")],
    )

    class Meta:
        verbose_name = "Kalenderspalte"
        verbose_name_plural = "Kalenderspalten"
        ordering = ["position", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "doctolib_agenda_id"],
                condition=Q(doctolib_agenda_id__isnull=False),
                name="column_agenda_unique_per_organisation",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AppointmentStatus(models.TextChoices):
    PLANNED = "planned", "geplant"
    DONE = "done", "erledigt"
    CANCELLED = "cancelled", "abgesagt"
    NO_SHOW = "no_show", "nicht erschienen"


class AppointmentSource(models.TextChoices):
    LEMNISCUS = "lemniscus", "lemniscus"
    DOCTOLIB = "doctolib", "Doctolib"


# What a booking platform leads on the appointments it sends (zipper-api.md, "PUT
# /appointments"): staff change these there and transfer the appointment again;
# status, service chain and room stay theirs to edit here.
PLATFORM_OWNED_FIELDS: tuple[str, ...] = (
    "patient",
    "calendar_column",
    "start",
    "duration_minutes",
    "note",
)


class ServiceChainMatch(models.TextChoices):
    SYNC_ID = "sync_id", "Synchronisationskennung"
    DESCRIPTION = "description", "Beschreibung"
    NONE = "none", "keine"
    AMBIGUOUS = "ambiguous", "mehrdeutig"
    MANUAL = "manual", "von Hand"


class AppointmentSeries(TenantModel):
    """Serientermin: appointments made together, every `interval_days` days from the
    first, a `count` of them or until `until`, skipping the practice's closed days.
    The appointments stay ordinary appointments (each with `series`); the series
    keeps what it was made with."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    calendar_column = models.ForeignKey(CalendarColumn, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(
        CalendarColumn, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    service_chain = models.ForeignKey(
        "billing.ServiceChain", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    first_start = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField()
    interval_days = models.PositiveSmallIntegerField(default=7)
    count = models.PositiveSmallIntegerField(null=True, blank=True)
    until = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "Serientermin"
        verbose_name_plural = "Serientermine"
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_days__gte=1) & Q(interval_days__lte=365),
                name="series_interval_range",
            ),
            models.CheckConstraint(
                condition=Q(count__isnull=False) | Q(until__isnull=False),
                name="series_count_or_until",
            ),
        ]

    def __str__(self) -> str:
        return f"Serie ab {self.first_start:%Y-%m-%d} ({self.patient_id})"


class Appointment(TenantModel):
    # No single-column indexes where a composite one leads with the column (Meta:
    # organisation, calendar column, patient, room, each with the start): every
    # index is written by every insert, the Zipper push's included.
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    calendar_column = models.ForeignKey(
        CalendarColumn, on_delete=models.PROTECT, related_name="appointments", db_index=False
    )
    service_chain = models.ForeignKey(
        "billing.ServiceChain",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
    )
    service_chain_match = models.CharField(
        max_length=12, choices=ServiceChainMatch.choices, blank=True
    )
    # A room booked together with the therapist's column: a room is never booked
    # twice at once (appointments.services), a therapist column only with a warning.
    room = models.ForeignKey(
        CalendarColumn,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="room_appointments",
        limit_choices_to={"kind": ColumnKind.ROOM},
        db_index=False,
    )
    series = models.ForeignKey(
        AppointmentSeries,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appointments",
    )
    start = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1440)]
    )
    note = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=AppointmentStatus.choices, default=AppointmentStatus.PLANNED
    )
    # Why it was cancelled (optional); kept in the history when it is undone.
    cancellation_reason = models.CharField("Absagegrund", max_length=500, blank=True)
    source = models.CharField(
        max_length=10, choices=AppointmentSource.choices, default=AppointmentSource.LEMNISCUS
    )
    doctolib_appointment_id = models.CharField(max_length=64, null=True, blank=True)
    # The Doctolib visit motive of the last push: the chain is matched again only
    # when it changes (zipper-api.md, "PUT /appointments").
    doctolib_motive_name = models.CharField(max_length=200, blank=True)
    doctolib_motive_sync_id = models.CharField(max_length=100, blank=True)
    # The non-cancelled invoice the appointment is on; set and cleared by billing.services.
    invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="locked_appointments",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Patient notifications (appointments.notifications): each e-mail goes out once.
    confirmation_sent_at = models.DateTimeField("Bestätigung gesendet", null=True, blank=True)
    reminder_sent_at = models.DateTimeField("Erinnerung gesendet", null=True, blank=True)
    cancelled_via_link_at = models.DateTimeField("Per Link abgesagt", null=True, blank=True)

    # The history is read by appointment (id), patient (retention) and organisation
    # and date (handover undo); its copies of the other references are never looked
    # up (simple_history keeps them without constraints): not indexed.
    history = HistoricalRecords(
        no_db_index=["calendar_column", "room", "service_chain", "series", "invoice", "created_by"]
    )

    class Meta:
        verbose_name = "Termin"
        verbose_name_plural = "Termine"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "doctolib_appointment_id"],
                condition=Q(doctolib_appointment_id__isnull=False),
                name="appointment_doctolib_id_unique_per_organisation",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=1) & Q(duration_minutes__lte=1440),
                name="appointment_duration_range",
            ),
        ]
        indexes = [
            models.Index(fields=["organisation", "start"], name="appointment_org_start_idx"),
            models.Index(fields=["calendar_column", "start"], name="appointment_column_start_idx"),
            models.Index(fields=["patient", "start"], name="appointment_patient_start_idx"),
            models.Index(
                fields=["room", "start"],
                name="appointment_room_start_idx",
                condition=Q(room__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.patient_id}"

    @property
    def end(self):
        return self.start + timedelta(minutes=self.duration_minutes)

    def invoice_lock(self, detail: str | None = None):
        """The refusal of any change while the appointment is on a non-cancelled
        invoice (409 `appointment_invoiced`), else None: the one rule every writer
        asks (appointments.services)."""
        if self.invoice_id is None:
            return None
        return AppointmentInvoiced(detail) if detail else AppointmentInvoiced()
