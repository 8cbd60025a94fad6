"""Property-based fuzzing of the Zipper API from its own OpenAPI schema."""

import pytest

from tests.factories import PatientFactory, ServiceChainFactory
from tests.fuzz.conftest import FUZZ_SETTINGS, SCHEMA, check_answer
from tokens.models import TokenKind
from tokens.services import token_create

zipper = SCHEMA.include(path_regex=r"^/api/zipper/v1/")


@pytest.fixture
def zipper_token(organisation, settings, keep_test_connection):
    settings.ZIPPER_RATE_LIMIT = "1000000/min"
    PatientFactory(organisation=organisation, sync_to_doctolib=True, doctolib_patient_id="0")
    ServiceChainFactory(organisation=organisation, description="0")
    return token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1]


@pytest.mark.django_db
@zipper.parametrize()
@FUZZ_SETTINGS
def test_zipper_api_never_500(case, zipper_token):
    check_answer(case.call(headers={"Authorization": f"Bearer {zipper_token}"}))
