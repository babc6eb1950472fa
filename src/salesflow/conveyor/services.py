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

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.fields import import_task_by_ref
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
    SalesflowError,
    SeparationOfDutiesViolated,
    StageInvalid,
)
from salesflow.handoff.models import HandoffNote
from salesflow.handoff.selectors import pending_note_expressions
from salesflow.handoff.services import handoff_acknowledge, handoff_create, handoff_validate
from salesflow.handoff.templates import BOUNCE_TEMPLATE
from salesflow.queues.services import queue_item_create

from .nodes import BOUNCED, Stage
from .registry import node_ref
from .selectors import (
    WORK_RELATED,
    SeparationFacts,
    node_was_performed,
    separation_expressions,
    separation_facts,
    task_for_update,
)

if TYPE_CHECKING:
    from salesflow.clients.models import Client, Order


@dataclass
class StageWork:
    """What a stage's form and its flow service work on, read once under the lock."""

    task: Task
    node: Stage
    user: User
    lead: Lead
    order: Order | None

    @property
    def node_ref(self) -> str:
        return node_ref(self.node)

    @property
    def client(self) -> Client:
        return self.lead.client

    @property
    def client_id(self) -> int:
        return self.lead.client_id


@dataclass(frozen=True)
class StageResult:
    task: Task
    note: HandoffNote | None
    outcome: str | None


# --- locking ---------------------------------------------------------------------------


@contextmanager
def _locked(
    task: Task, related: tuple[str, ...] = ("process",), **annotations: Any
) -> Iterator[Task]:
    """A transaction holding the task's process lock; yields the task re-read under it,
    with ``related`` and ``annotations``.

    The lock is viewflow's ``select_for_update`` lock -- a row lock on the process -- taken
    by the same query that reads the task, instead of viewflow's lock query followed by a
    re-read. Flows must use ``lock.select_for_update_lock`` (system check salesflow.E001)
    so that viewflow's own paths (timers, cancel) lock the same row.
    """
    if not isinstance(task.flow_task, Stage):
        raise NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    with transaction.atomic():
        try:
            yield task_for_update(task_id=task.pk, related=related, annotations=annotations)
        except Task.DoesNotExist:
            raise NotFound(_("Task #%(id)s does not exist.") % {"id": task.pk}) from None


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
    *,
    task: Task,
    user: User,
    check_owner: bool = True,
    facts: SeparationFacts | None = None,
) -> SalesflowError | None:
    """Why ``user`` may not take ``task``, or None if they may.

    Checks, in order: an active user; a task still waiting in its pool (``check_owner``);
    the stage's permission; the separation-of-duties rules declared with the roles that
    perform the stage; and that the user did not write the handoff note waiting for this
    stage. The rules' facts are asked in one query (``separation_facts``) unless given.
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
    if facts is None:
        facts = separation_facts(
            task_id=task.pk, process_id=task.process_id, node_ref=node_ref(node), user_id=user.pk
        )
    if facts.barred_by:
        performed = import_task_by_ref(facts.barred_by)
        return SeparationOfDutiesViolated(
            _(
                "Separation of duties: you performed “%(done)s” for this client, so a "
                "colleague must take “%(stage)s”."
            )
            % {"done": performed.task_title, "stage": node.task_title}
        )
    if facts.wrote_pending_note:
        return SeparationOfDutiesViolated(
            _("You wrote the handoff note for “%(stage)s”; a colleague must receive it.")
            % {"stage": node.task_title}
        )
    return None


def _give(task: Task, user: User) -> None:
    task.owner = user
    task.status = STATUS.ASSIGNED
    task.assigned = timezone.now()
    task.save(update_fields=["owner", "status", "assigned"])


def task_claim(*, task: Task, user: User) -> Task:
    """``user`` takes ``task`` from its pool (race-free: under the process lock a task
    taken a moment ago by someone else is refused with ClaimConflict)."""
    expressions = separation_expressions(
        process_id=task.process_id, node_ref=node_ref(task.flow_task), user_id=user.pk
    )
    with _locked(task, **expressions) as task:
        facts = SeparationFacts.of(task)
        refusal = assignment_refusal(task=task, user=user, facts=facts)
        if refusal is not None:
            raise refusal
        _give(task, user)
        audit_record(
            action=AuditEvent.Action.CLAIM,
            actor=user,
            task=task,
            client_id=facts.client_id,
            to_user=user,
        )
    return task


def task_unassign(*, task: Task, user: User, reason: str = "") -> Task:
    """Return an assigned task to its pool: by its owner, or by a queue manager."""
    with _locked(task, ("process__lead",)) as task:
        if task.status not in (STATUS.ASSIGNED, STATUS.STARTED) or task.owner_id is None:
            raise ClaimConflict(_("Task #%(id)s is not assigned to anyone.") % {"id": task.pk})
        if (
            task.owner_id != user.pk
            and not task.flow_task.flow_class.instance.has_manage_permission(user)
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


def _work(task: Task, user: User) -> StageWork:
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
    if lead is None:
        raise NotFound(
            _("Deal #%(id)s has no lead: it was not started by the intake.")
            % {"id": task.process_id}
        )
    return StageWork(
        task=task,
        node=node,
        user=user,
        lead=lead,
        order=getattr(lead, "order", None),
    )


def work_for(*, task: Task, user: User) -> StageWork:
    """For pages: the stage's work if ``user`` may do it (no lock, nothing written)."""
    return _work(task, user)


def _pending(task: Task) -> dict[str, Any]:
    return pending_note_expressions(process_id=task.process_id, node_ref=node_ref(task.flow_task))


def _take_pending_note(work: StageWork, *, acknowledge: bool) -> int | None:
    """Refuse while a note waits unread, unless ``acknowledge``: then acknowledge it.
    The task must have been read with ``_pending(task)``."""
    task = work.task
    note_id, author_id = task.pending_note_id, task.pending_note_author_id
    if note_id is None:
        return None
    if not acknowledge:
        author = get_user_model()._default_manager.get(pk=author_id)
        raise HandoffNotAcknowledged(
            _(
                "Read the handoff note from %(author)s and acknowledge it -- or send it back "
                "with a question -- before completing this stage."
            )
            % {"author": author}
        )
    handoff_acknowledge(note_id=note_id, author_id=author_id, user=work.user)
    return note_id


def stage_acknowledge(*, task: Task, user: User) -> int | None:
    """The task's owner confirms they read the note waiting for their stage; returns its
    id (None if no note waits)."""
    with _locked(task, WORK_RELATED, **_pending(task)) as task:
        return _take_pending_note(_work(task, user), acknowledge=True)


def _run(work: StageWork, *, bounce: bool) -> None:
    activation = work.node.activation_class(work.task)
    activation.bounce = bounce
    activation.start(None)
    activation.execute()


def stage_complete(
    *,
    task: Task,
    user: User,
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
    with _locked(task, WORK_RELATED, **_pending(task)) as task:
        work = _work(task, user)
        node = work.node
        acknowledged = _take_pending_note(work, acknowledge=acknowledge)
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
        note_fields = handoff_validate(template=template, fields=handoff) if template else {}
        node.apply(work=work, data=form.cleaned_data)
        note = None
        if template is not None:
            note = handoff_create(
                task=task,
                author=user,
                template=template,
                from_node=work.node_ref,
                to_node=node_ref(node.flow_class.instance.node(template.to_node)),
                client_id=work.client_id,
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
            client_id=work.client_id,
            reason=form.reason(),
            data={
                "note": note.pk if note else None,
                "outcome": outcome,
                "acknowledged": acknowledged,
            },
        )
    return StageResult(task=task, note=note, outcome=outcome)


def stage_bounce(
    *,
    task: Task,
    user: User,
    question: Mapping[str, Any],
    note_text: str = "",
) -> StageResult:
    """Send the deal back to the stage before, with a question (its own note).

    The work goes to whoever did that stage (if still active), who must acknowledge the
    question before handing over again. For an approval stage this is the rejection.
    """
    with _locked(task, WORK_RELATED, **_pending(task)) as task:
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
            client_id=work.client_id,
            fields=fields,
            text=note_text,
            kind=HandoffNote.Kind.BOUNCE,
        )
        _run(work, bounce=True)
        audit_record(
            action=AuditEvent.Action.REJECT if node.is_approval else AuditEvent.Action.BOUNCE,
            actor=user,
            task=task,
            client_id=work.client_id,
            reason=fields["question"],
            data={"note": note.pk, "to_node": node_ref(target)},
        )
    return StageResult(task=task, note=note, outcome="bounce")


def stage_task_created(*, activation: Any) -> None:
    """viewflow created a stage task (inside the completion's transaction): it gets its
    place in the pool (due date, priority). A task that came back by a bounce and went
    straight to its earlier performer is an assignment, so it is recorded."""
    task = activation.task
    queue_item_create(activation=activation, bounced=bool(task.data.get(BOUNCED)))
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
