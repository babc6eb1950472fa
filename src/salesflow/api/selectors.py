"""Reading tasks for the API: one task, checked against who asks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.conveyor.nodes import Stage
from salesflow.exceptions import NotFound, NotPermitted

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# What a task's representation reads; a queryset of tasks for a list needs the same.
TASK_RELATED = ("process__lead__client", "owner")


def task_for_user(*, task_id: int, user: User) -> Task:
    """A stage's task that ``user`` may look at: their own, one their roles may take from
    the pool, or any if they manage the flow's queues. NotFound / NotPermitted otherwise.
    (Acting on it is decided again by the conveyor's services.)"""
    task = Task.objects.select_related(*TASK_RELATED).filter(pk=task_id).first()
    if task is None or not isinstance(task.flow_task, Stage):
        raise NotFound(_("Task #%(id)s does not exist.") % {"id": task_id})
    if task.owner_id == user.pk:
        return task
    if task.owner_permission and user.has_perm(task.owner_permission):
        return task
    if task.flow_task.flow_class.instance.has_manage_permission(user):
        return task
    raise NotPermitted(_("Task #%(id)s is at a stage your roles do not include.") % {"id": task_id})
