"""End to end: the periodic reconciliation run by a real Celery worker through Redis."""

import pytest

from doctolib_bridge.tasks import reconcile_all
from patients.models import Patient
from tests.jobs.conftest import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_reconciliation_runs_on_a_real_worker(celery_worker, plugin):
    plugin.post(
        "/patients",
        {"doctolib_patient_id": "dl-1", "last_name": "Ott", "mobile_phone": "+491711234567"},
    )
    Patient.objects.filter(doctolib_patient_id="dl-1").update(mobile_phone="+4915100000000")
    reconcile_all.delay()
    wait_for(lambda: Patient.objects.filter(mobile_phone="+491711234567").exists(), timeout=60)
    history = Patient.objects.get().history.first()
    assert history.history_change_reason == "Abgleich Doctolib"
