"""The one way the engine locks a task before changing it.

One statement reads the task, with what the caller needs of its deal (``related``: one of
``SHAPES``, a path through the task's process, e.g. ``process__lead__order``) and any
annotations, and locks two rows with ``SELECT ... FOR UPDATE OF``: the task's process --
viewflow's own lock (``lock.select_for_update_lock``, system check salesflow.E001), so
viewflow's paths (timers, gateways) and ours serialise on the same row -- and the task.

Why the task row too: in PostgreSQL a statement that waited for a lock returns the rows it
locked as they are now, but every other row of the join as its snapshot saw them before
the wait. Locking only the process would hand the second of two simultaneous claims the
task as it was -- still in the pool -- and both would take it. With the task row locked,
the second one sees it taken. Everything that changes a task (claim, completion,
reassignment, hand-out) goes through ``locked_task``, so two people acting on one deal are
serialised, never interleaved.

What the task's lock does not cover: annotations read with the task keep the statement's
snapshot. The facts they answer (separation of duties, the pending note) change only by
actions holding this same lock, except a person's load -- which changes when the same
person takes another task. That is serialised by the person's own lock (``person_lock``,
an advisory lock on the user), taken before the task's.

Why the statement is written out here and not built by the ORM on each call: this read
runs twice on every stage (the claim and the completion), and building it with the ORM --
``select_related`` over four models plus the annotations -- costs 2.5 ms of Python per
read on this machine, more than the database takes to answer it; with it the conveyor
fell to 0.63 of bare viewflow's throughput (docs/benchmarks.md). So the text is built once
per shape from the models' own tables and columns, the row comes back through each
field's own converters and ``Model.from_db``, with the related objects cached as
``select_related`` caches them -- and ``tests/test_locking.py`` reads every shape in
``SHAPES`` both ways and requires the same objects, so a model change that this code
would read differently fails a test, not a claim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.exceptions import NotFound, NotPermitted

from .stage import is_stage

# The shapes a locked read serves: what it reads with the task (select_related paths).
SHAPES = ("process", "process__lead", "process__lead__order")

# a column, and what turns its database value into its field's Python value
_Converters = tuple[Any, tuple[Callable[..., Any], ...]]
_Attach = Callable[[models.Model, models.Model | None], None]


def _converters(field: models.Field[Any, Any], alias: str) -> _Converters:
    column = field.get_col(alias)
    backend = connection.ops.get_db_converters(column)
    return column, tuple(backend + field.get_db_converters(connection))


def _attach_forward(field: Any) -> _Attach:
    """``task.process = process``, as select_related caches it."""

    def attach(parent: models.Model, child: models.Model | None) -> None:
        field.set_cached_value(parent, child)

    return attach


def _attach_reverse(rel: Any) -> _Attach:
    """``process.lead = lead`` (None too: "there is none" is known) and ``lead.process``."""

    def attach(parent: models.Model, child: models.Model | None) -> None:
        rel.set_cached_value(parent, child)
        if child is not None:
            rel.remote_field.set_cached_value(child, parent)

    return attach


@dataclass(frozen=True)
class _Part:
    """One model's columns in the row, and how its object hangs on the one before."""

    model: type[models.Model]
    start: int
    fields: tuple[models.Field[Any, Any], ...]
    converters: tuple[_Converters, ...]
    attach: _Attach | None  # None for the task itself

    def instance(self, row: tuple[Any, ...]) -> models.Model | None:
        values = row[self.start : self.start + len(self.fields)]
        if values[0] is None and self.attach is not None:
            return None  # an outer join found nothing (the primary key comes first)
        converted = []
        for value, (column, converters) in zip(values, self.converters, strict=True):
            for converter in converters:
                value = converter(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, [f.attname for f in self.fields], converted)


@dataclass(frozen=True)
class _LockedRead:
    """``SELECT`` a task and a chain of rows related to it, ``FOR UPDATE OF`` its process and
    itself. ``related`` is a path from the task through its process, e.g.
    ``process__lead__order``."""

    select: str
    tail: str
    parts: tuple[_Part, ...]
    width: int

    @classmethod
    @cache
    def of(cls, related: str) -> _LockedRead:
        if related not in SHAPES:
            raise ValueError(
                f"{related!r} is not a locked read's shape ({', '.join(SHAPES)}): add it to "
                "SHAPES, where tests/test_locking.py compares it with the ORM's select_related"
            )
        quote = connection.ops.quote_name
        fields = tuple(Task._meta.concrete_fields)
        parts = [_Part(Task, 0, fields, tuple(_converters(f, "t0") for f in fields), None)]
        joins = []
        model, alias, width = Task, "t0", len(fields)
        for index, name in enumerate(related.split("__"), start=1):
            field = model._meta.get_field(name)
            target, child = field.related_model, f"t{index}"
            if field.concrete:  # a foreign key on this side (task.process)
                kind = "LEFT OUTER" if field.null else "INNER"
                on = f"{child}.{quote(target._meta.pk.column)} = {alias}.{quote(field.column)}"
                attach = _attach_forward(field)
            else:  # a one-to-one from the other side (process.lead, lead.order)
                kind = "LEFT OUTER"
                on = (
                    f"{child}.{quote(field.remote_field.column)}"
                    f" = {alias}.{quote(model._meta.pk.column)}"
                )
                attach = _attach_reverse(field)
            joins.append(f"{kind} JOIN {quote(target._meta.db_table)} {child} ON {on}")
            fields = tuple(target._meta.concrete_fields)
            converters = tuple(_converters(f, child) for f in fields)
            parts.append(_Part(target, width, fields, converters, attach))
            model, alias, width = target, child, width + len(fields)
        columns = ", ".join(
            f"t{index}.{quote(str(field.column))}"
            for index, part in enumerate(parts)
            for field in part.fields
        )
        # the process first, as viewflow locks it; SQLite (the embedded default) has no row
        # locks -- it lets one writer at a time in anyway
        lock = " FOR UPDATE OF t1, t0" if connection.features.has_select_for_update_of else ""
        return cls(
            select=f"SELECT {columns}",
            tail=(
                f" FROM {quote(Task._meta.db_table)} t0 {' '.join(joins)}"
                f" WHERE t0.{quote(Task._meta.pk.column)} = %s{lock}"
            ),
            parts=tuple(parts),
            width=width,
        )

    def read(self, task_id: int, annotations: dict[str, RawSQL]) -> Task | None:
        extra = "".join(f", ({sql.sql}) AS {name}" for name, sql in annotations.items())
        params = [param for sql in annotations.values() for param in sql.params]
        with connection.cursor() as cursor:
            cursor.execute(self.select + extra + self.tail, [*params, task_id])
            row = cursor.fetchone()
        if row is None:
            return None
        task = self.parts[0].instance(row)
        assert task is not None  # the task's own part: never an outer join
        parent = task
        for part in self.parts[1:]:
            child = part.instance(row)
            if part.attach is not None:
                part.attach(parent, child)
            if child is None:
                break
            parent = child
        for (name, sql), value in zip(annotations.items(), row[self.width :], strict=True):
            for converter in sql.get_db_converters(connection):
                value = converter(value, sql, connection)
            setattr(task, name, value)
        return task


def task_for_update(
    *, task_id: int, related: str = "process", annotations: Mapping[str, RawSQL] | None = None
) -> Task:
    """The task, with its process and its own row locked by the same query (call inside a
    transaction); ``related`` (one of ``SHAPES``) and ``annotations`` (``RawSQL``) are read
    with it. DoesNotExist if there is none."""
    task = _LockedRead.of(related).read(task_id, dict(annotations or {}))
    if task is None:
        raise Task.DoesNotExist(f"no task #{task_id}")
    return task


# the first key of the two-key advisory locks on a person (the intake uses 0x5A1E)
_PERSON_LOCK_SPACE = 0x5A1F


def person_lock(user_id: int) -> None:
    """Serialise, until the transaction ends, everything that gives ``user_id`` work: the
    work-in-progress count a claim reads is then the count after every other claim of
    theirs that committed, so eight "take the next task" presses at once, one short of
    the limit, end at the limit. Take it before any task's lock, never after, so two such
    actions never wait on each other crosswise (``locked_task(person=...)`` does). SQLite
    lets one writer in at a time anyway."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PERSON_LOCK_SPACE, user_id])


def person_try_lock(user_id: int) -> bool:
    """``person_lock`` without waiting: False if someone else is giving them work now. For
    a hand-out that already holds a task's lock (waiting then could deadlock)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [_PERSON_LOCK_SPACE, user_id])
        row = cursor.fetchone()
    return bool(row and row[0])


@contextmanager
def locked_task(
    task: Task,
    related: str = "process",
    *,
    person: int | None = None,
    annotations: Mapping[str, RawSQL] | None = None,
) -> Iterator[Task]:
    """A transaction holding the task's locks -- and first the lock of ``person`` (a user's
    id), when work is being given to them; yields the task re-read under them, with
    ``related`` and ``annotations``. NotFound if the task is gone, NotPermitted if it is not
    a stage people work on."""
    if not is_stage(task.flow_task):
        raise NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    with transaction.atomic():
        if person is not None:
            person_lock(person)
        try:
            fresh = task_for_update(task_id=task.pk, related=related, annotations=annotations)
        except Task.DoesNotExist:
            raise NotFound(_("Task #%(id)s does not exist.") % {"id": task.pk}) from None
        yield fresh
