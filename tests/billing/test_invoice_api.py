import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from appointments.models import Appointment
from billing import services
from billing.models import Invoice, InvoiceSequence
from tests.billing.conftest import make_draft
from tests.conftest import assert_problem, token_client
from tests.factories import AppointmentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/invoices/"
FIELDS = {"id", "number", "status", "patient_id", "issue_date", "lines", "net_total",
          "vat_total", "total", "recipient", "pdf_sha256"}  # fmt: skip
MISSING = object()
LINE_FIELDS = {"id", "appointment_id", "code", "name", "quantity", "unit_price", "vat_rate",
               "amount", "therapist", "tax_category"}  # fmt: skip


def _body(patient, appointments) -> dict:
    return {
        "patient_id": str(patient.public_id),
        "appointment_ids": [str(a.public_id) for a in appointments],
    }


def _snapshot() -> list[dict]:
    """Everything the invoice endpoints could change."""
    return [
        list(Invoice.objects.order_by("pk").values()),
        list(Appointment.objects.order_by("pk").values("pk", "invoice_id")),
        list(InvoiceSequence.objects.values()),
    ]


def test_create_answers_the_draft(api, organisation, patient, appointments):
    response = api.post(URL, _body(patient, appointments), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= FIELDS
    assert body["number"] is None
    assert body["status"] == "draft"
    assert body["issue_date"] is None
    assert body["patient_id"] == str(patient.public_id)
    assert (body["net_total"], body["vat_total"], body["total"]) == ("122.70", "4.79", "127.49")
    assert len(body["lines"]) == 6
    assert set(body["lines"][0]) >= LINE_FIELDS
    first = appointments[0].invoice_lines.order_by("position").first()
    assert body["lines"][0] == {
        "id": str(first.public_id),
        "appointment_id": str(appointments[0].public_id),
        "service_date": timezone.localdate(appointments[0].start, organisation.zone).isoformat(),
        "code": "X1501",
        "name": "Krankengymnastik",
        "therapist": appointments[0].calendar_column.name,
        "quantity": "1.00",
        "unit_price": "32.50",
        "vat_rate": "0.00",
        "tax_category": "exempt_therapy",
        "amount": "32.50",
    }
    invoice = Invoice.objects.get(public_id=body["id"])
    assert set(invoice.locked_appointments.all()) == set(appointments)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patient_id": MISSING}, "patient_id"),
        ({"patient_id": "nope"}, "patient_id"),
        ({"patient_id": 5}, "patient_id"),
        ({"patient_id": None}, "patient_id"),
        ({"appointment_ids": []}, "appointment_ids"),
        ({"appointment_ids": "abc"}, "appointment_ids"),
        ({"appointment_ids": ["kein-uuid"]}, "appointment_ids.0"),
        ({"appointment_ids": [7]}, "appointment_ids.0"),
        ({"diagnosis": ["x"]}, "diagnosis"),
    ],
)
def test_create_rejects_bad_input(api, patient, appointments, body, field):
    payload = {
        k: v for k, v in {**_body(patient, appointments), **body}.items() if v is not MISSING
    }
    before = _snapshot()

    response = api.post(URL, payload, format="json")

    assert field in assert_problem(response, 422, "validation_error")["errors"]
    assert _snapshot() == before


def test_duplicate_appointment_ids_are_422(api, patient, appointments):
    body = _body(patient, [appointments[0], appointments[0]])

    response = api.post(URL, body, format="json")

    assert "appointment_ids" in assert_problem(response, 422, "validation_error")["errors"]
    assert not Invoice.objects.exists()


def test_malformed_json_is_400(api):
    response = api.post(URL, "[1]", content_type="application/json")

    assert_problem(response, 400, "malformed_request")
    assert not Invoice.objects.exists()


def test_unbillable_appointment_is_422_naming_it(api, patient, appointments, other_organisation):
    unknown = uuid.uuid4()
    foreign = AppointmentFactory(organisation=other_organisation)
    body = _body(patient, appointments)
    body["appointment_ids"] += [str(unknown), str(foreign.public_id)]

    response = api.post(URL, body, format="json")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == {
        "appointment_ids": [
            f"{unknown}: Termin nicht gefunden.",
            f"{foreign.public_id}: Termin nicht gefunden.",
        ]
    }
    assert not Invoice.objects.exists()


def test_future_appointment_is_422_naming_it(api, organisation, patient, appointments):
    future = AppointmentFactory(organisation=organisation, patient=patient)
    Appointment.objects.filter(pk=future.pk).update(start=future.start.replace(year=2099))

    response = api.post(URL, _body(patient, [*appointments, future]), format="json")

    problem = assert_problem(response, 422, "validation_error")
    assert problem["errors"] == {"appointment_ids": [f"{future.public_id}: liegt in der Zukunft."]}
    assert not Appointment.objects.filter(invoice__isnull=False).exists()


def test_patient_of_another_organisation_or_unknown_is_404(api, other_organisation, appointments):
    foreign = PatientFactory(organisation=other_organisation)

    for patient_id in (str(foreign.public_id), str(uuid.uuid4())):
        body = {**_body(foreign, appointments), "patient_id": patient_id}
        assert_problem(api.post(URL, body, format="json"), 404, "not_found")

    assert not Invoice.objects.exists()


def test_list_newest_first_in_constant_queries(
    api, organisation, admin_user, django_assert_max_num_queries
):
    drafts = [make_draft(organisation=organisation, actor=admin_user, count=3) for _ in range(12)]

    with django_assert_max_num_queries(8):  # lines, documents, payments, dunning notices
        small = api.get(URL, {"page_size": 1})
    with django_assert_max_num_queries(8):  # lines, documents, payments, dunning notices
        large = api.get(URL, {"page_size": 500})

    assert [r["id"] for r in small.json()["results"]] == [str(drafts[-1].public_id)]
    results = large.json()["results"]
    assert [r["id"] for r in results] == [str(d.public_id) for d in reversed(drafts)]
    assert all(len(r["lines"]) == 3 for r in results)


def test_detail_in_constant_queries(api, organisation, admin_user, django_assert_max_num_queries):
    small = make_draft(organisation=organisation, actor=admin_user, count=1)
    large = make_draft(organisation=organisation, actor=admin_user, count=40)

    with django_assert_max_num_queries(7):  # lines, documents, payments
        one = api.get(f"{URL}{small.public_id}/")
    with django_assert_max_num_queries(7):  # lines, documents, payments
        many = api.get(f"{URL}{large.public_id}/")

    assert len(one.json()["lines"]) == 1
    assert len(many.json()["lines"]) == 40
    assert len({line["appointment_id"] for line in many.json()["lines"]}) == 40


def test_issue_pay_cancel_answer_the_invoice(api, organisation, draft):
    year = organisation.today().year
    url = f"{URL}{draft.public_id}"

    issued = api.post(f"{url}/issue")
    assert issued.status_code == 200, issued.content
    assert issued.json()["status"] == "issued"
    assert issued.json()["number"] == f"{year}-0001"
    assert issued.json()["issue_date"] == organisation.today().isoformat()
    assert len(issued.json()["lines"]) == 6

    paid = api.post(f"{url}/pay/")
    assert (paid.status_code, paid.json()["status"]) == (200, "paid")

    cancelled = api.post(f"{url}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["number"] == f"{year}-0001"
    assert cancelled.json()["cancelled_at"]
    assert api.get(f"{url}/").json()["number"] == f"{year}-0001"
    assert not Appointment.objects.filter(invoice__isnull=False).exists()


def test_discarding_a_draft_over_the_api(api, draft):
    response = api.post(f"{URL}{draft.public_id}/cancel/")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["number"]) == ("cancelled", None)


@pytest.mark.parametrize("action", ["issue", "pay"])
def test_not_allowed_status_change_is_409_and_changes_nothing(
    api, organisation, admin_user, draft, action
):
    services.invoice_cancel(invoice=draft, actor=admin_user)
    before = _snapshot()

    response = api.post(f"{URL}{draft.public_id}/{action}/")

    assert_problem(response, 409, "invalid_status")
    assert _snapshot() == before


def test_issuing_an_issued_invoice_uses_no_number(api, organisation, admin_user, draft):
    api.post(f"{URL}{draft.public_id}/issue/")

    assert_problem(api.post(f"{URL}{draft.public_id}/issue/"), 409, "invalid_status")

    nxt = make_draft(organisation=organisation, actor=admin_user)
    number = api.post(f"{URL}{nxt.public_id}/issue/").json()["number"]
    assert number == f"{organisation.today().year}-0002"


def test_invoices_are_never_deleted_or_edited(api, draft):
    url = f"{URL}{draft.public_id}/"
    before = _snapshot()

    assert_problem(api.delete(url), 405, "method_not_allowed")
    assert_problem(api.patch(url, {"status": "paid"}, format="json"), 405, "method_not_allowed")
    assert_problem(api.put(url, {}, format="json"), 405, "method_not_allowed")

    assert _snapshot() == before


def test_other_organisation_invoice_is_404_and_unchanged(other_api, draft):
    before = _snapshot()
    url = f"{URL}{draft.public_id}"

    assert_problem(other_api.get(f"{url}/"), 404, "not_found")
    for action in ("issue", "pay", "cancel"):
        assert_problem(other_api.post(f"{url}/{action}/"), 404, "not_found")
    assert_problem(other_api.get(f"{url}/pdf/"), 404, "not_found")
    assert other_api.get(URL).json()["count"] == 0
    assert_problem(other_api.post(f"{URL}no-uuid/issue/"), 404, "not_found")

    assert _snapshot() == before


def test_other_organisation_cannot_bill_our_patient(other_api, patient, appointments):
    response = other_api.post(URL, _body(patient, appointments), format="json")

    assert_problem(response, 404, "not_found")
    assert not Invoice.objects.exists()


def test_invoices_need_the_billing_right_even_to_read(organisation, patient, appointments, draft):
    client = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))
    before = _snapshot()

    assert_problem(client.get(URL), 403, "permission_denied")
    assert_problem(client.get(f"{URL}{draft.public_id}/"), 403, "permission_denied")
    assert_problem(client.get(f"{URL}{draft.public_id}/pdf/"), 403, "permission_denied")
    assert_problem(client.post(f"{URL}{draft.public_id}/issue/"), 403, "permission_denied")
    assert_problem(client.post(URL, _body(patient, appointments), format="json"), 403,
                   "permission_denied")  # fmt: skip

    assert _snapshot() == before


def test_staff_with_billing_right_bills(organisation, draft):
    client = token_client(UserFactory(organisation=organisation, role="staff", can_billing=True))

    assert client.get(URL).json()["count"] == 1
    assert client.post(f"{URL}{draft.public_id}/issue/").status_code == 200


def test_without_token_is_401(draft):
    response = APIClient().post(f"{URL}{draft.public_id}/issue/")

    assert_problem(response, 401, "token_invalid")
    draft.refresh_from_db()
    assert draft.status == "draft"


@pytest.mark.parametrize("accept", [None, "application/pdf", "application/json"])
def test_pdf_endpoint_returns_a_pdf(api, draft, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = api.get(f"{URL}{draft.public_id}/pdf", **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert 'filename="Rechnungsentwurf.pdf"' in response["Content-Disposition"]


def test_pdf_of_an_issued_invoice_is_named_by_its_number(api, organisation, admin_user, draft):
    issued = services.invoice_issue(invoice=draft, actor=admin_user)

    response = api.get(f"{URL}{draft.public_id}/pdf/", HTTP_ACCEPT="application/pdf")

    assert response.content.startswith(b"%PDF")
    assert f'filename="Rechnung-{issued.number}.pdf"' in response["Content-Disposition"]


def test_pdf_errors_stay_problem_json(api):
    response = api.get(f"{URL}{uuid.uuid4()}/pdf/", HTTP_ACCEPT="application/pdf")

    assert_problem(response, 404, "not_found")


# The cancellation document (Stornorechnung)


def test_storno_answers_the_cancellation_number_and_date(api, organisation, draft):
    year = organisation.today().year
    url = f"{URL}{draft.public_id}"
    drafted = api.get(f"{url}/").json()
    issued = api.post(f"{url}/issue").json()

    cancelled = api.post(f"{url}/cancel/")

    assert cancelled.status_code == 200, cancelled.content
    body = cancelled.json()
    assert (body["number"], body["cancellation_number"]) == (f"{year}-0001", f"ST-{year}-0001")
    assert body["cancellation_date"] == organisation.today().isoformat()
    assert api.get(f"{url}/").json() == body
    for before in (drafted, issued):
        assert (before["cancellation_number"], before["cancellation_date"]) == (None, None)
    listed = api.get(URL).json()["results"][0]
    assert listed["cancellation_number"] == f"ST-{year}-0001"


def test_discarded_draft_has_no_cancellation_number(api, draft):
    body = api.post(f"{URL}{draft.public_id}/cancel").json()

    assert body["status"] == "cancelled"
    assert (body["cancellation_number"], body["cancellation_date"]) == (None, None)


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("accept", [None, "application/pdf", "application/json"])
def test_cancellation_pdf_endpoint_returns_the_storno_pdf(
    api, organisation, admin_user, draft, slash, accept
):
    services.invoice_issue(invoice=draft, actor=admin_user)
    cancelled = services.invoice_cancel(invoice=draft, actor=admin_user)
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = api.get(f"{URL}{draft.public_id}/cancellation-pdf{slash}", **headers)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == (
        f'inline; filename="Storno-{cancelled.cancellation_number}.pdf"'
    )


@pytest.mark.parametrize("state", ["draft", "issued", "paid", "discarded"])
@pytest.mark.parametrize("accept", [None, "application/pdf"])
def test_cancellation_pdf_without_a_storno_document_is_404_in_german(
    api, admin_user, draft, state, accept
):
    if state in ("issued", "paid"):
        services.invoice_issue(invoice=draft, actor=admin_user)
    if state == "paid":
        services.invoice_pay(invoice=draft, actor=admin_user)
    if state == "discarded":
        services.invoice_cancel(invoice=draft, actor=admin_user)
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    before = _snapshot()

    response = api.get(f"{URL}{draft.public_id}/cancellation-pdf", **headers)

    problem = assert_problem(response, 404, "not_found")
    assert problem["detail"] == "Zu dieser Rechnung gibt es keine Stornorechnung."
    assert _snapshot() == before


def test_cancellation_pdf_of_another_organisation_or_unknown_is_a_plain_404(
    api, other_api, admin_user, draft
):
    services.invoice_issue(invoice=draft, actor=admin_user)
    services.invoice_cancel(invoice=draft, actor=admin_user)

    for client, public_id in ((other_api, draft.public_id), (api, uuid.uuid4())):
        response = client.get(f"{URL}{public_id}/cancellation-pdf/")
        problem = assert_problem(response, 404, "not_found")
        assert "Stornorechnung" not in problem["detail"]
