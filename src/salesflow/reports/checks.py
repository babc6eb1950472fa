"""System check: the stage that delivers an order (the contribution ledger's trigger)."""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from salesflow.conveyor.registry import human_nodes


@register()
def check_delivery_node(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    nodes = human_nodes()
    if settings.SALESFLOW_DELIVERY_NODE not in nodes:
        return [
            Error(
                f"SALESFLOW_DELIVERY_NODE is {settings.SALESFLOW_DELIVERY_NODE!r}, which is not "
                "a stage of the configured flows: the daily report could not tell when an "
                "order is delivered.",
                hint=f"Set it to one of: {', '.join(sorted(nodes))}.",
                id="salesflow.E101",
            )
        ]
    return []
