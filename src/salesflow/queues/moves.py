"""A team lead moves work: one task or a hundred to a person or back to their pools, and a
leaving person's whole work in one step (offboarding), each move with a reason the
receiver reads and one audit event.

All of a batch moves or none does: the first refusal (a person without the role, away, at
their limit, barred by separation of duties) rolls it back and names the task.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.conveyor.locking import locked_task, person_lock
from salesflow.conveyor.selectors import process_client_id
from salesflow.exceptions import ClaimConflict, NotPermitted, SalesflowError
from salesflow.people import display_name
from salesflow.roles import can_manage_queues

from .distribution import task_give, task_to_pool
from .rules import assignment_refusal
from .selectors import OPEN, open_tasks_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def _manager(by: User) -> None:
    if not can_manage_queues(by):
        raise NotPermitted(_("Only a team lead can move other people's work."))


def _may_offboard(by: User, user: User) -> None:
    """Only an admin may offboard a team lead or an admin: a team lead must not be able to
    lock the people who watch them out."""
    if (user.is_superuser or can_manage_queues(user)) and not by.is_superuser:
        raise NotPermitted(_("Only an admin may offboard a team lead or an admin."))


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise SalesflowError(
            _("Say why the work is moved: the person who gets it will read it."),
            errors={"reason": [_("A reason is required.")]},
        )
    return reason


def _move(task: Task, *, by: User | None, to: User | None, reason: str) -> None:
    """Move a locked task to ``to`` (None: back to its pool), checked and audited."""
    if to is None:
        if task.owner_id is None:
            raise ClaimConflict(_("Task #%(id)s is already waiting in its pool.") % {"id": task.pk})
    elif task.owner_id == to.pk:
        raise ClaimConflict(_("Task #%(id)s is already %(user)s's.") % {"id": task.pk, "user": to})
    if task.status not in OPEN:
        raise ClaimConflict(
            _("Task #%(id)s is %(status)s; only open work can be moved.")
            % {"id": task.pk, "status": task.get_status_display().lower()}
        )
    if to is not None:
        refusal = assignment_refusal(task=task, user=to, check_owner=False, by_other=True)
        if refusal is not None:
            raise type(refusal)(
                _("Task #%(id)s: %(reason)s") % {"id": task.pk, "reason": refusal.message}
            )
    previous = task.owner
    if to is None:
        task_to_pool(task, returned_by=previous)
    else:
        task_give(task, to)
    audit_record(
        action=AuditEvent.Action.REASSIGN,
        actor=by,
        task=task,
        client_id=process_client_id(task.process),
        from_user=previous,
        to_user=to,
        reason=reason,
    )


def tasks_reassign(*, tasks: Iterable[Task], by: User, to: User | None, reason: str) -> list[Task]:
    """A team lead moves open tasks to ``to`` (None: back to their pools), with a reason
    each receiver will read. All of them move or -- at the first refusal (a person without
    the role, away, at their limit, barred by separation of duties) -- none does, and the
    refusal names the task."""
    _manager(by)
    reason = _clean_reason(reason)
    # one order for every batch, so that two team leads moving overlapping selections
    # never wait on each other's locks crosswise
    ordered = sorted(tasks, key=lambda t: (t.process_id, t.pk))
    if not ordered:
        raise SalesflowError(_("Select the tasks to move."))
    moved = []
    with transaction.atomic():
        if to is not None:
            person_lock(to.pk)  # their WIP count holds while the batch is checked
        for task in ordered:
            with locked_task(task, "process__lead") as locked:
                _move(locked, by=by, to=to, reason=reason)
            moved.append(locked)
    return moved


def task_reassign(*, task: Task, by: User, to: User | None, reason: str) -> Task:
    """``tasks_reassign`` of one task."""
    return tasks_reassign(tasks=[task], by=by, to=to, reason=reason)[0]


# --- offboarding -------------------------------------------------------------------------


@dataclass
class OffboardPlan:
    """What offboarding a person does: every open task they hold, and where it goes."""

    user: User
    to: User | None
    tasks: list[Task] = field(default_factory=list)
    refusals: dict[int, str] = field(default_factory=dict)  # task id -> why it cannot go
    done: bool = False

    @property
    def ok(self) -> bool:
        return not self.refusals


def user_offboard(
    *,
    user: User,
    by: User | None,
    to: User | None = None,
    dry_run: bool = False,
    expected_tasks: Collection[int] | None = None,
) -> OffboardPlan:
    """A person leaves: every open task they hold goes back to its pool (``to`` None) or
    to the named colleague, each with an audit event, and their account is deactivated
    -- never deleted (viewflow's Task.owner cascades on delete, which would lose the work).

    ``dry_run`` returns the plan (with the reason each task could not go, if any) and
    writes nothing. Otherwise all of it happens in one transaction, or -- if a task cannot
    go to the colleague -- none of it, with the reasons. ``by`` is the team lead (None:
    an operator on the command line).

    ``expected_tasks``: the task ids of the preview the person confirms; if the leaver's
    open work is not exactly that any more, nothing is done (they must see it again).
    Nobody offboards themselves.
    """
    if by is not None:
        _manager(by)
        if by.pk == user.pk:
            raise NotPermitted(
                _("You cannot offboard yourself: another team lead or an admin must do it.")
            )
        _may_offboard(by, user)
    if to is not None and to.pk == user.pk:
        raise SalesflowError(_("Hand the work to someone else than the person leaving."))
    plan = OffboardPlan(user=user, to=to, tasks=list(open_tasks_of(user=user)))
    if to is not None:
        for task in plan.tasks:
            refusal = assignment_refusal(task=task, user=to, check_owner=False, by_other=True)
            if refusal is not None:
                plan.refusals[task.pk] = refusal.message
    if dry_run:
        return plan
    if expected_tasks is not None and set(expected_tasks) != {t.pk for t in plan.tasks}:
        raise ClaimConflict(
            _(
                "%(user)s's open work changed since the preview (%(then)d tasks then, "
                "%(now)d now), so nothing was done: check the new preview and confirm again."
            )
            % {"user": display_name(user), "then": len(expected_tasks), "now": len(plan.tasks)}
        )
    if not plan.ok:
        reasons = "; ".join(f"#{pk}: {why}" for pk, why in plan.refusals.items())
        raise NotPermitted(
            _("%(user)s's work cannot all go to %(to)s, so nothing was moved: %(reasons)s")
            % {"user": display_name(user), "to": display_name(to), "reasons": reasons}
        )
    reason = _("%(user)s is leaving the team.") % {"user": display_name(user)}
    with transaction.atomic():
        if to is not None:
            person_lock(to.pk)
        for task in sorted(plan.tasks, key=lambda t: (t.process_id, t.pk)):
            with locked_task(task, "process__lead") as locked:
                if locked.owner_id != user.pk or locked.status not in OPEN:
                    continue  # it moved or finished since the plan was made
                _move(locked, by=by, to=to, reason=reason)
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit_record(
            action=AuditEvent.Action.DEACTIVATE,
            actor=by,
            from_user=user,
            to_user=to,
            reason=reason,
            data={"tasks": [t.pk for t in plan.tasks]},
        )
    plan.done = True
    return plan
