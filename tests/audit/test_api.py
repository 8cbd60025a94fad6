"""`GET /api/v1/audit-log/` against staff-api.md 1.1 ("Audit log"): fields, order,
paging, each filter and its 422s, the CSV file, who may read it, and that another
organisation's entries never show."""

import csv
import io
import uuid
from datetime import datetime

import pytest
from rest_framework.test import APIClient

from audit.actions import Action
from audit.models import AuditEvent
from audit.services import audit_record
from organisations.models import Right, Role
from tests.audit.conftest import only
from tests.conftest import assert_problem
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/audit-log/"
FIELDS = [
    "time",
    "actor",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "detail",
    "action_label",
]


def client_of(user) -> APIClient:
    """A client acting as `user` without a login or token of its own (either would be
    an entry in the log)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def admin(admin_user):
    return client_of(admin_user)


def event(organisation, when: str, *, actor=None, action=Action.PATIENT_UPDATE, **fields):
    return AuditEvent.objects.create(
        organisation=organisation,
        time=datetime.fromisoformat(when),
        actor=actor,
        actor_label=actor.email if actor else "System",
        action=action,
        object_type=action.split(".")[0],
        **fields,
    )


def test_an_entry_has_the_contracts_fields_in_the_organisations_zone(admin, organisation):
    patient_id = uuid.uuid4()
    audit_record(
        organisation=organisation,
        actor=UserFactory(organisation=organisation, email="a@praxis.test", first_name="Anna"),
        action=Action.PATIENT_UPDATE,
        object_id=patient_id,
        patient=patient_id,
        detail="Felder: city",
    )
    event(organisation, "2026-01-15T09:30:00+00:00", action=Action.LOGIN)

    body = admin.get(URL).json()

    assert body["count"] == 2 and body["previous"] is None and body["next"] is None
    newest, oldest = body["results"]
    assert list(newest) == FIELDS
    assert newest["actor"] == "Anna <a@praxis.test>"
    assert (newest["action"], newest["object_type"], newest["action_label"]) == (
        "patient.update",
        "patient",
        "Akte geändert",
    )
    assert newest["object_id"] == newest["patient_id"] == str(patient_id)
    assert newest["detail"] == "Felder: city"
    assert oldest == {
        "time": "2026-01-15T10:30:00+01:00",
        "actor": "System",
        "action": "login",
        "object_type": "login",
        "object_id": "",
        "patient_id": None,
        "detail": "",
        "action_label": "Anmeldung",
    }


def test_newest_first_and_paged_like_every_list(admin, organisation):
    for day in range(1, 31):
        for hour in (8, 9):
            event(organisation, f"2026-04-{day:02}T{hour:02}:00:00+00:00", detail=f"{day}-{hour}")

    first = admin.get(URL).json()
    small = admin.get(URL, {"page_size": 7, "page": 2}).json()

    assert first["count"] == 60 and len(first["results"]) == 50
    assert "page=2" in first["next"]
    assert [r["detail"] for r in first["results"][:3]] == ["30-9", "30-8", "29-9"]
    assert [r["detail"] for r in small["results"]] == [
        "27-8", "26-9", "26-8", "25-9", "25-8", "24-9", "24-8"
    ]  # fmt: skip


def test_same_time_entries_keep_the_order_they_were_written(admin, organisation):
    for detail in ("erst", "dann"):
        event(organisation, "2026-04-01T08:00:00+00:00", detail=detail)

    assert [r["detail"] for r in admin.get(URL).json()["results"]] == ["dann", "erst"]


def test_filter_by_record(admin, organisation):
    wanted, other = uuid.uuid4(), uuid.uuid4()
    event(organisation, "2026-04-01T08:00:00+00:00", patient_id=wanted, detail="ja")
    event(organisation, "2026-04-01T09:00:00+00:00", patient_id=other)
    event(organisation, "2026-04-01T10:00:00+00:00")

    body = admin.get(URL, {"patient": str(wanted)}).json()

    assert [r["detail"] for r in body["results"]] == ["ja"]
    assert admin.get(URL, {"patient": str(uuid.uuid4())}).json()["count"] == 0


def test_a_malformed_record_id_is_422(admin):
    body = assert_problem(admin.get(URL, {"patient": "12345"}), 422, "validation_error")
    assert list(body["errors"]) == ["patient"]


def test_filter_by_actor_e_mail_in_any_case(admin, organisation):
    anna = UserFactory(organisation=organisation, email="anna@praxis.test")
    ben = UserFactory(organisation=organisation, email="ben@praxis.test")
    event(organisation, "2026-04-01T08:00:00+00:00", actor=anna, detail="anna")
    event(organisation, "2026-04-01T09:00:00+00:00", actor=ben)
    event(organisation, "2026-04-01T10:00:00+00:00")

    assert details(admin.get(URL, {"actor": "Anna@Praxis.test"})) == ["anna"]
    assert admin.get(URL, {"actor": "niemand@praxis.test"}).json()["count"] == 0
    body = assert_problem(admin.get(URL, {"actor": "anna"}), 422, "validation_error")
    assert list(body["errors"]) == ["actor"]


@pytest.fixture
def around_midnight(organisation):
    """Entries around 10 March 2026 in Berlin (UTC+1)."""
    for when, detail in (
        ("2026-03-09T23:30:00+01:00", "davor"),
        ("2026-03-10T00:10:00+01:00", "früh"),
        ("2026-03-10T23:50:00+01:00", "spät"),
        ("2026-03-11T00:00:00+01:00", "danach"),
    ):
        event(organisation, when, detail=detail)


def details(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["detail"] for r in response.json()["results"]]


def test_since_and_until_as_dates_are_whole_days_in_the_organisations_zone(admin, around_midnight):
    assert details(admin.get(URL, {"since": "2026-03-10", "until": "2026-03-10"})) == [
        "spät",
        "früh",
    ]
    assert details(admin.get(URL, {"since": "2026-03-11"})) == ["danach"]
    assert details(admin.get(URL, {"until": "2026-03-09"})) == ["davor"]


def test_since_and_until_as_times_are_inclusive(admin, around_midnight):
    period = {"since": "2026-03-10T00:10:00+01:00", "until": "2026-03-10T22:50:00Z"}
    assert details(admin.get(URL, period)) == ["spät", "früh"]
    # a "+" the caller did not URL-encode arrives as a space and still counts as offset
    assert details(admin.get(f"{URL}?since=2026-03-10T23:50:00+01:00")) == ["danach", "spät"]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-03-10T10:00:00"},  # no offset
        {"until": "gestern"},
        {"since": "2026-02-30"},
        {"until": "9999-12-31"},
        {"since": "2026-03-11", "until": "2026-03-10"},
        {"format": "xml"},
    ],
)
def test_malformed_filters_are_422(admin, query):
    body = assert_problem(admin.get(URL, query), 422, "validation_error")
    assert body["errors"]


def read_csv(response) -> list[list[str]]:
    content = b"".join(response.streaming_content)
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def test_csv_is_every_matching_entry_for_german_spreadsheets(admin, admin_user, organisation):
    patient_id = uuid.uuid4()
    for day in range(1, 31):
        for hour in (8, 9):
            event(organisation, f"2026-04-{day:02}T{hour:02}:00:00+00:00", patient_id=patient_id)
    event(organisation, "2026-04-02T08:00:00+00:00", detail="=HYPERLINK(1)", patient_id=patient_id)
    event(organisation, "2026-04-02T08:00:00+00:00")  # another record

    response = admin.get(URL, {"format": "csv", "patient": str(patient_id), "page_size": 5})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="protokoll-')
    rows = read_csv(response)
    assert rows[0] == FIELDS
    # not paged: every entry of the record, the newest being this download itself
    assert len(rows) == 1 + 1 + 61
    assert rows[1][2] == "audit.export"
    assert rows[2] == [
        "2026-04-30T11:00:00+02:00",
        "System",
        "patient.update",
        "patient",
        "",
        str(patient_id),
        "",
        "Akte geändert",
    ]
    assert [row[6] for row in rows if "HYPERLINK" in row[6]] == ["'=HYPERLINK(1)"]
    exported = only(organisation, Action.AUDIT_EXPORT)
    assert (exported.actor, exported.patient_id, exported.detail) == (admin_user, patient_id, "")


def test_csv_with_filters_names_them_in_its_own_entry(admin, admin_user, organisation):
    response = admin.get(
        URL, {"format": "csv", "actor": "admin@praxis.test", "since": "2026-03-10"}
    )

    rows = read_csv(response)
    assert [row[2] for row in rows[1:]] == ["audit.export"]  # the download itself
    assert only(organisation, Action.AUDIT_EXPORT).detail == (
        "actor=admin@praxis.test, since=2026-03-10"
    )


def test_a_bad_filter_with_csv_is_still_problem_json(admin, organisation):
    assert_problem(admin.get(URL, {"format": "csv", "since": "bald"}), 422, "validation_error")
    assert not AuditEvent.objects.filter(action=Action.AUDIT_EXPORT).exists()


@pytest.mark.parametrize("role_rights", [(Role.STAFF, list(Right)), (Role.STAFF, [])])
def test_only_organisation_admins_may_read_it(organisation, role_rights):
    role, rights = role_rights
    member = UserFactory(
        organisation=organisation, role=role, **{f"can_{r}": r in rights for r in Right}
    )
    event(organisation, "2026-04-01T08:00:00+00:00")

    for query in ({}, {"format": "csv"}):
        assert_problem(client_of(member).get(URL, query), 403, "permission_denied")
    assert not AuditEvent.objects.filter(action=Action.AUDIT_EXPORT).exists()


def test_another_organisations_entries_never_show(admin, organisation, other_organisation):
    theirs = uuid.uuid4()
    event(other_organisation, "2026-04-01T08:00:00+00:00", patient_id=theirs, detail="fremd")
    event(organisation, "2026-04-01T09:00:00+00:00", detail="eigen")
    their_admin = UserFactory(organisation=other_organisation, email="chef@tal.test")
    event(other_organisation, "2026-04-01T10:00:00+00:00", actor=their_admin, detail="fremd")

    assert details(admin.get(URL)) == ["eigen"]
    assert details(admin.get(URL, {"patient": str(theirs)})) == []
    assert details(admin.get(URL, {"actor": "chef@tal.test"})) == []
    rows = read_csv(admin.get(URL, {"format": "csv"}))
    assert "fremd" not in str(rows)


def test_a_page_costs_the_same_few_queries_however_many_entries(
    admin, organisation, django_assert_max_num_queries
):
    for day in range(1, 29):
        event(organisation, f"2026-02-{day:02}T08:00:00+00:00", actor=None)

    with django_assert_max_num_queries(3):  # the user's organisation, count, page
        assert admin.get(URL).status_code == 200
