"""E-mails to patients about their appointments (confirmation, reminder) and the
signed one-click cancellation link they carry.

Each e-mail goes out at most once: the row is locked, checked and marked in the
transaction that sends it. Logs name ids only, never addresses or names."""

import logging
import time
from datetime import timedelta
from email.utils import formataddr
from smtplib import SMTPRecipientsRefused

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from appointments import services
from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from lemniscus.errors import DomainError
from lemniscus.tenancy import scoped
from organisations.models import Organisation

logger = logging.getLogger(__name__)

LINK_SALT = "appointments.cancellation-link"
CANCELLED_VIA_LINK = "Absage per Link"
SENT_REASON = {
    "confirmation": "Terminbestätigung per E-Mail gesendet",
    "reminder": "Terminerinnerung per E-Mail gesendet",
}


def handed_over(organisation: Organisation) -> bool:
    """After the handover to Doctolib lemniscus sends nothing and its links are void."""
    return organisation.handover_at is not None


def notification_allowed(appointment: Appointment) -> bool:
    """Whether the patient may be e-mailed about this appointment now."""
    return (
        appointment.source == AppointmentSource.LEMNISCUS
        and appointment.status == AppointmentStatus.PLANNED
        and appointment.start > timezone.now()
        and bool(appointment.patient.email)
        and not handed_over(appointment.organisation)
    )


# Cancellation links


def cancellation_token(appointment: Appointment) -> str:
    """Signed ids of the appointment and its organisation; valid until the start."""
    return signing.dumps(
        [appointment.public_id.hex, appointment.organisation.public_id.hex], salt=LINK_SALT
    )


def cancellation_url(appointment: Appointment) -> str:
    path = reverse("appointment-cancel", args=[cancellation_token(appointment)])
    return f"{settings.PUBLIC_BASE_URL}{path}"


class LinkRefused(DomainError):
    """A cancellation link that cannot cancel (any more); the page shows `title` and
    `detail` with `status`, and the practice's contact when `extra["organisation"]`."""


class LinkTampered(LinkRefused):
    status, code, title = 400, "link_invalid", "Link ungültig"
    default_detail = (
        "Dieser Absagelink ist ungültig. Bitte prüfen Sie, ob er vollständig übernommen "
        "wurde, oder wenden Sie sich an die Praxis."
    )


class AppointmentGone(LinkRefused):
    status, code, title = 410, "appointment_gone", "Termin nicht gefunden"
    default_detail = (
        "Diesen Termin gibt es nicht mehr. Bei Fragen wenden Sie sich bitte an die Praxis."
    )


class LinkHandedOver(LinkRefused):
    status, code, title = 410, "link_handed_over", "Link nicht mehr gültig"
    default_detail = (
        "Dieser Absagelink ist nicht mehr gültig, weil die Praxis ihre Termine inzwischen "
        "in einem anderen System verwaltet. Bitte wenden Sie sich direkt an die Praxis, "
        "um Ihren Termin abzusagen."
    )


class AlreadyCancelled(LinkRefused):
    status, code, title = 410, "already_cancelled", "Termin bereits abgesagt"
    default_detail = "Dieser Termin ist bereits abgesagt. Sie müssen nichts weiter tun."


class LinkExpired(LinkRefused):
    status, code, title = 410, "link_expired", "Link abgelaufen"
    default_detail = (
        "Dieser Termin hat bereits begonnen oder ist vorbei; der Absagelink gilt nur bis "
        "zum Beginn des Termins. Bitte wenden Sie sich an die Praxis."
    )


class NotCancellable(LinkRefused):
    status, code, title = 409, "not_cancellable", "Absage online nicht möglich"
    default_detail = (
        "Dieser Termin kann nicht mehr online abgesagt werden. Bitte wenden Sie sich "
        "direkt an die Praxis."
    )


def _link_ids(token: str) -> tuple[str, str]:
    try:
        appointment_id, organisation_id = signing.loads(token, salt=LINK_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise LinkTampered() from None
    return appointment_id, organisation_id


def cancellation_target(*, token: str, lock: bool = False) -> Appointment:
    """The appointment a cancellation link can cancel now, or the LinkRefused that
    says why not. Unscoped by design: the signed token names the organisation."""
    appointment_id, organisation_id = _link_ids(token)
    organisation = Organisation.objects.filter(public_id=organisation_id).first()
    if organisation is None:
        raise AppointmentGone()
    if handed_over(organisation):
        raise LinkHandedOver(organisation=organisation)
    appointments = scoped(Appointment, organisation).select_related("calendar_column")
    if lock:
        appointments = appointments.select_for_update(of=("self",))
    appointment = appointments.filter(public_id=appointment_id).first()
    if appointment is None:
        raise AppointmentGone(organisation=organisation)
    appointment.organisation = organisation
    if appointment.status == AppointmentStatus.CANCELLED:
        raise AlreadyCancelled(organisation=organisation)
    if appointment.start <= timezone.now():
        raise LinkExpired(organisation=organisation)
    if (
        appointment.status != AppointmentStatus.PLANNED
        or appointment.source != AppointmentSource.LEMNISCUS
        or appointment.invoice_id is not None
    ):
        raise NotCancellable(organisation=organisation)
    return appointment


@transaction.atomic
def cancel_via_link(*, token: str) -> Appointment:
    """The patient's one-click cancellation: status cancelled, no actor, the reason
    "Absage per Link" in the history."""
    appointment = cancellation_target(token=token, lock=True)
    services.apply_status(appointment, AppointmentStatus.CANCELLED)
    appointment.cancelled_via_link_at = timezone.now()
    appointment._history_user = None
    appointment._change_reason = CANCELLED_VIA_LINK
    appointment.save(update_fields=["status", "cancelled_via_link_at", "updated_at"])
    logger.info("appointment cancelled via link appointment=%s", appointment.pk)
    return appointment


# E-mails


def appointment_context(appointment: Appointment) -> dict:
    """What e-mails and pages say about an appointment; render it in the
    organisation's zone (`timezone.override`)."""
    return {
        "organisation": appointment.organisation,
        "appointment": appointment,
        "column": appointment.calendar_column,
    }


def _send(appointment: Appointment, kind: str) -> None:
    organisation = appointment.organisation
    context = {
        **appointment_context(appointment),
        "kind": kind,
        "patient": appointment.patient,
        "cancel_url": cancellation_url(appointment),
    }
    with translation.override("de"), timezone.override(organisation.zone):
        subject = render_to_string("appointments/email/subject.txt", context).strip()
        text = render_to_string("appointments/email/notification.txt", context)
        html = render_to_string("appointments/email/notification.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=formataddr((organisation.name, settings.DEFAULT_FROM_EMAIL)),
        to=[appointment.patient.email],
        reply_to=[organisation.email] if organisation.email else None,
    )
    message.attach_alternative(html, "text/html")
    message.send()
    logger.info("appointment %s sent appointment=%s", kind, appointment.pk)


def _mark_sent(appointment: Appointment, kind: str, fields: list[str]) -> None:
    """Recorded in the history (no actor), without touching `updated_at`."""
    appointment._history_user = None
    appointment._change_reason = SENT_REASON[kind]
    appointment.save(update_fields=fields)


def _locked(appointments, *, skip_locked: bool = False):
    return appointments.select_for_update(of=("self",), skip_locked=skip_locked).select_related(
        "organisation", "patient", "calendar_column"
    )


@transaction.atomic
def send_confirmation(*, appointment_id: int) -> bool:
    """E-mail the confirmation of a staff-made appointment, once. Inside the reminder
    window it stands for the reminder too. True when an e-mail went out."""
    appointment = _locked(Appointment.objects.filter(pk=appointment_id)).first()
    if (
        appointment is None
        or appointment.confirmation_sent_at is not None
        or appointment.reminder_sent_at is not None
        or not notification_allowed(appointment)
    ):
        return False
    now = timezone.now()
    appointment.confirmation_sent_at = now
    fields = ["confirmation_sent_at"]
    hours = appointment.organisation.reminder_hours_before
    if hours and appointment.start - timedelta(hours=hours) <= now:
        appointment.reminder_sent_at = now
        fields.append("reminder_sent_at")
    _mark_sent(appointment, "confirmation", fields)
    _send(appointment, "confirmation")
    return True


def due_reminders():
    """Planned staff-made appointments whose reminder is due and not sent, by start
    (notification_allowed is checked again on each locked row). One window per
    distinct `reminder_hours_before` keeps the query portable and on the start index."""
    now = timezone.now()
    hours = (
        Organisation.objects.filter(handover_at__isnull=True, reminder_hours_before__gt=0)
        .values_list("reminder_hours_before", flat=True)
        .distinct()
    )
    windows = Q(pk__in=[])
    for h in hours:
        windows |= Q(organisation__reminder_hours_before=h, start__lte=now + timedelta(hours=h))
    return (
        Appointment.objects.filter(
            windows,
            source=AppointmentSource.LEMNISCUS,
            status=AppointmentStatus.PLANNED,
            reminder_sent_at__isnull=True,
            start__gt=now,
            organisation__handover_at__isnull=True,
            patient__reminder_consent=True,
        )
        .exclude(patient__email="")
        .order_by("start", "pk")
    )


def send_due_reminders(*, time_budget: float = 180.0) -> int:
    """Send every due reminder once, each in its own transaction; a row another
    run holds is skipped. A refused recipient is skipped for this run; other
    delivery errors end the run (the task retries). Returns how many went out."""
    deadline = time.monotonic() + time_budget
    due, sent, skipped = due_reminders(), 0, set()
    while time.monotonic() < deadline:
        try:
            with transaction.atomic():
                appointment = _locked(due.exclude(pk__in=skipped), skip_locked=True).first()
                if appointment is None:
                    return sent
                if not (notification_allowed(appointment) and appointment.patient.reminder_consent):
                    skipped.add(appointment.pk)
                    continue
                appointment.reminder_sent_at = timezone.now()
                _mark_sent(appointment, "reminder", ["reminder_sent_at"])
                _send(appointment, "reminder")
                sent += 1
        except SMTPRecipientsRefused:
            logger.warning("appointment reminder refused appointment=%s", appointment.pk)
            skipped.add(appointment.pk)
    return sent
