"""Dunning (Mahnwesen; staff-api.md 1.1 "Money in", **Dunning**; money-de.md).

The practice's levels (`Organisation.dunning_levels`: level, name, days_after_due,
fee) say when an overdue open invoice is due for which notice. A notice is made by a
person's click only (`dunning_notice_create`); the daily beat task only counts what
is due (billing.tasks). A notice's fee is a `not_taxable` claim added to what is open
(billing.payments.Balance). Notices are never changed or deleted (trigger, migration
0011), but for `sent_at`, which the e-mail job sets (billing.sending)."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import IntegerField, Max, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from audit.actions import Action
from audit.services import actor_label, audit_record
from billing import pdf
from billing.models import DunningNotice, Invoice
from billing.payments import PAYABLE, _locked, balance, refuse_status
from billing.selectors import with_open_amount
from lemniscus.errors import ArchiveDamaged, DunningNotDue
from lemniscus.tenancy import access, scoped
from organisations.money_settings import default_dunning_levels, normalize_dunning_levels

logger = logging.getLogger(__name__)

# The new, short deadline a notice sets: its date + 14 days (money-de.md: "each with
# a new short deadline"), whatever the practice's payment term for invoices.
NOTICE_TERM_DAYS = 14


@dataclass(frozen=True)
class Level:
    level: int
    name: str
    days_after_due: int
    fee: Decimal


def levels(organisation) -> list[Level]:
    """The practice's dunning levels, checked (the defaults if stored ones fail)."""
    try:
        stored = normalize_dunning_levels(organisation.dunning_levels)
    except ValidationError:  # written past the checks: fall back, logged
        logger.warning("organisation %s: invalid dunning levels", organisation.pk)
        stored = default_dunning_levels()
    return [
        Level(item["level"], item["name"], item["days_after_due"], Decimal(item["fee"]))
        for item in stored
    ]


def next_level(invoice: Invoice, organisation=None) -> Level | None:
    """The level after the invoice's highest notice; None when all are used."""
    reached = max((n.level for n in _notices(invoice)), default=0)
    return next(
        (lv for lv in levels(organisation or invoice.organisation) if lv.level > reached), None
    )


def _notices(invoice: Invoice):
    prefetched = getattr(invoice, "_prefetched_objects_cache", {}).get("dunning_notices")
    return prefetched if prefetched is not None else list(invoice.dunning_notices.all())


def days_overdue(invoice: Invoice, today) -> int:
    return (today - invoice.due_date).days if invoice.due_date else 0


def dunning_proposals(*, organisation) -> QuerySet[Invoice]:
    """Open (issued, partly paid) invoices past their due date whose next level's
    `days_after_due` have passed since the due date (organisation's zone), with
    `open_amount` and `notice_level` (the highest notice so far, 0 for none); the
    longest overdue first."""
    today = organisation.today()
    due = Q(pk__in=[])
    for level in levels(organisation):
        due |= Q(
            notice_level=level.level - 1,
            due_date__lte=today - timedelta(days=level.days_after_due),
        )
    return (
        with_open_amount(scoped(Invoice, organisation).select_related("patient"))
        .filter(status__in=PAYABLE, due_date__lt=today)
        .annotate(
            notice_level=Coalesce(
                Max("dunning_notices__level"), Value(0), output_field=IntegerField()
            )
        )
        .filter(due)
        .order_by("due_date", "id")
    )


def proposal_counts() -> dict[int, int]:
    """Per organisation (id) how many invoices are due for a notice now."""
    from organisations.models import Organisation

    counts = {}
    for organisation in Organisation.objects.all().iterator(chunk_size=200):
        count = dunning_proposals(organisation=organisation).count()
        if count:
            counts[organisation.pk] = count
    return counts


@transaction.atomic
def dunning_notice_create(*, invoice: Invoice, actor) -> DunningNotice:
    """The notice of the invoice's next level, dated today (organisation's zone), due
    in NOTICE_TERM_DAYS days, with its fee and what is open then (including this and
    earlier fees); its PDF rendered and archived before the row is written.
    409 `invalid_status` unless issued or partly paid (checked first); 409
    `dunning_not_due` before the level's days after the due date have passed, or
    when every level has been used."""
    invoice = _locked(invoice)
    refuse_status(invoice, PAYABLE, "eine Mahnung")
    organisation = invoice.organisation
    today = organisation.today()
    level = next_level(invoice, organisation)
    if level is None:
        raise DunningNotDue(
            "Zu dieser Rechnung sind alle Mahnstufen erstellt; es gibt keine weitere."
        )
    overdue = days_overdue(invoice, today)
    if overdue < level.days_after_due:
        raise DunningNotDue(
            f"„{level.name}“ ist erst {level.days_after_due} Tage nach Fälligkeit möglich; "
            f"die Rechnung ist {max(overdue, 0)} Tage überfällig."
        )
    money = balance(invoice)
    notice = DunningNotice(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        level=level.level,
        name=level.name,
        date=today,
        fee=level.fee,
        due_date=today + timedelta(days=NOTICE_TERM_DAYS),
        open_amount=money.open + level.fee,
        created_by_label=actor_label(actor),
    )
    notice.paid_before = money.paid
    content = pdf.dunning_pdf(notice)
    notice.sha256 = hashlib.sha256(content).hexdigest()
    notice.size = len(content)
    notice.file.save(f"{notice.public_id}.pdf", ContentFile(content), save=False)
    try:
        with transaction.atomic():
            notice.save()
    except Exception:
        notice.file.storage.delete(notice.file.name)
        raise
    audit_record(
        organisation=invoice.organisation_id,
        actor=actor,
        action=Action.DUNNING_CREATE,
        object_type="dunning",
        object_id=notice.public_id,
        patient=invoice.patient.public_id,
        detail=f"{invoice.number} Stufe {level.level}",
    )
    return notice


def dunning_notice_list(*, organisation) -> QuerySet[DunningNotice]:
    return scoped(DunningNotice, organisation).select_related("invoice", "invoice__patient")


def access_dunning_notice(*, organisation, public_id) -> DunningNotice:
    return access(
        dunning_notice_list(organisation=organisation),
        organisation=organisation,
        public_id=public_id,
    )


def stored_notice_pdf(notice: DunningNotice) -> bytes:
    """The bytes stored when the notice was made, checked against its hash (never
    rendered again): what the page and the API serve and what the e-mail attaches."""
    try:
        with notice.file.open("rb") as file:
            content = file.read()
    except (OSError, ValueError):
        content = b""
    if hashlib.sha256(content).hexdigest() != notice.sha256:
        logger.error("archived dunning notice %s fails its hash", notice.pk)
        raise ArchiveDamaged()
    return content


def dunning_notice_pdf(*, notice: DunningNotice, actor) -> bytes:
    """The notice's stored PDF for a person (in the Protokoll)."""
    content = stored_notice_pdf(notice)
    audit_record(
        organisation=notice.organisation_id,
        actor=actor,
        action=Action.DUNNING_PDF,
        object_type="dunning",
        object_id=notice.public_id,
        patient=notice.invoice.patient.public_id,
        detail=notice.invoice.number,
    )
    return content
