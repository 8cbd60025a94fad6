"""What the handover reads: the organisation's export jobs, the appointments a handover
takes, and the jobs whose worker died."""

from datetime import datetime, time

from django.db.models import Q, QuerySet

from appointments.models import Appointment, AppointmentStatus
from doctolib_bridge.models import ExportJob, ExportState
from lemniscus.jobs import dead_before
from lemniscus.tenancy import access, scoped

CHUNK = 2000  # rows per database round trip, read and write alike


def export_list(*, organisation) -> QuerySet[ExportJob]:
    """The organisation's export jobs, newest first."""
    return scoped(ExportJob, organisation).order_by("-created_at", "-pk")


def access_export(*, organisation, public_id, lock: bool = False) -> ExportJob:
    return access(ExportJob, organisation=organisation, public_id=public_id, lock=lock)


def handover_appointments(*, organisation, cutoff: datetime) -> QuerySet[Appointment]:
    """ "The appointments to hand over": starting at `cutoff` (today's midnight in the
    organisation's zone) or later, not cancelled, on no non-cancelled invoice."""
    return (
        scoped(Appointment, organisation)
        .filter(start__gte=cutoff, invoice__isnull=True)
        .exclude(status=AppointmentStatus.CANCELLED)
    )


def today_starts(organisation) -> datetime:
    return datetime.combine(organisation.today(), time.min, tzinfo=organisation.zone)


def dead_jobs(jobs: QuerySet[ExportJob]) -> QuerySet[ExportJob]:
    """Running jobs whose worker stopped beating (lemniscus.jobs.DEAD_AFTER)."""
    return jobs.filter(state=ExportState.RUNNING).filter(
        Q(heartbeat_at__lt=dead_before())
        | Q(heartbeat_at__isnull=True, started_at__lt=dead_before())
    )
