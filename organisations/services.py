"""Creating organisations. The command line, the admin and the demo seed call these."""

import zoneinfo

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from lemniscus.errors import ValidationFailed
from lemniscus.text import clean
from organisations.models import Organisation, Plan, Role, User
from organisations.opening_hours import normalize_closed_dates, normalize_opening_hours
from organisations.validators import normalize_tax_number, normalize_vat_id


def _validated(*, name: str, plan: str, email: str, password: str, time_zone: str) -> dict:
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Der Name der Organisation fehlt."]
    if plan not in Plan.values:
        errors["plan"] = [f"Unbekanntes Abo: {plan} (erlaubt: {', '.join(Plan.values)})."]
    if time_zone not in zoneinfo.available_timezones():
        errors["time_zone"] = [f"Unbekannte Zeitzone: {time_zone}."]
    try:
        validate_email(email)
    except ValidationError:
        errors["owner_email"] = ["Keine gültige E-Mail-Adresse."]
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["owner_email"] = [_taken(email)]
    try:
        validate_password(password, User(email=email))
    except ValidationError as exc:
        errors["owner_password"] = list(exc.messages)
    return errors


@transaction.atomic
def organisation_create(
    *,
    name: str,
    plan: str,
    owner_email: str,
    owner_password: str,
    time_zone: str | None = None,
) -> tuple[Organisation, User]:
    """A new organisation and its first user, an organisation admin who logs in with
    `owner_email`. Refuses (ValidationFailed) an e-mail that is already taken."""
    name, email = clean(name), clean(owner_email).lower()
    time_zone = time_zone or settings.TIME_ZONE
    errors = _validated(
        name=name, plan=plan, email=email, password=owner_password, time_zone=time_zone
    )
    if errors:
        raise ValidationFailed(_detail(errors), errors=errors)
    organisation = Organisation.objects.create(name=name, plan=plan, time_zone=time_zone)
    try:
        with transaction.atomic():
            owner = User.objects.create_user(
                email, owner_password, organisation=organisation, role=Role.ADMIN
            )
    except IntegrityError:  # the same e-mail registered concurrently
        raise ValidationFailed(_taken(email), errors={"owner_email": [_taken(email)]}) from None
    return organisation, owner


def _taken(email: str) -> str:
    return f"Es gibt schon einen Benutzer mit der E-Mail {email}."


def _detail(errors: dict[str, list[str]]) -> str:
    return " ".join(message for messages in errors.values() for message in messages)


@transaction.atomic
def organisation_set_plan(*, organisation: Organisation, plan: str) -> Organisation:
    """A subscription change. Below XL the Doctolib token stays but every Zipper call
    answers 403 `plan_required` until the plan allows it again."""
    if plan not in Plan.values:
        raise ValidationFailed(
            f"Unbekanntes Abo: {plan}.",
            errors={"plan": [f"Erlaubt: {', '.join(Plan.values)}."]},
        )
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if organisation.plan != plan:
        organisation.plan = plan
        organisation.save(update_fields=["plan", "updated_at"])
    return organisation


# Limits of the practice's numbers, for every form that edits them.
MAX_PAYMENT_TERM_DAYS = 120
MAX_REMINDER_HOURS = 168  # a week ahead

# What an organisation admin edits on the page "Praxisdaten" (Einstellungen): the
# letterhead and bank details of the invoices, the payment term and the reminders.
PRACTICE_FIELDS = (
    "name",
    "owner_name",
    "street",
    "postal_code",
    "city",
    "phone",
    "email",
    "tax_number",
    "vat_id",
    "iban",
    "bic",
    "bank_account_holder",
    "small_business",
    "payment_term_days",
    "no_show_fee",
    "no_show_fee_name",
    "reminder_hours_before",
    "reminder_consent_default",
    "opening_hours",
    "closed_dates",
)

# The identifiers an invoice prints under their own labels; checked here whoever
# writes them (page, staff API, admin), and stored in their normal form.
_TAX_IDENTIFIERS = {"tax_number": normalize_tax_number, "vat_id": normalize_vat_id}


def _normalized_practice(data: dict) -> dict:
    """`data` with the tax identifiers normalised; ValidationFailed naming each
    field that is wrong (German messages)."""
    errors: dict[str, list[str]] = {}
    data = dict(data)
    if "name" in data and not clean(data["name"]):
        errors["name"] = ["Der Name der Praxis fehlt."]
    for name, normalize in _TAX_IDENTIFIERS.items():
        if name in data:
            try:
                data[name] = normalize(data[name] or "")
            except ValidationError as exc:
                errors[name] = list(exc.messages)
    for name, normalize in (
        ("opening_hours", normalize_opening_hours),
        ("closed_dates", normalize_closed_dates),
    ):
        if name in data:
            try:
                data[name] = normalize(data[name])
            except ValidationError as exc:
                errors[name] = list(exc.messages)
    if "no_show_fee_name" in data and not clean(data["no_show_fee_name"] or ""):
        errors["no_show_fee_name"] = ["Die Bezeichnung des Ausfallhonorars fehlt."]
    if errors:
        raise ValidationFailed(_detail(errors), errors=errors)
    return data


@transaction.atomic
def organisation_update_practice(*, organisation: Organisation, data: dict) -> Organisation:
    """Saves the practice data (PRACTICE_FIELDS; others in `data` are refused).
    Issued invoices keep the letterhead they were issued with (billing.parties);
    drafts and the next invoices show the new data."""
    unknown = set(data) - set(PRACTICE_FIELDS)
    if unknown:
        raise ValueError(f"not practice fields: {sorted(unknown)}")
    data = _normalized_practice(data)
    organisation = Organisation.objects.select_for_update().get(pk=organisation.pk)
    changed = [name for name, value in data.items() if getattr(organisation, name) != value]
    for name in changed:
        setattr(organisation, name, data[name])
    if changed:
        organisation.save(update_fields=[*changed, "updated_at"])
    return organisation
