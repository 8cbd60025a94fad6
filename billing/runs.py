"""Billing runs (Rechnungslauf; staff-api.md "Money in", **Billing run**; issue 14).

A run bills a period at once. `billing_run_start` queues its job, which makes one
draft per patient with billable appointments in the period (optionally only of some
calendar columns) and lists every patient it left out, or whose appointments it left
out, with the reason (`skipped`). A person reviews the drafts; "Alle stellen"
(`billing_run_issue`) queues the same job again to issue them; "Alle senden"
(`billing_run_send`) asks for the e-mail of each issued one that has an address
(billing.sending), and `billing_run_print` is one PDF of those without.

The job works in chunks of patients (drafts) or invoices (issue), one transaction
each, and writes its progress with every chunk. It uses the very rules of a single
invoice (billing.services: `billing_refusals`, `draft_unsaved`, `next_numbers`,
`stamp_issued`) but writes each chunk's rows at once: invoices, lines, the
appointments' lock, history rows and Protokoll entries. Run again (its worker died,
the broker delivered it twice) it goes on where it stopped: appointments already on
a draft are no candidates any more, invoices already issued are not issued again.

Issuing takes the numbers of a chunk in one short transaction and archives each
invoice's PDF right after, one by one (about 0.2 s of WeasyPrint each): the number
sequence stays locked for milliseconds, not for minutes, so that the front desk can
issue a single invoice while a run works. Until its PDF is archived an issued
invoice's first read renders and archives it from its frozen data (billing.archive).
"""

import io
import logging
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from itertools import groupby

from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from pypdf import PdfWriter
from simple_history.utils import bulk_create_with_history

from appointments.models import Appointment, AppointmentStatus, CalendarColumn
from audit.actions import Action
from audit.services import audit_event, audit_record, audit_record_many
from billing import archive, sending
from billing.models import (
    BillingRun,
    BillingRunPhase,
    BillingRunStatus,
    DocumentKind,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatus,
)
from billing.parties import current_recipient, missing_data, missing_practice_data
from billing.services import (
    billing_refusals,
    created_detail,
    draft_unsaved,
    next_numbers,
    stamp_issued,
)
from lemniscus.errors import (
    BillingRunRunning,
    InvalidStatus,
    InvoiceIncomplete,
    NotFound,
    ValidationFailed,
)
from lemniscus.jobs import dead_before, heartbeat
from lemniscus.tenancy import parse_public_id, scoped
from outbox.services import enqueue
from patients.models import Patient

logger = logging.getLogger(__name__)

TASK = "billing.billing_run"
# Patients (drafts) or invoices (issue) per transaction.
CHUNK = 200
# Progress is written at least every this many archived PDFs.
PDF_PROGRESS_EVERY = 10
MAX_PERIOD_DAYS = 366
MAX_RUNS = 3
ACTIVE = (BillingRunStatus.QUEUED, BillingRunStatus.RUNNING)

FAILED_INTERNAL = "Der Rechnungslauf ist wegen eines internen Fehlers abgebrochen."
FAILED_TIME = "Der Rechnungslauf hat zu lange gedauert und wurde abgebrochen."
FAILED_STALE = (
    "Der Rechnungslauf kam nicht zu Ende (der Hintergrunddienst hat sich nicht mehr gemeldet)."
)
FAILED_RUNS = f"Der Rechnungslauf wurde {MAX_RUNS}-mal unterbrochen und deshalb aufgegeben."
AGAIN = {
    BillingRunPhase.DRAFTS: " Was schon erstellt ist, bleibt; starten Sie einen neuen Lauf.",
    BillingRunPhase.ISSUE: " Was schon gestellt ist, bleibt; klicken Sie erneut „Alle stellen“.",
}


# Selectors


def billing_run_list(*, organisation) -> QuerySet[BillingRun]:
    return (
        scoped(BillingRun, organisation)
        .select_related("created_by")
        .prefetch_related("calendar_columns")
        .annotate(invoice_count=Count("invoices"))
        .order_by("-created_at", "-id")
    )


def access_billing_run(*, organisation, public_id, lock: bool = False) -> BillingRun:
    """The organisation's run with this public id; another's or none is 404."""
    parsed = parse_public_id(public_id)
    runs = scoped(BillingRun, organisation).select_related("organisation", "created_by")
    if lock:
        runs = runs.select_for_update(of=("self",))
    run = runs.filter(public_id=parsed).first() if parsed else None
    if run is None:
        raise NotFound("Diesen Rechnungslauf gibt es nicht.")
    return run


def run_invoices(run: BillingRun) -> QuerySet[Invoice]:
    """The run's invoices, by patient name, with what the review list shows."""
    return (
        run.invoices.select_related("patient", "organisation")
        .annotate(line_count=Count("lines"))
        .order_by("patient__last_name", "patient__first_name", "pk")
    )


def run_totals(run: BillingRun) -> dict:
    """Counts and gross sum per status of the run's invoices (cancelled included, so
    that a discarded draft is accounted for), and their overall count and sum."""
    rows = run.invoices.values("status").annotate(count=Count("pk"), total=Sum("total"))
    by_status = {row["status"]: row for row in rows}
    live = [row for status, row in by_status.items() if status != InvoiceStatus.CANCELLED]
    return {
        "by_status": by_status,
        "count": sum(row["count"] for row in live),
        "total": sum((row["total"] for row in live), start=0),
    }


def _sendable(run: BillingRun) -> list[Invoice]:
    return list(
        run.invoices.filter(status__in=sending.SENDABLE)
        .select_related("patient", "organisation")
        .order_by("number")
    )


def run_mail_split(run: BillingRun) -> tuple[list[Invoice], list[Invoice]]:
    """The run's sendable (issued, partly paid, paid) invoices: those with an e-mail
    address (billing.sending.recipient_email) and those without, by number."""
    with_address, without = [], []
    for invoice in _sendable(run):
        (with_address if sending.recipient_email(invoice) else without).append(invoice)
    return with_address, without


# Services


def _period_bounds(organisation, start, end) -> tuple[datetime, datetime]:
    zone = organisation.zone
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def _columns(*, organisation, public_ids) -> list[CalendarColumn]:
    wanted = list(dict.fromkeys(public_ids))
    found = {
        c.public_id: c for c in scoped(CalendarColumn, organisation).filter(public_id__in=wanted)
    }
    missing = [
        f"{public_id}: Spalte nicht gefunden." for public_id in wanted if public_id not in found
    ]
    if missing:
        raise ValidationFailed(errors={"calendar_column_ids": missing})
    return [found[public_id] for public_id in wanted]


def _fail_dead(runs) -> int:
    """Fail each run whose worker stopped beating (lemniscus.jobs.DEAD_AFTER)."""
    failed = 0
    dead = runs.filter(status=BillingRunStatus.RUNNING).filter(
        Q(heartbeat_at__lt=dead_before())
        | Q(heartbeat_at__isnull=True, started_at__lt=dead_before())
    )
    for run in dead.select_for_update(skip_locked=True):
        _transition(run, BillingRunStatus.FAILED, error=FAILED_STALE + AGAIN[run.phase])
        logger.warning("billing run %s failed: its worker stopped (no heartbeat)", run.pk)
        failed += 1
    return failed


@transaction.atomic
def unscoped_billing_run_fail_dead() -> int:
    """Every organisation's dead runs, failed with a German reason (a beat task every
    minute and each worker's start run this)."""
    return _fail_dead(BillingRun.objects.all())


@transaction.atomic
def billing_run_start(
    *, organisation, actor, period_start, period_end, calendar_column_ids=()
) -> BillingRun:
    """Queue a run over the period (both days included, organisation's zone). 422
    when the period is reversed, longer than a year, or names another organisation's
    column; 409 `billing_run_running` while another run of the organisation works."""
    if period_end < period_start:
        raise ValidationFailed(errors={"period_end": ["Das Ende liegt vor dem Beginn."]})
    if (period_end - period_start).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(errors={"period_end": ["Höchstens ein Jahr auf einmal, bitte."]})
    columns = _columns(organisation=organisation, public_ids=calendar_column_ids)
    _fail_dead(scoped(BillingRun, organisation))
    try:
        with transaction.atomic():
            run = BillingRun.objects.create(
                organisation=organisation,
                created_by=actor,
                period_start=period_start,
                period_end=period_end,
            )
    except IntegrityError:  # the constraint: one queued or running run per organisation
        raise BillingRunRunning() from None
    run.calendar_columns.set(columns)
    _audit(run, actor, Action.BILLING_RUN_CREATE, _period_detail(run, columns))
    enqueue(TASK, run.pk)
    return run


def _period_detail(run: BillingRun, columns) -> str:
    text = f"{run.period_start:%d.%m.%Y}–{run.period_end:%d.%m.%Y}"
    return f"{text}, {len(columns)} Spalte(n)" if columns else text


def _audit(run: BillingRun, actor, action: str, detail: str = "") -> None:
    audit_record(
        organisation=run.organisation_id,
        actor=actor,
        action=action,
        object_id=run.public_id,
        detail=detail,
    )


def _refuse_unless_done(run: BillingRun, doing: str) -> None:
    if run.status in ACTIVE:
        raise InvalidStatus(f"Der Rechnungslauf arbeitet noch; {doing} geht erst danach.")


@transaction.atomic
def billing_run_issue(*, run: BillingRun, actor) -> BillingRun:
    """ "Alle stellen": queue the job again to issue the run's drafts. 409
    `invalid_status` while the run works or when it has no draft left; 422
    `invoice_incomplete` when the practice's own mandatory data is missing (then
    every invoice would be). A draft whose recipient lacks data stays a draft and
    is listed in `skipped`."""
    run = access_billing_run(organisation=run.organisation, public_id=run.public_id, lock=True)
    _refuse_unless_done(run, "das Stellen")
    drafts = run.invoices.filter(status=InvoiceStatus.DRAFT)
    if not drafts.exists() and not _unarchived(run).exists():
        raise InvalidStatus("Der Rechnungslauf hat keine Entwürfe mehr zu stellen.")
    practice = missing_practice_data(organisation=run.organisation)
    if practice:
        raise InvoiceIncomplete(errors=practice)
    run.phase = BillingRunPhase.ISSUE
    run.status = BillingRunStatus.QUEUED
    run.error = ""
    run.attempts = 0
    run.finished_at = None
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:  # another run of the organisation works (one at a time)
        raise BillingRunRunning() from None
    _audit(run, actor, Action.BILLING_RUN_ISSUE)
    enqueue(TASK, run.pk)
    return run


@transaction.atomic
def billing_run_send(*, run: BillingRun, actor) -> tuple[BillingRun, int, int]:
    """ "Alle senden": ask for the e-mail of each of the run's issued invoices that has
    an address and was never sent (so a second click sends nothing twice). Returns
    the run, how many were queued and how many have no address. 409
    `invalid_status` while the run works."""
    run = access_billing_run(organisation=run.organisation, public_id=run.public_id, lock=True)
    _refuse_unless_done(run, "das Senden")
    with_address, without = run_mail_split(run)
    queued = 0
    for invoice in with_address:
        if invoice.sent_at is not None:
            continue
        sending.invoice_send_request(invoice=invoice, actor=actor)
        queued += 1
    run.send_requested_at = timezone.now()
    run.save(update_fields=["send_requested_at", "updated_at"])
    _audit(run, actor, Action.BILLING_RUN_SEND, f"{queued} Rechnung(en)")
    return run, queued, len(without)


@transaction.atomic
def billing_run_print(*, run: BillingRun, actor) -> bytes:
    """One PDF of the run's sendable invoices without an e-mail address, by number:
    their archived PDFs one after the other (each starts on a page of its own), for
    printing and posting. 404 when there is none."""
    _, without = run_mail_split(run)
    if not without:
        raise NotFound("Alle Rechnungen dieses Laufs gehen per E-Mail; es gibt nichts zu drucken.")
    writer = PdfWriter()
    for invoice in without:
        writer.append(io.BytesIO(archive.invoice_pdf(invoice)))
    out = io.BytesIO()
    writer.write(out)
    _audit(run, actor, Action.BILLING_RUN_PRINT, f"{len(without)} Rechnung(en)")
    return out.getvalue()


# The job


def _transition(run: BillingRun, status: str, **fields) -> None:
    now = timezone.now()
    run.status = status
    if status == BillingRunStatus.RUNNING:
        run.started_at = now
        run.heartbeat_at = now
        run.attempts += 1
    else:
        run.finished_at = now
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()


@transaction.atomic
def _claim(run_id: int) -> BillingRun | None:
    run = (
        BillingRun.objects.select_for_update(of=("self",))
        .select_related("organisation", "created_by")
        .filter(pk=run_id)
        .first()
    )
    if run is None or run.status not in ACTIVE:
        return None
    if run.attempts >= MAX_RUNS:
        _transition(run, BillingRunStatus.FAILED, error=FAILED_RUNS + AGAIN[run.phase])
        return None
    _transition(run, BillingRunStatus.RUNNING)
    return run


@transaction.atomic
def _finish(run: BillingRun, status: str, error: str = "") -> None:
    fresh = BillingRun.objects.select_for_update().get(pk=run.pk)
    if fresh.status == BillingRunStatus.RUNNING and fresh.attempts == run.attempts:
        _transition(fresh, status, error=error)


def billing_run_execute(*, run_id: int) -> str:
    """The job (the Celery task's body) for the run's phase; idempotent. A done or
    failed run is left alone; a running one (its worker died, the broker delivered
    the task again) goes on where it stopped. Transient database errors propagate so
    that the task retries."""
    run = _claim(run_id)
    if run is None:
        return "skipped"
    try:
        with heartbeat(BillingRun, run.pk):
            if run.phase == BillingRunPhase.DRAFTS:
                _make_drafts(run)
            else:
                _issue(run)
    except OperationalError:
        raise
    except SoftTimeLimitExceeded:
        _finish(run, BillingRunStatus.FAILED, FAILED_TIME + AGAIN[run.phase])
        return BillingRunStatus.FAILED
    except Exception:
        logger.exception("billing run %s failed", run.pk)
        _finish(run, BillingRunStatus.FAILED, FAILED_INTERNAL + AGAIN[run.phase])
        return BillingRunStatus.FAILED
    _finish(run, BillingRunStatus.DONE)
    return BillingRunStatus.DONE


def billing_run_fail(*, run_id: int) -> None:
    """Fail a run whose task gave up retrying (the database stayed away)."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is not None:
        _finish(run, BillingRunStatus.FAILED, FAILED_INTERNAL + AGAIN[run.phase])


def _chunks(values: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _progress(run: BillingRun, *, done: int, total: int | None = None) -> None:
    fields = {"progress_done": done, "heartbeat_at": timezone.now(), "skipped": run.skipped}
    if total is not None:
        fields["progress_total"] = total
    BillingRun.objects.filter(pk=run.pk).update(**fields)


# Drafts


def _candidates(run: BillingRun, today) -> QuerySet[Appointment]:
    """The appointments the run looks at: in its period and columns, today or
    earlier, of a patient, not cancelled and on no invoice."""
    organisation = run.organisation
    start, end = _period_bounds(organisation, run.period_start, run.period_end)
    end = min(end, _period_bounds(organisation, today, today)[1])
    appointments = (
        scoped(Appointment, organisation)
        .filter(start__gte=start, start__lt=end, patient__isnull=False, invoice__isnull=True)
        .exclude(status=AppointmentStatus.CANCELLED)
    )
    columns = list(run.calendar_columns.values_list("pk", flat=True))
    if columns:
        appointments = appointments.filter(calendar_column__in=columns)
    return appointments


def _make_drafts(run: BillingRun) -> None:
    today = run.organisation.today()
    patient_ids = sorted(set(_candidates(run, today).values_list("patient_id", flat=True)))
    run.skipped = [entry for entry in run.skipped if entry.get("phase") != BillingRunPhase.DRAFTS]
    _progress(run, done=0, total=len(patient_ids))
    done = 0
    for chunk in _chunks(patient_ids):
        _draft_chunk(run, chunk, today)
        done += len(chunk)
        _progress(run, done=done)
    logger.info("billing run %s: drafts made for %s patients", run.pk, done)


@transaction.atomic
def _draft_chunk(run: BillingRun, patient_ids: list[int], today) -> None:
    """Drafts for these patients, in one transaction: their candidate appointments
    locked (key order), each checked by the rules of a single invoice."""
    organisation, actor = run.organisation, run.created_by
    appointments = list(
        _candidates(run, today)
        .filter(patient_id__in=patient_ids)
        .select_for_update(of=("self",))
        .select_related("service_chain", "calendar_column")
        .prefetch_related("service_chain__services")
        .order_by("pk")
    )
    appointments.sort(key=lambda a: (a.patient_id, a.start, a.pk))
    patients = Patient.objects.in_bulk(patient_ids)
    invoices, lines, taken, events = [], [], [], []
    for patient_id, group in groupby(appointments, key=lambda a: a.patient_id):
        patient = patients[patient_id]
        group = list(group)
        if patient.archived_at is not None:
            _skip(run, patient, "Die Akte ist archiviert; ihre Termine werden nicht abgerechnet.")
            continue
        billable, refused = [], []
        for appointment in group:
            reasons = billing_refusals(
                appointment, patient=patient, organisation=organisation, today=today
            )
            (refused if reasons else billable).append((appointment, reasons))
        if refused:
            _skip(run, patient, _refused_reason(refused, organisation, drafted=bool(billable)))
        if not billable:
            continue
        chosen = [appointment for appointment, _ in billable]
        invoice, invoice_lines = draft_unsaved(
            organisation=organisation, actor=actor, patient=patient, appointments=chosen, run=run
        )
        invoices.append(invoice)
        lines.extend(invoice_lines)
        taken.append((invoice, chosen))
    if not invoices:
        return
    bulk_create_with_history(invoices, Invoice, default_user=actor)
    for line in lines:
        line.invoice_id = line.invoice.pk
    bulk_create_with_history(lines, InvoiceLine, default_user=actor)
    now = timezone.now()
    locked = []
    for invoice, chosen in taken:
        for appointment in chosen:
            appointment.invoice = invoice
            appointment.updated_at = now
            locked.append(appointment)
        events.append(
            audit_event(
                organisation=organisation,
                actor=actor,
                action=Action.INVOICE_CREATE,
                object_id=invoice.public_id,
                patient=invoice.patient.public_id,
                detail=f"{created_detail(len(chosen))} (Rechnungslauf)",
            )
        )
    _update_with_history(locked, Appointment, ["invoice", "updated_at"], actor)
    audit_record_many(events)


def _update_with_history(objs: list, model, fields: list[str], actor) -> None:
    """What simple_history's `bulk_update_with_history` does, with one prepared UPDATE
    a row sent together (psycopg's executemany pipelines them) instead of Django's
    `bulk_update`, whose CASE expression grows with rows × fields and cost a run of
    2,000 patients most of its time; then a history row each, by `actor`."""
    columns = [model._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE id = %s"
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns]
        + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    model.history.bulk_history_create(objs, update=True, default_user=actor)


def _skip(run: BillingRun, patient: Patient, reason: str) -> None:
    run.skipped.append({"patient_id": str(patient.public_id), "reason": reason, "phase": run.phase})


def _refused_reason(refused, organisation, *, drafted: bool) -> str:
    """ "2 Termine nicht abgerechnet: 03.11.2026 ist noch nicht erledigt. …" — dates
    and reasons only (no service, no diagnosis)."""
    count = len(refused)
    parts = [
        f"{timezone.localtime(appointment.start, organisation.zone):%d.%m.%Y %H:%M} "
        + " ".join(reasons)
        for appointment, reasons in refused
    ]
    head = f"{count} Termin{'e' if count != 1 else ''} nicht abgerechnet"
    tail = " Die übrigen stehen auf dem Entwurf." if drafted else ""
    return f"{head}: {' '.join(parts)}{tail}"


# Issuing


def _unarchived(run: BillingRun) -> QuerySet[Invoice]:
    """The run's issued invoices whose PDF is not archived yet."""
    archived = InvoiceDocument.objects.filter(invoice=OuterRef("pk"), kind=DocumentKind.INVOICE)
    return run.invoices.exclude(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED]).filter(
        ~Exists(archived)
    )


def _issue(run: BillingRun) -> None:
    run.skipped = [entry for entry in run.skipped if entry.get("phase") != BillingRunPhase.ISSUE]
    numbered = _number_drafts(run)
    archived = _archive_pdfs(run, done=numbered)
    logger.info("billing run %s: issued %s, archived %s PDFs", run.pk, numbered, archived)


def _number_drafts(run: BillingRun) -> int:
    """Issue the run's drafts chunk by chunk; returns how many were looked at.
    Progress counts numbered drafts, then archived PDFs."""
    drafts = list(
        run.invoices.filter(status=InvoiceStatus.DRAFT).order_by("pk").values_list("pk", flat=True)
    )
    _progress(run, done=0, total=len(drafts) * 2 + _unarchived(run).count())
    done = 0
    for chunk in _chunks(drafts):
        _issue_chunk(run, chunk)
        done += len(chunk)
        _progress(run, done=done)
    return done


def _archive_pdfs(run: BillingRun, *, done: int = 0) -> int:
    """Archive the PDF of each issued invoice of the run that has none yet, by number
    (once: a concurrent first read may win); returns how many were looked at."""
    remaining = list(_unarchived(run).order_by("number").values_list("pk", flat=True))
    _progress(run, done=done, total=done + len(remaining))
    invoices = (
        Invoice.objects.filter(pk__in=remaining)
        .select_related("organisation", "patient")
        .order_by("number")
    )
    for index, invoice in enumerate(invoices.iterator(chunk_size=100), start=1):
        _archive(invoice)
        if index % PDF_PROGRESS_EVERY == 0 or index == len(remaining):
            _progress(run, done=done + index)
    return len(remaining)


@transaction.atomic
def _issue_chunk(run: BillingRun, invoice_ids: list[int]) -> None:
    """Issue these drafts of the run in one transaction: the complete ones take
    consecutive numbers; one whose recipient lacks data stays a draft, in `skipped`."""
    organisation, actor = run.organisation, run.created_by
    invoices = list(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "patient")
        .filter(pk__in=invoice_ids, status=InvoiceStatus.DRAFT)
        .order_by("pk")
    )
    complete = []
    for invoice in invoices:
        missing = missing_data(organisation=organisation, recipient=current_recipient(invoice))
        if missing:
            fields = " ".join(message for messages in missing.values() for message in messages)
            _skip(run, invoice.patient, f"Nicht gestellt, der Entwurf ist unvollständig: {fields}")
        else:
            complete.append(invoice)
    if not complete:
        return
    now = timezone.now()
    year = timezone.localdate(now, organisation.zone).year
    numbers = next_numbers(organisation=organisation, year=year, count=len(complete))
    for invoice, number in zip(complete, numbers, strict=True):
        stamp_issued(invoice, now=now, number=number)
        invoice.updated_at = now
    _update_with_history(
        complete,
        Invoice,
        ["status", "issue_date", "due_date", "number", "issued_at", "parties", "updated_at"],
        actor,
    )
    audit_record_many(
        [
            audit_event(
                organisation=organisation,
                actor=actor,
                action=Action.INVOICE_ISSUE,
                object_id=invoice.public_id,
                patient=invoice.patient.public_id,
                detail=invoice.number,
            )
            for invoice in complete
        ]
    )


def _archive(invoice: Invoice) -> None:
    try:
        with transaction.atomic():
            archive.archive_store(invoice=invoice, kind=DocumentKind.INVOICE)
    except IntegrityError:  # archived meanwhile by its first read
        pass
