from datetime import UTC, datetime

import pytest

from tests.conftest import assert_problem, token_client
from tests.factories import SyncLogEntryFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/sync-log/"


def _log(organisation, at: datetime, **fields):
    entry = SyncLogEntryFactory(organisation=organisation, **fields)
    type(entry).objects.filter(pk=entry.pk).update(created_at=at)
    return entry


def test_sync_log_is_newest_first_with_times_in_the_organisations_zone(api, organisation):
    _log(organisation, datetime(2025, 3, 4, 8, 0, tzinfo=UTC), outcome="created", status=201)
    _log(
        organisation,
        datetime(2025, 7, 1, 8, 0, tzinfo=UTC),
        method="PUT",
        endpoint="/api/zipper/v1/appointments/dl-9",
        doctolib_patient_id="p-1",
        doctolib_appointment_id="dl-9",
        status=409,
        outcome="",
        code="appointment_invoiced",
        detail="Der Termin steht auf einer Rechnung.",
    )
    response = api.get(URL)
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert [row["time"] for row in rows] == [
        "2025-07-01T10:00:00+02:00",
        "2025-03-04T09:00:00+01:00",
    ]
    newest = rows[0]
    del newest["id"]
    assert newest == {
        "time": "2025-07-01T10:00:00+02:00",
        "method": "PUT",
        "endpoint": "/api/zipper/v1/appointments/dl-9",
        "doctolib_patient_id": "p-1",
        "doctolib_appointment_id": "dl-9",
        "status": 409,
        "outcome": "",
        "code": "appointment_invoiced",
        "detail": "Der Termin steht auf einer Rechnung.",
    }


def test_sync_log_filters_by_status_and_code(api, organisation):
    at = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    _log(organisation, at, status=200)
    _log(organisation, at, status=409, code="appointment_invoiced")
    _log(organisation, at, status=409, code="link_conflict")

    def codes(**params):
        response = api.get(URL, params)
        assert response.status_code == 200, response.content
        return sorted(row["code"] for row in response.json()["results"])

    assert codes(status=409) == ["appointment_invoiced", "link_conflict"]
    assert codes(code="link_conflict") == ["link_conflict"]
    assert codes(status=200, code="link_conflict") == []
    body = assert_problem(api.get(URL, {"status": "abc"}), 422, "validation_error")
    assert list(body["errors"]) == ["status"]


def test_sync_log_shows_only_the_own_organisation(api, organisation, other_organisation):
    at = datetime(2025, 3, 4, 8, 0, tzinfo=UTC)
    _log(other_organisation, at, code="fremd")
    _log(organisation, at, code="eigen")
    assert [row["code"] for row in api.get(URL).json()["results"]] == ["eigen"]


def test_any_member_reads_the_sync_log_but_nobody_writes_it(organisation):
    _log(organisation, datetime(2025, 3, 4, 8, 0, tzinfo=UTC))
    client = token_client(
        UserFactory(
            organisation=organisation,
            role="staff",
            can_appointments=False,
            can_documentation=False,
            can_billing=False,
        )
    )
    assert client.get(URL).json()["count"] == 1
    assert_problem(client.post(URL, {}, format="json"), 405, "method_not_allowed")


def test_sync_log_query_count_does_not_grow(api, organisation, django_assert_max_num_queries):
    SyncLogEntryFactory.create_batch(30, organisation=organisation)
    with django_assert_max_num_queries(4):
        small = api.get(URL, {"page_size": 1})
    with django_assert_max_num_queries(4):
        large = api.get(URL, {"page_size": 500})
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 30
