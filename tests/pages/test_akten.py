"""Akten pages with the Django test client: search and list, a new record, the
record (Stammdaten, read-only Doctolib fields, history), the Doctolib icon,
deleting, linking a Doctolib patient; permissions, bad input, query counts."""

from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditEvent
from billing.services import invoice_create
from doctolib_bridge.fields import doctolib_led_fields_for
from doctolib_bridge.models import ChangeFeedEntry, DoctolibPatientState
from doctolib_bridge.sync import DOCTOLIB_SYNC_ACTOR, RECONCILE_ACTOR
from organisations.models import Role
from patients.models import Patient
from patients.services import patient_update
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

STAMMDATEN = {
    "salutation": "female",
    "title": "",
    "first_name": "Anna",
    "last_name": "Müller",
    "birth_date": "1980-02-01",
    "email": "",
    "mobile_phone": "",
    "landline_phone": "",
    "street": "Seestraße 1",
    "postal_code": "12345",
    "city": "Berlin",
    "notes": "",
}


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def reader(client, organisation):
    """A member without the documentation right: reads records, changes nothing."""
    user = UserFactory(organisation=organisation, role=Role.STAFF, can_documentation=False)
    client.force_login(user)
    return client


@pytest.fixture
def patient(organisation):
    return PatientFactory(
        organisation=organisation,
        first_name="Anna",
        last_name="Müller",
        birth_date=date(1980, 2, 1),
        mobile_phone="+491711234567",
        city="Berlin",
    )


@pytest.fixture
def linked(organisation):
    return PatientFactory(
        organisation=organisation,
        first_name="Bernd",
        last_name="Brandt",
        mobile_phone="+491711111111",
        email="bernd@example.org",
        sync_to_doctolib=True,
        doctolib_patient_id="dl-42",
    )


def form_data(patient: Patient, **changes) -> dict:
    data = {
        name: getattr(patient, name) or ""
        for name in (*STAMMDATEN, "salutation")
        if name != "birth_date"
    }
    data["birth_date"] = patient.birth_date.isoformat() if patient.birth_date else ""
    if patient.sync_to_doctolib:
        data["sync_to_doctolib"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def snapshot(patient: Patient) -> dict:
    patient.refresh_from_db()
    return {f.attname: getattr(patient, f.attname) for f in Patient._meta.concrete_fields}


# -- list and search -----------------------------------------------------------


def test_list_shows_only_the_organisations_records(staff, patient, other_organisation):
    PatientFactory(organisation=other_organisation, last_name="Fremd")
    response = staff.get("/akten/")
    assert response.status_code == 200
    assert "Müller, Anna" in response.content.decode()
    assert "Fremd" not in response.content.decode()


@pytest.mark.parametrize("q", ["mül", "MUELLER", "01.02.1980", "1980-02-01", "0171 1234"])
def test_search_finds_by_name_birth_date_and_phone(staff, patient, organisation, q):
    PatientFactory(organisation=organisation, last_name="Schmidt", birth_date=date(1990, 1, 1))
    html = staff.get("/akten/", {"q": q}).content.decode()
    assert "Müller, Anna" in html
    assert "Schmidt" not in html


def test_search_without_match_says_so(staff, patient):
    html = staff.get("/akten/", {"q": "Zander"}).content.decode()
    assert "Keine Akte passt zu „Zander“." in html


def test_search_as_you_type_answers_only_the_results(staff, patient):
    response = staff.get("/akten/", {"q": "mül"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "Müller, Anna" in html
    assert "HX-Request" in response["Vary"]


def test_list_is_paginated(staff, organisation):
    PatientFactory.create_batch(55, organisation=organisation)
    html = staff.get("/akten/").content.decode()
    assert "55 Akten" in html
    assert "Seite 1 von 2" in html
    assert "Seite 2 von 2" in staff.get("/akten/", {"page": 2}).content.decode()


@pytest.mark.parametrize("rows", [2, 60])
def test_list_queries_do_not_grow_with_rows(
    staff, organisation, rows, django_assert_max_num_queries
):
    PatientFactory.create_batch(rows, organisation=organisation, sync_to_doctolib=True)
    with django_assert_max_num_queries(5):
        assert staff.get("/akten/").status_code == 200


def test_pages_need_a_login(client, patient):
    for url in ("/akten/", f"/akten/{patient.public_id}/", "/sync-protokoll/", "/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/anmelden/?next=")


# -- new record ----------------------------------------------------------------


def test_new_record_is_created_with_normalised_values(staff, admin_user):
    response = staff.post(
        "/akten/neu/",
        {
            **STAMMDATEN,
            "first_name": "  Zoë ",
            "mobile_phone": "0171 1234567",
            "email": "Zoe@Example.ORG",
            "birth_date": "01.02.1980",
        },
    )
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/akten/{patient.public_id}/"
    assert patient.first_name == "Zoë"
    assert patient.mobile_phone == "+491711234567"
    assert patient.email == "zoe@example.org"
    assert patient.birth_date == date(1980, 2, 1)
    assert patient.history.get().history_user == admin_user
    assert not ChangeFeedEntry.objects.exists()


def test_new_record_with_the_doctolib_checkbox_goes_to_the_change_feed(staff):
    staff.post("/akten/neu/", {**STAMMDATEN, "sync_to_doctolib": "on"})
    patient = Patient.objects.get()
    assert patient.sync_to_doctolib
    assert ChangeFeedEntry.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"last_name": "  "}, "Dieses Feld ist zwingend erforderlich."),
        ({"mobile_phone": "+1 12"}, "Keine mögliche Telefonnummer."),
        ({"landline_phone": "abc"}, "Keine gültige Telefonnummer."),
        ({"email": "kein-at"}, "Bitte geben Sie eine gültige E-Mail-Adresse ein."),
        ({"birth_date": "31.02.1980"}, "Bitte ein gültiges Datum eingeben."),
        ({"salutation": "divers"}, "Bitte eine gültige Auswahl treffen."),
        ({"postal_code": "1" * 11}, "höchstens 10 Zeichen"),
    ],
)
def test_new_record_bad_input_says_so_in_german_and_creates_nothing(staff, changes, message):
    response = staff.post("/akten/neu/", {**STAMMDATEN, **changes})
    assert response.status_code == 422
    assert escape(message) in response.content.decode()
    assert not Patient.objects.exists()


def test_new_record_needs_the_documentation_right(reader):
    assert reader.get("/akten/neu/").status_code == 403
    assert reader.post("/akten/neu/", STAMMDATEN).status_code == 403
    assert not Patient.objects.exists()


# -- the record ----------------------------------------------------------------


def test_record_shows_the_stammdaten(staff, patient):
    html = staff.get(f"/akten/{patient.public_id}/").content.decode()
    assert "<h1>Müller, Anna</h1>" in html
    assert 'value="0171 1234567"' in html  # shown nationally, stored in E.164
    assert "An Doctolib übertragen" in html
    assert "Terminverlauf in Doctolib öffnen" not in html


def test_record_saves_the_stammdaten(staff, patient, admin_user):
    response = staff.post(
        f"/akten/{patient.public_id}/", form_data(patient, city="Hamburg"), follow=True
    )
    assert "Die Stammdaten sind gespeichert." in response.content.decode()
    patient.refresh_from_db()
    assert patient.city == "Hamburg"
    assert patient.history.first().history_user == admin_user


def test_record_bad_input_says_so_in_german_and_changes_nothing(staff, patient):
    before = snapshot(patient)
    response = staff.post(
        f"/akten/{patient.public_id}/", form_data(patient, city="Hamburg", mobile_phone="abc")
    )
    assert response.status_code == 422
    assert "Keine gültige Telefonnummer." in response.content.decode()
    assert snapshot(patient) == before


def test_linked_record_shows_doctolib_led_fields_read_only_with_the_hint(staff, linked):
    html = staff.get(f"/akten/{linked.public_id}/").content.decode()
    assert "Diese Felder führt Doctolib; Änderungen bitte in Doctolib vornehmen." in html
    for name in doctolib_led_fields_for(linked):
        tag = next(t for t in html.split("<input")[1:] if f'name="{name}"' in t)
        assert "readonly" in tag
        assert 'aria-describedby="doctolib-led-hint"' in tag
    city = next(t for t in html.split("<input")[1:] if 'name="city"' in t)
    assert "readonly" not in city
    assert 'data-zipper-action="doctolib.open_history"' in html
    assert 'data-zipper-action="doctolib.book_appointment"' in html
    assert 'data-doctolib-patient-id="dl-42"' in html


def test_linked_record_takes_no_doctolib_led_field_from_the_form(staff, linked):
    led = doctolib_led_fields_for(linked)
    assert led
    before = {name: getattr(linked, name) for name in led}
    tampered = {name: "+491709999999" if "phone" in name else "x@example.org" for name in led}
    staff.post(f"/akten/{linked.public_id}/", form_data(linked, city="Hamburg", **tampered))
    linked.refresh_from_db()
    assert linked.city == "Hamburg"
    assert {name: getattr(linked, name) for name in led} == before


def test_clearing_the_checkbox_of_a_linked_record_is_refused_in_german(staff, linked):
    before = snapshot(linked)
    data = form_data(linked, city="Hamburg")
    del data["sync_to_doctolib"]
    response = staff.post(f"/akten/{linked.public_id}/", data)
    assert response.status_code == 422
    assert escape("das Häkchen „Doctolib“ bleibt gesetzt") in response.content.decode()
    assert snapshot(linked) == before


def test_reader_sees_the_record_read_only_and_cannot_change_it(reader, patient):
    html = reader.get(f"/akten/{patient.public_id}/").content.decode()
    assert "Sie können diese Akte nur lesen" in html
    assert "Stammdaten speichern" not in html
    assert "An Doctolib übertragen" not in html
    before = snapshot(patient)
    assert reader.post(f"/akten/{patient.public_id}/", form_data(patient)).status_code == 403
    assert reader.post(f"/akten/{patient.public_id}/an-doctolib/").status_code == 403
    assert reader.post(f"/akten/{patient.public_id}/loeschen/").status_code == 403
    assert snapshot(patient) == before


def test_another_organisations_record_is_404_and_stays_unchanged(staff, other_organisation):
    foreign = PatientFactory(organisation=other_organisation)
    before = snapshot(foreign)
    base = f"/akten/{foreign.public_id}/"
    assert staff.get(base).status_code == 404
    assert staff.post(base, form_data(foreign, city="Hamburg")).status_code == 404
    assert staff.get(base + "an-doctolib/").status_code == 404
    assert staff.post(base + "an-doctolib/").status_code == 404
    assert staff.get(base + "loeschen/").status_code == 404
    assert staff.post(base + "loeschen/").status_code == 404
    assert snapshot(foreign) == before
    assert staff.get("/akten/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_history_names_staff_the_doctolib_sync_and_the_reconciliation(staff, patient, admin_user):
    patient_update(patient=patient, actor=admin_user, city="Hamburg")
    patient_update(
        patient=patient,
        reason=DOCTOLIB_SYNC_ACTOR,
        queue_for_doctolib=False,
        mobile_phone="+491719999999",
    )
    patient_update(
        patient=patient,
        reason=RECONCILE_ACTOR,
        queue_for_doctolib=False,
        mobile_phone="+491711234567",
        sync_to_doctolib=True,
    )
    html = staff.get(f"/akten/{patient.public_id}/").content.decode()
    history = html.split('id="verlauf-heading"')[1]
    rows = history.split("<tr>")[2:]
    assert "Abgleich Doctolib" in rows[0]
    assert '0171 9999999</span> → <span class="new">0171 1234567' in rows[0]
    assert 'nein</span> → <span class="new">ja' in rows[0]
    assert "Doctolib-Sync" in rows[1]
    assert admin_user.display_name in rows[2]
    assert 'Berlin</span> → <span class="new">Hamburg' in rows[2]
    assert "Akte angelegt" in rows[3]


@pytest.mark.parametrize("changes", [1, 40])
def test_record_queries_do_not_grow_with_history(
    staff, linked, admin_user, changes, django_assert_max_num_queries
):
    for n in range(changes):
        patient_update(patient=linked, actor=admin_user, city=f"Ort {n}")
    # 5, 3 for the retention (latest treated appointment, latest invoice, latest
    # documentation), 3 for the hub's empty lists (appointments ahead and past,
    # invoices), 2 for documentation and attachments, and the Protokoll's entry of
    # reading them (with its savepoint in the test's transaction: 3)
    with django_assert_max_num_queries(16):
        assert staff.get(f"/akten/{linked.public_id}/").status_code == 200


# -- the Doctolib icon ---------------------------------------------------------


def test_doctolib_icon_warns_first_then_sends_the_record(staff, patient, admin_user):
    url = f"/akten/{patient.public_id}/an-doctolib/"
    warning = staff.get(url).content.decode()
    assert "Akte an Doctolib übertragen?" in warning
    patient.refresh_from_db()
    assert not patient.sync_to_doctolib
    assert not ChangeFeedEntry.objects.exists()

    response = staff.post(url, follow=True)
    assert "Die Akte wird an Doctolib übertragen" in response.content.decode()
    patient.refresh_from_db()
    assert patient.sync_to_doctolib
    assert ChangeFeedEntry.objects.filter(patient=patient).count() == 1
    assert patient.history.first().history_user == admin_user


def test_doctolib_icon_warning_comes_as_a_part_for_htmx(staff, patient):
    html = staff.get(f"/akten/{patient.public_id}/an-doctolib/", HTTP_HX_REQUEST="true")
    assert "<html" not in html.content.decode()
    assert 'role="alertdialog"' in html.content.decode()


def test_doctolib_icon_on_a_record_already_sent_changes_nothing(staff, linked):
    before = snapshot(linked)
    response = staff.post(f"/akten/{linked.public_id}/an-doctolib/", follow=True)
    assert "schon für Doctolib vorgesehen" in response.content.decode()
    assert snapshot(linked) == before
    assert not ChangeFeedEntry.objects.exists()


# -- deleting ------------------------------------------------------------------


def test_delete_asks_first_then_deletes(staff, patient):
    AppointmentFactory(
        organisation=patient.organisation,
        patient=patient,
        start=timezone.now() + timedelta(days=2),  # planned: no treatment history
    )
    url = f"/akten/{patient.public_id}/loeschen/"
    html = staff.get(url).content.decode()
    assert "Akte endgültig löschen?" in html
    assert "Müller, Anna“ und ihr Termin werden gelöscht" in html
    assert Patient.objects.filter(pk=patient.pk).exists()
    response = staff.post(url, follow=True)
    assert response.redirect_chain[-1][0] == "/akten/"
    assert escape("Die Akte „Müller, Anna“ ist gelöscht.") in response.content.decode()
    assert not Patient.objects.filter(pk=patient.pk).exists()


def test_a_treated_record_is_kept_and_can_be_archived_instead(staff, patient, admin_user):
    appointment = AppointmentFactory(organisation=patient.organisation, patient=patient)
    invoice_create(
        organisation=patient.organisation,
        actor=admin_user,
        patient=patient,
        appointments=[appointment],
    )
    keep_until = f"31.12.{patient.organisation.today().year + 10}"
    html = staff.get(f"/akten/{patient.public_id}/").content.decode()
    assert f"wird bis zum <strong>{keep_until}</strong> aufbewahrt" in html
    assert "Akte löschen …" not in html and "Akte archivieren …" in html
    before = snapshot(patient)

    response = staff.post(f"/akten/{patient.public_id}/loeschen/", follow=True)

    assert response.redirect_chain[-1][0] == f"/akten/{patient.public_id}/"
    assert f"wird bis zum {keep_until} aufbewahrt (§ 630f BGB)" in response.content.decode()
    assert snapshot(patient) == before


def test_only_admins_delete_or_archive(client, organisation, patient):
    writer = UserFactory(organisation=organisation, role=Role.STAFF, can_documentation=True)
    client.force_login(writer)
    base = f"/akten/{patient.public_id}/"

    html = client.get(base).content.decode()

    assert "Aufbewahrung" not in html and "Akte löschen" not in html
    for step in ("loeschen/", "archivieren/", "archivierung-aufheben/"):
        assert client.get(base + step).status_code == 403
        assert client.post(base + step).status_code == 403
    patient.refresh_from_db()
    assert patient.archived_at is None


def test_archive_asks_first_then_the_record_is_read_only_and_hidden(staff, patient):
    base = f"/akten/{patient.public_id}/"
    assert "Akte archivieren?" in staff.get(base + "archivieren/").content.decode()

    page = staff.post(base + "archivieren/", follow=True).content.decode()

    assert "ist archiviert und jetzt schreibgeschützt" in page
    assert "Diese Akte ist seit" in page and "Stammdaten speichern" not in page
    assert "Müller, Anna" not in staff.get("/akten/", {"q": "Müller"}).content.decode()
    shown = staff.get("/akten/", {"q": "Müller", "archiviert": "on"}).content.decode()
    assert "Müller, Anna" in shown and "archiviert</span>" in shown
    refused = staff.post(base, form_data(patient, city="Hamburg"))
    assert refused.status_code == 422
    patient.refresh_from_db()
    assert patient.city != "Hamburg"

    staff.post(base + "archivierung-aufheben/")
    patient.refresh_from_db()
    assert patient.archived_at is None


# -- linking a Doctolib patient ------------------------------------------------

LINK = "/akten/verknuepfen/"


@pytest.mark.parametrize("doctolib_id", [None, "", "mit leerzeichen", "x" * 65, "ä"])
def test_link_page_with_a_bad_doctolib_id_says_so_and_links_nothing(staff, patient, doctolib_id):
    query = "" if doctolib_id is None else f"?doctolib_patient_id={doctolib_id}"
    response = staff.get(LINK + query)
    assert response.status_code == 400
    assert "Doctolib-Patienten-ID fehlt oder hat nicht die erlaubte Form" in (
        response.content.decode()
    )
    assert staff.post(LINK + query, {"patient_id": str(patient.public_id)}).status_code == 400
    patient.refresh_from_db()
    assert patient.doctolib_patient_id is None


def test_link_page_suggests_records_by_last_name(staff, patient, linked, organisation):
    PatientFactory(organisation=organisation, last_name="Müllerschön", first_name="Zora")
    PatientFactory(
        organisation=organisation,
        last_name="Brandtner",
        doctolib_patient_id="dl-7",
        sync_to_doctolib=True,
    )
    html = staff.get(
        LINK, {"doctolib_patient_id": "dl-1", "nachname": "mueller", "vorname": "anna"}
    ).content.decode()
    assert "dl-1" in html
    assert html.index("Müller, Anna") < html.index("Müllerschön, Zora")
    assert html.count("Mit dieser Akte verknüpfen</button>") == 2
    html = staff.get(
        LINK, {"doctolib_patient_id": "dl-1", "nachname": "brandt"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in html
    assert "schon verknüpft mit dl-42" in html
    assert "schon verknüpft mit dl-7" in html
    assert "Mit dieser Akte verknüpfen</button>" not in html


def test_linking_an_existing_record_goes_to_it(staff, patient, admin_user):
    response = staff.post(
        LINK + "?doctolib_patient_id=dl-1", {"patient_id": str(patient.public_id)}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"/akten/{patient.public_id}/"
    assert "ist mit dem Doctolib-Patienten dl-1 verknüpft" in response.content.decode()
    patient.refresh_from_db()
    assert patient.doctolib_patient_id == "dl-1"
    assert patient.sync_to_doctolib
    assert patient.history.first().history_user == admin_user
    assert not ChangeFeedEntry.objects.exists()


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/uebertragungen/abc/", "/uebertragungen/abc/"),
        ("https://evil.example/", None),
        ("//evil.example/x", None),
        ("/\\evil.example", None),
        ("uebertragungen/abc/", None),
        ("/x\r\nSet-Cookie: a=b", None),
    ],
)
def test_linking_follows_only_a_relative_next(staff, patient, next_url, lands_on):
    query = urlencode({"doctolib_patient_id": "dl-1", "next": next_url})
    response = staff.post(f"{LINK}?{query}", {"patient_id": str(patient.public_id)})
    assert response.status_code == 302
    assert response["Location"] == (lands_on or f"/akten/{patient.public_id}/")


def test_link_conflict_is_shown_in_german_and_changes_nothing(staff, patient, linked):
    before = (snapshot(patient), snapshot(linked))
    # the record is linked to another Doctolib patient
    response = staff.post(
        LINK + "?doctolib_patient_id=dl-1", {"patient_id": str(linked.public_id)}, follow=True
    )
    assert response.redirect_chain[-1][0] == LINK + "?doctolib_patient_id=dl-1"
    assert "Die Akte ist schon mit einem anderen Doctolib-Patienten verknüpft." in (
        response.content.decode()
    )
    # the Doctolib patient is linked to another record
    response = staff.post(
        LINK + "?doctolib_patient_id=dl-42", {"patient_id": str(patient.public_id)}, follow=True
    )
    assert "Der Doctolib-Patient dl-42 ist schon mit einer anderen Akte verknüpft." in (
        response.content.decode()
    )
    assert (snapshot(patient), snapshot(linked)) == before


def test_linking_another_organisations_record_is_404(staff, other_organisation):
    foreign = PatientFactory(organisation=other_organisation)
    before = snapshot(foreign)
    response = staff.post(
        LINK + "?doctolib_patient_id=dl-1", {"patient_id": str(foreign.public_id)}
    )
    assert response.status_code == 404
    assert (
        staff.post(LINK + "?doctolib_patient_id=dl-1", {"patient_id": "kaputt"}).status_code == 404
    )
    assert snapshot(foreign) == before


def test_new_record_for_a_doctolib_patient_is_created_linked(staff, admin_user):
    response = staff.post(
        LINK + "?doctolib_patient_id=dl-9&next=/uebertragungen/abc/",
        {**STAMMDATEN, "last_name": "Neu", "mobile_phone": "0171 7654321"},
    )
    patient = Patient.objects.get()
    assert response["Location"] == "/uebertragungen/abc/"
    assert patient.last_name == "Neu"
    assert patient.mobile_phone == "+491717654321"
    assert patient.doctolib_patient_id == "dl-9"
    assert patient.sync_to_doctolib
    assert not ChangeFeedEntry.objects.exists()  # it exists in Doctolib already
    assert {h.history_user for h in patient.history.all()} == {admin_user}
    # one writer: created and linked by the services, with the bridge's state
    assert DoctolibPatientState.objects.filter(patient=patient).exists()
    actions = AuditEvent.objects.filter(object_id=str(patient.public_id))
    assert sorted(actions.values_list("action", flat=True)) == ["patient.create", "patient.link"]


def test_new_record_for_a_linked_doctolib_patient_is_refused_and_not_created(staff, linked):
    response = staff.post(LINK + "?doctolib_patient_id=dl-42", {**STAMMDATEN}, follow=True)
    assert "Der Doctolib-Patient dl-42 ist schon mit einer anderen Akte verknüpft." in (
        response.content.decode()
    )
    assert list(Patient.objects.all()) == [linked]


def test_new_record_for_a_doctolib_patient_with_bad_input_creates_nothing(staff):
    response = staff.post(LINK + "?doctolib_patient_id=dl-9", {**STAMMDATEN, "last_name": ""})
    assert response.status_code == 422
    assert "Dieses Feld ist zwingend erforderlich." in response.content.decode()
    assert not Patient.objects.exists()


def test_link_page_of_a_linked_doctolib_patient_shows_its_record(staff, linked):
    html = staff.get(LINK, {"doctolib_patient_id": "dl-42"}).content.decode()
    assert escape("ist schon mit der Akte „Brandt, Bernd“ verknüpft") in html
    assert f'href="/akten/{linked.public_id}/"' in html
    assert "Mit dieser Akte verknüpfen" not in html


def test_link_page_needs_the_documentation_right(reader, patient):
    assert reader.get(LINK, {"doctolib_patient_id": "dl-1"}).status_code == 403
    response = reader.post(
        LINK + "?doctolib_patient_id=dl-1", {"patient_id": str(patient.public_id)}
    )
    assert response.status_code == 403
    patient.refresh_from_db()
    assert patient.doctolib_patient_id is None


@pytest.mark.parametrize("rows", [1, 15])
def test_link_page_queries_do_not_grow_with_suggestions(
    staff, organisation, rows, django_assert_max_num_queries
):
    PatientFactory.create_batch(rows, organisation=organisation, last_name="Meier")
    with django_assert_max_num_queries(5):
        html = staff.get(LINK, {"doctolib_patient_id": "dl-1", "nachname": "meier"})
    assert html.content.decode().count("Mit dieser Akte verknüpfen</button>") == min(rows, 10)
