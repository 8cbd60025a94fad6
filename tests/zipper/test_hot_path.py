"""The Zipper hot path (issue 15): token lookups cached per process under the auth
generation kept in Redis, one planning statement, no staff middleware. Against the
machine's Redis (TEST_REDIS_URL), as a deployment runs."""

import psycopg
import pytest
import redis
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from appointments.models import Appointment
from doctolib_bridge.models import SyncLogEntry
from doctolib_bridge.sync import DOCTOLIB_SYNC_ACTOR
from organisations.models import Plan
from organisations.services import organisation_set_plan
from tests.conftest import assert_problem
from tests.factories import AppointmentFactory
from tests.zipper.conftest import Plugin
from tests.zipper.test_appointments import payload
from tokens.models import TokenKind
from tokens.services import forget_cached_tokens, token_create, token_revoke

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _empty_token_cache():
    forget_cached_tokens()
    yield
    forget_cached_tokens()


@pytest.fixture
def setup(organisation):
    from tests.factories import PatientFactory, ServiceChainFactory

    PatientFactory(organisation=organisation, sync_to_doctolib=True, doctolib_patient_id="dp-1")
    ServiceChainFactory(organisation=organisation, description="Osteopathie")
    AppointmentFactory.create_batch(5, organisation=organisation)
    token, raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    return token, Plugin(raw)


def statements(plugin, path, body):
    with CaptureQueriesContext(connection) as captured:
        response = plugin.put(path, body)
    return response, [query["sql"] for query in captured.captured_queries]


def test_a_put_takes_two_statements_with_the_token_cached(redis_settings, setup):
    _, plugin = setup
    assert plugin.put("/appointments/da-0", payload()).status_code == 201  # warm
    response, sql = statements(plugin, "/appointments/da-1", payload())
    assert response.status_code == 201, response.content
    # PostgreSQL: the planning statement, then the appointment with its history row
    # and the sync-log row, no transaction. SQLite: BEGIN IMMEDIATE, the plan, the
    # appointment, its history row, the sync-log row, COMMIT.
    expected = 2 if connection.vendor == "postgresql" else 6
    assert len(sql) == expected, sql
    assert not any("tokens_token" in text for text in sql)
    response, sql = statements(plugin, "/appointments/da-1", payload(note="neu"))
    assert response.status_code == 200 and response.json()["outcome"] == "updated"
    assert len(sql) == expected, sql
    entries = SyncLogEntry.objects.filter(doctolib_appointment_id="da-1").order_by("pk")
    assert [(entry.status, entry.outcome) for entry in entries] == [
        (201, "created"),
        (200, "updated"),
    ]
    assert entries[1].detail.startswith("Termin da-1 aktualisiert; Leistungskette: ")


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite plans and writes in one transaction holding the write lock",
)
def test_a_push_writes_only_if_the_appointment_is_as_planned(
    redis_settings, setup, organisation, monkeypatch
):
    """An invoice issued between the push's plan and its write: the write finds the
    row changed (its version moved), plans again and is refused; nothing written, the
    refusal logged once."""
    import appointments.services
    from billing.models import Invoice

    _, plugin = setup
    assert plugin.put("/appointments/da-i", payload()).status_code == 201
    appointment = Appointment.objects.get(doctolib_appointment_id="da-i")
    plans = []
    original = appointments.services.external_plan

    def invoiced_after_the_first_plan(**kwargs):
        plan = original(**kwargs)
        if not plans:
            invoice = Invoice.objects.create(organisation=organisation, patient=appointment.patient)
            Appointment.objects.filter(pk=appointment.pk).update(invoice=invoice)
        plans.append(plan)
        return plan

    monkeypatch.setattr(appointments.services, "external_plan", invoiced_after_the_first_plan)
    SyncLogEntry.objects.all().delete()
    assert_problem(
        plugin.put("/appointments/da-i", payload(note="anders")), 409, "appointment_invoiced"
    )
    assert len(plans) == 2
    appointment.refresh_from_db()
    assert appointment.note == payload()["note"]
    assert [row.history_type for row in appointment.history.all()] == ["+"]
    assert [(entry.status, entry.code) for entry in SyncLogEntry.objects.all()] == [
        (409, "appointment_invoiced")
    ]


def test_a_push_keeps_the_history_row_simple_history_would(redis_settings, setup, organisation):
    """Created and changed, each with a history row of every tracked field as stored,
    Doctolib named as the reason, no user (the plugin is none)."""
    _, plugin = setup
    assert plugin.put("/appointments/da-h", payload()).status_code == 201
    assert plugin.put("/appointments/da-h", payload(note="geändert")).status_code == 200
    appointment = Appointment.objects.get(doctolib_appointment_id="da-h")
    rows = list(appointment.history.order_by("history_id"))
    assert [row.history_type for row in rows] == ["+", "~"]
    assert [row.note for row in rows] == [payload()["note"], "geändert"]
    assert {row.history_change_reason for row in rows} == {DOCTOLIB_SYNC_ACTOR}
    assert {row.history_user_id for row in rows} == {None}
    newest = rows[-1]
    for field in Appointment.history.model.tracked_fields:
        assert getattr(newest, field.attname) == getattr(appointment, field.attname), field.name
    assert rows[0].history_date <= newest.history_date <= timezone.now()


def test_one_redis_round_trip_per_request_with_the_token_cached(redis_settings, setup, monkeypatch):
    """The failed-token count, the auth generation and the organisation's budget in
    one round trip (a pipeline); the budget is spent once a request, no more."""
    _, plugin = setup
    assert plugin.put("/appointments/da-r", payload()).status_code == 201  # cached now
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    assert plugin.put("/appointments/da-r", payload(note="neu")).status_code == 200
    assert len(sent) == 1, sent


def test_the_budget_holds_with_the_token_cached(redis_settings, settings, setup):
    settings.ZIPPER_RATE_LIMIT = "120/min"  # bursts of 10
    redis.Redis.from_url(redis_settings).flushdb()
    _, plugin = setup
    answers = [plugin.get("/connection").status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]


def test_a_revoked_token_is_refused_on_the_next_request(redis_settings, setup):
    token, plugin = setup
    assert plugin.get("/connection").status_code == 200
    assert plugin.get("/connection").status_code == 200  # from the cache
    token_revoke(token=token)
    assert_problem(plugin.get("/connection"), 401, "token_invalid")


def test_a_plan_change_is_effective_on_the_next_request(redis_settings, setup, organisation):
    _, plugin = setup
    assert plugin.get("/connection").json()["plan"] == "XL"
    organisation_set_plan(organisation=organisation, plan=Plan.M)
    assert_problem(plugin.get("/connection"), 403, "plan_required")
    organisation_set_plan(organisation=organisation, plan=Plan.XXL)
    assert plugin.get("/connection").json()["plan"] == "XXL"


def test_a_revocation_in_another_process_reaches_this_one(redis_settings, setup):
    """Another process revokes (the counter moves in Redis, not in this process's
    cache): this process looks the token up again on its next request."""
    token, plugin = setup
    assert plugin.get("/connection").status_code == 200
    type(token).objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert plugin.get("/connection").status_code == 200  # nothing moved the counter yet
    redis.Redis.from_url(redis_settings).incr("auth-generation")
    assert_problem(plugin.get("/connection"), 401, "token_invalid")


def test_without_redis_every_request_looks_its_token_up(settings, setup):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    forget_cached_tokens()
    token, plugin = setup
    with CaptureQueriesContext(connection) as captured:
        assert plugin.get("/connection").status_code == 200
    assert any("tokens_token" in query["sql"] for query in captured.captured_queries)
    type(token).objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert_problem(plugin.get("/connection"), 401, "token_invalid")


def test_no_session_cookie_or_csrf_on_the_zipper_api(redis_settings, setup, client, admin_user):
    _, plugin = setup
    client.force_login(admin_user)
    plugin.client.cookies = client.cookies  # a staff session cookie comes along
    response = plugin.put("/appointments/da-1", payload())
    assert response.status_code == 201
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_the_planning_statement_is_planned_once_per_connection(redis_settings, setup):
    _, plugin = setup
    for number in range(3):
        assert plugin.put(f"/appointments/da-p{number}", payload()).status_code == 201
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%WITH existing AS%row_version%"],
        )
        assert cursor.fetchone()[0] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's health check")
def test_a_push_skips_the_health_check_and_survives_a_dead_connection(
    redis_settings, setup, monkeypatch
):
    """Django's health check (a `SELECT 1` when a request first uses its persistent
    connection) is not run before a push: its first statement, the plan, finds out.
    A connection PostgreSQL has ended meanwhile is replaced and the push runs once,
    on the new one."""
    _, plugin = setup
    assert plugin.put("/appointments/da-0", payload()).status_code == 201
    wrapper = connections["default"]
    checks = []
    monkeypatch.setattr(wrapper, "is_usable", lambda: checks.append(1) or True)
    wrapper.health_check_done = False  # a new request, as Django's request_started leaves it
    assert plugin.put("/appointments/da-1", payload()).status_code == 201
    assert checks == []

    ended = wrapper.connection.info.backend_pid
    with psycopg.connect(wrapper.connection.info.dsn, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [ended])
    wrapper.health_check_done = False
    response = plugin.put("/appointments/da-2", payload())
    assert response.status_code == 201, response.content
    assert wrapper.connection.info.backend_pid != ended
    assert checks == []
    assert Appointment.objects.filter(doctolib_appointment_id="da-2").count() == 1
    assert SyncLogEntry.objects.filter(doctolib_appointment_id="da-2").count() == 1


def test_the_push_serializers_kept_per_thread_answer_as_new_ones(organisation, setup):
    """lemniscus.serializer_reuse: the push's payload and answer as a new serializer
    gives them, the context of each call its own (another zone, another day), and
    one serializer per thread."""
    import threading

    from appointments.external import external_plan
    from doctolib_bridge.appointment_push import external_appointment
    from doctolib_bridge.zipper.serializers import AppointmentPayloadInput, ZipperPushOutput
    from lemniscus import serializer_reuse
    from tests.factories import OrganisationFactory

    body = payload()
    fresh = AppointmentPayloadInput(data=body)
    assert fresh.is_valid(), fresh.errors
    assert serializer_reuse.validated(AppointmentPayloadInput, body) == fresh.validated_data
    with pytest.raises(ValidationError) as refused:
        serializer_reuse.validated(AppointmentPayloadInput, {**body, "duration_minutes": 0})
    wrong = AppointmentPayloadInput(data={**body, "duration_minutes": 0})
    assert not wrong.is_valid()
    assert refused.value.detail == wrong.errors

    _, plugin = setup
    assert plugin.put("/appointments/da-s", body).status_code == 201
    request = external_appointment("da-s", dict(fresh.validated_data))
    plan = external_plan(organisation=organisation, request=request)
    far = OrganisationFactory(time_zone="Pacific/Pago_Pago")  # 08:00 UTC is the day before
    for context in ({"organisation": organisation}, {"organisation": far}):
        expected = ZipperPushOutput(plan, context=context).data
        assert serializer_reuse.represented(ZipperPushOutput, plan, **context) == expected
    assert serializer_reuse.represented(ZipperPushOutput, plan, organisation=organisation) != (
        serializer_reuse.represented(ZipperPushOutput, plan, organisation=far)
    )

    kept = []
    thread = threading.Thread(target=lambda: kept.append(serializer_reuse._kept(ZipperPushOutput)))
    thread.start()
    thread.join()
    assert kept[0] is not serializer_reuse._kept(ZipperPushOutput)
    assert serializer_reuse._kept(ZipperPushOutput) is serializer_reuse._kept(ZipperPushOutput)
