"""Einstellungen → Tokens through the Django test client: admins only, the Doctolib
switch's server side, personal API tokens, the handover export with its job list and
downloads; other organisations, bad input, query counts."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from appointments.models import Appointment
from doctolib_bridge.models import ExportJob, ExportState
from organisations.models import Plan, Role
from outbox import services as outbox_services
from outbox.models import OutboxMessage
from tests.factories import AppointmentFactory, PatientFactory, UserFactory
from tokens.models import Token, TokenKind
from tokens.services import hash_token, token_create

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    ("get", "/einstellungen/"),
    ("get", "/einstellungen/praxis/"),
    ("post", "/einstellungen/praxis/"),
    ("get", "/einstellungen/tokens/"),
    ("post", "/einstellungen/tokens/"),
    ("post", "/einstellungen/tokens/doctolib/aktivieren/"),
    ("get", "/einstellungen/tokens/doctolib/deaktivieren/"),
    ("post", "/einstellungen/tokens/doctolib/deaktivieren/"),
    ("get", "/einstellungen/exporte/"),
    ("get", "/einstellungen/exporte/starten/"),
    ("post", "/einstellungen/exporte/starten/"),
]


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def staff_member(organisation):
    return UserFactory(
        organisation=organisation, role=Role.STAFF, first_name="Ben", last_name="Kraus"
    )


def text(response) -> str:
    return response.content.decode()


def doctolib_token(organisation):
    token, _ = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    return token


def in_days(days: int):
    return timezone.now() + timedelta(days=days)


@pytest.mark.parametrize(("method", "url"), ADMIN_PAGES)
def test_only_organisation_admins(client, organisation, staff_member, method, url):
    doctolib = doctolib_token(organisation)
    client.force_login(staff_member)

    response = getattr(client, method)(url, {"user": staff_member.pk, "termine_loeschen": "1"})

    assert response.status_code == 403
    assert Token.objects.get() == doctolib
    assert Token.objects.get().revoked_at is None
    assert not ExportJob.objects.exists()


def test_settings_shows_the_tokens_tile_and_the_nav_link(admin):
    page = text(admin.get("/einstellungen/"))

    assert 'href="/einstellungen/tokens/"' in page
    assert 'href="/einstellungen/"' in page  # navigation


def test_activation_makes_the_doctolib_token_and_answers_json(admin, organisation, settings):
    settings.PUBLIC_BASE_URL = "https://praxis.example/lemniscus"
    old = doctolib_token(organisation)

    response = admin.post("/einstellungen/tokens/doctolib/aktivieren/")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "orga_id", "base_url"}
    assert body["orga_id"] == organisation.orga_id
    assert body["base_url"] == "https://praxis.example"
    token = Token.objects.get(token_hash=hash_token(body["token"]))
    assert (token.kind, token.organisation, token.revoked_at) == ("doctolib", organisation, None)
    assert body["token"].startswith("lmn_dl_")
    old.refresh_from_db()
    assert old.revoked_at is not None  # a new Doctolib token revokes the previous one


def test_activation_below_plan_xl_is_refused(admin, organisation):
    organisation.plan = Plan.L
    organisation.save()

    response = admin.post("/einstellungen/tokens/doctolib/aktivieren/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Die Doctolib-Integration ist nur im XL- oder XXL-Abo enthalten."
    }
    assert not Token.objects.exists()
    page = text(admin.get("/einstellungen/tokens/"))
    assert "Verfügbar ab dem XL-Abo (Ihr Abo: L)" in page
    assert "data-doctolib-activate" not in page


def test_activation_needs_csrf(admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)

    response = browser.post("/einstellungen/tokens/doctolib/aktivieren/")

    assert response.status_code == 403
    assert not Token.objects.exists()


def test_active_token_is_shown_by_its_first_characters_only(admin, organisation):
    token, raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)

    page = text(admin.get("/einstellungen/tokens/"))

    assert f"Token {token.display_prefix}…" in page
    assert organisation.orga_id in page
    assert raw not in page
    assert 'class="dot on"' in page and "data-doctolib-activate" not in page


def test_deactivation_asks_then_revokes_at_once(admin, organisation, other_organisation):
    token = doctolib_token(organisation)
    other = doctolib_token(other_organisation)

    confirm = admin.get("/einstellungen/tokens/doctolib/deaktivieren/")
    response = admin.post("/einstellungen/tokens/doctolib/deaktivieren/", follow=True)

    assert "Doctolib-Integration deaktivieren?" in text(confirm)
    assert "Die Doctolib-Integration ist deaktiviert." in text(response)
    assert "data-doctolib-activate" in text(response)
    token.refresh_from_db()
    other.refresh_from_db()
    assert token.revoked_at is not None
    assert other.revoked_at is None


def test_api_token_is_shown_in_full_once(admin, organisation, admin_user, staff_member):
    response = admin.post("/einstellungen/tokens/", {"user": staff_member.pk, "name": " CLI "})

    token = Token.objects.get()
    assert (token.kind, token.user, token.name, token.created_by) == (
        TokenKind.API,
        staff_member,
        "CLI",
        admin_user,
    )
    raw = text(response).split("<code>lmn_api_")[1].split("</code>")[0]
    assert hash_token("lmn_api_" + raw) == token.token_hash
    assert "Neuer Token für Ben Kraus" in text(response)
    later = text(admin.get("/einstellungen/tokens/"))
    assert raw not in later and f"{token.display_prefix}…" in later


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Dieses Feld ist zwingend erforderlich."),
        ({"user": "abc"}, "Kein aktiver Benutzer dieser Organisation."),
        ({"user": "{other}"}, "Kein aktiver Benutzer dieser Organisation."),
        ({"user": "{inactive}"}, "Kein aktiver Benutzer dieser Organisation."),
        ({"user": "{staff}", "name": "x" * 101}, "höchstens 100 Zeichen"),
    ],
)
def test_api_token_bad_input(admin, organisation, other_organisation, staff_member, data, message):
    ids = {
        "other": UserFactory(organisation=other_organisation).pk,
        "inactive": UserFactory(organisation=organisation, is_active=False).pk,
        "staff": staff_member.pk,
    }
    data = {key: value.format(**ids) for key, value in data.items()}

    response = admin.post("/einstellungen/tokens/", data)

    assert response.status_code == 422
    assert message in text(response)
    assert not Token.objects.exists()


def test_revoke_api_token(admin, organisation, staff_member):
    token, _ = token_create(organisation=organisation, kind=TokenKind.API, user=staff_member)

    confirm = admin.get(f"/einstellungen/tokens/{token.public_id}/widerrufen/")
    response = admin.post(f"/einstellungen/tokens/{token.public_id}/widerrufen/", follow=True)

    assert "Token widerrufen?" in text(confirm)
    assert f"Der Token {token.display_prefix}… ist widerrufen." in text(response)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_other_organisations_token_is_404_and_stays(admin, other_organisation):
    user = UserFactory(organisation=other_organisation)
    token, _ = token_create(organisation=other_organisation, kind=TokenKind.API, user=user)
    url = f"/einstellungen/tokens/{token.public_id}/widerrufen/"

    assert admin.get(url).status_code == 404
    assert admin.post(url).status_code == 404
    assert admin.post("/einstellungen/tokens/kein-uuid/widerrufen/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_tokens_page_queries_do_not_grow(
    admin, organisation, staff_member, django_assert_max_num_queries
):
    doctolib_token(organisation)
    with django_assert_max_num_queries(7):
        admin.get("/einstellungen/tokens/")
    for n in range(40):
        user = UserFactory(organisation=organisation)
        token_create(organisation=organisation, kind=TokenKind.API, user=user, created_by=user)
        ExportJob.objects.create(
            organisation=organisation, state=ExportState.FAILED, error=f"Fehler {n}"
        )
    with django_assert_max_num_queries(7):
        page = text(admin.get("/einstellungen/tokens/"))
    with django_assert_max_num_queries(4):
        jobs = text(admin.get("/einstellungen/exporte/"))
    assert page.count("Widerrufen</a>") == 41
    assert jobs.count("Fehler ") == 20  # the newest jobs


# The handover export


def test_export_without_deleting(admin, organisation):
    patient = PatientFactory(organisation=organisation, last_name="Muster")
    AppointmentFactory(organisation=organisation, patient=patient, start=in_days(2))

    page = text(admin.post("/einstellungen/exporte/starten/", follow=True))

    job = ExportJob.objects.get()
    assert job.state == ExportState.DONE  # tasks run in-process in the tests
    assert "Der Export wurde gestartet." in page
    assert f"/einstellungen/exporte/{job.public_id}/patients.csv" in page
    assert "hx-trigger" not in page.split('id="exporte"')[1].split(">")[0]
    assert Appointment.objects.count() == 1
    patients = admin.get(f"/einstellungen/exporte/{job.public_id}/patients.csv")
    assert patients["Content-Disposition"] == 'attachment; filename="patients.csv"'
    content = b"".join(patients.streaming_content)
    assert content.startswith(b"\xef\xbb\xbflemniscus id;Anrede") and b"Muster" in content
    appointments = admin.get(f"/einstellungen/exporte/{job.public_id}/appointments.csv")
    assert b"".join(appointments.streaming_content).count(b"\r\n") == 2


def test_export_with_deleting_warns_first(admin, organisation):
    AppointmentFactory(organisation=organisation, start=in_days(2))
    AppointmentFactory(organisation=organisation, start=in_days(-2))

    confirm = text(admin.get("/einstellungen/exporte/starten/"))
    assert "keine Termin-Benachrichtigungen mehr" in confirm
    assert "Absagelinks funktionieren nicht mehr" in confirm
    assert not ExportJob.objects.exists()

    page = text(
        admin.post("/einstellungen/exporte/starten/", {"termine_loeschen": "1"}, follow=True)
    )

    job = ExportJob.objects.get()
    assert (job.state, job.delete_appointments, job.removed_count) == ("done", True, 1)
    assert "Der Export mit Löschen der Termine wurde gestartet." in page
    assert "mit Löschen der Termine" in page
    assert Appointment.objects.count() == 1


def test_with_the_queue_down_the_export_waits_and_the_page_says_so(
    admin, organisation, monkeypatch
):
    """The broker down (issue 12): the export is started all the same and waits in the
    outbox, queued; the page shows it as waiting, not as an error."""

    def unreachable(*args, **kwargs):
        raise BrokerUnreachable("connection refused")

    monkeypatch.setattr(outbox_services, "_eager", lambda: False)
    monkeypatch.setattr(outbox_services.current_app, "send_task", unreachable)

    page = text(admin.post("/einstellungen/exporte/starten/", follow=True))

    assert '<li class="message success">Der Export wurde gestartet.' in page
    job = ExportJob.objects.get()
    assert job.state == ExportState.QUEUED
    assert OutboxMessage.objects.get().sent_at is None
    assert '<li class="message error">' not in page


def test_second_export_while_one_runs_is_refused(admin, organisation):
    ExportJob.objects.create(organisation=organisation, state=ExportState.RUNNING)

    page = text(admin.post("/einstellungen/exporte/starten/", follow=True))

    assert "läuft schon ein Export" in page
    assert ExportJob.objects.count() == 1


def test_running_jobs_are_polled_until_finished(admin, organisation):
    job = ExportJob.objects.create(organisation=organisation, state=ExportState.RUNNING)

    running = text(admin.get("/einstellungen/exporte/"))
    job.state, job.error = ExportState.FAILED, "Der Export ist abgebrochen."
    job.save()
    finished = text(admin.get("/einstellungen/exporte/"))

    assert 'hx-trigger="every 2s"' in running and "läuft" in running
    assert "hx-trigger" not in finished
    assert "Der Export ist abgebrochen." in finished


def test_downloads_only_of_done_jobs_of_the_own_organisation(
    admin, organisation, other_organisation
):
    running = ExportJob.objects.create(organisation=organisation, state=ExportState.RUNNING)
    foreign = ExportJob.objects.create(organisation=other_organisation, state=ExportState.DONE)

    assert admin.get(f"/einstellungen/exporte/{running.public_id}/patients.csv").status_code == 404
    assert admin.get(f"/einstellungen/exporte/{foreign.public_id}/patients.csv").status_code == 404
    assert admin.get("/einstellungen/exporte/kein-uuid/patients.csv").status_code == 404


def test_staff_cannot_download_exports(client, organisation, admin_user, staff_member):
    client.force_login(admin_user)
    client.post("/einstellungen/exporte/starten/")
    job = ExportJob.objects.get()
    client.force_login(staff_member)

    assert client.get(f"/einstellungen/exporte/{job.public_id}/patients.csv").status_code == 403
