"""Taking the exported appointments out of the calendar (in the job's final
transaction) and putting them back (the undo), each with a snapshot of every field,
the transfers that pointed to them. The rows themselves are written by the
appointment domain (appointments.services `appointments_take_out` and
`appointments_put_back`, history rows in one statement each)."""

from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from appointments.models import Appointment
from appointments.services import appointments_put_back, appointments_take_out
from billing.models import InvoiceLine
from doctolib_bridge.handover.csv_files import fingerprint
from doctolib_bridge.handover.selectors import CHUNK, handover_appointments
from doctolib_bridge.models import (
    ExportedAppointment,
    ExportJob,
    ExportState,
    RemovedAppointment,
    Transfer,
)
from documentation.models import DocumentationEntry
from lemniscus.tenancy import scoped
from organisations.models import Organisation

REMOVED_REASON = "Übergabe an Doctolib"
RESTORED_REASON = "Übergabe rückgängig gemacht"


def _chunks(values: Iterable, size: int = CHUNK) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _to_json(value):
    if value is None or isinstance(value, bool | int | str):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _from_json(model_field, value):
    return None if value is None else model_field.to_python(value)


def remove(*, job: ExportJob, cutoff: datetime) -> int:
    """Remove exactly the exported appointments that still match the rule and are
    unchanged since they were written (their fingerprint, recomputed by the database,
    equals the one stored with the file), keeping each one's snapshot for the undo.
    Appointments still listed on a cancelled invoice stay (the invoice keeps its lines).
    The run's stored fingerprints are deleted afterwards."""
    fields = Appointment._meta.concrete_fields
    attnames = [f.attname for f in fields]
    removed = 0
    exported = ExportedAppointment.objects.filter(
        job=job,
        attempt=job.attempts,
        appointment_pk=OuterRef("pk"),
        fingerprint=OuterRef("current_fingerprint"),
    )
    unchanged = (
        handover_appointments(organisation=job.organisation, cutoff=cutoff)
        .exclude(
            Q(Exists(InvoiceLine.objects.filter(appointment=OuterRef("pk"))))
            | Q(Exists(DocumentationEntry.objects.filter(appointment=OuterRef("pk"))))
        )
        .alias(current_fingerprint=fingerprint(job.organisation.zone))
        .filter(Exists(exported))
        .select_for_update()
        .order_by("pk")
        .values(*attnames)
    )
    # One query (one hash join against the stored fingerprints), read chunk by chunk
    # through a server-side cursor. SQLite gives no isolation between a pending read
    # and writes on the same connection, so there (small, embedded) it is read first.
    source = unchanged.iterator(CHUNK) if connection.vendor == "postgresql" else list(unchanged)
    for rows in _chunks(source):
        pks = [row["id"] for row in rows]
        transfers: dict[int, list[int]] = {}
        for transfer_pk, appointment_pk in Transfer.objects.filter(
            appointment_id__in=pks
        ).values_list("pk", "appointment_id"):
            transfers.setdefault(appointment_pk, []).append(transfer_pk)
        RemovedAppointment.objects.bulk_create(
            RemovedAppointment(
                job=job,
                appointment_pk=row["id"],
                appointment_public_id=row["public_id"],
                snapshot={name: _to_json(row[name]) for name in attnames},
                transfer_pks=transfers.get(row["id"], []),
            )
            for row in rows
        )
        Transfer.objects.filter(appointment_id__in=pks).update(appointment=None)
        # Related rows are handled above (tests/jobs/test_handover.py checks that no
        # other relation exists).
        appointments_take_out(pks=pks, actor=job.created_by, reason=REMOVED_REASON)
        removed += len(rows)
    forget_exported(job)
    return removed


def forget_exported(job: ExportJob) -> None:
    """The job's stored fingerprints, of every run (`csv_files.exported_record`)."""
    ExportedAppointment.objects.filter(job=job)._raw_delete(connection.alias)


def mark_handover(organisation: Organisation) -> None:
    """handover_at: when the latest removal that was not undone finished, or None."""
    latest = (
        scoped(ExportJob, organisation)
        .filter(state=ExportState.DONE, delete_appointments=True, undone_at__isnull=True)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    organisation.handover_at = latest
    organisation.save(update_fields=["handover_at", "updated_at"])


def restore(*, job: ExportJob, actor) -> None:
    """The job's removed appointments back, every value as it was."""
    fields = Appointment._meta.concrete_fields
    for chunk in _chunks(job.removed.order_by("pk").iterator(CHUNK)):
        appointments = [
            Appointment(
                **{
                    f.attname: (
                        _from_json(f, r.snapshot[f.attname])
                        if f.attname in r.snapshot
                        else f.get_default()
                    )
                    for f in fields
                }
            )
            for r in chunk
        ]
        appointments_put_back(appointments=appointments, actor=actor, reason=RESTORED_REASON)
        for r in chunk:
            if r.transfer_pks:
                Transfer.objects.filter(pk__in=r.transfer_pks).update(
                    appointment_id=r.appointment_pk
                )
