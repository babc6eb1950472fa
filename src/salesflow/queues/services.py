"""Pools: a new task's place in its pool, who may take it, handing work out and moving it.

Every way a task changes hands -- a person claiming it or the next one, auto-assignment by
the pool's distribution policy, a team lead's reassignment, offboarding -- comes through
here, under the task's lock (``salesflow.conveyor.locking``), checked by one rule
(``assignment_refusal``), and writes one audit event per task moved. A refusal is a
``salesflow.exceptions`` error raised before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from viewflow.workflow.fields import import_task_by_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.conveyor.locking import locked_task
from salesflow.conveyor.nodes import BOUNCED, Stage
from salesflow.conveyor.registry import human_nodes, node_ref
from salesflow.conveyor.selectors import lead_of
from salesflow.exceptions import (
    ClaimConflict,
    NotPermitted,
    SalesflowError,
    SeparationOfDutiesViolated,
    WipLimitReached,
)
from salesflow.roles import (
    LEAST_LOADED,
    PULL,
    ROUND_ROBIN,
    distribution_for_node,
    get_roles,
    idle_limit_for_node,
    sla_for_node,
)

from . import terms
from .models import RoundRobinCursor
from .selectors import (
    IN_WORK,
    OPEN,
    AssignmentFacts,
    absent_user_ids,
    assignment_expressions,
    assignment_facts,
    can_manage_queues,
    candidates,
    open_task_counts,
    open_tasks_of,
    pending_handouts,
    pool_task_refs,
    pool_tasks,
    role_task_refs,
    roles_of,
    wip_rule,
)
from .terms import Priority, StallReason, new_terms, set_terms, stamp, terms_of

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# the sweep leaves a new task this long to its own after-commit hand-out job
HANDOUT_GRACE = timedelta(minutes=1)
# claim-next looks at most this many candidates (in batches) before saying the pool is empty
# for this person: past them, every task left is one a rule keeps from them.
CLAIM_NEXT_BATCH = 5
CLAIM_NEXT_ROUNDS = 10


# --- a new task --------------------------------------------------------------------------


def task_terms(*, node: Stage, process: Any, bounced: bool) -> dict[str, Any]:
    """The terms of a task about to be created at ``node`` (``Task.data`` keys):

    * due: now plus the SLA of its stage (the shortest any role performing it declares),
      or the stage's own ``.Due()`` if that comes sooner;
    * priority: the stage's ``.Priority()`` (NORMAL if it declares none), at least HIGH
      for work sent back by a bounce -- somebody waits for the answer.
    """
    due = timezone.now() + sla_for_node(node_ref(node))
    declared_due = node.due_for(process)
    if declared_due is not None and declared_due < due:
        due = declared_due
    priority = node.priority_for(process)
    if priority is None:
        priority = Priority.NORMAL
    if bounced:
        priority = max(priority, Priority.HIGH)
    marks = new_terms(due=due, priority=priority)
    if distribution_for_node(node_ref(node)) != PULL:
        marks[terms.HANDOUT] = True  # until task_auto_assign has tried (see handouts_sweep)
    return marks


def task_created(*, activation: Any) -> None:
    """viewflow created a stage task (inside the transaction that completed the stage
    before it, or started the deal), its terms already written (``task_terms``):

    * a task sent back by a bounce that went straight to its earlier performer is an
      assignment, so it is recorded;
    * a task of a pool that distributes work is handed out after the commit (Celery
      ``queues.tasks.auto_assign``), so a failed hand-out never undoes the stage before;
      if the broker cannot take the job then, the task keeps its hand-out mark and the
      periodic sweep (``handouts_sweep``) hands it out once the broker is back.
    """
    task = activation.task
    if task.owner_id is not None:
        lead = lead_of(task)
        audit_record(
            action=AuditEvent.Action.ASSIGN,
            actor=None,
            task=task,
            client_id=lead.client_id if lead else None,
            to_user=task.owner,
            reason=_("Sent back to the person who did this stage before.")
            if task.data.get(BOUNCED)
            else "",
        )
    elif distribution_for_node(node_ref(activation.flow_task)) != PULL:
        transaction.on_commit(partial(_enqueue_auto_assign, task.pk))


def _enqueue_auto_assign(task_id: int) -> None:
    from .tasks import auto_assign

    if not _publish(auto_assign, task_id):
        logger.warning(
            "task %s: the broker is unavailable; the pool's sweep will hand it out", task_id
        )


def _publish(job: Any, *args: Any) -> bool:
    """Send a Celery job, after the commit that made its work. False -- logged, not
    raised -- when the broker cannot take it: the commit stands (a person's completed
    stage must not turn into an error page), and the caller says what picks the work
    up later."""
    from kombu.exceptions import OperationalError

    try:
        job.delay(*args)
    except OperationalError:
        logger.exception("could not send %s%r to the broker", job.name, args)
        return False
    return True


# --- who may take a task -----------------------------------------------------------------


def assignment_refusal(
    *,
    task: Task,
    user: User,
    check_owner: bool = True,
    by_other: bool = False,
    facts: AssignmentFacts | None = None,
) -> SalesflowError | None:
    """Why ``user`` may not be given ``task``, or None if they may.

    Checks, in order: an active user; a task still waiting in its pool (``check_owner``);
    the stage's permission; for a hand-out by someone else (``by_other``: a team lead, the
    distribution policy), that the user is not away today; the separation-of-duties rules
    declared with the roles performing the stage; that the user did not write the handoff
    note waiting for this stage; and their work-in-progress limit. The rules' facts are
    asked in one query (``assignment_facts``) unless given.
    """
    node = task.flow_task
    if not isinstance(node, Stage):
        return NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    name = {"user": user.get_username(), "stage": node.task_title}
    if not user.is_authenticated or not user.is_active:
        if by_other:
            return NotPermitted(_("%(user)s is deactivated and cannot be given work.") % name)
        return NotPermitted(_("Only active, signed-in users can take tasks."))
    if check_owner and (task.status != STATUS.NEW or task.owner_id is not None):
        return ClaimConflict(
            _("Task #%(id)s is no longer waiting in its pool: someone has taken it.")
            % {"id": task.pk}
        )
    if task.owner_permission and not user.has_perm(task.owner_permission):
        if by_other:
            return NotPermitted(_("%(user)s has no role that performs “%(stage)s”.") % name)
        return NotPermitted(_("Your roles do not include the stage “%(stage)s”.") % name)
    if by_other and absent_user_ids(user_ids=[user.pk], day=timezone.localdate()):
        return NotPermitted(_("%(user)s is away today and cannot be given work.") % name)
    if facts is None:
        facts = assignment_facts(task=task, node_ref=node_ref(node), user=user)
    if facts.barred_by:
        done = {**name, "done": import_task_by_ref(facts.barred_by).task_title}
        if by_other:
            message = _(
                "Separation of duties: %(user)s performed “%(done)s” for this client, so a "
                "colleague must take “%(stage)s”."
            )
        else:
            message = _(
                "Separation of duties: you performed “%(done)s” for this client, so a "
                "colleague must take “%(stage)s”."
            )
        return SeparationOfDutiesViolated(message % done)
    if facts.wrote_pending_note:
        if by_other:
            message = _(
                "%(user)s wrote the handoff note for “%(stage)s”; a colleague must receive it."
            )
        else:
            message = _("You wrote the handoff note for “%(stage)s”; a colleague must receive it.")
        return SeparationOfDutiesViolated(message % name)
    if facts.wip is not None and facts.load is not None and facts.load >= facts.wip.limit:
        limit = {**name, "limit": facts.wip.limit}
        if by_other:
            message = _("%(user)s already holds %(limit)d open tasks, the most their role allows.")
        else:
            message = _(
                "You already hold %(limit)d open tasks, the most your role allows: finish "
                "or hand one back first."
            )
        return WipLimitReached(message % limit)
    return None


def _give(task: Task, user: User) -> None:
    """Assign a locked task (the caller audits it)."""
    task.owner = user
    task.status = STATUS.ASSIGNED
    task.assigned = timezone.now()
    task.save(update_fields=["owner", "status", "assigned", *_changed_data(task)])


def _client_id(task: Task) -> int | None:
    lead = lead_of(task)
    return lead.client_id if lead else None


def task_claim(*, task: Task, user: User) -> Task:
    """``user`` takes ``task`` from its pool. Race-free: of two people claiming it at once,
    the second is refused with ClaimConflict."""
    ref = node_ref(task.flow_task)
    wip = wip_rule(user=user, node_ref=ref)
    expressions = assignment_expressions(
        process_id=task.process_id, node_ref=ref, user=user, wip=wip
    )
    with locked_task(task, **expressions) as task:
        facts = AssignmentFacts.of(task, wip)
        refusal = assignment_refusal(task=task, user=user, facts=facts)
        if refusal is not None:
            raise refusal
        _claim(task, user, facts)
    return task


def _claim(task: Task, user: User, facts: AssignmentFacts, **data: Any) -> None:
    """Give a locked task to the person taking it, and record the claim."""
    _give(task, user)
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

    Race-free and without waits: candidates are locked with ``SKIP LOCKED``, so two people
    pressing the button at once get two different tasks, and a task someone is acting on
    is passed over. A candidate a rule keeps from the user (separation of duties) is passed
    over too. None when nothing is left for them; WipLimitReached when they hold too much.
    """
    refs = claimable_task_refs(user=user, role=role)
    with transaction.atomic():
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


def _changed_data(task: Task) -> list[str]:
    """A task changing hands (given to someone, or back to its pool):

    * starts a new idle clock: an idleness stall is over (a stall for its SLA is not: the
      task is as late as it was);
    * has no hand-out due any more: the pool's policy had its turn, or a person decided
      (a task a team lead sends back to a distributing pool waits there for a claim).

    Returns the fields to save (``data`` if it changed)."""
    keys = [terms.HANDOUT]
    if task.data.get(terms.STALLED_REASON) == StallReason.IDLE:
        keys += [terms.STALLED, terms.STALLED_REASON, terms.TOUCHED]
    changed = [task.data.pop(key, None) is not None for key in keys]
    return ["data"] if any(changed) else []


def task_unassign(*, task: Task, user: User, reason: str = "") -> Task:
    """Return an assigned task to its pool: by its owner, or by a team lead."""
    with locked_task(task, "process__lead") as task:
        if task.status not in IN_WORK or task.owner_id is None:
            raise ClaimConflict(_("Task #%(id)s is not assigned to anyone.") % {"id": task.pk})
        if task.owner_id != user.pk and not can_manage_queues(user):
            raise NotPermitted(_("Only the task's owner or a team lead can return it to the pool."))
        previous_owner = task.owner
        _to_pool(task)
        audit_record(
            action=AuditEvent.Action.UNASSIGN,
            actor=user,
            task=task,
            client_id=_client_id(task),
            from_user=previous_owner,
            reason=reason,
        )
    return task


def _to_pool(task: Task) -> None:
    task.owner = None
    task.status = STATUS.NEW
    task.assigned = None
    task.started = None
    task.save(update_fields=["owner", "status", "assigned", "started", *_changed_data(task)])


def task_touch(*, task: Task, user: User) -> None:
    """The owner did something with their task short of completing it (opened it, read
    its note): its idle clock starts again. Anyone else's look changes nothing."""
    set_terms(
        Task.objects.filter(pk=task.pk, owner=user, status__in=IN_WORK),
        touched=stamp(timezone.now()),
    )


# --- auto-assignment ---------------------------------------------------------------------


def task_auto_assign(*, task_id: int) -> User | None:
    """Hand a task waiting in a distributing pool to a member, by the pool's policy.

    * ``round_robin``: the next member after the one who got the pool's last task;
    * ``least_loaded``: the member holding the fewest open tasks of the pool's stages.

    Members who are inactive, away today, at their WIP limit or barred by a
    separation-of-duties rule are skipped. Idempotent: a task no longer waiting (taken,
    done, already assigned) is left alone; with nobody available it stays in the pool,
    where people can claim it. Returns whom it went to.
    """
    try:
        task = Task.objects.get(pk=task_id)
    except Task.DoesNotExist:
        return None
    if not isinstance(task.flow_task, Stage):
        return None
    ref = node_ref(task.flow_task)
    policy = distribution_for_node(ref)
    if policy == PULL:
        return None
    with locked_task(task) as task:
        if task.status != STATUS.NEW or task.owner_id is not None:
            return None
        people = candidates(node_ref=ref, day=timezone.localdate())
        role_code = _pool_role(ref)
        if policy == ROUND_ROBIN:
            cursor, _created = RoundRobinCursor.objects.select_for_update().get_or_create(
                role=role_code
            )
            people = _after(people, cursor.last_user_id)
        elif policy == LEAST_LOADED:
            loads = open_task_counts(
                user_ids=[p.pk for p in people], task_refs=pool_task_refs(node_ref=ref)
            )
            people = sorted(people, key=lambda p: (loads.get(p.pk, 0), p.pk))
        for person in people:
            if assignment_refusal(task=task, user=person, by_other=True) is not None:
                continue
            _give(task, person)
            if policy == ROUND_ROBIN:
                cursor.last_user = person
                cursor.save(update_fields=["last_user"])
            audit_record(
                action=AuditEvent.Action.ASSIGN,
                actor=None,
                task=task,
                client_id=_client_id(task),
                to_user=person,
                reason=_("Handed out by the pool (%(policy)s).") % {"policy": policy},
            )
            return person
        if _changed_data(task):  # tried: the sweep leaves it to a claim from now on
            task.save(update_fields=["data"])
    logger.info("task %s: nobody available in its pool, left for a claim", task_id)
    return None


def handouts_sweep(*, grace: timedelta = HANDOUT_GRACE) -> list[int]:
    """Hand out the tasks of distributing pools whose hand-out never ran: the broker was
    unavailable when the stage before them was completed (``task_created``), or the job
    was lost with it. Only tasks waiting longer than ``grace`` are taken, so the sweep does
    not race the normal after-commit job. Each goes through ``task_auto_assign`` (its own
    transaction, under the task's lock), so running the sweep twice, or beside the normal
    job, hands nothing out twice. Returns the ids of the tasks tried."""
    task_ids = pending_handouts(created_before=timezone.now() - grace)
    for task_id in task_ids:
        task_auto_assign(task_id=task_id)
    if task_ids:
        logger.warning("handed out %d tasks the broker had not delivered", len(task_ids))
    return task_ids


def _pool_role(node_ref: str) -> str:
    return next(role.code for role in get_roles().values() if node_ref in role.nodes)


def _after(people: Sequence[User], last_id: int | None) -> list[User]:
    """``people`` (by id) rotated to start after ``last_id``."""
    if last_id is None:
        return list(people)
    later = [p for p in people if p.pk > last_id]
    return later + [p for p in people if p.pk <= last_id]


# --- a team lead moves work --------------------------------------------------------------


def _manager(by: User) -> None:
    if not can_manage_queues(by):
        raise NotPermitted(_("Only a team lead can move other people's work."))


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
        _to_pool(task)
    else:
        _give(task, to)
    audit_record(
        action=AuditEvent.Action.REASSIGN,
        actor=by,
        task=task,
        client_id=_client_id(task),
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
        for task in ordered:
            with locked_task(task, "process__lead") as locked:
                _move(locked, by=by, to=to, reason=reason)
            moved.append(locked)
    return moved


def task_reassign(*, task: Task, by: User, to: User | None, reason: str) -> Task:
    """``tasks_reassign`` of one task."""
    return tasks_reassign(tasks=[task], by=by, to=to, reason=reason)[0]


# --- SLA and stalled work ----------------------------------------------------------------


def stalled_scan(*, now: datetime | None = None) -> list[int]:
    """Mark open tasks that are stuck: past their due date (the stage's SLA), or assigned
    and untouched for longer than their role's idle limit. Returns the ids of the tasks
    marked now; each gets an audit event, and the team leads are told once, after the
    commit (``queues.tasks.notify_stalled``).

    Idempotent and safe to run twice at once: a task is marked once (rows another run is
    marking are skipped, rows already marked are not looked at).
    """
    now = now or timezone.now()
    unmarked = Task.objects.filter(status__in=OPEN, flow_task_type="HUMAN").exclude(
        data__has_key=terms.STALLED
    )
    idle = Q()
    for ref, node in human_nodes().items():
        limit = idle_limit_for_node(ref)
        if limit is not None:
            since = stamp(now - limit)
            idle |= Q(flow_task=node, owner__isnull=False) & (
                Q(**{f"data__{terms.TOUCHED}__lt": since})
                | (~Q(data__has_key=terms.TOUCHED) & Q(assigned__lt=now - limit))
            )
    reasons = {StallReason.SLA: Q(**{f"{terms.DUE_PATH}__lt": stamp(now)}), StallReason.IDLE: idle}
    marked: list[int] = []
    with transaction.atomic():
        for reason, condition in reasons.items():
            if not condition:
                continue
            rows = list(
                unmarked.filter(condition)
                .exclude(pk__in=marked)
                .select_for_update(of=("self",), skip_locked=True)
                .values_list("pk", "process_id", "owner_id")
            )
            if not rows:
                continue
            ids = [row[0] for row in rows]
            set_terms(Task.objects.filter(pk__in=ids), stalled=stamp(now), stalled_reason=reason)
            clients = _client_ids(process_ids={row[1] for row in rows})
            AuditEvent.objects.bulk_create(
                AuditEvent(
                    created=now,
                    action=AuditEvent.Action.STALLED,
                    actor=None,
                    task_id=task_id,
                    process_id=process_id,
                    client_id=clients.get(process_id),
                    from_user_id=owner_id,
                    reason=str(StallReason(reason).label),
                    data={"stall": str(reason)},
                )
                for task_id, process_id, owner_id in rows
            )
            marked.extend(ids)
        if marked:
            transaction.on_commit(partial(_enqueue_notify, marked))
    return marked


def _client_ids(*, process_ids: set[int]) -> dict[int, int]:
    from salesflow.clients.models import Lead

    return dict(
        Lead.objects.filter(process_id__in=process_ids).values_list("process_id", "client_id")
    )


def _enqueue_notify(task_ids: list[int]) -> None:
    from .tasks import notify_stalled

    if not _publish(notify_stalled, task_ids):
        # the marks stand (the console shows them); only the e-mail about them is lost
        logger.error(
            "%d tasks were marked stalled, but the broker is unavailable: the team leads "
            "are not e-mailed about them (the team console lists them)",
            len(task_ids),
        )


def team_lead_addresses() -> list[str]:
    """E-mail addresses of the active people who manage the queues."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    app_label, codename = "salesflow", "manage_queues"
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    people = (
        get_user_model()
        ._default_manager.filter(is_active=True)
        .filter(Q(groups__permissions=permission) | Q(user_permissions=permission))
        .exclude(email="")
        .distinct()
        .order_by("email")
    )
    return list(people.values_list("email", flat=True))


def stalled_notify(*, task_ids: Sequence[int]) -> int:
    """E-mail the team leads the list of tasks just marked stalled. Returns the number of
    recipients (0: nobody to tell, logged)."""
    from .selectors import POOL_RELATED

    recipients = team_lead_addresses()
    if not recipients:
        logger.warning("%d tasks stalled, but no team lead has an e-mail address", len(task_ids))
        return 0
    tasks = (
        Task.objects.filter(pk__in=list(task_ids))
        .select_related(*POOL_RELATED)
        .order_by(terms.DUE_PATH, "pk")
    )
    lines = []
    for task in tasks:
        marks = terms_of(task)
        lead = lead_of(task)
        due = (
            date_format(timezone.localtime(marks.due), "SHORT_DATETIME_FORMAT")
            if marks.due
            else "-"
        )
        lines.append(
            _("#%(id)s %(stage)s, %(client)s: %(why)s (due %(due)s, %(owner)s)")
            % {
                "id": task.pk,
                "stage": task.flow_task.task_title,
                "client": lead.client.name if lead else "-",
                "why": marks.stalled_reason_label,
                "due": due,
                "owner": task.owner.get_username() if task.owner else _("in the pool"),
            }
        )
    subject = _("salesflow: %(count)d tasks are stalled") % {"count": len(lines)}
    body = "\n".join([_("These tasks are stuck; move them from the team console:"), "", *lines])
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)


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
    *, user: User, by: User | None, to: User | None = None, dry_run: bool = False
) -> OffboardPlan:
    """A person leaves: every open task they hold goes back to its pool (``to`` None) or
    to the named colleague, each with an audit event, and their account is deactivated
    -- never deleted (viewflow's Task.owner cascades on delete, which would lose the work).

    ``dry_run`` returns the plan (with the reason each task could not go, if any) and
    writes nothing. Otherwise all of it happens in one transaction, or -- if a task cannot
    go to the colleague -- none of it, with the reasons. ``by`` is the team lead (None:
    an operator on the command line).
    """
    if by is not None:
        _manager(by)
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
    if not plan.ok:
        reasons = "; ".join(f"#{pk}: {why}" for pk, why in plan.refusals.items())
        raise NotPermitted(
            _("%(user)s's work cannot all go to %(to)s, so nothing was moved: %(reasons)s")
            % {"user": user.get_username(), "to": to, "reasons": reasons}
        )
    reason = _("%(user)s is leaving the team.") % {"user": user.get_username()}
    with transaction.atomic():
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
