"""Claiming, completing and bouncing stages: the engine's rules around viewflow's tasks.

viewflow moves tasks between states but checks no permission and keeps only the last
owner. Every way a person acts on a stage -- the web pages, the API, the command line, the
simulator -- comes through these functions, which

* take the process lock (viewflow's ``select_for_update`` lock) and re-read the task,
* check the role permission and the separation-of-duties rules,
* require an acknowledged incoming handoff and a valid outgoing one,
* write one audit event,

all in one transaction: a refusal (a ``salesflow.exceptions`` error) leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.exceptions import FlowLockFailed
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.clients.models import Lead
from salesflow.clients.services import order_approve_discount
from salesflow.exceptions import (
    ClaimConflict,
    HandoffNotAcknowledged,
    NotFound,
    NotPermitted,
    SeparationOfDutiesViolated,
    StageInvalid,
)
from salesflow.handoff.models import HandoffNote
from salesflow.handoff.selectors import pending_note
from salesflow.handoff.services import handoff_acknowledge, handoff_create, handoff_validate
from salesflow.handoff.templates import BOUNCE_TEMPLATE
from salesflow.roles import roles_for_node

from .nodes import BOUNCED, Stage
from .registry import human_nodes, node_ref
from .selectors import node_was_performed, task_with_work

if TYPE_CHECKING:
    from salesflow.clients.models import Client, Order


@dataclass
class StageWork:
    """What a stage's form and its flow service work on, read once under the lock."""

    task: Task
    node: Stage
    user: AbstractBaseUser
    lead: Lead | None
    order: Order | None
    client: Client | None

    @property
    def node_ref(self) -> str:
        return node_ref(self.node)


@dataclass(frozen=True)
class StageResult:
    task: Task
    note: HandoffNote | None
    outcome: str | None


# --- locking ---------------------------------------------------------------------------


@contextmanager
def _locked(task: Task) -> Iterator[Task]:
    """Hold the task's process lock for a transaction and yield the task re-read under it."""
    node = task.flow_task
    if not isinstance(node, Stage):
        raise NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    try:
        with transaction.atomic(), node.flow_class.lock(task.process_id):
            try:
                locked = task_with_work(task_id=task.pk)
            except Task.DoesNotExist:
                raise NotFound(_("Task #%(id)s does not exist.") % {"id": task.pk}) from None
            yield locked
    except FlowLockFailed:
        raise ClaimConflict(
            _("Someone else is changing this deal right now; try again in a moment.")
        ) from None


def _lead(task: Task) -> Lead | None:
    try:
        return task.process.lead
    except Lead.DoesNotExist:
        return None


def _client_id(task: Task) -> int | None:
    lead = _lead(task)
    return lead.client_id if lead else None


# --- who may take a task -----------------------------------------------------------------


def assignment_refusal(
    *, task: Task, user: AbstractBaseUser, check_owner: bool = True
) -> NotPermitted | None:
    """Why ``user`` may not take ``task``, or None if they may.

    Checks, in order: an active user; a task still waiting in its pool (``check_owner``);
    the stage's permission; the separation-of-duties rules declared with the roles that
    perform the stage; and that the user did not write the handoff note waiting for this
    stage (its author may not be the one who acknowledges it). One query for the rules.
    """
    node = task.flow_task
    if not isinstance(node, Stage):
        return NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    if not user.is_authenticated or not user.is_active:
        return NotPermitted(_("Only active, signed-in users can take tasks."))
    if check_owner and (task.status != STATUS.NEW or task.owner_id is not None):
        return ClaimConflict(
            _("Task #%(id)s is no longer waiting in its pool: someone has taken it.")
            % {"id": task.pk}
        )
    if task.owner_permission and not user.has_perm(task.owner_permission):
        return NotPermitted(
            _("Your roles do not include the stage “%(stage)s”.") % {"stage": node.task_title}
        )
    ref = node_ref(node)
    rules = [rule for role in roles_for_node(ref) for rule in role.separation_of_duties]
    nodes = human_nodes()
    client_of_task = Subquery(
        Lead.objects.filter(process_id=task.process_id).values("client_id")[:1]
    )
    blocked_by = Q(pk__in=[])
    for rule in rules:
        scope = (
            Q(process_id=task.process_id)
            if rule.scope == "process"
            else Q(process__lead__client_id=client_of_task)
        )
        blocked_by |= scope & Q(flow_task__in=[nodes[n] for n in rule.not_after])
    performed = (
        Task.objects.filter(blocked_by, owner=user, status=STATUS.DONE)
        .values_list("flow_task", flat=True)
        .first()
        if rules
        else None
    )
    if performed is not None:
        return SeparationOfDutiesViolated(
            _(
                "Separation of duties: you performed “%(done)s” for this client, so a "
                "colleague must take “%(stage)s”."
            )
            % {"done": performed.task_title, "stage": node.task_title}
        )
    if HandoffNote.objects.filter(
        process_id=task.process_id, to_node=ref, acknowledged_by__isnull=True, author=user
    ).exists():
        return SeparationOfDutiesViolated(
            _("You wrote the handoff note for “%(stage)s”; a colleague must receive it.")
            % {"stage": node.task_title}
        )
    return None


def _give(task: Task, user: AbstractBaseUser) -> None:
    task.owner = user
    task.status = STATUS.ASSIGNED
    task.assigned = timezone.now()
    task.save(update_fields=["owner", "status", "assigned"])


def task_claim(*, task: Task, user: AbstractBaseUser) -> Task:
    """``user`` takes ``task`` from its pool (race-free: under the process lock a task
    taken a moment ago by someone else is refused with ClaimConflict)."""
    with _locked(task) as task:
        refusal = assignment_refusal(task=task, user=user)
        if refusal is not None:
            raise refusal
        _give(task, user)
        audit_record(
            action=AuditEvent.Action.CLAIM,
            actor=user,
            task=task,
            client_id=_client_id(task),
            to_user=user,
        )
    return task


def task_unassign(*, task: Task, user: AbstractBaseUser, reason: str = "") -> Task:
    """Return an assigned task to its pool: by its owner, or by a queue manager."""
    with _locked(task) as task:
        if task.status not in (STATUS.ASSIGNED, STATUS.STARTED) or task.owner_id is None:
            raise ClaimConflict(_("Task #%(id)s is not assigned to anyone.") % {"id": task.pk})
        if task.owner_id != user.pk and not task.flow_task.flow_class.instance.has_manage_permission(
            user
        ):
            raise NotPermitted(_("Only the task's owner or a team lead can return it to the pool."))
        previous_owner = task.owner
        task.owner = None
        task.status = STATUS.NEW
        task.assigned = None
        task.started = None
        task.save(update_fields=["owner", "status", "assigned", "started"])
        audit_record(
            action=AuditEvent.Action.UNASSIGN,
            actor=user,
            task=task,
            client_id=_client_id(task),
            from_user=previous_owner,
            reason=reason,
        )
    return task


# --- working on a stage ------------------------------------------------------------------


def _work(task: Task, user: AbstractBaseUser) -> StageWork:
    """The stage's work, if ``user`` may do it now: their task, still in progress, and a
    stage their roles still include (a role may have been taken away since the claim)."""
    node = task.flow_task
    if task.status not in (STATUS.ASSIGNED, STATUS.STARTED):
        raise ClaimConflict(
            _("Task #%(id)s is %(status)s; it cannot be worked on.")
            % {"id": task.pk, "status": task.get_status_display().lower()}
        )
    if task.owner_id != user.pk:
        raise NotPermitted(_("Task #%(id)s is not assigned to you.") % {"id": task.pk})
    if task.owner_permission and not user.has_perm(task.owner_permission):
        raise NotPermitted(
            _("Your roles no longer include the stage “%(stage)s”.") % {"stage": node.task_title}
        )
    lead = _lead(task)
    order = getattr(lead, "order", None) if lead is not None else None
    return StageWork(
        task=task,
        node=node,
        user=user,
        lead=lead,
        order=order,
        client=lead.client if lead else None,
    )


def work_for(*, task: Task, user: AbstractBaseUser) -> StageWork:
    """For pages: the stage's work if ``user`` may do it (no lock, nothing written)."""
    return _work(task, user)


def _take_pending_note(work: StageWork, *, acknowledge: bool) -> None:
    note = pending_note(process_id=work.task.process_id, node_ref=work.node_ref)
    if note is None:
        return
    if not acknowledge:
        raise HandoffNotAcknowledged(
            _(
                "Read the handoff note from %(author)s and acknowledge it -- or send it back "
                "with a question -- before completing this stage."
            )
            % {"author": note.author}
        )
    handoff_acknowledge(note=note, user=work.user, task=work.task)


def stage_acknowledge(*, task: Task, user: AbstractBaseUser) -> HandoffNote | None:
    """The task's owner confirms they read the note waiting for their stage."""
    with _locked(task) as task:
        work = _work(task, user)
        note = pending_note(process_id=task.process_id, node_ref=work.node_ref)
        if note is not None:
            handoff_acknowledge(note=note, user=user, task=task)
        return note


def _run(work: StageWork, *, bounce: bool) -> None:
    activation = work.node.activation_class(work.task)
    activation.bounce = bounce
    activation.start(None)
    activation.execute()


def stage_complete(
    *,
    task: Task,
    user: AbstractBaseUser,
    data: Mapping[str, Any],
    handoff: Mapping[str, Any] | None = None,
    note_text: str = "",
    acknowledge: bool = False,
) -> StageResult:
    """Complete the user's stage and hand the deal on.

    ``data`` is the stage form's input; ``handoff`` the fields of the note for the next
    stage (its template decides which are required and how much they must say);
    ``acknowledge`` confirms the incoming note in the same step. Refuses -- writing nothing
    -- with StageInvalid, HandoffIncomplete, HandoffNotAcknowledged or NotPermitted.
    """
    with _locked(task) as task:
        work = _work(task, user)
        node = work.node
        _take_pending_note(work, acknowledge=acknowledge)
        form = node.form_class(data=data, work=work)
        if not form.is_valid():
            raise StageInvalid(
                _("The stage “%(stage)s” cannot be completed: check the fields marked.")
                % {"stage": node.task_title},
                errors=form.errors,
            )
        if (
            work.order is not None
            and work.order.discount_needs_approval
            and not node.is_approval
            and "discount" not in form.fields
        ):
            raise NotPermitted(
                _(
                    "The order's discount of %(discount)s%% is over the limit and has not "
                    "been approved by a team lead."
                )
                % {"discount": work.order.discount}
            )
        template = node.handoff if form.handoff_required() else None
        note_fields = handoff_validate(template=template, fields=handoff) if template else None
        node.apply(work=work, data=form.cleaned_data)
        note = None
        if template is not None:
            note = handoff_create(
                task=task,
                author=user,
                template=template,
                from_node=work.node_ref,
                to_node=node_ref(node.flow_class.instance.node(template.to_node)),
                client_id=work.client.pk,
                fields=note_fields,
                text=note_text,
            )
        if node.is_approval and work.order is not None:
            order_approve_discount(order=work.order, user=user)
        _run(work, bounce=False)
        outcome = form.cleaned_data.get("outcome")
        if node.is_approval:
            action = AuditEvent.Action.APPROVE
        elif note is not None:
            action = AuditEvent.Action.HANDOFF
        else:
            action = AuditEvent.Action.COMPLETE
        audit_record(
            action=action,
            actor=user,
            task=task,
            client_id=work.client.pk if work.client else None,
            reason=form.reason(),
            data={"note": note.pk if note else None, "outcome": outcome},
        )
    return StageResult(task=task, note=note, outcome=outcome)


def stage_bounce(
    *,
    task: Task,
    user: AbstractBaseUser,
    question: Mapping[str, Any],
    note_text: str = "",
) -> StageResult:
    """Send the deal back to the stage before, with a question (its own note).

    The work goes to whoever did that stage (if still active), who must acknowledge the
    question before handing over again. For an approval stage this is the rejection.
    """
    with _locked(task) as task:
        work = _work(task, user)
        node = work.node
        target = node.bounce_node
        if target is None:
            raise NotPermitted(
                _("The stage “%(stage)s” cannot send work back.") % {"stage": node.task_title}
            )
        if not node_was_performed(process_id=task.process_id, node=target):
            raise NotPermitted(
                _("There is nobody to send this back to: “%(stage)s” never ran for this deal.")
                % {"stage": target.task_title}
            )
        fields = handoff_validate(template=BOUNCE_TEMPLATE, fields=question)
        # The bounced note was read; the question below says what was wrong with it.
        _take_pending_note(work, acknowledge=True)
        note = handoff_create(
            task=task,
            author=user,
            template=BOUNCE_TEMPLATE,
            from_node=work.node_ref,
            to_node=node_ref(target),
            client_id=work.client.pk,
            fields=fields,
            text=note_text,
            kind=HandoffNote.Kind.BOUNCE,
        )
        _run(work, bounce=True)
        audit_record(
            action=AuditEvent.Action.REJECT if node.is_approval else AuditEvent.Action.BOUNCE,
            actor=user,
            task=task,
            client_id=work.client.pk,
            reason=fields["question"],
            data={"note": note.pk, "to_node": node_ref(target)},
        )
    return StageResult(task=task, note=note, outcome="bounce")


def stage_task_created(*, activation: Any) -> None:
    """viewflow created a stage task (inside the completion's transaction). A task that
    came back by a bounce and went straight to its earlier performer is an assignment,
    so it is recorded."""
    task = activation.task
    if task.owner_id is not None:
        audit_record(
            action=AuditEvent.Action.ASSIGN,
            actor=None,
            task=task,
            client_id=_client_id(task),
            to_user=task.owner,
            reason=_("Sent back to the person who did this stage before.")
            if task.data.get(BOUNCED)
            else "",
        )
