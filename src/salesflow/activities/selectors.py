"""Reading the company's memory for the pages and the API: the triage list, the deals left
without a next step, why a task changed hands, an e-mail with its thread.

Each returns what its page shows, read in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS

from salesflow.audit.models import AuditEvent
from salesflow.conveyor.registry import human_nodes
from salesflow.people import display_names
from salesflow.queues.selectors import OPEN, POOL_RELATED
from salesflow.roles import Role, get_roles

from .models import Activity, MailAttachment, MailMessage, Reminder

# --- the triage list ----------------------------------------------------------------------------


def unmatched_activities() -> QuerySet[Activity]:
    """Mail and calls that matched no client, newest first (the triage list; the database
    operator's queue builds on it): ``activity_match_client`` puts one on a timeline."""
    return (
        Activity.objects.filter(client__isnull=True)
        .select_related("mail", "author")
        .defer("mail__html_body", "mail__text_body")
        .order_by("-occurred", "-pk")
    )


# --- deals without a next step --------------------------------------------------------------------


@dataclass(frozen=True)
class QuietDeal:
    """An open deal at a role's stage with no activity and no scheduled next step for
    longer than the role allows (``next_step_within`` in its role file)."""

    task: Task
    role: Role
    quiet_since: datetime  # the later of: its stage began, its client's last activity
    last_activity: datetime | None
    holder: str  # who holds the task (shown name), "" in the pool


def deals_without_next_step(*, now: datetime | None = None) -> list[QuietDeal]:
    """Per role that declares ``next_step_within``: its open deal tasks whose client has had
    no activity since the task began, or for longer than the limit, and no next step
    scheduled (a reminder waiting for its day, or open). The quietest first. One query per
    such role."""
    now = now or timezone.now()
    nodes = human_nodes()
    quiet: list[QuietDeal] = []
    client = OuterRef("process__lead__client_id")
    last_activity = (
        Activity.objects.filter(client_id=client).order_by("-occurred").values("occurred")[:1]
    )
    pending = Reminder.objects.filter(client_id=client).filter(
        Q(process__isnull=True) | Q(process__status=PROCESS.NEW)
    )
    for role in get_roles().values():
        if role.next_step_within is None:
            continue
        refs = [get_task_ref(nodes[ref]) for ref in role.nodes if ref in nodes]
        tasks = (
            Task.objects.filter(flow_task__in=refs, status__in=OPEN, process__lead__isnull=False)
            .annotate(
                last_activity=Subquery(last_activity),
                step_scheduled=Exists(pending),
            )
            .annotate(quiet_since=Greatest("created", Coalesce("last_activity", "created")))
            .filter(step_scheduled=False, quiet_since__lt=now - role.next_step_within)
            .select_related(*POOL_RELATED)
            .order_by("quiet_since", "pk")
        )
        rows = list(tasks[:500])
        names = display_names(task.owner for task in rows if task.owner is not None)
        quiet.extend(
            QuietDeal(
                task=task,
                role=role,
                quiet_since=task.quiet_since,
                last_activity=task.last_activity,
                holder=names.get(task.owner_id, "") if task.owner_id else "",
            )
            for task in rows
        )
    return sorted(quiet, key=lambda deal: (deal.quiet_since, deal.task.pk))


# --- handover: why a task changed hands ----------------------------------------------------------


@dataclass(frozen=True)
class Handover:
    """The latest move of a task by someone else than its owner, as its receiver reads it."""

    at: datetime
    action: str
    by: str
    from_person: str
    to_person: str
    reason: str


def task_handover(*, task: Task) -> Handover | None:
    """The latest reassignment (a team lead's move, an offboarding) or return to the pool
    of ``task``, with its reason -- what the person who has it now should know."""
    event = (
        AuditEvent.objects.filter(
            task_id=task.pk,
            action__in=[AuditEvent.Action.REASSIGN, AuditEvent.Action.UNASSIGN],
        )
        .select_related("actor", "from_user", "to_user")
        .order_by("-created", "-pk")
        .first()
    )
    if event is None:
        return None
    people = [u for u in (event.actor, event.from_user, event.to_user) if u is not None]
    names = display_names(people)
    return Handover(
        at=event.created,
        action=event.action,
        by=names.get(event.actor_id, "") if event.actor_id else "",
        from_person=names.get(event.from_user_id, "") if event.from_user_id else "",
        to_person=names.get(event.to_user_id, "") if event.to_user_id else "",
        reason=event.reason,
    )


# --- an e-mail ----------------------------------------------------------------------------------


def mail_thread(*, mail: MailMessage, limit: int = 50) -> QuerySet[MailMessage]:
    """The other messages of its thread, oldest first (what a page lists beside it)."""
    return (
        MailMessage.objects.filter(thread_key=mail.thread_key)
        .exclude(pk=mail.pk)
        .only("pk", "subject", "from_name", "from_address", "sent", "direction")
        .order_by("sent", "pk")[:limit]
    )


def mail_attachments(*, mail: MailMessage) -> QuerySet[MailAttachment]:
    """Its attachments, without their content (read only to download one)."""
    return mail.attachments.defer("content").order_by("pk")
