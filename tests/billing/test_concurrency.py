"""Issuing, cancelling and invoicing at the same time, each thread on its own
connection."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from appointments.models import Appointment
from billing import services
from billing.models import Invoice, InvoiceSequence, SequenceKind
from lemniscus.errors import InvalidStatus, ValidationFailed
from tests.billing.conftest import make_draft
from tests.factories import AppointmentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 16


def _run_at_once(work, count: int = THREADS) -> list:
    """`work(i)` in `count` threads released together; each closes its connection."""
    barrier = threading.Barrier(count)

    def run(i):
        try:
            barrier.wait()
            return work(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def _expected(organisation, count: int) -> list[str]:
    year = organisation.today().year
    return [f"{year}-{n:04d}" for n in range(1, count + 1)]


def test_concurrent_issuing_gives_gapless_unique_numbers(organisation, admin_user):
    drafts = [make_draft(organisation=organisation, actor=admin_user) for _ in range(THREADS * 5)]

    def work(i):
        return [
            services.invoice_issue(invoice=draft, actor=admin_user).number
            for draft in drafts[i::THREADS]
        ]

    numbers = sorted(number for batch in _run_at_once(work) for number in batch)

    assert numbers == _expected(organisation, THREADS * 5)
    assert sorted(Invoice.objects.values_list("number", flat=True)) == numbers
    assert InvoiceSequence.objects.get().last_number == THREADS * 5


def test_refused_issues_in_between_use_no_number(organisation, admin_user):
    issued = [
        services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
        for _ in range(4)
    ]
    drafts = [make_draft(organisation=organisation, actor=admin_user) for _ in range(THREADS * 3)]

    def work(i):
        """Each draft is issued by two threads at once; between them each thread tries
        to issue an invoice that is no longer a draft."""
        numbers, refused = [], 0
        own, neighbours = drafts[i::THREADS], drafts[(i + 1) % THREADS :: THREADS]
        for mine, theirs in zip(own, neighbours, strict=True):
            for invoice in (mine, issued[i % 4], theirs):
                try:
                    numbers.append(services.invoice_issue(invoice=invoice, actor=admin_user).number)
                except InvalidStatus:
                    refused += 1
        return numbers, refused

    results = _run_at_once(work)

    numbers = sorted(number for batch, _ in results for number in batch)
    assert numbers == _expected(organisation, 4 + THREADS * 3)[4:]
    assert sum(refused for _, refused in results) == 2 * THREADS * 3
    assert InvoiceSequence.objects.get().last_number == 4 + THREADS * 3
    assert not Invoice.objects.filter(status="draft").exists()


def test_concurrent_cancelling_gives_gapless_unique_cancellation_numbers(organisation, admin_user):
    """Each issued invoice is cancelled by two threads at once, and each thread issues
    a draft in between: the Storno numbers are 1..N without gap or duplicate, the
    invoice numbers run on in their own range, and refused cancellations use up
    nothing."""
    year = organisation.today().year
    issued = [
        services.invoice_issue(
            invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
        )
        for _ in range(THREADS * 3)
    ]
    drafts = [make_draft(organisation=organisation, actor=admin_user) for _ in range(THREADS)]

    def work(i):
        numbers, refused = [], 0
        own, neighbours = issued[i::THREADS], issued[(i + 1) % THREADS :: THREADS]
        for step, (mine, theirs) in enumerate(zip(own, neighbours, strict=True)):
            if step == 1:
                services.invoice_issue(invoice=drafts[i], actor=admin_user)
            for invoice in (mine, theirs):
                try:
                    cancelled = services.invoice_cancel(invoice=invoice, actor=admin_user)
                except InvalidStatus:
                    refused += 1
                else:
                    numbers.append(cancelled.cancellation_number)
        return numbers, refused

    results = _run_at_once(work)

    numbers = sorted(number for batch, _ in results for number in batch)
    assert numbers == [f"ST-{year}-{n:04d}" for n in range(1, THREADS * 3 + 1)]
    assert sum(refused for _, refused in results) == THREADS * 3
    stored = Invoice.objects.filter(cancellation_number__isnull=False)
    assert sorted(stored.values_list("cancellation_number", flat=True)) == numbers
    assert sorted(Invoice.objects.values_list("number", flat=True)) == _expected(
        organisation, THREADS * 4
    )
    sequences = dict(InvoiceSequence.objects.values_list("kind", "last_number"))
    assert sequences == {SequenceKind.INVOICE: THREADS * 4, SequenceKind.CANCELLATION: THREADS * 3}


def test_concurrent_invoices_over_the_same_appointments_lock_them_once(
    organisation, admin_user, patient, chain
):
    booked = AppointmentFactory.create_batch(
        3, organisation=organisation, patient=patient, service_chain=chain
    )

    def work(i):
        try:
            services.invoice_create(
                organisation=organisation,
                actor=admin_user,
                patient=patient,
                appointments=booked if i % 2 else list(reversed(booked)),
            )
        except ValidationFailed:
            return "refused"
        return "created"

    outcomes = _run_at_once(work, count=8)

    assert sorted(outcomes) == ["created"] + ["refused"] * 7
    invoice = Invoice.objects.get()
    assert set(Appointment.objects.values_list("invoice", flat=True)) == {invoice.pk}
    assert invoice.lines.count() == 6


def test_concurrent_line_edits_of_one_draft_lose_no_update(organisation, admin_user):
    """Each edit recomputes the totals under the draft's row lock: none is lost."""
    draft = make_draft(organisation=organisation, actor=admin_user)  # one line of 32.50

    def work(i):
        return services.invoice_line_add(
            invoice=draft, actor=admin_user, name=f"Material {i}", quantity=1, unit_price=1
        )

    _run_at_once(work)

    draft.refresh_from_db()
    assert draft.lines.count() == THREADS + 1
    assert draft.net_total == draft.total == Decimal("32.50") + THREADS


def test_concurrent_payments_never_take_more_than_is_open(organisation, admin_user):
    """Sixteen clerks record the whole open amount at once: the invoice's row lock
    lets one through; every other is told it is more than the open amount."""
    from billing.payments import payment_record

    issued = services.invoice_issue(
        invoice=make_draft(organisation=organisation, actor=admin_user), actor=admin_user
    )

    def work(_):
        try:
            payment_record(invoice=issued, actor=admin_user, amount=issued.total, method="transfer")
        except ValidationFailed:
            return "refused"
        return "paid"

    results = _run_at_once(work)

    assert sorted(results) == ["paid"] + ["refused"] * (THREADS - 1)
    issued.refresh_from_db()
    assert issued.status == "paid"
    assert list(issued.payments.values_list("amount", flat=True)) == [issued.total]
