"""Authorization as a matrix: every staff endpoint x every kind of caller.

Denied writes also assert that nothing of the organisation changed. To cover a new
staff endpoint, add it to ENDPOINTS (and what it needs to WORLD);
`test_matrix_covers_every_staff_route` fails until every route is listed.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from appointments.models import Appointment, CalendarColumn
from billing.models import (
    BillingRun,
    BillingRunStatus,
    DunningNotice,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ServiceChain,
    ServiceLine,
)
from billing.payments import payment_record
from billing.services import invoice_cancel, invoice_issue, invoice_line_add
from doctolib_bridge.handover.services import export_start
from doctolib_bridge.models import ExportJob, SyncLogEntry
from documentation import services as documentation
from documentation.models import Attachment, DocumentationEntry
from lemniscus.urls import router
from organisations.models import Organisation, Right, Role
from patients.models import Patient
from tests.conftest import assert_problem
from tests.documentation.conftest import PDF_BYTES
from tests.factories import (
    AppointmentFactory,
    CalendarColumnFactory,
    PatientFactory,
    ServiceChainFactory,
    SyncLogEntryFactory,
    UserFactory,
    invoice_over,
)
from tokens.models import Token, TokenKind
from tokens.services import token_create, token_revoke

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # "{name}" is the public id of `world` object `name`
    ok: int  # status for a caller of the organisation with the right
    right: Right | None = None  # the right it needs (docs/decisions.md, "Rights")
    body: dict = field(default_factory=dict)  # "{name}" values likewise
    admin_only: bool = False  # only the organisation admin role, whatever the rights
    upload: bool = False  # multipart with a PDF as `file` (besides `body`)

    @property
    def names_objects(self) -> bool:
        """Whether the path or the body names an object of the organisation."""
        return "{" in self.path or bool(_placeholders(self.body))

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _placeholders(value) -> list[str]:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return [value[1:-1]]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [name for item in value for name in _placeholders(item)]
    return []


APPOINTMENT_BODY = {
    "patient_id": "{patient}",
    "calendar_column_id": "{column}",
    "start": "2025-03-04T09:00:00+01:00",
    "duration_minutes": 30,
}
PAYMENT_BODY = {"amount": "1.00", "date": "2025-03-04", "method": "cash"}
SERIES_BODY = {**APPOINTMENT_BODY, "count": 2, "on_conflict": "book"}
CHAIN_BODY = {
    "description": "Manuelle Therapie",
    "services": [{"code": "MT", "name": "Manuelle Therapie", "price": "40.00", "vat_rate": "0"}],
}
INVOICE_BODY = {"patient_id": "{billed_patient}", "appointment_ids": ["{billable}"]}
LINE_BODY = {"name": "Hausbesuch", "unit_price": "25.00"}
DOC, APPT, BILL = Right.DOCUMENTATION, Right.APPOINTMENTS, Right.BILLING
DOCS = "/api/v1/patients/{documented}/documentation/"

THIS_MONTH = f"{timezone.localdate():%Y-%m}"  # the world's invoices are issued now
RUN_BODY = {
    "period_start": f"{timezone.localdate() - timedelta(days=30):%Y-%m-%d}",
    "period_end": f"{timezone.localdate():%Y-%m-%d}",
}

ENDPOINTS = [
    Endpoint("GET", "/api/v1/patients/", 200),
    Endpoint("POST", "/api/v1/patients/", 201, DOC, {"last_name": "Neu"}),
    Endpoint("GET", "/api/v1/patients/{patient}/", 200),
    Endpoint("PATCH", "/api/v1/patients/{patient}/", 200, DOC, {"city": "Hamburg"}),
    Endpoint("DELETE", "/api/v1/patients/{patient}/", 204, DOC, admin_only=True),
    Endpoint("POST", "/api/v1/patients/{patient}/archive", 200, DOC, admin_only=True),
    Endpoint("POST", "/api/v1/patients/{patient}/unarchive", 200, DOC, admin_only=True),
    Endpoint("GET", "/api/v1/patients/{patient}/history/", 200),
    Endpoint("GET", "/api/v1/patients/{patient}/disclosure", 200, admin_only=True),
    Endpoint("GET", DOCS, 200, DOC),
    Endpoint("POST", DOCS, 201, DOC, {"text": "Befund"}),
    Endpoint("GET", DOCS + "{entry}/", 200, DOC),
    Endpoint("PATCH", DOCS + "{entry}/", 200, DOC, {"text": "Befund, ergänzt"}),
    Endpoint("POST", DOCS + "{entry}/finalise", 200, DOC),
    Endpoint("POST", DOCS + "{entry}/corrections", 201, DOC, {"text": "Korrektur"}),
    Endpoint("GET", "/api/v1/patients/{documented}/attachments/", 200, DOC),
    Endpoint("POST", "/api/v1/patients/{documented}/attachments/", 201, DOC, upload=True),
    Endpoint("GET", "/api/v1/attachments/{attachment}/download", 200, DOC),
    Endpoint("GET", "/api/v1/calendar-columns/", 200),
    Endpoint("POST", "/api/v1/calendar-columns/", 201, APPT, {"name": "Raum 9"}),
    Endpoint("GET", "/api/v1/calendar-columns/{column}/", 200),
    Endpoint("PATCH", "/api/v1/calendar-columns/{column}/", 200, APPT, {"name": "Raum 8"}),
    Endpoint("DELETE", "/api/v1/calendar-columns/{column}/", 204, APPT),
    Endpoint("GET", "/api/v1/appointments/", 200),
    Endpoint("POST", "/api/v1/appointments/", 201, APPT, APPOINTMENT_BODY),
    Endpoint("GET", "/api/v1/appointments/{appointment}/", 200),
    Endpoint("PATCH", "/api/v1/appointments/{appointment}/", 200, APPT, {"note": "neu"}),
    Endpoint("DELETE", "/api/v1/appointments/{appointment}/", 204, APPT),
    Endpoint("POST", "/api/v1/appointment-series/", 201, APPT, SERIES_BODY),
    Endpoint("POST", "/api/v1/appointment-series/preview/", 200, APPT, SERIES_BODY),
    Endpoint("GET", "/api/v1/sync-log/", 200),
    Endpoint("GET", "/api/v1/service-chains/", 200),
    Endpoint("POST", "/api/v1/service-chains/", 201, BILL, CHAIN_BODY),
    Endpoint("GET", "/api/v1/service-chains/{chain}/", 200),
    Endpoint("PATCH", "/api/v1/service-chains/{chain}/", 200, BILL, {"description": "KG 2"}),
    Endpoint("DELETE", "/api/v1/service-chains/{chain}/", 204, BILL),
    Endpoint("GET", "/api/v1/invoices/", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/", 201, BILL, INVOICE_BODY),
    Endpoint("GET", "/api/v1/invoices/{draft}/", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/{draft}/issue", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/{issued}/pay", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/{draft}/cancel", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/{issued}/payments", 201, BILL, PAYMENT_BODY),
    Endpoint("POST", "/api/v1/invoices/{with_payment}/payments/{payment}/reverse", 201, BILL),
    Endpoint("POST", "/api/v1/invoices/{issued}/write-off", 200, BILL, {"reason": "Insolvenz"}),
    Endpoint("POST", "/api/v1/invoices/{issued}/send", 202, BILL),
    Endpoint("GET", "/api/v1/invoices/{draft}/pdf", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/{draft}/lines", 201, BILL, LINE_BODY),
    Endpoint("PATCH", "/api/v1/invoices/{draft}/lines/{line}", 200, BILL, {"quantity": "2"}),
    Endpoint("DELETE", "/api/v1/invoices/{draft}/lines/{line}/", 204, BILL),
    Endpoint("GET", "/api/v1/invoices/{cancelled}/cancellation-pdf", 200, BILL),
    Endpoint("POST", "/api/v1/invoices/{overdue}/dunning-notices", 201, BILL),
    Endpoint("GET", "/api/v1/dunning/proposals/", 200, BILL),
    Endpoint("GET", "/api/v1/dunning-notices/{notice}/pdf", 200, BILL),
    Endpoint("POST", "/api/v1/dunning-notices/{notice}/send", 202, BILL),
    Endpoint("GET", f"/api/v1/accounting-export?month={THIS_MONTH}&format=datev", 200, BILL),
    Endpoint("GET", f"/api/v1/accounting-export/?month={THIS_MONTH}&format=csv", 200, BILL),
    Endpoint("GET", "/api/v1/billing-runs/", 200, BILL),
    Endpoint("POST", "/api/v1/billing-runs/", 202, BILL, RUN_BODY),
    Endpoint("GET", "/api/v1/billing-runs/{billing_run}/", 200, BILL),
    Endpoint("POST", "/api/v1/billing-runs/{billing_run}/issue", 202, BILL),
    Endpoint("POST", "/api/v1/billing-runs/{billing_run}/send", 202, BILL),
    Endpoint("GET", "/api/v1/billing-runs/{printed_run}/print.pdf", 200, BILL),
    Endpoint("GET", "/api/v1/exports/", 200, admin_only=True),
    Endpoint("POST", "/api/v1/exports/", 202, body={"delete_appointments": True}, admin_only=True),
    Endpoint("GET", "/api/v1/exports/{export}/", 200, admin_only=True),
    Endpoint("GET", "/api/v1/exports/{export}/patients.csv", 200, admin_only=True),
    Endpoint("GET", "/api/v1/exports/{export}/appointments.csv", 200, admin_only=True),
    Endpoint("GET", "/api/v1/audit-log/", 200, admin_only=True),
]

# The organisation's rows a denied call must leave alone, with their updated_at.
TENANT_MODELS = [
    Patient,
    CalendarColumn,
    Appointment,
    ServiceChain,
    Invoice,
    SyncLogEntry,
    ExportJob,
    DocumentationEntry,
    Attachment,
    DunningNotice,
    BillingRun,
]


def _invoice(appointment, status):
    return invoice_over(appointment, status)


@pytest.fixture
def world(organisation):
    """One object of the organisation for every path and body id of ENDPOINTS."""
    billed_patient = PatientFactory(organisation=organisation, email="rechnung@example.org")
    yesterday = timezone.now() - timedelta(days=1)

    def billed():
        return AppointmentFactory(
            organisation=organisation, patient=billed_patient, start=yesterday
        )

    SyncLogEntryFactory(organisation=organisation)
    writer = UserFactory(organisation=organisation, role=Role.ADMIN)
    documented = PatientFactory(organisation=organisation)
    draft = _invoice(billed(), InvoiceStatus.DRAFT)
    return {
        "documented": documented,
        "entry": documentation.entry_create(patient=documented, actor=writer, text="Befund"),
        "attachment": documentation.attachment_create(
            patient=documented, actor=writer, file=SimpleUploadedFile("a.pdf", PDF_BYTES)
        ),
        "patient": PatientFactory(organisation=organisation),
        "column": CalendarColumnFactory(organisation=organisation),
        "chain": ServiceChainFactory(organisation=organisation),
        "appointment": AppointmentFactory(organisation=organisation),
        "billed_patient": billed_patient,
        "billable": billed(),
        "draft": draft,
        "line": invoice_line_add(
            invoice=draft, actor=None, name="Material", quantity=1, unit_price=5
        ),
        "issued": _invoice(billed(), InvoiceStatus.ISSUED),
        "cancelled": invoice_cancel(invoice=_invoice(billed(), InvoiceStatus.ISSUED), actor=None),
        **_paid_once(_invoice(billed(), InvoiceStatus.ISSUED)),
        "overdue": invoice_over(billed(), due_date=timezone.localdate() - timedelta(days=60)),
        "notice": _notice(_invoice(billed(), InvoiceStatus.ISSUED)),
        "billing_run": _billing_run(_invoice(billed(), InvoiceStatus.DRAFT)),
        "printed_run": _billing_run(
            _invoice(
                AppointmentFactory(
                    organisation=organisation,
                    patient=PatientFactory(organisation=organisation, email=""),
                    start=yesterday,
                ),
                InvoiceStatus.DRAFT,
            ),
            issue=True,
        ),
        "export": export_start(
            organisation=organisation,
            actor=UserFactory(organisation=organisation, role=Role.ADMIN),
            delete_appointments=False,
        ),
    }


def _billing_run(draft, *, issue: bool = False) -> BillingRun:
    """A finished run holding `draft` (issued by the service when `issue`)."""
    run = BillingRun.objects.create(
        organisation=draft.organisation,
        period_start=timezone.localdate() - timedelta(days=30),
        period_end=timezone.localdate(),
        status=BillingRunStatus.DONE,
    )
    Invoice.objects.filter(pk=draft.pk).update(billing_run=run)
    if issue:
        invoice_issue(invoice=Invoice.objects.get(pk=draft.pk), actor=None)
    return run


def _paid_once(invoice) -> dict:
    payment = payment_record(invoice=invoice, actor=None, amount=Decimal("1.00"), method="cash")
    return {"with_payment": invoice, "payment": payment}


def _notice(invoice) -> DunningNotice:
    """A notice written directly, with a stand-in PDF (rendering one is the dunning
    tests' business)."""
    content = b"%PDF-1.4 Mahnung"
    notice = DunningNotice(
        organisation=invoice.organisation,
        invoice=invoice,
        level=1,
        name="Zahlungserinnerung",
        date=timezone.localdate(),
        fee=Decimal("0.00"),
        due_date=timezone.localdate(),
        open_amount=invoice.total,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
    notice.file.save("notice.pdf", ContentFile(content), save=False)
    notice.save()
    return notice


def _fill(value, world):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return str(world[value[1:-1]].public_id)
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


def _url(endpoint: Endpoint, world) -> str:
    return endpoint.path.format(**{name: obj.public_id for name, obj in world.items()})


def _call(client: APIClient, endpoint: Endpoint, world):
    url = _url(endpoint, world)
    if endpoint.method in ("GET", "DELETE"):
        return client.generic(endpoint.method, url)
    if endpoint.upload:
        data = {**_fill(endpoint.body, world), "file": SimpleUploadedFile("b.pdf", PDF_BYTES)}
        return client.post(url, data, format="multipart")
    body = json.dumps(_fill(endpoint.body, world))
    return client.generic(endpoint.method, url, body, content_type="application/json")


def snapshot(organisation) -> dict:
    state = {
        model.__name__: sorted(
            model.objects.filter(organisation=organisation).values_list("pk", "updated_at")
        )
        for model in TENANT_MODELS
    }
    state["ServiceLine"] = ServiceLine.objects.filter(chain__organisation=organisation).count()
    state["InvoiceLine"] = InvoiceLine.objects.filter(invoice__organisation=organisation).count()
    return state


def _client(authorization: str | None = None) -> APIClient:
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def _unknown_token(organisation, user) -> str:
    token, raw = token_create(organisation=organisation, kind=TokenKind.API, user=user)
    token.delete()
    return f"Bearer {raw}"


def _revoked_token(organisation, user) -> str:
    token, raw = token_create(organisation=organisation, kind=TokenKind.API, user=user)
    token_revoke(token=token)
    return f"Bearer {raw}"


def _doctolib_token(organisation, user) -> str:
    return f"Bearer {token_create(organisation=organisation, kind=TokenKind.DOCTOLIB)[1]}"


# Authorization header values (or None) of callers that are not let in.
UNAUTHENTICATED = {
    "no_authorization_header": lambda organisation, user: None,
    "malformed_bearer": lambda organisation, user: "Bearer abc",
    "other_scheme": lambda organisation, user: f"Token {secrets.token_hex(8)}",
    "unknown_well_formed_token": _unknown_token,
    "revoked_personal_token": _revoked_token,
    "doctolib_token": _doctolib_token,
}


@pytest.mark.parametrize("caller", list(UNAUTHENTICATED))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_unauthenticated_callers_get_401_and_change_nothing(
    endpoint, caller, organisation, admin_user, world
):
    client = _client(UNAUTHENTICATED[caller](organisation, admin_user))
    before = snapshot(organisation)

    response = _call(client, endpoint, world)

    assert_problem(response, 401, "token_invalid")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert snapshot(organisation) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_other_organisation_sees_nothing_and_changes_nothing(
    endpoint, other_api, organisation, world
):
    before = snapshot(organisation)

    response = _call(other_api, endpoint, world)

    if endpoint.names_objects:
        assert_problem(response, 404, "not_found")
    elif endpoint.method == "GET" and response["Content-Type"].startswith("text/csv"):
        assert response.status_code == 200, response.content  # a file: none of our numbers
        numbers = {getattr(obj, "number", None) for obj in world.values()} - {None}
        assert numbers and not any(number.encode() in response.content for number in numbers)
    elif endpoint.method == "GET":
        assert response.status_code == 200, response.content
        ours = {str(obj.public_id) for obj in world.values()}
        assert not ours & {row.get("id") for row in response.json()["results"]}
    else:  # a create without ids lands in the caller's own organisation
        assert response.status_code == endpoint.ok, response.content
    assert snapshot(organisation) == before


def _member(organisation, *rights: Right) -> APIClient:
    """A staff member (not an admin) with exactly these rights."""
    user = UserFactory(
        organisation=organisation,
        role=Role.STAFF,
        **{f"can_{right}": right in rights for right in Right},
    )
    _, raw = token_create(organisation=organisation, kind=TokenKind.API, user=user)
    return _client(f"Bearer {raw}")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_member_without_the_right_is_refused_and_changes_nothing(endpoint, organisation, world):
    others = [right for right in Right if right != endpoint.right]
    before = snapshot(organisation)

    response = _call(_member(organisation, *others), endpoint, world)

    if endpoint.right or endpoint.admin_only:
        assert_problem(response, 403, "permission_denied")
        assert snapshot(organisation) == before
    else:
        assert response.status_code == endpoint.ok, response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_member_with_just_the_right_is_served(endpoint, organisation, world):
    rights = [endpoint.right] if endpoint.right else []
    response = _call(_member(organisation, *rights), endpoint, world)
    if endpoint.admin_only:  # no right lets a member in
        assert_problem(response, 403, "permission_denied")
    else:
        assert response.status_code == endpoint.ok, response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_an_organisation_admin_is_served(endpoint, api, world):
    response = _call(api, endpoint, world)
    assert response.status_code == endpoint.ok, response.content


def _routes() -> set[tuple[str, str]]:
    """(URL name, method) of every route the staff router serves."""
    routes = set()
    for _, viewset, basename in router.registry:
        for route in router.get_routes(viewset):
            for method, action in route.mapping.items():
                if hasattr(viewset, action) and method in viewset.http_method_names:
                    routes.add((route.name.format(basename=basename), method.upper()))
    return routes


def test_matrix_covers_every_staff_route(world):
    covered = {(resolve(_url(e, world).split("?")[0]).url_name, e.method) for e in ENDPOINTS}
    missing = _routes() - covered
    assert not missing, f"add these staff routes to ENDPOINTS: {sorted(missing)}"


# Sessions: CSRF is enforced for writes; a bearer token needs none.


def test_session_writes_need_the_csrf_token(organisation, admin_user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    url = "/api/v1/calendar-columns/"
    assert client.get(url).status_code == 200

    refused = client.post(url, {"name": "Ohne CSRF"}, format="json")
    assert_problem(refused, 403, "permission_denied")
    assert not CalendarColumn.objects.exists()

    secret = secrets.token_hex(16)  # 32 characters: an unmasked CSRF secret
    client.cookies["csrftoken"] = secret
    accepted = client.post(url, {"name": "Mit CSRF"}, format="json", HTTP_X_CSRFTOKEN=secret)
    assert accepted.status_code == 201, accepted.content
    assert list(CalendarColumn.objects.values_list("name", flat=True)) == ["Mit CSRF"]


def test_bearer_token_writes_need_no_csrf_token(organisation, admin_user):
    _, raw = token_create(organisation=organisation, kind=TokenKind.API, user=admin_user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post("/api/v1/calendar-columns/", {"name": "Per Token"}, format="json")
    assert response.status_code == 201, response.content
    assert Token.objects.get(user=admin_user).last_used_at is not None


# The practice data: one resource per organisation, the caller's own (not in the router).

PRACTICE = "/api/v1/practice/"


def _practice_row(organisation) -> dict:
    return Organisation.objects.filter(pk=organisation.pk).values().get()


@pytest.mark.parametrize("caller", list(UNAUTHENTICATED))
@pytest.mark.parametrize("method", ["GET", "PATCH"])
def test_practice_refuses_unauthenticated_callers(method, caller, organisation, admin_user):
    client = _client(UNAUTHENTICATED[caller](organisation, admin_user))
    before = _practice_row(organisation)

    response = client.generic(method, PRACTICE, '{"city": "Hamburg"}', "application/json")

    assert_problem(response, 401, "token_invalid")
    assert _practice_row(organisation) == before


def test_practice_of_another_organisation_is_unreachable(other_api, organisation):
    before = _practice_row(organisation)

    read = other_api.get(PRACTICE)
    other_api.patch(PRACTICE, {"city": "Hamburg"}, format="json")

    assert read.json()["name"] == "Praxis im Tal"
    assert _practice_row(organisation) == before


@pytest.mark.parametrize("rights", [[], list(Right)])
def test_practice_members_read_and_only_admins_write(organisation, rights):
    member = _member(organisation, *rights)
    before = _practice_row(organisation)

    assert member.get(PRACTICE).status_code == 200
    response = member.patch(PRACTICE, {"city": "Hamburg"}, format="json")

    assert_problem(response, 403, "permission_denied")
    assert _practice_row(organisation) == before
