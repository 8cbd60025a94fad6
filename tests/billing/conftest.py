from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory

THERAPY = [("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25)]
MIXED = [
    ("X1501", "Krankengymnastik", Decimal("32.50"), Decimal("0.00"), 25),
    ("W1", "Massageöl", Decimal("8.40"), Decimal("19.00"), 0),
]


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
