"""zipper-api.md 1.1: a client address that sent more than 20 unknown or revoked
tokens within a minute gets 429 `rate_limited` with `Retry-After` before the token
check, on the Zipper API and the staff API alike (issue 12)."""

import pytest
from rest_framework.test import APIClient

from doctolib_bridge.models import SyncLogEntry
from tests.conftest import assert_problem, token_client
from tests.faults.servers import PrivateRedis
from tokens import throttle
from tokens.models import TokenKind
from tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db

ZIPPER = "/api/zipper/v1/patient-suggestions?last_name=Bauer"
STAFF = "/api/v1/patients/"


def _bearer(raw: str, address: str = "203.0.113.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize("path", [ZIPPER, STAFF])
def test_more_than_20_bad_tokens_in_a_minute_are_429_before_the_token_check(
    path, organisation, admin_user
):
    unknown = [_bearer(f"lmn_dl_{'x' * 40}{n}").get(path) for n in range(20)]
    over = _bearer("lmn_dl_another-unknown").get(path)
    # a valid token from the same address waits too: the check comes first
    _, raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    _, api_raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    valid = _bearer(raw if path == ZIPPER else api_raw).get(path)

    assert {r.status_code for r in unknown} == {401}
    assert_problem(over, 429, "rate_limited")
    assert 1 <= int(over["Retry-After"]) <= 60
    assert_problem(valid, 429, "rate_limited")
    # another address is not affected
    assert _bearer(raw if path == ZIPPER else api_raw, "198.51.100.1").get(path).status_code == 200


def test_revoked_tokens_count_and_calls_without_a_token_do_not(organisation, admin_user):
    token, raw = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    token_revoke(token=token)
    for _ in range(20):
        assert _bearer(raw).get(ZIPPER).status_code == 401
    for _ in range(30):
        assert APIClient(REMOTE_ADDR="203.0.113.7").get(ZIPPER).status_code == 401

    assert_problem(_bearer(raw).get(ZIPPER), 429, "rate_limited")


def test_the_minute_ends(organisation):
    request = APIClient().get("/").wsgi_request
    for _ in range(20):
        throttle.record_failure(request, now=1000.0)

    with pytest.raises(Exception) as refused:
        throttle.refuse_if_over(request, now=1019.0)
    assert refused.value.retry_after == 1
    throttle.refuse_if_over(request, now=1020.5)  # the next minute


def test_good_tokens_never_count(organisation, admin_user):
    client = token_client(admin_user)
    for _ in range(30):
        assert client.get(STAFF).status_code == 200
    assert not SyncLogEntry.objects.exists()


def test_the_count_is_shared_through_redis_and_falls_back_when_it_is_down(
    settings, tmp_path, organisation
):
    redis_server = PrivateRedis(tmp_path).start()
    throttle.reset()
    settings.REDIS_URL = redis_server.url
    try:
        for n in range(20):
            _bearer(f"unknown-{n}").get(STAFF)
        throttle.reset()  # another process: its own memory, the same Redis
        assert_problem(_bearer("unknown").get(STAFF), 429, "rate_limited")

        redis_server.stop()
        assert _bearer("unknown").get(STAFF).status_code == 401  # answered, not a 500
    finally:
        redis_server.stop()
        throttle.reset()
