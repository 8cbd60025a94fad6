"""Issue 13 in the staff API: an optional room per appointment (never double-booked,
a therapist column may be), duration from the chain, series appointments with their
conflicts, "this and following", cancelling with a reason, and Doctolib
appointments that only Doctolib moves."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from appointments.models import (
    Appointment,
    AppointmentSeries,
    AppointmentSource,
    ColumnKind,
)
from tests.conftest import assert_problem
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments/"
SERIES = "/api/v1/appointment-series/"
BERLIN = ZoneInfo("Europe/Berlin")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def next_weekday(weekday: int) -> date:
    """The next date (after today) that falls on `weekday` (0 = Monday)."""
    day = date.today() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day + timedelta(days=7)


@pytest.fixture
def setup(organisation):
    therapist = CalendarColumnFactory(organisation=organisation, name="Frau Lind")
    other = CalendarColumnFactory(organisation=organisation, name="Herr Berg")
    room = CalendarColumnFactory(organisation=organisation, name="Raum 1", kind=ColumnKind.ROOM)
    patient = PatientFactory(organisation=organisation)
    chain = ServiceChainFactory(organisation=organisation)  # 30 minutes
    return {
        "therapist": therapist,
        "other": other,
        "room": room,
        "patient": patient,
        "chain": chain,
    }


def body(setup, start: datetime, **extra) -> dict:
    return {
        "patient_id": str(setup["patient"].public_id),
        "calendar_column_id": str(setup["therapist"].public_id),
        "start": start.isoformat(),
        **extra,
    }


# Rooms and double booking


def test_a_room_is_never_booked_twice(api, setup):
    monday = next_weekday(0)
    room = str(setup["room"].public_id)
    first = api.post(
        APPOINTMENTS, body(setup, at(monday, 9), duration_minutes=60, room_id=room), format="json"
    )
    assert first.status_code == 201, first.content
    assert first.json()["room_id"] == room
    clash = body(setup, at(monday, 9, 30), duration_minutes=30, room_id=room)
    clash["calendar_column_id"] = str(setup["other"].public_id)  # another therapist
    problem = assert_problem(api.post(APPOINTMENTS, clash, format="json"), 409, "room_booked")
    assert "Raum 1" in problem["detail"]
    assert problem["appointment_id"] == first.json()["id"]
    assert Appointment.objects.count() == 1
    # Right after it is free (half-open intervals).
    clash["start"] = at(monday, 10).isoformat()
    assert api.post(APPOINTMENTS, clash, format="json").status_code == 201


def test_the_room_column_itself_counts_as_the_room(api, setup, organisation):
    monday = next_weekday(0)
    AppointmentFactory(
        organisation=organisation,
        calendar_column=setup["room"],
        start=at(monday, 11),
        duration_minutes=45,
    )
    problem = assert_problem(
        api.post(
            APPOINTMENTS,
            body(
                setup, at(monday, 11, 15), duration_minutes=30, room_id=str(setup["room"].public_id)
            ),
            format="json",
        ),
        409,
        "room_booked",
    )
    assert "schon belegt" in problem["detail"]


def test_a_therapist_column_may_be_double_booked(api, setup):
    monday = next_weekday(0)
    for _ in range(2):
        response = api.post(
            APPOINTMENTS, body(setup, at(monday, 14), duration_minutes=30), format="json"
        )
        assert response.status_code == 201


def test_a_cancelled_appointment_frees_the_room_and_taking_the_cancel_back_checks_it(api, setup):
    monday = next_weekday(0)
    room = str(setup["room"].public_id)
    first = api.post(
        APPOINTMENTS, body(setup, at(monday, 9), duration_minutes=30, room_id=room), format="json"
    ).json()
    cancelled = api.patch(
        f"{APPOINTMENTS}{first['id']}/",
        {"status": "cancelled", "cancellation_reason": "krank"},
        format="json",
    )
    assert cancelled.json()["cancellation_reason"] == "krank"
    second = dict(body(setup, at(monday, 9), duration_minutes=30, room_id=room))
    second["calendar_column_id"] = str(setup["other"].public_id)
    assert api.post(APPOINTMENTS, second, format="json").status_code == 201
    assert_problem(
        api.patch(f"{APPOINTMENTS}{first['id']}/", {"status": "planned"}, format="json"),
        409,
        "room_booked",
    )


def test_a_room_must_be_a_room_column(api, setup):
    response = api.post(
        APPOINTMENTS,
        body(
            setup,
            at(next_weekday(0), 9),
            duration_minutes=30,
            room_id=str(setup["other"].public_id),
        ),
        format="json",
    )
    problem = assert_problem(response, 422, "validation_error")
    assert "room_id" in problem["errors"]


def test_duration_follows_the_chain(api, setup):
    response = api.post(
        APPOINTMENTS,
        body(setup, at(next_weekday(1), 9), service_chain_id=str(setup["chain"].public_id)),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["duration_minutes"] == 30
    problem = assert_problem(
        api.post(APPOINTMENTS, body(setup, at(next_weekday(1), 10)), format="json"),
        422,
        "validation_error",
    )
    assert "duration_minutes" in problem["errors"]


def test_a_doctolib_appointment_is_moved_only_in_doctolib(api, organisation):
    appointment = AppointmentFactory(
        organisation=organisation,
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="dl-1",
        start=at(next_weekday(2), 9),
    )
    url = f"{APPOINTMENTS}{appointment.public_id}/"
    new_start = at(next_weekday(2), 10).isoformat()
    assert_problem(api.patch(url, {"start": new_start}, format="json"), 409, "appointment_external")
    # What staff own stays theirs.
    assert api.patch(url, {"status": "cancelled"}, format="json").status_code == 200


# Series


def test_a_weekly_series_skips_closed_days_and_carries_its_id(api, setup, organisation):
    monday = next_weekday(0)
    organisation.closed_dates = [(monday + timedelta(days=14)).isoformat()]
    organisation.save()
    response = api.post(
        SERIES,
        body(
            setup,
            at(monday, 8),
            service_chain_id=str(setup["chain"].public_id),
            room_id=str(setup["room"].public_id),
            count=6,
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["interval_days"] == 7 and data["count"] == 6 and data["duration_minutes"] == 30
    appointments = list(Appointment.objects.filter(series__public_id=data["id"]).order_by("start"))
    assert [str(a.public_id) for a in appointments] == data["appointment_ids"]
    days = [a.start.astimezone(BERLIN).date() for a in appointments]
    assert len(days) == 6
    assert monday + timedelta(days=14) not in days  # closed: skipped, not counted
    assert days[-1] == monday + timedelta(days=42)
    assert {a.start.astimezone(BERLIN).hour for a in appointments} == {
        8
    }  # the same wall-clock time
    assert all(a.room_id == setup["room"].pk for a in appointments)
    listed = api.get(f"{APPOINTMENTS}{data['appointment_ids'][0]}/").json()
    assert listed["series_id"] == data["id"]
    assert all(a.history.count() == 1 for a in appointments)


def test_series_until_an_end_date_every_n_days(api, setup):
    tuesday = next_weekday(1)
    response = api.post(
        SERIES,
        body(
            setup,
            at(tuesday, 9),
            duration_minutes=20,
            interval_days=2,
            until=(tuesday + timedelta(days=7)).isoformat(),
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    days = sorted(
        a.start.astimezone(BERLIN).date()
        for a in Appointment.objects.filter(series__public_id=response.json()["id"])
    )
    # Tue, Thu, (Sat closed), Mon
    assert days == [tuesday, tuesday + timedelta(days=2), tuesday + timedelta(days=6)]


def test_series_conflicts_are_listed_before_anything_is_saved(api, setup, organisation):
    monday = next_weekday(0)
    existing = AppointmentFactory(
        organisation=organisation,
        calendar_column=setup["therapist"],
        start=at(monday + timedelta(days=7), 8, 15),
        duration_minutes=30,
    )
    request = body(setup, at(monday, 8), duration_minutes=30, count=4)
    problem = assert_problem(api.post(SERIES, request, format="json"), 409, "series_conflicts")
    assert problem["conflicts"] == [
        {
            "start": at(monday + timedelta(days=7), 8).isoformat(),
            "conflicts": [
                {
                    "appointment_id": str(existing.public_id),
                    "kind": "column",
                    "detail": "Termin von 08:15–08:45 in „Frau Lind“.",
                }
            ],
        }
    ]
    assert not AppointmentSeries.objects.exists()
    assert Appointment.objects.count() == 1
    preview = api.post(f"{SERIES}preview/", request, format="json")
    assert preview.status_code == 200
    assert len(preview.json()["dates"]) == 4
    assert sum(bool(d["conflicts"]) for d in preview.json()["dates"]) == 1
    skipped = api.post(SERIES, {**request, "on_conflict": "skip"}, format="json")
    assert skipped.status_code == 201
    assert len(skipped.json()["appointment_ids"]) == 3
    assert [d["start"] for d in skipped.json()["left_out"]] == [
        at(monday + timedelta(days=7), 8).isoformat()
    ]
    booked = api.post(
        SERIES,
        {**request, "start": at(monday, 8).isoformat(), "on_conflict": "book"},
        format="json",
    )
    assert booked.status_code == 201  # therapist overlaps are allowed when asked


def test_series_never_double_books_a_room(api, setup, organisation):
    monday = next_weekday(0)
    AppointmentFactory(
        organisation=organisation,
        calendar_column=setup["other"],
        room=setup["room"],
        start=at(monday + timedelta(days=14), 8),
        duration_minutes=60,
    )
    request = body(
        setup, at(monday, 8), duration_minutes=30, count=3, room_id=str(setup["room"].public_id)
    )
    problem = assert_problem(
        api.post(SERIES, {**request, "on_conflict": "book"}, format="json"), 409, "room_booked"
    )
    assert problem["conflicts"][0]["conflicts"][0]["kind"] == "room"
    assert Appointment.objects.count() == 1


def test_series_input_errors(api, setup):
    start = at(next_weekday(0), 8)
    for extra, field in (
        ({"duration_minutes": 30}, "count"),
        ({"duration_minutes": 30, "count": 3, "until": "2099-01-01"}, "count"),
        ({"duration_minutes": 30, "count": 101}, "count"),
        ({"duration_minutes": 30, "count": 3, "interval_days": 0}, "interval_days"),
        ({"count": 3}, "duration_minutes"),
    ):
        problem = assert_problem(
            api.post(SERIES, body(setup, start, **extra), format="json"), 422, "validation_error"
        )
        assert field in problem["errors"], (extra, problem)
    assert not Appointment.objects.exists()


def test_series_of_20_with_its_conflict_check_takes_a_bounded_number_of_queries(api, setup):
    request = body(setup, at(next_weekday(0), 8), duration_minutes=30, count=20, interval_days=1)
    with CaptureQueriesContext(connection) as queries:
        response = api.post(SERIES, request, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["appointment_ids"]) == 20
    assert len(queries) <= 25, [q["sql"][:120] for q in queries]


# This and all following


@pytest.fixture
def series(api, setup):
    response = api.post(
        SERIES, body(setup, at(next_weekday(0), 8), duration_minutes=30, count=5), format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["appointment_ids"]


def starts(ids) -> list[datetime]:
    by_id = {str(a.public_id): a for a in Appointment.objects.all()}
    return [by_id[i].start.astimezone(BERLIN) for i in ids if i in by_id]


def test_move_this_and_following(api, series, put_on_invoice):
    before = starts(series)
    put_on_invoice(Appointment.objects.get(public_id=series[4]), status="draft")
    response = api.patch(
        f"{APPOINTMENTS}{series[2]}/?scope=following",
        {"start": (before[2] + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 200, response.content
    after = starts(series)
    assert after[:2] == before[:2]
    assert after[2:4] == [s + timedelta(hours=1) for s in before[2:4]]
    assert after[4] == before[4]  # on a draft invoice: left as it was


def test_move_only_this(api, series):
    before = starts(series)
    api.patch(
        f"{APPOINTMENTS}{series[1]}/",
        {"start": (before[1] + timedelta(hours=2)).isoformat()},
        format="json",
    )
    after = starts(series)
    assert after[1] == before[1] + timedelta(hours=2)
    assert after[2:] == before[2:]


def test_delete_this_and_following(api, series):
    assert api.delete(f"{APPOINTMENTS}{series[3]}/?scope=following").status_code == 204
    assert [str(a.public_id) for a in Appointment.objects.order_by("start")] == series[:3]
    problem = assert_problem(
        api.delete(f"{APPOINTMENTS}{series[0]}/?scope=all"), 422, "validation_error"
    )
    assert "scope" in problem["errors"]


def test_other_organisations_cannot_use_our_columns_in_a_series(other_api, setup):
    response = other_api.post(
        SERIES,
        body(setup, at(next_weekday(0), 8), duration_minutes=30, count=2),
        format="json",
    )
    assert_problem(response, 404, "not_found")
