"""Who may be given a task: THE rule (``assignment_refusal``), the facts it needs, and the
lock that keeps one person's work-in-progress limit under concurrency.

Every way a task reaches a person -- a claim, "take the next task", a pool's hand-out, a
team lead's move, offboarding to a colleague -- asks ``assignment_refusal``. Its facts
about the person and the task (separation of duties, the pending note's author, the
person's load) are asked in one query, as SQL expressions read with the task: they run on
every claim, for every candidate of claim-next and for every assign button. Written as
ORM subqueries they cost about 2.5 ms of Python per call to build against 0.3 ms to run
(docs/benchmarks.md), so the text is built once per stage from the models' own table and
column names, with statuses as parameters; ``tests/test_raw_sql.py`` runs every statement
against the current schema, so a renamed column fails a test, not a claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from django.db.models import BooleanField, CharField, IntegerField
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from viewflow.workflow.fields import get_task_ref, import_task_by_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.clients.models import Lead, ProcessSubject
from salesflow.conveyor.registry import human_nodes, node_ref
from salesflow.conveyor.registry import node_ref as registry_node_ref
from salesflow.conveyor.stage import is_stage
from salesflow.exceptions import (
    ClaimConflict,
    NotPermitted,
    SalesflowError,
    SeparationOfDutiesViolated,
    WipLimitReached,
)
from salesflow.handoff.models import HandoffNote
from salesflow.people import display_name
from salesflow.roles import get_roles, roles_for_node, user_role_codes
from salesflow.sqlnames import columns, table

from . import terms
from .selectors import OPEN, absent_user_ids

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# --- the facts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WipRule:
    """How many open tasks of which stages a person may hold at once."""

    limit: int
    task_refs: tuple[str, ...]  # viewflow's stored references of the stages that count


def wip_rule(*, user: User, node_ref: str) -> WipRule | None:
    """The work-in-progress limit that applies to ``user`` taking a task of ``node_ref``:
    the roles performing the stage that the user holds, the most generous of their limits,
    counting open tasks of all those roles' stages. None when one of them has no limit."""
    codes = user_role_codes(user)
    roles = [role for role in roles_for_node(node_ref) if role.code in codes]
    if not roles or any(role.pool.wip_limit is None for role in roles):
        return None
    nodes = human_nodes()
    refs = sorted({get_task_ref(nodes[ref]) for role in roles for ref in role.nodes})
    return WipRule(limit=max(role.pool.wip_limit or 0 for role in roles), task_refs=tuple(refs))


@dataclass(frozen=True)
class AssignmentFacts:
    """What the assignment rules need to know about a user and a task, asked in one query."""

    client_id: int | None
    barred_by: str | None  # task reference of a node the user performed that bars them
    wrote_pending_note: bool  # they wrote the note waiting for this stage
    load: int | None  # their open tasks counted by the WIP rule (None: no rule applies)
    wip: WipRule | None

    @classmethod
    def of(cls, task: Task, wip: WipRule | None) -> AssignmentFacts:
        """Read from a task annotated with ``assignment_expressions``."""
        return cls(
            client_id=task.sod_client_id,
            barred_by=task.sod_barred_by,
            wrote_pending_note=bool(task.sod_wrote_pending_note),
            load=getattr(task, "sod_load", None),
            wip=wip,
        )


@dataclass(frozen=True)
class _RuleParams:
    """A rule's parameters: the stages it names, then the process id, so many times."""

    task_refs: tuple[str, ...]
    process_ids: int


@cache
def _separation_sql(node_ref: str) -> tuple[tuple[str, str, str], tuple[_RuleParams, ...]]:
    """SQL answering AssignmentFacts for one stage, and per rule the node refs it names and
    how many times the process id follows them: built once per stage from the rules
    declared with the roles that perform it. The client of a process is its lead's, or
    its subject's (``clients.ProcessSubject``: a process serving a deal or a client)."""
    task, lead, subject, note = table(Task), table(Lead), table(ProcessSubject), table(HandoffNote)
    t_node, t_owner, t_status, t_process = columns(Task, "flow_task", "owner", "status", "process")
    l_process, l_client = columns(Lead, "process", "client")
    s_process, s_client = columns(ProcessSubject, "process", "client")
    n_process, n_to, n_ack, n_author = columns(
        HandoffNote, "process", "to_node", "acknowledged_by", "author"
    )
    # the client of the process given as a parameter (twice)
    client = (
        f"COALESCE((SELECT l.{l_client} FROM {lead} l WHERE l.{l_process} = %s),"
        f" (SELECT s.{s_client} FROM {subject} s WHERE s.{s_process} = %s))"
    )
    nodes = human_nodes()
    clauses, rules = [], []
    for not_after, scope in _rules_for(node_ref):
        refs = tuple(get_task_ref(nodes[ref]) for ref in not_after)
        marks = ", ".join(["%s"] * len(refs))
        if scope == "process":
            clauses.append(f"(d.{t_node} IN ({marks}) AND d.{t_process} = %s)")
            rules.append(_RuleParams(refs, 1))
        else:  # the client's processes: its deals, and what serves them or it
            clauses.append(
                f"(d.{t_node} IN ({marks}) AND d.{t_process} IN ("
                f"SELECT l3.{l_process} FROM {lead} l3 WHERE l3.{l_client} = {client}"
                f" UNION ALL SELECT s3.{s_process} FROM {subject} s3"
                f" WHERE s3.{s_client} = {client}))"
            )
            rules.append(_RuleParams(refs, 4))
    wrote = (
        f"EXISTS (SELECT 1 FROM {note} n WHERE n.{n_process} = %s AND n.{n_to} = %s"
        f" AND n.{n_ack} IS NULL AND n.{n_author} = %s)"
    )
    barred = (
        f"(SELECT d.{t_node} FROM {task} d WHERE d.{t_owner} = %s AND d.{t_status} = %s"
        f" AND ({' OR '.join(clauses)}) LIMIT 1)"
        if clauses
        else "(SELECT NULL WHERE %s IS NULL AND %s IS NULL)"
    )
    return (f"({client})", wrote, barred), tuple(rules)


def _rules_for(node_ref: str) -> list[tuple[tuple[str, ...], str]]:
    """The separation-of-duties rules that bar people from ``node_ref``, as (nodes whose
    performer is barred, scope):

    * the rules declared with the roles performing it (``not_after``);
    * the same rules read the other way: a rule says "not the same person", so whoever
      performed the declaring role's stages may not take a node its ``not_after`` names
      (the hunter who qualified a client may not be its account manager -- and the
      client's account manager may not qualify it);
    * an approval stage (``.Approval()``): whoever performed the stage it sends back to --
      where the discount was set -- may not approve it, whatever the role files say: a
      person's own discount never approves itself.
    """
    rules = [
        (rule.not_after, rule.scope)
        for role in roles_for_node(node_ref)
        for rule in role.separation_of_duties
    ]
    for role in get_roles().values():
        for rule in role.separation_of_duties:
            if node_ref in rule.not_after and node_ref not in role.nodes and role.nodes:
                rules.append((role.nodes, rule.scope))
    node = human_nodes()[node_ref]
    if getattr(node, "is_approval", False) and node.bounce_node is not None:
        rules.append(((registry_node_ref(node.bounce_node),), "process"))
    return rules


def _load_sql(rule: WipRule) -> str:
    task = table(Task)
    owner, status, node = columns(Task, "owner", "status", "flow_task")
    return (
        f"(SELECT COUNT(*) FROM {task} w WHERE w.{owner} = %s"
        f" AND w.{status} IN ({', '.join(['%s'] * len(OPEN))})"
        f" AND w.{node} IN ({', '.join(['%s'] * len(rule.task_refs))}))"
    )


def assignment_expressions(
    *, process_id: int, node_ref: str, user: User, wip: WipRule | None
) -> dict[str, RawSQL]:
    """Annotations (``sod_*``) answering AssignmentFacts, to read with a task."""
    (client, wrote, barred), rules = _separation_sql(node_ref)
    barred_params: list[Any] = [user.pk, STATUS.DONE]
    for rule in rules:
        barred_params.extend(rule.task_refs)
        barred_params.extend([process_id] * rule.process_ids)
    expressions = {
        "sod_client_id": RawSQL(client, [process_id, process_id], output_field=IntegerField()),
        "sod_wrote_pending_note": RawSQL(
            wrote, [process_id, node_ref, user.pk], output_field=BooleanField()
        ),
        "sod_barred_by": RawSQL(barred, barred_params, output_field=CharField()),
    }
    if wip is not None:
        expressions["sod_load"] = RawSQL(
            _load_sql(wip), [user.pk, *OPEN, *wip.task_refs], output_field=IntegerField()
        )
    return expressions


def assignment_facts(*, task: Task, node_ref: str, user: User) -> AssignmentFacts:
    """AssignmentFacts in one query, for a task read without them."""
    wip = wip_rule(user=user, node_ref=node_ref)
    expressions = assignment_expressions(
        process_id=task.process_id, node_ref=node_ref, user=user, wip=wip
    )
    row = Task.objects.filter(pk=task.pk).annotate(**expressions).values(*expressions).get()
    return AssignmentFacts(
        client_id=row["sod_client_id"],
        barred_by=row["sod_barred_by"],
        wrote_pending_note=bool(row["sod_wrote_pending_note"]),
        load=row.get("sod_load"),
        wip=wip,
    )


# --- the rule ------------------------------------------------------------------------------


class _Named(dict[str, object]):
    """The ``%(user)s``/``%(stage)s`` of a refusal: the person's shown name is read (one
    query) only when a message is actually formatted, not on every allowed assignment."""

    def __init__(self, user: Any, stage: object) -> None:
        super().__init__(stage=stage)
        self._user = user

    def __missing__(self, key: str) -> object:
        if key != "user":
            raise KeyError(key)
        self["user"] = display_name(self._user)
        return self["user"]


def assignment_refusal(
    *,
    task: Task,
    user: User,
    check_owner: bool = True,
    by_other: bool = False,
    facts: AssignmentFacts | None = None,
) -> SalesflowError | None:
    """Why ``user`` may not be given ``task``, or None if they may.

    Checks, in order: an active user; a task still waiting in its pool (``check_owner``);
    the stage's permission; for a hand-out by someone else (``by_other``: a team lead, the
    distribution policy), that the user is not away today; the separation-of-duties rules
    declared with the roles performing the stage; that the user did not write the handoff
    note waiting for this stage; and their work-in-progress limit. The rules' facts are
    asked in one query (``assignment_facts``) unless given.
    """
    node = task.flow_task
    if not is_stage(node):
        return NotPermitted(_("Task #%(id)s is not a stage people work on.") % {"id": task.pk})
    name = _Named(user, node.task_title)
    if not user.is_authenticated or not user.is_active:
        if by_other:
            return NotPermitted(_("%(user)s is deactivated and cannot be given work.") % name)
        return NotPermitted(_("Only active, signed-in users can take tasks."))
    if check_owner and (task.status != STATUS.NEW or task.owner_id is not None):
        return ClaimConflict(
            _("Task #%(id)s is no longer waiting in its pool: someone has taken it.")
            % {"id": task.pk}
        )
    if task.owner_permission and not user.has_perm(task.owner_permission):
        if by_other:
            return NotPermitted(_("%(user)s has no role that performs “%(stage)s”.") % name)
        return NotPermitted(_("Your roles do not include the stage “%(stage)s”.") % name)
    if (task.data or {}).get(terms.NOT_FOR) == user.pk:
        if by_other:
            message = _("“%(stage)s” is about %(user)s: a colleague must take it.")
        else:
            message = _("“%(stage)s” is about you: a colleague must take it.")
        return SeparationOfDutiesViolated(message % name)
    if by_other and absent_user_ids(user_ids=[user.pk], day=timezone.localdate()):
        return NotPermitted(_("%(user)s is away today and cannot be given work.") % name)
    if facts is None:
        facts = assignment_facts(task=task, node_ref=node_ref(node), user=user)
    if facts.barred_by:
        done = name  # returned below: filled in place, still lazy
        done["done"] = import_task_by_ref(facts.barred_by).task_title
        if by_other:
            message = _(
                "Separation of duties: %(user)s performed “%(done)s” for this client, so a "
                "colleague must take “%(stage)s”."
            )
        else:
            message = _(
                "Separation of duties: you performed “%(done)s” for this client, so a "
                "colleague must take “%(stage)s”."
            )
        return SeparationOfDutiesViolated(message % done)
    if facts.wrote_pending_note:
        if by_other:
            message = _(
                "%(user)s wrote the handoff note for “%(stage)s”; a colleague must receive it."
            )
        else:
            message = _("You wrote the handoff note for “%(stage)s”; a colleague must receive it.")
        return SeparationOfDutiesViolated(message % name)
    if facts.wip is not None and facts.load is not None and facts.load >= facts.wip.limit:
        limit = name
        limit["limit"] = facts.wip.limit
        if by_other:
            message = _("%(user)s already holds %(limit)d open tasks, the most their role allows.")
        else:
            message = _(
                "You already hold %(limit)d open tasks, the most your role allows: finish "
                "or hand one back first."
            )
        return WipLimitReached(message % limit)
    return None


# --- the rules again, when the work is done ------------------------------------------------


def completion_expressions(*, task: Task, user: User) -> dict[str, RawSQL]:
    """Annotations for ``completion_refusal``, to read with the task under its lock (no
    query of their own)."""
    return assignment_expressions(
        process_id=task.process_id, node_ref=node_ref(task.flow_task), user=user, wip=None
    )


def completion_refusal(*, task: Task, user: User) -> SalesflowError | None:
    """Why ``user`` may not complete (or send back) ``task`` they hold, or None: the
    separation-of-duties rules, asked again at completion -- they may have performed a
    barred stage of the client since they took it (a second deal, a colleague's task
    reassigned to them), or the rules changed. ``task`` was read with
    ``completion_expressions``."""
    if (task.data or {}).get(terms.NOT_FOR) == user.pk:
        return SeparationOfDutiesViolated(
            _("“%(stage)s” is about you: a colleague must complete it. Give it back to the pool.")
            % {"stage": task.flow_task.task_title}
        )
    facts = AssignmentFacts.of(task, None)
    if facts.barred_by:
        done = import_task_by_ref(facts.barred_by).task_title
        return SeparationOfDutiesViolated(
            _(
                "Separation of duties: you performed “%(done)s” for this client, so a "
                "colleague must complete “%(stage)s”. Give it back to the pool."
            )
            % {"done": done, "stage": task.flow_task.task_title}
        )
    return None
