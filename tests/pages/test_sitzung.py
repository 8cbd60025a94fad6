"""The session's end through the Django test client (issue 13): scripts of an expired
session get 401 (never the login page), pages go to a login that says the session
expired, the idle timeout is refreshed by requests but not by the status URL.
The browser flows are in test_sitzung_browser.py."""

import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from organisations.models import Role
from tests.factories import PatientFactory, UserFactory
from web import sitzung

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
NOTICE = (
    "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an; Ihre Eingaben bleiben erhalten."
)


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, last_name="Mustermann", first_name="Max")


@pytest.fixture
def expired(client, admin_user):
    """A browser whose session ended on the server: it still sends the cookie."""
    client.force_login(admin_user)
    Session.objects.all().delete()
    return client


def test_htmx_request_of_an_expired_session_is_401_not_the_login_page(expired):
    response = expired.get(
        "/kalender/akten-suche/?q=Muster",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/kalender/neu/?spalte=1",
    )
    assert response.status_code == 401
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == sitzung.EXPIRED_TEXT
    assert "Anmelden" not in response.content.decode()
    assert "Location" not in response


def test_htmx_request_without_any_session_is_401(client):
    response = client.get("/akten/?q=Muster", HTTP_HX_REQUEST="true")
    assert response.status_code == 401
    assert response["WWW-Authenticate"]


def test_json_request_of_an_expired_session_is_401_with_a_german_detail(expired, patient):
    response = expired.post(f"/akten/{patient.public_id}/anhaenge/", HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "session_expired"
    assert body["detail"] == "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an."
    assert body["login_url"] == (
        f"/anmelden/?next=%2Fakten%2F{patient.public_id}%2Fanhaenge%2F&abgelaufen=1"
    )


def test_htmx_401_leads_back_to_the_page_the_script_runs_on(expired):
    response = expired.get(
        "/kalender/akten-suche/?q=M",
        HTTP_HX_REQUEST="true",
        HTTP_ACCEPT="application/json",
        HTTP_HX_CURRENT_URL="http://testserver/kalender/neu/?datum=2026-03-02",
    )
    assert response.status_code == 401
    assert response.json()["login_url"] == (
        "/anmelden/?next=%2Fkalender%2Fneu%2F%3Fdatum%3D2026-03-02&abgelaufen=1"
    )


def test_logged_in_htmx_request_without_the_right_stays_403(client, organisation):
    client.force_login(
        UserFactory(organisation=organisation, role=Role.STAFF, can_appointments=False)
    )
    response = client.get("/kalender/akten-suche/?q=a", HTTP_HX_REQUEST="true")
    assert response.status_code == 403


def test_form_sent_into_an_expired_session_goes_to_the_login_that_says_so(expired, patient):
    page = f"/akten/{patient.public_id}/"
    response = expired.post(page, {"last_name": "Neu"})
    assert response.status_code == 302
    assert response["Location"] == f"/anmelden/?abgelaufen=1&next={page}"
    login = expired.get(response["Location"])
    assert NOTICE in login.content.decode()
    assert login.context["next"] == page
    patient.refresh_from_db()
    assert patient.last_name == "Mustermann"


def test_page_asked_for_with_the_cookie_of_an_ended_session_says_it_expired(expired):
    response = expired.get("/akten/")
    assert response["Location"] == "/anmelden/?abgelaufen=1&next=/akten/"
    assert NOTICE in expired.get(response["Location"]).content.decode()


def test_plain_login_page_says_nothing_about_an_expired_session(client):
    response = client.get("/akten/")
    assert response["Location"] == "/anmelden/?next=/akten/"
    assert "abgelaufen" not in client.get(response["Location"]).content.decode()


def test_login_page_reached_with_a_stale_session_cookie_says_it_expired(expired):
    assert NOTICE in expired.get("/anmelden/").content.decode()


def _session_age(**env: str) -> subprocess.CompletedProcess:
    """SESSION_COOKIE_AGE as the settings read it from this environment."""
    environ = {k: v for k, v in os.environ.items() if k != "SESSION_IDLE_MINUTES"}
    environ.update(DJANGO_SETTINGS_MODULE="lemniscus.settings", SECRET_KEY="x" * 50, **env)
    code = "from django.conf import settings; print(settings.SESSION_COOKIE_AGE)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True
    )


def test_idle_timeout_is_an_hour_unless_the_environment_says_otherwise():
    assert _session_age().stdout.strip() == "3600"
    assert _session_age(SESSION_IDLE_MINUTES="20").stdout.strip() == "1200"
    refused = _session_age(SESSION_IDLE_MINUTES="0")
    assert refused.returncode != 0
    assert "SESSION_IDLE_MINUTES must be at least 1" in refused.stderr


def test_pages_tell_the_seconds_left(client, admin_user, settings):
    settings.SESSION_COOKIE_AGE = 30 * 60
    client.force_login(admin_user)
    response = client.get("/")
    assert 1790 <= int(response["X-Sitzung-Sekunden"]) <= 1800  # 30 minutes, less the test's time
    html = response.content.decode()
    shown = re.search(r'data-sitzung-sekunden="(\d+)"', html)
    assert shown and 1790 <= int(shown.group(1)) <= 1800
    assert 'data-sitzung-status="/sitzung/status/"' in html
    row = Session.objects.get()
    assert abs((row.expire_date - timezone.now()) - timedelta(minutes=30)) < timedelta(seconds=5)


def test_status_tells_the_seconds_left_without_extending(client, admin_user, settings):
    settings.SESSION_COOKIE_AGE = 3600
    client.force_login(admin_user)
    session = client.session
    session[sitzung.EXPIRES_KEY] = int(time.time()) + 600  # ten minutes left
    session.save()
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=10))
    row_before = Session.objects.get().expire_date

    answer = client.get("/sitzung/status/")

    assert answer.json()["angemeldet"] is True
    assert 595 <= answer.json()["sekunden"] <= 600
    assert "X-Sitzung-Sekunden" not in answer
    assert Session.objects.get().expire_date == row_before
    assert "no-cache" in answer["Cache-Control"] or "no-store" in answer["Cache-Control"]


def test_a_page_request_extends_the_session(client, admin_user, settings):
    settings.SESSION_COOKIE_AGE = 3600
    client.force_login(admin_user)
    session = client.session
    session[sitzung.EXPIRES_KEY] = int(time.time()) + 600
    session.save()

    response = client.get("/akten/")

    assert int(response["X-Sitzung-Sekunden"]) >= 3599
    row = Session.objects.get()
    assert row.expire_date - timezone.now() > timedelta(minutes=59)
    assert client.get("/sitzung/status/").json()["sekunden"] >= 3598


def test_status_of_an_expired_session(expired):
    assert expired.get("/sitzung/status/").json() == {"angemeldet": False, "sekunden": 0}


def test_session_past_its_end_is_gone(client, admin_user):
    client.force_login(admin_user)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/sitzung/status/").json()["angemeldet"] is False
    assert client.get("/akten/", HTTP_HX_REQUEST="true").status_code == 401
