from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments.models import Appointment, AppointmentSeries, CalendarColumn
from billing.models import (
    BillingRun,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    ServiceChain,
    ServiceLine,
)
from billing.services import invoice_create, invoice_issue
from doctolib_bridge.handover.services import export_start
from doctolib_bridge.models import (
    ChangeFeedEntry,
    DoctolibPatientState,
    ExportedAppointment,
    ExportJob,
    FeedCounter,
    IdempotencyRecord,
    RemovedAppointment,
    SyncLogEntry,
    Transfer,
)
from organisations.models import Organisation, Role, User
from patients.models import Patient
from tests.admin.conftest import url
from tests.factories import (
    AppointmentFactory,
    OrganisationFactory,
    PatientFactory,
    SyncLogEntryFactory,
    UserFactory,
)
from tokens.models import Token, TokenKind
from tokens.services import token_create

pytestmark = pytest.mark.django_db

OUR_APPS = ("organisations", "patients", "appointments", "billing", "tokens", "doctolib_bridge")

# A search term per admin that finds the rows `practice` makes.
SEARCHES = {
    Organisation: "Praxis",
    User: "praxis.test",
    Patient: "Müller",
    CalendarColumn: "Therapeut",
    Appointment: "Müller",
    AppointmentSeries: "Müller",
    ServiceChain: "Krankengymnastik",
    Invoice: "Müller",
    InvoiceSequence: "ORG-",
    Token: "lmn_",
    SyncLogEntry: "/api/zipper/",
    Transfer: "dl-transfer",
    ChangeFeedEntry: "Müller",
    DoctolibPatientState: "Müller",
    FeedCounter: "Praxis",
    IdempotencyRecord: "/api/zipper/",
    ExportJob: "Praxis",
    RemovedAppointment: "Praxis",
    BillingRun: "Praxis",
}


def practice(number: int = 0) -> Organisation:
    """An organisation with one row of every model, as the admin shows them."""
    organisation = OrganisationFactory(name=f"Praxis {number}")
    owner = UserFactory(organisation=organisation, role=Role.ADMIN)
    patient = PatientFactory(
        organisation=organisation,
        last_name="Müller",
        sync_to_doctolib=True,
        doctolib_patient_id=f"dl-patient-{number}",
    )
    appointment = AppointmentFactory(organisation=organisation, patient=patient)
    invoice_issue(
        invoice=invoice_create(
            organisation=organisation, actor=owner, patient=patient, appointments=[appointment]
        ),
        actor=owner,
    )
    token_create(organisation=organisation, kind=TokenKind.API, user=owner)
    token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)
    SyncLogEntryFactory(organisation=organisation)
    Transfer.objects.create(
        organisation=organisation, doctolib_appointment_id=f"dl-transfer-{number}", payload={}
    )
    FeedCounter.objects.create(organisation=organisation, last_cursor=1)
    ChangeFeedEntry.objects.create(
        organisation=organisation, cursor=1, patient=patient, fields=["email"]
    )
    DoctolibPatientState.objects.create(patient=patient, last_known={"email": ""})
    IdempotencyRecord.objects.create(
        organisation=organisation,
        method="PUT",
        path="/api/zipper/v1/patients",
        key=f"key-{number}",
        body_hash="0" * 64,
        status=200,
        response_body={},
    )
    AppointmentFactory(
        organisation=organisation, patient=patient, start=timezone.now() + timedelta(days=1)
    )
    AppointmentSeries.objects.create(
        organisation=organisation,
        patient=patient,
        calendar_column=appointment.calendar_column,
        first_start=timezone.now() + timedelta(days=2),
        duration_minutes=30,
        count=6,
    )
    export_start(organisation=organisation, actor=owner, delete_appointments=True)
    BillingRun.objects.create(
        organisation=organisation,
        created_by=owner,
        period_start=timezone.localdate() - timedelta(days=30),
        period_end=timezone.localdate(),
    )
    return organisation


# A run's working rows, deleted when the run ends: nothing for support to read.
NOT_IN_THE_ADMIN = {ExportedAppointment}


def our_models():
    return [
        model
        for label in OUR_APPS
        for model in apps.get_app_config(label).get_models()
        if not model.__name__.startswith("Historical") and model not in NOT_IN_THE_ADMIN
    ]


def test_every_model_has_an_admin_or_is_an_inline():
    inlines = {
        i.model for model_admin in admin.site._registry.values() for i in model_admin.inlines
    }
    assert {ServiceLine, InvoiceLine} <= inlines
    assert [m for m in our_models() if m not in admin.site._registry and m not in inlines] == []
    assert set(SEARCHES) == set(admin.site._registry) & set(our_models())


@pytest.mark.parametrize("model", list(SEARCHES), ids=lambda m: m.__name__)
def test_changelist_search_finds_rows_in_constant_queries(
    support, model, django_assert_max_num_queries
):
    practice(0)
    with CaptureQueriesContext(connection) as one_practice:
        assert support.get(url(model, "changelist")).status_code == 200
    for number in range(1, 3):
        practice(number)

    with django_assert_max_num_queries(len(one_practice)):
        response = support.get(url(model, "changelist"), {"q": SEARCHES[model]})

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 3, SEARCHES[model]


@pytest.mark.parametrize("model", list(SEARCHES), ids=lambda m: m.__name__)
def test_changelist_sorts_by_every_column(support, model):
    practice()
    # As the changelist numbers them (the action checkbox, if any, comes first).
    columns = support.get(url(model, "changelist")).context["cl"].list_display

    for index in range(len(columns)):
        response = support.get(url(model, "changelist"), {"o": f"-{index}"})
        assert response.status_code == 200
        assert response.context["cl"].result_count == model.objects.count()


@pytest.mark.parametrize("model", list(SEARCHES), ids=lambda m: m.__name__)
def test_change_page_shows_a_row(support, model):
    practice()
    row = model.objects.order_by("pk").first()

    response = support.get(url(model, "change", row.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", [Patient, Appointment, Invoice], ids=lambda m: m.__name__)
def test_history_page_of_recorded_models(support, model):
    practice()
    row = model.objects.first()

    assert support.get(url(model, "history", row.pk)).status_code == 200


def test_changelist_headers_and_filters_are_german(support):
    practice(0)
    practice(1)

    page = support.get(url(Appointment, "changelist")).content.decode()

    for label in ("Beginn", "Patient/in", "Kalenderspalte", "Leistungskette", "Organisation"):
        assert f">{label}<" in page or f">{label}</a>" in page, label
    assert "Nach Organisation" in page
    assert ">start<" not in page
