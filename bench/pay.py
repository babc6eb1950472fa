"""A month's pay statements for everyone over a year of history: time and queries.

Fills a scratch PostgreSQL database with ``--tasks`` stage tasks exactly as the daily
report's benchmark does (``bench.report``: a year of deals on the conveyor's main path,
with their clients, leads, orders, audit events, handoff notes, bounces, lost and stuck
deals), then computes the statement of the last full month (``--months-ago``) for
everyone through the selector the pages, the API and the CLI use, and prints the median
time of ``--runs`` computations after a warm-up and the statements one sends.
"""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.utils import timezone

from .base import counting_queries, median, scratch_database, timed
from .data import require_postgresql


def add_arguments(parser) -> None:
    parser.add_argument("--tasks", type=int, default=100_000, help="stage tasks in the history")
    parser.add_argument("--days", type=int, default=365, help="days of history")
    parser.add_argument(
        "--months-ago", type=int, default=1, help="the month to compute (1: the last full one)"
    )
    parser.add_argument("--runs", type=int, default=3, help="timed computations after a warm-up")


def _month(months_ago: int) -> date:
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - months_ago
    return date(index // 12, index % 12 + 1, 1)


def run(*, tasks: int, days: int, months_ago: int, runs: int, keepdb: bool) -> dict:
    from viewflow.workflow.models import Task

    from flows.simulation import ensure_staff
    from salesflow.pay.credit import CREDIT
    from salesflow.pay.selectors import statement

    from .report import STAFF, _fill

    require_postgresql()
    with scratch_database(keep=keepdb):
        staff = {
            role: [user.pk for user in users]
            for role, users in ensure_staff("bench_", STAFF).items()
        }
        if keepdb and Task.objects.exists():  # filled by an earlier --keepdb run
            fill_seconds = 0.0
        else:
            fill_seconds = timed(lambda: _fill(tasks=tasks, days=days, staff=staff))
        month = _month(months_ago)
        statement(month=month)  # warm-up: plans, roles, caches
        seconds, queries = [], 0
        for _ in range(runs):
            with counting_queries() as counter:
                seconds.append(timed(lambda: statement(month=month)))
            queries = len(counter)
        result = statement(month=month)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM viewflow_task WHERE flow_task_type = 'HUMAN'")
            (stage_tasks,) = cursor.fetchone()
    return {
        "database": "postgresql",
        "tasks": stage_tasks,
        "month": f"{month:%Y-%m}",
        "fill_seconds": round(fill_seconds, 1),
        "seconds": round(median(seconds), 3),
        "slowest_seconds": round(max(seconds), 3),
        "queries": queries,
        "deals": len({line.process_id for line in result.lines if line.process_id}),
        "lines": len(result.lines),
        "people": len(result.totals),
        "revenue": str(result.revenue),
        "credited": str(result.credited),
        "total": str(result.total),
        "credit_lines": len([line for line in result.lines if line.kind == CREDIT]),
    }
