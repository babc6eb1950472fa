"""SLA and stalled work: a periodic scan marks the open tasks that are stuck -- past their
due date, or assigned and untouched for their role's idle limit -- and the team leads are
told once, by e-mail; the team console lists them until they move.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import AuditEntry, audit_record_many
from salesflow.celery import publish
from salesflow.conveyor.registry import human_nodes
from salesflow.conveyor.selectors import lead_of, process_client_ids
from salesflow.outbox import notification_record, notification_send
from salesflow.people import display_name
from salesflow.roles import idle_limit_for_node, team_lead_addresses

from . import terms
from .selectors import OPEN, POOL_RELATED
from .terms import StallReason, set_terms, stamp, terms_of

logger = logging.getLogger(__name__)

NOTIFY_JOB = "salesflow.queues.tasks.notify_stalled"


class StalledRowsLocked(Exception):
    """Some tasks the scan should have marked were locked by another transaction -- a
    scan running beside it, or the session of a worker killed in the middle of one, which
    PostgreSQL keeps (and its locks) until it notices the client is gone. What could be
    marked is committed; the job runs again later for the rest instead of reporting an
    empty scan as done (a re-queued scan right after the kill would skip them all)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} tasks to mark were locked by another transaction")
        self.count = count


def stalled_scan(*, now: datetime | None = None, retry_if_locked: bool = False) -> list[int]:
    """Mark open tasks that are stuck: past their due date (the stage's SLA), or assigned
    and untouched for longer than their role's idle limit. Returns the ids of the tasks
    marked now; each gets an audit event, and the team leads are told once, after the
    commit (``tasks.notify_stalled``).

    Idempotent and safe to run twice at once: a task is marked once (rows another run is
    marking are skipped, rows already marked are not looked at). ``retry_if_locked`` (the
    Celery job): when rows were skipped because they were locked, StalledRowsLocked is
    raised after the commit, so the job is retried rather than acknowledged empty.
    """
    now = now or timezone.now()
    unmarked = Task.objects.filter(status__in=OPEN, flow_task_type="HUMAN").exclude(
        data__has_key=terms.STALLED
    )
    idle = Q()
    for ref, node in human_nodes().items():
        limit = idle_limit_for_node(ref)
        if limit is not None:
            since = stamp(now - limit)
            idle |= Q(flow_task=node, owner__isnull=False) & (
                Q(**{f"data__{terms.TOUCHED}__lt": since})
                | (~Q(data__has_key=terms.TOUCHED) & Q(assigned__lt=now - limit))
            )
    reasons = {StallReason.SLA: Q(**{f"{terms.DUE_PATH}__lt": stamp(now)}), StallReason.IDLE: idle}
    marked: list[int] = []
    locked: set[int] = set()
    with transaction.atomic():
        for reason, condition in reasons.items():
            if not condition:
                continue
            candidates = unmarked.filter(condition).exclude(pk__in=marked)
            rows = list(
                candidates.select_for_update(of=("self",), skip_locked=True).values_list(
                    "pk", "process_id", "owner_id"
                )
            )
            if retry_if_locked:
                # what matched but could not be locked (a plain read does not wait)
                got = {row[0] for row in rows}
                locked.update(set(candidates.values_list("pk", flat=True)) - got)
            if not rows:
                continue
            ids = [row[0] for row in rows]
            set_terms(Task.objects.filter(pk__in=ids), stalled=stamp(now), stalled_reason=reason)
            clients = process_client_ids(process_ids={row[1] for row in rows})
            audit_record_many(
                AuditEntry(
                    action=AuditEvent.Action.STALLED,
                    created=now,
                    task_id=task_id,
                    process_id=process_id,
                    client_id=clients.get(process_id),
                    from_user_id=owner_id,
                    reason=str(StallReason(reason).label),
                    data={"stall": str(reason)},
                )
                for task_id, process_id, owner_id in rows
            )
            marked.extend(ids)
        if marked:
            transaction.on_commit(partial(_enqueue_notify, marked))
    if locked:
        raise StalledRowsLocked(len(locked))
    return marked


def _enqueue_notify(task_ids: list[int]) -> None:
    if not publish(NOTIFY_JOB, task_ids):
        # the marks stand (the console shows them); only the e-mail about them is lost
        logger.error(
            "%d tasks were marked stalled, but the broker is unavailable: the team leads "
            "are not e-mailed about them (the team console lists them)",
            len(task_ids),
        )


def stalled_notify(*, task_ids: Sequence[int]) -> int:
    """E-mail the team leads the list of tasks just marked stalled. Returns the number of
    recipients (0: nobody to tell, logged)."""
    recipients = team_lead_addresses()
    if not recipients:
        logger.warning("%d tasks stalled, but no team lead has an e-mail address", len(task_ids))
        return 0
    tasks = (
        Task.objects.filter(pk__in=list(task_ids))
        .select_related(*POOL_RELATED)
        .order_by(terms.DUE_PATH, "pk")
    )
    lines = []
    for task in tasks:
        marks = terms_of(task)
        lead = lead_of(task)
        due = (
            date_format(timezone.localtime(marks.due), "SHORT_DATETIME_FORMAT")
            if marks.due
            else "-"
        )
        lines.append(
            _("#%(id)s %(stage)s, %(client)s: %(why)s (due %(due)s, %(owner)s)")
            % {
                "id": task.pk,
                "stage": task.flow_task.task_title,
                "client": lead.client.name if lead else "-",
                "why": marks.stalled_reason_label,
                "due": due,
                "owner": display_name(task.owner) if task.owner else _("in the pool"),
            }
        )
    subject = _("salesflow: %(count)d tasks are stalled") % {"count": len(lines)}
    body = "\n".join([_("These tasks are stuck; move them from the team console:"), "", *lines])
    # the same marks make the same notice: a job run again finds it recorded (the outbox)
    key = "stalled:" + hashlib.sha256(",".join(map(str, sorted(task_ids))).encode()).hexdigest()
    notification = notification_record(key=key, subject=subject, body=body, recipients=recipients)
    if not notification_send(notification=notification):
        logger.info("the stalled notice %s was sent (or attempted) before: not again", key)
        return 0
    return len(recipients)
