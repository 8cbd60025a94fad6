"""Property-based fuzzing of the staff API from its own OpenAPI schema: every answer
as the schema documents it (tests/fuzz/conftest.py, check_answer)."""

import pytest

from billing.models import InvoiceStatus
from tests.factories import (
    AppointmentFactory,
    PatientFactory,
    SyncLogEntryFactory,
    doctolib_appointment,
    invoice_over,
)
from tests.fuzz.conftest import FUZZ_SETTINGS, SCHEMA, check_answer
from tokens.models import TokenKind
from tokens.services import token_create

staff = SCHEMA.include(path_regex=r"^/api/v1/")


@pytest.fixture
def staff_token(organisation, admin_user, keep_test_connection):
    """One object of each kind the lists answer with, in the states that leave fields
    empty or null (no e-mail, no chain match, a draft without number or dates)."""
    patient = PatientFactory(organisation=organisation, email="")
    AppointmentFactory(organisation=organisation, patient=patient)
    invoice_over(AppointmentFactory(organisation=organisation, patient=patient))
    invoice_over(
        AppointmentFactory(organisation=organisation, patient=patient), InvoiceStatus.DRAFT
    )
    doctolib_appointment(organisation, doctolib_patient_id="dp-1", doctolib_appointment_id="da-1")
    SyncLogEntryFactory(organisation=organisation)
    return token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)[1]


@pytest.mark.django_db
@staff.parametrize()
@FUZZ_SETTINGS
def test_staff_api_answers_as_documented(case, staff_token):
    check_answer(case, case.call(headers={"Authorization": f"Bearer {staff_token}"}))
