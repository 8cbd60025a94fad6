"""A row written together with the history row django-simple-history keeps for it,
without simple_history's per-save Python path (post_save, a model instance of the
history model, its own INSERT): on PostgreSQL in one statement, the write's
RETURNING feeding the history INSERT; elsewhere (SQLite) in two, the history row
copied from the row just written. The history row is the one simple_history makes:
every tracked field as now stored, the type ("+" created, "~" changed), the time,
the user (the instance's `_history_user`, else the signed-in user of the request
simple_history's middleware holds) and the change reason.

For hot paths that write one model row at a time (the Zipper appointment push);
everything else saves through the ORM and simple_history."""

from functools import cache

from django.db import connection
from django.utils import timezone
from simple_history.models import HistoricalRecords

from lemniscus.db import (
    insert_row,
    insert_statement,
    insert_unless_taken,
    insert_values,
    inserted_fields,
    mark_inserted,
)

_UNSET = object()


def history_user_id(instance) -> int | None:
    """The user simple_history's post_save would record for `instance`."""
    user = getattr(instance, "_history_user", _UNSET)
    if user is _UNSET:
        request = getattr(HistoricalRecords.context, "request", None)
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated:
            user = None
    return getattr(user, "pk", None)


@cache
def _history_columns(model) -> tuple[str, list[str], list[str]]:
    """The history table, the tracked columns, and those plus the history's own
    (`model.history` builds a manager class on every access: looked up once)."""
    history = model.history.model
    quote = connection.ops.quote_name
    tracked = [quote(field.column) for field in history.tracked_fields]
    own = [
        quote(history._meta.get_field(name).column)
        for name in ("history_date", "history_type", "history_user", "history_change_reason")
    ]
    return quote(history._meta.db_table), tracked, tracked + own


def history_insert(model, *, source: str) -> str:
    """`INSERT INTO <history> (...) SELECT <tracked columns>, %s, %s, %s, %s FROM
    <source>`: the history rows of the `model` rows in `source` (a table or a CTE
    with the model's columns); the parameters are history date, type, user id and
    change reason."""
    table, tracked, columns = _history_columns(model)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join(tracked)}, %s, %s, %s, %s FROM {source}"
    )


def history_params(*, history_type: str, user_id: int | None, reason: str | None) -> list:
    """The parameters of `history_insert`: now, the type, the user and the reason."""
    return [connection.ops.adapt_datetimefield_value(timezone.now()), history_type, user_id, reason]


@cache
def _along_insert(model, name: str, after: str) -> str:
    """`, <name> AS (INSERT INTO <table> (...) SELECT CAST(%s AS <type>), … WHERE
    EXISTS (SELECT 1 FROM <after>))`, built once per model: every value cast to its
    column's type, as an `INSERT … SELECT` of parameters needs."""
    quote = connection.ops.quote_name
    fields = inserted_fields(model)
    values = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
    return (
        f", {name} AS (INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"SELECT {values} WHERE EXISTS (SELECT 1 FROM {after}))"
    )


def _along(rows, *, after: str) -> tuple[str, list]:
    """CTEs inserting `rows` (new model instances) in the statement that writes the
    row: each only if that write happened (`after` is its CTE)."""
    ctes, params = [], []
    for number, row in enumerate(rows):
        ctes.append(_along_insert(type(row), f"along_{number}", after))
        params += insert_values(row)
    return "".join(ctes), params


def _write_with_history(
    model, write: str, params: list, *, history_values: list, along
) -> int | None:
    """`write` (an UPDATE or INSERT … RETURNING *), its history row and the `along`
    rows in one statement; the key of the row written, or None when none was."""
    quote = connection.ops.quote_name
    extra, extra_params = _along(along, after="written")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH written AS ({write}), history AS ("
            + history_insert(model, source="written")
            + f"){extra} SELECT {quote(model._meta.pk.column)} FROM written",
            [*params, *history_values, *extra_params],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def update_with_history(
    instance, field_names: list[str], *, reason: str | None, version: str | None = None, along=()
) -> bool:
    """`instance.save(update_fields=field_names)`, its "~" history row and the `along`
    rows (new instances of other models), in one statement on PostgreSQL. With
    `version` (the row's `xmin`, as text, when it was read) only if nobody
    has changed the row since: False, and nothing written, if somebody has (or it is
    gone). SQLite has no row version: call it in the transaction that read the row."""
    quote = connection.ops.quote_name
    meta = type(instance)._meta
    fields = [meta.get_field(name) for name in field_names]
    update = (
        f"UPDATE {quote(meta.db_table)} "
        f"SET {', '.join(f'{quote(field.column)} = %s' for field in fields)} "
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    params = [
        *(field.get_db_prep_save(field.pre_save(instance, False), connection) for field in fields),
        instance.pk,
    ]
    after = history_params(history_type="~", user_id=history_user_id(instance), reason=reason)
    if connection.vendor == "postgresql":
        if version is not None:
            update += " AND xmin = CAST(%s AS xid)"
            params.append(version)
        written = _write_with_history(
            type(instance), f"{update} RETURNING *", params, history_values=after, along=along
        )
        return written is not None
    with connection.cursor() as cursor:
        cursor.execute(update, params)
        if not cursor.rowcount:
            return False
        cursor.execute(
            history_insert(type(instance), source=_row_of(instance)), [*after, instance.pk]
        )
    for row in along:
        insert_row(row)
    return True


def insert_with_history(instance, *, reason: str | None, along=()) -> bool:
    """Insert `instance`, its "+" history row and the `along` rows (new instances of
    other models). False, and nothing written, when a concurrent writer holds one of
    its unique keys (INSERT … ON CONFLICT DO NOTHING: it waited for that writer's
    commit, and needs no savepoint)."""
    model = type(instance)
    after = history_params(history_type="+", user_id=history_user_id(instance), reason=reason)
    if connection.vendor == "postgresql":
        insert = insert_statement(model, ignore_conflicts=True, returning="*")
        pk = _write_with_history(
            model, insert, insert_values(instance), history_values=after, along=along
        )
        if pk is None:
            return False
        mark_inserted(instance, pk)
        return True
    if not insert_unless_taken(instance):
        return False
    with connection.cursor() as cursor:
        cursor.execute(history_insert(model, source=_row_of(instance)), [*after, instance.pk])
    for row in along:
        insert_row(row)
    return True


def _row_of(instance) -> str:
    """`<table> WHERE <key> = %s`: the instance's row, as a `history_insert` source."""
    quote = connection.ops.quote_name
    meta = type(instance)._meta
    return f"{quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"
