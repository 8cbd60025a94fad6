"""The reconciliation's SQL selection (`sync.rules_would_change`) picks exactly the
records for which the Python rules (`reconcile._needs_work`, i.e. `sync.evaluate`)
would change something."""

import copy
import unicodedata
from datetime import date

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from doctolib_bridge import reconcile
from doctolib_bridge.fields import SYNCED_PATIENT_FIELDS
from doctolib_bridge.models import DoctolibPatientState
from doctolib_bridge.sync import evaluate
from patients.models import Patient

pytestmark = pytest.mark.django_db

# Short values (salutation is a varchar(6)); PostgreSQL stores neither NUL nor lone
# surrogates. The fixed ones make equal, empty and near-equal values frequent.
TEXT = st.one_of(
    st.sampled_from(["", "a", "A", " a", "ä", unicodedata.normalize("NFD", "ä"), "+49"]),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6),
)
DATES = st.one_of(st.none(), st.sampled_from([date(1980, 1, 2)]), st.dates())
# What Doctolib said last: usually a canonical string, sometimes one we would never
# store (a JSON null or number).
THEIRS_TEXT = st.one_of(TEXT, st.none(), st.integers(-5, 5))
THEIRS_DATE = st.one_of(
    st.sampled_from(["", "1980-01-02"]),
    st.dates().map(date.isoformat),
    st.none(),
)

EMPTY = {name: "" for name in SYNCED_PATIENT_FIELDS} | {"birth_date": None}


@st.composite
def records(draw):
    """One linked record and its state: per synced field our value, Doctolib's last
    known value (or none sent), and what was queued for the field. At most two fields
    may differ, so that whether a record is selected hangs on one rule at a time."""
    ours, last_known, queued_pairs = {}, {}, {}
    drawn = draw(st.sets(st.sampled_from(SYNCED_PATIENT_FIELDS), max_size=2))
    for name in SYNCED_PATIENT_FIELDS:
        is_date = name == "birth_date"
        mine = draw(DATES if is_date else TEXT)
        if name in drawn and draw(st.booleans()):
            mine = None if is_date else ""  # an empty field: filled, or not
        ours[name] = mine
        canonical = (mine.isoformat() if mine else "") if is_date else mine
        if draw(st.integers(0, 5)) == 0:
            continue  # Doctolib did not send it
        theirs = canonical
        if name in drawn:
            theirs = draw(THEIRS_DATE if is_date else THEIRS_TEXT)
        last_known[name] = theirs
        queued = draw(
            st.one_of(
                st.none(),
                st.just([canonical, theirs]),  # this pair was queued already
                st.just([canonical, "older"]),
                st.just([theirs]),
                st.just(canonical),
            )
        )
        if queued is not None:
            queued_pairs[name] = queued
    return ours, last_known, queued_pairs


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(records(), min_size=1, max_size=6))
@example(rows=[(EMPTY, {}, {})])
@example(rows=[(EMPTY | {"city": "Potsdam"}, {"city": "Berlin"}, {"city": ["Potsdam", "Berlin"]})])
@example(rows=[(EMPTY, {"city": "Berlin"}, {"city": ["", "Berlin"]})])  # fill, though queued
@example(rows=[(EMPTY | {"email": "a@b.de"}, {"email": ""}, {"email": ["a@b.de", ""]})])
def test_sql_selection_equals_the_python_rules(organisation, rows):
    note(repr(rows))
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            Patient(
                organisation=organisation,
                doctolib_patient_id=f"dl-{i}",
                sync_to_doctolib=True,
                **ours,
            )
            for i, (ours, _, _) in enumerate(rows)
        )
        DoctolibPatientState.objects.bulk_create(
            DoctolibPatientState(patient=patient, last_known=known, queued_pairs=queued)
            for patient, (_, known, queued) in zip(patients, rows, strict=True)
        )
        stored = (
            Patient.objects.filter(organisation=organisation)
            .select_related("doctolib_state")
            .order_by("pk")  # the selection answers in key order
        )
        wanted = []
        for patient in stored:
            state = copy.deepcopy(patient.doctolib_state)  # evaluate() updates it
            outcome = evaluate(patient, state, dict(state.last_known))
            event(f"applied {bool(outcome.applied)}, queued {bool(outcome.to_doctolib)}")
            if reconcile._needs_work(patient):
                wanted.append(patient.pk)

        checked, last_pk, differing = reconcile._select_batch(organisation, 0, 100)

        assert (checked, last_pk) == (len(rows), max(p.pk for p in patients))
        assert differing == wanted
        transaction.set_rollback(True)


def test_selection_keeps_to_the_batch_and_the_organisation(organisation, other_organisation):
    def linked(org, i, **fields):
        patient = Patient.objects.create(
            organisation=org, doctolib_patient_id=f"dl-{i}", sync_to_doctolib=True, **fields
        )
        DoctolibPatientState.objects.create(patient=patient, last_known={"city": "Berlin"})
        return patient

    first = linked(organisation, 1, city="Potsdam")
    second = linked(organisation, 2, city="Berlin")
    third = linked(organisation, 3, city="")
    linked(other_organisation, 4, city="Köln")
    Patient.objects.create(organisation=organisation, last_name="Unverknüpft")

    assert reconcile._select_batch(organisation, 0, 2) == (2, second.pk, [first.pk])
    assert reconcile._select_batch(organisation, second.pk, 2) == (1, third.pk, [third.pk])
    assert reconcile._select_batch(organisation, third.pk, 2) == (0, third.pk, [])
