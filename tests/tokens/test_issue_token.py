import pytest

from organisations.models import Plan
from tests.factories import OrganisationFactory, UserFactory
from tests.organisations.cli import run_command
from tokens.models import Token, TokenKind
from tokens.services import token_authenticate

pytestmark = pytest.mark.django_db


def test_api_token_for_a_user_works_on_the_staff_api(
    monkeypatch, capsys, client, organisation, admin_user
):
    status, lines, _ = run_command(
        monkeypatch,
        capsys,
        "issue_token",
        f"--orga-id={organisation.orga_id}",
        "--kind=api",
        "--user=ADMIN@praxis.test",
    )

    assert status == 0
    raw = lines[-1]
    assert raw.startswith("lmn_api_")
    assert token_authenticate(raw=raw, kind=TokenKind.API).user == admin_user
    response = client.get("/api/v1/patients/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200


def test_doctolib_token_revokes_the_previous_one(monkeypatch, capsys, organisation):
    args = ("issue_token", "--orga-id", organisation.orga_id, "--kind", "doctolib")
    _, first, _ = run_command(monkeypatch, capsys, *args)

    status, second, _ = run_command(monkeypatch, capsys, *args)

    assert status == 0
    assert second[-1].startswith("lmn_dl_")
    assert token_authenticate(raw=second[-1], kind=TokenKind.DOCTOLIB).organisation == organisation
    assert token_authenticate(raw=first[-1], kind=TokenKind.DOCTOLIB) is None
    assert Token.objects.filter(organisation=organisation).count() == 2


@pytest.mark.parametrize("plan", [Plan.S, Plan.L])
def test_doctolib_token_is_refused_below_xl(monkeypatch, capsys, plan):
    organisation = OrganisationFactory(plan=plan)

    status, lines, err = run_command(
        monkeypatch, capsys, "issue_token", f"--orga-id={organisation.orga_id}", "--kind=doctolib"
    )

    assert status == 1
    assert "XL" in err
    assert lines == []
    assert not Token.objects.exists()


def test_refuses_an_unknown_orga_id(monkeypatch, capsys, organisation):
    status, _, err = run_command(
        monkeypatch, capsys, "issue_token", "--orga-id=ORG-NICHTDA", "--kind=doctolib"
    )

    assert status == 1
    assert "ORG-NICHTDA" in err
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    ("user_args", "message"),
    [
        (["--user=niemand@praxis.test"], "niemand@praxis.test"),
        (["--user=fremd@praxis.test"], "fremd@praxis.test"),
        ([], "--user"),
    ],
)
def test_api_token_refuses_unknown_or_foreign_users(
    monkeypatch, capsys, organisation, other_organisation, user_args, message
):
    UserFactory(organisation=other_organisation, email="fremd@praxis.test")

    status, _, err = run_command(
        monkeypatch,
        capsys,
        "issue_token",
        f"--orga-id={organisation.orga_id}",
        "--kind=api",
        *user_args,
    )

    assert status == 1
    assert message in err
    assert not Token.objects.exists()


def test_refuses_an_unknown_kind(monkeypatch, capsys, organisation):
    status, _, err = run_command(
        monkeypatch, capsys, "issue_token", f"--orga-id={organisation.orga_id}", "--kind=admin"
    )

    assert status == 1
    assert "admin" in err
    assert not Token.objects.exists()
