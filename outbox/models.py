"""The transactional outbox (issue 12): a side effect a request asks for (an
e-mail, an export) is written here in the request's own transaction and handed to
Celery after the commit, so that a committed write never fails for the broker and
nothing asked for is lost while it is down."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    # A Celery task's registered name and its arguments (JSON).
    task = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    # Not before this (the backoff after a failed hand-over).
    available_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    # When Celery took it; null: still to be handed over.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Nachricht im Postausgang"
        verbose_name_plural = "Postausgang"
        indexes = [
            models.Index(
                fields=["available_at", "id"],
                name="outbox_pending_idx",
                condition=Q(sent_at__isnull=True),
            ),
            models.Index(fields=["sent_at"], name="outbox_sent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"
