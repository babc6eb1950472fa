"""The nodes a conveyor is built from, on top of viewflow's.

* ``Intake`` -- where the engine's ``lead_intake`` starts a deal: the lead is linked to the
  new process before its first stage is created.
* ``If`` / ``Switch`` -- viewflow's gateways, minus a savepoint a completion never needs.
* ``Stage`` -- a human stage owned by a role's pool. It is completed only through the
  engine's services (``stage_complete`` / ``stage_bounce``): the stage's form, a valid
  handoff note for the next stage, an audit event. ``.Bounce(node)`` draws the way back
  in the flow graph and lets the receiver send the work back with a question.

viewflow's own transitions do not check permissions or write history, so every way into a
stage -- its page, assign, unassign -- goes through views that call our services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.activation import Activation
from viewflow.workflow.base import Edge
from viewflow.workflow.context import context
from viewflow.workflow.exceptions import FlowRuntimeError
from viewflow.workflow.nodes.if_gate import IfActivation
from viewflow.workflow.nodes.switch import SwitchActivation
from viewflow.workflow.nodes.view import ViewActivation
from viewflow.workflow.signals import task_finished
from viewflow.workflow.status import STATUS

if TYPE_CHECKING:
    from salesflow.handoff.templates import HandoffTemplate

BOUNCED = "salesflow_bounced"  # task.data key on a task created by a bounce


class StageActivation(ViewActivation):
    """A stage's activation; the services set ``bounce`` before ``execute()``."""

    bounce = False

    @classmethod
    def create(cls, flow_task, prev_activation, token, data=None, seed=None):
        """viewflow's creation, with the task's terms in its pool (due date, priority)
        written by the same INSERT, and the pool told afterwards (``task_created``)."""
        from salesflow.queues.services import task_created, task_terms

        bounced = bool(getattr(prev_activation, "bounce", False))
        data = {
            **(data or {}),
            **task_terms(node=flow_task, process=prev_activation.process, bounced=bounced),
        }
        if bounced:
            data[BOUNCED] = True
        activation = super().create(flow_task, prev_activation, token, data=data, seed=seed)
        task_created(activation=activation)
        return activation

    @Activation.status.transition(source=STATUS.STARTED, target=STATUS.DONE)
    def complete(self):
        """viewflow's completion, saving only what it changes: the whole-row save it does
        would write every column of the task again."""
        self.task.finished = timezone.now()
        self.task.save(update_fields=["status", "started", "finished"])
        task_finished.send(sender=self.flow_class, process=self.process, task=self.task)

    @Activation.status.super()
    def create_next(self):
        if self.bounce:
            yield self.flow_task._bounce._create(self, self.task.token)
        else:
            yield from super().create_next.original()


class _IfActivation(IfActivation):
    @Activation.status.super()
    def activate(self):
        if context.propagate_exception:
            self._condition_result = self.flow_task._condition(self)
        else:
            super().activate.original()


class _SwitchActivation(SwitchActivation):
    @Activation.status.super()
    def activate(self):
        if not context.propagate_exception:
            return super().activate.original()
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


def _link_lead(activation, lead):
    # The reverse one-to-one caches the lead on the (still unsaved) process, so the first
    # stage's due date and priority can read it; lead_intake saves the link afterwards.
    activation.process.lead = lead
    return activation.process


class Intake(flow.StartHandle):
    """A start node for ``salesflow.clients.services.lead_intake``: ``run(lead=lead)``."""

    def __init__(self) -> None:
        super().__init__(func=_link_lead)


class Stage(flow.View):
    """A human stage of the conveyor.

    ``form_class`` is a ``salesflow.conveyor.forms.StageForm`` subclass holding the
    stage's own fields; ``apply`` is the flow's service that writes them (called inside
    the completion's transaction). ``.Handoff(template)`` is the note the next stage
    needs; ``.Bounce(node)`` is where the receiver may send the work back.
    """

    activation_class = StageActivation

    def __init__(self, form_class: type, apply: Any = None, **kwargs: Any) -> None:
        from .views import StageView

        super().__init__(StageView.as_view(), **kwargs)
        self.form_class = form_class
        self._apply = apply
        self._handoff: HandoffTemplate | None = None
        self._bounce = None
        self._due = None
        self._priority = None
        self.is_approval = False

    def Handoff(self, template: HandoffTemplate) -> Stage:  # noqa: N802 - viewflow's builder style
        self._handoff = template
        return self

    def Bounce(self, node: Any) -> Stage:  # noqa: N802
        self._bounce = node
        return self

    def Due(self, due: Any) -> Stage:  # noqa: N802
        """``due(process) -> datetime | None``: a deadline the stage has besides its SLA
        (e.g. a promised delivery date); the earlier of the two applies."""
        self._due = due
        return self

    def Priority(self, priority: Any) -> Stage:  # noqa: N802
        """``priority(process) -> queues.terms.Priority``: how urgent a new task of this
        stage is (NORMAL when not declared)."""
        self._priority = priority
        return self

    def Approval(self) -> Stage:  # noqa: N802
        """Mark the stage as a team lead's approval: completing it approves the order's
        discount, sending it back rejects it."""
        self.is_approval = True
        return self

    def _resolve(self, instance):
        super()._resolve(instance)
        self._bounce = this.resolve(instance, self._bounce)
        self._apply = this.resolve(instance, self._apply)
        self._due = this.resolve(instance, self._due)
        self._priority = this.resolve(instance, self._priority)

    def _outgoing(self):
        yield from super()._outgoing()
        if self._bounce is not None:
            yield Edge(src=self, dst=self._bounce, edge_class="bounce", label=_("bounce"))

    @property
    def handoff(self) -> HandoffTemplate | None:
        return self._handoff

    @property
    def bounce_node(self):
        return self._bounce

    def apply(self, **kwargs: Any) -> None:
        if self._apply is not None:
            self._apply(**kwargs)

    def due_for(self, process) -> Any:
        return self._due(process) if self._due is not None else None

    def priority_for(self, process) -> int | None:
        return self._priority(process) if self._priority is not None else None

    def calc_owner(self, activation):
        """A task sent back by a bounce goes to whoever did this stage before (they know
        the answer), if they are still active; otherwise it waits in the pool."""
        if activation.task.data.get(BOUNCED):
            from .selectors import last_performer

            owner = last_performer(process=activation.process, node=self)
            if owner is not None:
                activation.task.assigned = timezone.now()
            return owner
        return super().calc_owner(activation)

    def can_assign(self, user, task):
        """Used by viewflow's pages to show the assign button; the engine's rules decide."""
        from salesflow.queues.services import assignment_refusal

        return (
            super().can_assign(user, task)
            and assignment_refusal(task=task, user=user, check_owner=False) is None
        )

    # --- URLs: the stage page, assign and unassign go through the engine's services ----

    @property
    def view_path(self):
        from .views import StageView, task_view

        return path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/execute/",
            task_view(self, StageView.as_view()),
            name="execute",
        )

    @property
    def assign_path(self):
        from .views import ClaimTaskView, task_view

        return path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/assign/",
            task_view(self, ClaimTaskView.as_view()),
            name="assign",
        )

    @property
    def unassign_path(self):
        from .views import UnassignTaskView, task_view

        return path(
            f"<int:process_pk>/{self.name}/<int:task_pk>/unassign/",
            task_view(self, UnassignTaskView.as_view()),
            name="unassign",
        )
