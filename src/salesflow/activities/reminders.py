"""Next steps become work: a date promised to a client -- on an activity, or in a handoff
note (the hunter's note has "date of the next step") -- becomes a task on that day.

* ``reminder_schedule`` -- an activity's next step, in the activity's transaction;
* ``reminders_from_notes`` -- the handoff notes written since the last scan (the engine's
  stage completion does not know this module: the periodic job reads the notes after it);
* ``reminders_start`` -- every reminder due by today starts a process of the reminder flow
  (``SALESFLOW_REMINDER_NODE``, a ``conveyor.stage.Begin`` node: the process is the
  client's, and serves its deal), its task due that day, given to the person holding the
  client's deal then -- or, if they left, are away, or may not take it, left in the pool of
  the role owning the reminder stage.

All of it is idempotent (one reminder per source, a reminder started once): the job can
run twice, or concurrently, and nothing is scheduled or started twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.clients.models import Lead
from salesflow.conveyor.locking import locked_task
from salesflow.conveyor.selectors import process_lead
from salesflow.conveyor.stage import Begin
from salesflow.handoff.models import HandoffNote
from salesflow.queues.distribution import task_give
from salesflow.queues.rules import assignment_refusal
from salesflow.queues.selectors import IN_WORK

from .models import Activity, Reminder, ScanMark

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

NOTE_FIELD = "next_step_date"  # the handoff templates' field naming a next step's date
NOTE_WHAT = "next_step"  # ... and what was promised
NOTES_SCAN = "handoff_note_next_steps"
# notes are re-read this far back (ids) on every scan: a note committed after one with a
# higher id is not missed; the reminders' unique sources keep re-reading harmless
LATE_COMMIT_MARGIN = 1000
PROCESS_KEY = "sf_reminder"  # the reminder's id in its process's data


def reminder_schedule(
    *, activity: Activity, due: date, what: str, promised_by: User | None
) -> Reminder:
    """Schedule the next step an activity names (inside the activity's transaction)."""
    assert activity.client_id is not None
    return Reminder.objects.create(
        client_id=activity.client_id,
        lead=activity.lead or _latest_deal(activity.client_id),
        due=due,
        what=what[:2000],
        activity=activity,
        promised_by=promised_by,
    )


def _latest_deal(client_id: int) -> Lead | None:
    """The client's newest deal: a reminder about a client serves its latest deal."""
    return (
        Lead.objects.filter(client_id=client_id, process__isnull=False).order_by("-created").first()
    )


def reminders_from_notes() -> int:
    """Schedule a reminder for every handoff note written since the last scan that names a
    next step's date; returns how many were scheduled. A date that is not one is logged
    and skipped (the note's template validated it when it was written)."""
    with transaction.atomic():
        mark, _created = ScanMark.objects.select_for_update().get_or_create(name=NOTES_SCAN)
        start = max(0, mark.last_id - LATE_COMMIT_MARGIN)
        notes = list(
            HandoffNote.objects.filter(pk__gt=start, fields__has_key=NOTE_FIELD)
            .exclude(
                pk__in=Reminder.objects.filter(handoff_note_id__gt=start).values("handoff_note_id")
            )
            .select_related("process__lead", "process__subject__lead")
            .order_by("pk")
        )
        newest = HandoffNote.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        scheduled = 0
        for note in notes:
            try:
                due = date.fromisoformat(str(note.fields[NOTE_FIELD]))
            except ValueError:
                logger.warning(
                    "handoff note %s: %r is not a date", note.pk, note.fields[NOTE_FIELD]
                )
                continue
            what = str(note.fields.get(NOTE_WHAT) or "") or _(
                "The next step promised in the handoff note."
            )
            try:
                with transaction.atomic():
                    Reminder.objects.create(
                        client_id=note.client_id,
                        lead=process_lead(note.process),
                        due=due,
                        what=what[:2000],
                        handoff_note=note,
                        promised_by_id=note.author_id,
                    )
            except IntegrityError:  # scheduled meanwhile by a concurrent run
                continue
            scheduled += 1
        if newest > mark.last_id:
            mark.last_id = newest
            mark.save(update_fields=["last_id"])
    return scheduled


# --- starting reminders --------------------------------------------------------------------


@cache
def reminder_start_node() -> Begin:
    """The reminder flow's start node (``SALESFLOW_REMINDER_NODE``)."""
    path = settings.SALESFLOW_REMINDER_NODE
    flow_path, _sep, node_name = path.rpartition(".")
    try:
        flow_class = import_string(flow_path)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"SALESFLOW_REMINDER_NODE: cannot import {flow_path}: {exc}"
        ) from exc
    node = flow_class.instance.node(node_name, no_obsolete=True)
    if not isinstance(node, Begin):
        raise ImproperlyConfigured(
            f"SALESFLOW_REMINDER_NODE: {path} must be a salesflow.conveyor.stage.Begin node"
        )
    return node


def reminder_for_process(process: Process) -> Reminder | None:
    """The reminder a process of the reminder flow was started for."""
    reminder_id = (process.data or {}).get(PROCESS_KEY)
    if reminder_id is None:
        return Reminder.objects.filter(process_id=process.pk).first()
    return Reminder.objects.filter(pk=reminder_id).first()


def reminder_holder(reminder: Reminder) -> User | None:
    """Who holds the client's deal now: the owner of an open task of the reminder's own
    deal, else of the client's newest deal with one (None: nobody holds one)."""
    own_deal = Q(process__lead=reminder.lead_id) if reminder.lead_id else Q(pk__in=[])
    task = (
        Task.objects.filter(
            process__lead__client_id=reminder.client_id,
            flow_task_type="HUMAN",
            status__in=IN_WORK,
            owner__isnull=False,
        )
        .annotate(
            own=Case(When(own_deal, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .select_related("owner")
        .order_by("own", "-created", "-pk")
        .first()
    )
    return task.owner if task is not None else None


@dataclass(frozen=True)
class Started:
    reminder: Reminder
    task: Task
    to: User | None  # None: left in the pool


def reminder_start(*, reminder_id: int, today: date | None = None) -> Started | None:
    """Start one due reminder (its own transaction): a process of the reminder flow about
    the client and its deal, the task due on the reminder's day, given to the holder of the
    deal if the rules let them take it (an audit event), else waiting in its pool. None if
    it is not due, or was started meanwhile."""
    today = today or timezone.localdate()
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=reminder_id, process__isnull=True, due__lte=today)
            .select_related("client", "lead")
            .first()
        )
        if reminder is None:
            return None
        process = reminder_start_node().run(
            client=reminder.client, lead=reminder.lead, _process_data={PROCESS_KEY: reminder.pk}
        )
        reminder.process = process
        reminder.started = timezone.now()
        reminder.save(update_fields=["process", "started"])
        task = Task.objects.filter(process=process, flow_task_type="HUMAN", status=STATUS.NEW).get()
        holder = reminder_holder(reminder)
        given = _give_to_holder(task, holder, reminder) if holder is not None else None
    return Started(reminder=reminder, task=task, to=given)


def _give_to_holder(task: Task, holder: User, reminder: Reminder) -> User | None:
    with locked_task(task, person=holder.pk) as locked:
        refusal = assignment_refusal(task=locked, user=holder, by_other=True)
        if refusal is not None:
            logger.info("reminder %s: %s; it waits in its pool", reminder.pk, refusal.message)
            return None
        task_give(locked, holder)
        audit_record(
            action=AuditEvent.Action.ASSIGN,
            actor=None,
            task=locked,
            client_id=reminder.client_id,
            to_user=holder,
            reason=_("A next step promised for %(day)s: to the person holding the client's deal.")
            % {"day": reminder.due.isoformat()},
        )
    task.refresh_from_db()
    return holder


def reminders_start(*, today: date | None = None, limit: int = 500) -> list[Started]:
    """Start every reminder due by ``today`` that has not started (oldest first)."""
    today = today or timezone.localdate()
    due = list(
        Reminder.objects.filter(process__isnull=True, due__lte=today)
        .order_by("due", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    started = []
    for reminder_id in due:
        result = reminder_start(reminder_id=reminder_id, today=today)
        if result is not None:
            started.append(result)
    return started


def reminders_run(*, today: date | None = None) -> dict[str, int]:
    """The periodic job: schedule the new notes' next steps, start what is due."""
    scheduled = reminders_from_notes()
    started = reminders_start(today=today)
    return {
        "scheduled_from_notes": scheduled,
        "started": len(started),
        "to_holder": sum(1 for s in started if s.to is not None),
    }


def reminder_due_end(reminder: Reminder) -> datetime:
    """The end of the reminder's day in the installation's time zone: its task's due."""
    next_day = timezone.make_aware(datetime.combine(reminder.due + timedelta(days=1), time.min))
    return next_day - timedelta(seconds=1)
