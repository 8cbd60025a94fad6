"""Property-based fuzzing of the Zipper API from its own OpenAPI schema: every answer
as the schema documents it (tests/fuzz/conftest.py, check_answer)."""

import pytest

from doctolib_bridge.feed import feed_append
from tests.factories import PatientFactory, ServiceChainFactory, doctolib_appointment
from tests.fuzz.conftest import FUZZ_SETTINGS, SCHEMA, check_answer
from tokens.models import TokenKind
from tokens.services import token_create

zipper = SCHEMA.include(path_regex=r"^/api/zipper/v1/")


@pytest.fixture
def zipper_token(organisation, settings, keep_test_connection):
    """Objects under the ids the generator tries first ("0"), and a change feed with
    both kinds of entry, so that success bodies are checked too."""
    settings.ZIPPER_RATE_LIMIT = "1000000/min"
    linked = doctolib_appointment(
        organisation, doctolib_patient_id="0", doctolib_appointment_id="0"
    ).patient
    unlinked = PatientFactory(organisation=organisation, sync_to_doctolib=True, birth_date=None)
    feed_append(patient=unlinked, fields=["last_name"])
    feed_append(patient=linked, fields=["street"])
    ServiceChainFactory(organisation=organisation, description="0")
    return token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1]


@pytest.mark.django_db
@zipper.parametrize()
@FUZZ_SETTINGS
def test_zipper_api_answers_as_documented(case, zipper_token):
    check_answer(case, case.call(headers={"Authorization": f"Bearer {zipper_token}"}))
