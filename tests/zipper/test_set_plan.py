import pytest
from django.core.management import CommandError, call_command

from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db


def test_set_plan_below_xl_answers_plan_required_until_raised_again(plugin, organisation, capsys):
    call_command("set_plan", "--orga-id", organisation.orga_id, "--plan", "L")
    assert (
        capsys.readouterr().out.strip().splitlines()[-1].endswith(": L (ohne Doctolib-Integration)")
    )
    assert_problem(plugin.get("/connection"), 403, "plan_required")
    call_command("set_plan", "--orga-id", organisation.orga_id, "--plan", "XXL")
    assert plugin.get("/connection").json()["plan"] == "XXL"  # the same token works again


def test_set_plan_refusals(organisation):
    with pytest.raises(CommandError, match="Keine Organisation"):
        call_command("set_plan", "--orga-id", "ORG-NOPE", "--plan", "XL")
    with pytest.raises(CommandError):
        call_command("set_plan", "--orga-id", organisation.orga_id, "--plan", "XXXL")
    organisation.refresh_from_db()
    assert organisation.plan == "XL"
