from django.core.management.base import BaseCommand, CommandError

from lemniscus.errors import DomainError
from organisations.models import Plan
from organisations.services import organisation_create


class Command(BaseCommand):
    help = "Legt eine Organisation mit ihrem Admin an; die letzte Zeile ist die Orga-ID."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--plan", required=True, metavar="{" + ",".join(Plan.values) + "}")
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--time-zone", help="Standard: TIME_ZONE (Europe/Berlin)")

    def handle(self, *args, name, plan, owner_email, owner_password, time_zone, **options):
        try:
            organisation, owner = organisation_create(
                name=name,
                plan=plan,
                owner_email=owner_email,
                owner_password=owner_password,
                time_zone=time_zone,
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"Organisation „{organisation.name}“ angelegt, Admin: {owner.email}")
        self.stdout.write(organisation.orga_id)
