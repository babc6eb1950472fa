"""Adding to the company's memory by hand: a call, a meeting, a proposal or a note about a
client -- from a stage's page in a few seconds, from the timeline, or when a reminder is
done -- and saying whose an unmatched e-mail or call is.

A next step with a date schedules a reminder in the same transaction
(``reminders.reminder_schedule``); the reminder flow starts it on its day. Captured mail
is ``capture``'s, calls from the exchange ``calls``'.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.clients.models import Client, Contact, Lead
from salesflow.conveyor.selectors import lead_of, process_client_id
from salesflow.exceptions import ClaimConflict, NotFound, NotPermitted, SalesflowError
from salesflow.queues.claims import task_touch
from salesflow.queues.selectors import IN_WORK

from .access import require_may_log, require_may_match
from .models import Activity
from .reminders import reminder_schedule

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# What a person logs by hand (e-mail comes from the mailbox or is sent from the product).
LOGGED_KINDS = (
    Activity.Kind.CALL,
    Activity.Kind.MEETING,
    Activity.Kind.PROPOSAL,
    Activity.Kind.NOTE,
)


def _clean(
    *,
    kind: str,
    text: str,
    direction: str,
    duration: int | None,
    next_step: str,
    next_step_date: date | None,
    occurred: datetime,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if kind not in LOGGED_KINDS:
        known = ", ".join(str(k) for k in LOGGED_KINDS)
        errors["kind"] = [
            _("“%(kind)s” is not something to log by hand (one of: %(known)s).")
            % {"kind": kind, "known": known}
        ]
    if not text.strip():
        errors["text"] = [_("Say in a few words what happened: the next person reads it.")]
    if direction and direction not in Activity.Direction.values:
        errors["direction"] = [_("The direction is “in” or “out”.")]
    if duration is not None and duration < 0:
        errors["duration"] = [_("A duration cannot be negative.")]
    if next_step_date is not None and next_step_date < timezone.localdate():
        errors["next_step_date"] = [
            _("A next step is promised for today or later, not for %(day)s.")
            % {"day": next_step_date.isoformat()}
        ]
    if next_step and next_step_date is None:
        errors["next_step_date"] = [_("Give the next step a date: on that day it becomes a task.")]
    if occurred > timezone.now() + timedelta(minutes=5):
        errors["occurred"] = [_("An activity that has not happened yet is a next step.")]
    return errors


@transaction.atomic
def activity_log(
    *,
    user: User,
    client: Client,
    kind: str,
    text: str,
    subject: str = "",
    direction: str = "",
    outcome: str = "",
    duration: int | None = None,
    contact: Contact | None = None,
    lead: Lead | None = None,
    task: Task | None = None,
    next_step: str = "",
    next_step_date: date | None = None,
    occurred: datetime | None = None,
) -> Activity:
    """Record a call, meeting, proposal or note about ``client`` by ``user`` -- who must
    hold one of its tasks or lead the team -- and schedule its next step if it has a date.
    Refuses bad input (the message says which field and why) and writes nothing then."""
    require_may_log(user=user, client_id=client.pk)
    occurred = occurred or timezone.now()
    text, subject, outcome, next_step = (
        text.strip(),
        subject.strip(),
        outcome.strip(),
        next_step.strip(),
    )
    errors = _clean(
        kind=kind,
        text=text,
        direction=direction,
        duration=duration,
        next_step=next_step,
        next_step_date=next_step_date,
        occurred=occurred,
    )
    if contact is not None and contact.client_id != client.pk:
        errors["contact"] = [_("That contact is not at this client.")]
    if lead is not None and lead.client_id != client.pk:
        errors["lead"] = [_("That deal is another client's.")]
    if errors:
        raise SalesflowError(
            _("The activity was not recorded: check the fields marked."), errors=errors
        )
    activity = Activity.objects.create(
        kind=kind,
        direction=direction,
        source=Activity.Source.PERSON,
        client=client,
        lead=lead,
        task=task,
        contact=contact,
        author=user,
        occurred=occurred,
        subject=subject[:300],
        text=text,
        outcome=outcome[:300],
        duration=duration,
        next_step=next_step[:300],
        next_step_date=next_step_date,
    )
    if next_step_date is not None:
        reminder_schedule(
            activity=activity, due=next_step_date, what=next_step or text, promised_by=user
        )
    return activity


def activity_log_on_task(
    *,
    task: Task,
    user: User,
    kind: str,
    text: str,
    direction: str = "",
    next_step_date: date | None = None,
    next_step: str = "",
) -> Activity:
    """The stage page's quick log: the task's owner records a call or a meeting on the
    task's client and deal (two fields and a button), and the task counts as touched."""
    if task.owner_id != user.pk or task.status not in IN_WORK:
        raise NotPermitted(_("Log activities on a task you are working on."))
    client_id = process_client_id(task.process)
    if client_id is None:
        raise ClaimConflict(_("Task #%(id)s is about no client.") % {"id": task.pk})
    client = Client.objects.get(pk=client_id)
    with transaction.atomic():
        activity = activity_log(
            user=user,
            client=client,
            kind=kind,
            text=text,
            direction=direction,
            lead=lead_of(task),
            task=task,
            next_step=next_step,
            next_step_date=next_step_date,
        )
        task_touch(task=task, user=user)
    return activity


@transaction.atomic
def activity_match_client(*, activity_id: int, client: Client, by: User) -> Activity:
    """A team lead says whose an unmatched e-mail or call is: it joins that client's
    timeline. Refused for an activity that already has a client (nothing changes)."""
    require_may_match(by)
    activity = Activity.objects.select_for_update().filter(pk=activity_id).first()
    if activity is None:
        raise NotFound(_("Activity #%(id)s does not exist.") % {"id": activity_id})
    if activity.client_id is not None:
        raise ClaimConflict(
            _("Activity #%(id)s is already on the timeline of %(client)s.")
            % {"id": activity.pk, "client": activity.client}
        )
    if client.merged_into_id is not None:
        raise SalesflowError(
            _("%(client)s was merged into another client; choose that one.") % {"client": client}
        )
    activity.client = client
    activity.triaged_by = by
    activity.save(update_fields=["client", "triaged_by"])
    return activity
