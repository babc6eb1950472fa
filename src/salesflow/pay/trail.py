"""The facts pay is computed from, read from the conveyor's own record: the stage tasks
(who completed each, forward or sent back), the audit trail (who held a task, bounces
and rejections), the leads and orders (the amount after discount, who entered the lead,
repeat orders and reactivations) -- never typed by a person.

``deal_trails(start, end)`` reads every deal that can produce a pay line in the period in
a constant number of queries, however long the history: the deals with a stage completed
in the period or that ended in it, and everything about them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db.models import CharField, Exists, ExpressionWrapper, F, OuterRef, Q
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Lead
from salesflow.conveyor.registry import human_nodes

from .credit import Completion, DealTrail, kopecks

# a task that sent the work back did not complete its stage forward
BACKWARD_ACTIONS = (AuditEvent.Action.BOUNCE, AuditEvent.Action.REJECT)
# events that put a task in someone's hands
HOLDER_ACTIONS = (AuditEvent.Action.ASSIGN, AuditEvent.Action.CLAIM, AuditEvent.Action.REASSIGN)
REPEAT_SOURCES = (Lead.Source.REPEAT_ORDER, Lead.Source.REACTIVATION)
ENDED = (STATUS.DONE, STATUS.CANCELED)


@dataclass(frozen=True)
class Stages:
    """The human stages of the configured flows: viewflow's stored task reference ->
    our node reference (``conveyor.qualify``)."""

    by_task_ref: dict[str, str]
    delivery: str


@cache
def stages() -> Stages:
    return Stages(
        by_task_ref={get_task_ref(node): ref for ref, node in human_nodes().items()},
        delivery=settings.SALESFLOW_DELIVERY_NODE,
    )


def deal_trails(*, start: datetime, end: datetime, holders: bool = True) -> list[DealTrail]:
    """Every deal that may earn, advance or claw back pay in ``[start, end)``, with its
    trail; ``holders``: also everyone who held each task (only a plan that splits a
    reassigned stage evenly needs them: one query less without). Three queries at most,
    whatever the history: the deals' stage tasks, who held those, the leads with their
    orders and processes -- the deals picked by the same subquery in each."""
    known = stages()
    task_refs = list(known.by_task_ref)
    # a deal that ended (lost) in the period had its last stage done in it as well
    touched = Task.objects.filter(
        flow_task__in=task_refs, status=STATUS.DONE, finished__gte=start, finished__lt=end
    ).values("process_id")
    candidates = Q(process_id__in=touched)
    backward = AuditEvent.objects.filter(task_id=OuterRef("pk"), action__in=BACKWARD_ACTIONS)
    stage_tasks = Task.objects.filter(candidates, flow_task__in=task_refs, status=STATUS.DONE)
    tasks = (
        stage_tasks.exclude(Exists(backward))
        # the stored reference as text (viewflow's field would import each row's node)
        .annotate(ref=ExpressionWrapper(F("flow_task"), output_field=CharField()))
        .order_by("finished", "id")
        .values_list("id", "process_id", "ref", "owner_id", "finished")
    )
    held: dict[int, list[int]] = defaultdict(list)
    if holders:
        for task_id, user_id in (
            AuditEvent.objects.filter(
                task_id__in=stage_tasks.values("id"),
                action__in=HOLDER_ACTIONS,
                to_user_id__isnull=False,
            )
            .order_by("created", "id")
            .values_list("task_id", "to_user_id")
        ):
            held[task_id].append(user_id)
    completions: dict[int, list[Completion]] = defaultdict(list)
    node_of = known.by_task_ref
    for task_id, process_id, flow_task, owner_id, finished in tasks:
        hands = held.get(task_id)
        if hands is None:  # nobody's hands recorded (or not asked for): the completer's
            people: tuple[int, ...] = (owner_id,) if owner_id is not None else ()
        elif owner_id is not None and hands[-1] != owner_id:
            people = (*hands, owner_id)
        else:
            people = tuple(hands)
        completions[process_id].append(
            Completion(node_of[flow_task], task_id, owner_id, finished, people)
        )
    # no ORDER BY (the lead's default): the lines are sorted once they are made
    leads = (
        Lead.objects.filter(candidates, order__isnull=False)
        .order_by()
        .values_list(
            "process_id",
            "client__name",
            "source",
            "created_by_id",
            "order__amount",
            "order__discount",
            "process__status",
            "process__finished",
        )
    )
    trails = []
    for process_id, client, source, created_by, amount, discount, status, finished in leads:
        done = tuple(completions.get(process_id, ()))
        delivered = next((c.finished for c in done if c.node == known.delivery), None)
        flow = done[0].node.partition(".")[0] if done else known.delivery.partition(".")[0]
        trails.append(
            DealTrail(
                process_id=process_id,
                client=client,
                flow=flow,
                amount=kopecks(Decimal(amount) * (100 - Decimal(discount)) / 100),
                repeat=source in REPEAT_SOURCES,
                referrer_id=created_by if source == Lead.Source.MANUAL else None,
                completions=done,
                delivered=delivered,
                ended=finished if delivered is None and status in ENDED else None,
            )
        )
    return trails
