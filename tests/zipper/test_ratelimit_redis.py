"""The rate budget kept in the machine's Redis, shared by every worker process."""

import uuid

from doctolib_bridge.zipper import ratelimit


def test_redis_bucket_allows_a_burst_then_refills(redis_settings):
    org = f"org-{uuid.uuid4().hex}"
    waits = [ratelimit.take(org, rate="120/min", now=5000.0) for _ in range(11)]
    assert waits[:10] == [0] * 10  # a twelfth of 120
    assert waits[10] == 1
    assert ratelimit.take(org, rate="120/min", now=5000.6) == 0  # 2 per second refill
    assert ratelimit.take(f"other-{org}", rate="120/min", now=5000.0) == 0
