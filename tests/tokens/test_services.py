import pytest

from lemniscus.errors import PlanRequired, ValidationFailed
from organisations.models import Plan
from tests.factories import OrganisationFactory, UserFactory
from tokens.models import Token, TokenKind
from tokens.services import (
    hash_token,
    token_authenticate,
    token_create,
    token_is_well_formed,
    token_revoke,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("kind", "prefix"), [("api", "lmn_api_"), ("doctolib", "lmn_dl_")])
def test_token_has_readable_prefix_and_checksum(admin_user, organisation, kind, prefix):
    user = admin_user if kind == TokenKind.API else None

    token, raw = token_create(organisation=organisation, kind=kind, user=user)

    assert raw.startswith(prefix)
    assert token_is_well_formed(raw)
    last = raw[-1]
    mistyped = raw[:-1] + ("a" if last != "a" else "b")
    assert not token_is_well_formed(mistyped)
    assert token.display_prefix == raw[: len(prefix) + 6]


def test_only_the_hash_is_stored(admin_user, organisation):
    token, raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)

    stored = Token.objects.filter(pk=token.pk).values().get()
    assert stored["token_hash"] == hash_token(raw)
    assert all(raw not in str(value) for value in stored.values())
    assert raw[-20:] not in str(stored)


def test_authenticates_its_own_kind_only(admin_user, organisation):
    _, api_raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    _, doctolib_raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)

    assert token_authenticate(raw=api_raw, kind=TokenKind.API).user == admin_user
    assert token_authenticate(raw=api_raw, kind=TokenKind.DOCTOLIB) is None
    assert token_authenticate(raw=doctolib_raw, kind=TokenKind.DOCTOLIB) is not None
    assert token_authenticate(raw=doctolib_raw, kind=TokenKind.API) is None


def test_a_revoked_token_fails(admin_user, organisation):
    token, raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)

    token_revoke(token=token)

    assert token_authenticate(raw=raw, kind=TokenKind.API) is None
    assert Token.objects.get(pk=token.pk).revoked_at is not None


def test_revoking_again_keeps_the_first_revocation_time(admin_user, organisation):
    token, _ = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    first = token_revoke(token=token).revoked_at
    stale = Token.objects.get(pk=token.pk)
    stale.revoked_at = None  # as a second request holding the token from before

    assert token_revoke(token=stale).revoked_at == first
    assert Token.objects.get(pk=token.pk).revoked_at == first


def test_a_revoked_token_is_401_on_the_api(admin_user, organisation, client):
    token, raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/patients/", headers=headers).status_code == 200

    token_revoke(token=token)

    assert client.get("/api/v1/patients/", headers=headers).status_code == 401


def test_a_new_doctolib_token_revokes_the_previous_one(organisation, other_organisation):
    first, first_raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    other, other_raw = token_create(organisation=other_organisation, kind=TokenKind.DOCTOLIB)

    second, second_raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)

    assert token_authenticate(raw=first_raw, kind=TokenKind.DOCTOLIB) is None
    assert Token.objects.get(pk=first.pk).revoked_at is not None
    assert token_authenticate(raw=second_raw, kind=TokenKind.DOCTOLIB) == second
    assert token_authenticate(raw=other_raw, kind=TokenKind.DOCTOLIB) == other
    assert Token.objects.filter(organisation=organisation, revoked_at__isnull=True).get() == second


@pytest.mark.parametrize("plan", [Plan.S, Plan.M, Plan.L])
def test_doctolib_token_needs_plan_xl(plan):
    organisation = OrganisationFactory(plan=plan)

    with pytest.raises(PlanRequired):
        token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)

    assert not Token.objects.exists()


def test_api_token_only_for_a_user_of_the_organisation(organisation, other_organisation):
    stranger = UserFactory(organisation=other_organisation)

    with pytest.raises(ValidationFailed):
        token_create(organisation=organisation, kind=TokenKind.API, user=stranger)

    assert not Token.objects.exists()
