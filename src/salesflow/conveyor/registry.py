"""Where the engine finds the company's flows, without importing ``flows/`` by name.

Flows are listed in ``settings.SALESFLOW_FLOWS``; a node is referred to as
``<flow>.<node>`` (``conveyor.qualify``), the spelling the role files use.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from viewflow.utils import strip_suffixes

if TYPE_CHECKING:
    from viewflow.workflow.base import Flow, Node


def flow_ref(flow_class: type[Flow]) -> str:
    return strip_suffixes(flow_class.__name__, ["Flow"]).lower()


def node_ref(node: Node) -> str:
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
def human_nodes() -> dict[str, Node]:
    """Every stage a person performs, by reference."""
    from .nodes import Stage

    return {
        node_ref(node): node
        for flow_class in flows()
        for node in flow_class.instance.nodes()
        if isinstance(node, Stage)
    }


def start_node(setting_name: str) -> Node:
    """The start node named by a setting such as ``SALESFLOW_INTAKE_NODE``."""
    path = getattr(settings, setting_name)
    flow_path, _, node_name = path.rpartition(".")
    flow_class = import_string(flow_path)
    node = flow_class.instance.node(node_name, no_obsolete=True)
    if node is None:
        raise ImproperlyConfigured(f"{setting_name}: {flow_path} has no node {node_name!r}")
    from .nodes import Intake

    if not isinstance(node, Intake):
        raise ImproperlyConfigured(
            f"{setting_name}: {path} must be a salesflow.conveyor.nodes.Intake node"
        )
    return node


@cache
def handoff_templates() -> dict:
    """Every handoff template of the configured flows (and the bounce's), by code."""
    from salesflow.handoff.templates import BOUNCE_TEMPLATE

    templates = {BOUNCE_TEMPLATE.code: BOUNCE_TEMPLATE}
    for node in human_nodes().values():
        if node.handoff is not None:
            templates[node.handoff.code] = node.handoff
    return templates
