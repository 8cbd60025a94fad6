from django.core.management.base import BaseCommand, CommandError

from doctolib_bridge.reconcile import (
    ReconcileResult,
    reconcile_organisation,
    unscoped_organisations_with_doctolib,
)


class Command(BaseCommand):
    help = "Abgleich Doctolib jetzt ausführen (für eine oder alle Organisationen)."

    def add_arguments(self, parser):
        parser.add_argument("--orga-id", help="nur diese Organisation")

    def handle(self, *args, orga_id=None, **options):
        organisations = unscoped_organisations_with_doctolib()
        if orga_id:
            organisations = organisations.filter(orga_id=orga_id.strip().upper())
            if not organisations.exists():
                raise CommandError(
                    f"Keine Organisation {orga_id} mit aktiver Doctolib-Integration."
                )
        total = ReconcileResult()
        for organisation in organisations.order_by("pk"):
            result = reconcile_organisation(organisation=organisation)
            if result.skipped:
                self.stdout.write(
                    f"{organisation}: übersprungen, ein anderer Abgleich dieser "
                    "Organisation läuft gerade."
                )
                continue
            self.stdout.write(
                f"{organisation}: {result.checked} Akten geprüft, {result.set_back} "
                f"zurückgesetzt, {result.queued} an Doctolib."
            )
            total.add(result)
        self.stdout.write(
            f"Abgleich fertig: {total.checked} Akten geprüft, {total.set_back} zurückgesetzt, "
            f"{total.queued} an Doctolib."
        )
