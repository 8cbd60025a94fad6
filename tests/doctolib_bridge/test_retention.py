"""The bridge keeps its sync log 90 days, Idempotency-Key answers 24 hours, staged
transfers 7 days and export files 30 days after their job; the daily purge removes
what is older, nothing younger."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from doctolib_bridge.handover.services import export_file, export_start
from doctolib_bridge.models import ExportJob, IdempotencyRecord, SyncLogEntry, Transfer
from doctolib_bridge.retention import purge_expired
from doctolib_bridge.tasks import purge_expired_task
from lemniscus.errors import NotFound
from tests.factories import OrganisationFactory, PatientFactory, SyncLogEntryFactory

pytestmark = pytest.mark.django_db


def _aged(row, age: timedelta):
    type(row).objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def _transfer(organisation, age: timedelta) -> Transfer:
    row = Transfer.objects.create(
        organisation=organisation, doctolib_appointment_id="dl-1", payload={}
    )
    return _aged(row, age)


def _idempotency(organisation, key: str, age: timedelta) -> IdempotencyRecord:
    row = IdempotencyRecord.objects.create(
        organisation=organisation, method="PUT", path="/p", key=key, body_hash="h"
    )
    return _aged(row, age)


def test_purge_removes_only_what_is_past_its_retention_in_every_organisation():
    one, other = OrganisationFactory(), OrganisationFactory()
    keep = {
        _aged(SyncLogEntryFactory(organisation=one), timedelta(days=89, hours=23)).pk,
        _aged(SyncLogEntryFactory(organisation=other), timedelta(days=1)).pk,
    }
    for organisation in (one, other):
        _aged(SyncLogEntryFactory(organisation=organisation), timedelta(days=90, minutes=1))
    young_key = _idempotency(one, "young", timedelta(hours=23, minutes=59))
    _idempotency(one, "old", timedelta(hours=24, minutes=1))
    _idempotency(other, "old", timedelta(days=3))
    young_transfer = _transfer(one, timedelta(days=6, hours=23))
    _transfer(other, timedelta(days=7, minutes=1))

    purged = purge_expired(chunk=1)  # several chunks

    assert (purged.sync_log, purged.idempotency, purged.transfers) == (2, 2, 1)
    assert set(SyncLogEntry.objects.values_list("pk", flat=True)) == keep
    assert list(IdempotencyRecord.objects.all()) == [young_key]
    assert list(Transfer.objects.all()) == [young_transfer]
    again = purge_expired()
    assert (again.sync_log, again.idempotency, again.transfers) == (0, 0, 0)


def test_the_task_purges_and_is_scheduled_nightly_for_support_to_change():
    organisation = OrganisationFactory()
    _aged(SyncLogEntryFactory(organisation=organisation), timedelta(days=91))

    assert purge_expired_task.apply().get() == {
        "sync_log": 1,
        "idempotency": 0,
        "transfers": 0,
        "export_files": 0,
    }
    task = PeriodicTask.objects.get(task="doctolib_bridge.purge_expired")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("3", "30")
    assert str(task.crontab.timezone) == "Europe/Berlin"


def test_export_files_are_deleted_30_days_after_their_job_ended(organisation, admin_user):
    """GDPR: the CSV files hold every record's contact data; the job row stays."""
    PatientFactory(organisation=organisation)
    old = export_start(organisation=organisation, actor=admin_user, delete_appointments=False)
    young = export_start(organisation=organisation, actor=admin_user, delete_appointments=False)
    old.refresh_from_db()
    young.refresh_from_db()
    old_path, young_path = old.patients_file.path, young.patients_file.path
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    ExportJob.objects.filter(pk=young.pk).update(finished_at=timezone.now() - timedelta(days=29))

    assert purge_expired().export_files == 1

    old.refresh_from_db()
    assert (old.state, old.patients_file.name, old.appointments_file.name) == ("done", "", "")
    assert not os.path.exists(old_path) and os.path.exists(young_path)
    with pytest.raises(NotFound, match="30 Tage nach dem Export gelöscht"):
        export_file(
            organisation=organisation, actor=admin_user, public_id=old.public_id,
            name="patients.csv",
        )  # fmt: skip
    assert purge_expired().export_files == 0
