"""Pay disputes: a person disputes a line of their statement, a team lead decides.

The engine starts the process (``salesflow.pay.disputes.pay_dispute_open`` runs the
start node named by ``SALESFLOW_PAY_DISPUTE_NODE``); its one stage waits in the team
leads' pool with the SLA and stalled rules of their role file, like any stage. Deciding
it calls the engine's ``pay_dispute_decide``: an adjustment or a rejection, each an
audit event, and the person told. The decision page shows the disputed line above the
form (``stage_panel``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock

from salesflow.conveyor.nodes import Stage
from salesflow.pay.disputes import describe_line, dispute_for_process, pay_dispute_decide
from salesflow.pay.nodes import DisputeStart
from salesflow.people import display_name

from . import forms, permissions
from .models import DisputeProcess

if TYPE_CHECKING:
    from django.http import HttpRequest
    from viewflow.workflow.models import Task

    from salesflow.conveyor.stage import StageWork


def disputer(process: Any) -> int | None:
    """Whose dispute it is: they may not decide it (read from the dispute the start node
    just linked, cached on the process: no query)."""
    dispute = getattr(process, "pay_dispute", None)
    return dispute.user_id if dispute is not None else None


def dispute_decided(*, work: StageWork, data: dict[str, Any]) -> None:
    """The decision stage completed (inside ``stage_complete``, its process locked)."""
    accept = data["decision"] == forms.DisputeDecisionForm.ACCEPT
    pay_dispute_decide(
        process_id=work.task.process_id,
        user=work.user,
        accept=accept,
        amount=data.get("amount") if accept else None,
        answer=data["answer"],
    )


class DisputesFlow(flow.Flow):
    """Pay disputes

    A person disputes a line of their pay statement; a team lead accepts it with an
    adjustment or rejects it with the answer.
    """

    process_class = DisputeProcess
    process_title = _("Pay disputes")
    process_description = _("A line of a pay statement disputed, decided by a team lead.")
    lock_impl = lock.select_for_update_lock
    # supervision, not selling: measured as such, and it hands over no side tasks
    selling = False

    start = DisputeStart().Annotation(title=_("A statement line disputed")).Next(this.decide)
    decide = (
        Stage(forms.DisputeDecisionForm, apply=dispute_decided)
        .Annotation(
            title=_("Decide a pay dispute"),
            description=_("Accept with an adjustment, or reject with the answer."),
        )
        .Permission(permissions.DECIDE_PAY_DISPUTE)
        .NotFor(disputer)
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Decided"))


def stage_panel(*, request: HttpRequest, task: Task, work: StageWork) -> SafeString:
    """The decision page's panel (``SALESFLOW_STAGE_PANELS``): who disputes which line,
    what it paid, and why. Nothing on any other stage (no query there)."""
    if task.flow_task.flow_class is not DisputesFlow:
        return mark_safe("")  # noqa: S308 - nothing of anyone's
    dispute = dispute_for_process(task.process_id)
    if dispute is None:
        return mark_safe("")  # noqa: S308
    html = render_to_string(
        "flows/dispute_panel.html",
        {"dispute": dispute, "line": describe_line(dispute), "person": display_name(dispute.user)},
        request=request,
    )
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, escaped there
