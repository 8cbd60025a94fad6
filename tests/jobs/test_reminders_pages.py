"""The public cancellation pages behind the e-mails' one-click link."""

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from appointments.models import AppointmentSource, AppointmentStatus
from appointments.notifications import cancellation_token, cancellation_url
from billing.models import Invoice
from tests.factories import AppointmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser() -> Client:
    """A patient's browser: no login, CSRF checked as in production."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def appointment(organisation):
    organisation.phone = "+49301234567"
    organisation.save()
    return AppointmentFactory(
        organisation=organisation,
        start=timezone.now() + timedelta(days=2),
        patient__email="anna@example.org",
        calendar_column__name="Jana Weber",
    )


def link(appointment) -> str:
    return f"/absage/{cancellation_token(appointment)}/"


def confirm(browser, url):
    """GET the page, then POST its form with the CSRF token it set."""
    page = browser.get(url)
    assert page.status_code == 200, page.content
    return browser.post(url, {"csrfmiddlewaretoken": browser.cookies["csrftoken"].value})


def snapshot(appointment):
    appointment.refresh_from_db()
    return (appointment.status, appointment.cancelled_via_link_at, appointment.history.count())


def test_link_asks_then_cancels_and_staff_see_it(browser, appointment, api, client):
    before = snapshot(appointment)
    page = browser.get(link(appointment))
    assert page.status_code == 200
    text = page.content.decode()
    local = timezone.localtime(appointment.start, appointment.organisation.zone)
    assert f"um <strong>{local:%H:%M} Uhr</strong> bei Jana Weber absagen?" in text
    assert 'method="post"' in text and "csrfmiddlewaretoken" in text
    assert "030 1234567" in text  # the practice's contact, shown nationally
    assert page["Referrer-Policy"] == "no-referrer"
    assert snapshot(appointment) == before  # asking changes nothing

    done = confirm(browser, link(appointment))

    assert done.status_code == 200
    assert "Ihr Termin ist abgesagt" in done.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancelled_via_link_at is not None
    newest = appointment.history.first()
    assert (newest.history_change_reason, newest.history_user, newest.status) == (
        "Absage per Link",
        None,
        "cancelled",
    )
    assert api.get(f"/api/v1/appointments/{appointment.public_id}/").json()["status"] == "cancelled"
    client.force_login(UserFactory(organisation=None, is_staff=True, is_superuser=True))
    history_page = client.get(f"/admin/appointments/appointment/{appointment.pk}/history/")
    assert "Absage per Link" in history_page.content.decode()


def test_url_in_the_mail_is_the_page(settings, appointment):
    settings.PUBLIC_BASE_URL = "https://praxis.example"
    assert cancellation_url(appointment) == f"https://praxis.example{link(appointment)}"


def test_post_without_csrf_token_changes_nothing(browser, appointment):
    before = snapshot(appointment)
    assert browser.post(link(appointment)).status_code == 403
    assert snapshot(appointment) == before


def page_says(response, status: int, words: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("text/html")
    assert words in response.content.decode()


@pytest.mark.parametrize(
    "token",
    [
        "kaputt",
        signing.dumps(["a", "b"], salt="something-else"),
        signing.dumps("not a pair", salt="appointments.cancellation-link"),
    ],
)
def test_tampered_or_foreign_token_is_a_clear_400(client, appointment, token):
    before = snapshot(appointment)
    url = f"/absage/{token}/"
    page_says(client.get(url), 400, "Dieser Absagelink ist ungültig.")
    page_says(client.post(url), 400, "Dieser Absagelink ist ungültig.")
    assert snapshot(appointment) == before


def test_token_with_a_changed_character_is_refused(browser, appointment):
    token = cancellation_token(appointment)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    page_says(browser.get(f"/absage/{tampered}/"), 400, "ungültig")


def test_link_expires_when_the_appointment_starts(browser, appointment):
    url = link(appointment)
    appointment.start = timezone.now() - timedelta(minutes=1)
    appointment.save()
    before = snapshot(appointment)
    page_says(browser.get(url), 410, "der Absagelink gilt nur bis zum Beginn des Termins")
    assert snapshot(appointment) == before


def test_link_used_twice_says_already_cancelled(browser, appointment):
    url = link(appointment)
    assert confirm(browser, url).status_code == 200
    before = snapshot(appointment)
    page_says(browser.get(url), 410, "Dieser Termin ist bereits abgesagt.")
    csrf = browser.cookies["csrftoken"].value
    page_says(browser.post(url, {"csrfmiddlewaretoken": csrf}), 410, "bereits abgesagt")
    assert snapshot(appointment) == before


def test_link_after_handover_is_no_longer_valid(browser, appointment, organisation):
    url = link(appointment)
    organisation.handover_at = timezone.now()
    organisation.save()
    before = snapshot(appointment)
    page_says(browser.get(url), 410, "Dieser Absagelink ist nicht mehr gültig")
    assert snapshot(appointment) == before
    appointment.delete()  # the handover removes the appointments it hands over
    page_says(browser.get(url), 410, "Dieser Absagelink ist nicht mehr gültig")


def test_invoiced_appointment_cannot_be_cancelled_by_link(browser, appointment):
    url = link(appointment)
    assert browser.get(url).status_code == 200
    appointment.invoice = Invoice.objects.create(
        organisation=appointment.organisation, patient=appointment.patient
    )
    appointment.save()
    before = snapshot(appointment)
    csrf = browser.cookies["csrftoken"].value
    page_says(browser.post(url, {"csrfmiddlewaretoken": csrf}), 409, "nicht mehr online abgesagt")
    assert snapshot(appointment) == before


@pytest.mark.parametrize(
    "fields",
    [{"status": AppointmentStatus.DONE}, {"source": AppointmentSource.DOCTOLIB}],
)
def test_appointment_not_planned_in_lemniscus_cannot_be_cancelled_by_link(
    browser, appointment, fields
):
    url = link(appointment)
    for name, value in fields.items():
        setattr(appointment, name, value)
    appointment.save()
    page_says(browser.get(url), 409, "nicht mehr online abgesagt")


def test_deleted_appointment_is_gone(browser, appointment):
    url = link(appointment)
    appointment.delete()
    page_says(browser.get(url), 410, "Diesen Termin gibt es nicht mehr.")


def test_other_methods_are_refused(client, appointment):
    assert client.put(link(appointment)).status_code == 405
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PLANNED
