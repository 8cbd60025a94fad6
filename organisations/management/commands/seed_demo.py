import time

from django.core.management.base import BaseCommand, CommandError

from organisations.demo import demo_seed


class Command(BaseCommand):
    help = (
        "Legt eine neue Demo-Organisation (Abo XL) mit Patienten, Kalenderspalten, "
        "Leistungsketten, Terminen und Rechnungen (bezahlte, teilweise bezahlte, "
        "überfällige und gemahnte) an; die letzte Zeile nennt den Login."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=200)

    def handle(self, *args, patients, **options):
        if patients < 0:
            raise CommandError("--patients darf nicht negativ sein.")
        started = time.monotonic()
        result = demo_seed(patients=patients)
        self.stdout.write(
            f"{result.organisation} angelegt: {result.patients} Patienten, "
            f"{result.appointments} Termine, {result.invoices} Rechnungen, "
            f"{result.documented} Dokumentationseinträge "
            f"in {time.monotonic() - started:.1f} s."
        )
        self.stdout.write(f"Login: {result.email} / {result.password}")
