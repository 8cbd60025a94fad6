"""Invoice actions in the Protokoll: draft, recipient, issue, payment, Storno,
discarding, and every PDF download (staff API and pages). Numbers and counts only:
never amounts, services, the diagnosis or the recipient."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.actions import Action
from billing import services
from billing.models import Invoice
from tests.audit.conftest import assert_no_trace, entries, only
from tests.factories import AppointmentFactory, PatientFactory, ServiceChainFactory

pytestmark = pytest.mark.django_db

RECIPIENT = {
    "first_name": "Otto",
    "last_name": "Obhut",
    "street": "Pflegeweg 3",
    "postal_code": "14467",
    "city": "Potsdam",
}
CHAIN = [("X1501", "Lymphdrainage", Decimal("41.17"), Decimal("0.00"), 30)]


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, last_name="Vertraulich")


@pytest.fixture
def draft(organisation, admin_user, patient):
    chain = ServiceChainFactory(organisation=organisation, services=CHAIN)
    appointments = [
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            start=timezone.now() - timedelta(days=days),
        )
        for days in (2, 1)
    ]
    return services.invoice_create(
        organisation=organisation,
        actor=admin_user,
        patient=patient,
        appointments=appointments,
        diagnosis="Lumbago M54.5",
    )


def test_an_invoices_life_is_logged_with_numbers_only(organisation, admin_user, patient, draft):
    services.invoice_set_recipient(invoice=draft, actor=admin_user, recipient=RECIPIENT)
    issued = services.invoice_issue(invoice=draft, actor=admin_user)
    services.invoice_pay(invoice=issued, actor=admin_user)
    cancelled = services.invoice_cancel(invoice=issued, actor=admin_user)

    assert [(e.action, e.detail) for e in entries(organisation)] == [
        (Action.INVOICE_CREATE, "2 Termine"),
        (Action.INVOICE_RECIPIENT, "abweichender Empfänger"),
        (Action.INVOICE_ISSUE, issued.number),
        (Action.PAYMENT_CREATE, issued.number),  # "bezahlt": a transfer of the open amount
        (Action.INVOICE_CANCEL, f"{issued.number}, Stornorechnung {cancelled.cancellation_number}"),
    ]
    for event in entries(organisation):
        assert (event.actor, event.object_type, event.object_id, event.patient_id) == (
            admin_user,
            "invoice",
            str(draft.public_id),
            patient.public_id,
        )
    assert_no_trace(
        organisation,
        "Lumbago",
        "M54",
        "Lymphdrainage",
        "41,17",
        "41.17",
        "82.34",
        "Otto",
        "Obhut",
        "Pflegeweg",
    )


def test_discarding_a_draft_is_not_a_storno(organisation, admin_user, draft):
    services.invoice_cancel(invoice=draft, actor=admin_user)

    assert only(organisation, Action.INVOICE_DISCARD).detail == ""
    assert not entries(organisation, Action.INVOICE_CANCEL)


def test_a_refused_transition_leaves_no_entry(organisation, admin_user, draft):
    Invoice.objects.filter(pk=draft.pk).update(status="cancelled")

    with pytest.raises(Exception, match="storniert"):
        services.invoice_issue(invoice=draft, actor=admin_user)

    assert not entries(organisation, Action.INVOICE_ISSUE)


def test_pdf_downloads_are_logged_from_the_api_and_the_pages(
    api, client, organisation, admin_user, draft
):
    client.force_login(admin_user)

    assert api.get(f"/api/v1/invoices/{draft.public_id}/pdf").status_code == 200
    issued = services.invoice_issue(invoice=draft, actor=admin_user)
    assert client.get(f"/rechnungen/{draft.public_id}/pdf/").status_code == 200
    services.invoice_cancel(invoice=issued, actor=admin_user)
    storno = api.get(f"/api/v1/invoices/{draft.public_id}/cancellation-pdf")
    assert storno.status_code == 200, storno.content
    issued.refresh_from_db()

    assert [(e.actor, e.detail) for e in entries(organisation, Action.INVOICE_PDF)] == [
        (admin_user, "Entwurf"),
        (admin_user, issued.number),
        (admin_user, f"Stornorechnung {issued.cancellation_number}"),
    ]
