"""The three-query suggestion search ranks exactly like the contract's one ordering."""

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lemniscus.text import fold
from patients.models import Patient
from patients.selectors import patient_suggestions

pytestmark = pytest.mark.django_db

NAMES = st.sampled_from(["Müller", "Mueller", "Meier", "Maier", "Mai", "Ma", "Schmidt", "Schulz"])
FIRST = st.sampled_from(["Anna", "Jörg", "Joerg", "Bernd", ""])
BIRTH = st.sampled_from([date(1980, 1, 1), date(1990, 5, 5), None])


def reference(patients, last_name, first_name, birth_date):
    prefix, first = fold(last_name), fold(first_name)
    hits = [p for p in patients if p.last_name_folded.startswith(prefix)]
    hits.sort(
        key=lambda p: (
            birth_date is None or p.birth_date != birth_date,
            not first or p.first_name_folded != first,
            p.last_name_folded,
            p.pk,
        )
    )
    return [p.pk for p in hits[:10]]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(NAMES, FIRST, BIRTH), min_size=0, max_size=30),
    query=st.tuples(st.sampled_from(["m", "mu", "mue", "ma", "sch", "x"]), FIRST, BIRTH),
)
def test_ranks_like_the_single_ordering(organisation, rows, query):
    Patient.objects.all().delete()
    patients = [
        Patient(organisation=organisation, last_name=last, first_name=first, birth_date=birth)
        for last, first, birth in rows
    ]
    for patient in patients:
        patient.save()
    last_name, first_name, birth_date = query
    got = patient_suggestions(
        organisation=organisation, last_name=last_name, first_name=first_name, birth_date=birth_date
    )
    assert [p.pk for p in got] == reference(patients, last_name, first_name, birth_date)
