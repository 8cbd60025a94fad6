"""Creating organisations, the practice data, and the organisation's staff users. The
command line, the admin, the staff API, the pages and the demo seed call these."""

import zoneinfo

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from audit.actions import Action
from audit.services import audit_record, fields_detail
from lemniscus.errors import InvitationNotPending, ValidationFailed
from lemniscus.text import clean
from organisations.models import Organisation, Plan, Right, Role, User
from organisations.money_settings import normalize_datev, normalize_dunning_levels
from organisations.opening_hours import normalize_closed_dates, normalize_opening_hours
from organisations.validators import normalize_tax_number, normalize_vat_id
from outbox.services import enqueue


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
    "dunning_levels",
    "email_signature",
    "datev",
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
        ("dunning_levels", normalize_dunning_levels),
        ("datev", normalize_datev),
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


# Staff users (Einstellungen → Mitarbeiter). An organisation admin invites a member
# (no password yet; an e-mail with a link to set one, organisations.invitations),
# changes role and rights, and deactivates or reactivates them. Each change is in the
# Protokoll, the member named by e-mail (users have no public id).

USER_RIGHT_FIELDS = ("can_appointments", "can_documentation", "can_billing")
USER_FIELDS = ("first_name", "last_name", "role", *USER_RIGHT_FIELDS)
NAME_MAX_LENGTH = 100

LAST_ADMIN = (
    "Die Praxis braucht mindestens einen aktiven Organisations-Admin. Bitte geben Sie "
    "zuerst einer anderen aktiven Person die Admin-Rolle."
)
SELF_DEMOTE = "Sie können sich nicht selbst die Admin-Rolle entziehen."
SELF_DEACTIVATE = "Sie können Ihren eigenen Zugang nicht deaktivieren."


def is_invited(user: User) -> bool:
    """Invited and not yet signed up: no usable password."""
    return not user.has_usable_password()


def rights_text(user: User) -> str:
    """The member's rights in German, e.g. "Termine, Dokumentation"."""
    if user.role == Role.ADMIN:
        return "alle (Admin)"
    chosen = [Right(f.removeprefix("can_")).label for f in USER_RIGHT_FIELDS if getattr(user, f)]
    return ", ".join(chosen) or "keine"


def _audit_user(user: User, actor, action: str, detail: str = "") -> None:
    audit_record(
        organisation=user.organisation_id,
        actor=actor,
        action=action,
        object_id=user.email,
        detail=detail,
    )


def _user_errors(data: dict, *, names_required: bool) -> dict[str, list[str]]:
    """German messages on names and role; an invitation needs both names (the e-mail
    greets by name), an existing member (the owner has none) may stay without."""
    errors: dict[str, list[str]] = {}
    for name, label in (("first_name", "Der Vorname"), ("last_name", "Der Nachname")):
        if name in data:
            if not data[name] and names_required:
                errors[name] = [f"{label} fehlt."]
            elif len(data[name]) > NAME_MAX_LENGTH:
                errors[name] = [f"{label} ist länger als {NAME_MAX_LENGTH} Zeichen."]
    if "role" in data and data["role"] not in Role.values:
        errors["role"] = ["Bitte „Organisations-Admin“ oder „Mitarbeiter/in“ wählen."]
    return errors


def _lock_organisation(organisation) -> Organisation:
    """Changes of roles and of who is active are made one at a time per organisation,
    so that two admins demoting each other at once cannot leave it without one."""
    return Organisation.objects.select_for_update().get(
        pk=getattr(organisation, "pk", organisation)
    )


def _other_active_admins(user: User) -> bool:
    return (
        User.objects.filter(organisation_id=user.organisation_id, role=Role.ADMIN, is_active=True)
        .exclude(pk=user.pk)
        .exists()
    )


@transaction.atomic
def user_invite(
    *,
    organisation: Organisation,
    actor,
    email: str,
    first_name: str,
    last_name: str,
    role: str = Role.STAFF,
    can_appointments: bool = True,
    can_documentation: bool = True,
    can_billing: bool = False,
) -> User:
    """A new member of `organisation` without a password; after the commit an e-mail
    with a link to set one goes out (organisations.invitations). E-mail addresses are
    unique across all organisations: a taken one is a ValidationFailed on `email`."""
    email = clean(email).lower()
    data = {
        "first_name": clean(first_name),
        "last_name": clean(last_name),
        "role": role,
        "can_appointments": bool(can_appointments),
        "can_documentation": bool(can_documentation),
        "can_billing": bool(can_billing),
    }
    errors = _user_errors(data, names_required=True)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Keine gültige E-Mail-Adresse."]
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = [_taken(email)]
    if errors:
        raise ValidationFailed(_detail(errors), errors=errors)
    user = User(email=email, organisation=organisation, **data)
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address registered concurrently
        raise ValidationFailed(_taken(email), errors={"email": [_taken(email)]}) from None
    _audit_user(
        user,
        actor,
        Action.USER_INVITE,
        f"Rolle: {user.get_role_display()}, Rechte: {rights_text(user)}",
    )
    enqueue("organisations.send_invitation", user.pk)
    return user


@transaction.atomic
def user_resend_invitation(*, user: User, actor) -> User:
    """A new invitation e-mail for a member who has not set a password yet; the links
    of earlier ones stay valid until they expire or the password is set."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise InvitationNotPending(
            "Der Zugang ist deaktiviert; bitte aktivieren Sie ihn zuerst wieder."
        )
    if not is_invited(user):
        raise InvitationNotPending()
    _audit_user(user, actor, Action.USER_INVITE_RESEND)
    enqueue("organisations.send_invitation", user.pk)
    return user


@transaction.atomic
def user_accept_invitation(*, user: User, password: str) -> User:
    """The invited member sets their password (the invitation link's page, after the
    link's token and the password were checked there). Logged with them as actor."""
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(password)
    user.save(update_fields=["password"])
    _audit_user(user, user, Action.USER_PASSWORD_SET)
    return user


@transaction.atomic
def user_update(*, user: User, actor, **fields) -> User:
    """Changes names, role and rights (USER_FIELDS). Nobody takes the admin role from
    themselves, and the organisation keeps at least one active admin."""
    unknown = set(fields) - set(USER_FIELDS)
    if unknown:
        raise TypeError(f"not editable user fields: {sorted(unknown)}")
    data = {
        name: clean(value) if name in ("first_name", "last_name") else value
        for name, value in fields.items()
    }
    errors = _user_errors(data, names_required=False)
    if errors:
        raise ValidationFailed(_detail(errors), errors=errors)
    _lock_organisation(user.organisation_id)
    user = User.objects.select_for_update().get(pk=user.pk)
    demoted = user.role == Role.ADMIN and data.get("role", user.role) != Role.ADMIN
    if demoted and actor is not None and actor.pk == user.pk:
        raise ValidationFailed(SELF_DEMOTE, errors={"role": [SELF_DEMOTE]})
    if demoted and user.is_active and not _other_active_admins(user):
        raise ValidationFailed(LAST_ADMIN, errors={"role": [LAST_ADMIN]})
    changed = [name for name, value in data.items() if getattr(user, name) != value]
    for name in changed:
        setattr(user, name, data[name])
    if changed:
        user.save(update_fields=changed)
        _audit_user(user, actor, Action.USER_UPDATE, fields_detail(changed))
    return user


@transaction.atomic
def user_set_active(*, user: User, actor, active: bool) -> User:
    """Deactivates (no login, no API token, open sessions end with the next request)
    or reactivates a member. Nobody deactivates themselves, and the organisation
    keeps at least one active admin."""
    _lock_organisation(user.organisation_id)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active == active:
        return user
    if not active:
        if actor is not None and actor.pk == user.pk:
            raise ValidationFailed(SELF_DEACTIVATE)
        if user.role == Role.ADMIN and not _other_active_admins(user):
            raise ValidationFailed(LAST_ADMIN)
    user.is_active = active
    user.save(update_fields=["is_active"])
    _audit_user(user, actor, Action.USER_REACTIVATE if active else Action.USER_DEACTIVATE)
    return user
