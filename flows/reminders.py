"""Reminders: a next step promised to a client becomes a task on its day.

The engine schedules and starts them (``salesflow.activities.reminders``): the process is
the client's -- and serves its deal -- from its start (``Begin``), so masking, the pools and
the audit trail treat its task as the client's; it goes to whoever holds the client's deal
that day, or waits in the pool of the role owning the stage (the account managers: the
client belongs to the account pool, not to a person).
"""

from django.utils.translation import gettext_lazy as _
from viewflow import this
from viewflow.workflow import flow, lock

from salesflow.conveyor.nodes import Stage
from salesflow.conveyor.stage import Begin

from . import forms, permissions, services
from .models import ReminderProcess


class RemindersFlow(flow.Flow):
    """Reminders

    A next step promised to a client, due on the day it was promised for.
    """

    process_class = ReminderProcess
    process_title = _("Reminders")
    process_description = _("A next step promised to a client, due on the day it was promised for.")
    lock_impl = lock.select_for_update_lock

    start = Begin().Annotation(title=_("A next step is due")).Next(this.remind)
    remind = (
        Stage(forms.ReminderForm, apply=services.reminder_done)
        .Annotation(title=_("Next step"), description=_("What was promised to the client."))
        .Permission(permissions.REMIND_CLIENT)
        .Due(services.reminder_due)
        .Priority(services.reminder_priority)
        .Next(this.end)
    )
    end = flow.End().Annotation(title=_("Done"))
