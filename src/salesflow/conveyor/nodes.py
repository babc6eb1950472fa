"""The nodes flows are built from, wired to the engine (the composition root of a stage).

* ``Stage`` -- a human stage owned by a role's pool (what a flow declares on it:
  ``conveyor.stage.StageNode``), wired here to its page, its pool and the pools' rules. It
  is completed only through the engine's services (``stage_complete`` / ``stage_bounce``):
  the stage's form, a valid handoff note for the next stage, an audit event.
* ``If`` / ``Switch`` -- viewflow's gateways, minus a savepoint a completion never needs.
* ``Intake`` -- a deal's start node (``conveyor.stage``), re-exported for flows.

viewflow's own transitions do not check permissions or write history, so every way into a
stage -- its page, assign, unassign -- goes through views that call our services.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.urls import URLPattern, path
from django.utils import timezone
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.context import context
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.if_gate import IfActivation
from viewflow.workflow.nodes.switch import SwitchActivation
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.signals import task_finished
from viewflow.workflow.status import STATUS

from salesflow.queues import terms
from salesflow.queues.distribution import task_created, task_terms
from salesflow.queues.rules import assignment_refusal

from .selectors import last_performer
from .stage import Intake, StageApply, StageNode
from .views import ClaimTaskView, StageView, UnassignTaskView, task_index, task_view

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from viewflow.workflow.models import Task

__all__ = ["If", "Intake", "Stage", "Switch"]


class StageActivation(ViewActivation):
    """A stage's activation; the services set ``bounce`` before ``execute()``."""

    bounce = False

    @classmethod
    def create(
        cls,
        flow_task: StageNode,
        prev_activation: Any,
        token: Any,
        data: dict[str, Any] | None = None,
        seed: Any = None,
    ) -> StageActivation:
        """viewflow's creation, with the task's terms in its pool (due date, priority)
        written by the same INSERT, and the pool told afterwards (``task_created``)."""
        bounced = bool(getattr(prev_activation, "bounce", False))
        data = {
            **(data or {}),
            **task_terms(node=flow_task, process=prev_activation.process, bounced=bounced),
        }
        activation: StageActivation = super().create(
            flow_task, prev_activation, token, data=data, seed=seed
        )
        task_created(task=activation.task)
        return activation

    @Activation.status.transition(source=STATUS.STARTED, target=STATUS.DONE)
    def complete(self) -> None:
        """viewflow's completion, saving only what it changes: the whole-row save it does
        would write every column of the task again."""
        self.task.finished = timezone.now()
        self.task.save(update_fields=["status", "started", "finished"])
        task_finished.send(sender=self.flow_class, process=self.process, task=self.task)

    @Activation.status.super()
    def create_next(self) -> Iterator[Any]:
        if self.bounce:
            yield self.flow_task._bounce._create(self, self.task.token)
        else:
            yield from super().create_next.original()


class _IfActivation(IfActivation):
    @Activation.status.super()
    def activate(self) -> None:
        if context.propagate_exception:
            self._condition_result = self.flow_task._condition(self)
        else:
            super().activate.original()


class _SwitchActivation(SwitchActivation):
    @Activation.status.super()
    def activate(self) -> None:
        if not context.propagate_exception:
            super().activate.original()
            return None
        for node, condition in self.flow_task._branches:
            if condition is None or condition(self):
                self.next_task = node
                return None
        raise FlowRuntimeError(f"No next task available for {self.flow_task.name}")


class If(flow.If):
    """viewflow's If gateway, without the savepoint it takes around its condition.

    viewflow evaluates a gateway's condition inside a savepoint so that, when it runs in
    the background (``propagate_exception=False``), a failure can be recorded on the task
    and the rest kept. In a stage completion a failure propagates and rolls the whole
    completion back, so the savepoint only costs two round trips per gateway; it is kept
    for the background case.
    """

    activation_class = _IfActivation


class Switch(flow.Switch):
    """viewflow's Switch gateway, without the savepoint (see ``If``)."""

    activation_class = _SwitchActivation


class Stage(StageNode):
    """A human stage of the conveyor, wired to the engine: its page, the pools and their
    rules (see ``conveyor.stage.StageNode`` for what a flow declares on it).

    It is completed only through the engine's services (``stage_complete`` /
    ``stage_bounce``): the stage's form, a valid handoff note for the next stage, an
    audit event."""

    activation_class = StageActivation
    # viewflow's detail, cancel, undo and revive pages: not mounted. They check no role,
    # write no audit event, and a revived task has no permission at all.
    detail_view_class = None
    cancel_view_class = None
    undo_view_class = None
    revive_view_class = None

    def __init__(self, form_class: type, apply: StageApply | None = None, **kwargs: Any) -> None:
        super().__init__(StageView.as_view(), form_class, apply, **kwargs)

    def calc_owner(self, activation: Any) -> User | None:
        """A task sent back by a bounce goes to whoever did this stage before (they know
        the answer), if they are still active and still hold a role that performs it;
        otherwise it waits in the pool."""
        if activation.task.data.get(terms.BOUNCED):
            owner = last_performer(process=activation.process, node=self)
            if (
                owner is not None
                and self._owner_permission
                and not owner.has_perm(self._owner_permission)
            ):
                owner = None  # their role was taken away since: the pool answers
            if owner is not None:
                activation.task.assigned = timezone.now()
            return owner
        assigned: User | None = super().calc_owner(activation)
        return assigned

    def can_assign(self, user: Any, task: Task) -> bool:
        """Used by viewflow's pages to show the assign button; the engine's rules decide."""
        return bool(super().can_assign(user, task)) and (
            assignment_refusal(task=task, user=user, check_owner=False) is None
        )

    # --- URLs: the stage page, assign and unassign go through the engine's services ----

    @property
    def index_path(self) -> URLPattern:
        pattern: URLPattern = path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/",
            task_view(self, task_index),
            name="index",
        )
        return pattern

    @property
    def view_path(self) -> URLPattern:
        pattern: URLPattern = path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/execute/",
            task_view(self, StageView.as_view()),
            name="execute",
        )
        return pattern

    @property
    def assign_path(self) -> URLPattern:
        pattern: URLPattern = path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/assign/",
            task_view(self, ClaimTaskView.as_view()),
            name="assign",
        )
        return pattern

    @property
    def unassign_path(self) -> URLPattern:
        pattern: URLPattern = path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/unassign/",
            task_view(self, UnassignTaskView.as_view()),
            name="unassign",
        )
        return pattern
