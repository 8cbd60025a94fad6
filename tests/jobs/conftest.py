"""A real Celery worker on the machine's Redis, for tests that are about a job.

The worker runs as a subprocess against the test database (PostgreSQL only: the
SQLite test database lives in this process's memory) and a queue of its own."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.db import connection

from lemniscus.celery import app as celery_app
from tests.zipper.conftest import doctolib_token, plugin  # noqa: F401 - shared fixtures

ROOT = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {url} is needed for job tests: {exc}")
    return url


def wait_for(condition, timeout: float = 30.0, interval: float = 0.2):
    """Poll until `condition()` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"gave up waiting after {timeout} s")


class Worker:
    def __init__(self, redis_url: str, queue: str, extra_env: dict[str, str] | None = None):
        self.queue = queue
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": redis_url,
            "SECRET_KEY": os.environ.get("SECRET_KEY", "test-only-secret-key"),
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            **(extra_env or {}),
        }
        self.log = open(ROOT / f".pytest_cache/worker-{queue}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "lemniscus", "worker",
                "--pool=solo", "-Q", queue, "-l", "info",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def _fresh_producers():
    """Connections and producers are pooled per app (an earlier in-process task may
    have made them for memory://); made again, they use the broker now set."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def worker_env() -> dict[str, str]:
    """More environment for the worker process; override it in a test module."""
    return {}


@pytest.fixture
def celery_worker(redis_url, transactional_db, worker_env):
    """Starts a worker; tasks queued in this test go to it through Redis."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process needs the PostgreSQL test database")
    (ROOT / ".pytest_cache").mkdir(exist_ok=True)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    saved = {
        k: celery_app.conf[k] for k in ("task_always_eager", "broker_url", "task_default_queue")
    }
    celery_app.conf.update(task_always_eager=False, broker_url=redis_url, task_default_queue=queue)
    _fresh_producers()
    worker = Worker(redis_url, queue, worker_env)
    try:
        wait_for(
            lambda: celery_app.control.ping(destination=None, timeout=0.5),
            timeout=60,
        )
        yield worker
    finally:
        worker.stop()
        celery_app.conf.update(saved)
        _fresh_producers()
