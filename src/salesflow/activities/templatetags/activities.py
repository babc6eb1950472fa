"""The company's memory on a stage's page, for the conveyor's stage template (which sits
below this module and must not import it): ``{% load activities %}``, then
``{% activities_handover %}`` -- why the task came to its holder -- and
``{% activities_panel %}`` -- the quick log, "write to the client", and the client's latest
history with a link to the whole timeline."""

from __future__ import annotations

from typing import Any

from django import template

from ..access import viewer_of
from ..forms import QuickLogForm, SendMailForm
from ..selectors import task_handover
from ..timeline import client_timeline, first_page

register = template.Library()

RECENT = 5


@register.inclusion_tag("salesflow/activities/_stage_panel.html", takes_context=True)
def activities_panel(context: Any) -> dict[str, Any]:
    request = context["request"]
    task = context.get("task")
    card = context.get("client_card")
    if task is None:
        return {"shown": False}
    panel: dict[str, Any] = {"shown": True, "task": task}
    if card is not None:
        client = card.client
        viewer = viewer_of(user=request.user, client_id=client.pk)
        timeline = client_timeline(client=client, viewer=viewer)
        contacts = [(c.contact.pk, c.contact.name) for c in card.contacts if c.contact.email]
        panel.update(
            client=client,
            recent=first_page(timeline, RECENT),
            log_form=QuickLogForm(),
            send_form=SendMailForm(contacts=contacts) if contacts else None,
            may_write=task.owner_id == request.user.pk,
        )
    return panel


@register.inclusion_tag("salesflow/activities/_handover.html", takes_context=True)
def activities_handover(context: Any) -> dict[str, Any]:
    """Why the task came to its holder -- a team lead's move or an offboarding, with the
    reason -- on top of the stage page, where the receiver reads it first."""
    task = context.get("task")
    return {"handover": task_handover(task=task) if task is not None else None}
