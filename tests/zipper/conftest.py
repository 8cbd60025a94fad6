import os

import pytest
import redis
from rest_framework.test import APIClient
from rest_framework.utils.serializer_helpers import ReturnDict

from doctolib_bridge.zipper import ratelimit
from tests.openapi import assert_documented, documented_component, operation_for
from tokens.models import TokenKind
from tokens.services import token_create

BASE = "/api/zipper/v1"


def assert_answer_as_documented(response, method: str, path: str) -> None:
    """Every answer the fake plugin gets conforms to the OpenAPI schema (status,
    content type, body; success bodies read strictly, tests/openapi.py), and a
    success body is the output of the very serializer the schema documents for that
    status, not a dict assembled beside it. A replay (Idempotency-Replayed) is the
    stored first answer: checked against the schema only."""
    if operation_for(method, path) is None:
        return  # not an operation of the API (CORS preflight, unknown paths, 405s)
    assert_documented(response, method, path)
    component = documented_component(method, path, response.status_code)
    if component is None or response.has_header("Idempotency-Replayed"):
        return
    data = getattr(response, "data", None)
    assert isinstance(data, ReturnDict), (
        f"{method.upper()} {path} answered {response.status_code} with a body that no "
        f"serializer rendered (documented: {component})"
    )
    assert type(data.serializer).__name__ == component, (
        f"{method.upper()} {path} answered {response.status_code} through "
        f"{type(data.serializer).__name__}; the schema documents {component}"
    )


class Plugin:
    """A fake Zipper plugin: speaks the contract over HTTP with the bearer token, and
    holds every answer against the schema (assert_answer_as_documented)."""

    def __init__(self, raw_token: str | None):
        self.client = APIClient()
        if raw_token:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_token}")

    def _checked(self, method, path, response):
        assert_answer_as_documented(response, method, f"{BASE}{path}")
        return response

    def get(self, path, params=None, **extra):
        return self._checked("get", path, self.client.get(f"{BASE}{path}", params, **extra))

    def post(self, path, body=None, **extra):
        response = self.client.post(f"{BASE}{path}", body, format="json", **extra)
        return self._checked("post", path, response)

    def put(self, path, body=None, **extra):
        response = self.client.put(f"{BASE}{path}", body, format="json", **extra)
        return self._checked("put", path, response)

    def delete(self, path, **extra):
        return self._checked("delete", path, self.client.delete(f"{BASE}{path}", **extra))

    def raw(self, method, path, content, content_type="application/json", **extra):
        response = getattr(self.client, method)(
            f"{BASE}{path}", content, content_type=content_type, **extra
        )
        return self._checked(method, path, response)


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


@pytest.fixture
def redis_settings(settings):
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is needed: {exc}")
    settings.REDIS_URL = url
    return url
