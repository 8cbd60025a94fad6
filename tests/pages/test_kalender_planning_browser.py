"""Issue 13 in a real Chromium, as a receptionist works: book by clicking a free
slot, drag an appointment to move it and undo, create a series that collides,
cancel with a reason and undo, print the day list; and the layout at 1366×768
with a full week (no slivers, no wasted width)."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from appointments.models import Appointment, AppointmentSource, AppointmentStatus, ColumnKind
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 3, 2)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def column(organisation):
    return CalendarColumnFactory(organisation=organisation, name="Anna Schneider")


@pytest.fixture
def patient(organisation):
    return PatientFactory(organisation=organisation, last_name="Mustermann", first_name="Max")


def grid_y(page, lane, hour: int, minute: int = 0) -> float:
    """The page y of a wall-clock time in a lane (from the grid's own scale)."""
    scale = page.locator(".kal").evaluate(
        "g => [parseInt(getComputedStyle(g).getPropertyValue('--from')),"
        " parseFloat(getComputedStyle(g).getPropertyValue('--px-per-minute'))]"
    )
    box = lane.bounding_box()
    return box["y"] + ((hour - scale[0]) * 60 + minute) * scale[1]


def test_book_by_clicking_a_free_slot(page, logged_in, admin_user, organisation, column, patient):
    ServiceChainFactory(organisation=organisation, description="Manuelle Therapie")  # 30 min
    CalendarColumnFactory(organisation=organisation, name="Jonas Weber")
    logged_in(page, admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"/kalender/?datum={MONDAY}")
    lane = page.locator(f'.kal-lane[data-column="{column.public_id}"]')
    lane.scroll_into_view_if_needed()
    box = lane.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, grid_y(page, lane, 10, 20))

    expect(page.get_by_role("heading", level=1)).to_have_text("Neuer Termin")
    expect(page.get_by_label("Kalenderspalte")).to_have_value(str(column.public_id))
    expect(page.get_by_label("Beginn")).to_have_value("2026-03-02T10:15")
    page.get_by_label("Akte suchen").fill("muster")
    page.get_by_role("option", name=re.compile("^Mustermann, Max")).click()
    page.get_by_label("Leistungskette").select_option(label="Manuelle Therapie")
    expect(page.get_by_label("Dauer (Minuten)")).to_have_value("30")  # from the chain
    page.get_by_role("button", name="Termin anlegen").click()

    # Back to the view it came from: all columns of that day.
    expect(page).to_have_url(re.compile(r"/kalender/\?datum=2026-03-02$"))
    expect(page.get_by_label("Kalenderspalte")).to_have_value("")
    expect(page.locator(".kal-head")).to_have_count(2)
    expect(page.get_by_role("link", name=re.compile(r"^10:15 Mustermann, Max"))).to_be_visible()
    saved = Appointment.objects.get()
    assert saved.start == at(MONDAY, 10, 15) and saved.duration_minutes == 30


def test_drag_to_move_and_undo(page, logged_in, admin_user, organisation, column, patient):
    other = CalendarColumnFactory(organisation=organisation, name="Jonas Weber")
    booked = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        start=at(MONDAY, 9),
        duration_minutes=30,
    )
    logged_in(page, admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"/kalender/?datum={MONDAY}")
    block = page.locator(f'.kal-appt[data-id="{booked.public_id}"]')
    source = block.bounding_box()
    target_lane = page.locator(f'.kal-lane[data-column="{other.public_id}"]')
    target = target_lane.bounding_box()
    page.mouse.move(source["x"] + 20, source["y"] + 5)
    page.mouse.down()
    page.mouse.move(source["x"] + 60, source["y"] + 30, steps=5)
    # One hour later, into Jonas Weber's column (grab point 5 px below the top).
    page.mouse.move(target["x"] + 20, grid_y(page, target_lane, 10) + 5, steps=10)
    page.mouse.up()

    toast = page.locator(".toast").first
    expect(toast).to_contain_text("Verschoben: Mustermann, Max")
    expect(toast).to_contain_text("10:00–10:30, Jonas Weber")
    booked.refresh_from_db()
    assert booked.start == at(MONDAY, 10) and booked.calendar_column == other
    expect(page).to_have_url(re.compile(r"/kalender/\?datum=2026-03-02$"))  # no navigation
    expect(target_lane.get_by_role("link", name=re.compile("^10:00 Mustermann"))).to_be_visible()

    toast.get_by_role("button", name="Rückgängig").click()
    expect(page.locator(".toast").first).to_contain_text("Zurückgenommen")
    booked.refresh_from_db()
    assert booked.start == at(MONDAY, 9) and booked.calendar_column == column
    history = [(h.start, h.calendar_column_id) for h in booked.history.order_by("history_id")]
    assert len(history) == 3  # created, moved, moved back: all in the history


def test_resize_and_refused_moves_say_why(
    page, logged_in, admin_user, organisation, column, patient
):
    booked = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        start=at(MONDAY, 9),
        duration_minutes=30,
    )
    pushed = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        start=at(MONDAY, 12),
        source=AppointmentSource.DOCTOLIB,
        doctolib_appointment_id="dl-7",
    )
    logged_in(page, admin_user)
    page.goto(f"/kalender/?datum={MONDAY}")
    handle = page.locator(f'.kal-appt[data-id="{booked.public_id}"] .kal-resize')
    box = handle.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 10, box["y"] + 2 + 36, steps=6)  # 30 more minutes at 1.2 px
    page.mouse.up()
    expect(page.locator(".toast").first).to_contain_text("09:00–10:00")
    booked.refresh_from_db()
    assert booked.duration_minutes == 60

    fixed = page.locator(f'.kal-appt[data-id="{pushed.public_id}"]')
    box = fixed.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 10, box["y"] + 80, steps=6)
    page.mouse.up()
    expect(page.locator(".toast.error").first).to_contain_text("Termin aus Doctolib")
    pushed.refresh_from_db()
    assert pushed.start == at(MONDAY, 12)


def test_create_a_series_with_a_conflict(
    page, logged_in, admin_user, organisation, column, patient
):
    taken = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        start=at(MONDAY + timedelta(days=14), 8, 15),
        duration_minutes=30,
        status=AppointmentStatus.PLANNED,
    )
    logged_in(page, admin_user)
    page.goto(f"/kalender/neu/?datum={MONDAY}&zeit=08:00&spalte={column.public_id}")
    page.get_by_label("Akte suchen").fill("muster")
    page.get_by_role("option", name=re.compile("^Mustermann, Max")).click()
    page.get_by_label("Dauer (Minuten)").fill("30")
    expect(page.get_by_label("Anzahl Termine")).to_be_hidden()
    page.get_by_label("Als Serientermin wiederholen").check()
    page.get_by_label("Anzahl Termine").fill("6")
    page.get_by_role("button", name="Termin anlegen").click()

    conflicts = page.get_by_role("alert").filter(has_text="Überschneidungen")
    expect(conflicts).to_contain_text("1 von 6 Terminen")
    expect(conflicts).to_contain_text("Mo, 16.03.2026, 08:00")
    assert not Appointment.objects.filter(series__isnull=False).exists()  # nothing saved yet
    page.get_by_role("button", name="Ohne diese 1 Termine anlegen").click()

    expect(page.get_by_role("status").first).to_contain_text("Serie mit 5 Terminen")
    made = list(Appointment.objects.filter(series__isnull=False).order_by("start"))
    assert [a.start.astimezone(BERLIN).date() for a in made] == [
        MONDAY + timedelta(days=7 * n) for n in (0, 1, 3, 4, 5)
    ]
    assert taken.pk not in [a.pk for a in made]
    expect(page.locator(".kal-appt").first).to_contain_text("↻")


def test_cancel_with_a_reason_and_undo(page, logged_in, admin_user, organisation, column, patient):
    booked = AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        start=at(MONDAY, 11),
        status=AppointmentStatus.PLANNED,
    )
    logged_in(page, admin_user)
    page.goto(f"/kalender/?datum={MONDAY}")
    page.get_by_role("link", name=re.compile("^11:00 Mustermann")).click()
    page.get_by_role("link", name="Termin absagen …").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Termin absagen?")
    page.get_by_label("Grund (freiwillig)").fill("Patient hat Fieber")
    page.get_by_role("button", name="Ja, Termin absagen").click()

    expect(page.get_by_role("status").first).to_contain_text("ist abgesagt")
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.CANCELLED
    assert booked.cancellation_reason == "Patient hat Fieber"
    page.get_by_role("button", name="Rückgängig").click()
    expect(page.get_by_role("status").first).to_contain_text("Die Absage ist zurückgenommen")
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.PLANNED
    expect(page).to_have_url(re.compile(r"/kalender/\?datum=2026-03-02$"))  # where it began
    page.get_by_role("link", name=re.compile("^11:00 Mustermann")).click()
    expect(page.get_by_role("region", name="Verlauf")).to_contain_text("Patient hat Fieber")


def test_print_the_day_list(page, logged_in, admin_user, organisation, column, patient):
    chain = ServiceChainFactory(organisation=organisation, description="Krankengymnastik")
    room = CalendarColumnFactory(
        organisation=organisation, name="Bewegungsbad", kind=ColumnKind.ROOM
    )
    AppointmentFactory(
        organisation=organisation,
        calendar_column=column,
        patient=patient,
        service_chain=chain,
        room=room,
        start=at(MONDAY, 8, 30),
        note="Bitte Handtuch mitbringen",
    )
    logged_in(page, admin_user)
    page.goto(f"/kalender/?datum={MONDAY}&spalte={column.public_id}")
    page.get_by_role("link", name="Tagesliste").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tagesliste Montag, 2. März 2026")
    row = page.get_by_role("row").filter(has_text="Mustermann")
    for text in ("08:30–09:00", "Mustermann, Max", "Krankengymnastik", "Bewegungsbad",
                 "Bitte Handtuch mitbringen"):  # fmt: skip
        expect(row).to_contain_text(text)
    page.evaluate(
        "() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }"
    )
    page.get_by_role("button", name="Drucken").click()
    assert page.evaluate("window.__printed") == 1
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Hauptnavigation")).to_be_hidden()
    expect(page.get_by_role("button", name="Drucken")).to_be_hidden()
    expect(row).to_be_visible()
    pdf = page.pdf(format="A4", landscape=True)
    assert pdf.startswith(b"%PDF")


def test_a_full_week_stays_readable_at_1366(page, logged_in, admin_user, organisation, column):
    """Four appointments at once still show name and time, short ones on one line,
    nothing wider than the screen but the grid's own scroll, no empty weekend."""
    patients = [PatientFactory(organisation=organisation, last_name=f"Name{n}") for n in range(4)]
    for day in range(5):
        for n, person in enumerate(patients):
            AppointmentFactory(
                organisation=organisation,
                calendar_column=column,
                patient=person,
                start=at(MONDAY + timedelta(days=day), 9, 5 * n),
                duration_minutes=20 + 10 * n,
            )
    logged_in(page, admin_user)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"/kalender/?datum={MONDAY}&spalte={column.public_id}&ansicht=woche")
    expect(page.locator(".kal-head")).to_have_count(5)  # no Saturday, no Sunday
    widths = page.locator(".kal-appt").evaluate_all("els => els.map(e => e.offsetWidth)")
    assert len(widths) == 20 and min(widths) >= 100, widths  # no slivers
    names = page.locator(".kal-line").evaluate_all(
        "els => els.map(e => e.scrollWidth > 0 && e.textContent)"
    )
    assert all(re.match(r"^09:\d\d Name\d", n) for n in names), names
    compact = page.locator(".kal-compact")
    expect(compact).to_have_count(5)  # the 20-minute ones: one line
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    wrap = page.locator(".kal-wrap").bounding_box()
    assert wrap["width"] > 1366 - 80  # the full width, not a 1200 px column
