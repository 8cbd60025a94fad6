import logging
import socket
from datetime import datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from billing import services
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory

THERAPY = [("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25)]
MIXED = [
    ("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25),
    ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0),
]


# A mother who pays for her child, with her own address (invoices POST `recipient`).
PARENT = {
    "salutation": "female",
    "first_name": "Erika",
    "last_name": "Muster",
    "street": "Weg 1",
    "postal_code": "20095",
    "city": "Hamburg",
    "email": "mutter@example.org",
}


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation)


@pytest.fixture
def chain(organisation):
    return ServiceChainFactory(organisation=organisation, services=MIXED)


@pytest.fixture
def appointments(organisation, patient, chain):
    """Three past appointments of `patient`, each with the mixed chain."""
    return [
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            start=timezone.now() - timedelta(days=days),
        )
        for days in (3, 2, 1)
    ]


@pytest.fixture
def draft(organisation, admin_user, patient, appointments):
    return services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=appointments
    )


@pytest.fixture
def parents_draft(organisation, admin_user, patient, appointments):
    """A draft to PARENT; the patient has an address of their own."""
    patient.email = "patient@example.org"
    patient.save()
    return services.invoice_create(
        organisation=organisation,
        actor=admin_user,
        patient=patient,
        appointments=appointments,
        recipient=PARENT,
    )


@pytest.fixture
def frozen_now(monkeypatch):
    """Sets "now" (an aware datetime) for Django's `timezone.now`."""

    def freeze(moment: datetime):
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return freeze


def make_draft(*, organisation, actor, count: int = 1, chain=None):
    """A draft invoice over `count` new past appointments of a new patient."""
    patient = PatientFactory(organisation=organisation)
    chain = chain or ServiceChainFactory(organisation=organisation, services=THERAPY)
    booked = AppointmentFactory.create_batch(
        count, organisation=organisation, patient=patient, service_chain=chain
    )
    return services.invoice_create(
        organisation=organisation, actor=actor, patient=patient, appointments=booked
    )


class Inbox:
    """What the SMTP server received: (envelope recipients, message)."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1 and Django's SMTP backend pointed at it."""
    inbox = Inbox()
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the server's own log
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "versand@lemniscus.test"
    yield inbox
    controller.stop()


def mail_text(message) -> str:
    """The plain text of a received e-mail, with LF line ends."""
    return message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
