from django.core.management.base import BaseCommand, CommandError

from lemniscus.errors import DomainError, PlanRequired
from organisations.models import Organisation, User
from tokens.models import TokenKind
from tokens.services import token_create


class Command(BaseCommand):
    help = (
        "Stellt einen Token aus und gibt ihn in der letzten Zeile aus: den Doctolib-Token "
        "der Organisation (widerruft den vorigen) oder einen persönlichen API-Token."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orga-id", required=True)
        parser.add_argument("--kind", required=True, metavar="{" + ",".join(TokenKind.values) + "}")
        parser.add_argument("--user", help="E-Mail des Benutzers (nur bei --kind api)")

    def handle(self, *args, orga_id, kind, user, **options):
        organisation = Organisation.objects.filter(orga_id=orga_id.strip().upper()).first()
        if organisation is None:
            raise CommandError(f"Keine Organisation mit der Orga-ID {orga_id}.")
        if kind not in TokenKind.values:
            raise CommandError(
                f"Unbekannte Token-Art {kind} (erlaubt: {', '.join(TokenKind.values)})."
            )
        owner = None
        if kind == TokenKind.API:
            if not user:
                raise CommandError("Ein API-Token braucht --user E-MAIL.")
            owner = User.objects.filter(
                organisation=organisation, email__iexact=user.strip()
            ).first()
            if owner is None:
                raise CommandError(f"Kein Benutzer {user} in {organisation}.")
            if not owner.is_active:
                raise CommandError(f"Der Benutzer {owner.email} ist deaktiviert.")
        elif user:
            raise CommandError("--user gibt es nur bei --kind api.")
        try:
            token, raw = token_create(organisation=organisation, kind=kind, user=owner)
        except PlanRequired as exc:
            raise CommandError(
                f"{exc.detail} Abo von {organisation}: {organisation.plan}."
            ) from exc
        except DomainError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(f"{token.get_kind_display()} für {organisation} ausgestellt:")
        self.stdout.write(raw)
