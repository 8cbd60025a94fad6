"""Hardened defaults (issue 12): a Content-Security-Policy without inline scripts on
every page, HTTPS settings from the environment, and `check --deploy` clean for a
production-like environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def test_pages_carry_a_strict_script_policy(client, organisation):
    client.force_login(UserFactory(organisation=organisation))

    policy = client.get("/akten/")["Content-Security-Policy"]

    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"]
    assert "unsafe-eval" not in policy


def test_no_template_has_an_inline_script_or_handler():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        for line in text.splitlines():
            if "<script" in line:
                assert "src=" in line, f"inline script in {path}"
            assert " onclick=" not in line and " onload=" not in line, path


def _deploy_check(**extra: str) -> subprocess.CompletedProcess:
    env = {
        # what the browser tests set for Playwright in this process is no deployment's
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DEBUG": "off",
        "SECRET_KEY": "a-production-like-secret-key-" + "x7Rq9" * 10,
        "PUBLIC_BASE_URL": "https://praxis.example",
        "ALLOWED_HOSTS": "praxis.example",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_is_clean_for_a_production_like_environment():
    done = _deploy_check(
        SECURE_SSL_REDIRECT="on",
        SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="on",
        SECURE_HSTS_PRELOAD="on",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_names_what_is_missing():
    done = _deploy_check()

    assert done.returncode != 0
    assert "W004" in done.stderr + done.stdout and "W008" in done.stderr + done.stdout


def test_behind_a_proxy_the_forwarded_scheme_counts(settings, client):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/anmelden/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    redirected = client.get("/anmelden/")
    assert redirected.status_code == 301
    assert redirected["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200  # the load balancer's probe
