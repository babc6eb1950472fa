"""The start node of the pay disputes flow, as the engine runs it.

The company's flow (``SALESFLOW_PAY_DISPUTE_NODE``) declares its start with this node;
``salesflow.pay.disputes`` runs it with ``run(dispute=...)`` -- the engine finds the flow
through the setting and never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from viewflow.workflow import flow

if TYPE_CHECKING:
    from .models import PayDispute


def _link_dispute(activation: Any, dispute: PayDispute) -> Any:
    # saved first: the dispute refers to it, and the decision's terms (SLA) follow
    process = activation.process
    process.save()
    dispute.flow_process = process
    dispute.save(update_fields=["flow_process"])
    return process


class DisputeStart(flow.StartHandle):
    """A dispute's process starts here: ``run(dispute=dispute)`` links the two."""

    def __init__(self) -> None:
        super().__init__(func=_link_dispute)
