"""Handing work out: a new task's place in its pool, giving a task to a person or back to
its pool, and the pools that hand out work by themselves (round robin, least loaded).

A task of a distributing pool is handed out by a Celery job sent after the commit that
made it -- or that returned it to the pool -- so a failed hand-out never undoes the work
before it. Until the hand-out has been tried, the task keeps a mark (``terms.HANDOUT``)
that a periodic sweep finds: a job the broker never took is not lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.celery import publish
from salesflow.conveyor.locking import locked_task, person_try_lock
from salesflow.conveyor.registry import node_ref
from salesflow.conveyor.selectors import process_client_id
from salesflow.conveyor.stage import StageNode, is_stage
from salesflow.roles import (
    LEAST_LOADED,
    PULL,
    ROUND_ROBIN,
    distribution_for_node,
    pool_role_for_node,
    sla_for_node,
)

from . import terms
from .models import RoundRobinCursor
from .rules import assignment_refusal
from .selectors import candidates, open_task_counts, pending_handouts, pool_task_refs
from .terms import Priority, StallReason, new_terms

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from viewflow.workflow.models import Process

logger = logging.getLogger(__name__)

# the sweep leaves a new task this long to its own after-commit hand-out job
HANDOUT_GRACE = timedelta(minutes=1)
AUTO_ASSIGN_JOB = "salesflow.queues.tasks.auto_assign"


# --- a new task --------------------------------------------------------------------------


def task_terms(*, node: StageNode, process: Process, bounced: bool) -> dict[str, Any]:
    """The terms of a task about to be created at ``node`` (``Task.data`` keys):

    * due: now plus the SLA of its stage (the shortest any role performing it declares),
      or the stage's own ``.Due()`` if that comes sooner;
    * priority: the stage's ``.Priority()`` (NORMAL if it declares none), at least HIGH
      for work sent back by a bounce -- somebody waits for the answer;
    * the hand-out mark, in a pool that distributes work;
    * who may not take it (the stage's ``.NotFor()``).
    """
    ref = node_ref(node)
    due = timezone.now() + sla_for_node(ref)
    declared_due = node.due_for(process)
    if declared_due is not None and declared_due < due:
        due = declared_due
    priority = node.priority_for(process)
    if priority is None:
        priority = Priority.NORMAL
    if bounced:
        priority = max(priority, Priority.HIGH)
    marks = new_terms(due=due, priority=priority)
    if bounced:
        marks[terms.BOUNCED] = True
    if distribution_for_node(ref) != PULL:
        marks[terms.HANDOUT] = True  # until task_auto_assign has tried (see handouts_sweep)
    barred = node.not_for(process)
    if barred is not None:
        marks[terms.NOT_FOR] = barred
    return marks


def task_created(*, task: Task) -> None:
    """viewflow created a stage task (inside the transaction that completed the stage
    before it, or started the deal), its terms already written (``task_terms``):

    * a task sent back by a bounce that went straight to its earlier performer is an
      assignment, so it is recorded;
    * a task of a pool that distributes work is handed out after the commit.
    """
    if task.owner_id is not None:
        audit_record(
            action=AuditEvent.Action.ASSIGN,
            actor=None,
            task=task,
            client_id=process_client_id(task.process),
            to_user=task.owner,
            reason=_("Sent back to the person who did this stage before.")
            if task.data.get(terms.BOUNCED)
            else "",
        )
    elif terms.HANDOUT in task.data:
        _hand_out_after_commit(task.pk)


def _hand_out_after_commit(task_id: int) -> None:
    transaction.on_commit(partial(_enqueue_auto_assign, task_id))


def _enqueue_auto_assign(task_id: int) -> None:
    if not publish(AUTO_ASSIGN_JOB, task_id):
        logger.warning(
            "task %s: the broker is unavailable; the pool's sweep will hand it out", task_id
        )


# --- giving a task, and taking it back ---------------------------------------------------


def task_give(task: Task, user: User) -> None:
    """Assign a locked task to ``user`` (the caller has checked the rules and audits)."""
    task.owner = user
    task.status = STATUS.ASSIGNED
    task.assigned = timezone.now()
    task.save(update_fields=["owner", "status", "assigned", *_changed_hands(task)])


def task_to_pool(task: Task, *, returned_by: User | None = None) -> None:
    """Put a locked task back in its pool (the caller checks and audits). A pool that hands
    out work by itself hands it out again after the commit -- passing over
    ``returned_by``, who just gave it back."""
    task.owner = None
    task.status = STATUS.NEW
    task.assigned = None
    task.started = None
    fields = ["owner", "status", "assigned", "started", *_changed_hands(task)]
    if distribution_for_node(node_ref(task.flow_task)) != PULL:
        task.data[terms.HANDOUT] = returned_by.pk if returned_by is not None else True
        if "data" not in fields:
            fields.append("data")
        _hand_out_after_commit(task.pk)
    task.save(update_fields=fields)


def _changed_hands(task: Task) -> list[str]:
    """A task changing hands (given to someone, or back to its pool):

    * starts a new idle clock: an idleness stall is over (a stall for its SLA is not: the
      task is as late as it was);
    * has no hand-out due any more: the pool's policy had its turn, or a person decided.

    Returns the fields to save (``data`` if it changed)."""
    keys = [terms.HANDOUT]
    if task.data.get(terms.STALLED_REASON) == StallReason.IDLE:
        keys += [terms.STALLED, terms.STALLED_REASON, terms.TOUCHED]
    changed = [task.data.pop(key, None) is not None for key in keys]
    return ["data"] if any(changed) else []


# --- pools that hand out work ----------------------------------------------------------------


def task_auto_assign(*, task_id: int) -> User | None:
    """Hand a task waiting in a distributing pool to a member, by the pool's policy.

    * ``round_robin``: the next member after the one who got the pool's last task;
    * ``least_loaded``: the member holding the fewest open tasks of the pool's stages.

    Members who are inactive, away today, at their WIP limit or barred by a
    separation-of-duties rule are skipped, and so is whoever just gave the task back, and
    anyone being given other work at this very moment (``locking.person_try_lock``: the
    hand-out holds the task's lock and must not wait for a person's). Idempotent: a task no
    longer waiting (taken, done, already assigned) is left alone; with nobody available
    it stays in the pool, where people can claim it. Returns whom it went to.
    """
    task = Task.objects.filter(pk=task_id).first()
    if task is None or not is_stage(task.flow_task):
        return None
    ref = node_ref(task.flow_task)
    policy = distribution_for_node(ref)
    if policy == PULL:
        return None
    with locked_task(task) as task:
        if task.status != STATUS.NEW or task.owner_id is not None:
            return None
        returned_by = task.data.get(terms.HANDOUT)
        people = [
            p
            for p in candidates(node_ref=ref, day=timezone.localdate())
            if returned_by is True or p.pk != returned_by
        ]
        cursor: RoundRobinCursor | None = None
        if policy == ROUND_ROBIN:
            cursor, _created = RoundRobinCursor.objects.select_for_update().get_or_create(
                role=pool_role_for_node(ref).code
            )
            people = _after(people, cursor.last_user_id)
        elif policy == LEAST_LOADED:
            loads = open_task_counts(
                user_ids=[p.pk for p in people], task_refs=pool_task_refs(node_ref=ref)
            )
            people = sorted(people, key=lambda p: (loads.get(p.pk, 0), p.pk))
        for person in people:
            if not person_try_lock(person.pk):
                continue
            if assignment_refusal(task=task, user=person, by_other=True) is not None:
                continue
            task_give(task, person)
            if cursor is not None:
                cursor.last_user = person
                cursor.save(update_fields=["last_user"])
            audit_record(
                action=AuditEvent.Action.ASSIGN,
                actor=None,
                task=task,
                client_id=process_client_id(task.process),
                to_user=person,
                reason=_("Handed out by the pool (%(policy)s).") % {"policy": policy},
            )
            return person
        if _changed_hands(task):  # tried: the sweep leaves it to a claim from now on
            task.save(update_fields=["data"])
    logger.info("task %s: nobody available in its pool, left for a claim", task_id)
    return None


def handouts_sweep(*, grace: timedelta = HANDOUT_GRACE) -> list[int]:
    """Hand out the tasks of distributing pools whose hand-out never ran: the broker was
    unavailable when they were made or returned to their pool, or the job was lost with
    it. Only tasks waiting longer than ``grace`` are taken, so the sweep does not race the
    normal after-commit job. Each goes through ``task_auto_assign`` (its own transaction,
    under the task's lock), so running the sweep twice, or beside the normal job, hands
    nothing out twice. Returns the ids of the tasks tried."""
    task_ids = pending_handouts(created_before=timezone.now() - grace)
    for task_id in task_ids:
        task_auto_assign(task_id=task_id)
    if task_ids:
        logger.warning("handed out %d tasks the broker had not delivered", len(task_ids))
    return task_ids


def _after(people: Sequence[User], last_id: int | None) -> list[User]:
    """``people`` (by id) rotated to start after ``last_id``."""
    if last_id is None:
        return list(people)
    later = [p for p in people if p.pk > last_id]
    return later + [p for p in people if p.pk <= last_id]
