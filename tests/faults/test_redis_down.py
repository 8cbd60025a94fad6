"""Redis stopped (issue 12, finding 1): the Zipper API's rate limiter falls back to the
process's own bucket (zipper-api.md 1.1), every call is answered by the contract and
written to the sync log, and a warning is logged at most once a minute."""

import logging

import pytest

from doctolib_bridge.models import SyncLogEntry
from doctolib_bridge.zipper import ratelimit
from tests.zipper.conftest import Plugin
from tokens.models import TokenKind
from tokens.services import token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_buckets():
    ratelimit.reset_memory_buckets()
    ratelimit._redis_script.cache_clear()
    yield
    ratelimit._redis_script.cache_clear()


def test_the_budget_is_kept_in_redis_then_per_process_while_it_is_down(
    private_redis, settings, caplog
):
    settings.REDIS_URL = private_redis.url
    assert [ratelimit.take("org", rate="120/min", now=100.0) for _ in range(10)] == [0] * 10
    assert ratelimit.take("org", rate="120/min", now=100.0) == 1  # Redis's bucket is empty

    private_redis.stop()
    with caplog.at_level(logging.WARNING, logger="doctolib_bridge.zipper.ratelimit"):
        fallback = [ratelimit.take("org", rate="120/min", now=100.0) for _ in range(11)]

    assert fallback[:10] == [0] * 10  # the process's own bucket, with the same budget
    assert fallback[10] == 1
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1  # not one per call

    private_redis.start()  # same port, empty: Redis counts again
    assert ratelimit.take("org", rate="120/min", now=200.0) == 0


def test_zipper_calls_are_answered_and_logged_while_redis_is_down(
    private_redis, settings, organisation
):
    settings.REDIS_URL = private_redis.url
    plugin = Plugin(token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1])
    private_redis.stop()

    responses = [plugin.get("/patient-suggestions", {"last_name": "Bauer"}) for _ in range(5)]
    refused = Plugin("lmn_dl_unknown").get("/patient-suggestions", {"last_name": "Bauer"})

    assert [r.status_code for r in responses] == [200] * 5
    assert refused.status_code == 401
    assert SyncLogEntry.objects.filter(organisation=organisation, status=200).count() == 5
