"""What the daily report is grouped by and how its rows are called: the configured
stages and roles in conveyor order, their titles, the outcomes' labels, a day's bounds."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from viewflow.workflow.fields import get_task_ref

from salesflow.clients.models import Lead
from salesflow.conveyor.registry import (
    flows,
    handoff_target,
    human_nodes,
    is_selling,
    node_ref,
)
from salesflow.conveyor.stage import is_stage
from salesflow.roles import get_roles

from . import queries

APPROVED, REJECTED = "approved", "rejected"


@cache
def stage_order() -> tuple[str, ...]:
    """Stage node references in the order their flows declare them (the conveyor's)."""
    nodes = human_nodes()
    order = []
    for flow_class in flows():
        for name in vars(flow_class):
            node = flow_class.instance.node(name)
            if is_stage(node) and node_ref(node) in nodes:
                order.append(node_ref(node))
    return tuple(order)


def role_order() -> tuple[str, ...]:
    """Role codes by the first conveyor stage they perform (those with none last)."""
    stages = {ref: number for number, ref in enumerate(stage_order())}
    roles = get_roles()
    return tuple(
        sorted(
            roles,
            key=lambda code: (
                min((stages.get(n, 999) for n in roles[code].nodes), default=999),
                code,
            ),
        )
    )


def stage_title(ref: str) -> str:
    node = human_nodes().get(ref)
    return str(node.task_title) if node is not None else ref


def role_title(code: str) -> str:
    role = get_roles().get(code)
    return role.title_for((get_language() or "en")[:2]) if role is not None else code


def outcome_label(outcome: str) -> str:
    """A stage outcome as people read it: a lead's status ("Qualified"), an approval's
    decision, or else the label of the stage form's choice."""
    if outcome == APPROVED:
        return _("approved")
    if outcome == REJECTED:
        return _("rejected")
    if outcome in Lead.Status.values:
        return str(Lead.Status(outcome).label)
    for node in human_nodes().values():
        field_ = getattr(node.form_class, "base_fields", {}).get("outcome")
        for value, label in getattr(field_, "choices", ()):
            if value == outcome:
                return str(label)
    return outcome


def report_layout() -> queries.Layout:
    """The stages, roles, approvals and delivery stage of the configured flows."""
    nodes = human_nodes()
    delivery = settings.SALESFLOW_DELIVERY_NODE
    return queries.Layout(
        stages=tuple((get_task_ref(node), ref) for ref, node in nodes.items()),
        roles=tuple(
            (get_task_ref(nodes[stage.node]), role.code)
            for role in get_roles().values()
            for stage in role.stages
            if stage.node in nodes
        ),
        approvals=tuple(ref for ref, node in nodes.items() if node.is_approval),
        delivery=get_task_ref(nodes[delivery]) if delivery in nodes else delivery,
        non_selling=tuple(get_task_ref(node) for node in nodes.values() if not is_selling(node)),
    )


def handoff_transitions() -> list[tuple[str, str]]:
    """Every (from, to) a stage's handoff template declares, in conveyor order."""
    nodes = human_nodes()
    result = []
    for ref in stage_order():
        node = nodes[ref]
        target = handoff_target(node)
        if target is not None:
            result.append((ref, node_ref(target)))
    return result


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in settings.TIME_ZONE (23 or 25 hours
    long on the days the clocks change)."""
    zone = timezone.get_default_timezone()
    return (
        timezone.make_aware(datetime.combine(day, time.min), zone),
        timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), zone),
    )


def data_start() -> date | None:
    """The first day with conveyor data (the first stage task's), or None if none yet."""
    first = queries.first_task_created()
    return timezone.localdate(first) if first is not None else None
