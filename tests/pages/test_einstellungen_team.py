"""Einstellungen → Mitarbeiter, Kalenderspalten, Öffnungszeiten: admins only, German
messages and a 422 on bad input with nothing saved, other organisations' users and
columns are 404, and what each page writes."""

import re
import uuid

import pytest
from django.core import mail

from appointments.models import CalendarColumn, ColumnKind
from audit.actions import Action
from audit.models import AuditEvent
from organisations.models import Organisation, Role, User
from tests.factories import AppointmentFactory, CalendarColumnFactory, UserFactory

pytestmark = pytest.mark.django_db

TEAM = "/einstellungen/mitarbeiter/"
INVITE = "/einstellungen/mitarbeiter/einladen/"
COLUMNS = "/einstellungen/kalenderspalten/"
HOURS = "/einstellungen/oeffnungszeiten/"

INVITATION = {
    "first_name": "Ben",
    "last_name": "Kraus",
    "email": "Ben@Praxis.test",
    "role": "staff",
    "can_appointments": "on",
}


def text(response) -> str:
    return response.content.decode()


def users(organisation):
    return list(User.objects.filter(organisation=organisation).order_by("pk").values())


def columns(organisation):
    return list(CalendarColumn.objects.filter(organisation=organisation).order_by("pk").values())


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def member(organisation):
    return UserFactory(
        organisation=organisation,
        role=Role.STAFF,
        email="ben@praxis.test",
        first_name="Ben",
        last_name="Kraus",
    )


@pytest.fixture
def column(organisation):
    return CalendarColumnFactory(organisation=organisation, name="Anna")


def admin_pages(member_id, column_id):
    return [
        ("get", TEAM),
        ("get", INVITE),
        ("post", INVITE),
        ("get", f"{TEAM}{member_id}/"),
        ("post", f"{TEAM}{member_id}/"),
        ("get", f"{TEAM}{member_id}/deaktivieren/"),
        ("post", f"{TEAM}{member_id}/deaktivieren/"),
        ("post", f"{TEAM}{member_id}/aktivieren/"),
        ("post", f"{TEAM}{member_id}/einladung/"),
        ("get", COLUMNS),
        ("post", COLUMNS),
        ("get", f"{COLUMNS}{column_id}/"),
        ("post", f"{COLUMNS}{column_id}/"),
        ("post", f"{COLUMNS}{column_id}/verschieben/"),
        ("get", f"{COLUMNS}{column_id}/loeschen/"),
        ("post", f"{COLUMNS}{column_id}/loeschen/"),
        ("get", HOURS),
        ("post", HOURS),
    ]


def test_only_organisation_admins(client, organisation, admin_user, member, column):
    """Every page and action: a staff member with every right is 403, nothing changes."""
    member.can_appointments = member.can_documentation = member.can_billing = True
    member.save()
    client.force_login(member)
    before = (users(organisation), columns(organisation), organisation.opening_hours)
    posted = {**INVITATION, "email": "neu@praxis.test", "name": "X", "kind": "room",
              "default_colour": "on", "richtung": "runter", "mon_1_von": "07:00",
              "mon_1_bis": "09:00", "role": "admin"}  # fmt: skip

    for method, url in admin_pages(admin_user.pk, column.public_id):
        response = getattr(client, method)(url, posted)
        assert response.status_code == 403, url

    organisation.refresh_from_db()
    assert (users(organisation), columns(organisation), organisation.opening_hours) == before
    assert mail.outbox == []


def test_other_organisations_users_and_columns_are_404(admin, other_organisation):
    stranger = UserFactory(organisation=other_organisation, role=Role.ADMIN)
    support = UserFactory(organisation=None, is_staff=True)
    theirs = CalendarColumnFactory(organisation=other_organisation)
    before = (users(other_organisation), columns(other_organisation))

    for user in (stranger, support):
        for method, url in admin_pages(user.pk, theirs.public_id)[3:9]:
            assert getattr(admin, method)(url, INVITATION).status_code == 404, url
    for method, url in admin_pages(stranger.pk, theirs.public_id)[11:16]:
        assert getattr(admin, method)(url, {"name": "X", "richtung": "hoch"}).status_code == 404
    assert admin.get(f"{COLUMNS}{uuid.uuid4()}/").status_code == 404

    assert (users(other_organisation), columns(other_organisation)) == before
    stranger.refresh_from_db()
    assert stranger.is_active


def test_the_settings_page_has_the_three_new_tiles(admin):
    page = text(admin.get("/einstellungen/"))

    for url, title in (
        (TEAM, "Mitarbeiter"),
        (COLUMNS, "Kalenderspalten"),
        (HOURS, "Öffnungszeiten"),
    ):
        assert f'href="{url}"' in page
        assert f'<span class="abr-tile-title">{title}</span>' in page


# Mitarbeiter


def test_the_list_shows_role_rights_and_state(admin, organisation, admin_user, member):
    invited = User(organisation=organisation, email="neu@praxis.test", role=Role.STAFF,
                   can_appointments=False, can_documentation=False)  # fmt: skip
    invited.set_unusable_password()
    invited.save()
    UserFactory(organisation=organisation, email="alt@praxis.test", is_active=False)
    UserFactory(email="fremd@tal.test")  # another organisation's

    page = text(admin.get(TEAM))

    rows = dict(re.findall(r"<td>([^<]+@[^<]+)</td>(.*?)</tr>", page, re.S))
    assert set(rows) == {
        "admin@praxis.test",
        "ben@praxis.test",
        "neu@praxis.test",
        "alt@praxis.test",
    }
    assert "Organisations-Admin" in rows["admin@praxis.test"]
    assert "alle (Admin)" in rows["admin@praxis.test"]
    assert ">aktiv<" in rows["admin@praxis.test"]
    assert "<td>Termine, Dokumentation</td>" in rows["ben@praxis.test"]
    assert ">eingeladen<" in rows["neu@praxis.test"]
    assert "<td>keine</td>" in rows["neu@praxis.test"]
    assert ">deaktiviert<" in rows["alt@praxis.test"]


def test_invite_creates_the_member_and_mails_the_link(
    admin, organisation, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(INVITE, INVITATION)

    assert response.status_code == 302 and response.url == TEAM
    user = User.objects.get(email="ben@praxis.test")
    assert (user.organisation, user.role, user.has_usable_password()) == (
        organisation,
        "staff",
        False,
    )
    assert (user.can_appointments, user.can_documentation, user.can_billing) == (True, False, False)
    [message] = mail.outbox
    assert message.to == ["ben@praxis.test"]
    assert "/passwort/festlegen/" in message.body
    assert "Ben Kraus ist eingeladen" in text(admin.get(TEAM))
    assert AuditEvent.objects.filter(action=Action.USER_INVITE, actor=admin_user).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "email",
            "admin@praxis.test",
            "Es gibt schon einen Benutzer mit der E-Mail admin@praxis.test.",
        ),
        ("email", "kein-at", "Bitte geben Sie eine gültige E-Mail-Adresse ein."),
        ("first_name", "  ", "Dieses Feld ist zwingend erforderlich."),
        ("role", "owner", "Bitte eine gültige Auswahl treffen."),
    ],
)
def test_bad_invitations_are_422_in_german_and_create_nobody(
    admin, organisation, field, value, message
):
    before = users(organisation)

    response = admin.post(INVITE, {**INVITATION, field: value})

    assert response.status_code == 422
    assert message in text(response)
    assert users(organisation) == before
    assert mail.outbox == []


def test_an_address_taken_in_another_organisation_is_a_form_error(admin, other_organisation):
    UserFactory(organisation=other_organisation, email="ben@praxis.test")

    response = admin.post(INVITE, INVITATION)

    assert response.status_code == 422
    assert "Es gibt schon einen Benutzer mit der E-Mail ben@praxis.test." in text(response)


def test_edit_changes_role_and_rights(admin, member, admin_user):
    url = f"{TEAM}{member.pk}/"
    page = text(admin.get(url))
    assert "ben@praxis.test" in page and 'name="email"' not in page

    response = admin.post(url, {"first_name": "Ben", "last_name": "Kraus", "role": "staff",
                                "can_billing": "on"})  # fmt: skip

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.can_appointments, member.can_documentation, member.can_billing) == (
        False,
        False,
        True,
    )
    entry = AuditEvent.objects.get(action=Action.USER_UPDATE)
    assert entry.detail == "Felder: can_appointments, can_documentation, can_billing"


def test_the_last_admin_cannot_demote_themselves(admin, organisation, admin_user):
    before = users(organisation)

    response = admin.post(f"{TEAM}{admin_user.pk}/", {"first_name": "Anna", "last_name": "B",
                                                      "role": "staff"})  # fmt: skip

    assert response.status_code == 422
    assert "Sie können sich nicht selbst die Admin-Rolle entziehen." in text(response)
    assert users(organisation) == before


def test_deactivate_asks_first_then_blocks_the_login(admin, client, member):
    url = f"{TEAM}{member.pk}/deaktivieren/"
    assert "Zugang deaktivieren?" in text(admin.get(url))
    member.refresh_from_db()
    assert member.is_active

    response = admin.post(url)

    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.is_active
    assert "Der Zugang von ben@praxis.test ist deaktiviert." in text(admin.get(TEAM))
    assert not client.login(email="ben@praxis.test", password="geheim-123")
    admin.post(f"{TEAM}{member.pk}/aktivieren/")
    member.refresh_from_db()
    assert member.is_active


def test_an_admin_cannot_deactivate_themselves(admin, organisation, admin_user):
    UserFactory(organisation=organisation, role=Role.ADMIN)
    page = text(admin.get(f"{TEAM}{admin_user.pk}/"))
    assert "Ihren eigenen Zugang können Sie nicht deaktivieren." in page

    response = admin.post(f"{TEAM}{admin_user.pk}/deaktivieren/")

    assert response.status_code == 422
    assert "Sie können Ihren eigenen Zugang nicht deaktivieren." in text(response)
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_resend_invitation_only_for_invited_members(
    admin, organisation, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"{TEAM}{member.pk}/einladung/")  # has a password already
    assert mail.outbox == []
    assert "hat ihr Passwort schon festgelegt" in text(admin.get(f"{TEAM}{member.pk}/"))

    member.set_unusable_password()
    member.save()
    page = text(admin.get(f"{TEAM}{member.pk}/"))
    assert "Einladung erneut senden" in page
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"{TEAM}{member.pk}/einladung/")
    assert len(mail.outbox) == 1


# Kalenderspalten


def test_columns_are_listed_in_calendar_order_with_their_agenda(admin, organisation):
    CalendarColumnFactory(
        organisation=organisation, name="Raum 1", kind=ColumnKind.ROOM, position=2
    )
    CalendarColumnFactory(organisation=organisation, name="Bea", position=1,
                          doctolib_agenda_id="agenda-77", colour="#aa3300")  # fmt: skip

    page = text(admin.get(COLUMNS))

    assert page.index(">Bea<") < page.index(">Raum 1<")
    assert "agenda-77" in page and "#aa3300" in page and ">Raum<" in page


def test_add_a_column_at_the_end(admin, organisation, column):
    response = admin.post(COLUMNS, {"name": " Raum 2 ", "kind": "room", "colour": "#00AA00"})

    assert response.status_code == 302
    added = CalendarColumn.objects.get(name="Raum 2")
    assert (added.organisation, added.kind, added.colour) == (organisation, "room", "#00aa00")
    assert added.position > column.position


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": " ", "kind": "therapist", "default_colour": "on"},
            "Dieses Feld ist zwingend erforderlich.",
        ),
        (
            {"name": "A", "kind": "kueche", "default_colour": "on"},
            "Bitte eine gültige Auswahl treffen.",
        ),
        ({"name": "A", "kind": "room", "colour": "rot"}, "Bitte eine Farbe wie #1f6f8b wählen."),
        ({"name": "A" * 101, "kind": "room", "default_colour": "on"}, "höchstens 100 Zeichen"),
    ],
)
def test_bad_columns_are_422_and_nothing_changes(admin, organisation, column, data, message):
    before = columns(organisation)

    created = admin.post(COLUMNS, data)
    edited = admin.post(f"{COLUMNS}{column.public_id}/", data)

    assert (created.status_code, edited.status_code) == (422, 422)
    assert message in text(created) and message in text(edited)
    assert columns(organisation) == before


def test_rename_change_kind_and_reset_the_colour(admin, organisation):
    column = CalendarColumnFactory(organisation=organisation, name="Anna", colour="#123456",
                                   doctolib_agenda_id="ag-1")  # fmt: skip
    page = text(admin.get(f"{COLUMNS}{column.public_id}/"))
    assert 'value="#123456"' in page and "ag-1" in page
    assert 'name="doctolib_agenda_id"' not in page

    response = admin.post(f"{COLUMNS}{column.public_id}/",
                          {"name": "Raum Anna", "kind": "room", "colour": "#123456",
                           "default_colour": "on", "doctolib_agenda_id": "anders"})  # fmt: skip

    assert response.status_code == 302
    column.refresh_from_db()
    assert (column.name, column.kind, column.colour, column.doctolib_agenda_id) == (
        "Raum Anna",
        "room",
        "",
        "ag-1",
    )


def test_move_up_and_down_renumbers_the_order(admin, organisation):
    a, _, c = (CalendarColumnFactory(organisation=organisation, name=n, position=0) for n in "ABC")

    admin.post(f"{COLUMNS}{c.public_id}/verschieben/", {"richtung": "hoch"})
    order = list(
        CalendarColumn.objects.filter(organisation=organisation).values_list("name", "position")
    )
    assert sorted(order, key=lambda row: row[1]) == [("A", 0), ("C", 1), ("B", 2)]

    admin.post(f"{COLUMNS}{a.public_id}/verschieben/", {"richtung": "hoch"})  # already first
    admin.post(f"{COLUMNS}{a.public_id}/verschieben/", {"richtung": "runter"})
    page = text(admin.get(COLUMNS))
    assert page.index(">C<") < page.index(">A<") < page.index(">B<")


def test_delete_only_an_unused_column(admin, organisation, column):
    used = CalendarColumnFactory(organisation=organisation, name="Belegt")
    AppointmentFactory(organisation=organisation, calendar_column=used)

    refused = admin.post(f"{COLUMNS}{used.public_id}/loeschen/")
    deleted = admin.post(f"{COLUMNS}{column.public_id}/loeschen/")

    assert (refused.status_code, deleted.status_code) == (302, 302)
    assert list(CalendarColumn.objects.filter(organisation=organisation)) == [used]
    page = text(admin.get(COLUMNS))
    assert "Die Kalenderspalte hat Termine und kann nicht gelöscht werden." in page
    assert f'href="{COLUMNS}{used.public_id}/loeschen/"' not in page


# Öffnungszeiten


def hours_form(**changes):
    data = {"closed_dates": ""}
    for day in ("mon", "tue", "wed", "thu", "fri"):
        data[f"{day}_1_von"], data[f"{day}_1_bis"] = "08:00", "12:00"
        data[f"{day}_2_von"], data[f"{day}_2_bis"] = "13:00", "18:00"
    return {**data, **changes}


def test_the_form_shows_the_stored_hours_and_dates(admin, organisation):
    organisation.opening_hours = {
        "mon": [["08:00", "12:00"], ["13:00", "18:00"]],
        "sat": [["09:00", "12:00"]],
    }
    organisation.closed_dates = ["2026-12-24", "2026-12-28", "2026-12-29", "2026-12-30"]
    organisation.save()

    page = text(admin.get(HOURS))

    assert 'name="mon_2_bis" value="18:00"' in page
    assert 'name="sat_1_von" value="09:00"' in page
    assert 'name="mon_3_von"' in page  # one empty pair after two filled ones
    assert 'name="tue_3_von"' not in page
    assert "24.12.2026\n28.12.2026 - 30.12.2026</textarea>" in page


def test_saving_hours_and_closed_dates(admin, organisation):
    response = admin.post(HOURS, hours_form(
        sat_1_von="09:00", sat_1_bis="12:00",
        closed_dates="24.12.2026\n\n2026-12-31\n27.12.2026 - 29.12.2026\n",
    ))  # fmt: skip

    assert response.status_code == 302 and response.url == HOURS
    organisation.refresh_from_db()
    assert organisation.opening_hours["mon"] == [["08:00", "12:00"], ["13:00", "18:00"]]
    assert organisation.opening_hours["sat"] == [["09:00", "12:00"]]
    assert organisation.opening_hours["sun"] == []
    assert organisation.closed_dates == [
        "2026-12-24", "2026-12-27", "2026-12-28", "2026-12-29", "2026-12-31",
    ]  # fmt: skip
    assert "Die Öffnungszeiten und Schließtage sind gespeichert." in text(admin.get(HOURS))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mon_1_bis": ""}, "Montag: bitte Beginn und Ende des Zeitraums angeben."),
        ({"tue_2_von": "11:00"}, "Dienstag: die Zeiträume überschneiden sich."),
        (
            {"wed_1_von": "12:00", "wed_1_bis": "08:00"},
            "Mittwoch: das Ende muss nach dem Beginn liegen.",
        ),
        ({"thu_1_von": "25:00"}, "Bitte eine Uhrzeit wie 08:00 angeben."),
        (
            {"closed_dates": "24.12.2026\nHeiligabend"},
            "Zeile 2: „Heiligabend“ ist kein Datum wie 24.12.2026.",
        ),
        ({"closed_dates": "31.02.2026"}, "ist kein Datum"),
        ({"closed_dates": "02.01.2027 - 23.12.2026"}, "Zeile 1: das Ende liegt vor dem Beginn."),
    ],
)
def test_bad_hours_are_422_in_german_and_nothing_is_saved(admin, organisation, changes, message):
    before = Organisation.objects.values("opening_hours", "closed_dates").get(pk=organisation.pk)

    response = admin.post(HOURS, hours_form(**changes))

    assert response.status_code == 422
    assert message in text(response)
    assert (
        Organisation.objects.values("opening_hours", "closed_dates").get(pk=organisation.pk)
        == before
    )


def test_a_member_without_names_keeps_them_empty_when_the_rights_change(admin, organisation):
    owner = UserFactory(organisation=organisation, role=Role.STAFF, email="owner@praxis.test")

    response = admin.post(f"{TEAM}{owner.pk}/", {"first_name": "", "last_name": "",
                                                 "role": "admin"})  # fmt: skip

    assert response.status_code == 302
    owner.refresh_from_db()
    assert (owner.first_name, owner.role) == ("", Role.ADMIN)
