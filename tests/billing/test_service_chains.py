from decimal import Decimal

import pytest

from billing import services
from billing.models import InvoiceLine, ServiceChain, ServiceLine
from tests.billing.conftest import THERAPY
from tests.conftest import assert_problem, token_client
from tests.factories import AppointmentFactory, ServiceChainFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/service-chains/"
BODY = {
    "description": "KG + Fango",
    "notes": "sync:abc",
    "services": [
        {"code": "X1501", "name": "Krankengymnastik", "price": "32.50", "vat_rate": "0.00",
         "minutes": 25},
        {"name": "Massageöl", "price": 8.4, "vat_rate": "19", "minutes": 0},
    ],
}  # fmt: skip


def _services(chain: ServiceChain) -> list[tuple]:
    return list(chain.services.values_list("code", "name", "price", "vat_rate", "minutes"))


def test_create_returns_chain_with_total(api, organisation):
    response = api.post(URL, BODY, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["description"] == "KG + Fango"
    assert body["notes"] == "sync:abc"
    assert body["services"] == [
        {"code": "X1501", "name": "Krankengymnastik", "price": "32.50", "vat_rate": "0.00",
         "tax_category": "exempt_therapy", "minutes": 25},
        {"code": "", "name": "Massageöl", "price": "8.40", "vat_rate": "19.00",
         "tax_category": "taxable", "minutes": 0},
    ]  # fmt: skip
    assert body["total"] == "40.90"
    chain = ServiceChain.objects.get(public_id=body["id"])
    assert chain.organisation == organisation
    assert [s.position for s in chain.services.all()] == [0, 1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"description": None}, "description"),
        ({"description": "   "}, "description"),
        ({"services": []}, "services"),
        ({"services": "KG"}, "services"),
        ({"services": [{"name": "KG", "price": "-1.00", "vat_rate": "0"}]}, "services.0.price"),
        ({"services": [{"name": "KG", "price": "abc", "vat_rate": "0"}]}, "services.0.price"),
        ({"services": [{"name": "KG", "price": "1.234", "vat_rate": "0"}]}, "services.0.price"),
        ({"services": [{"name": "KG", "price": True, "vat_rate": "0"}]}, "services.0.price"),
        ({"services": [{"name": "KG", "price": "1", "vat_rate": "100"}]}, "services.0.vat_rate"),
        ({"services": [{"price": "1.00", "vat_rate": "0"}]}, "services.0.name"),
        ({"services": [{"name": " ", "price": "1.00", "vat_rate": "0"}]}, "services.0.name"),
        ({"services": [{"name": "KG", "price": "1", "vat_rate": "0", "minutes": -5}]},
         "services.0.minutes"),
    ],
)  # fmt: skip
def test_create_rejects_bad_input(api, change, field):
    body = {key: value for key, value in {**BODY, **change}.items() if value is not None}

    response = api.post(URL, body, format="json")

    problem = assert_problem(response, 422, "validation_error")
    assert field in problem["errors"], problem
    assert not ServiceChain.objects.exists()


def test_malformed_json_is_400(api):
    assert_problem(
        api.post(URL, "{nope", content_type="application/json"), 400, "malformed_request"
    )
    assert not ServiceChain.objects.exists()


def test_patch_with_services_replaces_the_list(api, organisation):
    chain = ServiceChainFactory(organisation=organisation, services=THERAPY)
    new = [{"code": "F1", "name": "Fango", "price": "12.00", "vat_rate": "0.00", "minutes": 20}]

    response = api.patch(f"{URL}{chain.public_id}/", {"services": new}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["services"] == [{**new[0], "tax_category": "exempt_therapy"}]
    assert response.json()["total"] == "12.00"
    assert _services(chain) == [("F1", "Fango", Decimal("12.00"), Decimal("0.00"), 20)]
    assert ServiceLine.objects.count() == 1


def test_patch_without_services_keeps_them(api, organisation):
    chain = ServiceChainFactory(organisation=organisation, services=THERAPY, description="Alt")

    response = api.patch(f"{URL}{chain.public_id}", {"description": "Neu"}, format="json")

    assert response.status_code == 200, response.content
    chain.refresh_from_db()
    assert chain.description == "Neu"
    assert _services(chain) == [row[:5] for row in THERAPY]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"services": [{"name": "Fango"}]}, "services.0.price"),
        ({"services": []}, "services"),
        ({"description": ""}, "description"),
    ],
)
def test_patch_rejects_bad_input_and_changes_nothing(api, organisation, body, field):
    chain = ServiceChainFactory(organisation=organisation, services=THERAPY, description="Alt")

    response = api.patch(f"{URL}{chain.public_id}/", body, format="json")

    assert field in assert_problem(response, 422, "validation_error")["errors"]
    chain.refresh_from_db()
    assert chain.description == "Alt"
    assert _services(chain) == [row[:5] for row in THERAPY]


def test_list_newest_first_in_constant_queries(api, organisation, django_assert_max_num_queries):
    chains = ServiceChainFactory.create_batch(30, organisation=organisation, services=THERAPY * 3)

    with django_assert_max_num_queries(5):
        small = api.get(URL, {"page_size": 1})
    with django_assert_max_num_queries(5):
        large = api.get(URL, {"page_size": 500})

    assert [r["id"] for r in small.json()["results"]] == [str(chains[-1].public_id)]
    results = large.json()["results"]
    assert [r["id"] for r in results] == [str(c.public_id) for c in reversed(chains)]
    assert all(len(r["services"]) == 3 and r["total"] == "97.50" for r in results)


def test_delete_unused_chain(api, organisation):
    chain = ServiceChainFactory(organisation=organisation)

    assert api.delete(f"{URL}{chain.public_id}/").status_code == 204

    assert not ServiceChain.objects.filter(pk=chain.pk).exists()
    assert not ServiceLine.objects.exists()


def test_delete_chain_used_by_appointments_is_409(api, organisation):
    chain = ServiceChainFactory(organisation=organisation)
    AppointmentFactory(organisation=organisation, service_chain=chain)

    assert_problem(api.delete(f"{URL}{chain.public_id}/"), 409, "chain_in_use")

    assert ServiceChain.objects.filter(pk=chain.pk).exists()
    assert chain.services.count() == 1


def test_other_organisation_chain_is_404_and_unchanged(api, other_organisation):
    foreign = ServiceChainFactory(organisation=other_organisation, description="Fremd")
    url = f"{URL}{foreign.public_id}/"

    assert_problem(api.get(url), 404, "not_found")
    assert_problem(api.patch(url, {"description": "X", "services": []}, format="json"), 404,
                   "not_found")  # fmt: skip
    assert_problem(api.delete(url), 404, "not_found")
    assert_problem(api.get(f"{URL}not-a-uuid/"), 404, "not_found")

    foreign.refresh_from_db()
    assert foreign.description == "Fremd"
    assert foreign.services.count() == 1
    assert api.get(URL).json()["count"] == 0


def test_any_member_reads_but_writing_needs_billing_right(organisation):
    chain = ServiceChainFactory(organisation=organisation, description="Alt")
    client = token_client(UserFactory(organisation=organisation, role="staff", can_billing=False))

    assert client.get(URL).json()["count"] == 1
    assert client.get(f"{URL}{chain.public_id}/").status_code == 200
    assert_problem(client.post(URL, BODY, format="json"), 403, "permission_denied")
    url = f"{URL}{chain.public_id}/"
    assert_problem(client.patch(url, {"description": "Neu"}, format="json"), 403,
                   "permission_denied")  # fmt: skip
    assert_problem(client.delete(url), 403, "permission_denied")

    assert ServiceChain.objects.get().description == "Alt"


def test_staff_with_billing_right_writes(organisation):
    client = token_client(UserFactory(organisation=organisation, role="staff", can_billing=True))

    assert client.post(URL, BODY, format="json").status_code == 201


def test_editing_a_chain_leaves_invoices_as_they_were(organisation, admin_user, draft, chain):
    before = list(InvoiceLine.objects.values_list("name", "unit_price"))

    services.service_chain_update(
        chain=chain,
        services=[{"code": "", "name": "Neu", "price": Decimal("99.00"), "vat_rate": Decimal(0),
                   "minutes": 0}],
    )  # fmt: skip

    assert list(InvoiceLine.objects.values_list("name", "unit_price")) == before
    draft.refresh_from_db()
    assert draft.total == Decimal("127.49")
