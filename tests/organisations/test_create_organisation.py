import pytest

from organisations.models import Organisation, Plan, Role
from tests.factories import UserFactory
from tests.organisations.cli import run_command

pytestmark = pytest.mark.django_db


def test_prints_the_orga_id_on_the_last_line(monkeypatch, capsys, client):
    status, lines, _ = run_command(
        monkeypatch,
        capsys,
        "create_organisation",
        "Praxis am Markt",
        "--plan",
        "XL",
        "--owner-email",
        "chefin@markt.test",
        "--owner-password",
        "lang-genug-42",
    )

    assert status == 0
    organisation = Organisation.objects.get(orga_id=lines[-1])
    assert organisation.name == "Praxis am Markt"
    assert organisation.plan == Plan.XL
    assert organisation.users.get().role == Role.ADMIN
    assert client.login(email="chefin@markt.test", password="lang-genug-42")


def test_refuses_a_taken_owner_email_with_status_1(monkeypatch, capsys):
    UserFactory(email="chefin@markt.test")
    organisations_before = Organisation.objects.count()

    status, lines, err = run_command(
        monkeypatch,
        capsys,
        "create_organisation",
        "Praxis am Markt",
        "--plan=S",
        "--owner-email=chefin@markt.test",
        "--owner-password=lang-genug-42",
    )

    assert status == 1
    assert "chefin@markt.test" in err
    assert lines == []
    assert Organisation.objects.count() == organisations_before


def test_refuses_an_unknown_plan(monkeypatch, capsys):
    status, _, err = run_command(
        monkeypatch,
        capsys,
        "create_organisation",
        "Praxis",
        "--plan=XS",
        "--owner-email=a@b.test",
        "--owner-password=lang-genug-42",
    )

    assert status == 1
    assert "XS" in err
    assert not Organisation.objects.exists()


def test_refuses_a_weak_password(monkeypatch, capsys):
    status, _, err = run_command(
        monkeypatch,
        capsys,
        "create_organisation",
        "Praxis",
        "--plan=S",
        "--owner-email=a@b.test",
        "--owner-password=kurz",
    )

    assert status == 1
    assert "CommandError" in err
    assert not Organisation.objects.exists()
