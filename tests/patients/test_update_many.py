"""`patient_update_many` (issue 15, reconciliation set-based): for the same changes it
leaves the same rows as `patient_update` one record at a time: the records, their
history rows (old values, actor, reason), the Protokoll entries and the platform
calls; only each record's own changed fields are written."""

from datetime import date

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from doctolib_bridge.models import ChangeFeedEntry
from lemniscus.errors import LinkConflict, RecordArchived
from patients import platforms, services
from patients.models import Patient
from patients.selectors import patient_history
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

# Per record: the changes asked for (a record may change nothing).
CHANGES = [
    {"mobile_phone": "+491711234567"},
    {"first_name": "Jürgen", "birth_date": date(1970, 3, 4)},  # search keys follow
    {"email": "neu@example.org", "city": "Potsdam", "notes": "ruft an"},
    {"city": "Berlin"},  # as stored: no change
    {"invoice_recipient": {"last_name": "Mutter", "city": "Köln"}, "landline_phone": ""},
]
# Compared between the two writers' rows: everything but what is the record's own.
OWN = {"id", "public_id", "created_at", "updated_at", "doctolib_patient_id"}


def twins(organisation, n, **fields):
    """Two records per slot, equal in every field that is not their own."""
    pairs = []
    for i in range(n):
        values = {
            "first_name": f"Anna{i}",
            "last_name": f"Müller{i}",
            "city": "Berlin",
            "landline_phone": "+49301234567",
            "birth_date": date(1960, 1, 2),
            **fields,
        }
        one = PatientFactory(organisation=organisation, **values)
        two = PatientFactory(organisation=organisation, **values)
        pairs.append((one, two))
    return pairs


def row(patient):
    values = Patient.objects.filter(pk=patient.pk).values().get()
    return {k: v for k, v in values.items() if k not in OWN}


def history_rows(patient):
    skip = OWN | {"history_id", "history_date"}
    return [
        {k: v for k, v in values.items() if k not in skip}
        for values in Patient.history.filter(id=patient.pk).order_by("history_id").values()
    ]


def history_view(patient):
    return [
        {k: v for k, v in entry.items() if k != "time"}
        for entry in patient_history(patient=patient)
    ]


def audit_rows(patient):
    return list(
        AuditEvent.objects.filter(patient_id=patient.public_id)
        .order_by("id")
        .values("actor_id", "actor_label", "action", "object_type", "object_id", "detail")
    )


def audit_rows_of(patient, other):
    """`other`'s entries as they would read for `patient` (the object id is the record's
    public id)."""
    return [{**e, "object_id": str(patient.public_id)} for e in audit_rows(other)]


@pytest.mark.parametrize("by_staff", [True, False])
def test_same_rows_as_the_single_writer(organisation, by_staff):
    actor = UserFactory(organisation=organisation) if by_staff else None
    reason = None if by_staff else "Abgleich Doctolib"
    pairs = twins(organisation, len(CHANGES))
    singles, batched = [one for one, _ in pairs], [two for _, two in pairs]

    for patient, changes in zip(singles, CHANGES, strict=True):
        services.patient_update(
            patient=patient, actor=actor, reason=reason, queue_for_doctolib=False, **changes
        )
    written = services.patient_update_many(
        changes=zip(batched, CHANGES, strict=True),
        actor=actor,
        reason=reason,
        queue_for_doctolib=False,
    )

    assert written == {
        batched[0].pk: ["mobile_phone"],
        batched[1].pk: ["first_name", "birth_date"],
        batched[2].pk: ["email", "city", "notes"],
        batched[4].pk: ["invoice_recipient", "landline_phone"],
    }
    for single, batch in pairs:
        assert row(batch) == row(single)
        assert history_rows(batch) == history_rows(single)
        assert history_view(batch) == history_view(single)
        assert audit_rows(batch) == audit_rows_of(batch, single)
    # the old value, who and why, as the record's history shows them
    newest = patient_history(patient=batched[0])[0]
    assert newest["changes"] == [
        {"field": "mobile_phone", "label": "Mobil", "old": "", "new": "+491711234567"}
    ]
    assert newest["actor"] == (actor.display_name if by_staff else "Abgleich Doctolib")
    assert Patient.objects.get(pk=batched[1].pk).first_name_folded == "juergen"
    assert not Patient.history.filter(id=batched[3].pk, history_type="~").exists()


def test_a_record_keeps_what_it_did_not_change(organisation):
    """Each record gets only its own changed fields, as `save(update_fields=...)`
    writes them: a field another record of the batch changes stays as stored."""
    first, second = (PatientFactory(organisation=organisation) for _ in range(2))
    Patient.objects.filter(pk=second.pk).update(city="Köln")  # after `second` was read

    services.patient_update_many(
        changes=[(first, {"city": "Potsdam"}), (second, {"email": "b@example.org"})],
        queue_for_doctolib=False,
    )

    second.refresh_from_db()
    assert (second.city, second.email) == ("Köln", "b@example.org")
    first.refresh_from_db()
    assert first.city == "Potsdam"


class Recorder:
    name = "zweite"

    def __init__(self):
        self.heard = []

    def led_fields(self, patient) -> list[str]:
        return []

    def synced_fields_changed(self, patient, names) -> None:
        in_transaction = transaction.get_connection().in_atomic_block
        stored = Patient.objects.values_list("city", flat=True).get(pk=patient.pk)
        self.heard.append((patient.pk, list(names), in_transaction, stored))


@pytest.fixture
def second_platform():
    recorder = Recorder()
    platforms.register(recorder)
    yield recorder
    platforms._platforms.pop(recorder.name)


def test_platforms_hear_each_change_as_from_the_single_writer(organisation, second_platform):
    (one, two), (three, four) = twins(organisation, 2, sync_to_doctolib=True)

    services.patient_update(patient=one, city="Potsdam")
    services.patient_update(patient=three, city="Berlin")  # no change: not heard
    services.patient_update_many(changes=[(two, {"city": "Potsdam"}), (four, {"city": "Berlin"})])

    assert second_platform.heard == [
        (one.pk, ["city"], True, "Potsdam"),
        (two.pk, ["city"], True, "Potsdam"),  # after the row is written, in its transaction
    ]
    # the bridge heard both alike: each unlinked ticked record once in the feed
    fields = dict(ChangeFeedEntry.objects.values_list("patient_id", "fields"))
    assert fields == {one.pk: ["city"], two.pk: ["city"]}


def test_not_queued_for_the_platforms_when_asked_not_to(organisation, second_platform):
    patient = PatientFactory(organisation=organisation, sync_to_doctolib=True)

    services.patient_update_many(changes=[(patient, {"city": "Potsdam"})], queue_for_doctolib=False)

    assert second_platform.heard == []
    assert not ChangeFeedEntry.objects.exists()


def test_refused_as_by_the_single_writer_and_nothing_written(organisation):
    fine = PatientFactory(organisation=organisation)
    archived = PatientFactory(organisation=organisation)
    Patient.objects.filter(pk=archived.pk).update(archived_at="2026-01-01T00:00Z")
    archived.refresh_from_db()
    linked = PatientFactory(
        organisation=organisation, doctolib_patient_id="dl-1", sync_to_doctolib=True
    )
    history, audit = Patient.history.count(), AuditEvent.objects.count()

    with pytest.raises(RecordArchived):
        services.patient_update_many(changes=[(fine, {"city": "A"}), (archived, {"city": "B"})])
    with pytest.raises(LinkConflict):
        services.patient_update_many(
            changes=[(fine, {"city": "A"}), (linked, {"sync_to_doctolib": False})]
        )
    with pytest.raises(ValueError):
        services.patient_update_many(changes=[(fine, {"city": "A"}), (fine, {"city": "B"})])

    fine.refresh_from_db()
    assert fine.city == "Berlin"
    assert (Patient.history.count(), AuditEvent.objects.count()) == (history, audit)
    # what Doctolib leads still follows Doctolib on an archived record
    services.patient_update_many(changes=[(archived, {"city": "B"})], queue_for_doctolib=False)
    archived.refresh_from_db()
    assert archived.city == "B"


def test_nothing_to_change_writes_nothing(organisation):
    patient = PatientFactory(organisation=organisation)
    with CaptureQueriesContext(connection) as queries:
        assert services.patient_update_many(changes=[(patient, {"city": "Berlin"})]) == {}
        assert services.patient_update_many(changes=[]) == {}
    assert [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))] == []


@pytest.mark.postgres  # elsewhere (SQLite, development) one UPDATE per record
def test_a_few_statements_for_the_whole_batch(organisation, django_assert_max_num_queries):
    patients = [PatientFactory(organisation=organisation) for _ in range(30)]
    with django_assert_max_num_queries(5):  # savepoint, UPDATE, history, Protokoll, release
        written = services.patient_update_many(
            changes=[(p, {"mobile_phone": f"+4917112345{i:02}"}) for i, p in enumerate(patients)],
            reason="Abgleich Doctolib",
            queue_for_doctolib=False,
        )
    assert len(written) == 30
    assert Patient.history.filter(history_change_reason="Abgleich Doctolib").count() == 30
    assert (
        AuditEvent.objects.filter(detail="Felder: mobile_phone (Abgleich Doctolib)").count() == 30
    )


@pytest.mark.postgres
def test_more_records_than_one_statement_takes(organisation, monkeypatch):
    """Past ROWS_PER_STATEMENT the records go in several statements, with the same
    rows, and the history rows still in the order given."""
    monkeypatch.setattr(services, "ROWS_PER_STATEMENT", 2)
    patients = [PatientFactory(organisation=organisation) for _ in range(5)]
    changes = [
        (p, {"city": f"Ort {i}"} if i % 2 else {"street": f"Weg {i}"})
        for i, p in enumerate(patients)
    ]

    written = services.patient_update_many(changes=changes, reason="Abgleich Doctolib")

    assert written == {p.pk: ["street" if i % 2 == 0 else "city"] for i, p in enumerate(patients)}
    stored = {p.pk: (p.street, p.city) for p in Patient.objects.filter(organisation=organisation)}
    assert [stored[p.pk] for p in patients] == [
        ("Weg 0", "Berlin"), ("Hauptstraße 5", "Ort 1"), ("Weg 2", "Berlin"),
        ("Hauptstraße 5", "Ort 3"), ("Weg 4", "Berlin"),
    ]  # fmt: skip
    newest = Patient.history.filter(history_change_reason="Abgleich Doctolib").order_by(
        "history_id"
    )
    assert list(newest.values_list("id", flat=True)) == [p.pk for p in patients]
