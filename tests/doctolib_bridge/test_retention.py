"""The bridge keeps its sync log 90 days, Idempotency-Key answers 24 hours and staged
transfers 7 days; the daily purge removes what is older, nothing younger."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from doctolib_bridge.models import IdempotencyRecord, SyncLogEntry, Transfer
from doctolib_bridge.retention import purge_expired
from doctolib_bridge.tasks import purge_expired_task
from tests.factories import OrganisationFactory, SyncLogEntryFactory

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

    assert purge_expired_task.apply().get() == {"sync_log": 1, "idempotency": 0, "transfers": 0}
    task = PeriodicTask.objects.get(task="doctolib_bridge.purge_expired")
    assert task.enabled and (task.crontab.hour, task.crontab.minute) == ("3", "30")
    assert str(task.crontab.timezone) == "Europe/Berlin"
