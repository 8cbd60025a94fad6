from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from lemniscus.models import TenantModel
from lemniscus.text import fold, name_words


class Salutation(models.TextChoices):
    NONE = "", "keine"
    MALE = "male", "Herr"
    FEMALE = "female", "Frau"


# The shape of an invoice recipient other than the patient (a parent, a carer): the
# record's `invoice_recipient`, an invoice's `recipient` (staff-api.md 1.1).
RECIPIENT_FIELDS = (
    "salutation",
    "title",
    "first_name",
    "last_name",
    "street",
    "postal_code",
    "city",
    "email",
)


class Patient(TenantModel):
    """A patient record (Akte) with its master data (Stammdaten).

    Every change is kept in `history` (who, when, the old values): § 630f BGB.
    """

    salutation = models.CharField(max_length=6, choices=Salutation.choices, blank=True)
    title = models.CharField("Titel", max_length=50, blank=True)
    first_name = models.CharField("Vorname", max_length=100, blank=True)
    last_name = models.CharField("Nachname", max_length=100)
    birth_date = models.DateField("Geburtsdatum", null=True, blank=True)
    email = models.EmailField("E-Mail", blank=True)
    mobile_phone = models.CharField("Mobil", max_length=20, blank=True)
    landline_phone = models.CharField("Festnetz privat", max_length=20, blank=True)
    street = models.CharField("Straße", max_length=200, blank=True)
    postal_code = models.CharField("PLZ", max_length=10, blank=True)
    city = models.CharField("Ort", max_length=100, blank=True)
    notes = models.TextField("Notizen", blank=True)
    # Who pays this patient's invoices when not the patient: RECIPIENT_FIELDS; null:
    # the patient.
    invoice_recipient = models.JSONField("Rechnungsempfänger", null=True, blank=True)
    sync_to_doctolib = models.BooleanField("Doctolib", default=False)
    # Consent to appointment reminders by e-mail; a new record takes the practice's
    # default (Organisation.reminder_consent_default).
    reminder_consent = models.BooleanField("E-Mail-Erinnerungen", default=False)
    # Archived records are read-only and left out of lists, search and suggestions;
    # the nightly erasure deletes them once their retention has passed (retention.py).
    archived_at = models.DateTimeField("Archiviert am", null=True, blank=True)
    doctolib_patient_id = models.CharField(max_length=64, null=True, blank=True)

    # Derived search keys (see lemniscus.text.fold), kept in step by save().
    first_name_folded = models.CharField(max_length=100, blank=True, editable=False)
    last_name_folded = models.CharField(max_length=100, blank=True, editable=False)
    # Every word of the first and last name in its folded forms, each after a space:
    # " doerte dorte weiss oezdemir ozdemir " (lemniscus.text.name_words), so that a
    # search word is found at the start of any word of the name (a trigram index on
    # PostgreSQL, migration patients 0007).
    search_words = models.TextField(blank=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=["first_name_folded", "last_name_folded", "search_words"]
    )

    class Meta:
        verbose_name = "Patientenakte"
        verbose_name_plural = "Patientenakten"
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "doctolib_patient_id"],
                condition=Q(doctolib_patient_id__isnull=False),
                name="patient_doctolib_id_unique_per_organisation",
            ),
            models.CheckConstraint(
                condition=Q(doctolib_patient_id__isnull=True) | Q(sync_to_doctolib=True),
                name="patient_linked_implies_checkbox",
            ),
        ]
        indexes = [
            # On PostgreSQL `last_name_folded` has the "C" collation (migration 0002), so
            # this one index serves both the prefix LIKE and the ORDER BY of the
            # suggestion search; an AlterField of that column must keep it.
            models.Index(
                fields=["organisation", "last_name_folded", "id"],
                name="patient_last_folded_idx",
            ),
            models.Index(
                fields=["organisation", "first_name_folded"],
                name="patient_first_folded_idx",
                opclasses=["", "varchar_pattern_ops"],
            ),
            models.Index(fields=["organisation", "birth_date"], name="patient_birth_idx"),
            # The suggestion steps "same birth date" and "same first name" as range scans
            # in last-name order (the folded last name is "C", so its prefix LIKE is a
            # range): each reads only the rows it returns, however many records share
            # the first name or the prefix (docs/decisions.md, "Suggestions").
            models.Index(
                fields=["organisation", "birth_date", "last_name_folded", "id"],
                name="patient_birth_last_idx",
            ),
            models.Index(
                fields=["organisation", "first_name_folded", "last_name_folded", "id"],
                name="patient_first_last_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return ", ".join(part for part in (self.last_name, self.first_name) if part)

    def refresh_search_keys(self) -> None:
        self.first_name_folded = fold(self.first_name)[:100]
        self.last_name_folded = fold(self.last_name)[:100]
        self.search_words = f" {' '.join(name_words(self.first_name, self.last_name))} "

    def save(self, *args, **kwargs):
        # Derived columns only; business rules live in patients.services.
        self.refresh_search_keys()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {
                *update_fields,
                "first_name_folded",
                "last_name_folded",
                "search_words",
            }
        super().save(*args, **kwargs)
