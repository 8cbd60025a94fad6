"""The app as production runs it, against the fault tests' private servers: its
management commands and gunicorn in their own processes, and a plain HTTP client."""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.servers import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]

# A push of a finished appointment for the practice's linked patient "dp-1".
PUSH = {
    "doctolib_patient_id": "dp-1",
    "agenda": {"id": "ag-1", "name": "Frau Weber"},
    "visit_motive": {"name": "Osteopathie", "sync_id": None},
    "start": "2026-11-20T09:00:00+01:00",
    "duration_minutes": 45,
}

SETUP = """
import json
from organisations.models import Plan
from organisations.services import organisation_create
from tokens.models import TokenKind
from tokens.services import token_create
organisation, owner = organisation_create(
    name="Praxis Störfall", plan=Plan.XL, owner_email="owner@stoerfall.test",
    owner_password="geheim-123-stoerfall",
)
_, api = token_create(organisation=organisation, kind=TokenKind.API, user=owner)
_, doctolib = token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
print(json.dumps({"api": api, "doctolib": doctolib}))
"""


class App:
    def __init__(self, *, database_url: str, redis_url: str = ""):
        self.media = Path(tempfile.mkdtemp(prefix="lemniscus-fault-media-"))
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "fault-tests-only",
            "DEBUG": "off",
            "MEDIA_ROOT": str(self.media),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.media / "mails"),
            "LOG_LEVEL": "WARNING",
        }
        self.port = free_port()
        self.server: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.log = self.media / "gunicorn.log"

    def manage(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, input=stdin, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def set_up(self) -> dict:
        """Migrate the private database and make a practice with its tokens."""
        self.manage("migrate", "--noinput")
        return json.loads(self.manage("shell", stdin=SETUP).strip().splitlines()[-1])

    def serve(self, workers: int = 3) -> "App":
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.server = subprocess.Popen(
            [str(gunicorn), "lemniscus.wsgi", "--workers", str(workers), "--bind",
             f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "5"],
            cwd=ROOT, env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(lambda: self._up(), timeout=30, what="gunicorn")
        return self

    def _up(self) -> bool:
        try:
            return self.request("GET", "/healthz")[0] in (200, 503)
        except OSError:
            return False

    def request(
        self, method: str, path: str, body=None, *, token: str | None = None, headers=None
    ) -> tuple[int, dict | str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, payload, sent)
            response = connection.getresponse()
            raw = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw

    def start_worker(self) -> "App":
        """A Celery worker (solo pool) on the same database and broker."""
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "lemniscus", "worker", "--pool=solo",
             "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=(self.media / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        return self

    def mails(self) -> list[str]:
        """The e-mails sent so far (the file backend writes one file per connection)."""
        folder = self.media / "mails"
        if not folder.exists():
            return []
        return [path.read_text() for path in sorted(folder.iterdir())]

    def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                self.worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.worker.kill()
        self.worker = None
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.server.kill()
        self.server = None


def until(check, *, timeout: float = 30.0, every: float = 0.05):
    """Call `check` until it returns something true; that value, or TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError("the condition did not hold in time")
