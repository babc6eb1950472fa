"""Plain INSERTs for the rows the engine writes on every stage: audit events and handoff
notes.

The ORM's ``create()`` -- even ``bulk_create`` of one row -- spends several times longer in
Python building the statement and the object than the database spends storing the row,
and these rows are written on every claim and completion, the path the conveyor benchmark
measures against bare viewflow (docs/benchmarks.md). ``insert_row`` sends the statement
the ORM would: its text is built once per table and set of fields, from the model, and
every value goes through its field's ``get_db_prep_save`` (JSON, dates, foreign keys), so
it follows the model when the model changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.db import connection, models


@cache
def _insert_sql(model: type[models.Model], names: tuple[str, ...], returning: bool) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(model._meta.get_field(name).column) for name in names)
    marks = ", ".join(["%s"] * len(names))
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({marks})"
    return sql + f" RETURNING {quote(model._meta.pk.column)}" if returning else sql


def insert_row(
    model: type[models.Model], values: Mapping[str, Any], *, returning: bool = False
) -> int | None:
    """Insert one row: ``values`` maps field names to Python values (a foreign key to the
    related object's primary key, or None); returns the new primary key if ``returning``.
    No model default is applied: name every field the row needs."""
    names = tuple(values)
    params = [
        model._meta.get_field(name).get_db_prep_save(value, connection)
        for name, value in values.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, names, returning), params)
        return cursor.fetchone()[0] if returning else None
