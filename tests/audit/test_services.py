"""Writing the Protokoll: the registry of actions, logins, the database guard, and
users who go while their entries stay."""

import pytest
from django.db import IntegrityError, connection, transaction

from audit.actions import LABELS, OBJECT_TYPES, Action, object_type_of
from audit.models import AuditEvent
from audit.services import SYSTEM, audit_record
from lemniscus.erasure import erasure
from tests.audit.conftest import assert_no_trace, entries, only
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_action_is_dotted_lower_case_with_a_german_label_and_object_type():
    for action, label in LABELS.items():
        assert action == action.lower() and " " not in action
        assert label and label != action
        assert object_type_of(action) in OBJECT_TYPES
    # the names the documentation app writes
    for name in (
        "documentation.read",
        "documentation.create",
        "documentation.update",
        "documentation.finalise",
        "documentation.correct",
        "attachment.upload",
        "attachment.list",
        "attachment.download",
        "disclosure.create",
    ):
        assert name in LABELS


def test_an_entry_takes_its_object_type_from_the_action(organisation, admin_user):
    event = audit_record(
        organisation=organisation,
        actor=admin_user,
        action=Action.INVOICE_ISSUE,
        object_id="x",
        detail="2026-0001",
    )
    assert (event.object_type, event.actor, event.actor_label) == (
        "invoice",
        admin_user,
        "admin@praxis.test",
    )


def test_an_unknown_action_is_refused(organisation):
    with pytest.raises(ValueError, match="unknown audit action"):
        audit_record(organisation=organisation, actor=None, action="patient.peek")
    assert not AuditEvent.objects.exists()


def test_the_system_acts_without_a_user(organisation):
    event = audit_record(organisation=organisation, actor=None, action=Action.PATIENT_ERASE)
    assert event.actor is None and event.actor_label == SYSTEM


# Logins


@pytest.fixture
def member(organisation):
    return UserFactory(
        organisation=organisation, email="anna@praxis.test", first_name="Anna", last_name="Muster"
    )


def test_a_login_is_logged_with_the_member(client, organisation, member):
    response = client.post("/anmelden/", {"username": "anna@praxis.test", "password": "geheim-123"})

    assert response.status_code == 302
    event = only(organisation, Action.LOGIN)
    assert (event.actor, event.actor_label, event.object_type) == (
        member,
        "Anna Muster <anna@praxis.test>",
        "login",
    )


def test_a_failed_login_of_a_member_is_logged_without_what_was_typed(client, organisation, member):
    response = client.post(
        "/anmelden/", {"username": "ANNA@praxis.test", "password": "falsches-Passwort-42"}
    )

    assert response.status_code == 200
    event = only(organisation, Action.LOGIN_FAILED)
    assert event.actor == member and event.detail == ""
    assert_no_trace(organisation, "falsches-Passwort-42", "********")


def test_a_failed_login_of_an_unknown_address_is_not_logged(client, organisation, member):
    client.post("/anmelden/", {"username": "mallory@example.org", "password": "geheim-123"})

    assert not AuditEvent.objects.exists()


def test_support_users_without_organisation_are_not_logged(client, db):
    support = UserFactory(organisation=None, is_staff=True, email="support@lemniscus.test")

    client.force_login(support)
    client.post("/anmelden/", {"username": "support@lemniscus.test", "password": "falsch"})

    assert not AuditEvent.objects.exists()


def test_a_logout_is_logged(client, organisation, member):
    client.force_login(member)
    client.post("/abmelden/")

    assert [e.action for e in entries(organisation)] == [Action.LOGIN, Action.LOGOUT]
    assert only(organisation, Action.LOGOUT).actor == member


# The guard (audit migration 0002)


def _refused(statement: str, params=()) -> str:
    with (
        pytest.raises(IntegrityError) as refusal,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)
    return str(refusal.value)


@pytest.mark.postgres
def test_an_entry_is_never_changed_or_deleted(organisation, admin_user):
    event = audit_record(organisation=organisation, actor=admin_user, action=Action.LOGIN)

    message = _refused("UPDATE audit_auditevent SET detail = 'x' WHERE id = %s", [event.pk])
    _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="Jemand anders")
    with erasure():  # the erasure may delete rows, never change them
        _refused("UPDATE audit_auditevent SET detail = 'x' WHERE id = %s", [event.pk])

    assert "nie geändert oder gelöscht" in message
    assert AuditEvent.objects.filter(pk=event.pk, detail="", actor_label=event.actor_label).exists()


@pytest.mark.postgres
def test_deleting_a_user_keeps_their_entries(organisation, member):
    audit_record(organisation=organisation, actor=member, action=Action.LOGIN)

    member.delete()

    event = only(organisation, Action.LOGIN)
    assert event.actor_label == "Anna Muster <anna@praxis.test>"
