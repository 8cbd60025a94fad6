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

from lemniscus.db import insert_unless_taken

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


def _history_params(instance, history_type: str, reason: str | None) -> list:
    return [
        connection.ops.adapt_datetimefield_value(timezone.now()),
        history_type,
        history_user_id(instance),
        reason,
    ]


def _prepared(instance, fields, *, add: bool) -> list:
    """The values `save()` would write for `fields` (auto_now and auto_now_add
    applied to the instance as well), as the database takes them."""
    return [field.get_db_prep_save(field.pre_save(instance, add), connection) for field in fields]


def update_with_history(instance, field_names: list[str], *, reason: str | None) -> None:
    """`instance.save(update_fields=field_names)` and its "~" history row."""
    meta = type(instance)._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in field_names]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    update = (
        f"UPDATE {table} SET {', '.join(f'{quote(field.column)} = %s' for field in fields)} "
        f"WHERE {pk} = %s"
    )
    params = [*_prepared(instance, fields, add=False), instance.pk]
    history_params = _history_params(instance, "~", reason)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH written AS ({update} RETURNING *) "
                + history_insert(type(instance), source="written"),
                [*params, *history_params],
            )
        else:
            cursor.execute(update, params)
            cursor.execute(
                history_insert(type(instance), source=f"{table} WHERE {pk} = %s"),
                [*history_params, instance.pk],
            )


def insert_with_history(instance, *, reason: str | None) -> bool:
    """Insert `instance` and its "+" history row. False, and nothing written, when a
    concurrent writer holds one of its unique keys (INSERT … ON CONFLICT DO NOTHING:
    it waited for that writer's commit, and needs no savepoint)."""
    model = type(instance)
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.local_concrete_fields if f is not meta.pk and not f.generated]
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    history_params = _history_params(instance, "+", reason)
    if connection.vendor == "postgresql":
        insert = (
            f"INSERT INTO {table} ({', '.join(quote(field.column) for field in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING RETURNING *"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH written AS ({insert}) "
                + history_insert(model, source="written")
                + f" RETURNING {pk}",
                [*_prepared(instance, fields, add=True), *history_params],
            )
            row = cursor.fetchone()
        if row is None:
            return False
        instance.pk = row[0]
        instance._state.adding = False
        instance._state.db = connection.alias
        return True
    if not insert_unless_taken(instance):
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            history_insert(model, source=f"{table} WHERE {pk} = %s"),
            [*history_params, instance.pk],
        )
    return True
