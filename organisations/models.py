import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from lemniscus import auth_generation
from lemniscus.models import PublicModel
from organisations.money_settings import default_datev, default_dunning_levels
from organisations.opening_hours import default_closed_dates, default_opening_hours

TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


def new_orga_id() -> str:
    """A short, readable organisation id, e.g. `ORG-7K3M9QX2` (shown with the token)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "ORG-" + "".join(secrets.choice(alphabet) for _ in range(8))


def default_time_zone() -> str:
    return settings.TIME_ZONE


class Plan(models.TextChoices):
    S = "S", "S"
    M = "M", "M"
    L = "L", "L"
    XL = "XL", "XL"
    XXL = "XXL", "XXL"


PLANS_WITH_DOCTOLIB = frozenset({Plan.XL, Plan.XXL})


class Organisation(PublicModel):
    """One practice. Its master data appears on invoices (§ 14 Abs. 4 UStG)."""

    orga_id = models.CharField(max_length=32, unique=True, default=new_orga_id, editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=3, choices=Plan.choices, default=Plan.S)
    time_zone = models.CharField(
        max_length=64, choices=TIME_ZONE_CHOICES, default=default_time_zone
    )

    owner_name = models.CharField("Inhaber/in", max_length=200, blank=True)
    street = models.CharField("Straße", max_length=200, blank=True)
    postal_code = models.CharField("PLZ", max_length=10, blank=True)
    city = models.CharField("Ort", max_length=100, blank=True)
    phone = models.CharField("Telefon", max_length=32, blank=True)
    email = models.EmailField("E-Mail", blank=True)
    tax_number = models.CharField("Steuernummer", max_length=32, blank=True)
    vat_id = models.CharField("USt-IdNr.", max_length=11, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True)
    bic = models.CharField("BIC", max_length=11, blank=True)
    bank_account_holder = models.CharField("Kontoinhaber/in", max_length=200, blank=True)
    small_business = models.BooleanField(
        "Kleinunternehmer (§ 19 UStG)",
        default=False,
        help_text="Rechnungen weisen dann keine Umsatzsteuer aus.",
    )
    payment_term_days = models.PositiveSmallIntegerField("Zahlungsziel (Tage)", default=14)
    # Billed for a missed appointment (status no_show): damages, not a service, so
    # without VAT (billing.models.TaxCategory.NOT_TAXABLE). None: no-shows are not billed.
    no_show_fee = models.DecimalField(
        "Ausfallhonorar (€)", max_digits=10, decimal_places=2, null=True, blank=True
    )
    no_show_fee_name = models.CharField(
        "Bezeichnung des Ausfallhonorars", max_length=100, default="Ausfallhonorar"
    )
    reminder_hours_before = models.PositiveSmallIntegerField(
        "Terminerinnerung (Stunden vorher)",
        default=24,
        help_text="0: keine Erinnerungs-E-Mails.",
    )
    # Whether a new record consents to e-mail reminders unless staff say otherwise.
    reminder_consent_default = models.BooleanField("Neue Akten: E-Mail-Erinnerungen", default=False)
    # Set when the appointments were handed over to Doctolib ("Export erstellen und
    # Termine löschen"); from then on lemniscus sends no appointment notifications.
    handover_at = models.DateTimeField("Übergabe an Doctolib", null=True, blank=True)
    # organisations.opening_hours: the calendar's shading, its weekend days and the
    # days series appointments skip.
    opening_hours = models.JSONField("Öffnungszeiten", default=default_opening_hours)
    closed_dates = models.JSONField("Schließtage", default=default_closed_dates, blank=True)
    # Money in (organisations.money_settings): dunning levels and fees, the signature of
    # the e-mails that send invoices, and the accountant's DATEV export.
    dunning_levels = models.JSONField("Mahnstufen", default=default_dunning_levels)
    email_signature = models.TextField("E-Mail-Signatur", blank=True)
    datev = models.JSONField("DATEV", default=default_datev)

    class Meta:
        verbose_name = "Organisation"
        verbose_name_plural = "Organisationen"
        ordering = ["name"]

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        # Cached token lookups carry their organisation (plan, zone, name): they are
        # looked up again after any change (lemniscus.auth_generation).
        auth_generation.bump()

    def __str__(self) -> str:
        return f"{self.name} ({self.orga_id})"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def has_doctolib_plan(self) -> bool:
        return self.plan in PLANS_WITH_DOCTOLIB

    def today(self):
        return timezone.localdate(timezone=self.zone)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra):
        if not email:
            raise ValueError("E-Mail-Adresse fehlt.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class Role(models.TextChoices):
    ADMIN = "admin", "Organisations-Admin"
    STAFF = "staff", "Mitarbeiter/in"


class Right(models.TextChoices):
    APPOINTMENTS = "appointments", "Termine"
    DOCUMENTATION = "documentation", "Dokumentation"
    BILLING = "billing", "Abrechnung"


class User(AbstractBaseUser, PermissionsMixin):
    """A staff member of one organisation; logs in with the e-mail address.

    `is_staff` is Django's flag for the admin site (lemniscus support), unrelated
    to the practice role. Support users have no organisation.
    """

    email = models.EmailField("E-Mail", unique=True)
    first_name = models.CharField("Vorname", max_length=100, blank=True)
    last_name = models.CharField("Nachname", max_length=100, blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    can_appointments = models.BooleanField("Recht: Termine", default=True)
    can_documentation = models.BooleanField("Recht: Dokumentation", default=True)
    can_billing = models.BooleanField("Recht: Abrechnung", default=False)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField("Support (Django-Admin)", default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = "Benutzer"
        verbose_name_plural = "Benutzer"

    def __str__(self) -> str:
        return self.email

    def has_right(self, right: Right | str) -> bool:
        if self.organisation_id is None or not self.is_active:
            return False
        if self.role == Role.ADMIN:
            return True
        return bool(getattr(self, f"can_{right}"))

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email
