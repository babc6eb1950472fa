"""The daily report over a year of history: time and queries to build one day's snapshot.

Fills a scratch PostgreSQL database with ``--tasks`` stage tasks by ``INSERT ... SELECT
generate_series`` -- a year of deals on the default conveyor, in realistic proportions:
each deal's process, client, lead and order, its stage tasks (qualify, prepare order,
documents, delivery, follow up) with their queue items, an audit event for every claim and
completion, a handoff note at every handoff and a bounce now and then; one deal in ten
stuck at some stage, so about 2 % of the tasks are open at the end, many of them past their
due time and marked stalled. Then it builds the report of ``--days-ago`` (default:
yesterday, the nightly run) through the service, as the scheduled job does, and prints the
median time of ``--runs`` builds after a warm-up and the statements one build sends.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from .base import counting_queries, median, scratch_database, timed

STAGES = ("qualify", "prepare_order", "documents", "delivery", "follow_up")
SLA_HOURS = (24, 48, 24, 72, 72)
STAFF = {"hunter": 10, "account_manager": 10, "document_clerk": 5, "expeditor": 5, "team_lead": 2}
ROLE_OF_STAGE = ("hunter", "account_manager", "document_clerk", "expeditor", "account_manager")
TASKS_PER_DEAL = 4.8  # nine deals in ten go all the way (5 tasks), one stops on the way
FLOW = "flows/conveyor.ConveyorFlow"


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

    if connection.vendor != "postgresql":
        raise SystemExit("bench report fills its data with PostgreSQL's generate_series")
    with scratch_database(keep=keepdb):
        staff = ensure_staff("bench_", STAFF)
        fill_seconds = timed(lambda: _fill(tasks=tasks, days=days, staff=staff))
        day = timezone.localdate() - timedelta(days=days_ago)
        daily_report_build(day=day)  # warm-up: plans, caches
        seconds, queries = [], 0
        for _ in range(runs):
            with counting_queries() as counter:
                seconds.append(timed(lambda: daily_report_build(day=day)))
            queries = len(counter)
        snapshot = Snapshot.objects.get(day=day)
        figures = {
            "open": sum(row.open for row in snapshot.stages.all()),
            "completed": sum(row.completed for row in snapshot.stages.all()),
            "people": snapshot.people.count(),
        }
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
        "day_open": figures["open"],
        "day_completed": figures["completed"],
        "day_people": figures["people"],
    }


def _fill(*, tasks: int, days: int, staff: dict) -> None:
    """A year of deals in SQL. Deal ``i`` starts at an even spacing over ``days``; its
    stage ``k`` is created 8 h after stage ``k-1`` was, taken 1-4 h later and finished 6 h
    after creation -- unless the deal is stuck there (every tenth deal stops at stage
    ``(i / 10) % 5`` and leaves that task open) or it is still in the future."""
    deals = max(1, round(tasks / TASKS_PER_DEAL))
    now = timezone.now().replace(microsecond=0)
    people = {role: [user.pk for user in users] for role, users in staff.items()}
    params = {
        "deals": deals,
        "now": now,
        "t0": now - timedelta(days=days),
        "step": timedelta(days=days) / deals,
        "flow": FLOW,
    }
    for k, role in enumerate(ROLE_OF_STAGE):
        params[f"people{k}"] = people[role]
    owner = "(CASE d.k " + " ".join(
        f"WHEN {k} THEN (%(people{k})s::int[])[1 + (d.i * 7 + d.k) %% {len(people[role])}]"
        for k, role in enumerate(ROLE_OF_STAGE)
    ) + " END)"  # fmt: skip
    flow_task = "(%(flow)s || '.' || (ARRAY['" + "','".join(STAGES) + "'])[d.k + 1])"
    node = "('conveyor.' || (ARRAY['" + "','".join(STAGES) + "'])[d.k + 1])"
    next_node = "('conveyor.' || (ARRAY['" + "','".join(STAGES) + "'])[d.k + 2])"
    sla = "(ARRAY[" + ",".join(str(h) for h in SLA_HOURS) + "])[d.k + 1] * interval '1 hour'"
    templates = (
        "(ARRAY['hunter_to_account', 'account_to_clerk', 'clerk_to_expeditor',"
        " 'expeditor_to_account'])"
    )

    statements = [
        # every stage task a deal has had by now, with its times and state
        f"""CREATE TEMP TABLE bench_stage ON COMMIT DROP AS
        SELECT d.i, d.k, d.id, d.created, d.taken, d.finished, d.stuck, {owner} AS owner
        FROM (
            SELECT i, k, (i - 1) * 7 + k + 2 AS id,
                %(t0)s + (i - 1) * %(step)s + k * interval '8 hours' AS created,
                %(t0)s + (i - 1) * %(step)s + k * interval '8 hours'
                    + (1 + i %% 4) * interval '1 hour' AS taken,
                CASE WHEN i %% 10 = 0 AND k = (i / 10) %% 5 THEN NULL
                     ELSE %(t0)s + (i - 1) * %(step)s + k * interval '8 hours'
                          + interval '6 hours' END AS finished,
                (i %% 10 = 0 AND k = (i / 10) %% 5) AS stuck
            FROM generate_series(1, %(deals)s) AS i CROSS JOIN generate_series(0, 4) AS k
            WHERE NOT (i %% 10 = 0 AND k > (i / 10) %% 5)
              AND %(t0)s + (i - 1) * %(step)s + k * interval '8 hours' <= %(now)s
        ) d""",
        "UPDATE bench_stage SET finished = NULL WHERE finished > %(now)s",
        """UPDATE bench_stage SET taken = NULL
        WHERE taken > %(now)s OR (finished IS NULL AND i %% 20 = 0)""",
        """INSERT INTO clients_client (id, name, legal_name, tax_number, legal_address,
            bank_details, website, status, notes, created)
        SELECT i, 'Bench client ' || i, '', '', '', '', '', 'customer', '',
            %(t0)s + (i - 1) * %(step)s
        FROM generate_series(1, %(deals)s) AS i""",
        """INSERT INTO viewflow_process (id, flow_class, status, created, finished, data)
        SELECT i, %(flow)s,
            CASE WHEN EXISTS (SELECT 1 FROM bench_stage s
                              WHERE s.i = g.i AND s.k = 4 AND s.finished IS NOT NULL)
                 THEN 'DONE' ELSE 'NEW' END,
            %(t0)s + (i - 1) * %(step)s, NULL, '{}'
        FROM generate_series(1, %(deals)s) AS g(i)""",
        """INSERT INTO clients_lead (id, source, source_detail, request, status,
            disqualification_reason, created, client_id, process_id)
        SELECT i, 'web_form', '', 'pumps', 'qualified', '', %(t0)s + (i - 1) * %(step)s, i, i
        FROM generate_series(1, %(deals)s) AS i""",
        """INSERT INTO clients_order (id, specification, amount, discount,
            discount_needs_approval, terms, contract_signed, invoice_issued,
            closing_acts_prepared, delivery_address, originals_returned, created, lead_id)
        SELECT s.i, 'pumps', 1000 + (s.i %% 1000) * 100, (s.i %% 3) * 1.5, false, '',
            true, true, true, '', true, s.finished, s.i
        FROM bench_stage s WHERE s.k = 1 AND s.finished IS NOT NULL""",
        # the intake's start task of each deal (viewflow's table holds more than stages)
        """INSERT INTO viewflow_task (id, flow_task, flow_task_type, status, created,
            finished, token, process_id, data)
        SELECT (i - 1) * 7 + 1, %(flow)s || '.intake', 'START', 'DONE',
            %(t0)s + (i - 1) * %(step)s, %(t0)s + (i - 1) * %(step)s, 'start', i, '{}'
        FROM generate_series(1, %(deals)s) AS i""",
        f"""INSERT INTO viewflow_task (id, flow_task, flow_task_type, status, created,
            assigned, started, finished, token, process_id, owner_id, data)
        SELECT d.id, {flow_task}, 'HUMAN',
            CASE WHEN d.finished IS NOT NULL THEN 'DONE'
                 WHEN d.taken IS NOT NULL THEN 'ASSIGNED' ELSE 'NEW' END,
            d.created, d.taken, d.taken, d.finished, 'start', d.i,
            CASE WHEN d.taken IS NOT NULL THEN d.owner END, '{{}}'
        FROM bench_stage d""",
        f"""INSERT INTO queues_queueitem (task_id, due, priority, stalled, stalled_reason)
        SELECT d.id, d.created + {sla}, 1,
            CASE WHEN d.finished IS NULL AND d.created + {sla} + interval '1 hour' < %(now)s
                 THEN d.created + {sla} + interval '1 hour' END,
            CASE WHEN d.finished IS NULL AND d.created + {sla} + interval '1 hour' < %(now)s
                 THEN 'sla' ELSE '' END
        FROM bench_stage d""",
        # the claim of every task taken, the completion of every task finished
        """INSERT INTO audit_auditevent (created, action, reason, data, actor_id, client_id,
            process_id, task_id, to_user_id)
        SELECT d.taken, 'claim', '', '{}', d.owner, d.i, d.i, d.id, d.owner
        FROM bench_stage d WHERE d.taken IS NOT NULL""",
        """INSERT INTO audit_auditevent (created, action, reason, data, actor_id, client_id,
            process_id, task_id)
        SELECT d.finished, CASE WHEN d.k = 4 THEN 'complete' ELSE 'handoff' END, '',
            CASE WHEN d.k = 0 THEN '{"outcome": "qualified"}'
                 WHEN d.k = 4 THEN '{"outcome": "closed"}' ELSE '{}' END::jsonb,
            d.owner, d.i, d.i, d.id
        FROM bench_stage d WHERE d.finished IS NOT NULL""",
        f"""INSERT INTO handoff_handoffnote (kind, from_node, to_node, template, fields, text,
            created, acknowledged, acknowledged_by_id, author_id, client_id, from_task_id,
            process_id)
        SELECT 'handoff', {node}, {next_node}, {templates}[d.k + 1],
            '{{"client_needs": "twenty pumps for the new bottling line"}}', '', d.finished,
            n.taken, n.owner, d.owner, d.i, d.id, d.i
        FROM bench_stage d
        LEFT JOIN bench_stage n ON n.i = d.i AND n.k = d.k + 1 AND n.taken IS NOT NULL
        WHERE d.k < 4 AND d.finished IS NOT NULL""",
        # one deal in 25 had its documents sent back once, with a question
        f"""INSERT INTO handoff_handoffnote (kind, from_node, to_node, template, fields, text,
            created, author_id, client_id, from_task_id, process_id)
        SELECT 'bounce', {node}, 'conveyor.prepare_order', 'bounce',
            '{{"question": "which legal entity signs?"}}', '',
            d.taken + interval '30 minutes', d.owner, d.i, d.id, d.i
        FROM bench_stage d WHERE d.k = 2 AND d.i %% 25 = 0 AND d.finished IS NOT NULL""",
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params)
    with connection.cursor() as cursor:
        for table in ("clients_client", "viewflow_process", "clients_lead", "clients_order",
                      "viewflow_task", "audit_auditevent", "handoff_handoffnote"):  # fmt: skip
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        cursor.execute("VACUUM ANALYZE")
