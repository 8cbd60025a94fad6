"""Staff users as organisations.services manages them: invite (no password, an e-mail
with a one-time link), change role and rights, deactivate and reactivate; the last
active admin is kept, and every change is in the Protokoll."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import authenticate
from django.core import mail
from django.db import transaction

from audit.actions import Action
from audit.models import AuditEvent
from lemniscus.errors import InvitationNotPending, ValidationFailed
from organisations.invitations import invitation_tokens
from organisations.models import Role, User
from organisations.services import (
    LAST_ADMIN,
    SELF_DEACTIVATE,
    SELF_DEMOTE,
    is_invited,
    user_accept_invitation,
    user_invite,
    user_resend_invitation,
    user_set_active,
    user_update,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def invite(organisation, actor, **overrides):
    values = {
        "email": "  Ben.Kraus@Praxis.TEST ",
        "first_name": " Ben ",
        "last_name": "Kraus",
        "role": Role.STAFF,
        "can_appointments": True,
        "can_documentation": False,
        "can_billing": True,
    }
    return user_invite(organisation=organisation, actor=actor, **{**values, **overrides})


def entries(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def link_of(message) -> str:
    return re.search(r"https?://\S+/passwort/festlegen/\S+/", message.body).group(0)


def test_invite_creates_a_member_without_password_and_mails_the_link(
    organisation, admin_user, django_capture_on_commit_callbacks, settings
):
    settings.PUBLIC_BASE_URL = "https://praxis.example"

    with django_capture_on_commit_callbacks(execute=True):
        user = invite(organisation, admin_user)

    user = User.objects.get(pk=user.pk)
    assert (user.email, user.first_name, user.last_name) == (
        "ben.kraus@praxis.test",
        "Ben",
        "Kraus",
    )
    assert (user.organisation, user.role, user.is_active) == (organisation, Role.STAFF, True)
    assert (user.can_appointments, user.can_documentation, user.can_billing) == (True, False, True)
    assert is_invited(user) and not user.has_usable_password()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ben.kraus@praxis.test"]
    assert message.subject == "Ihr Zugang zu lemniscus – Praxis am See"
    assert "Guten Tag Ben Kraus," in message.body
    assert "Der Link gilt 3 Tage und nur einmal." in message.body
    assert link_of(message).startswith("https://praxis.example/passwort/festlegen/")
    [entry] = entries(Action.USER_INVITE)
    assert (entry.organisation_id, entry.actor, entry.object_type) == (
        organisation.pk,
        admin_user,
        "user",
    )
    assert entry.object_id == "ben.kraus@praxis.test"
    assert entry.detail == "Rolle: Mitarbeiter/in, Rechte: Termine, Abrechnung"


def test_the_link_works_once_and_expires_with_the_password_reset_timeout(
    organisation, admin_user, settings, monkeypatch
):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    user = invite(organisation, admin_user)
    token = invitation_tokens.make_token(user)

    assert invitation_tokens.check_token(user, token)
    with monkeypatch.context() as later:
        later.setattr(invitation_tokens, "_now", lambda: datetime.now() + timedelta(hours=2))
        assert not invitation_tokens.check_token(user, token)
    user_accept_invitation(user=user, password="ein-langes-passwort")
    user.refresh_from_db()
    assert not invitation_tokens.check_token(user, token)
    assert not is_invited(user)
    assert authenticate(email="ben.kraus@praxis.test", password="ein-langes-passwort") == user
    [entry] = entries(Action.USER_PASSWORD_SET)
    assert entry.actor == user


def test_a_password_reset_token_is_no_invitation(organisation, admin_user):
    from django.contrib.auth.tokens import default_token_generator

    user = invite(organisation, admin_user)

    assert not invitation_tokens.check_token(user, default_token_generator.make_token(user))


@pytest.mark.parametrize("email", ["admin@praxis.test", "ADMIN@Praxis.test", "taken@tal.test"])
def test_a_taken_address_is_a_german_validation_error_whichever_organisation(
    organisation, other_organisation, admin_user, email
):
    UserFactory(organisation=other_organisation, email="taken@tal.test")
    before = User.objects.count()

    with pytest.raises(ValidationFailed) as error:
        invite(organisation, admin_user, email=email)

    assert error.value.errors == {
        "email": [f"Es gibt schon einen Benutzer mit der E-Mail {email.lower()}."]
    }
    assert User.objects.count() == before
    assert not entries(Action.USER_INVITE)


def test_invite_refuses_missing_names_a_bad_address_and_an_unknown_role(organisation, admin_user):
    with pytest.raises(ValidationFailed) as error:
        invite(organisation, admin_user, first_name=" ", email="kein-at", role="owner")

    assert set(error.value.errors) == {"first_name", "email", "role"}
    assert error.value.errors["first_name"] == ["Der Vorname fehlt."]
    assert User.objects.count() == 1  # only the admin


def test_nothing_is_mailed_when_the_invitation_rolls_back(
    organisation, admin_user, django_capture_on_commit_callbacks
):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValueError),
        transaction.atomic(),
    ):
        invite(organisation, admin_user)
        raise ValueError("rolled back")

    assert mail.outbox == []
    assert not User.objects.filter(email="ben.kraus@praxis.test").exists()


def test_resending_only_while_invited_and_active(
    organisation, admin_user, django_capture_on_commit_callbacks
):
    user = invite(organisation, admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        user_resend_invitation(user=user, actor=admin_user)
    assert len(mail.outbox) == 1
    assert len(entries(Action.USER_INVITE_RESEND)) == 1

    user_accept_invitation(user=user, password="ein-langes-passwort")
    with pytest.raises(InvitationNotPending):
        user_resend_invitation(user=user, actor=admin_user)
    assert len(entries(Action.USER_INVITE_RESEND)) == 1


def test_update_changes_role_and_rights_and_logs_the_field_names(organisation, admin_user):
    member = UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False)

    user_update(user=member, actor=admin_user, role=Role.ADMIN, can_billing=True)

    member.refresh_from_db()
    assert (member.role, member.can_billing) == (Role.ADMIN, True)
    [entry] = entries(Action.USER_UPDATE)
    assert entry.detail == "Felder: role, can_billing"
    user_update(user=member, actor=admin_user, role=Role.ADMIN)  # no change, no entry
    assert len(entries(Action.USER_UPDATE)) == 1


def test_nobody_demotes_themselves(organisation, admin_user):
    UserFactory(organisation=organisation, role=Role.ADMIN)  # another admin exists

    with pytest.raises(ValidationFailed) as error:
        user_update(user=admin_user, actor=admin_user, role=Role.STAFF)

    assert error.value.errors == {"role": [SELF_DEMOTE]}
    admin_user.refresh_from_db()
    assert admin_user.role == Role.ADMIN


def test_the_last_active_admin_is_neither_demoted_nor_deactivated(organisation, admin_user):
    other = UserFactory(organisation=organisation, role=Role.ADMIN)
    user_set_active(user=admin_user, actor=other, active=False)

    with pytest.raises(ValidationFailed) as demoting:
        user_update(user=other, actor=None, role=Role.STAFF)
    with pytest.raises(ValidationFailed) as deactivating:
        user_set_active(user=other, actor=None, active=False)

    assert demoting.value.detail == LAST_ADMIN == deactivating.value.detail
    assert "mindestens einen aktiven Organisations-Admin" in LAST_ADMIN
    other.refresh_from_db()
    assert (other.role, other.is_active) == (Role.ADMIN, True)


def test_a_deactivated_admin_may_be_demoted(organisation, admin_user):
    old = UserFactory(organisation=organisation, role=Role.ADMIN, is_active=False)

    user_update(user=old, actor=admin_user, role=Role.STAFF)

    old.refresh_from_db()
    assert old.role == Role.STAFF


def test_admins_of_another_organisation_do_not_count(organisation, other_organisation, admin_user):
    UserFactory(organisation=other_organisation, role=Role.ADMIN)
    helper = UserFactory(organisation=organisation, role=Role.STAFF)

    with pytest.raises(ValidationFailed):
        user_set_active(user=admin_user, actor=helper, active=False)


def test_nobody_deactivates_themselves(organisation, admin_user):
    UserFactory(organisation=organisation, role=Role.ADMIN)

    with pytest.raises(ValidationFailed) as error:
        user_set_active(user=admin_user, actor=admin_user, active=False)

    assert error.value.detail == SELF_DEACTIVATE
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_deactivation_blocks_login_and_ends_the_session_reactivation_restores(
    client, organisation, admin_user
):
    member = UserFactory(organisation=organisation, role=Role.STAFF, email="ben@praxis.test")
    client.force_login(member)
    assert client.get("/").status_code == 200

    user_set_active(user=member, actor=admin_user, active=False)

    assert client.get("/").status_code == 302  # the open session is gone
    assert not client.login(email="ben@praxis.test", password="geheim-123")
    user_set_active(user=member, actor=admin_user, active=True)
    assert client.login(email="ben@praxis.test", password="geheim-123")
    assert [
        e.action for e in AuditEvent.objects.filter(object_id="ben@praxis.test").order_by("id")
    ] == [
        Action.USER_DEACTIVATE,
        Action.USER_REACTIVATE,
    ]


def test_a_deactivated_invitee_gets_no_mail(
    organisation, admin_user, django_capture_on_commit_callbacks
):
    from organisations.invitations import send_invitation

    user = invite(organisation, admin_user)
    user_set_active(user=user, actor=admin_user, active=False)

    assert send_invitation(user_id=user.pk) is False
    assert mail.outbox == []
    with pytest.raises(InvitationNotPending):
        user_resend_invitation(user=user, actor=admin_user)
