"""The page "Steuerberater-Export" (under Rechnungen): a month, two downloads, a
German 422 on a bad month, the billing right."""

import pytest

from organisations.models import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/rechnungen/steuerberater-export/"


@pytest.fixture
def biller(client, admin_user):
    client.force_login(admin_user)
    return client


def test_the_page_offers_last_month_and_both_files(biller, organisation):
    html = biller.get(PAGE).content.decode()
    last = organisation.today().replace(day=1).toordinal() - 1
    from datetime import date

    assert f'value="{date.fromordinal(last):%Y-%m}"' in html
    assert 'value="datev"' in html and 'value="csv"' in html
    assert "<script>" not in html  # CSP: no inline scripts
    assert "Steuerberater-Export" in biller.get("/rechnungen/").content.decode()


@pytest.mark.parametrize(
    "file_format,start", [("datev", b'"EXTF";700;21;'), ("csv", b"\xef\xbb\xbf")]
)
def test_downloads(biller, file_format, start):
    response = biller.get(f"{PAGE}?monat=2026-10&format={file_format}")
    assert response.status_code == 200
    assert response.content.startswith(start)
    assert "attachment" in response["Content-Disposition"]


def test_a_bad_month_is_422_in_german(biller):
    response = biller.get(f"{PAGE}?monat=Oktober&format=datev")
    assert response.status_code == 422
    assert "Bitte einen Monat im Format JJJJ-MM" in response.content.decode()


def test_the_page_needs_the_billing_right(client, organisation):
    client.force_login(UserFactory(organisation=organisation, role=Role.STAFF, can_billing=False))
    assert client.get(PAGE).status_code == 403
