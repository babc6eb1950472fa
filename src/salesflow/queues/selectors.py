"""Reading the pools: what waits where, who holds what, what is stuck.

Open tasks are read from viewflow's task table through the partial indexes on open tasks
(migration 0001), with their lead, client and order read in the same query
(``POOL_RELATED``): a page of a pool costs the same few queries whatever its size and however
many tasks are finished.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.conveyor.registry import human_nodes, node_ref
from salesflow.conveyor.selectors import lead_of
from salesflow.exceptions import NotFound
from salesflow.roles import Role, get_roles, roles_for_node

from . import terms
from .models import Absence

if TYPE_CHECKING:
    from django.contrib.auth.models import User

OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
IN_WORK = (STATUS.ASSIGNED, STATUS.STARTED)
# What a row of a pool, an inbox or the console shows, read with the task.
# (a side task's or a data-quality task's process is linked to its client and the deal it
# serves by its subject: read in the same query, so their rows show the company too)
POOL_RELATED = (
    "process__lead__client",
    "process__lead__order",
    "process__subject__client",
    "process__subject__lead__client",
    "owner",
)
# The most urgent first: priority, then the nearest due date, then the oldest. The pool
# index (migration 0001) holds the open tasks in this order.
URGENCY = (f"-{terms.PRIORITY_PATH}", terms.DUE_PATH, "created", "pk")


def absent_user_ids(*, user_ids: Iterable[int], day: date) -> set[int]:
    """Which of these people are away on ``day``."""
    return set(
        Absence.objects.filter(user_id__in=list(user_ids), starts__lte=day, ends__gte=day)
        .values_list("user_id", flat=True)
        .distinct()
    )


# --- pools and inboxes -------------------------------------------------------------------


def role_task_refs(role: Role) -> list[str]:
    """viewflow's stored references of the role's stages."""
    nodes = human_nodes()
    return [get_task_ref(nodes[ref]) for ref in role.nodes]


def pool_task_refs(*, node_ref: str) -> list[str]:
    """viewflow's references of every stage in the pool ``node_ref`` belongs to: the
    stages of all the roles that perform it (what a member's load is counted over)."""
    return sorted({ref for role in roles_for_node(node_ref) for ref in role_task_refs(role)})


def pool_tasks(*, task_refs: Iterable[str]) -> QuerySet[Task]:
    """Tasks waiting in the pool of these stages, the most urgent first."""
    tasks: QuerySet[Task] = (
        Task.objects.filter(flow_task__in=list(task_refs), status=STATUS.NEW, owner__isnull=True)
        .select_related(*POOL_RELATED)
        .order_by(*URGENCY)
    )
    return tasks


def inbox_tasks(*, user: User, task_refs: Iterable[str] | None = None) -> QuerySet[Task]:
    """The user's own open tasks (of these stages, if given), the most urgent first."""
    queryset: QuerySet[Task] = Task.objects.filter(
        owner=user, status__in=OPEN, flow_task_type="HUMAN"
    )
    if task_refs is not None:
        queryset = queryset.filter(flow_task__in=list(task_refs))
    return queryset.select_related(*POOL_RELATED).order_by(*URGENCY)


def page_rows(tasks: QuerySet[Task], ids: Iterable[int]) -> list[Task]:
    """A page of a task list read in two small queries: ``ids`` are the page's, taken in
    order from ``tasks.values_list("pk")`` -- viewflow's task table alone, which the pool
    index hands over already sorted -- and these are their rows with what ``tasks``
    selects with them, in that order. (Asking for the rows in one query makes PostgreSQL
    join the whole pool before sorting it.)"""
    wanted = list(ids)
    rows = tasks.order_by().in_bulk(wanted)
    return [rows[pk] for pk in wanted if pk in rows]


def pool_counts(*, task_refs: Iterable[str], user: User, now: datetime) -> dict[str, int]:
    """The numbers on a role's tabs, in one query: waiting in the pool, the user's own,
    stalled and overdue (all open tasks of the role's stages)."""
    counts: dict[str, int] = Task.objects.filter(
        flow_task__in=list(task_refs), status__in=OPEN
    ).aggregate(
        pool=Count("pk", filter=Q(status=STATUS.NEW, owner__isnull=True)),
        mine=Count("pk", filter=Q(owner=user)),
        stalled=Count("pk", filter=Q(data__has_key=terms.STALLED)),
        overdue=Count("pk", filter=Q(**{f"{terms.DUE_PATH}__lt": terms.stamp(now)})),
    )
    return counts


# --- the team lead's console -----------------------------------------------------------


@dataclass(frozen=True)
class PoolSummary:
    role: Role
    waiting: int
    in_work: int
    stalled: int
    overdue: int
    oldest_created: datetime | None  # when the oldest open task was created

    @property
    def open(self) -> int:
        return self.waiting + self.in_work


def pool_summaries(*, now: datetime | None = None) -> list[PoolSummary]:
    """Every role's pool at a glance, in one query grouped by stage: tasks waiting, in
    work, stalled, overdue, and the age of the oldest open one."""
    now = now or timezone.now()
    rows = {
        node_ref(row["flow_task"]): row
        for row in Task.objects.filter(flow_task_type="HUMAN", status__in=OPEN)
        .values("flow_task")
        .annotate(
            waiting=Count("pk", filter=Q(owner__isnull=True)),
            in_work=Count("pk", filter=Q(owner__isnull=False)),
            stalled=Count("pk", filter=Q(data__has_key=terms.STALLED)),
            overdue=Count("pk", filter=Q(**{f"{terms.DUE_PATH}__lt": terms.stamp(now)})),
            oldest=Min("created"),
        )
    }
    summaries = []
    for role in get_roles().values():
        mine = [rows[ref] for ref in role.nodes if ref in rows]
        oldest = min((row["oldest"] for row in mine), default=None)
        summaries.append(
            PoolSummary(
                role=role,
                waiting=sum(row["waiting"] for row in mine),
                in_work=sum(row["in_work"] for row in mine),
                stalled=sum(row["stalled"] for row in mine),
                overdue=sum(row["overdue"] for row in mine),
                oldest_created=oldest,
            )
        )
    return summaries


def console_tasks() -> QuerySet[Task]:
    """Every open human task, stalled ones first, then the most urgent."""
    tasks: QuerySet[Task] = (
        Task.objects.filter(flow_task_type="HUMAN", status__in=OPEN)
        .select_related(*POOL_RELATED)
        .order_by(F(terms.STALLED_PATH).asc(nulls_last=True), *URGENCY)
    )
    return tasks


def stalled_tasks() -> QuerySet[Task]:
    """Open tasks marked stalled, the longest stalled first."""
    tasks: QuerySet[Task] = (
        Task.objects.filter(status__in=OPEN, data__has_key=terms.STALLED)
        .select_related(*POOL_RELATED)
        .order_by(terms.STALLED_PATH, "pk")
    )
    return tasks


# --- auto-assignment ---------------------------------------------------------------------


def candidates(*, node_ref: str, day: date) -> list[User]:
    """People who could be given a task of ``node_ref`` on ``day``: active members of a
    role performing it who are not away, by id (the round-robin order)."""
    codes = [role.code for role in roles_for_node(node_ref)]
    people = list(
        get_user_model()
        ._default_manager.filter(is_active=True, groups__name__in=codes)
        .distinct()
        .order_by("pk")
    )
    away = absent_user_ids(user_ids=[p.pk for p in people], day=day)
    return [person for person in people if person.pk not in away]


def open_task_counts(*, user_ids: Iterable[int], task_refs: Iterable[str]) -> dict[int, int]:
    """How many open tasks of these stages each person holds (absent: none), in one query
    over the open-task index."""
    rows = (
        Task.objects.filter(
            owner_id__in=list(user_ids), status__in=OPEN, flow_task__in=list(task_refs)
        )
        .values("owner_id")
        .annotate(count=Count("pk"))
    )
    return {row["owner_id"]: row["count"] for row in rows}


def pending_handouts(*, created_before: datetime, limit: int = 500) -> list[int]:
    """Ids of tasks waiting in their pools with a hand-out still due (``terms.HANDOUT``),
    made before ``created_before``, oldest first (the pool index: waiting tasks only)."""
    return list(
        Task.objects.filter(
            status=STATUS.NEW,
            owner__isnull=True,
            data__has_key=terms.HANDOUT,
            created__lt=created_before,
        )
        .order_by("created", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def open_tasks_of(*, user: User) -> QuerySet[Task]:
    """Everything the user holds that is not finished (for offboarding)."""
    return inbox_tasks(user=user)


def user_named(username: str) -> User:
    """The user of that name (active or not), or NotFound saying so."""
    model = get_user_model()
    try:
        return model._default_manager.get(username=username)
    except model.DoesNotExist:
        raise NotFound(_("There is no user “%(name)s”.") % {"name": username}) from None


def task_summary(task: Task, *, now: datetime) -> dict[str, Any]:
    """A task as the command line and the API print it (read with ``POOL_RELATED``)."""
    ref = node_ref(task.flow_task)
    marks = terms.terms_of(task)
    lead = lead_of(task)
    return {
        "id": task.pk,
        "process": task.process_id,
        "node": ref,
        "stage": str(task.flow_task.task_title),
        "role": ", ".join(role.code for role in roles_for_node(ref)),
        "owner": task.owner.get_username() if task.owner_id else None,
        "status": task.status,
        "company": lead.client.name if lead else None,
        "age_hours": round((now - task.created).total_seconds() / 3600, 1),
        "due": marks.due.isoformat() if marks.due else None,
        "priority": marks.priority_label,
        "stalled": marks.stalled.isoformat() if marks.stalled else None,
        "stalled_reason": marks.stalled_reason,
    }
