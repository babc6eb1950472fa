"""Names for the few statements the engine writes by hand (the pools' rules, the pending
note, the daily report): every table and column comes from the models' ``_meta``, quoted
for the database in use, so a renamed field changes the SQL with it.
``tests/test_raw_sql.py`` runs every such statement against the current schema."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


def table(model: type[Model]) -> str:
    """The model's table, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field: str) -> str:
    """The column of one of the model's fields (a foreign key's ``..._id``), quoted."""
    name = getattr(model._meta.get_field(field), "column", None)
    if not isinstance(name, str):
        raise ValueError(f"{model.__name__}.{field} has no column of its own")
    return connection.ops.quote_name(name)


def columns(model: type[Model], *fields: str) -> tuple[str, ...]:
    return tuple(column(model, field) for field in fields)


class Names:
    """A model's table and columns for an f-string: ``Names(Task).table`` is the quoted
    table, ``Names(Task).owner`` the quoted column of the field ``owner`` (``owner_id``)."""

    def __init__(self, model: type[Model]) -> None:
        self.model = model
        self.table = table(model)

    def __getattr__(self, field: str) -> str:
        return column(self.model, field)
