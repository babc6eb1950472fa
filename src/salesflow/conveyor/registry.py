"""Where the engine finds the company's flows, without importing ``flows/`` by name.

Flows are listed in ``settings.SALESFLOW_FLOWS``; a node is referred to as
``<flow>.<node>`` (``conveyor.qualify``), the spelling the role files use. The role files
are checked against these flows at start-up (``node_permissions`` → ``roles.check_roles``).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from viewflow.utils import strip_suffixes

from salesflow.handoff.templates import BOUNCE_TEMPLATE, HandoffTemplate

from .stage import Intake, StageNode, is_stage

if TYPE_CHECKING:
    from viewflow.workflow.base import Flow

N = TypeVar("N")


def flow_ref(flow_class: type[Flow]) -> str:
    ref: str = strip_suffixes(flow_class.__name__, ["Flow"]).lower()
    return ref


def node_ref(node: Any) -> str:
    return f"{flow_ref(node.flow_class)}.{node.name}"


@cache
def flows() -> tuple[type[Flow], ...]:
    result = []
    for path in settings.SALESFLOW_FLOWS:
        try:
            result.append(import_string(path))
        except ImportError as exc:
            raise ImproperlyConfigured(f"SALESFLOW_FLOWS: cannot import {path!r}: {exc}") from exc
    refs = [flow_ref(flow_class) for flow_class in result]
    if len(set(refs)) != len(refs):
        raise ImproperlyConfigured(f"SALESFLOW_FLOWS: two flows share a name: {refs}")
    return tuple(result)


@cache
def human_nodes() -> dict[str, StageNode]:
    """Every stage a person performs, by reference."""
    return {
        node_ref(node): node
        for flow_class in flows()
        for node in flow_class.instance.nodes()
        if is_stage(node)
    }


def is_selling(node: Any) -> bool:
    """Whether a node's work is selling: every flow's is, unless the flow says
    ``selling = False`` (side tasks, the base's quality). The daily report splits each
    person's time by it; non-selling work hands over no side tasks."""
    return bool(getattr(node.flow_class, "selling", True))


def node_permissions() -> dict[str, str | None]:
    """Each stage's reference and the permission its tasks need (what the role files are
    checked against)."""
    return {ref: node._owner_permission for ref, node in human_nodes().items()}


def handoff_target(node: StageNode) -> StageNode | None:
    """The stage a node's handoff note is addressed to (None: no handoff, or a template
    pointing nowhere -- system check salesflow.E003)."""
    if node.handoff is None:
        return None
    target = node.flow_class.instance.node(node.handoff.to_node, no_obsolete=True)
    return target if is_stage(target) else None


def named_node(setting_name: str, kind: type[N]) -> N:
    """The node named by a setting (``"flows.x.XFlow.node"``), which must be a ``kind``."""
    path = getattr(settings, setting_name)
    flow_path, _, node_name = path.rpartition(".")
    flow_class = import_string(flow_path)
    node = flow_class.instance.node(node_name, no_obsolete=True)
    if node is None:
        raise ImproperlyConfigured(f"{setting_name}: {flow_path} has no node {node_name!r}")
    if not isinstance(node, kind):
        raise ImproperlyConfigured(
            f"{setting_name}: {path} must be a {kind.__module__}.{kind.__qualname__} node"
        )
    return node


def start_node(setting_name: str) -> Intake:
    """The start node named by a setting such as ``SALESFLOW_INTAKE_NODE``."""
    return named_node(setting_name, Intake)


@cache
def handoff_templates() -> dict[str, HandoffTemplate]:
    """Every handoff template of the configured flows (and the bounce's), by code."""
    templates = {BOUNCE_TEMPLATE.code: BOUNCE_TEMPLATE}
    for node in human_nodes().values():
        if node.handoff is not None:
            templates[node.handoff.code] = node.handoff
    return templates


@cache
def after_approval() -> frozenset[str]:
    """The stages that come *after* a discount approval: reachable from an approval stage
    along the flow's forward edges (a bounce goes back; it is no way forward).

    Only these stages refuse to complete while the order's discount waits for a team
    lead: an earlier stage (qualify, after the order was sent back to it) is not bound by
    a later stage's rule -- its work goes on to the order's preparation, where the
    discount is set again and the approval asked again if still needed."""
    reached: set[str] = set()
    for flow_class in flows():
        queue = [
            node for node in flow_class.instance.nodes() if is_stage(node) and node.is_approval
        ]
        seen: set[str] = set()
        while queue:
            node = queue.pop()
            for edge in node._outgoing():
                if edge.edge_class == "bounce" or node_ref(edge.dst) in seen:
                    continue
                seen.add(node_ref(edge.dst))
                queue.append(edge.dst)
        reached |= {ref for ref in seen if ref in human_nodes()}
    return frozenset(reached)
