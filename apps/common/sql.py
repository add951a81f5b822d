"""Plain SQL for the write hot path: the statements the ORM would send, without building them each time.

The booking services lock and move a handful of rows per request; building
each of those statements through the ORM's query compiler cost more CPU than
PostgreSQL spent running them. The helpers here write the same SQL once per
model (cached text, so psycopg's server-side binding prepares it once per
connection) and hydrate ordinary model instances (`Model.from_db`), so the
services keep working with models. Identifiers are quoted as the ORM quotes
them.
"""

from collections.abc import Iterable, Sequence
from functools import cache

from django.db import connection, models


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


@cache
def _columns(model: type[models.Model]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(attnames, quoted columns) of the model's concrete fields, in declaration order."""
    fields = model._meta.concrete_fields
    return tuple(field.attname for field in fields), tuple(quote(field.column) for field in fields)


@cache
def select_sql(model: type[models.Model], *, where: str, lock: str = "") -> str:
    """`SELECT <every column> FROM <table> WHERE <where> [lock]` for `fetch_one`."""
    _, columns = _columns(model)
    return f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} WHERE {where} {lock}".rstrip()


def select_one_sql(model: type[models.Model], *, lock: str = "") -> str:
    """`SELECT <every column> FROM <table> WHERE <pk> = %s [lock]` for `fetch_one`."""
    return select_sql(model, where=f"{quote(model._meta.pk.column)} = %s", lock=lock)


@cache
def _converters(model: type[models.Model], vendor: str) -> tuple:
    """Per column, the converters the ORM's compiler would apply to what the driver returns (as it does)."""
    out = []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        out.append(tuple((convert, column) for convert in converters))
    return tuple(out)


def fetch_one(model: type[models.Model], sql: str, params: Sequence) -> models.Model | None:
    """The one row `sql` selects (every column, in `_columns` order) as a model instance, or None."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    attnames, _ = _columns(model)
    converters = _converters(model, connection.vendor)
    if any(converters):
        row = list(row)
        for index, column_converters in enumerate(converters):
            for convert, column in column_converters:
                row[index] = convert(row[index], column, connection)
    return model.from_db(connection.alias, attnames, row)


def pk_param(model: type[models.Model], pk):
    """A primary key as the database takes it (SQLite stores UUIDs as hex text)."""
    return model._meta.pk.get_db_prep_value(pk, connection)


def param(model: type[models.Model], field_name: str, value):
    """A value for a column of `model`, as the database takes it (SQLite stores datetimes and UUIDs as text)."""
    return model._meta.get_field(field_name).get_db_prep_value(value, connection)


def get_by_pk(model: type[models.Model], pk, *, lock: str = "") -> models.Model | None:
    """One row by primary key (`lock`: e.g. "FOR UPDATE"), as `fetch_one` returns it."""
    return fetch_one(model, select_one_sql(model, lock=lock), [pk_param(model, pk)])


def update_by_pk(model: type[models.Model], pk, **values) -> int:
    """`UPDATE <table> SET <column> = %s, ... WHERE <pk> = %s`; returns the row count.

    A value may be a `Raw("<sql expression>", params)` (e.g. `lessons_left + %s`).
    """
    assignments, params = _assignments(model, values)
    table, pk_column = quote(model._meta.db_table), quote(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk_column} = %s", [*params, pk_param(model, pk)]
        )
        return cursor.rowcount


def update_returning(model: type[models.Model], *, where: str, params: Sequence, **values) -> models.Model | None:
    """`UPDATE <table> SET ... WHERE <where> RETURNING <every column>`: the changed row, or None if none matched.

    A conditional move in one statement (lock, check and write at once): the row
    lock is taken by the UPDATE itself, and a concurrent writer that got there
    first makes PostgreSQL re-check `where` against the row it committed.
    Update one row at most (`where` names the primary key).
    """
    assignments, set_params = _assignments(model, values)
    _, columns = _columns(model)
    table = quote(model._meta.db_table)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {where} RETURNING {', '.join(columns)}"
    return fetch_one(model, sql, [*set_params, *params])


def _assignments(model: type[models.Model], values: dict) -> tuple[list[str], list]:
    assignments, params = [], []
    for name, value in values.items():
        field = model._meta.get_field(name)
        column = quote(field.column)
        if isinstance(value, Raw):
            assignments.append(f"{column} = {value.sql}")
            params.extend(value.params)
        else:
            assignments.append(f"{column} = %s")
            params.append(field.get_db_prep_save(value, connection))
    return assignments, params


class Raw:
    """An SQL expression as an `update_by_pk` value: `Raw(f"{quote('lessons_left')} + %s", [1])`."""

    def __init__(self, sql: str, params: Iterable = ()):
        self.sql = sql
        self.params = list(params)


def insert_statement(model: type[models.Model], rows: Sequence[models.Model]) -> tuple[str, list]:
    """`INSERT INTO table (columns) VALUES (...), (...)` for unsaved instances, auto_now stamps filled in."""
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields)
    params: list = []
    for row in rows:
        params.extend(field.get_db_prep_save(field.pre_save(row, add=True), connection) for field in fields)
    values = ", ".join("(" + ", ".join(["%s"] * len(fields)) + ")" for _ in rows)
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}", params


def insert(row: models.Model) -> models.Model:
    """Insert one unsaved instance (its Python defaults, e.g. a uuid4 key, already set) in one statement.

    What `Model.objects.create` does, minus the signals and the compiler; the
    instance is marked saved, so later `save()` calls update it.
    """
    sql, params = insert_statement(type(row), [row])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    row._state.adding = False
    row._state.db = connection.alias
    return row
