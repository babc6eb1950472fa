"""Reading tasks for the stage services and pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from viewflow.workflow.models import Process

# What a stage completes on: its process, lead and order (the client loads when used).
WORK_RELATED = ("process__lead__order",)
# What the stage page shows.
PAGE_RELATED = ("process__lead__client", "process__lead__order", "owner")


def task_for_update(
    *,
    task_id: int,
    related: tuple[str, ...] = ("process",),
    annotations: dict[str, Any] | None = None,
) -> Task:
    """The task, with its process row locked by the same query (call inside a transaction);
    ``related`` (paths through ``process``) and ``annotations`` are read with it.
    DoesNotExist if there is no such task."""
    queryset = Task.objects.select_related(*related).select_for_update(of=("process",))
    if annotations:
        queryset = queryset.annotate(**annotations)
    return queryset.get(pk=task_id)


def last_performer(*, process: Process, node) -> AbstractBaseUser | None:
    """Who completed ``node`` last in this process, if they are still active."""
    owner_id = (
        Task.objects.filter(process=process, flow_task=node, status=STATUS.DONE)
        .order_by("-finished", "-pk")
        .values_list("owner_id", flat=True)
        .first()
    )
    if owner_id is None:
        return None
    return get_user_model()._default_manager.filter(pk=owner_id, is_active=True).first()


def node_was_performed(*, process_id: int, node) -> bool:
    return Task.objects.filter(process_id=process_id, flow_task=node, status=STATUS.DONE).exists()
