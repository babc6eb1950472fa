"""The team lead's scorecard grid and a month's funnel over a history of stage tasks.

Fills a scratch PostgreSQL database with ``--tasks`` stage tasks exactly as ``bench
report`` does (``bench.report._fill``: deals on the conveyor's main path with their audit
trail, handoff notes, orders, bounces, lost and stuck deals), for a staff of ``--people``
(hunters and account managers, who hold the weekly and monthly targets, plus clerks,
expeditors and team leads) and ``--activities`` calls, meetings and proposals spread over
the history among the hunters and account managers. The history is ``--days`` long
(default: ``TASKS_A_DAY``), which sets how busy the measured month is
(``month_stage_tasks`` in the output). Then it times, after a warm-up, the
median of ``--runs``: the team grid for the last whole month (``team_grid``, what the
team lead's page and the API call) and the funnel of that month (``funnel``), and counts
the statements each sends.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .base import counting_queries, median, scratch_database, timed
from .data import require_postgresql

# What 50 people finish in a day -- 20 stage tasks each, a busy team: by default the
# history is as long as the tasks take at that rate, so a month holds what such a team
# does in a month (~30,000) whatever the history's size. ``--days 365`` at 1,000,000
# tasks is the stress case: ~80,000 a month, 80 a person a working day.
TASKS_A_DAY = 1_000


def add_arguments(parser) -> None:
    parser.add_argument("--tasks", type=int, default=100_000, help="stage tasks in the history")
    parser.add_argument("--activities", type=int, default=100_000, help="activities")
    parser.add_argument("--people", type=int, default=50, help="people on the team grid")
    parser.add_argument(
        "--days",
        type=int,
        default=None,
        help=f"days of history (default: the tasks at {TASKS_A_DAY:,} a day, at least 62)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs after a warm-up")


def run(
    *, tasks: int, activities: int, people: int, days: int | None, runs: int, keepdb: bool
) -> dict:
    from viewflow.workflow.models import Task

    from flows.simulation import ensure_staff
    from salesflow.targets.funnel import funnel
    from salesflow.targets.periods import MONTH, period_containing
    from salesflow.targets.selectors import team, team_grid

    from .report import _fill

    require_postgresql()
    days = days or max(62, tasks // TASKS_A_DAY)
    sellers = max(2, people - 10)  # clerks and expeditors hold monthly targets too
    staff_spec = {
        "hunter": sellers // 2,
        "account_manager": sellers - sellers // 2,
        "document_clerk": 5,
        "expeditor": 5,
        "team_lead": 2,
    }
    with scratch_database(keep=keepdb):
        staff = {
            role: [user.pk for user in users]
            for role, users in ensure_staff("bench_", staff_spec).items()
        }
        fill_seconds = 0.0
        if not (keepdb and Task.objects.exists()):  # else filled by an earlier --keepdb run
            fill_seconds += timed(lambda: _fill(tasks=tasks, days=days, staff=staff))
            fill_seconds += timed(
                lambda: _activities(
                    count=activities,
                    days=days,
                    authors=staff["hunter"] + staff["account_manager"],
                )
            )
        month = period_containing(MONTH, timezone.localdate()).previous()
        grid_people = team(kind=MONTH)
        team_grid(period=month, people=grid_people)  # warm-up
        grid_ms, grid_queries = [], 0
        for _ in range(runs):
            with counting_queries() as counter:
                grid_ms.append(timed(lambda: team_grid(period=month)) * 1000)
            grid_queries = len(counter)
        funnel(first=month.first, last=month.last)  # warm-up
        funnel_seconds, funnel_queries = [], 0
        for _ in range(runs):
            with counting_queries() as counter:
                funnel_seconds.append(timed(lambda: funnel(first=month.first, last=month.last)))
            funnel_queries = len(counter)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM viewflow_task WHERE flow_task_type = 'HUMAN'")
            (stage_tasks,) = cursor.fetchone()
            cursor.execute("SELECT count(*) FROM activities_activity")
            (activity_rows,) = cursor.fetchone()
        # what the grid and the funnel read is the month, not the history: its volume
        month_tasks = Task.objects.filter(
            flow_task_type="HUMAN", finished__gte=month.start, finished__lt=month.end
        ).count()
    return {
        "database": "postgresql",
        "days": days,
        "tasks": stage_tasks,
        "activities": activity_rows,
        "people": len(grid_people),
        "month": month.label,
        "month_stage_tasks": month_tasks,
        "fill_seconds": round(fill_seconds, 1),
        "team_grid_ms": round(median(grid_ms), 1),
        "team_grid_slowest_ms": round(max(grid_ms), 1),
        "funnel_seconds": round(median(funnel_seconds), 3),
        "queries": {"team_grid": grid_queries, "funnel": funnel_queries},
    }


def _activities(*, count: int, days: int, authors: list[int]) -> None:
    """``count`` calls, meetings and proposals, one every ``days / count``, by the authors
    in turn, about the clients the deals made (in turn), in one INSERT ... SELECT."""
    if count <= 0:
        return
    span = timedelta(days=days).total_seconds()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO activities_activity (kind, direction, source, client_id, author_id,
                occurred, created, subject, text, outcome, counterpart, next_step)
            SELECT (ARRAY['call', 'call', 'meeting', 'proposal'])[1 + i %% 4], 'out', 'person',
                (SELECT min(id) FROM clients_client) + i %% (SELECT count(*) FROM clients_client),
                (%(authors)s::bigint[])[1 + i %% %(n)s],
                now() - make_interval(secs => %(span)s * (%(count)s - i) / %(count)s),
                now(), '', 'bench', '', '', ''
            FROM generate_series(1, %(count)s) AS i
            """,
            {"authors": authors, "n": len(authors), "span": span, "count": count},
        )
        cursor.execute("ANALYZE activities_activity")
