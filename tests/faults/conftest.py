import pytest

from tests.faults.servers import PrivateRedis


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own, which the test may stop and start again."""
    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()
