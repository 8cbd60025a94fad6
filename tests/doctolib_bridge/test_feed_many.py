"""`feed_append_many` (issue 15, reconciliation set-based): the entries `feed_append`
makes one at a time, with one counter lock for all of them, held until the caller
commits (zipper-api.md "Change feed": no entry is ever skipped, even when writers
commit out of order)."""

import threading

import pytest
from django.db import OperationalError, connection, transaction

from doctolib_bridge.feed import feed_append, feed_append_many, feed_page
from doctolib_bridge.models import ChangeFeedEntry, FeedCounter
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

FIELDS = [["city"], ["street", "postal_code"], ["first_name"]]


def entries(organisation):
    return list(
        ChangeFeedEntry.objects.filter(organisation=organisation)
        .order_by("cursor")
        .values_list("cursor", "patient_id", "fields")
    )


def last_cursor(organisation):
    return FeedCounter.objects.get(organisation=organisation).last_cursor


def test_same_entries_as_one_at_a_time(organisation, other_organisation):
    singles = [PatientFactory(organisation=organisation, sync_to_doctolib=True) for _ in FIELDS]
    batched = [
        PatientFactory(organisation=other_organisation, sync_to_doctolib=True) for _ in FIELDS
    ]

    for patient, fields in zip(singles, FIELDS, strict=True):
        feed_append(patient=patient, fields=fields)
    feed_append_many(organisation=other_organisation, entries=zip(batched, FIELDS, strict=True))

    by_position = {p.pk: i for i, p in enumerate(singles)} | {
        p.pk: i for i, p in enumerate(batched)
    }
    one_at_a_time = [(c, by_position[p], f) for c, p, f in entries(organisation)]
    at_once = [(c, by_position[p], f) for c, p, f in entries(other_organisation)]
    assert at_once == one_at_a_time == [(1, 0, ["city"]), (2, 1, FIELDS[1]), (3, 2, FIELDS[2])]
    assert last_cursor(other_organisation) == last_cursor(organisation) == 3
    page = feed_page(organisation=other_organisation, after=0)
    assert [c.patient.pk for c in page.changes] == [p.pk for p in batched]
    assert page.next_cursor == 3


def test_cursors_go_on_from_the_last_issued_one(organisation):
    first, second, third = (
        PatientFactory(organisation=organisation, sync_to_doctolib=True) for _ in range(3)
    )
    feed_append(patient=first, fields=["city"])

    made = feed_append_many(organisation=organisation, entries=[(second, ["city"]), (third, [])])
    feed_append(patient=first, fields=["street"])

    assert [e.cursor for e in made] == [2, 3]
    assert [c for c, _, _ in entries(organisation)] == [1, 2, 3, 4]
    assert last_cursor(organisation) == 4


def test_nothing_to_append_touches_no_counter(organisation):
    assert feed_append_many(organisation=organisation, entries=[]) == []
    assert not FeedCounter.objects.filter(organisation=organisation).exists()


def test_records_of_another_organisation_are_refused(organisation, other_organisation):
    stranger = PatientFactory(organisation=other_organisation, sync_to_doctolib=True)
    with pytest.raises(ValueError):
        feed_append_many(organisation=organisation, entries=[(stranger, ["city"])])
    assert not ChangeFeedEntry.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_counter_stays_locked_until_the_batch_commits(organisation):
    """A writer that starts while a batch is uncommitted waits for it, so its cursor
    cannot become visible before the batch's lower ones."""
    patients = [PatientFactory(organisation=organisation, sync_to_doctolib=True) for _ in range(3)]
    feed_append(patient=patients[0], fields=["city"])  # the counter row exists
    appended, release = threading.Event(), threading.Event()

    def batch_writer():
        try:
            with transaction.atomic():
                feed_append_many(
                    organisation=organisation, entries=[(p, ["city"]) for p in patients[:2]]
                )
                appended.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=batch_writer)
    writer.start()
    assert appended.wait(5)
    try:
        with pytest.raises(OperationalError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            feed_append(patient=patients[2], fields=["city"])
        assert [c for c, _, _ in entries(organisation)] == [1]  # the batch not yet visible
    finally:
        release.set()
        writer.join()

    feed_append(patient=patients[2], fields=["city"])
    assert [c for c, _, _ in entries(organisation)] == [1, 2, 3, 4]
