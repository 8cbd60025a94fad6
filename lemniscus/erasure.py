"""The one way past the database guards (migration billing 0007): on PostgreSQL,
triggers refuse to change or delete issued invoices, their lines, their archived
PDFs and their history, whoever asks: the ORM, `QuerySet.update()`, raw SQL.

The one exception the law makes is the erasure of records past their retention
(§ 630f BGB, § 147 AO: invoices after 8 years). That job opens `erasure()`, which
allows deleting for its own transaction and nothing else."""

from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def erasure():
    """A transaction in which the guards let rows be deleted (never changed). Only
    for the erasure of records whose retention has passed."""
    with transaction.atomic():
        _set_erasure("on")
        yield
        # A local setting lasts to the end of the outermost transaction: close it here
        # in case this block is nested in a longer one. (On an error, the rollback to
        # this block's savepoint undoes it.)
        _set_erasure("off")


def _set_erasure(value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lemniscus.erasure', %s, true)", [value])
