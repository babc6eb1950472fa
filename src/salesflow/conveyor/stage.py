"""What a stage *is*: the declarations a flow makes about a human node, and nothing that
acts on them.

Everything in the engine that asks "is this a stage people work on, and what does it
need?" -- the pools, the locks, the reports, the API -- imports this module and nothing
above it. The wiring of a stage to its pages and to the pools (its activation, its URLs)
is ``conveyor.nodes.Stage``, the composition root that flows build with; it subclasses
``StageNode`` and adds no declarations of its own.

A stage declares, in viewflow's builder style:

* ``.Handoff(template)`` -- the note the next stage needs;
* ``.Bounce(node)`` -- where the receiver may send the work back, with a question;
* ``.Due(fn)`` -- a deadline besides its SLA (``fn(process) -> datetime | None``);
* ``.Priority(fn)`` -- how urgent a new task is (``fn(process) -> int``);
* ``.Approval()`` -- completing it approves the order's discount, a bounce rejects it;
* ``.NotFor(fn)`` -- the person the task is about, who may not take it
  (``fn(process) -> user id | None``: a pay dispute is not decided by its author).

``Intake`` is the start node the engine's intake runs with a lead: the process *is* that
deal. ``Begin`` starts a process that is about a client -- and serves a deal, if given --
without being one (a side task, a reminder): ``run(client=..., lead=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow
from viewflow.workflow.base import Edge

from salesflow.clients.models import ProcessSubject

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from viewflow.workflow.models import Process, Task

    from salesflow.clients.models import Client, Lead, Order
    from salesflow.handoff.templates import HandoffTemplate


@dataclass
class StageWork:
    """What a stage's form and its flow service work on, read once under the task's lock.

    ``lead`` is the deal the work is on: the process's own (a conveyor stage) or the one a
    process started by ``Begin`` serves; None for work about no deal (a dispute over pay).
    ``order`` is the deal's order, once there is one."""

    task: Task
    node: StageNode
    user: User
    lead: Lead | None
    order: Order | None

    @property
    def client(self) -> Client | None:
        return self.lead.client if self.lead is not None else None

    @property
    def client_id(self) -> int | None:
        return self.lead.client_id if self.lead is not None else None

    @property
    def is_deal(self) -> bool:
        """The process is the deal itself (not work serving one): its stages' rules --
        the order's discount, the handoffs -- are the deal's."""
        return self.lead is not None and self.lead.process_id == self.task.process_id


class StageApply(Protocol):
    """A flow's service writing a stage's validated form data (inside the completion's
    transaction, under the task's lock)."""

    def __call__(self, *, work: StageWork, data: dict[str, Any]) -> None: ...


# ``.Due(fn)``: a deadline the stage has besides its SLA; ``.Priority(fn)``: how urgent.
DueFn = Callable[["Process"], datetime | None]
PriorityFn = Callable[["Process"], int]
# ``.NotFor(fn)``: the id of the person who may not take the stage's task, if any.
NotForFn = Callable[["Process"], int | None]
# A gateway's condition (``If``/``Switch``): reads the process of the activation.
Condition = Callable[[Any], bool]


class StageNode(flow.View):
    """A human stage of a flow, as the flow declares it.

    ``form_class`` is a ``conveyor.forms.StageForm`` subclass holding the stage's own
    fields; ``apply`` is the flow's service that writes them."""

    def __init__(
        self, view: Any, form_class: type, apply: StageApply | None = None, **kwargs: Any
    ) -> None:
        super().__init__(view, **kwargs)
        self.form_class = form_class
        self._apply: StageApply | None = apply
        self._handoff: HandoffTemplate | None = None
        self._bounce: Any = None
        self._due: DueFn | None = None
        self._priority: PriorityFn | None = None
        self._not_for: NotForFn | None = None
        self.is_approval = False

    def Handoff(self, template: HandoffTemplate) -> StageNode:  # noqa: N802 - viewflow's builder style
        self._handoff = template
        return self

    def Bounce(self, node: Any) -> StageNode:  # noqa: N802
        self._bounce = node
        return self

    def Due(self, due: DueFn) -> StageNode:  # noqa: N802
        """A deadline the stage has besides its SLA (e.g. a promised delivery date); the
        earlier of the two applies."""
        self._due = due
        return self

    def Priority(self, priority: PriorityFn) -> StageNode:  # noqa: N802
        """How urgent a new task of this stage is (``queues.terms.Priority``; NORMAL when
        not declared)."""
        self._priority = priority
        return self

    def NotFor(self, not_for: NotForFn) -> StageNode:  # noqa: N802
        """Who may not take a task of this stage: the person it is about (their own pay
        dispute). Refused at every hand-out and at completion, like separation of duties."""
        self._not_for = not_for
        return self

    def Approval(self) -> StageNode:  # noqa: N802
        """Mark the stage as a team lead's approval: completing it approves the order's
        discount, sending it back rejects it."""
        self.is_approval = True
        return self

    def _resolve(self, instance: Any) -> None:
        super()._resolve(instance)
        self._bounce = this.resolve(instance, self._bounce)
        self._apply = this.resolve(instance, self._apply)
        self._due = this.resolve(instance, self._due)
        self._priority = this.resolve(instance, self._priority)
        self._not_for = this.resolve(instance, self._not_for)

    def _outgoing(self) -> Iterator[Edge]:
        yield from super()._outgoing()
        if self._bounce is not None:
            yield Edge(src=self, dst=self._bounce, edge_class="bounce", label=_("bounce"))

    @property
    def handoff(self) -> HandoffTemplate | None:
        return self._handoff

    @property
    def bounce_node(self) -> StageNode | None:
        bounce: StageNode | None = self._bounce
        return bounce

    def apply(self, *, work: StageWork, data: dict[str, Any]) -> None:
        if self._apply is not None:
            self._apply(work=work, data=data)

    def due_for(self, process: Process) -> datetime | None:
        return self._due(process) if self._due is not None else None

    def priority_for(self, process: Process) -> int | None:
        return self._priority(process) if self._priority is not None else None

    def not_for(self, process: Process) -> int | None:
        return self._not_for(process) if self._not_for is not None else None


def is_stage(node: object) -> TypeGuard[StageNode]:
    """Whether a flow node is a stage people work on (its tasks go through the pools)."""
    return isinstance(node, StageNode)


def _link_lead(activation: Any, lead: Lead) -> Any:
    # The reverse one-to-one caches the lead on the (still unsaved) process, so the first
    # stage's due date and priority can read it; the intake saves the link afterwards.
    activation.process.lead = lead
    return activation.process


class Intake(flow.StartHandle):
    """A deal's start node: the engine's intake runs it with ``run(lead=lead)``."""

    def __init__(self) -> None:
        super().__init__(func=_link_lead)


def _link_subject(activation: Any, client: Client, lead: Lead | None = None) -> Any:
    # saved first: the subject refers to it, and the first stage's terms may read it
    process = activation.process
    process.save()
    ProcessSubject.objects.create(process=process, client=client, lead=lead)
    return process


class Begin(flow.StartHandle):
    """The start node of a process about a client that is not a deal itself -- a side task,
    a reminder: ``run(client=client, lead=deal_or_none)`` links it
    (``clients.models.ProcessSubject``), so the engine treats its tasks as the client's."""

    def __init__(self) -> None:
        super().__init__(func=_link_subject)
