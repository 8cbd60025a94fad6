import pytest
from rest_framework.test import APIClient

from doctolib_bridge.zipper import ratelimit
from tokens.models import TokenKind
from tokens.services import token_create

BASE = "/api/zipper/v1"


class Plugin:
    """A fake Zipper plugin: speaks the contract over HTTP with the bearer token."""

    def __init__(self, raw_token: str | None):
        self.client = APIClient()
        if raw_token:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    def get(self, path, params=None, **extra):
        return self.client.get(f"{BASE}{path}", params, **extra)

    def post(self, path, body=None, **extra):
        return self.client.post(f"{BASE}{path}", body, format="json", **extra)

    def put(self, path, body=None, **extra):
        return self.client.put(f"{BASE}{path}", body, format="json", **extra)

    def delete(self, path, **extra):
        return self.client.delete(f"{BASE}{path}", **extra)

    def raw(self, method, path, content, content_type="application/json", **extra):
        return getattr(self.client, method)(
            f"{BASE}{path}", content, content_type=content_type, **extra
        )


@pytest.fixture(autouse=True)
def _fresh_rate_buckets():
    ratelimit.reset_memory_buckets()


@pytest.fixture
def doctolib_token(organisation):
    return token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)


@pytest.fixture
def plugin(doctolib_token) -> Plugin:
    return Plugin(doctolib_token[1])


@pytest.fixture
def other_plugin(other_organisation) -> Plugin:
    _, raw = token_create(organisation=other_organisation, kind=TokenKind.DOCTOLIB)
    return Plugin(raw)
