import os
import subprocess
import sys
from pathlib import Path

import pytest

from patients.models import Patient
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_unknown_api_path_is_problem_json(api):
    assert_problem(api.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_problem(api.get("/api/zipper/v1/nope"), 404, "not_found")


def test_unauthenticated_is_401_problem(client):
    response = client.get("/api/v1/patients/")
    assert_problem(response, 401, "token_invalid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_method_not_allowed_is_problem(api, organisation):
    assert_problem(api.put("/api/v1/patients/", {}, format="json"), 405, "method_not_allowed")


def test_page_beyond_the_end_is_problem(api):
    assert_problem(api.get("/api/v1/patients/", {"page": 99}), 404, "not_found")
    assert_problem(api.get("/api/v1/patients/", {"page_size": "x"}), 422, "validation_error")


def test_page_size_is_capped_at_500(api, organisation):
    patients = [Patient(organisation=organisation, last_name=f"N{i:04}") for i in range(501)]
    Patient.objects.bulk_create(patients)
    body = api.get("/api/v1/patients/", {"page_size": 1000}).json()
    assert body["count"] == 501
    assert len(body["results"]) == 500
    assert len(api.get("/api/v1/patients/").json()["results"]) == 50


def test_schema_and_docs_are_readable_without_login(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/patients/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def _settings_import(env: dict) -> subprocess.CompletedProcess:
    clean_env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean_env, "DJANGO_SETTINGS_MODULE": "lemniscus.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_refuses_to_start_with_debug_off_and_development_key():
    refused = _settings_import({})
    assert refused.returncode != 0
    assert "SECRET_KEY" in refused.stderr
    assert _settings_import({"DEBUG": "on"}).returncode == 0
    assert _settings_import({"SECRET_KEY": "a-real-secret"}).returncode == 0
