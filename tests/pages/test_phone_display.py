"""Phones formatted nationally for display ("0160 4495677"), kept in E.164 in
storage and the APIs (issue 13, "Wording and formats")."""

import pytest

from lemniscus.phones import display_phone
from patients.models import Patient
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+491604495677", "0160 4495677"),
        ("+49301234567", "030 1234567"),
        ("+4312345678", "+43 1 2345678"),
        ("", ""),
        ("kaputt", "kaputt"),
    ],
)
def test_display(stored, shown):
    assert display_phone(stored) == shown


def test_pages_show_nationally_and_keep_e164(client, api, admin_user, organisation):
    patient = PatientFactory(
        organisation=organisation, last_name="Bauer", mobile_phone="+491604495677"
    )
    client.force_login(admin_user)

    listed = client.get("/akten/", {"q": "Bauer"}).content.decode()
    record = client.get(f"/akten/{patient.public_id}/").content.decode()
    client.post(
        f"/akten/{patient.public_id}/",
        {"last_name": "Bauer", "mobile_phone": "0160 4495677", "landline_phone": "030 1234567"},
    )

    assert "0160 4495677" in listed and "+491604495677" not in listed
    assert 'value="0160 4495677"' in record
    stored = Patient.objects.get(pk=patient.pk)
    assert (stored.mobile_phone, stored.landline_phone) == ("+491604495677", "+49301234567")
    assert api.get(f"/api/v1/patients/{patient.public_id}/").json()["mobile_phone"] == (
        "+491604495677"
    )
