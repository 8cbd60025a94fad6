"""Kalender pages through the Django test client: what the calendar shows, creating,
editing and cancelling appointments, locks, rights, other organisations, bad input
and query counts. The browser flows are in test_kalender_browser.py."""

from datetime import UTC, datetime, timedelta

import pytest

from appointments.models import Appointment, AppointmentSource, AppointmentStatus
from appointments.series import series_create
from appointments.services import appointment_update
from billing.models import Invoice, InvoiceStatus
from organisations.models import Role
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

DAY = "2026-03-02"  # a Monday; Berlin is UTC+1 then


def utc(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def user(admin_user, client):
    client.force_login(admin_user)
    return admin_user


@pytest.fixture
def column(organisation):
    return CalendarColumnFactory(organisation=organisation, name="Anna Schneider")


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, last_name="Mustermann", first_name="Max")


@pytest.fixture
def chain(organisation):
    return ServiceChainFactory(organisation=organisation, description="Krankengymnastik")


def appointment(organisation, column, patient, chain=None, **fields):
    fields.setdefault("start", utc(8))
    fields.setdefault("status", AppointmentStatus.PLANNED)
    return AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        service_chain=chain,
        **fields,
    )


def snapshot(appointment_: Appointment) -> dict:
    appointment_.refresh_from_db()
    return {
        f: getattr(appointment_, f)
        for f in (
            "patient_id",
            "calendar_column_id",
            "service_chain_id",
            "start",
            "duration_minutes",
            "note",
            "status",
        )
    }


def invoiced(organisation, appointment_, number: str | None = "2026-0007") -> Invoice:
    invoice = Invoice.objects.create(
        organisation=organisation,
        patient=appointment_.patient,
        status=InvoiceStatus.ISSUED if number else InvoiceStatus.DRAFT,
        number=number,
    )
    Appointment.objects.filter(pk=appointment_.pk).update(invoice=invoice)
    return invoice


# -- the calendar --------------------------------------------------------------------


def test_day_view_shows_appointments_in_the_organisations_zone(
    client, user, organisation, column, patient, chain
):
    appointment(organisation, column, patient, chain, start=utc(8), duration_minutes=45)
    response = client.get(f"/kalender/?datum={DAY}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Montag, 2. März 2026" in text
    assert "Anna Schneider" in text
    assert "<b>09:00</b> Mustermann, Max" in text  # 08:00 UTC is 09:00 in Berlin
    assert "Krankengymnastik · 45 Min." in text
    assert "kal-doctolib" not in text and "kal-collision" not in text


def test_times_are_in_the_organisations_own_zone(client, user, organisation, column, patient):
    organisation.time_zone = "America/New_York"
    organisation.save()
    appointment(organisation, column, patient, start=utc(14))  # 09:00 in New York
    text = client.get(f"/kalender/?datum={DAY}").content.decode()
    assert "<b>09:00</b> Mustermann, Max" in text
    client.post("/kalender/neu/", create_body(patient, column, start="2026-03-02T11:00"))
    assert Appointment.objects.filter(start=utc(16)).exists()


def test_marks_doctolib_collisions_and_cancelled(client, user, organisation, column, patient):
    other_column = CalendarColumnFactory(organisation=organisation, name="Raum 2")
    from_doctolib = appointment(
        organisation,
        column,
        patient,
        start=utc(8),
        duration_minutes=60,
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="da-1",
    )
    overlapping = appointment(organisation, column, patient, start=utc(8, 30))
    adjacent = appointment(organisation, column, patient, start=utc(9))  # half-open: no overlap
    cancelled = appointment(
        organisation, column, patient, start=utc(8, 15), status=AppointmentStatus.CANCELLED
    )
    elsewhere = appointment(organisation, other_column, patient, start=utc(8))

    text = client.get(f"/kalender/?datum={DAY}").content.decode()

    def classes(a):
        marker = f'href="/termine/{a.public_id}/?zurueck='
        start = text.rindex('<li class="', 0, text.index(marker))
        return text[start : text.index('"', start + 11)]

    assert "kal-doctolib" in classes(from_doctolib) and "kal-collision" in classes(from_doctolib)
    assert "kal-collision" in classes(overlapping)
    assert "kal-collision" not in classes(adjacent)
    assert "kal-cancelled" in classes(cancelled) and "kal-collision" not in classes(cancelled)
    assert "kal-collision" not in classes(elsewhere)
    assert text.count("kal-appt kal-doctolib kal-collision") == 1
    assert text.count("kal-appt kal-collision") == 1
    assert text.count("kal-cancelled") == 1


def test_collision_with_an_appointment_of_the_day_before(
    client, user, organisation, column, patient
):
    late = appointment(
        organisation, column, patient, start=utc(22, 30, day=1), duration_minutes=120
    )
    early = appointment(organisation, column, patient, start=utc(23, 15, day=1))  # 00:15 local
    text = client.get(f"/kalender/?datum={DAY}").content.decode()
    assert f"/termine/{late.public_id}/" in text  # reaches into the day: shown, clipped
    assert text.count("kal-appt kal-collision") == 2
    assert f"/termine/{early.public_id}/" in text


def test_week_view_shows_one_column_and_the_weekend_only_when_used(
    client, user, organisation, column, patient
):
    other = CalendarColumnFactory(organisation=organisation, name="Raum 2")
    wednesday = appointment(organisation, column, patient, start=utc(8, day=4))
    sunday = appointment(organisation, column, patient, start=utc(8, day=8))
    next_monday = appointment(organisation, column, patient, start=utc(8, day=9))
    other_column = appointment(organisation, other, patient, start=utc(8, day=4))
    response = client.get(f"/kalender/?datum=2026-03-05&spalte={column.public_id}&ansicht=woche")
    text = response.content.decode()
    assert "Woche 10: 2. März – 8. März 2026" in text
    # Saturday: closed (the default hours) and empty, so not shown; Sunday has one.
    assert text.count('class="kal-head') == 6
    assert "Mi, 04.03." in text and "So, 08.03." in text and "Sa, 07.03." not in text
    for shown in (wednesday, sunday):
        assert f"/termine/{shown.public_id}/" in text
    for hidden in (next_monday, other_column):
        assert f"/termine/{hidden.public_id}/" not in text
    assert "ansicht=woche" in response.context["next_url"]
    assert "datum=2026-03-12" in response.context["next_url"]


def test_week_view_shows_saturday_when_the_practice_opens_then(client, user, organisation, column):
    organisation.opening_hours = {**organisation.opening_hours, "sat": [["09:00", "13:00"]]}
    organisation.save()
    text = client.get(
        f"/kalender/?datum=2026-03-05&spalte={column.public_id}&ansicht=woche"
    ).content.decode()
    assert text.count('class="kal-head') == 6
    assert "Sa, 07.03." in text and "So, 08.03." not in text
    # Saturday afternoon is outside the hours: shaded from 13:00 (grid from 08:00).
    assert 'class="kal-closed" style="top: 360.0px' in text


def test_week_view_without_column_takes_the_first(client, user, organisation, column):
    CalendarColumnFactory(organisation=organisation, name="Zimmer")
    response = client.get(f"/kalender/?datum={DAY}&ansicht=woche")
    assert response.context["column"] == column
    assert response.context["view"] == "woche"


def test_navigation_links(client, user, organisation, column):
    response = client.get(f"/kalender/?datum={DAY}&spalte={column.public_id}")
    assert (
        response.context["previous_url"] == f"/kalender/?datum=2026-03-01&spalte={column.public_id}"
    )
    assert response.context["next_url"] == f"/kalender/?datum=2026-03-03&spalte={column.public_id}"
    assert response.context["today_url"].startswith(
        f"/kalender/?datum={organisation.today().isoformat()}"
    )


def test_bad_date_and_view_fall_back_with_a_german_notice(client, user, organisation, column):
    response = client.get("/kalender/?datum=2026-02-30&ansicht=monat")
    assert response.status_code == 200
    assert response.context["day"] == organisation.today()
    text = response.content.decode()
    assert "Kein gültiges Datum; gezeigt wird heute." in text
    assert "Unbekannte Ansicht; gezeigt wird der Tag." in text


@pytest.mark.parametrize("datum", ["0001-01-01", "9999-12-31"])
def test_dates_out_of_range_fall_back_to_today(client, user, organisation, column, datum):
    response = client.get(f"/kalender/?datum={datum}&ansicht=woche")
    assert response.status_code == 200
    assert response.context["day"] == organisation.today()
    assert "Kein gültiges Datum; gezeigt wird heute." in response.content.decode()
    assert client.get(f"/kalender/neu/?datum={datum}").status_code == 200


@pytest.mark.parametrize("spalte", ["other", "kaputt"])
def test_column_of_another_organisation_or_malformed_is_404(
    client, user, other_organisation, spalte
):
    if spalte == "other":
        spalte = CalendarColumnFactory(organisation=other_organisation).public_id
    assert client.get(f"/kalender/?datum={DAY}&spalte={spalte}").status_code == 404


def test_other_organisations_appointments_are_not_shown(
    client, user, organisation, column, other_organisation
):
    foreign = AppointmentFactory(organisation=other_organisation, start=utc(8))
    text = client.get(f"/kalender/?datum={DAY}").content.decode()
    assert str(foreign.public_id) not in text
    assert foreign.patient.last_name not in text


def test_login_required(client):
    response = client.get("/kalender/")
    assert response.status_code == 302 and response["Location"].startswith("/anmelden/")


def test_every_member_may_look_but_only_with_the_right_create(client, organisation, column):
    reader = UserFactory(organisation=organisation, role=Role.STAFF, can_appointments=False)
    client.force_login(reader)
    response = client.get(f"/kalender/?datum={DAY}")
    assert response.status_code == 200
    assert "Neuer Termin" not in response.content.decode()
    assert client.get("/kalender/neu/").status_code == 403


def calendar_rows(organisation, columns, count: int, days: int = 1) -> None:
    """`count` appointments over the columns and the first `days` days of the week,
    every 20 minutes from 07:00, some without chain, on a draft invoice or cancelled."""
    patients = [PatientFactory(organisation=organisation) for _ in range(3)]
    chains = [ServiceChainFactory(organisation=organisation) for _ in range(2)]
    for n in range(count):
        invoice = None
        if n % 7 == 0:
            invoice = Invoice.objects.create(
                organisation=organisation, patient=patients[n % 3], status="draft"
            )
        AppointmentFactory(
            organisation=organisation,
            calendar_column=columns[n % len(columns)],
            patient=patients[n % 3],
            service_chain=chains[n % 2] if n % 5 else None,
            start=utc(6, day=2 + n % days) + timedelta(minutes=20 * (n // (len(columns) * days))),
            duration_minutes=30,
            invoice=invoice,
            status=AppointmentStatus.CANCELLED if n % 9 == 0 else AppointmentStatus.PLANNED,
        )


@pytest.mark.parametrize("rows", [2, 60])
def test_day_view_queries_do_not_grow_with_appointments(
    client, user, organisation, django_assert_max_num_queries, rows
):
    columns = [CalendarColumnFactory(organisation=organisation) for _ in range(3)]
    calendar_rows(organisation, columns, rows)
    with django_assert_max_num_queries(6):
        response = client.get(f"/kalender/?datum={DAY}")
    assert response.content.decode().count('class="kal-appt') == rows


@pytest.mark.parametrize("rows", [2, 200])
def test_week_view_queries_do_not_grow_with_appointments(
    client, user, organisation, column, django_assert_max_num_queries, rows
):
    calendar_rows(organisation, [column], rows, days=7)
    with django_assert_max_num_queries(7):
        response = client.get(f"/kalender/?datum={DAY}&spalte={column.public_id}&ansicht=woche")
    assert response.content.decode().count('class="kal-appt') == rows


@pytest.mark.parametrize("series", [1, 20])
def test_week_view_with_200_appointments_and_series_in_constant_queries(
    client, user, organisation, column, patient, django_assert_max_num_queries, series
):
    """Issue 13: 200 appointments in the week, `series` of them from series (each
    series also has appointments in other weeks) and some holding a room."""
    room = CalendarColumnFactory(organisation=organisation, name="Bad", kind="room")
    calendar_rows(organisation, [column], 200 - series, days=7)
    monday = datetime(2026, 3, 2, 7, tzinfo=UTC)
    for n in range(series):
        series_create(
            organisation=organisation,
            actor=user,
            patient_id=patient.public_id,
            calendar_column_id=column.public_id,
            room_id=room.public_id if n % 2 else None,
            start=monday - timedelta(days=7) + timedelta(days=n % 5, minutes=25 * n),
            duration_minutes=20,
            count=3,
            on_conflict="book",
        )
    with django_assert_max_num_queries(7):
        response = client.get(f"/kalender/?datum={DAY}&spalte={column.public_id}&ansicht=woche")
    text = response.content.decode()
    assert text.count('class="kal-appt') == 200
    assert text.count("· Serientermin</span>") == series


# -- creating -------------------------------------------------------------------------


def create_body(who, where, chain=None, **overrides):
    body = {
        "q": "",
        "patient": str(who.public_id),
        "calendar_column": str(where.public_id),
        "start": "2026-03-02T09:30",
        "duration_minutes": "45",
        "service_chain": str(chain.public_id) if chain else "",
        "note": "  Erstbefund  ",
    }
    body.update(overrides)
    return body


def test_create_form_prefills_day_column_and_time(client, user, column):
    response = client.get(f"/kalender/neu/?datum={DAY}&spalte={column.public_id}&zeit=14:30")
    text = response.content.decode()
    assert 'value="2026-03-02T14:30"' in text
    assert f'<option value="{column.public_id}" selected>' in text


def test_create_saves_a_lemniscus_appointment_in_the_zone(
    client, user, organisation, column, patient, chain
):
    response = client.post("/kalender/neu/", create_body(patient, column, chain))
    assert response.status_code == 302
    assert response["Location"] == f"/kalender/?datum={DAY}&spalte={column.public_id}"
    created = Appointment.objects.get()
    assert created.start == utc(8, 30)
    assert (created.patient, created.calendar_column, created.service_chain) == (
        patient,
        column,
        chain,
    )
    assert created.duration_minutes == 45 and created.note == "Erstbefund"
    assert created.source == AppointmentSource.LEMNISCUS
    assert created.status == AppointmentStatus.PLANNED
    assert created.history.get().history_user == user


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"patient": ""}, "patient", "Bitte eine Akte auswählen."),
        ({"patient": "kein-uuid"}, "patient", "Diese Akte gibt es nicht; bitte neu suchen."),
        ({"start": "gestern"}, "start", "Bitte Datum und Uhrzeit angeben"),
        ({"start": "1850-01-01T10:00"}, "start", "zwischen 1900 und 2200"),
        ({"duration_minutes": "0"}, "duration_minutes", "größer oder gleich 1"),
        ({"duration_minutes": "1441"}, "duration_minutes", "kleiner oder gleich 1440"),
        ({"duration_minutes": "zehn"}, "duration_minutes", "ganze Zahl"),
        ({"note": "x" * 5001}, "note", "höchstens 5000 Zeichen"),
        ({"calendar_column": "kaputt"}, "calendar_column", "Diese Kalenderspalte gibt es nicht."),
        ({"service_chain": "kaputt"}, "service_chain", "Diese Leistungskette gibt es nicht."),
    ],
)
def test_create_bad_input_says_why_in_german_and_saves_nothing(
    client, user, column, patient, overrides, field, message
):
    response = client.post("/kalender/neu/", create_body(patient, column, **overrides))
    assert response.status_code == 422
    assert any(message in error for error in response.context["form"].errors[field])
    assert message in response.content.decode()
    assert not Appointment.objects.exists()


def test_create_during_the_dst_gap_is_refused(client, user, column, patient):
    response = client.post("/kalender/neu/", create_body(patient, column, start="2026-03-29T02:30"))
    assert response.status_code == 422
    assert "start" in response.context["form"].errors
    assert not Appointment.objects.exists()


def test_create_with_records_of_another_organisation_saves_nothing(
    client, user, column, patient, other_organisation
):
    foreign_patient = PatientFactory(organisation=other_organisation)
    foreign_column = CalendarColumnFactory(organisation=other_organisation)
    foreign_chain = ServiceChainFactory(organisation=other_organisation)
    for overrides in (
        {"patient": str(foreign_patient.public_id)},
        {"calendar_column": str(foreign_column.public_id)},
        {"service_chain": str(foreign_chain.public_id)},
    ):
        response = client.post("/kalender/neu/", create_body(patient, column, **overrides))
        assert response.status_code == 422
    assert not Appointment.objects.exists()
    assert foreign_patient.display_name not in response.content.decode()


def test_search_without_javascript_shows_results_and_saves_nothing(
    client, user, organisation, column, patient, other_organisation
):
    PatientFactory(organisation=organisation, last_name="Musterfrau", first_name="Erika")
    PatientFactory(organisation=other_organisation, last_name="Mustermann", first_name="Fremd")
    body = create_body(patient, column, q="muster", suchen="1", patient="")
    response = client.post("/kalender/neu/", body)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Mustermann, Max" in text and "Musterfrau, Erika" in text
    assert "Fremd" not in text
    assert 'value="muster"' in text and 'value="2026-03-02T09:30"' in text
    assert "error" not in response.context["form"].errors
    assert not Appointment.objects.exists()


def test_search_as_you_type_lists_own_records_only(
    client, user, organisation, patient, other_organisation, django_assert_max_num_queries
):
    for n in range(25):
        PatientFactory(organisation=organisation, last_name=f"Muster{n:02d}")
    PatientFactory(organisation=other_organisation, last_name="Mustermann", first_name="Fremd")
    with django_assert_max_num_queries(4):
        response = client.get("/kalender/akten-suche/?q=Muster")
    text = response.content.decode()
    assert text.count("<option") == 20
    assert "Fremd" not in text
    one = client.get("/kalender/akten-suche/?q=Mustermann").content.decode()
    assert one == f'<option value="{patient.public_id}" selected>Mustermann, Max (geb. ' + (
        f"{patient.birth_date:%d.%m.%Y})</option>\n"
    )
    assert "Keine Akte gefunden" in client.get("/kalender/akten-suche/?q=zzz").content.decode()
    nul = client.get("/kalender/akten-suche/?q=Muster%00")  # no record holds a NUL byte
    assert nul.status_code == 200 and "Keine Akte gefunden" in nul.content.decode()


@pytest.mark.parametrize("rows", [1, 20])
def test_create_form_queries_do_not_grow_with_records_columns_or_chains(
    client, user, organisation, django_assert_max_num_queries, rows
):
    for n in range(rows):
        PatientFactory(organisation=organisation, last_name=f"Muster{n:02d}")
        CalendarColumnFactory(organisation=organisation)
        ServiceChainFactory(organisation=organisation)
    with django_assert_max_num_queries(6):
        response = client.get("/kalender/neu/?q=muster")
    assert response.content.decode().count("(geb. ") == rows


def test_search_needs_the_appointments_right(client, organisation):
    client.force_login(
        UserFactory(organisation=organisation, role=Role.STAFF, can_appointments=False)
    )
    assert client.get("/kalender/akten-suche/?q=a").status_code == 403


# -- the appointment page -------------------------------------------------------------


def test_page_shows_details_history_and_link_to_the_day(
    client, user, organisation, column, patient, chain
):
    booked = appointment(organisation, column, patient, chain, start=utc(8), note="Knie")
    appointment_update(appointment=booked, actor=user, duration_minutes=50)
    response = client.get(f"/termine/{booked.public_id}/")
    text = response.content.decode()
    assert "Termin am 02.03.2026, 09:00–09:50 Uhr" in text
    assert f'href="/akten/{patient.public_id}/"' in text
    assert f'href="/kalender/?datum={DAY}&amp;spalte={column.public_id}"' in text
    assert 'Dauer (Minuten): <span class="old">30</span> → 50' in text
    assert user.display_name in text


def test_edit_changes_the_appointment_with_history(
    client, user, organisation, column, patient, chain
):
    booked = appointment(organisation, column, patient, start=utc(8))
    other_column = CalendarColumnFactory(organisation=organisation, name="Raum 2")
    body = create_body(
        patient, other_column, chain, start="2026-03-02T11:00", status="done", note="ok"
    )
    response = client.post(f"/termine/{booked.public_id}/", body)
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.start == utc(10) and booked.calendar_column == other_column
    assert booked.service_chain == chain and booked.status == AppointmentStatus.DONE
    assert booked.service_chain_match == "manual"
    page = client.get(f"/termine/{booked.public_id}/").content.decode()
    assert "Termin gespeichert." in page
    assert 'Kalenderspalte: <span class="old">Anna Schneider</span> → Raum 2' in page


def test_edit_offers_only_allowed_status_changes(client, user, organisation, column, patient):
    done = appointment(organisation, column, patient, status=AppointmentStatus.DONE)
    form = client.get(f"/termine/{done.public_id}/").context["form"]
    assert [value for value, _ in form.fields["status"].choices] == ["planned", "done"]
    before = snapshot(done)
    response = client.post(
        f"/termine/{done.public_id}/", create_body(patient, column, status="cancelled")
    )
    assert response.status_code == 422
    assert "status" in response.context["form"].errors
    assert snapshot(done) == before


def test_doctolib_appointment_keeps_what_doctolib_owns(
    client, user, organisation, column, patient, chain
):
    pushed = appointment(
        organisation,
        column,
        patient,
        start=utc(8),
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="da-7",
        status=AppointmentStatus.DONE,
        note="aus Doctolib",
    )
    page = client.get(f"/termine/{pushed.public_id}/").content.decode()
    assert "Verschiebungen und Änderungen der Dauer bitte in Doctolib vornehmen" in page
    assert 'id="ro-start" readonly value="02.03.2026 09:00"' in page
    other_column = CalendarColumnFactory(organisation=organisation)
    body = create_body(
        PatientFactory(organisation=organisation),
        other_column,
        chain,
        start="2026-03-02T15:00",
        duration_minutes="90",
        note="anders",
        status="planned",
    )
    response = client.post(f"/termine/{pushed.public_id}/", body)
    assert response.status_code == 302
    pushed.refresh_from_db()
    assert (pushed.patient, pushed.calendar_column, pushed.start) == (patient, column, utc(8))
    assert (pushed.duration_minutes, pushed.note) == (30, "aus Doctolib")
    assert pushed.service_chain == chain and pushed.status == AppointmentStatus.PLANNED


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("2026-0007", "Steht auf Rechnung 2026-0007; Änderungen sind nicht möglich."),
        (None, "Steht auf einem Rechnungsentwurf; Änderungen sind nicht möglich."),
    ],
)
def test_invoiced_appointment_is_locked_and_says_why(
    client, user, organisation, column, patient, number, reason
):
    booked = appointment(organisation, column, patient)
    invoiced(organisation, booked, number)
    calendar = client.get(f"/kalender/?datum={DAY}").content.decode()
    assert reason in calendar  # in the block's title
    response = client.get(f"/termine/{booked.public_id}/")
    page = response.content.decode()
    assert reason in page
    assert response.context["form"] is None and "Termin absagen" not in page
    before = snapshot(booked)
    edit = client.post(f"/termine/{booked.public_id}/", create_body(patient, column, status="done"))
    cancel = client.post(f"/termine/{booked.public_id}/absagen/")
    assert edit.status_code == cancel.status_code == 302
    assert snapshot(booked) == before
    assert reason in client.get(edit["Location"]).content.decode()


def test_cancel_sets_status_cancelled_with_a_reason_and_offers_undo(
    client, user, organisation, column, patient
):
    booked = appointment(organisation, column, patient)
    response = client.post(f"/termine/{booked.public_id}/absagen/", {"reason": "krank"})
    assert response.status_code == 302
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELLED
    assert booked.cancellation_reason == "krank"
    page = client.get(response["Location"]).content.decode()
    assert "ist abgesagt." in page and "Rückgängig" in page
    assert f"/termine/{booked.public_id}/absage-zuruecknehmen/" in page
    assert "Grund: krank" in page
    assert booked.history.first().history_user == user
    # The toast is shown once.
    assert "Rückgängig" not in client.get(response["Location"]).content.decode()
    undone = client.post(
        f"/termine/{booked.public_id}/absage-zuruecknehmen/", {"termine": str(booked.public_id)}
    )
    assert undone.status_code == 302
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.PLANNED and booked.cancellation_reason == ""
    history = client.get(f"/termine/{booked.public_id}/").content.decode()
    assert "krank" in history  # the reason stays in the history


def test_cancel_refused_for_a_done_appointment(client, user, organisation, column, patient):
    done = appointment(organisation, column, patient, status=AppointmentStatus.DONE)
    assert "Termin absagen" not in client.get(f"/termine/{done.public_id}/").content.decode()
    response = client.post(f"/termine/{done.public_id}/absagen/", follow=True)
    assert "kann nicht auf „abgesagt“ gesetzt werden" in response.content.decode()
    done.refresh_from_db()
    assert done.status == AppointmentStatus.DONE


def test_cancel_asks_first_and_a_get_changes_nothing(client, user, organisation, column, patient):
    booked = appointment(organisation, column, patient)
    page = client.get(f"/termine/{booked.public_id}/absagen/")
    assert page.status_code == 200
    assert "Termin absagen?" in page.content.decode()
    assert "Grund (freiwillig)" in page.content.decode()
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.PLANNED


def test_appointment_of_another_organisation_is_404_and_unchanged(client, user, other_organisation):
    foreign = AppointmentFactory(organisation=other_organisation, start=utc(8))
    before = snapshot(foreign)
    body = create_body(foreign.patient, foreign.calendar_column, duration_minutes="90")
    assert client.get(f"/termine/{foreign.public_id}/").status_code == 404
    assert client.post(f"/termine/{foreign.public_id}/", body).status_code == 404
    assert client.post(f"/termine/{foreign.public_id}/absagen/").status_code == 404
    assert client.get("/termine/kaputt/").status_code == 404
    assert snapshot(foreign) == before


def test_without_the_right_the_page_is_read_only(client, organisation, column, patient):
    booked = appointment(organisation, column, patient)
    client.force_login(
        UserFactory(organisation=organisation, role=Role.STAFF, can_appointments=False)
    )
    response = client.get(f"/termine/{booked.public_id}/")
    assert response.status_code == 200 and response.context["form"] is None
    assert "Zum Bearbeiten fehlt Ihnen das Recht „Termine“." in response.content.decode()
    before = snapshot(booked)
    assert (
        client.post(f"/termine/{booked.public_id}/", create_body(patient, column)).status_code
        == 403
    )
    assert client.post(f"/termine/{booked.public_id}/absagen/").status_code == 403
    assert snapshot(booked) == before


@pytest.mark.parametrize("changes", [1, 30])
def test_appointment_page_queries_do_not_grow_with_history(
    client, user, organisation, column, patient, chain, django_assert_max_num_queries, changes
):
    booked = appointment(organisation, column, patient, chain)
    columns = [column, CalendarColumnFactory(organisation=organisation)]
    for n in range(changes):
        appointment_update(
            appointment=booked,
            actor=user,
            duration_minutes=31 + n,
            calendar_column_id=columns[n % 2].public_id,
        )
    with django_assert_max_num_queries(9):
        response = client.get(f"/termine/{booked.public_id}/")
    assert len(response.context["history"]) == changes + 1


# -- moving by drag and drop, series, the day list -------------------------------------


def move(client, appointment_, **values):
    body = {
        "start": "2026-03-02T11:00",
        "duration_minutes": "30",
        "calendar_column": str(appointment_.calendar_column.public_id),
        **values,
    }
    return client.post(f"/termine/{appointment_.public_id}/verschieben/", body)


def test_move_answers_with_the_previous_values_for_undo(
    client, user, organisation, column, patient
):
    booked = appointment(organisation, column, patient, start=utc(8), duration_minutes=45)
    other = CalendarColumnFactory(organisation=organisation, name="Jonas Weber")
    response = move(client, booked, calendar_column=str(other.public_id))
    assert response.status_code == 200
    data = response.json()
    assert data["undo"] == {
        "start": "2026-03-02T09:00",
        "duration_minutes": 45,
        "calendar_column": str(column.public_id),
    }
    assert "11:00–11:30, Jonas Weber" in data["detail"]
    booked.refresh_from_db()
    assert booked.calendar_column == other and booked.duration_minutes == 30
    assert booked.history.first().history_user == user
    back = client.post(f"/termine/{booked.public_id}/verschieben/", data["undo"])
    assert back.status_code == 200
    booked.refresh_from_db()
    assert booked.start == utc(8) and booked.calendar_column == column


def test_move_warns_of_a_double_booked_therapist(client, user, organisation, column, patient):
    appointment(organisation, column, patient, start=utc(10), duration_minutes=60)
    booked = appointment(organisation, column, patient, start=utc(7))
    data = move(client, booked).json()
    assert data["warnings"] == [
        "Überschneidung mit einem Termin am 02.03.2026 11:00–12:00 in „Anna Schneider“."
    ]


def test_move_refusals_say_why_and_change_nothing(
    client, user, organisation, other_organisation, column, patient
):
    room = CalendarColumnFactory(organisation=organisation, name="Bad", kind="room")
    locked = appointment(organisation, column, patient, start=utc(8))
    invoiced(organisation, locked)
    pushed = appointment(
        organisation,
        column,
        patient,
        start=utc(9),
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="dl-9",
    )
    holder = appointment(organisation, column, patient, start=utc(10), room=room)
    mover = appointment(organisation, column, patient, start=utc(12), room=room)
    foreign = AppointmentFactory(organisation=other_organisation, start=utc(8))
    before = {a.pk: snapshot(a) for a in (locked, pushed, holder, mover, foreign)}
    cases = [
        (move(client, locked), 409, "Steht auf Rechnung 2026-0007"),
        (move(client, pushed), 409, "Termin aus Doctolib"),
        (move(client, mover, start="2026-03-02T11:15"), 409, "Der Raum „Bad“ ist am"),
        (move(client, mover, start="kaputt"), 422, "Ungültige Angaben"),
        (move(client, mover, duration_minutes="0"), 422, "Ungültige Angaben"),
        (move(client, foreign), 404, "gibt es nicht"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, response.content
        assert text in response.json()["detail"]
    assert {a.pk: snapshot(a) for a in (locked, pushed, holder, mover, foreign)} == before


def test_move_needs_the_appointments_right(client, organisation, column, patient):
    client.force_login(
        UserFactory(organisation=organisation, role=Role.STAFF, can_appointments=False)
    )
    booked = appointment(organisation, column, patient, start=utc(8))
    assert move(client, booked).status_code == 403


def test_series_on_the_page_lists_conflicts_before_saving(
    client, user, organisation, column, patient
):
    taken = appointment(organisation, column, patient, start=utc(8, day=9), duration_minutes=30)
    body = create_body(patient, column, start="2026-03-02T09:00", duration_minutes="30")
    body.update({"repeat": "on", "interval_days": "7", "count": "4"})
    response = client.post("/kalender/neu/", body)
    assert response.status_code == 409
    text = response.content.decode()
    assert "1 von 4 Terminen" in text and f"/termine/{taken.public_id}/" in text
    assert Appointment.objects.count() == 1
    done = client.post(
        "/kalender/neu/", {**body, "on_conflict": "skip", "zurueck": "/kalender/?datum=2026-03-02"}
    )
    assert done.status_code == 302 and done["Location"] == "/kalender/?datum=2026-03-02"
    assert Appointment.objects.filter(series__isnull=False).count() == 3


def test_series_form_errors_are_german_and_save_nothing(
    client, user, organisation, column, patient
):
    body = create_body(patient, column)
    body.update({"repeat": "on", "interval_days": "7", "count": ""})
    response = client.post("/kalender/neu/", body)
    assert response.status_code == 422
    assert "Bitte eine Anzahl oder ein Enddatum angeben." in response.content.decode()
    assert not Appointment.objects.exists()


def test_editing_from_the_calendar_returns_to_that_view(
    client, user, organisation, column, patient
):
    booked = appointment(organisation, column, patient, start=utc(8))
    view = f"/kalender/?datum={DAY}"
    page = client.get(view).content.decode()
    assert f'href="/termine/{booked.public_id}/?zurueck=%2Fkalender%2F%3Fdatum%3D{DAY}"' in page
    edit = client.post(
        f"/termine/{booked.public_id}/",
        {
            **create_body(patient, column, start="2026-03-02T10:00", status=booked.status),
            "zurueck": view,
        },
    )
    assert edit.status_code == 302 and edit["Location"] == view


def test_return_only_to_our_own_pages(client, user, organisation, column, patient):
    body = create_body(patient, column)
    response = client.post("/kalender/neu/", {**body, "zurueck": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"].startswith("/kalender/?")
    response = client.post("/kalender/neu/", {**body, "zurueck": "//evil.example/x"})
    assert response["Location"].startswith("/kalender/?")


def test_day_list_per_column(client, user, organisation, column, patient, chain):
    other = CalendarColumnFactory(organisation=organisation, name="Jonas Weber")
    appointment(organisation, column, patient, chain, start=utc(8), note="Knie links")
    appointment(organisation, other, patient, start=utc(9))
    appointment(organisation, column, patient, start=utc(8, day=3))  # another day
    response = client.get(f"/kalender/tagesliste/?datum={DAY}&spalte={column.public_id}")
    text = response.content.decode()
    assert response.status_code == 200
    assert "09:00–09:30" in text and "Knie links" in text
    assert text.count('<section aria-labelledby="liste-') == 1  # only Anna Schneider's
    assert text.count("<tbody>") == 1 and text.count("<tr>") == 2  # head + one row
    everyone = client.get(f"/kalender/tagesliste/?datum={DAY}").content.decode()
    assert everyone.count('<section aria-labelledby="liste-') == 2
    assert "Jonas Weber <span" in everyone and everyone.count("<tbody>") == 2
