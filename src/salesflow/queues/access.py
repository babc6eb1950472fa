"""Who may look at what in the pools: one question, one answer, for the pages, the API and
the command line alike (Zulip's ``access_*`` helpers: fetch the object and check that this
person may see it).

Looking is not acting: taking, completing or moving a task is decided again, under the
task's lock, by the services (``rules.assignment_refusal``, ``conveyor.services``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.conveyor.stage import is_stage
from salesflow.exceptions import NotFound, NotPermitted
from salesflow.roles import Role, can_manage_queues, get_roles, holds_role

from .selectors import POOL_RELATED

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def may_see_task(*, user: User | AnonymousUser, task: Task) -> bool:
    """The rule: a task's owner sees it; so does anyone whose roles perform its stage (the
    pool's members), and the team leads."""
    if not user.is_authenticated or not user.is_active:
        return False
    if task.owner_id is not None and task.owner_id == user.pk:
        return True
    if task.owner_permission and user.has_perm(task.owner_permission):
        return True
    return can_manage_queues(user)


def access_task(
    *,
    user: User | AnonymousUser,
    task_id: int,
    process_id: int | None = None,
    related: tuple[str, ...] = POOL_RELATED,
) -> Task:
    """The stage's task ``task_id`` (of ``process_id``, if given), read with ``related``,
    if ``user`` may see it (``may_see_task``). NotFound for no such stage task,
    NotPermitted for one they may not see."""
    task = Task.objects.select_related(*related).filter(pk=task_id).first()
    if (
        task is None
        or not is_stage(task.flow_task)
        or (process_id is not None and task.process_id != process_id)
    ):
        raise NotFound(_("Task #%(id)s does not exist.") % {"id": task_id})
    if not may_see_task(user=user, task=task):
        raise NotPermitted(
            _("Task #%(id)s is at a stage your roles do not include.") % {"id": task_id}
        )
    return task


def access_pool(*, user: User | AnonymousUser, role_code: str) -> Role:
    """The role whose pool ``user`` wants to see, if they may: its members and the team
    leads. NotFound for a role that does not exist, NotPermitted otherwise. (Taking work
    from it is decided again by ``claims.task_claim_next``.)"""
    role = get_roles().get(role_code)
    if role is None:
        raise NotFound(_("There is no role “%(role)s”.") % {"role": role_code})
    if not (holds_role(user=user, role=role) or can_manage_queues(user)):
        title = role.title_for(translation.get_language() or "en")
        raise NotPermitted(
            _("The pool of “%(role)s” is for its members and the team leads.") % {"role": title}
        )
    return role
