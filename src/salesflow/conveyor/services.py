"""Completing and bouncing stages: the engine's rules around viewflow's tasks.

viewflow moves tasks between states but checks no permission and keeps only the last
owner. Every way a person works on a stage -- the web pages, the API, the command line, the
simulator -- comes through these functions (taking a task from its pool is
``salesflow.queues.services``), which

* take the process lock (viewflow's ``select_for_update`` lock) and re-read the task,
* check the role permission and the separation-of-duties rules,
* require an acknowledged incoming handoff and a valid outgoing one,
* write one audit event,

all in one transaction: a refusal (a ``salesflow.exceptions`` error) leaves nothing written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.clients.selectors import contact_entitlement
from salesflow.clients.services import order_approve_discount
from salesflow.exceptions import (
    ClaimConflict,
    HandoffNotAcknowledged,
    NotPermitted,
    StageInvalid,
    StageOnHold,
)
from salesflow.handoff.models import HandoffNote
from salesflow.handoff.selectors import incoming_notes, pending_note_expressions
from salesflow.handoff.services import handoff_acknowledge, handoff_create, handoff_validate
from salesflow.handoff.templates import BOUNCE_TEMPLATE
from salesflow.people import display_name
from salesflow.queues import terms
from salesflow.queues.claims import task_touch
from salesflow.queues.rules import completion_expressions, completion_refusal
from salesflow.watch import services as watch

from .locking import locked_task
from .registry import after_approval, handoff_target, node_ref
from .selectors import (
    WORK_RELATED,
    NoteView,
    describe_notes,
    lead_of,
    node_was_performed,
    process_client_id,
)
from .stage import StageNode, StageWork

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class StageResult:
    task: Task
    note: HandoffNote | None
    outcome: str | None


# --- working on a stage ------------------------------------------------------------------


def _work(task: Task, user: User) -> StageWork:
    """The stage's work, if ``user`` may do it now: their task, still in progress, and a
    stage their roles still include (a role may have been taken away since the claim)."""
    node: StageNode = task.flow_task
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
    lead = lead_of(task)
    return StageWork(
        task=task,
        node=node,
        user=user,
        lead=lead,
        order=getattr(lead, "order", None) if lead is not None else None,
    )


def work_for(*, task: Task, user: User) -> StageWork:
    """For pages: the stage's work if ``user`` may do it (no lock, nothing written)."""
    return _work(task, user)


def _pending(task: Task) -> dict[str, Any]:
    return pending_note_expressions(process_id=task.process_id, node_ref=node_ref(task.flow_task))


def _rules(task: Task, user: User) -> dict[str, Any]:
    """The separation-of-duties facts, read with the task under its lock (no extra query)."""
    return completion_expressions(task=task, user=user)


def _check_rules(work: StageWork) -> None:
    """Every rule checked when the work was handed out holds again at completion
    (``queues.rules.completion_refusal``); the task was read with ``_rules``."""
    refusal = completion_refusal(task=work.task, user=work.user)
    if refusal is not None:
        raise refusal


def _check_holds(task: Task) -> None:
    """A stage waiting for work it handed over (``stage_hold``) is neither completed nor
    sent back: the task's data says so (read with it, under its lock: no query)."""
    holds: dict[str, str] = (task.data or {}).get(terms.HOLDS) or {}
    if holds:
        raise StageOnHold(
            _(
                "This stage is waiting: %(reasons)s. It can be completed when that is done "
                "or cancelled."
            )
            % {"reasons": "; ".join(holds.values())}
        )


def stage_hold(*, task: Task, key: str, reason: str) -> None:
    """Make the stage wait for something (``key``: e.g. a side task's id), with a reason
    the holder reads when completing it is refused. Call with the task locked
    (``locked_task``) and re-read under that lock; one UPDATE of the task's data."""
    data = dict(task.data or {})
    data[terms.HOLDS] = {**(data.get(terms.HOLDS) or {}), key: reason}
    task.data = data
    task.save(update_fields=["data"])


def stage_release(*, task: Task, key: str) -> bool:
    """Drop one thing the stage waits for; whether it was waiting for it. Call with the
    task locked (``locked_task``), like ``stage_hold``."""
    data = dict(task.data or {})
    holds = dict(data.get(terms.HOLDS) or {})
    if holds.pop(key, None) is None:
        return False
    if holds:
        data[terms.HOLDS] = holds
    else:
        data.pop(terms.HOLDS, None)
    task.data = data
    task.save(update_fields=["data"])
    return True


def stage_holds(task: Task) -> dict[str, str]:
    """What the stage waits for (key -> reason), from the task as read."""
    holds: dict[str, str] = (task.data or {}).get(terms.HOLDS) or {}
    return holds


def _take_pending_note(work: StageWork, *, acknowledge: bool) -> int | None:
    """Refuse while a note waits unread, unless ``acknowledge``: then acknowledge it.
    The task must have been read with ``_pending(task)``."""
    task = work.task
    note_id: int | None = getattr(task, "pending_note_id", None)
    author_id: int | None = getattr(task, "pending_note_author_id", None)
    if note_id is None or author_id is None:
        return None
    if not acknowledge:
        author = get_user_model()._default_manager.get(pk=author_id)
        raise HandoffNotAcknowledged(
            _(
                "Read the handoff note from %(author)s and acknowledge it -- or send it back "
                "with a question -- before completing this stage."
            )
            % {"author": display_name(author)}
        )
    handoff_acknowledge(note_id=note_id, author_id=author_id, user=work.user)
    return note_id


def stage_acknowledge(*, task: Task, user: User) -> int | None:
    """The task's owner confirms they read the note waiting for their stage; returns its
    id (None if no note waits)."""
    with locked_task(task, WORK_RELATED, annotations=_pending(task)) as locked:
        note_id = _take_pending_note(_work(locked, user), acknowledge=True)
        task_touch(task=locked, user=user)
    return note_id


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
    with locked_task(
        task, WORK_RELATED, annotations={**_pending(task), **_rules(task, user)}
    ) as locked:
        work = _work(locked, user)
        _check_rules(work)
        _check_holds(locked)
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
            work.is_deal
            and work.order is not None
            and work.order.discount_needs_approval
            and not node.is_approval
            and "discount" not in form.fields
            and node_ref(node) in after_approval()
        ):
            raise NotPermitted(
                _(
                    "The order's discount of %(discount)s%% is over the limit and has not "
                    "been approved by a team lead."
                )
                % {"discount": work.order.discount}
            )
        template = node.handoff if form.handoff_required() else None
        target = handoff_target(node) if template is not None else None
        note_fields = handoff_validate(template=template, fields=handoff) if template else {}
        node.apply(work=work, data=form.cleaned_data)
        note = None
        if template is not None and target is not None and work.client_id is not None:
            note = handoff_create(
                task=locked,
                author=user,
                template=template,
                from_node=node_ref(node),
                to_node=node_ref(target),
                client_id=work.client_id,
                fields=note_fields,
                text=note_text,
            )
        if node.is_approval and work.is_deal and work.order is not None:
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
            task=locked,
            client_id=work.client_id,
            reason=form.reason(),
            data={
                "note": note.pk if note else None,
                "outcome": outcome,
                "acknowledged": acknowledged,
            },
        )
    return StageResult(task=locked, note=note, outcome=outcome)


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
    with locked_task(
        task, WORK_RELATED, annotations={**_pending(task), **_rules(task, user)}
    ) as locked:
        work = _work(locked, user)
        _check_rules(work)
        _check_holds(locked)
        node = work.node
        target = node.bounce_node
        if target is None:
            raise NotPermitted(
                _("The stage “%(stage)s” cannot send work back.") % {"stage": node.task_title}
            )
        if not node_was_performed(process_id=locked.process_id, node=target):
            raise NotPermitted(
                _("There is nobody to send this back to: “%(stage)s” never ran for this deal.")
                % {"stage": target.task_title}
            )
        fields = handoff_validate(template=BOUNCE_TEMPLATE, fields=question)
        # The bounced note was read; the question below says what was wrong with it.
        _take_pending_note(work, acknowledge=True)
        note = None
        if work.client_id is not None:
            note = handoff_create(
                task=locked,
                author=user,
                template=BOUNCE_TEMPLATE,
                from_node=node_ref(node),
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
            task=locked,
            client_id=work.client_id,
            reason=fields["question"],
            data={"note": note.pk if note else None, "to_node": node_ref(target)},
        )
    return StageResult(task=locked, note=note, outcome="bounce")


# --- the system moves work ----------------------------------------------------------------


def stage_move(*, task: Task, to_node: StageNode, reason: str, actor: User | None = None) -> Task:
    """Move a deal's waiting task to another stage of its flow because a rule now says the
    work belongs there (a prospect became a customer: its qualify tasks go to the account
    pool). The task is cancelled -- whoever held it loses it -- and ``to_node``'s task is
    created in its pool, handed out like any new task; one MOVE audit event names both.
    ClaimConflict if the task is no longer waiting (done, cancelled, being completed)."""
    with locked_task(task, "process__lead") as locked:
        if locked.status not in (STATUS.NEW, STATUS.ASSIGNED):
            raise ClaimConflict(
                _("Task #%(id)s is %(status)s; it cannot be moved.")
                % {"id": locked.pk, "status": locked.get_status_display().lower()}
            )
        holder = locked.owner
        activation = locked.flow_task.activation_class(locked)
        activation.cancel()
        created = to_node._create(activation, locked.token)
        created.activate()
        audit_record(
            action=AuditEvent.Action.MOVE,
            actor=actor,
            task=locked,
            client_id=process_client_id(locked.process),
            from_user=holder,
            reason=reason,
            data={"to_node": node_ref(to_node), "task": created.task.pk},
        )
    new_task: Task = created.task
    return new_task


# --- reading a task's handoff notes --------------------------------------------------------


@transaction.atomic
def task_notes(*, task: Task, user: User) -> list[NoteView] | None:
    """The handoff notes addressed to the task's stage, as ``user`` may read them, or None
    when they are withheld.

    Notes carry contact data ("how they prefer to be reached", the delivery address), so
    they follow the contacts' rule (``clients.selectors.Entitlement.reads_notes``): the
    holder of one of the client's tasks reads them as their work; a role that may reveal
    the client's contacts reads them recorded -- one REVEAL audit event naming the notes,
    counted by the leak watch; anyone else (a pool member looking at a waiting task, a
    finished deal) gets None. Call after ``queues.access.access_task``."""
    notes = describe_notes(
        incoming_notes(process_id=task.process_id, node_ref=node_ref(task.flow_task))
    )
    client_id = process_client_id(task.process)
    if client_id is None:
        return notes  # work about no client: nothing of a client's in it
    entitlement = contact_entitlement(user=user, client_id=client_id)
    if not entitlement.reads_notes:
        return None
    if entitlement.holds_task or not notes:
        return notes
    audit_record(
        action=AuditEvent.Action.REVEAL,
        actor=user,
        task=task,
        client_id=client_id,
        reason=_("handoff notes of task #%(id)s") % {"id": task.pk},
        data={"notes": [view.note.pk for view in notes]},
    )
    watch.leak_check(user=user, kind=watch.REVEALS)
    return notes
