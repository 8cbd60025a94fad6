"""Contract tests of a draft's lines (staff-api.md 1.1, "Invoices a practice may
send", **Lines**): every sentence of the bullet, plus the readings in
docs/decisions.md ("Draft lines")."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from appointments.models import Appointment
from audit.models import AuditEvent
from billing import services
from billing.models import Invoice, InvoiceLine, InvoiceStatus
from tests.billing.conftest import make_draft
from tests.conftest import assert_problem
from tests.factories import AppointmentFactory, CalendarColumnFactory, invoice_over

pytestmark = pytest.mark.django_db

HOME_VISIT = {
    "code": "HB",
    "name": "Hausbesuch",
    "quantity": "1",
    "unit_price": "25.00",
    "tax_category": "not_taxable",
    "vat_rate": "0.00",
    "service_date": None,
}
LINE_FIELDS = {"id", "appointment_id", "service_date", "code", "name", "therapist",
               "quantity", "unit_price", "vat_rate", "tax_category", "amount"}  # fmt: skip


def _lines_url(invoice, slash: bool = True) -> str:
    return f"/api/v1/invoices/{invoice.public_id}/lines" + ("/" if slash else "")


def _line_url(invoice, line, slash: bool = True) -> str:
    return f"/api/v1/invoices/{invoice.public_id}/lines/{line.public_id}" + ("/" if slash else "")


def _totals(invoice) -> tuple[str, str, str]:
    invoice.refresh_from_db()
    return (str(invoice.net_total), str(invoice.vat_total), str(invoice.total))


def _state(invoice) -> list:
    return [
        list(Invoice.objects.filter(pk=invoice.pk).values()),
        list(InvoiceLine.objects.filter(invoice=invoice).order_by("pk").values()),
        list(Appointment.objects.order_by("pk").values("pk", "invoice_id")),
    ]


# Lines gain `id`, `therapist` and `tax_category`.


def test_lines_carry_id_therapist_and_tax_category(api, draft):
    body = api.get(f"/api/v1/invoices/{draft.public_id}/").json()

    first = draft.lines.order_by("position").first()
    assert set(body["lines"][0]) == LINE_FIELDS
    assert body["lines"][0]["id"] == str(first.public_id)
    assert body["lines"][0]["therapist"] == first.appointment.calendar_column.name
    assert [line["tax_category"] for line in body["lines"][:2]] == ["exempt_therapy", "taxable"]


def test_therapist_is_null_for_a_room(api, organisation, admin_user, patient, chain):
    room = CalendarColumnFactory(organisation=organisation, kind="room")
    appointment = AppointmentFactory(
        organisation=organisation,
        patient=patient,
        service_chain=chain,
        calendar_column=room,
        start=timezone.now() - timedelta(days=1),
    )
    invoice = services.invoice_create(
        organisation=organisation, actor=admin_user, patient=patient, appointments=[appointment]
    )

    body = api.get(f"/api/v1/invoices/{invoice.public_id}/").json()

    assert {line["therapist"] for line in body["lines"]} == {None}


# POST /invoices/{id}/lines adds a free line (no appointment).


@pytest.mark.parametrize("slash", [True, False])
def test_post_adds_a_free_line_and_answers_201_with_it(api, organisation, draft, slash):
    response = api.post(_lines_url(draft, slash), HOME_VISIT, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    line = InvoiceLine.objects.get(public_id=body["id"])
    assert body == {
        "id": str(line.public_id),
        "appointment_id": None,
        "service_date": organisation.today().isoformat(),
        "code": "HB",
        "name": "Hausbesuch",
        "therapist": None,
        "quantity": "1.00",
        "unit_price": "25.00",
        "vat_rate": "0.00",
        "tax_category": "not_taxable",
        "amount": "25.00",
    }
    assert line.invoice == draft and line.appointment is None
    # The new line is the last one; the totals follow.
    assert draft.lines.order_by("position").last() == line
    assert _totals(draft) == ("147.70", "4.79", "152.49")
    listed = api.get(f"/api/v1/invoices/{draft.public_id}/").json()
    assert listed["lines"][-1]["id"] == str(line.public_id)
    assert listed["total"] == "152.49"


def test_post_amount_is_quantity_times_unit_price_with_vat_per_rate(api, draft):
    body = {
        "name": "Kinesio-Tape",
        "quantity": "2.5",
        "unit_price": "3.99",
        "vat_rate": "19.00",
        "service_date": "2025-01-10",
    }
    response = api.post(_lines_url(draft), body, format="json")

    assert response.status_code == 201, response.content
    line = response.json()
    # 2.5 × 3.99 = 9.975 → 9.98; category follows the rate; code defaults to "".
    assert (line["amount"], line["tax_category"], line["code"]) == ("9.98", "taxable", "")
    assert line["service_date"] == "2025-01-10"
    # Taxable net 25.20 + 9.98 = 35.18, VAT 19 % on the rate's sum: 6.68.
    assert _totals(draft) == ("132.68", "6.68", "139.36")


def test_post_category_left_out_follows_the_rate(api, draft):
    body = {"name": "Befundbericht", "unit_price": "20.00", "vat_rate": "0.00"}
    response = api.post(_lines_url(draft), body, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["tax_category"] == "exempt_therapy"
    assert response.json()["quantity"] == "1.00"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"tax_category": "exempt_therapy", "vat_rate": "19.00"}, "vat_rate"),
        ({"tax_category": "taxable", "vat_rate": "0.00"}, "vat_rate"),
        ({"tax_category": "not_taxable", "vat_rate": "7.00"}, "vat_rate"),
        ({"tax_category": None, "vat_rate": "16.00"}, "vat_rate"),
        ({"tax_category": "taxable", "vat_rate": None}, "vat_rate"),
        ({"quantity": "0"}, "quantity"),
        ({"quantity": "-1"}, "quantity"),
        ({"unit_price": "-0.01"}, "unit_price"),
        ({"name": ""}, "name"),
        ({"quantity": "abc"}, "quantity"),
        ({"service_date": "2999-01-01"}, "service_date"),
        ({"quantity": "99999.99", "unit_price": "99999999.99"}, "quantity"),
    ],
)
def test_post_invalid_line_is_422_and_saves_nothing(api, draft, change, field):
    body = {**HOME_VISIT, **change}
    body = {k: v for k, v in body.items() if v is not None or k == "service_date"}
    before = _state(draft)

    response = api.post(_lines_url(draft), body, format="json")

    assert_problem(response, 422, "validation_error")
    assert field in response.json()["errors"]
    assert _state(draft) == before


def test_total_beyond_what_an_invoice_holds_is_422(api, draft):
    line = {**HOME_VISIT, "quantity": "1", "unit_price": "99999999.99"}
    before = _state(draft)

    response = api.post(_lines_url(draft), line, format="json")

    assert_problem(response, 422, "validation_error")
    assert _state(draft) == before


def test_small_business_bills_a_taxable_free_line_at_zero(api, organisation, admin_user):
    organisation.small_business = True
    organisation.save()
    invoice = make_draft(organisation=organisation, actor=admin_user)
    body = {"name": "Massageöl", "unit_price": "10.00", "vat_rate": "19.00"}

    response = api.post(_lines_url(invoice), body, format="json")

    assert response.status_code == 201, response.content
    assert (response.json()["tax_category"], response.json()["vat_rate"]) == ("taxable", "0.00")
    assert _totals(invoice)[1] == "0.00"


# PATCH /invoices/{id}/lines/{line_id} changes one.


@pytest.mark.parametrize("slash", [True, False])
def test_patch_changes_price_and_quantity_of_an_appointment_line(api, draft, slash):
    line = draft.lines.order_by("position")[1]  # Massageöl, 8.40 at 19 %

    response = api.patch(
        _line_url(draft, line, slash), {"unit_price": "10.00", "quantity": "2"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["unit_price"], body["quantity"], body["amount"]) == ("10.00", "2.00", "20.00")
    assert body["appointment_id"] == str(line.appointment.public_id)
    # Taxable net 16.80 + 20.00 = 36.80, VAT 6.99; exempt 97.50.
    assert _totals(draft) == ("134.30", "6.99", "141.29")


def test_patch_changes_name_code_and_tax_of_a_free_line(api, draft):
    line = services.invoice_line_add(
        invoice=draft, actor=None, name="Hausbesuch", quantity=1, unit_price=25
    )

    response = api.patch(
        _line_url(draft, line),
        {
            "name": "Hausbesuch (Pauschale)",
            "code": "HB2",
            "vat_rate": "19.00",
            "service_date": "2025-02-03",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["code"], body["tax_category"], body["vat_rate"]) == (
        "Hausbesuch (Pauschale)",
        "HB2",
        "taxable",
        "19.00",
    )
    assert body["service_date"] == "2025-02-03"
    assert _totals(draft) == ("147.70", "9.54", "157.24")


def test_patch_service_date_of_an_appointment_line_is_422(api, draft):
    line = draft.lines.first()
    before = _state(draft)

    response = api.patch(_line_url(draft, line), {"service_date": "2025-01-01"}, format="json")

    assert_problem(response, 422, "validation_error")
    assert "service_date" in response.json()["errors"]
    assert _state(draft) == before


@pytest.mark.parametrize(
    "change",
    [{"quantity": "0"}, {"unit_price": "-1"}, {"tax_category": "taxable"}, {"name": None}],
)
def test_patch_invalid_is_422_and_saves_nothing(api, draft, change):
    line = draft.lines.first()  # exempt therapy at 0.00
    before = _state(draft)

    response = api.patch(_line_url(draft, line), change, format="json")

    assert_problem(response, 422, "validation_error")
    assert _state(draft) == before


# DELETE /invoices/{id}/lines/{line_id} removes one.


@pytest.mark.parametrize("slash", [True, False])
def test_delete_removes_a_line_and_the_totals_follow(api, draft, slash):
    line = draft.lines.order_by("position")[1]  # Massageöl of the first appointment

    response = api.delete(_line_url(draft, line, slash))

    assert response.status_code == 204, response.content
    assert not InvoiceLine.objects.filter(pk=line.pk).exists()
    assert _totals(draft) == ("114.30", "3.19", "117.49")
    # The appointment keeps its other line, so it stays on the draft.
    assert Appointment.objects.get(pk=line.appointment_id).invoice_id == draft.pk


def test_delete_of_an_appointments_last_line_makes_it_billable_again(
    api, draft, appointments, patient
):
    first = appointments[0]
    for line in draft.lines.filter(appointment=first):
        assert api.delete(_line_url(draft, line)).status_code == 204

    first.refresh_from_db()
    assert first.invoice_id is None
    assert _totals(draft) == ("81.80", "3.19", "84.99")
    again = api.post(
        "/api/v1/invoices/",
        {"patient_id": str(patient.public_id), "appointment_ids": [str(first.public_id)]},
        format="json",
    )
    assert again.status_code == 201, again.content


def test_delete_of_the_last_line_is_422(api, organisation, admin_user):
    invoice = make_draft(organisation=organisation, actor=admin_user)
    before = _state(invoice)

    response = api.delete(_line_url(invoice, invoice.lines.get()))

    assert_problem(response, 422, "validation_error")
    assert _state(invoice) == before


# On anything but a draft: 409 invalid_status (before validation: 409 before 422).


@pytest.mark.parametrize("status", [InvoiceStatus.ISSUED, InvoiceStatus.PAID])
@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_anything_but_a_draft_is_409_even_with_an_invalid_body(
    api, organisation, patient, method, status
):
    appointment = AppointmentFactory(organisation=organisation, patient=patient)
    invoice = invoice_over(appointment, status)
    line = invoice.lines.get()
    before = _state(invoice)
    bad = {"quantity": "-1", "unit_price": "x"}

    if method == "post":
        response = api.post(_lines_url(invoice), bad, format="json")
    elif method == "patch":
        response = api.patch(_line_url(invoice, line), bad, format="json")
    else:
        response = api.delete(_line_url(invoice, line))

    assert_problem(response, 409, "invalid_status")
    assert _state(invoice) == before


def test_a_cancelled_draft_is_409(api, draft, admin_user):
    services.invoice_cancel(invoice=draft, actor=admin_user)

    response = api.post(_lines_url(draft), HOME_VISIT, format="json")

    assert_problem(response, 409, "invalid_status")


# Other organisations' invoices and lines answer 404, like missing ones.


def test_other_organisations_invoice_and_line_are_404(other_api, draft):
    line = draft.lines.first()
    before = _state(draft)

    assert_problem(other_api.post(_lines_url(draft), HOME_VISIT, format="json"), 404, "not_found")
    assert_problem(
        other_api.patch(_line_url(draft, line), {"quantity": "2"}, format="json"), 404, "not_found"
    )
    assert_problem(other_api.delete(_line_url(draft, line)), 404, "not_found")
    assert _state(draft) == before


def test_a_line_of_another_invoice_or_unknown_is_404(api, organisation, admin_user, draft):
    other = make_draft(organisation=organisation, actor=admin_user)
    foreign_line = other.lines.get()

    assert_problem(api.delete(_line_url(draft, foreign_line)), 404, "not_found")
    assert_problem(api.delete(f"{_lines_url(draft)}{uuid.uuid4()}/"), 404, "not_found")
    assert_problem(api.delete(f"{_lines_url(draft)}kein-uuid/"), 404, "not_found")
    assert InvoiceLine.objects.filter(pk=foreign_line.pk).exists()


# Every change is in the Protokoll and in the history.


def test_changes_are_audited_without_amounts(api, draft):
    line_id = api.post(_lines_url(draft), HOME_VISIT, format="json").json()["id"]
    api.patch(f"{_lines_url(draft)}{line_id}/", {"unit_price": "30.00"}, format="json")
    api.delete(f"{_lines_url(draft)}{line_id}/")

    entries = list(
        AuditEvent.objects.filter(object_id=str(draft.public_id))
        .order_by("pk")
        .values_list("action", "detail")
    )
    assert entries[-3:] == [
        ("invoice.line_add", "freie Position HB"),
        ("invoice.line_update", "freie Position HB"),
        ("invoice.line_remove", "freie Position HB"),
    ]
    assert InvoiceLine.history.filter(public_id=line_id).count() == 3
