"""The base's quality: the database operator's queue.

Each problem a rule finds (``flows.dataquality_work``: a probable duplicate, a card
missing what the role files say a card needs, a contact that bounced or failed, mail or a
call that matched no client) is a process with one stage in the database operators' pool
-- with its SLA, stalled rules and audit trail like any stage. A problem about a client
starts with ``Begin`` (the process is the client's: masking and the trail follow); mail
that matched no client starts about nobody.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock

from salesflow.conveyor.nodes import Stage
from salesflow.conveyor.stage import Begin

from . import dataquality_work, forms, permissions
from .models import DataQualityProcess


def _about_nobody(activation: Any) -> Any:
    return activation.process


class DataQualityFlow(flow.Flow):
    """Data quality

    The client base kept clean and complete: duplicates, incomplete cards, contacts that
    bounced, mail and calls that matched no client.
    """

    process_class = DataQualityProcess
    process_title = _("Data quality")
    lock_impl = lock.select_for_update_lock
    # non-selling work itself: measured as such in the daily report (the engine's
    # registry.is_selling), and its stages hand over no side tasks (flows.sidework)
    selling = False

    start = Begin().Annotation(title=_("A problem with a client's data")).Next(this.fix)
    start_unmatched = (
        flow.StartHandle(_about_nobody)
        .Annotation(title=_("Mail or a call that matched no client"))
        .Next(this.fix)
    )
    fix = (
        Stage(forms.DataFixForm, apply=dataquality_work.data_issue_fixed)
        .Annotation(title=_("Fix the client data"), description=_("Put the base right."))
        .Permission(permissions.FIX_DATA)
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Done"))
