"""Changing the pools: a new task's place in its pool.

(Claim-next, distribution policies, reassignment, SLA scans and offboarding live here too.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from salesflow.conveyor.registry import node_ref
from salesflow.roles import sla_for_node

from .models import QueueItem


def queue_item_create(*, activation: Any, bounced: bool = False) -> QueueItem:
    """Give a just-created human task its due date and priority.

    Due: the task's creation plus the SLA of its stage (the shortest any role performing
    it declares), or the stage's own ``.Due()`` if that comes sooner. Priority: the
    stage's ``.Priority()``, at least HIGH for work sent back by a bounce (somebody waits
    for the answer). Call inside the transaction that created the task.
    """
    task = activation.task
    node = activation.flow_task
    due: datetime = task.created + sla_for_node(node_ref(node))
    declared_due = node.due_for(activation)
    if declared_due is not None and declared_due < due:
        due = declared_due
    priority = node.priority_for(activation)
    if bounced:
        priority = max(priority, QueueItem.Priority.HIGH)
    (item,) = QueueItem.objects.bulk_create([QueueItem(task=task, due=due, priority=priority)])
    return item
