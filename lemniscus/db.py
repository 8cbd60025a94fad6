from contextlib import contextmanager
from functools import cache

import psycopg
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.backends.utils import CursorDebugWrapper
from django.db.models.constants import OnConflict


def atomic_with_race_retry(func, /, *args, **kwargs):
    """Run `func` in a transaction; if it loses a race on a unique constraint (twenty
    identical requests at once), run it once more in a new transaction, where it
    finds the winner's row. Inside an outer transaction the first try runs in a
    savepoint; PostgreSQL's READ COMMITTED lets the second see the winner's commit."""
    try:
        with transaction.atomic():
            return func(*args, **kwargs)
    except IntegrityError:
        with transaction.atomic():
            return func(*args, **kwargs)


@cache
def inserted_fields(model) -> tuple:
    """The fields an INSERT of a new `model` row writes (all but the key and
    generated columns), as Model.save's does."""
    meta = model._meta
    return tuple(f for f in meta.local_concrete_fields if f is not meta.pk and not f.generated)


@cache
def insert_statement(model, *, ignore_conflicts: bool = False, returning: str = "") -> str:
    """`INSERT INTO <table> (...) VALUES (%s, ...) [ON CONFLICT DO NOTHING] RETURNING
    <returning, else the key>` for `insert_values`, built once per model."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = inserted_fields(model)
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    return (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}){conflict} "
        f"RETURNING {returning or quote(meta.pk.column)}"
    )


def insert_values(instance) -> list:
    """The values `save()` would insert for `instance` (auto_now_add applied to the
    instance as well), as the database takes them."""
    return [
        f.get_db_prep_save(f.pre_save(instance, True), connection)
        for f in inserted_fields(type(instance))
    ]


def mark_inserted(instance, pk) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def insert_unless_taken(instance) -> bool:
    """INSERT … ON CONFLICT DO NOTHING: False when a concurrent writer holds the
    unique key (it waited for that writer's commit), without the savepoint that
    catching an IntegrityError would need. Model.save's own insert (no signals), with
    the conflict clause Django's bulk_create cannot combine with RETURNING."""
    meta = type(instance)._meta
    rows = type(instance)._base_manager._insert(
        [instance],
        fields=list(inserted_fields(type(instance))),
        returning_fields=[meta.pk],
        using=connection.alias,
        on_conflict=OnConflict.IGNORE,
    )
    if not rows or rows[0] is None:
        return False
    mark_inserted(instance, rows[0][0])
    return True


def insert_row(instance) -> None:
    """`instance.save()` of a new row without what a hot path does not need: no
    signals (for models nothing listens to), and the INSERT built once per model
    instead of compiled on every call."""
    if not connection.features.can_return_columns_from_insert:
        instance.save(force_insert=True)
        return
    with connection.cursor() as cursor:
        cursor.execute(insert_statement(type(instance)), insert_values(instance))
        mark_inserted(instance, cursor.fetchone()[0])


def without_health_check(func, /, *args, **kwargs):
    """`func()`, whose first statement must not write (the Zipper push's plan),
    without Django's connection health check: the `SELECT 1` round trip a request
    pays when it first uses its persistent connection. Should that first statement
    find the connection dead (PostgreSQL restarted, an idle connection cut), it is
    dropped and `func` runs once more on a new one: what the health check is for,
    one round trip cheaper. Outside a transaction only (a dead connection inside one
    is its caller's to handle)."""
    if (
        connection.connection is None
        or not connection.health_check_enabled
        or connection.health_check_done
        or connection.in_atomic_block
    ):
        return func(*args, **kwargs)
    connection.health_check_done = True
    first = _FirstStatement()
    try:
        with connection.execute_wrapper(first):
            return func(*args, **kwargs)
    except (OperationalError, InterfaceError):
        raw = connection.connection
        if first.answered or not (raw is None or raw.closed):
            raise
    connection.close()
    return func(*args, **kwargs)


class _FirstStatement:
    """An execute wrapper that notes whether any statement got an answer."""

    answered = False

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.answered = True
        return result


def fetch_prepared(sql: str, params) -> list[tuple]:
    """The rows of `sql`, a statement run on every request whose planning costs more
    than running it (the Zipper push's planning statement: 0.36 ms to plan, 0.1 ms to
    run): on PostgreSQL a prepared statement, planned once per connection (PostgreSQL
    keeps its generic plan after five runs). Elsewhere (SQLite) an ordinary query.

    Django turns psycopg's automatic preparing off (for connection poolers in
    transaction mode: one in front must keep prepared statements, as pgbouncer does
    from 1.21 on); this cursor binds on the server and asks psycopg to prepare, and is
    wrapped as Django's are (errors, query logging)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = _PreparingCursor(connection.connection)
    wrapped = (
        _PreparedDebugCursor(cursor, connection)
        if connection.queries_logged
        else connection.make_cursor(cursor)
    )
    with wrapped:
        wrapped.execute(sql, params)
        return wrapped.fetchall()


class _PreparingCursor(psycopg.Cursor):
    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


class _PreparedDebugCursor(CursorDebugWrapper):
    """Django's query log, with the statement composed as Django composes it for
    server-side binding (psycopg keeps no text of a prepared statement's run)."""

    def debug_sql(self, sql=None, params=None, use_last_executed_query=False, many=False):
        return super().debug_sql(self.db.ops.compose_sql(sql, params), None, False, many)


# The first key of PostgreSQL advisory locks taken here; the second is the object's.
ADVISORY_NAMESPACES = {"reconcile": 4201}


@contextmanager
def single_flight(namespace: str, key: int):
    """Yields whether this process got to run the `namespace` work for `key`: a
    session-level PostgreSQL advisory lock, so it lasts across the work's own
    transactions and ends with the connection should the process die. A second
    caller does not wait: it gets False and should skip. SQLite has no such lock (the
    embedded default runs one process): always True there."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ADVISORY_NAMESPACES[namespace], key])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", [ADVISORY_NAMESPACES[namespace], key]
                )
