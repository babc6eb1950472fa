"""A human task's terms in its pool -- due date, priority, stalled, last touched -- kept in
viewflow's own ``Task.data``.

Why there and not in a table of ours: the pools filter and sort open tasks by their state
(viewflow's columns: node, status, owner) *and* by these terms. In one row, a partial
index on viewflow's table serves a pool page, claim-next and the counts straight from the
index (migration 0001), whatever the number of finished tasks; in a second table every
pool query joined all open tasks of the pool before it could sort them, and the planner
did not always choose that join well. And the terms cost nothing to write: they are part
of the INSERT that creates the task (``conveyor.nodes.StageActivation.create``).

The keys are the engine's (``sf_`` prefix); times are stored in UTC as ISO 8601 strings
to the second, which sort in time order, so ``data -> 'sf_due'`` orders and compares
correctly as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Func, IntegerChoices, JSONField, QuerySet, TextChoices
from django.db.models.sql.compiler import SQLCompiler
from django.utils.translation import gettext_lazy as _

DUE = "sf_due"
PRIORITY = "sf_priority"
STALLED = "sf_stalled"
STALLED_REASON = "sf_stalled_reason"
TOUCHED = "sf_touched"
# A task of a distributing pool whose hand-out (``distribution.task_auto_assign``) has not
# been tried yet: set when the task is made or returned to its pool, dropped by the try or
# by a person taking it. Its value is True, or the id of the person who just gave the task
# back (the hand-out passes over them). The sweep (``distribution.handouts_sweep``) finds
# tasks whose hand-out never reached a worker -- the broker was down.
HANDOUT = "sf_handout"
# A task created by a bounce (its stage's performer is asked again).
BOUNCED = "sf_bounced"
# What a stage waits for before it may be completed or sent back: {key: reason}, set and
# dropped by ``conveyor.services.stage_hold`` / ``stage_release`` (a flow's side task the
# stage waits for). Read with the task under its lock: costs no query.
HOLDS = "sf_holds"
# The person a task is about, who may not take it (a pay dispute's own author): the
# stage's ``.NotFor()``, written with the task's other terms and checked by the same rule
# as separation of duties (``queues.rules``) -- read with the task: costs no query.
NOT_FOR = "sf_not_for"

# ORM paths, for filters and order_by (they compile to the indexed expressions)
DUE_PATH = f"data__{DUE}"
PRIORITY_PATH = f"data__{PRIORITY}"
STALLED_PATH = f"data__{STALLED}"


class Priority(IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class StallReason(TextChoices):
    SLA = "sla", _("Past its stage's SLA")
    IDLE = "idle", _("Assigned but untouched")


def stamp(moment: datetime) -> str:
    """A time as the terms store it: UTC, ISO 8601, to the second."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class Terms:
    due: datetime | None
    priority: int
    stalled: datetime | None
    stalled_reason: str
    touched: datetime | None

    @property
    def priority_label(self) -> str:
        return str(Priority(self.priority).label)

    @property
    def stalled_reason_label(self) -> str:
        return str(StallReason(self.stalled_reason).label) if self.stalled_reason else ""


def terms_of(task: Any) -> Terms:
    """The terms read from a task's data (a task made before them has none: NORMAL)."""
    data = task.data or {}
    return Terms(
        due=_time(data.get(DUE)),
        priority=int(data.get(PRIORITY, Priority.NORMAL)),
        stalled=_time(data.get(STALLED)),
        stalled_reason=data.get(STALLED_REASON, ""),
        touched=_time(data.get(TOUCHED)),
    )


def new_terms(*, due: datetime, priority: int) -> dict[str, Any]:
    """The data keys of a new task."""
    return {DUE: stamp(due), PRIORITY: int(priority)}


class _MergeKeys(Func):
    """``data`` with some keys set (PostgreSQL ``||``, SQLite ``json_patch``)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.patch = json.dumps(values)
        super().__init__(F("data"), output_field=JSONField())

    def as_sql(
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        sql, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"({sql} || %s::jsonb)", (*params, self.patch)
        return f"json_patch({sql}, %s)", (*params, self.patch)


def set_terms(tasks: QuerySet[Any], **values: Any) -> int:
    """Set term keys on the tasks in one UPDATE; the rest of ``data`` is left as it is."""
    return tasks.update(data=_MergeKeys({_key(k): v for k, v in values.items()}))


def _key(name: str) -> str:
    return name if name.startswith("sf_") else f"sf_{name}"
