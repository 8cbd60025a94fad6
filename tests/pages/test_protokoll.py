"""Einstellungen → Protokoll through the Django test client: the table, each filter,
German messages for bad input, the CSV download, who may see it, query counts."""

import csv
import io
import uuid
from datetime import datetime

import pytest

from audit.actions import Action
from audit.models import AuditEvent
from organisations.models import Role
from patients.services import patient_update
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/einstellungen/protokoll/"


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)  # itself an entry: "Anmeldung"
    return client


@pytest.fixture
def anna(organisation):
    return UserFactory(
        organisation=organisation,
        role=Role.STAFF,
        email="anna@praxis.test",
        first_name="Anna",
        last_name="Muster",
    )


def event(organisation, when: str, *, action=Action.PATIENT_UPDATE, actor=None, **fields):
    return AuditEvent.objects.create(
        organisation=organisation,
        time=datetime.fromisoformat(when),
        actor=actor,
        actor_label=actor.email if actor else "System",
        action=action,
        object_type=action.split(".")[0],
        **fields,
    )


def text(response) -> str:
    return response.content.decode()


def test_the_settings_page_has_a_tile_for_it(admin):
    assert f'href="{URL}"' in text(admin.get("/einstellungen/"))


def test_the_table_shows_time_who_action_record_and_detail(admin, organisation, anna):
    record = PatientFactory(organisation=organisation, first_name="Erika", last_name="Beispiel")
    patient_update(patient=record, actor=anna, city="Hamburg")
    gone = uuid.uuid4()
    event(organisation, "2026-01-15T09:30:00+00:00", action=Action.PATIENT_ERASE, patient_id=gone)

    response = admin.get(URL)

    page = text(response)
    assert response.status_code == 200
    assert "15.01.2026 10:30:00" in page  # in the organisation's zone
    assert "anna@praxis.test" in page and "Akte geändert" in page
    assert "Felder: city" in page
    assert f'href="/akten/{record.public_id}/">Beispiel, Erika</a>' in page
    assert "Akte nach Ablauf der Aufbewahrungsfrist gelöscht" in page
    assert "nicht mehr vorhanden" in page and f'title="{gone}"' in page
    assert "<td>Anmeldung</td>" in page  # the admin's own login
    assert 'href="/einstellungen/protokoll/protokoll.csv"' in page


def test_only_organisation_admins_see_it(client, organisation, anna):
    client.force_login(anna)
    assert client.get(URL).status_code == 403
    assert client.get(URL + "protokoll.csv").status_code == 403


def test_another_organisations_entries_never_show(admin, other_organisation):
    event(other_organisation, "2026-01-15T09:30:00+00:00", detail="fremder Eintrag")
    assert "fremder Eintrag" not in text(admin.get(URL))


def test_filter_by_record_id_or_search(admin, organisation):
    erika = PatientFactory(organisation=organisation, first_name="Erika", last_name="Beispiel")
    otto = PatientFactory(organisation=organisation, first_name="Otto", last_name="Anders")
    event(
        organisation,
        "2026-01-15T09:30:00+00:00",
        patient_id=erika.public_id,
        detail="EVT-ER",
    )
    event(organisation, "2026-01-16T09:30:00+00:00", patient_id=otto.public_id, detail="EVT-OT")
    gone = uuid.uuid4()
    event(organisation, "2026-01-17T09:30:00+00:00", patient_id=gone, detail="EVT-GO")

    by_search = text(admin.get(URL, {"akte": "beisp"}))
    by_id = text(admin.get(URL, {"akte": str(gone)}))
    nothing = admin.get(URL, {"akte": "Niemand"})

    assert "EVT-ER" in by_search
    assert "EVT-OT" not in by_search and "EVT-GO" not in by_search
    assert "EVT-GO" in by_id and "EVT-ER" not in by_id
    assert "Keine Akte passt zu dieser Suche." in text(nothing)
    assert "Keine Einträge für diese Filter." in text(nothing)
    assert "<table" not in text(nothing)


def test_filter_by_member_and_days(admin, organisation, anna):
    event(organisation, "2026-03-09T22:59:00+00:00", actor=anna, detail="davor")
    event(organisation, "2026-03-09T23:00:00+00:00", actor=anna, detail="am Tag")  # 00:00 Berlin
    event(organisation, "2026-03-10T12:00:00+00:00", detail="System am Tag")

    response = admin.get(URL, {"mitarbeiter": anna.pk, "von": "2026-03-10", "bis": "10.03.2026"})

    page = text(response)
    assert "am Tag" in page and "davor" not in page and "System am Tag" not in page
    assert f'<option value="{anna.pk}" selected>Anna Muster (anna@praxis.test)</option>' in page
    assert f"protokoll.csv?mitarbeiter={anna.pk}&amp;von=2026-03-10&amp;bis=10.03.2026" in page


def test_paging_keeps_the_filters(admin, organisation):
    for minute in range(55):
        event(organisation, f"2026-03-10T12:{minute:02}:00+00:00")

    page = text(admin.get(URL, {"von": "2026-03-10", "bis": "2026-03-10"}))

    assert "55 Einträge" in page
    assert 'href="?von=2026-03-10&amp;bis=2026-03-10&amp;page=2"' in page


@pytest.mark.parametrize(
    "query, message",
    [
        ({"von": "gestern"}, "Bitte ein gültiges Datum eingeben."),
        ({"von": "2026-03-11", "bis": "2026-03-10"}, "„Bis“ liegt vor „Von“."),
        ({"bis": "9999-12-31"}, "Bitte ein Datum zwischen 1900 und 2200 angeben."),
        ({"akte": ", ,"}, "Bitte einen Namen, ein Geburtsdatum oder eine ID angeben."),
        ({"mitarbeiter": "abc"}, "Diese Person gehört nicht zur Praxis."),
    ],
)
def test_bad_filters_get_a_german_message(admin, query, message):
    response = admin.get(URL, query)

    assert response.status_code == 422
    assert message in text(response)
    assert "<table" not in text(response)


def test_a_member_of_another_organisation_is_no_choice(admin, other_organisation):
    stranger = UserFactory(organisation=other_organisation)

    response = admin.get(URL, {"mitarbeiter": stranger.pk})

    assert response.status_code == 422
    assert stranger.email not in text(response)


def test_the_csv_download_has_the_filters_and_never_the_search_term(
    admin, organisation, admin_user
):
    erika = PatientFactory(organisation=organisation, first_name="Erika", last_name="Beispiel")
    event(
        organisation,
        "2026-01-15T09:30:00+00:00",
        patient_id=erika.public_id,
        detail="EVT-ER",
    )
    event(organisation, "2026-01-16T09:30:00+00:00", detail="anderes")

    response = admin.get(URL + "protokoll.csv", {"akte": "Beispiel", "von": "2026-01-01"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    content = b"".join(response.streaming_content).decode("utf-8")
    assert content.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert [row[6] for row in rows[1:]] == ["EVT-ER"]
    assert "Beispiel" not in content and "Erika" not in content
    exported = AuditEvent.objects.get(action=Action.AUDIT_EXPORT)
    assert exported.actor == admin_user
    assert exported.detail == "akten=1 (Suche), since=2026-01-01"


def test_bad_filters_on_the_download_show_the_page_with_the_message(admin):
    response = admin.get(URL + "protokoll.csv", {"von": "gestern"})

    assert response.status_code == 422
    assert "Bitte ein gültiges Datum eingeben." in text(response)
    assert not AuditEvent.objects.filter(action=Action.AUDIT_EXPORT).exists()


def test_a_page_costs_the_same_queries_however_many_records(
    admin, organisation, django_assert_max_num_queries
):
    for day in range(1, 29):
        patient = PatientFactory(organisation=organisation)
        event(organisation, f"2026-02-{day:02}T08:00:00+00:00", patient_id=patient.public_id)

    with django_assert_max_num_queries(9):
        assert admin.get(URL).status_code == 200
