"""The one way the engine locks a task before changing it.

The lock is viewflow's ``select_for_update`` lock -- a row lock on the task's process -- plus
a row lock on the task itself, both taken by the query that reads the task (viewflow locks,
then re-reads: one round trip more on every claim and completion). Flows must use
``lock.select_for_update_lock`` (system check salesflow.E001) so that viewflow's own paths
(timers, cancel) lock the same process row. Everything that changes a task (claim,
completion, reassignment, auto-assignment) goes through ``locked_task``, so two people
acting on one deal are serialised, never interleaved.

Why the task row too: in PostgreSQL a statement that waited for a lock returns the rows it
locked as they are now, but every other row of the join as its snapshot saw them before
the wait. Locking only the process would hand the second of two simultaneous claims the
task as it was -- still in the pool -- and both would take it. With the task row locked,
the second one sees it taken. The process is locked first, as viewflow does, so the two
never wait on each other in opposite orders. (Subquery annotations read with the task keep
the pre-wait snapshot; what they answer -- separation-of-duties facts, the pending note --
is only ever changed under this same lock by an action on this same task, which the
second claimant then sees as no longer waiting.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.exceptions import NotFound, NotPermitted

from .nodes import Stage


def task_for_update(
    *,
    task_id: int,
    related: tuple[str, ...] = ("process",),
    annotations: dict[str, Any] | None = None,
) -> Task:
    """The task, with its process row locked by the same query (call inside a transaction);
    ``related`` (paths through ``process``) and ``annotations`` are read with it.
    DoesNotExist if there is no such task."""
    queryset = Task.objects.select_related(*related).select_for_update(of=("process", "self"))
    if annotations:
        queryset = queryset.annotate(**annotations)
    return queryset.get(pk=task_id)


@contextmanager
def locked_task(
    task: Task, related: tuple[str, ...] = ("process",), **annotations: Any
) -> Iterator[Task]:
    """A transaction holding the task's process lock; yields the task re-read under it,
    with ``related`` (paths through ``process``) and ``annotations``. NotFound if the
    task is gone, NotPermitted if it is not a stage people work on."""
    if not isinstance(task.flow_task, Stage):
        raise NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    with transaction.atomic():
        try:
            fresh = task_for_update(task_id=task.pk, related=related, annotations=annotations)
        except Task.DoesNotExist:
            raise NotFound(_("Task #%(id)s does not exist.") % {"id": task.pk}) from None
        yield fresh
