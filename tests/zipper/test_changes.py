"""The change feed (lemniscus → Doctolib), zipper-api.md "Change feed": one test per
sentence, read as the plugin reads it and changed as staff change records (staff API)."""

import pytest

from doctolib_bridge.reconcile import reconcile_organisation
from patients.services import patient_create
from tests.conftest import assert_problem
from tests.zipper.test_patients import ANNA

pytestmark = pytest.mark.django_db

LEMNISCUS_LED = (
    "salutation",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "postal_code",
    "city",
)

BERTA = {
    "salutation": "male",
    "title": "Dr.",
    "first_name": "Bert",
    "last_name": "Berger",
    "birth_date": "1975-06-07",
    "mobile_phone": "0171 7654321",
    "landline_phone": "030 1234567",
    "email": "bert@example.org",
    "street": "Bergstraße 3",
    "postal_code": "10115",
    "city": "Berlin",
    "notes": "nur vormittags",
    "sync_to_doctolib": True,
}
BERTA_FIELDS = {
    "salutation": "male",
    "first_name": "Bert",
    "last_name": "Berger",
    "birth_date": "1975-06-07",
    "mobile_phone": "+491717654321",
    "landline_phone": "+49301234567",
    "email": "bert@example.org",
    "street": "Bergstraße 3",
    "postal_code": "10115",
    "city": "Berlin",
}


def page(plugin, **params) -> dict:
    response = plugin.get("/changes", params)
    assert response.status_code == 200, response.content
    return response.json()


def drain(plugin, after: str, limit: int = 100) -> tuple[list[dict], str]:
    """Every change after `after`, page by page until a page is empty."""
    seen = []
    while True:
        body = page(plugin, after=after, limit=limit)
        if not body["changes"]:
            assert body["next_cursor"] == after
            return seen, after
        seen += body["changes"]
        after = body["next_cursor"]


def staff_create(api, **fields) -> str:
    response = api.post("/api/v1/patients/", fields, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def staff_edit(api, patient_id: str, **fields) -> dict:
    response = api.patch(f"/api/v1/patients/{patient_id}/", fields, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def take_in(plugin, **fields) -> str:
    """A Doctolib patient taken in: a linked record (no feed entry of its own)."""
    response = plugin.post("/patients", {**ANNA, **fields})
    assert response.status_code == 201, response.content
    return response.json()["patient_id"]


# -- kinds ----------------------------------------------------------------------


def test_create_for_a_ticked_unlinked_record_holds_every_patient_field(plugin, api):
    patient_id = staff_create(api, **BERTA)
    body = page(plugin)
    assert body["changes"] == [
        {
            "cursor": body["changes"][0]["cursor"],
            "kind": "patient.create",
            "patient_id": patient_id,
            "doctolib_patient_id": None,
            "fields": BERTA_FIELDS,
        }
    ]
    assert isinstance(body["changes"][0]["cursor"], str)


def test_create_fields_are_lemniscus_current_values_none_as_null(plugin, api):
    patient_id = staff_create(api, last_name="Kurz", sync_to_doctolib=True)
    staff_edit(api, patient_id, first_name="Karla", city="Bonn")
    (change,) = page(plugin)["changes"]
    assert change["fields"] == {
        "salutation": None,
        "first_name": "Karla",
        "last_name": "Kurz",
        "birth_date": None,
        "mobile_phone": None,
        "landline_phone": None,
        "email": None,
        "street": None,
        "postal_code": None,
        "city": "Bonn",
    }


def test_update_for_a_linked_record_holds_the_lemniscus_led_fields_only(plugin, api):
    patient_id = take_in(plugin, landline_phone="030 9876543")
    assert page(plugin)["changes"] == []  # taking in queues nothing: the values are Doctolib's
    staff_edit(api, patient_id, city="Potsdam")
    (change,) = page(plugin)["changes"]
    assert change["kind"] == "patient.update"
    assert change["patient_id"] == patient_id
    assert change["doctolib_patient_id"] == "dl-100"
    assert change["fields"] == {
        "salutation": "female",
        "first_name": "Anna",
        "last_name": "Müller",
        "birth_date": "1980-02-03",
        "street": "Seeweg 1",
        "postal_code": "12345",
        "city": "Potsdam",
    }
    assert tuple(change["fields"]) == LEMNISCUS_LED


def test_lemniscus_led_value_equal_to_doctolibs_is_not_to_be_written(plugin, api):
    patient_id = take_in(plugin)
    plugin.put("/patients/dl-100", {"street": "Seeweg 1a"})  # queues ours, "Seeweg 1"
    cursor = page(plugin)["next_cursor"]
    staff_edit(api, patient_id, street="Seeweg 1a", title="Dr.", notes="Notiz")
    assert page(plugin, after=cursor)["changes"] == []


# -- which records ----------------------------------------------------------------


def test_only_records_with_the_checkbox_set(plugin, api):
    unticked = staff_create(api, last_name="Ohne", sync_to_doctolib=False)
    staff_edit(api, unticked, city="Bonn")
    ticked = staff_create(api, last_name="Mit", sync_to_doctolib=True)
    assert [c["patient_id"] for c in page(plugin)["changes"]] == [ticked]


def test_records_whose_checkbox_was_cleared_are_passed_over(plugin, api):
    cleared = staff_create(api, last_name="Erst", sync_to_doctolib=True)
    staff_edit(api, cleared, sync_to_doctolib=False)
    unlinked = take_in(plugin)
    staff_edit(api, unlinked, city="Potsdam")  # queued as patient.update ...
    assert plugin.delete("/patients/dl-100").status_code == 204  # ... then unlinked
    kept = staff_create(api, last_name="Bleibt", sync_to_doctolib=True)
    assert [c["patient_id"] for c in page(plugin)["changes"]] == [kept]


def test_an_unlinked_record_ticked_again_comes_back_as_create(plugin, api):
    patient_id = take_in(plugin)
    plugin.delete("/patients/dl-100")
    after = page(plugin)["next_cursor"]
    staff_edit(api, patient_id, sync_to_doctolib=True)
    (change,) = page(plugin, after=after)["changes"]
    assert (change["kind"], change["doctolib_patient_id"]) == ("patient.create", None)
    assert change["fields"]["mobile_phone"] == "+491711234567"


# -- order, one entry per record, at least once --------------------------------------


def test_ordered_by_cursor_one_entry_per_record_with_current_values(plugin, api):
    anna = staff_create(api, last_name="Anders", sync_to_doctolib=True)
    bert = staff_create(api, last_name="Berger", sync_to_doctolib=True)
    for i in range(1, 6):
        staff_edit(api, anna, city=f"Ort {i}")
    carl = staff_create(api, last_name="Carlsen", sync_to_doctolib=True)
    body = page(plugin)
    changes = body["changes"]
    assert sorted(c["patient_id"] for c in changes) == sorted([anna, bert, carl])
    cursors = [int(c["cursor"]) for c in changes]
    assert cursors == sorted(cursors) and len(set(cursors)) == len(cursors)
    assert int(body["next_cursor"]) >= max(cursors)
    (anna_change,) = [c for c in changes if c["patient_id"] == anna]
    assert anna_change["fields"]["city"] == "Ort 5"


def test_a_change_after_reading_a_page_comes_on_the_next_page(plugin, api):
    anna = staff_create(api, last_name="Anders", sync_to_doctolib=True)
    first = page(plugin)
    assert [c["patient_id"] for c in first["changes"]] == [anna]
    staff_edit(api, anna, city="Bonn")
    bert = staff_create(api, last_name="Berger", sync_to_doctolib=True)
    changes = page(plugin, after=first["next_cursor"])["changes"]
    assert [(c["patient_id"], c["fields"]["city"]) for c in changes] == [
        (anna, "Bonn"),
        (bert, None),
    ]


# -- cursors ------------------------------------------------------------------------


def test_without_after_from_the_beginning(plugin, api):
    ids = [staff_create(api, last_name=f"Name{i}", sync_to_doctolib=True) for i in range(3)]
    first = page(plugin, limit=2)
    again = page(plugin, limit=2)  # the server keeps no reader position
    assert first == again
    assert [c["patient_id"] for c in first["changes"]] == ids[:2]
    rest, _ = drain(plugin, first["next_cursor"])
    assert [c["patient_id"] for c in rest] == ids[2:]


def test_an_empty_page_returns_the_same_next_cursor(plugin, api):
    empty = page(plugin)
    assert empty["changes"] == []
    assert page(plugin, after=empty["next_cursor"]) == empty
    staff_create(api, last_name="Anders", sync_to_doctolib=True)
    cursor = page(plugin)["next_cursor"]
    assert page(plugin, after=cursor) == {"changes": [], "next_cursor": cursor}


def test_an_empty_page_of_passed_over_records_returns_the_same_next_cursor(plugin, api):
    """Records whose checkbox was cleared are passed over; a page that holds nothing
    else is an empty page all the same, and an empty page keeps the cursor."""
    anna = staff_create(api, last_name="Anders", sync_to_doctolib=True)
    cursor = page(plugin)["next_cursor"]
    staff_edit(api, anna, city="Bonn")
    staff_edit(api, anna, sync_to_doctolib=False)
    assert page(plugin, after=cursor) == {"changes": [], "next_cursor": cursor}
    bert = staff_create(api, last_name="Berger", sync_to_doctolib=True)
    assert [c["patient_id"] for c in page(plugin, after=cursor)["changes"]] == [bert]


def test_next_cursor_of_the_last_page_fetches_nothing_new(plugin, api):
    for i in range(3):
        staff_create(api, last_name=f"Name{i}", sync_to_doctolib=True)
    last = page(plugin)
    assert len(last["changes"]) == 3
    assert page(plugin, after=last["next_cursor"])["changes"] == []


@pytest.mark.parametrize("after", ["99", "07", "abc", "-1", "1.0", " 1"])
def test_a_cursor_never_issued_is_422(plugin, api, after):
    for i in range(8):
        staff_create(api, last_name=f"Name{i}", sync_to_doctolib=True)
    assert page(plugin)["next_cursor"] == "8"
    body = assert_problem(plugin.get("/changes", {"after": after}), 422, "validation_error")
    assert "after" in body["errors"]


def test_another_organisations_cursor_is_never_issued_here(plugin, other_plugin, other_api):
    for i in range(3):
        staff_create(other_api, last_name=f"Tal{i}", sync_to_doctolib=True)
    theirs = page(other_plugin)["next_cursor"]
    body = assert_problem(plugin.get("/changes", {"after": theirs}), 422, "validation_error")
    assert "after" in body["errors"]


# -- limit --------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1", "1.5", ""])
def test_limit_out_of_range_is_422(plugin, limit):
    body = assert_problem(plugin.get("/changes", {"limit": limit}), 422, "validation_error")
    assert "limit" in body["errors"]


def test_limit_1_and_500_are_in_range(plugin):
    assert page(plugin, limit=1)["changes"] == []
    assert page(plugin, limit=500)["changes"] == []


def test_limit_defaults_to_100(plugin, organisation):
    for i in range(101):
        patient_create(organisation=organisation, last_name=f"Name{i}", sync_to_doctolib=True)
    first = page(plugin)
    assert len(first["changes"]) == 100
    assert len(page(plugin, after=first["next_cursor"])["changes"]) == 1


def test_limit_1_pages_one_by_one_without_skipping(plugin, api):
    ids = [staff_create(api, last_name=f"Name{i}", sync_to_doctolib=True) for i in range(5)]
    staff_edit(api, ids[1], sync_to_doctolib=False)  # passed over in the middle
    staff_edit(api, ids[0], city="Bonn")
    after = ""
    pages = []
    while True:
        body = page(plugin, after=after, limit=1)
        if not body["changes"]:
            break
        pages.append([c["patient_id"] for c in body["changes"]])
        after = body["next_cursor"]
    assert pages == [[ids[0]], [ids[2]], [ids[3]], [ids[4]], [ids[0]]]


# -- organisations ---------------------------------------------------------------------


def test_other_organisations_changes_never_appear(plugin, other_plugin, api, other_api):
    ours = staff_create(api, last_name="See", sync_to_doctolib=True)
    theirs = staff_create(other_api, last_name="Tal", sync_to_doctolib=True)
    staff_edit(other_api, theirs, city="Köln")
    assert [c["patient_id"] for c in page(plugin)["changes"]] == [ours]
    assert [c["patient_id"] for c in page(other_plugin)["changes"]] == [theirs]


# -- staff edits -------------------------------------------------------------------------


def test_staff_ticking_the_checkbox_puts_the_record_in_as_create(plugin, api):
    patient_id = staff_create(api, **{**BERTA, "sync_to_doctolib": False})
    assert page(plugin)["changes"] == []
    staff_edit(api, patient_id, sync_to_doctolib=True)
    (change,) = page(plugin)["changes"]
    assert (change["kind"], change["fields"]) == ("patient.create", BERTA_FIELDS)


def test_staff_change_of_a_doctolib_led_field_is_not_sent_to_doctolib(plugin, api, organisation):
    """staff-api.md does not refuse the edit (the record only names its
    `doctolib_led_fields`); operations.md: reconciliation sets the field back. Either
    way Doctolib's value stands and nothing goes to the feed."""
    patient_id = take_in(plugin)
    after = page(plugin)["next_cursor"]
    staff_edit(api, patient_id, mobile_phone="0151 11111111", email="hand@example.org")
    assert page(plugin, after=after)["changes"] == []
    reconcile_organisation(organisation=organisation)
    assert page(plugin, after=after)["changes"] == []
    fields = plugin.get("/patients/dl-100").json()["fields"]
    assert (fields["mobile_phone"], fields["email"]) == ("+491711234567", "anna@example.org")


# -- once per pair of values ---------------------------------------------------------------


def test_a_value_doctolib_reformats_is_not_offered_again(plugin, organisation):
    """Doctolib's view differs: lemniscus's value goes out once; Doctolib stores it in
    its own form, the plugin pushes that, and the pair is the one already sent."""
    take_in(plugin, street="Seestraße 1")
    assert plugin.put("/patients/dl-100", {"street": "Seestr. 1"}).json()["to_doctolib"] == [
        "street"
    ]
    (change,) = page(plugin)["changes"]
    assert change["fields"]["street"] == "Seestraße 1"
    cursor = page(plugin)["next_cursor"]
    for _ in range(3):  # the plugin writes "Seestraße 1"; Doctolib keeps "Seestr. 1"
        assert plugin.put("/patients/dl-100", {"street": "Seestr. 1"}).json()["to_doctolib"] == []
        reconcile_organisation(organisation=organisation)
    assert page(plugin, after=cursor)["changes"] == []


def test_a_staff_value_doctolib_reformats_does_not_loop(plugin, api, organisation):
    """A staff edit is sent against Doctolib's last known value; the reformatted value
    Doctolib answers with makes a new pair, sent once; after that nothing more."""
    patient_id = take_in(plugin)
    staff_edit(api, patient_id, street="Seestraße 1")
    sent, cursor = drain(plugin, "0")
    assert [c["fields"]["street"] for c in sent] == ["Seestraße 1"]
    offers = 0
    for _ in range(4):  # the plugin writes "Seestraße 1"; Doctolib keeps "Seestr. 1"
        plugin.put("/patients/dl-100", {"street": "Seestr. 1"})
        reconcile_organisation(organisation=organisation)
        sent, cursor = drain(plugin, cursor)
        assert all(c["fields"]["street"] == "Seestraße 1" for c in sent)
        offers += len(sent)
    assert offers == 1
