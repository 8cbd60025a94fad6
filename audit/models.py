"""The Protokoll (staff-api.md 1.1, "Audit log"): who read or changed what, and when.

Append-only: on PostgreSQL a trigger refuses every UPDATE and DELETE (migration 0002),
but for the erasure of a record past its retention (lemniscus.erasure). An entry
names objects by their public ids and never holds health data: `detail` says what
happened (the names of changed fields, an invoice number), not what a record says."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="+"
    )
    time = models.DateTimeField(default=timezone.now)
    # The member who acted; null for the system (nightly jobs, Doctolib's pushes).
    # The log outlives users and never blocks their deletion: no constraint, and
    # nothing done on delete (SET_NULL would UPDATE rows the guard keeps as written).
    # A deleted user's entries keep the id and `actor_label`.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    # The actor as shown at the time ("Anna Muster <anna@praxis.de>", "System").
    actor_label = models.CharField(max_length=300)
    action = models.CharField(max_length=50)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64, blank=True)
    # The record concerned, by public id: kept after the record is erased.
    patient_id = models.UUIDField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "Protokolleintrag"
        verbose_name_plural = "Protokoll"
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["organisation", "-time", "-id"], name="audit_org_time_idx"),
            models.Index(
                fields=["organisation", "patient_id", "-time"], name="audit_org_patient_idx"
            ),
            models.Index(fields=["organisation", "actor", "-time"], name="audit_org_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"
