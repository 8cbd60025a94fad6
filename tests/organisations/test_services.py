import pytest

from lemniscus.errors import ValidationFailed
from organisations.models import Organisation, Plan, Role, User
from organisations.services import organisation_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_creates_organisation_and_its_admin():
    organisation, owner = organisation_create(
        name="  Praxis Sonnenhof ",
        plan=Plan.M,
        owner_email="Inhaberin@Sonnenhof.TEST",
        owner_password="lang-genug-42",
    )

    organisation.refresh_from_db()
    assert organisation.name == "Praxis Sonnenhof"
    assert organisation.plan == Plan.M
    assert organisation.time_zone == "Europe/Berlin"
    assert organisation.orga_id.startswith("ORG-")
    owner = User.objects.get(pk=owner.pk)
    assert owner.email == "inhaberin@sonnenhof.test"
    assert owner.organisation == organisation
    assert owner.role == Role.ADMIN
    assert owner.check_password("lang-genug-42")
    assert not owner.is_staff


def test_takes_the_given_time_zone():
    organisation, _ = organisation_create(
        name="Praxis Wien",
        plan=Plan.S,
        owner_email="wien@praxis.test",
        owner_password="lang-genug-42",
        time_zone="Europe/Vienna",
    )
    assert Organisation.objects.get(pk=organisation.pk).time_zone == "Europe/Vienna"


def test_refuses_a_taken_email_whatever_its_case():
    UserFactory(email="belegt@praxis.test")
    organisations_before = Organisation.objects.count()

    with pytest.raises(ValidationFailed) as caught:
        organisation_create(
            name="Zweite Praxis",
            plan=Plan.S,
            owner_email="BELEGT@praxis.test",
            owner_password="lang-genug-42",
        )

    assert "belegt@praxis.test" in caught.value.detail
    assert list(caught.value.errors) == ["owner_email"]
    assert Organisation.objects.count() == organisations_before
    assert User.objects.filter(email="belegt@praxis.test").count() == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "   "}, "name"),
        ({"plan": "XS"}, "plan"),
        ({"owner_email": "kein-at"}, "owner_email"),
        ({"owner_password": "kurz"}, "owner_password"),
        ({"owner_password": "password"}, "owner_password"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ],
)
def test_refuses_bad_input_and_creates_nothing(overrides, field):
    arguments = {
        "name": "Praxis",
        "plan": Plan.S,
        "owner_email": "neu@praxis.test",
        "owner_password": "lang-genug-42",
        **overrides,
    }

    with pytest.raises(ValidationFailed) as caught:
        organisation_create(**arguments)

    assert field in caught.value.errors
    assert caught.value.detail
    assert not Organisation.objects.exists()
    assert not User.objects.exists()
