"""The one way the engine locks a task before changing it.

One query reads the task, with what the caller needs of its deal (``related``, a
``select_related`` path through the process, e.g. ``process__lead__order``) and any
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

What the lock does not cover: annotations read with the task keep the statement's
snapshot. The facts they answer (separation of duties, the pending note) change only by
actions holding this same lock, except a person's load -- which changes when the same
person takes another task. That is serialised by the person's own lock
(``queues.rules.person_lock``), taken before this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.exceptions import NotFound, NotPermitted

from .stage import is_stage


def task_for_update(*, task_id: int, related: str = "process", **annotations: Any) -> Task:
    """The task, with its process and its own row locked by the same query (call inside a
    transaction); ``related`` and ``annotations`` are read with it. DoesNotExist if there
    is none. (SQLite, the embedded default, has no row locks: it lets one writer in at a
    time anyway.)"""
    if related != "process" and not related.startswith("process__"):
        raise ValueError("a locked read goes through the task's process: it is what is locked")
    queryset = Task.objects.filter(pk=task_id).select_related(related)
    if connection.features.has_select_for_update_of:
        queryset = queryset.select_for_update(of=("process", "self"))
    if annotations:
        queryset = queryset.annotate(**annotations)
    task = queryset.first()
    if task is None:
        raise Task.DoesNotExist(f"no task #{task_id}")
    return task


@contextmanager
def locked_task(task: Task, related: str = "process", **annotations: Any) -> Iterator[Task]:
    """A transaction holding the task's locks; yields the task re-read under them, with
    ``related`` and ``annotations``. NotFound if the task is gone, NotPermitted if it is not
    a stage people work on."""
    if not is_stage(task.flow_task):
        raise NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    with transaction.atomic():
        try:
            fresh = task_for_update(task_id=task.pk, related=related, **annotations)
        except Task.DoesNotExist:
            raise NotFound(_("Task #%(id)s does not exist.") % {"id": task.pk}) from None
        yield fresh
