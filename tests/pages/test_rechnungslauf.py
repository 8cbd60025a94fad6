"""The page "Rechnungslauf" (under Rechnungen): the form with last month, German
errors, the progress part htmx polls, the review list with totals and skipped
patients, "Alle stellen", "Alle senden", the print PDF, the billing right."""

from datetime import timedelta

import pytest
from django.utils import timezone

from appointments.models import AppointmentStatus
from billing.models import BillingRun, BillingRunStatus, Invoice, InvoiceStatus
from organisations.models import Role
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)
from web.views.rechnungslauf import last_month

pytestmark = pytest.mark.django_db

PAGE = "/rechnungen/laeufe/"


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def last_months_visits(organisation):
    """Three patients treated last month (one without an e-mail address), one whose
    appointment is still planned."""
    start, _ = last_month(organisation.today())
    when = timezone.make_aware(
        timezone.datetime.combine(start + timedelta(days=2), timezone.datetime.min.time()),
        organisation.zone,
    ) + timedelta(hours=9)
    chain = ServiceChainFactory(organisation=organisation)
    column = CalendarColumnFactory(organisation=organisation)
    patients = [
        PatientFactory(organisation=organisation, last_name="Adler", email="adler@example.org"),
        PatientFactory(organisation=organisation, last_name="Berg", email="berg@example.org"),
        PatientFactory(organisation=organisation, last_name="Clausen", email=""),
    ]
    for patient in patients:
        AppointmentFactory(
            organisation=organisation,
            patient=patient,
            service_chain=chain,
            calendar_column=column,
            start=when,
        )
    planned = PatientFactory(organisation=organisation, last_name="Dorn")
    AppointmentFactory(
        organisation=organisation,
        patient=planned,
        service_chain=chain,
        calendar_column=column,
        start=when,
        status=AppointmentStatus.PLANNED,
    )
    return patients


def test_the_form_offers_last_month_and_the_columns(biller, organisation):
    CalendarColumnFactory(organisation=organisation, name="Frau Lind")
    start, end = last_month(organisation.today())

    html = biller.get(PAGE).content.decode()

    assert f'value="{start:%Y-%m-%d}"' in html and f'value="{end:%Y-%m-%d}"' in html
    assert "Frau Lind" in html
    assert "Rechnungslauf" in biller.get("/rechnungen/").content.decode()


def test_a_reversed_period_is_a_german_error_and_starts_nothing(biller):
    response = biller.post(PAGE, {"period_start": "2026-11-30", "period_end": "2026-11-01"})

    assert response.status_code == 422
    assert "Das Ende liegt vor dem Beginn." in response.content.decode()
    assert not BillingRun.objects.exists()


def test_a_second_run_while_one_works_is_refused_in_german(biller, organisation, admin_user):
    start, end = last_month(organisation.today())
    BillingRun.objects.create(
        organisation=organisation, created_by=admin_user, period_start=start, period_end=end
    )

    response = biller.post(PAGE, {"period_start": start, "period_end": end})

    assert response.status_code == 422
    assert "Ein Rechnungslauf der Praxis arbeitet noch" in response.content.decode()


def test_progress_is_polled_while_the_job_works_and_reloads_when_done(
    biller, organisation, admin_user
):
    start, end = last_month(organisation.today())
    run = BillingRun.objects.create(
        organisation=organisation,
        created_by=admin_user,
        period_start=start,
        period_end=end,
        status=BillingRunStatus.RUNNING,
        progress_done=120,
        progress_total=480,
    )
    url = f"{PAGE}{run.public_id}/"

    html = biller.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert 'value="120"' in html and 'max="480"' in html and "120 von 480" in html

    run.status = BillingRunStatus.DONE
    run.save()
    done = biller.get(f"{url}?teil=fortschritt")
    assert done["HX-Refresh"] == "true"
    assert 'hx-trigger="every 2s"' not in biller.get(url).content.decode()


def test_start_review_issue_send_and_print(
    biller, organisation, last_months_visits, django_capture_on_commit_callbacks
):
    start, end = last_month(organisation.today())
    with django_capture_on_commit_callbacks(execute=True):
        response = biller.post(PAGE, {"period_start": start, "period_end": end})
    run = BillingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{PAGE}{run.public_id}/"

    html = biller.get(response["Location"]).content.decode()
    assert "Alle stellen (3)" in html
    assert "195,00 €" in html  # three drafts of 65,00 €
    assert "Übersprungen (1)" in html and "Dorn" in html and "noch nicht erledigt" in html

    with django_capture_on_commit_callbacks(execute=True):
        biller.post(f"{PAGE}{run.public_id}/stellen/")
    assert Invoice.objects.filter(status=InvoiceStatus.ISSUED).count() == 3
    html = biller.get(f"{PAGE}{run.public_id}/").content.decode()
    assert "Alle senden (2)" in html and "Druck-PDF (1 ohne E-Mail)" in html

    with django_capture_on_commit_callbacks(execute=True):
        sent = biller.post(f"{PAGE}{run.public_id}/senden/", follow=True)
    assert "2 Rechnungen werden per E-Mail gesendet." in sent.content.decode()
    assert "1 ohne E-Mail-Adresse" in sent.content.decode()
    assert Invoice.objects.filter(sent_at__isnull=False).count() == 2

    pdf = biller.get(f"{PAGE}{run.public_id}/druck.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"


def test_the_pages_need_the_billing_right(client, organisation, admin_user):
    start, end = last_month(organisation.today())
    run = BillingRun.objects.create(
        organisation=organisation, created_by=admin_user, period_start=start, period_end=end
    )
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False))

    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}{run.public_id}/").status_code == 403
    assert client.post(f"{PAGE}{run.public_id}/stellen/").status_code == 403


def test_another_organisations_run_is_404(client, other_organisation, admin_user, organisation):
    start, end = last_month(organisation.today())
    run = BillingRun.objects.create(
        organisation=organisation, created_by=admin_user, period_start=start, period_end=end
    )
    client.force_login(UserFactory(organisation=other_organisation))

    assert client.get(f"{PAGE}{run.public_id}/").status_code == 404
    assert client.get(f"{PAGE}{run.public_id}/druck.pdf").status_code == 404
