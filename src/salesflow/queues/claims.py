"""People taking work: a claim, "take the next task", giving a task back, and the touch
that tells the pool its owner is on it.

Each runs in one transaction: the person's lock first (``locking.person_lock``: their WIP
count cannot change under them), then the task's (``conveyor.locking``), then the rule
(``rules.assignment_refusal``) and one audit event. A refusal is raised before anything is
written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.conveyor.locking import locked_task, person_lock
from salesflow.conveyor.registry import human_nodes, node_ref
from salesflow.conveyor.selectors import process_client_id
from salesflow.exceptions import ClaimConflict, NotPermitted, SalesflowError, WipLimitReached
from salesflow.roles import can_manage_queues, roles_of
from salesflow.watch import services as watch

from .distribution import task_give, task_to_pool
from .rules import (
    AssignmentFacts,
    assignment_expressions,
    assignment_facts,
    assignment_refusal,
    wip_rule,
)
from .selectors import IN_WORK, pool_tasks, role_task_refs
from .terms import set_terms, stamp

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# claim-next looks at most this many candidates (in batches) before saying the pool is empty
# for this person: past them, every task left is one a rule keeps from them.
CLAIM_NEXT_BATCH = 5
CLAIM_NEXT_ROUNDS = 10


def task_claim(*, task: Task, user: User) -> Task:
    """``user`` takes ``task`` from its pool. Race-free: of two people claiming it at once,
    the second is refused with ClaimConflict; of one person's claims at once, none takes
    them past their WIP limit."""
    ref = node_ref(task.flow_task)
    wip = wip_rule(user=user, node_ref=ref)
    expressions = assignment_expressions(
        process_id=task.process_id, node_ref=ref, user=user, wip=wip
    )
    with locked_task(task, person=user.pk, annotations=expressions) as locked:
        facts = AssignmentFacts.of(locked, wip)
        refusal = assignment_refusal(task=locked, user=user, facts=facts)
        if refusal is not None:
            raise refusal
        _claim(locked, user, facts)
    return locked


def _claim(task: Task, user: User, facts: AssignmentFacts, **data: Any) -> None:
    """Give a locked task to the person taking it, and record the claim."""
    task_give(task, user)
    audit_record(
        action=AuditEvent.Action.CLAIM,
        actor=user,
        task=task,
        client_id=facts.client_id,
        to_user=user,
        data=data,
    )


def claimable_task_refs(*, user: User, role: str | None = None) -> list[str]:
    """viewflow's references of the stages whose pools ``user`` takes work from (only
    ``role``'s, if given). NotPermitted if there are none."""
    roles = roles_of(user)
    if role is not None:
        roles = [r for r in roles if r.code == role]
        if not roles:
            raise NotPermitted(_("You do not hold the role “%(role)s”.") % {"role": role})
    nodes = human_nodes()
    refs = [
        ref
        for r in roles
        for ref, node_name in zip(role_task_refs(r), r.nodes, strict=True)
        if user.has_perm(nodes[node_name]._owner_permission)
    ]
    if not refs:
        raise NotPermitted(_("You hold no role with a pool to take work from."))
    return refs


def task_claim_next(*, user: User, role: str | None = None) -> Task | None:
    """Give ``user`` the most urgent task waiting in their pools (``role``'s only, if
    given): the highest priority, then the nearest due date, then the oldest.

    Race-free and without waits on tasks: candidates are locked with ``SKIP LOCKED``, so two
    people pressing the button at once get two different tasks, and a task someone is
    acting on is passed over; one person pressing it from several places at once is
    served one press at a time (``locking.person_lock``), so never past their WIP limit. A
    candidate a rule keeps from the user (separation of duties) is passed over too. None
    when nothing is left for them; WipLimitReached when they hold too much.
    """
    refs = claimable_task_refs(user=user, role=role)
    with transaction.atomic():
        person_lock(user.pk)
        passed: list[int] = []
        for _round in range(CLAIM_NEXT_ROUNDS):
            batch = list(
                pool_tasks(task_refs=refs)
                .exclude(pk__in=passed)
                .select_for_update(of=("process", "self"), skip_locked=True)[:CLAIM_NEXT_BATCH]
            )
            if not batch:
                return None
            for task in batch:
                facts = assignment_facts(task=task, node_ref=node_ref(task.flow_task), user=user)
                refusal = assignment_refusal(task=task, user=user, facts=facts)
                if refusal is None:
                    _claim(task, user, facts, next=True)
                    return task
                if isinstance(refusal, WipLimitReached):
                    raise refusal
                passed.append(task.pk)
    return None


def task_unassign(*, task: Task, user: User, reason: str) -> Task:
    """Return an assigned task to its pool without completing it: by its owner, or by a
    team lead, with a reason (the next person and the team leads read it). A pool that
    hands out work gives it to someone else (``distribution.task_to_pool``).

    Taking a client's task and giving it back unworked is how a person could read one
    client after another, so each such give-back by the owner is counted by the leak
    watch (``salesflow.watch``)."""
    reason = (reason or "").strip()
    if not reason:
        raise SalesflowError(
            _("Say why you give the task back: the next person and the team leads read it."),
            errors={"reason": [_("A reason is required.")]},
        )
    with locked_task(task, "process__lead") as locked:
        if locked.status not in IN_WORK or locked.owner_id is None:
            raise ClaimConflict(_("Task #%(id)s is not assigned to anyone.") % {"id": locked.pk})
        if locked.owner_id != user.pk and not can_manage_queues(user):
            raise NotPermitted(_("Only the task's owner or a team lead can return it to the pool."))
        previous_owner = locked.owner
        task_to_pool(locked, returned_by=previous_owner)
        audit_record(
            action=AuditEvent.Action.UNASSIGN,
            actor=user,
            task=locked,
            client_id=process_client_id(locked.process),
            from_user=previous_owner,
            reason=reason,
        )
        if previous_owner is not None and previous_owner.pk == user.pk:
            watch.leak_check(user=user, kind=watch.UNASSIGNS)
    return locked


def task_touch(*, task: Task, user: User) -> None:
    """The owner did something with their task short of completing it (opened it, read
    its note): its idle clock starts again. Anyone else's look changes nothing."""
    set_terms(
        Task.objects.filter(pk=task.pk, owner=user, status__in=IN_WORK),
        touched=stamp(timezone.now()),
    )
