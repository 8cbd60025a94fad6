from django.core.management.base import BaseCommand, CommandError

from lemniscus.errors import DomainError
from organisations.models import Organisation, Plan
from organisations.services import organisation_set_plan


class Command(BaseCommand):
    help = "Ändert das Abo einer Organisation (S, M, L, XL, XXL)."

    def add_arguments(self, parser):
        parser.add_argument("--orga-id", required=True)
        parser.add_argument("--plan", required=True, choices=Plan.values)

    def handle(self, *args, orga_id, plan, **options):
        organisation = Organisation.objects.filter(orga_id=orga_id.strip().upper()).first()
        if organisation is None:
            raise CommandError(f"Keine Organisation mit der Orga-ID {orga_id}.")
        try:
            organisation = organisation_set_plan(organisation=organisation, plan=plan)
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        note = "" if organisation.has_doctolib_plan else " (ohne Doctolib-Integration)"
        self.stdout.write(f"Abo von {organisation}: {organisation.plan}{note}")
