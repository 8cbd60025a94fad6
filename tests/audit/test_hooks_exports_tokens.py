"""Exports and tokens in the Protokoll: the handover export (start, removal of the
appointments, undo, file downloads) and token issuing and revoking, by whichever
entry point. Counts, file names and a token's first characters only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actions import Action
from audit.services import SYSTEM
from doctolib_bridge.handover.services import export_start, export_undo
from organisations.models import Role
from tests.audit.conftest import assert_no_trace, entries, only
from tests.conftest import token_client
from tests.factories import AppointmentFactory, PatientFactory, UserFactory
from tokens.models import Token, TokenKind
from tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db


def test_the_handover_export_is_logged_from_start_to_undo(api, client, organisation, admin_user):
    patient = PatientFactory(organisation=organisation, last_name="Vertraulich")
    AppointmentFactory(
        organisation=organisation, patient=patient, start=timezone.now() + timedelta(days=3)
    )
    support = UserFactory(organisation=None, is_staff=True, email="support@lemniscus.test")

    job = export_start(organisation=organisation, actor=admin_user, delete_appointments=True)
    client.force_login(admin_user)
    page = client.get(f"/einstellungen/exporte/{job.public_id}/patients.csv")
    through_api = api.get(f"/api/v1/exports/{job.public_id}/appointments.csv")
    export_undo(job=job, actor=support)

    assert page.status_code == through_api.status_code == 200
    exports = [e for e in entries(organisation) if e.object_type == "export"]
    assert [(e.action, e.actor_label, e.object_id, e.detail) for e in exports] == [
        (Action.EXPORT_CREATE, "admin@praxis.test", str(job.public_id), "mit Löschen der Termine"),
        (Action.EXPORT_DELETE, "admin@praxis.test", str(job.public_id), "1 Termine"),
        (Action.EXPORT_DOWNLOAD, "admin@praxis.test", str(job.public_id), "patients.csv"),
        (Action.EXPORT_DOWNLOAD, "admin@praxis.test", str(job.public_id), "appointments.csv"),
        (Action.EXPORT_UNDO, "support@lemniscus.test", str(job.public_id), "1 Termine"),
    ]
    assert_no_trace(organisation, "Vertraulich")


def test_a_refused_download_is_not_logged(api, organisation, admin_user):
    job = export_start(organisation=organisation, actor=admin_user, delete_appointments=False)
    staff = UserFactory(organisation=organisation, role=Role.STAFF)

    response = token_client(staff).get(f"/api/v1/exports/{job.public_id}/patients.csv")

    assert response.status_code == 403
    assert not entries(organisation, Action.EXPORT_DOWNLOAD)


def test_tokens_are_logged_by_their_first_characters_never_in_full(client, organisation):
    admin = UserFactory(organisation=organisation, email="chefin@praxis.test")
    member = UserFactory(organisation=organisation, role=Role.STAFF, email="kim@praxis.test")
    client.force_login(admin)

    made = client.post("/einstellungen/tokens/", {"user": member.pk, "name": "Skript"})
    token = Token.objects.get(kind=TokenKind.API)
    client.post(f"/einstellungen/tokens/{token.public_id}/widerrufen/")
    client.post(f"/einstellungen/tokens/{token.public_id}/widerrufen/")  # twice: logged once

    assert made.status_code == 200
    raw = made.context["new_token"]["raw"]
    described = f"Persönlicher API-Token {token.display_prefix}… von kim@praxis.test"
    assert [(e.action, e.actor, e.object_id, e.detail) for e in entries(organisation)[1:]] == [
        (Action.TOKEN_CREATE, admin, str(token.public_id), described),
        (Action.TOKEN_REVOKE, admin, str(token.public_id), described),
    ]
    assert_no_trace(organisation, raw, raw[len(token.display_prefix) :], token.token_hash)


def test_the_doctolib_token_activation_replaces_the_old_one_and_deactivation(
    client, organisation, admin_user
):
    first, _ = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    client.force_login(admin_user)

    activated = client.post("/einstellungen/tokens/doctolib/aktivieren/")
    second = Token.objects.get(kind=TokenKind.DOCTOLIB, revoked_at=None)
    client.post("/einstellungen/tokens/doctolib/deaktivieren/")

    assert activated.status_code == 201
    tokens = [e for e in entries(organisation) if e.object_type == "token"]
    assert [(e.action, e.actor_label, e.object_id, e.detail) for e in tokens] == [
        (Action.TOKEN_CREATE, SYSTEM, str(first.public_id), f"Doctolib {first.display_prefix}…"),
        (
            Action.TOKEN_REVOKE,
            "admin@praxis.test",
            str(first.public_id),
            f"Doctolib {first.display_prefix}…, ersetzt durch einen neuen",
        ),
        (
            Action.TOKEN_CREATE,
            "admin@praxis.test",
            str(second.public_id),
            f"Doctolib {second.display_prefix}…",
        ),
        (
            Action.TOKEN_REVOKE,
            "admin@praxis.test",
            str(second.public_id),
            f"Doctolib {second.display_prefix}…",
        ),
    ]


def test_a_revoke_names_its_actor_such_as_support_in_the_admin(organisation, admin_user):
    token, _ = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    support = UserFactory(organisation=None, is_staff=True, email="support@lemniscus.test")

    token_revoke(token=token, actor=support)

    assert only(organisation, Action.TOKEN_REVOKE).actor_label == "support@lemniscus.test"
