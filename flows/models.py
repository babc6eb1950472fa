"""The conveyor's process: viewflow's Process, plus what its gateways read."""

from django.utils.translation import gettext_lazy as _
from viewflow import jsonstore
from viewflow.workflow.models import Process

from .permissions import DECLARED, REMINDER_DECLARED


class ConveyorProcess(Process):
    """One deal on the conveyor. The lead, client and order are real models
    (``process.lead``); only the follow-up's decision is kept here, for its gateway."""

    repeat_request = jsonstore.TextField(_("repeat order request"), blank=True, default="")

    class Meta:
        proxy = True
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        permissions = DECLARED


class ReminderProcess(Process):
    """A next step promised to a client, due on its day (``flows.reminders``). What was
    promised is the engine's ``activities.Reminder``; the process only carries its id."""

    class Meta:
        proxy = True
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        permissions = REMINDER_DECLARED
