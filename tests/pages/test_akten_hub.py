"""The record as the front desk's hub (issue 11, part 1): next and past appointments
with status and link, invoices with number, status and open amount, "Neuer Termin"
and "Neue Rechnung" for this patient; paged, in a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment, AppointmentStatus
from billing import services as billing
from organisations.models import Role
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, first_name="Felix", last_name="Bauer")


@pytest.fixture
def desk(client, admin_user):
    client.force_login(admin_user)
    return client


def _bulk_appointments(organisation, patient, count: int, *, days_ago_from: int = 1):
    column = CalendarColumnFactory(organisation=organisation)
    chain = ServiceChainFactory(organisation=organisation)
    now = timezone.now()
    Appointment.objects.bulk_create(
        Appointment(
            organisation=organisation,
            patient=patient,
            calendar_column=column,
            service_chain=chain,
            start=now - timedelta(days=days_ago_from + n),
            duration_minutes=30,
            status=AppointmentStatus.DONE,
        )
        for n in range(count)
    )


def test_the_record_shows_next_and_past_appointments_and_invoices(
    desk, organisation, admin_user, patient
):
    next_one = AppointmentFactory(
        organisation=organisation, patient=patient, start=timezone.now() + timedelta(days=2)
    )
    done = AppointmentFactory(organisation=organisation, patient=patient)
    missed = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        start=timezone.now() - timedelta(days=3),
        status=AppointmentStatus.NO_SHOW,
    )
    invoice = billing.invoice_issue(
        invoice=billing.invoice_create(
            organisation=organisation, actor=admin_user, patient=patient, appointments=[done]
        ),
        actor=admin_user,
    )

    page = desk.get(f"/akten/{patient.public_id}/").content.decode()

    upcoming, rest = page.split('id="naechste-heading"')[1].split('id="rechnungen-heading"')
    assert f'href="/termine/{next_one.public_id}/"' in upcoming and "geplant" in upcoming
    past = page.split('id="vergangene-heading"')[1].split('id="stammdaten-heading"')[0]
    assert f'href="/termine/{done.public_id}/"' in past and "erledigt" in past
    assert f'href="/termine/{missed.public_id}/"' in past and "nicht erschienen" in past
    assert f'href="/rechnungen/{invoice.public_id}/"' in rest and invoice.number in rest
    assert "gestellt" in rest and '65,00 €</td>\n        <td class="abr-num">65,00 €' in rest
    assert f'href="/kalender/neu/?patient={patient.public_id}"' in page
    assert f'href="/rechnungen/neu/?patient={patient.public_id}"' in page


def test_open_amount_is_nothing_once_paid_or_cancelled_and_none_for_a_draft(
    desk, organisation, admin_user, patient
):
    made = [AppointmentFactory(organisation=organisation, patient=patient) for _ in range(3)]
    drafts = [
        billing.invoice_create(
            organisation=organisation, actor=admin_user, patient=patient, appointments=[a]
        )
        for a in made
    ]
    billing.invoice_pay(invoice=billing.invoice_issue(invoice=drafts[0], actor=admin_user),
                        actor=admin_user)  # fmt: skip
    billing.invoice_cancel(invoice=billing.invoice_issue(invoice=drafts[1], actor=admin_user),
                           actor=admin_user)  # fmt: skip

    rest = desk.get(f"/akten/{patient.public_id}/").content.decode()
    rest = rest.split('id="rechnungen-heading"')[1].split('id="vergangene-heading"')[0]

    assert rest.count('<td class="abr-num">0,00 €</td>') == 2
    assert '<td class="abr-num">–</td>' in rest  # the draft


def test_the_new_appointment_page_starts_with_this_patient(desk, patient):
    page = desk.get("/kalender/neu/", {"patient": str(patient.public_id)}).content.decode()

    assert f'<option value="{patient.public_id}" selected>Bauer, Felix' in page


@pytest.mark.parametrize("count", [1, 500])
def test_the_record_page_is_paged_in_constant_queries(
    desk, organisation, admin_user, patient, count
):
    _bulk_appointments(organisation, patient, count)
    with CaptureQueriesContext(connection) as small:
        desk.get(f"/akten/{PatientFactory(organisation=organisation).public_id}/")

    with CaptureQueriesContext(connection) as queries:
        page = desk.get(f"/akten/{patient.public_id}/").content.decode()

    assert len(queries) <= len(small) + 3  # the paginators' counts
    assert page.count('href="/termine/') == min(count, 10)
    if count == 500:
        assert "Seite 1 von 50" in page


def test_older_appointments_are_on_the_next_pages(desk, organisation, patient):
    _bulk_appointments(organisation, patient, 25)
    oldest = Appointment.objects.filter(patient=patient).order_by("start").first()

    last = desk.get(f"/akten/{patient.public_id}/", {"verlauf_seite": 3}).content.decode()

    assert "Seite 3 von 3" in last
    assert f'href="/termine/{oldest.public_id}/"' in last


def test_members_without_billing_see_no_invoices_and_no_new_invoice(client, organisation, patient):
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False))

    page = client.get(f"/akten/{patient.public_id}/").content.decode()

    assert 'id="rechnungen-heading"' not in page and "Neue Rechnung" not in page
    assert "Neuer Termin" in page
