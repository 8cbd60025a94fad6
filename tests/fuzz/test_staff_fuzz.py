"""Property-based fuzzing of the staff API from its own OpenAPI schema."""

import pytest

from tests.factories import AppointmentFactory, PatientFactory
from tests.fuzz.conftest import FUZZ_SETTINGS, SCHEMA, check_answer
from tokens.models import TokenKind
from tokens.services import token_create

staff = SCHEMA.include(path_regex=r"^/api/v1/")


@pytest.fixture
def staff_token(organisation, admin_user, keep_test_connection):
    patient = PatientFactory(organisation=organisation)
    AppointmentFactory(organisation=organisation, patient=patient)
    return token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)[1]


@pytest.mark.django_db
@staff.parametrize()
@FUZZ_SETTINGS
def test_staff_api_never_500(case, staff_token):
    check_answer(case.call(headers={"Authorization": f"Bearer {staff_token}"}))
