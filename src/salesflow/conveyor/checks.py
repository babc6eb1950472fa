"""System checks on the configured flows: a locked flow, and handoffs that point somewhere."""

from typing import Any

from django.core.checks import CheckMessage, Error, register
from viewflow.workflow.lock import SelectForUpdateLock

from .registry import flows, handoff_target, human_nodes


@register()
def check_flows(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for flow_class in flows():
        if not isinstance(flow_class.lock_impl, SelectForUpdateLock):
            errors.append(
                Error(
                    f"{flow_class.__name__} must lock its processes' rows: the engine's "
                    "services take that same row lock.",
                    hint="Set lock_impl = viewflow.workflow.lock.select_for_update_lock.",
                    id="salesflow.E001",
                )
            )
    for ref, node in human_nodes().items():
        if not node._owner_permission:
            errors.append(
                Error(
                    f"Stage {ref} has no .Permission(): its tasks would be open to anyone.",
                    id="salesflow.E002",
                )
            )
        if node.handoff is not None and handoff_target(node) is None:
            errors.append(
                Error(
                    f"Stage {ref}: handoff template {node.handoff.code!r} is addressed to "
                    f"{node.handoff.to_node!r}, which is not a stage of the flow.",
                    id="salesflow.E003",
                )
            )
    return errors
