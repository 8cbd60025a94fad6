"""The benchmark's baseline endpoint (bench/baseline.py, for bench/zipper.py) is
routed only with BENCH_BASELINE on, and then does its one insert."""

import importlib.util

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from doctolib_bridge.models import SyncLogEntry

pytestmark = pytest.mark.django_db


def _urlconf_as_loaded_with(**settings):
    """lemniscus/urls.py executed afresh under these settings (the switch is read
    when the URLconf loads), without replacing the one the other tests use."""
    spec = importlib.util.find_spec("lemniscus.urls")
    urlconf = importlib.util.module_from_spec(spec)
    with override_settings(**settings):
        spec.loader.exec_module(urlconf)
    return urlconf


def test_the_baseline_is_not_routed_by_default(organisation):
    with override_settings(ROOT_URLCONF=_urlconf_as_loaded_with(BENCH_BASELINE=False)):
        response = APIClient().post("/bench/insert", {}, format="json")

    assert response.status_code == 404
    assert not SyncLogEntry.objects.exists()


def test_with_the_switch_on_the_baseline_inserts_one_row(organisation):
    with override_settings(ROOT_URLCONF=_urlconf_as_loaded_with(BENCH_BASELINE=True)):
        response = APIClient().post(
            "/bench/insert", {"organisation_id": organisation.pk}, format="json"
        )

    assert response.status_code == 201
    entry = SyncLogEntry.objects.get()
    assert response.json() == {"id": entry.pk}
    assert (entry.organisation_id, entry.endpoint) == (organisation.pk, "bench/insert")
