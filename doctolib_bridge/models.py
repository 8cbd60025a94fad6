from django.db import models

from lemniscus.models import TenantModel


class SyncLogEntry(TenantModel):
    """One Zipper API call, recorded before its answer is sent (kept 90 days)."""

    method = models.CharField(max_length=10)
    endpoint = models.CharField(max_length=200)
    doctolib_patient_id = models.CharField(max_length=64, blank=True)
    doctolib_appointment_id = models.CharField(max_length=64, blank=True)
    status = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=32, blank=True)
    code = models.CharField(max_length=40, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = "Sync-Protokolleintrag"
        verbose_name_plural = "Sync-Protokoll"
        indexes = [
            models.Index(fields=["organisation", "-created_at"], name="synclog_org_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.endpoint} → {self.status}"
