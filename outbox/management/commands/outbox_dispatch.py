from django.core.management.base import BaseCommand

from outbox.models import OutboxMessage
from outbox.services import dispatch_pending


class Command(BaseCommand):
    help = "Postausgang jetzt an die Hintergrundjobs übergeben (sonst jede Minute durch beat)."

    def handle(self, *args, **options):
        handed = dispatch_pending()
        waiting = OutboxMessage.objects.filter(sent_at__isnull=True).count()
        self.stdout.write(f"{handed} übergeben, {waiting} warten noch.")
