import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.models import AuditEvent
from doctolib_bridge import reconcile
from doctolib_bridge.models import ChangeFeedEntry
from doctolib_bridge.reconcile import reconcile_organisation
from doctolib_bridge.tasks import reconcile_all
from patients.models import Patient
from patients.selectors import patient_history

pytestmark = pytest.mark.django_db

ANNA = {
    "doctolib_patient_id": "dl-1",
    "first_name": "Anna",
    "last_name": "Müller",
    "mobile_phone": "+491711234567",
    "email": "anna@example.org",
    "city": "Berlin",
}


@pytest.fixture
def linked(plugin):
    plugin.post("/patients", ANNA)
    return Patient.objects.get(doctolib_patient_id="dl-1")


def test_doctolib_led_field_changed_by_hand_is_set_back(linked, organisation):
    linked.mobile_phone = "+4915100000000"
    linked.save()
    result = reconcile_organisation(organisation=organisation)
    assert (result.checked, result.set_back, result.queued) == (1, 1, 0)
    linked.refresh_from_db()
    assert linked.mobile_phone == "+491711234567"
    newest = patient_history(patient=linked)[0]
    assert newest["actor"] == "Abgleich Doctolib"
    assert newest["changes"][0]["old"] == "+4915100000000"


def test_lemniscus_led_difference_is_queued_once(linked, organisation):
    linked.city = "Potsdam"
    linked.save()
    first = reconcile_organisation(organisation=organisation)
    second = reconcile_organisation(organisation=organisation)
    assert (first.queued, second.queued, second.set_back) == (1, 0, 0)
    assert ChangeFeedEntry.objects.filter(patient=linked).count() == 1
    linked.refresh_from_db()
    assert linked.city == "Potsdam"  # lemniscus leads


def test_second_run_changes_nothing(linked, organisation):
    linked.email = "hand@example.org"
    linked.save()
    reconcile_organisation(organisation=organisation)
    history_rows = linked.history.count()
    again = reconcile_organisation(organisation=organisation)
    assert (again.set_back, again.queued) == (0, 0)
    assert linked.history.count() == history_rows


def test_batches_resume_after_a_pk(plugin, organisation):
    for i in range(5):
        plugin.post("/patients", {**ANNA, "doctolib_patient_id": f"dl-{i}"})
    Patient.objects.update(mobile_phone="")
    first = reconcile_organisation(organisation=organisation, time_budget=0, batch_size=2)
    assert (first.checked, first.finished) == (2, False)
    assert Patient.objects.filter(mobile_phone="+491711234567").count() == 2
    rest = reconcile_organisation(organisation=organisation, after_pk=first.last_pk, batch_size=2)
    assert (rest.checked, rest.finished) == (3, True)
    assert Patient.objects.filter(mobile_phone="+491711234567").count() == 5


def test_only_organisations_with_integration(linked, organisation):
    organisation.plan = "L"
    organisation.save()
    linked.mobile_phone = ""
    linked.save()
    assert reconcile_all() == 0
    linked.refresh_from_db()
    assert linked.mobile_phone == ""
    with pytest.raises(CommandError):
        call_command("reconcile", "--orga-id", organisation.orga_id)


def test_command_prints_summary(linked, organisation, capsys):
    call_command("reconcile", "--orga-id", organisation.orga_id)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("Abgleich fertig: 1 Akten")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_record_in_sync_is_not_locked_by_the_reconciliation(plugin, organisation):
    """Only records the rules change are locked: staff editing a record that is in
    sync do not hold the batch up, nor does the batch hold them up."""
    plugin.post("/patients", ANNA)
    plugin.post("/patients", {**ANNA, "doctolib_patient_id": "dl-2", "first_name": "Ben"})
    in_sync = Patient.objects.get(doctolib_patient_id="dl-1")
    drifted = Patient.objects.get(doctolib_patient_id="dl-2")
    Patient.objects.filter(pk=drifted.pk).update(mobile_phone="+4915100000000")
    held, release = threading.Event(), threading.Event()

    def staff_editing():
        try:
            with transaction.atomic():
                Patient.objects.select_for_update().get(pk=in_sync.pk)
                held.set()
                release.wait(10)
        finally:
            connection.close()

    editor = threading.Thread(target=staff_editing)
    editor.start()
    assert held.wait(5)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            result = reconcile_organisation(organisation=organisation)
    finally:
        release.set()
        editor.join()

    assert (result.checked, result.set_back) == (2, 1)
    drifted.refresh_from_db()
    assert drifted.mobile_phone == "+491711234567"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reconciliations_at_once_queue_each_change_once(plugin, organisation):
    """Beat and `manage.py reconcile` at once (issue 12, finding 4): the second finds
    the first running and skips, so every difference goes to the feed once."""
    for n in range(60):
        plugin.post("/patients", {**ANNA, "doctolib_patient_id": f"dl-{n}"})
    Patient.objects.update(city="Potsdam")  # lemniscus leads: each one to the feed
    start = threading.Barrier(2)
    results = []

    def reconcile():
        try:
            start.wait(5)
            results.append(reconcile_organisation(organisation=organisation, batch_size=5))
        finally:
            connection.close()

    runs = [threading.Thread(target=reconcile) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(60)

    assert ChangeFeedEntry.objects.filter(patient__organisation=organisation).count() == 60
    assert sum(result.queued for result in results) == 60


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reconciliation_that_finds_another_running_says_so(linked, organisation, capsys):
    held, release = threading.Event(), threading.Event()

    def running_elsewhere():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(4201, %s)", [organisation.pk])
                held.set()
                release.wait(10)
                cursor.execute("SELECT pg_advisory_unlock(4201, %s)", [organisation.pk])
        finally:
            connection.close()

    other = threading.Thread(target=running_elsewhere)
    other.start()
    assert held.wait(5)
    try:
        skipped = reconcile_organisation(organisation=organisation)
        call_command("reconcile", "--orga-id", organisation.orga_id)
    finally:
        release.set()
        other.join()

    assert skipped.skipped and skipped.checked == 0
    assert "übersprungen, ein anderer Abgleich" in capsys.readouterr().out
    assert not reconcile_organisation(organisation=organisation).skipped  # free again


def test_drift_at_a_batch_boundary_is_written_once_each(plugin, organisation):
    """Records drifted on both sides of a batch boundary (batches of 2): each is set
    back or queued exactly once, with its history row, Protokoll entry and feed entry,
    and the feed's cursors follow the records' order across batches."""
    for i in range(5):
        plugin.post("/patients", {**ANNA, "doctolib_patient_id": f"dl-{i}"})
    records = list(Patient.objects.order_by("pk"))
    for i in (1, 2, 4):  # a Doctolib-led field typed in by hand
        records[i].mobile_phone = f"+49151000000{i}"
    for i in (1, 3, 4):  # a lemniscus-led field that differs from Doctolib's
        records[i].city = f"Potsdam {i}"
    for record in records:
        record.save()
    feed_before = ChangeFeedEntry.objects.count()

    result = reconcile_organisation(organisation=organisation, batch_size=2)

    assert (result.checked, result.set_back, result.queued) == (5, 3, 3)
    for i in (1, 2, 4):
        records[i].refresh_from_db()
        assert records[i].mobile_phone == "+491711234567"
        newest, *_ = patient_history(patient=records[i])
        assert newest["actor"] == "Abgleich Doctolib"
        assert newest["changes"] == [
            {"field": "mobile_phone", "label": "Mobil", "old": f"+49151000000{i}",
             "new": "+491711234567"}
        ]  # fmt: skip
        assert AuditEvent.objects.filter(
            patient_id=records[i].public_id,
            action="patient.update",
            detail="Felder: mobile_phone (Abgleich Doctolib)",
        ).count() == 1  # fmt: skip
    queued = list(
        ChangeFeedEntry.objects.order_by("cursor")[feed_before:].values_list("patient", "fields")
    )
    assert queued == [(records[i].pk, ["city"]) for i in (1, 3, 4)]
    again = reconcile_organisation(organisation=organisation, batch_size=2)
    assert (again.set_back, again.queued) == (0, 0)
    assert ChangeFeedEntry.objects.count() == feed_before + 3


def test_a_record_put_right_after_the_selection_is_not_written(linked, organisation, monkeypatch):
    """The selection reads without locks; what is written is decided again on the
    locked row as stored now, so a push that set the record right in between is not
    overwritten (and nothing is recorded)."""
    linked.mobile_phone = "+4915100000000"
    linked.save()
    select_batch = reconcile._select_batch

    def selection_then_a_push(*args):
        selected = select_batch(*args)
        Patient.objects.filter(pk=linked.pk).update(mobile_phone="+491711234567")
        return selected

    monkeypatch.setattr(reconcile, "_select_batch", selection_then_a_push)
    history_rows = linked.history.count()

    result = reconcile_organisation(organisation=organisation)

    assert (result.checked, result.set_back, result.queued) == (1, 0, 0)
    assert linked.history.count() == history_rows
    assert not AuditEvent.objects.filter(detail__contains="Abgleich Doctolib").exists()
