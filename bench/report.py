"""The daily report over a year of history: time and queries to build one day's snapshot.

Fills a scratch PostgreSQL database with ``--tasks`` stage tasks: a year of deals on the
conveyor's main path (qualify, prepare order, documents, delivery, follow up), in
realistic proportions, written the way every benchmark writes synthetic rows
(``bench.data.insert_select``). Each deal has its process, client, lead and order, the
intake's start task and its stage tasks with their terms in ``Task.data``; an audit
event for every claim and completion, a handoff note at every handoff and, for one deal in
25, a bounce. One deal in twenty is lost at the order stage. One in ten is stuck at some
stage, so about 2 % of the tasks are open at the end, marked as the stalled scan would
have marked them -- for idleness when someone holds them, for their SLA when they wait in
the pool -- each mark with its "stalled" audit event; a third of the idle ones were moved
to a colleague by a team lead a day later (which ends that stall) and marked again.

Then it builds the report of ``--days-ago`` (default: yesterday, the nightly run) through
the service, as the scheduled job does, and prints the median time of ``--runs`` builds
after a warm-up and the statements one build sends.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from viewflow.workflow.fields import get_flow_ref, get_task_ref
from viewflow.workflow.models import Process, Task

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Client, Lead, Order
from salesflow.conveyor.registry import human_nodes, node_ref, start_node
from salesflow.handoff.models import HandoffNote
from salesflow.handoff.templates import BOUNCE_TEMPLATE
from salesflow.queues.terms import Priority, StallReason
from salesflow.roles import idle_limit_for_node, sla_for_node

from .base import counting_queries, median, scratch_database, timed
from .data import (
    PATH,
    insert_select,
    next_id,
    owners_of,
    require_postgresql,
    reset_sequences,
    task_terms,
)

STAFF = {"hunter": 10, "account_manager": 10, "document_clerk": 5, "expeditor": 5, "team_lead": 2}
# 85 % of the deals go all the way (5 tasks), 5 % are lost at the order stage (2), 10 %
# are stuck on the way (3 on average)
TASKS_PER_DEAL = 4.65
STAGE_GAP = timedelta(hours=8)  # from one stage's task to the next one's
WORK = timedelta(hours=6)  # from a task's creation to its completion
SCAN_EVERY = timedelta(minutes=10)  # a task is marked at the first scan after it qualifies
MOVED_AFTER = timedelta(days=1)  # a team lead moves an idle task to a colleague
# what a forward completion of a stage records as its outcome (the stage form's value)
OUTCOMES = {
    "conveyor.qualify": "qualified",
    "conveyor.prepare_order": "order",
    "conveyor.follow_up": "closed",
}
NO_ORDER = "no_order"
LOST_AT = "conveyor.prepare_order"
BOUNCED_AT = "conveyor.documents"
DELIVERED_AT = "conveyor.delivery"


def add_arguments(parser) -> None:
    parser.add_argument("--tasks", type=int, default=100_000, help="stage tasks in the history")
    parser.add_argument("--days", type=int, default=365, help="days of history")
    parser.add_argument(
        "--days-ago", type=int, default=1, help="the day to build (1: yesterday, the nightly run)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed builds after a warm-up")


def run(*, tasks: int, days: int, days_ago: int, runs: int, keepdb: bool) -> dict:
    from flows.simulation import ensure_staff
    from salesflow.reports.models import Snapshot
    from salesflow.reports.services import daily_report_build

    require_postgresql()
    with scratch_database(keep=keepdb):
        staff = {
            role: [user.pk for user in users]
            for role, users in ensure_staff("bench_", STAFF).items()
        }
        fill_seconds = timed(lambda: _fill(tasks=tasks, days=days, staff=staff))
        day = timezone.localdate() - timedelta(days=days_ago)
        daily_report_build(day=day)  # warm-up: plans, caches
        seconds, queries = [], 0
        for _ in range(runs):
            with counting_queries() as counter:
                seconds.append(timed(lambda: daily_report_build(day=day)))
            queries = len(counter)
        snapshot = Snapshot.objects.get(day=day)
        stages = list(snapshot.stages.all())
        people = snapshot.people.count()
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM viewflow_task WHERE flow_task_type = 'HUMAN'")
            (stage_tasks,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM audit_auditevent")
            (events,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM handoff_handoffnote")
            (notes,) = cursor.fetchone()
    return {
        "database": "postgresql",
        "tasks": stage_tasks,
        "audit_events": events,
        "handoff_notes": notes,
        "day": day.isoformat(),
        "fill_seconds": round(fill_seconds, 1),
        "seconds": round(median(seconds), 3),
        "slowest_seconds": round(max(seconds), 3),
        "queries": queries,
        "day_open": sum(row.open for row in stages),
        "day_stalled": sum(row.stalled for row in stages),
        "day_completed": sum(row.completed for row in stages),
        "day_lost": sum(row.outcomes.get("lost", 0) for row in stages),
        "day_people": people,
    }


def _fill(*, tasks: int, days: int, staff: dict[str, list[int]]) -> None:
    """A year of deals. Deal ``i`` starts at an even spacing over ``days``; its stage ``k``
    is created 8 h after stage ``k-1`` was, taken 1-4 h later and finished 6 h after
    creation -- unless the deal is stuck there (every tenth deal stops at stage
    ``(i / 10) % 5`` and leaves that task open: taken, or in the pool for every twentieth)
    or it is still in the future. The timeline of every stage task is worked out once, in
    a temporary table; every row of the history is then written from it by
    ``insert_select``."""
    deals = max(1, round(tasks / TASKS_PER_DEAL))
    with transaction.atomic():
        _timeline(deals=deals, days=days, staff=staff)
        _write_deals()
        _write_tasks()
        _write_events(team_lead=staff["team_lead"][0])
        _write_notes()
    reset_sequences(Process, Client, Lead, Order, Task)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum does after a bulk load


def _timeline(*, deals: int, days: int, staff: dict[str, list[int]]) -> None:
    """Two temporary tables (dropped at the commit): ``bench_path``, the main path's
    stages as the statements need them (task reference, node, next node and handoff
    template, outcome, SLA and idle limit from the roles, who performs it), and
    ``bench_stage``, one row per stage task of every deal with its times, people and stall
    marks -- ``marked`` the first (``mark``: its reason), ``moved`` when a team lead gave it
    to a colleague, ``marked_again`` after that."""
    nodes = human_nodes()
    rows, params = [], []
    for k, ref in enumerate(PATH):
        node = nodes[ref]
        handoff = node.handoff
        rows.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s::interval, %s::interval, %s::int[])")
        params += [
            k,
            get_task_ref(node),
            ref,
            node_ref(node.flow_class.instance.node(handoff.to_node)) if handoff else None,
            handoff.code if handoff else None,
            node_ref(node.bounce_node) if node.bounce_node else None,
            OUTCOMES.get(ref),
            node._owner_permission,
            sla_for_node(ref),
            idle_limit_for_node(ref),
            owners_of(ref, staff),
        ]
    now = timezone.now().replace(microsecond=0)
    lost_at, bounced_at, last = PATH.index(LOST_AT), PATH.index(BOUNCED_AT), len(PATH) - 1
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_path (k, flow_task, node, next_node, template, bounce_to,"
            " outcome, permission, sla, idle, people) ON COMMIT DROP AS VALUES " + ", ".join(rows),
            params,
        )
        cursor.execute(
            f"""CREATE TEMP TABLE bench_stage ON COMMIT DROP AS
            WITH deal AS (
                SELECT i, %(deal_base)s + i AS deal, %(t0)s + (i - 1) * %(step)s AS start,
                    i %% 10 = 0 AS stuck, (i / 10) %% {len(PATH)} AS stuck_at,
                    i %% 20 = 5 AS lost
                FROM generate_series(1, %(deals)s) AS i
            ),
            planned AS (
                SELECT d.i, d.deal, p.k, p.flow_task, p.node, p.next_node, p.template,
                    p.bounce_to, p.outcome, p.permission, p.idle,
                    %(task_base)s + (d.i - 1) * {len(PATH) + 1} + p.k + 2 AS id,
                    d.start + p.k * %(gap)s AS created,
                    d.start + p.k * %(gap)s + p.sla AS due,
                    d.stuck AND p.k = d.stuck_at AS stuck,
                    d.lost AND p.k = {lost_at} AS lost,
                    d.lost AS lost_deal,
                    p.k = {bounced_at} AND d.i %% 25 = 0 AS bounced,
                    p.people[1 + (d.i * 7 + p.k) %% cardinality(p.people)] AS owner,
                    p.people[1 + (d.i * 7 + p.k + 1) %% cardinality(p.people)] AS colleague,
                    CASE WHEN NOT (d.stuck AND p.k = d.stuck_at AND d.i %% 20 = 0)
                         THEN d.start + p.k * %(gap)s + (1 + d.i %% 4) * interval '1 hour'
                    END AS taken,
                    CASE WHEN NOT (d.stuck AND p.k = d.stuck_at)
                         THEN d.start + p.k * %(gap)s + %(work)s END AS finished,
                    CASE WHEN NOT d.stuck
                         THEN d.start + %(work)s
                              + (CASE WHEN d.lost THEN {lost_at} ELSE {last} END) * %(gap)s
                    END AS ended
                FROM deal d
                JOIN bench_path p ON p.k <= CASE WHEN d.stuck THEN d.stuck_at
                                                 WHEN d.lost THEN {lost_at} ELSE {last} END
                WHERE d.start + p.k * %(gap)s <= %(now)s
            ),
            happened AS (  -- what of it has happened by now
                SELECT p.i, p.deal, p.k, p.flow_task, p.node, p.next_node, p.template,
                    p.bounce_to, p.outcome, p.permission, p.idle, p.id, p.created, p.due,
                    p.stuck, p.lost, p.lost_deal, p.bounced, p.owner, p.colleague,
                    CASE WHEN p.taken <= %(now)s THEN p.taken END AS taken,
                    CASE WHEN p.finished <= %(now)s THEN p.finished END AS finished,
                    CASE WHEN p.ended <= %(now)s THEN p.ended END AS ended
                FROM planned p
            ),
            first_mark AS (  -- open now: idle past its idle limit, or past its due time
                SELECT h.*,
                    CASE WHEN h.finished IS NULL
                          AND LEAST(h.taken + h.idle, h.due) + %(scan)s <= %(now)s
                         THEN LEAST(h.taken + h.idle, h.due) + %(scan)s END AS marked,
                    CASE WHEN h.taken + h.idle < h.due THEN 'idle' ELSE 'sla' END AS mark
                FROM happened h
            ),
            moved AS (
                SELECT f.*,
                    CASE WHEN f.marked IS NOT NULL AND f.mark = 'idle' AND f.i %% 3 = 0
                          AND f.marked + %(moved_after)s <= %(now)s
                         THEN f.marked + %(moved_after)s END AS moved
                FROM first_mark f
            ),
            again AS (  -- after the move: late at once if past due, else idle once more
                SELECT m.*,
                    CASE WHEN m.moved IS NOT NULL
                         THEN LEAST(GREATEST(m.due, m.moved), m.moved + m.idle) + %(scan)s
                    END AS next_mark
                FROM moved m
            )
            SELECT a.*,
                CASE WHEN a.moved IS NOT NULL THEN a.colleague ELSE a.owner END AS holder,
                CASE WHEN a.next_mark <= %(now)s THEN a.next_mark END AS marked_again,
                CASE WHEN a.moved + a.idle < GREATEST(a.due, a.moved) THEN 'idle' ELSE 'sla'
                END AS mark_again
            FROM again a""",
            {
                "deals": deals,
                "deal_base": max(next_id(model) for model in (Process, Client, Lead, Order)) - 1,
                "task_base": next_id(Task) - 1,
                "now": now,
                "t0": now - timedelta(days=days),
                "step": timedelta(days=days) / deals,
                "gap": STAGE_GAP,
                "work": WORK,
                "scan": SCAN_EVERY,
                "moved_after": MOVED_AFTER,
            },
        )


def _write_deals() -> None:
    """A client, process, lead and (once the order stage is done) order per deal."""
    first = "bench_stage d WHERE d.k = 0"
    insert_select(
        Client,
        first,
        {"id": "d.deal", "name": "'Bench client ' || d.i", "status": "'customer'",
         "created": "d.created"},
    )  # fmt: skip
    insert_select(
        Process,
        first,
        {
            "id": "d.deal",
            "flow_class": ("%s", [get_flow_ref(human_nodes()[PATH[0]].flow_class)]),
            "status": "CASE WHEN d.ended IS NOT NULL THEN 'DONE' ELSE 'NEW' END",
            "created": "d.created",
            "finished": "d.ended",
        },
    )
    insert_select(
        Lead,
        first,
        {
            "id": "d.deal",
            "client_id": "d.deal",
            "process_id": "d.deal",
            "source": "(ARRAY['web_form', 'import', 'api', 'manual'])[1 + d.i %% 4]",
            "status": (
                "CASE WHEN d.finished IS NULL THEN %s WHEN d.lost_deal AND d.ended IS NOT NULL"
                " THEN %s ELSE %s END",
                [Lead.Status.NEW, Lead.Status.LOST, Lead.Status.QUALIFIED],
            ),
            "lost_reason": (
                "CASE WHEN d.lost_deal AND d.ended IS NOT NULL THEN %s ELSE '' END",
                ["a competitor was cheaper"],
            ),
            "request": "'twenty pumps for the new bottling line'",
            "created": "d.created",
        },
    )
    insert_select(
        Order,
        # delivered when its delivery stage was finished, as the stage's service records it
        "bench_stage d LEFT JOIN bench_stage v ON v.deal = d.deal AND v.node = %s"
        " WHERE d.node = %s AND d.finished IS NOT NULL AND NOT d.lost",
        {
            "id": "d.deal",
            "lead_id": "d.deal",
            "specification": "'pumps NM-100, 20 pieces'",
            "amount": "(1000 + (d.i %% 1000) * 100)::numeric",
            "discount": "((d.i %% 3) * 1.5)::numeric",
            "delivery_address": "d.i || ' Industrial Street, Kazan'",
            "created": "d.finished",
            "delivered": "v.finished",
            "delivered_on": "v.finished::date",
        },
        [DELIVERED_AT, LOST_AT],
    )


def _write_tasks() -> None:
    """The intake's start task of each deal (viewflow's table holds more than stages) and
    every stage task, with its terms -- and its stall mark, if it has one now."""
    insert_select(
        Task,
        "bench_stage d WHERE d.k = 0",
        {
            "id": "d.id - 1",
            "flow_task": ("%s", [get_task_ref(start_node("SALESFLOW_INTAKE_NODE"))]),
            "flow_task_type": "'START'",
            "status": "'DONE'",
            "created": "d.created",
            "finished": "d.created",
            "token": "'start'",
            "process_id": "d.deal",
        },
    )
    stall = "CASE WHEN d.moved IS NOT NULL THEN {again} ELSE {first} END"
    insert_select(
        Task,
        "bench_stage d",
        {
            "id": "d.id",
            "flow_task": "d.flow_task",
            "flow_task_type": "'HUMAN'",
            "status": "CASE WHEN d.finished IS NOT NULL THEN 'DONE'"
            " WHEN d.taken IS NOT NULL THEN 'ASSIGNED' ELSE 'NEW' END",
            "created": "d.created",
            "assigned": "COALESCE(d.moved, d.taken)",
            "finished": "d.finished",
            "token": "'start'",
            "owner_id": "CASE WHEN d.taken IS NOT NULL THEN d.holder END",
            "owner_permission": "d.permission",
            "process_id": "d.deal",
            "data": task_terms(
                due="d.due",
                priority=("%s", [Priority.NORMAL]),
                stalled=stall.format(again="d.marked_again", first="d.marked"),
                stalled_reason=stall.format(
                    again="CASE WHEN d.marked_again IS NOT NULL THEN d.mark_again END",
                    first="CASE WHEN d.marked IS NOT NULL THEN d.mark END",
                ),
            ),
        },
    )


def _write_events(*, team_lead: int) -> None:
    """The audit trail: every claim and completion; every stall mark, with the team
    lead's move between two marks of the same task."""
    task = {"task_id": "d.id", "process_id": "d.deal", "client_id": "d.deal"}
    insert_select(
        AuditEvent,
        "bench_stage d WHERE d.taken IS NOT NULL",
        {**task, "created": "d.taken", "action": "'claim'", "actor_id": "d.owner",
         "to_user_id": "d.owner"},
    )  # fmt: skip
    labels = [str(StallReason.SLA.label), str(StallReason.IDLE.label)]
    for when, why, holder in (
        ("d.marked", "d.mark", "d.owner"),
        ("d.marked_again", "d.mark_again", "d.colleague"),
    ):
        insert_select(
            AuditEvent,
            f"bench_stage d WHERE {when} IS NOT NULL",
            {
                **task,
                "created": when,
                "action": "'stalled'",
                "from_user_id": f"CASE WHEN d.taken IS NOT NULL THEN {holder} END",
                "reason": (f"CASE WHEN {why} = 'sla' THEN %s ELSE %s END", labels),
                "data": f"jsonb_build_object('stall', {why})",
            },
        )
    insert_select(
        AuditEvent,
        "bench_stage d WHERE d.moved IS NOT NULL",
        {
            **task,
            "created": "d.moved",
            "action": "'reassign'",
            "actor_id": ("%s", [team_lead]),
            "from_user_id": "d.owner",
            "to_user_id": "d.colleague",
            "reason": "'untouched for too long: a colleague takes it over'",
        },
    )
    insert_select(
        AuditEvent,
        "bench_stage d WHERE d.finished IS NOT NULL",
        {
            **task,
            "created": "d.finished",
            "action": "CASE WHEN d.next_node IS NOT NULL AND NOT d.lost THEN 'handoff'"
            " ELSE 'complete' END",
            "actor_id": "d.owner",
            "data": (
                "jsonb_strip_nulls(jsonb_build_object('outcome',"
                " CASE WHEN d.lost THEN %s ELSE d.outcome END))",
                [NO_ORDER],
            ),
        },
    )


def _write_notes() -> None:
    """A handoff note at every handoff (acknowledged when the next stage was taken), and a
    bounce with a question for one deal in 25, at the documents."""
    insert_select(
        HandoffNote,
        "bench_stage d LEFT JOIN bench_stage n ON n.i = d.i AND n.k = d.k + 1"
        " WHERE d.next_node IS NOT NULL AND NOT d.lost AND d.finished IS NOT NULL",
        {
            "kind": ("%s", [HandoffNote.Kind.HANDOFF]),
            "process_id": "d.deal",
            "client_id": "d.deal",
            "from_task_id": "d.id",
            "from_node": "d.node",
            "to_node": "d.next_node",
            "template": "d.template",
            "author_id": "d.owner",
            "fields": """'{"client_needs": "twenty pumps for the new bottling line"}'""",
            "created": "d.finished",
            "acknowledged": "n.taken",
            "acknowledged_by_id": "CASE WHEN n.taken IS NOT NULL THEN n.owner END",
        },
    )
    insert_select(
        HandoffNote,
        "bench_stage d WHERE d.bounced AND d.finished IS NOT NULL",
        {
            "kind": ("%s", [HandoffNote.Kind.BOUNCE]),
            "process_id": "d.deal",
            "client_id": "d.deal",
            "from_task_id": "d.id",
            "from_node": "d.node",
            "to_node": "d.bounce_to",
            "template": ("%s", [BOUNCE_TEMPLATE.code]),
            "author_id": "d.owner",
            "fields": """'{"question": "which legal entity signs?"}'""",
            "created": "d.taken + interval '30 minutes'",
        },
    )
