import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import OrganisationFactory, UserFactory
from tokens import throttle
from tokens.models import TokenKind
from tokens.services import token_create


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need PostgreSQL (row locks, real concurrency); on the
    SQLite default they are skipped with a reason."""
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Users are made in nearly every test; the real hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_login_throttling(settings, request):
    """django-axes needs the request in authenticate(), which the test client's
    login() does not pass. Tests of the throttling mark themselves `throttling`."""
    if "throttling" not in request.keywords:
        settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Files the code stores (the handover's CSV files) go to the test's own folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _fresh_token_failure_counts():
    """Failed token attempts are counted per client address, and every test client
    comes from 127.0.0.1: each test starts with none."""
    throttle.reset()


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Praxis am See")


@pytest.fixture
def other_organisation(db):
    return OrganisationFactory(name="Praxis im Tal")


@pytest.fixture
def admin_user(organisation):
    return UserFactory(organisation=organisation, email="admin@praxis.test")


def token_client(user) -> APIClient:
    _, raw = token_create(organisation=user.organisation, kind=TokenKind.API, user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(admin_user) -> APIClient:
    """A staff API client acting as an organisation admin, with a personal token."""
    return token_client(admin_user)


@pytest.fixture
def other_api(other_organisation) -> APIClient:
    return token_client(UserFactory(organisation=other_organisation))


def assert_problem(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    assert body["detail"]
    return body
