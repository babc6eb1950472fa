"""Side tasks: non-selling work a stage's holder hands to the assistants' pool.

A process of its own about the stage's client and deal (``Begin``: the engine treats its
task as the client's -- masking, separation of duties, the audit trail), one stage in the
assistants' pool with the SLA, stalled rules and leak watch of their role file, and the
end. Handing over, the stage waiting for it, cancelling and the result going back to the
stage's holder are ``flows.sidework``; the pages are ``flows.sidetasks_views``.
"""

from typing import Any

from django.urls import URLPattern
from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock

from salesflow.conveyor.nodes import Stage
from salesflow.conveyor.stage import Begin

from . import forms, permissions, sidetasks_views, sidework
from .models import SideTaskProcess


class SideTasksFlow(flow.Flow):
    """Side tasks

    Non-selling work handed over from a stage: an offer, a payment or originals to chase,
    a card to update, a booking.
    """

    process_class = SideTaskProcess
    process_title = _("Side tasks")
    lock_impl = lock.select_for_update_lock
    # non-selling work itself: measured as such in the daily report (the engine's
    # registry.is_selling), and its stages hand over no side tasks (flows.sidework)
    selling = False

    start = Begin().Annotation(title=_("Handed over from a stage")).Next(this.do)
    do = (
        Stage(forms.SideTaskForm, apply=sidework.side_task_done)
        .Annotation(title=_("Side task"), description=_("Do it and write what came of it."))
        .Permission(permissions.DO_SIDE_TASK)
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Done"))

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        """Anyone signed in reaches this application: every stage's holder hands side
        tasks over through it (its pages check, through the services, that the stage is
        theirs); the chart shows no data."""
        return bool(user.is_authenticated and user.is_active)

    def pages(self) -> list[URLPattern]:
        """Handing a side task over from a stage, and cancelling one (mounted by the
        engine's flow application)."""
        return sidetasks_views.urlpatterns
