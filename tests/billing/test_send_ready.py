"""staff-api.md 1.1, "Invoices a practice may send": one test (or more) per sentence,
through the staff API."""

import hashlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from appointments.models import AppointmentStatus, ColumnKind
from billing import services
from billing.models import Invoice, InvoiceSequence, ServiceLine
from lemniscus.erasure import erasure
from tests.conftest import assert_problem, token_client
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

INVOICES = "/api/v1/invoices/"
PRACTICE = "/api/v1/practice/"
CHAINS = "/api/v1/service-chains/"
PATIENTS = "/api/v1/patients/"


def _post_invoice(api, patient, appointments, **extra):
    body = {
        "patient_id": str(patient.public_id),
        "appointment_ids": [str(a.public_id) for a in appointments],
        **extra,
    }
    return api.post(INVOICES, body, format="json")


def _book(organisation, patient, chain=None, *, days=1, **fields):
    return AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        start=timezone.now() - timedelta(days=days),
        **fields,
    )


# Practice data


def test_practice_is_readable_by_every_member(organisation):
    staff = token_client(UserFactory(organisation=organisation, role="staff"))

    response = staff.get(PRACTICE)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) >= {
        "name", "owner", "street", "postal_code", "city", "phone", "email", "tax_number",
        "vat_id", "iban", "bic", "account_holder", "payment_term_days", "no_show_fee",
        "no_show_fee_name",
    }  # fmt: skip
    assert body["owner"] == organisation.owner_name
    assert body["tax_number"] == "12/345/67890"
    assert (body["no_show_fee"], body["no_show_fee_name"]) == (None, "Ausfallhonorar")


def test_practice_is_changed_only_by_organisation_admins(organisation):
    staff = token_client(UserFactory(organisation=organisation, role="staff", can_billing=True))

    response = staff.patch(PRACTICE, {"city": "Potsdam"}, format="json")

    assert_problem(response, 403, "permission_denied")
    organisation.refresh_from_db()
    assert organisation.city == "Berlin"


def test_practice_patch_maps_the_contract_names_and_normalises(api, organisation):
    response = api.patch(
        PRACTICE,
        {
            "owner": "Dr. Eva Neu",
            "account_holder": "Eva Neu",
            "phone": "030 1234567",
            "vat_id": "de 123 456 788",
            "no_show_fee": "25.00",
            "no_show_fee_name": "Ausfallgebühr",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["owner"], body["account_holder"]) == ("Dr. Eva Neu", "Eva Neu")
    assert body["phone"] == "+49301234567"
    assert body["vat_id"] == "DE123456788"
    assert (body["no_show_fee"], body["no_show_fee_name"]) == ("25.00", "Ausfallgebühr")
    organisation.refresh_from_db()
    assert organisation.owner_name == "Dr. Eva Neu"
    assert organisation.no_show_fee == Decimal("25.00")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vat_id": "DE123456789"}, "vat_id"),  # wrong check digit
        ({"vat_id": "123456788"}, "vat_id"),  # no DE
        ({"vat_id": "ATU12345678"}, "vat_id"),
        ({"tax_number": "123"}, "tax_number"),
        ({"tax_number": "DE123456788"}, "tax_number"),  # a VAT id in the wrong field
        ({"iban": "DE00370400440532013000"}, "iban"),
        ({"no_show_fee": "-1.00"}, "no_show_fee"),
        ({"name": ""}, "name"),
    ],
)
def test_practice_refuses_what_is_wrong_and_changes_nothing(api, organisation, change, field):
    before = api.get(PRACTICE).json()

    response = api.patch(PRACTICE, change, format="json")

    assert_problem(response, 422, "validation_error")
    assert field in response.json()["errors"]
    assert api.get(PRACTICE).json() == before


def test_no_show_fee_can_be_cleared(api, organisation):
    api.patch(PRACTICE, {"no_show_fee": "30.00"}, format="json")

    response = api.patch(PRACTICE, {"no_show_fee": None}, format="json")

    assert response.json()["no_show_fee"] is None


# Services in a chain: tax categories


def _chain(api, **service):
    body = {
        "description": "Kette",
        "services": [{"name": "Leistung", "price": "10.00", "vat_rate": "0.00", **service}],
    }
    return api.post(CHAINS, body, format="json")


@pytest.mark.parametrize(
    ("rate", "category"), [("0.00", "exempt_therapy"), ("19.00", "taxable"), ("7.00", "taxable")]
)
def test_left_out_category_follows_the_rate(api, rate, category):
    response = _chain(api, vat_rate=rate)

    assert response.status_code == 201, response.content
    assert response.json()["services"][0]["tax_category"] == category


@pytest.mark.parametrize(
    ("category", "rate"),
    [
        ("exempt_therapy", "19.00"),
        ("taxable", "0.00"),
        ("taxable", "16.00"),
        ("not_taxable", "7.00"),
    ],
)
def test_a_rate_that_does_not_fit_the_category_is_422(api, category, rate):
    response = _chain(api, vat_rate=rate, tax_category=category)

    assert_problem(response, 422, "validation_error")
    assert "services.0.vat_rate" in response.json()["errors"]
    assert not ServiceLine.objects.exists()


def test_not_taxable_service_is_kept(api):
    response = _chain(api, tax_category="not_taxable")

    assert response.json()["services"][0]["tax_category"] == "not_taxable"


def test_existing_services_migrate_by_their_rate(organisation):
    """The data migration of billing 0006: 0.00 → exempt therapy, else taxable."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("billing.migrations.0006_tax_category_recipient_line_history_archive")
    chain = ServiceChainFactory(
        organisation=organisation,
        services=[
            ("A", "frei", Decimal("10"), Decimal("0"), 0),
            ("B", "Kurs", Decimal("10"), Decimal("19"), 0),
        ],
    )
    ServiceLine.objects.filter(chain=chain, code="A").update(tax_category="not_taxable")

    migration.categories_from_rates(apps, None)

    assert dict(chain.services.values_list("code", "tax_category")) == {
        "A": "exempt_therapy",
        "B": "taxable",
    }


# Billable as a treatment: done only; no-shows with the fee


def test_planned_appointment_is_422_not_yet_done(api, organisation, patient, chain):
    planned = _book(organisation, patient, chain, status=AppointmentStatus.PLANNED)

    response = _post_invoice(api, patient, [planned])

    assert_problem(response, 422, "validation_error")
    assert response.json()["errors"]["appointment_ids"] == [
        f"{planned.public_id}: ist noch nicht erledigt."
    ]
    assert not Invoice.objects.exists()


def test_no_show_becomes_one_fee_line_without_a_chain(api, organisation, patient):
    organisation.no_show_fee, organisation.no_show_fee_name = Decimal("35.00"), "Ausfallgebühr"
    organisation.save()
    missed = _book(organisation, patient, None, status=AppointmentStatus.NO_SHOW)

    response = _post_invoice(api, patient, [missed])

    assert response.status_code == 201, response.content
    body = response.json()
    (line,) = body["lines"]
    assert (line["name"], line["unit_price"], line["vat_rate"], line["tax_category"]) == (
        "Ausfallgebühr",
        "35.00",
        "0.00",
        "not_taxable",
    )
    assert (body["net_total"], body["vat_total"], body["total"]) == ("35.00", "0.00", "35.00")


def test_no_show_with_a_chain_bills_only_the_fee(api, organisation, patient, chain):
    organisation.no_show_fee = Decimal("20.00")
    organisation.save()
    missed = _book(organisation, patient, chain, status=AppointmentStatus.NO_SHOW)

    body = _post_invoice(api, patient, [missed]).json()

    assert [line["name"] for line in body["lines"]] == ["Ausfallhonorar"]


def test_no_show_without_a_configured_fee_is_422(api, organisation, patient, chain):
    missed = _book(organisation, patient, chain, status=AppointmentStatus.NO_SHOW)

    response = _post_invoice(api, patient, [missed])

    assert_problem(response, 422, "validation_error")
    (reason,) = response.json()["errors"]["appointment_ids"]
    assert reason.startswith(f"{missed.public_id}: ist nicht wahrgenommen worden")
    assert "Ausfallhonorar" in reason


def test_lines_carry_their_tax_category(api, organisation, patient, appointments):
    body = _post_invoice(api, patient, appointments).json()

    assert [line["tax_category"] for line in body["lines"][:2]] == ["exempt_therapy", "taxable"]


# Recipient


PARENT = {
    "salutation": "female",
    "title": "",
    "first_name": "Maria",
    "last_name": "Mutter",
    "street": "Elternweg 1",
    "postal_code": "14467",
    "city": "Potsdam",
    "email": "maria@example.org",
}


def test_without_recipient_a_draft_goes_to_the_patient(api, patient, appointments):
    body = _post_invoice(api, patient, appointments).json()

    assert body["recipient"]["last_name"] == patient.last_name
    assert body["recipient"]["street"] == "Hauptstraße 5"


def test_recipient_given_on_post_is_the_invoices(api, patient, appointments):
    response = _post_invoice(api, patient, appointments, recipient=PARENT)

    assert response.status_code == 201, response.content
    assert response.json()["recipient"] == PARENT


def test_recipient_needs_a_last_name(api, patient, appointments):
    response = _post_invoice(api, patient, appointments, recipient={**PARENT, "last_name": ""})

    assert_problem(response, 422, "validation_error")
    assert "recipient.last_name" in response.json()["errors"]
    assert not Invoice.objects.exists()


def test_patient_default_recipient_is_followed_by_a_draft_until_issued(
    api, organisation, patient, appointments
):
    url = f"{PATIENTS}{patient.public_id}/"
    assert api.patch(url, {"invoice_recipient": PARENT}, format="json").status_code == 200
    assert api.get(url).json()["invoice_recipient"] == PARENT
    draft = _post_invoice(api, patient, appointments).json()
    assert draft["recipient"] == PARENT

    moved = {**PARENT, "street": "Neuer Weg 2"}
    api.patch(url, {"invoice_recipient": moved}, format="json")
    assert api.get(f"{INVOICES}{draft['id']}/").json()["recipient"] == moved
    issued = api.post(f"{INVOICES}{draft['id']}/issue").json()
    api.patch(url, {"invoice_recipient": None}, format="json")

    assert issued["recipient"] == moved
    assert api.get(f"{INVOICES}{draft['id']}/").json()["recipient"] == moved


def test_patient_default_recipient_is_in_the_records_history(api, patient):
    url = f"{PATIENTS}{patient.public_id}/"
    api.patch(url, {"invoice_recipient": PARENT}, format="json")

    history = api.get(f"{url}history/").json()

    changes = [c for entry in history for c in entry["changes"]]
    assert {"field": "invoice_recipient", "label": "Rechnungsempfänger", "old": None,
            "new": PARENT} in changes  # fmt: skip


# Lines: id, therapist


def test_line_names_the_therapist_column_and_null_for_a_room(api, organisation, patient, chain):
    therapist = CalendarColumnFactory(organisation=organisation, name="Jonas Weber")
    room = CalendarColumnFactory(organisation=organisation, name="Raum 2", kind=ColumnKind.ROOM)
    booked = [
        _book(organisation, patient, chain, days=2, calendar_column=therapist),
        _book(organisation, patient, chain, days=1, calendar_column=room),
    ]

    lines = _post_invoice(api, patient, booked).json()["lines"]

    assert [line["therapist"] for line in lines] == ["Jonas Weber", "Jonas Weber", None, None]
    assert len({line["id"] for line in lines}) == 4


def test_therapist_is_kept_when_the_column_is_renamed(api, organisation, patient, appointments):
    invoice = _post_invoice(api, patient, appointments).json()
    column = appointments[0].calendar_column
    column.name = "Umbenannt"
    column.save()

    lines = api.get(f"{INVOICES}{invoice['id']}/").json()["lines"]

    assert "Umbenannt" not in {line["therapist"] for line in lines}


# Issuing needs the mandatory data


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("name", "practice.name"),
        ("street", "practice.street"),
        ("postal_code", "practice.postal_code"),
        ("city", "practice.city"),
        ("tax_number", "practice.tax_number"),
        ("iban", "practice.iban"),
    ],
)
def test_issuing_without_practice_data_is_invoice_incomplete(api, organisation, draft, field, key):
    type(organisation).objects.filter(pk=organisation.pk).update(**{field: ""})

    response = api.post(f"{INVOICES}{draft.public_id}/issue")

    assert_problem(response, 422, "invoice_incomplete")
    assert list(response.json()["errors"]) == [key]
    draft.refresh_from_db()
    assert (draft.status, draft.number) == ("draft", None)
    assert not InvoiceSequence.objects.filter(last_number__gt=0).exists()


def test_a_vat_id_stands_in_for_the_tax_number(api, organisation, draft):
    organisation.tax_number, organisation.vat_id = "", "DE123456788"
    organisation.save()

    response = api.post(f"{INVOICES}{draft.public_id}/issue")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("field", ["first_name", "last_name", "street", "postal_code", "city"])
def test_issuing_without_recipient_data_is_invoice_incomplete(api, organisation, admin_user, field):
    patient = PatientFactory(organisation=organisation, **{field: "x"})
    type(patient).objects.filter(pk=patient.pk).update(**{field: ""})
    booked = _book(organisation, patient, ServiceChainFactory(organisation=organisation))
    draft = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[booked]
    )

    response = api.post(f"{INVOICES}{draft.public_id}/issue")

    assert_problem(response, 422, "invoice_incomplete")
    assert list(response.json()["errors"]) == [f"recipient.{field}"]


def test_the_recipients_address_is_what_is_checked(api, organisation, admin_user):
    """A child without an address of its own, whose parent pays, can be billed."""
    child = PatientFactory(organisation=organisation, street="", postal_code="", city="")
    booked = _book(organisation, child, ServiceChainFactory(organisation=organisation))
    draft = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=child, appointments=[booked]
    )
    assert_problem(api.post(f"{INVOICES}{draft.public_id}/issue"), 422, "invoice_incomplete")

    services.invoice_set_recipient(invoice=draft, actor=admin_user, recipient=PARENT)

    assert api.post(f"{INVOICES}{draft.public_id}/issue").status_code == 200


def test_everything_missing_is_listed_at_once(api, organisation, admin_user):
    type(organisation).objects.filter(pk=organisation.pk).update(iban="", tax_number="")
    patient = PatientFactory(organisation=organisation, city="")
    booked = _book(organisation, patient, ServiceChainFactory(organisation=organisation))
    draft = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[booked]
    )

    errors = api.post(f"{INVOICES}{draft.public_id}/issue").json()["errors"]

    assert set(errors) == {"practice.tax_number", "practice.iban", "recipient.city"}
    assert all(isinstance(m, list) and m for m in errors.values())


# Archived as issued


def test_issuing_archives_the_pdf_and_serves_exactly_those_bytes(api, draft):
    issued = api.post(f"{INVOICES}{draft.public_id}/issue").json()

    pdf = api.get(f"{INVOICES}{draft.public_id}/pdf")

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == issued["pdf_sha256"]
    document = draft.documents.get()
    assert document.file.name.startswith(f"archiv/{draft.organisation.public_id}/invoice/")


def test_a_draft_has_no_archive_and_is_rendered_live(api, draft):
    body = api.get(f"{INVOICES}{draft.public_id}/").json()
    pdf = api.get(f"{INVOICES}{draft.public_id}/pdf")

    assert body["pdf_sha256"] is None
    assert pdf.content.startswith(b"%PDF-")
    assert not draft.documents.exists()


@pytest.mark.parametrize("later", ["pay", "cancel"])
def test_the_pdf_stays_byte_identical_whatever_happens_later(api, organisation, draft, later):
    api.post(f"{INVOICES}{draft.public_id}/issue")
    before = api.get(f"{INVOICES}{draft.public_id}/pdf").content
    organisation.street = "Neue Allee 9"
    organisation.save()

    api.post(f"{INVOICES}{draft.public_id}/{later}")
    after = api.get(f"{INVOICES}{draft.public_id}/pdf")

    assert after.content == before
    assert api.get(f"{INVOICES}{draft.public_id}/").json()["pdf_sha256"] == (
        hashlib.sha256(before).hexdigest()
    )


def test_the_storno_document_is_archived_when_cancelling(api, draft):
    api.post(f"{INVOICES}{draft.public_id}/issue")
    cancelled = api.post(f"{INVOICES}{draft.public_id}/cancel").json()

    first = api.get(f"{INVOICES}{draft.public_id}/cancellation-pdf").content
    second = api.get(f"{INVOICES}{draft.public_id}/cancellation-pdf").content

    assert first == second
    assert hashlib.sha256(first).hexdigest() == cancelled["cancellation_pdf_sha256"]


def test_a_damaged_archive_is_not_served(api, draft):
    api.post(f"{INVOICES}{draft.public_id}/issue")
    document = draft.documents.get()
    with open(document.file.path, "r+b") as file:
        file.seek(200)
        file.write(b"tampered")

    response = api.get(f"{INVOICES}{draft.public_id}/pdf")

    assert_problem(response, 500, "archive_damaged")


def test_a_missing_archive_file_is_not_served_either(api, draft):
    api.post(f"{INVOICES}{draft.public_id}/issue")
    draft.documents.get().file.delete(save=False)

    response = api.get(f"{INVOICES}{draft.public_id}/pdf")

    assert_problem(response, 500, "archive_damaged")


def test_an_invoice_issued_before_the_archive_is_archived_on_first_read(api, draft):
    """Invoices issued before this version have no stored PDF: the first read
    renders it once and stores it, later reads give those bytes."""
    api.post(f"{INVOICES}{draft.public_id}/issue")
    document = draft.documents.get()
    document.file.delete(save=False)
    with erasure():
        type(document).objects.filter(pk=document.pk).delete()

    first = api.get(f"{INVOICES}{draft.public_id}/pdf").content
    second = api.get(f"{INVOICES}{draft.public_id}/pdf").content

    assert first == second and first.startswith(b"%PDF-")
    assert draft.documents.count() == 1


# Conventions of 1.1


@pytest.mark.parametrize("path", ["/api/v1/practice", "/api/v1/practice/"])
def test_practice_answers_with_and_without_a_trailing_slash(api, path):
    assert api.get(path).status_code == 200
    assert api.patch(path, {"city": "Potsdam"}, format="json").json()["city"] == "Potsdam"


def test_status_is_checked_before_the_mandatory_data(api, organisation, admin_user, draft):
    """Issuing what is not a draft is 409 even when data is missing (409 before 422)."""
    services.invoice_issue(invoice=draft, actor=admin_user)
    type(organisation).objects.filter(pk=organisation.pk).update(iban="")

    response = api.post(f"{INVOICES}{draft.public_id}/issue/")

    assert_problem(response, 409, "invalid_status")
