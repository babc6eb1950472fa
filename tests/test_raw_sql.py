"""Every statement the engine writes by hand runs against the current schema.

The pools' rules, the pending note, the intake's locks and the daily report are SQL built
from the models' names (``salesflow.sqlnames``); the locked read has its own test
(``test_locking``). ``makemigrations --check`` cannot see a column these statements name,
so each is run here -- on an empty database, every branch of it -- and a rename that the
SQL did not follow fails here, not on a person's claim. The pool page's query must use the
pool's partial index (queues migration 0001), or a pool would slow down as the finished
tasks pile up.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from viewflow.workflow.models import Task

from salesflow.clients.selectors import LeadKeys
from salesflow.conveyor.registry import human_nodes
from salesflow.handoff.selectors import pending_note_expressions
from salesflow.intake.services import _lock_keys
from salesflow.queues import rules
from salesflow.queues.selectors import URGENCY, pool_tasks
from salesflow.reports import queries
from salesflow.reports.layout import day_bounds, report_layout

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def run(**expressions) -> list:
    """Run annotations on the task table (no rows: the statement is planned and run)."""
    return list(Task.objects.filter(pk=0).annotate(**expressions).values(*expressions))


@pytest.mark.parametrize("node", sorted(human_nodes()))
@pytest.mark.parametrize("with_wip", [True, False])
def test_the_assignment_rules_sql_runs_for_every_stage(node, with_wip):
    user = UserFactory()
    wip = rules.WipRule(limit=3, task_refs=("a", "b")) if with_wip else None
    expressions = rules.assignment_expressions(process_id=0, node_ref=node, user=user, wip=wip)
    assert ("sod_load" in expressions) is with_wip
    assert run(**expressions) == []


def test_the_pending_note_sql_runs():
    assert run(**pending_note_expressions(process_id=0, node_ref="conveyor.qualify")) == []


def test_the_intakes_lock_runs():
    with transaction.atomic():
        _lock_keys(LeadKeys.of(company="Volga", tax_number="7707083893", phone="+79001234567"))


def test_every_statement_of_the_daily_report_runs():
    start, end = day_bounds(date.today() - timedelta(days=1))
    window = queries.Window(layout=report_layout(), start=start, end=end)
    with queries.reading():
        held = queries.held_work(window)
        assert (held.roles, held.stages, held.holders) == ([], [], [])
        assert queries.created(window) == {}
        assert queries.completions(window) == []
        assert queries.notes(window) == []
        assert queries.handoff_latency(window) == []


@pytest.fixture
def a_busy_task_table():
    """A task table with some waiting and many finished tasks at every stage, analysed: the
    planner chooses as it would in a company's database, not as for an empty table."""
    from viewflow.workflow.fields import get_task_ref
    from viewflow.workflow.models import Process
    from viewflow.workflow.status import STATUS

    process = Process.objects.create(flow_class="flows/conveyor.ConveyorFlow")
    rows = []
    for node in human_nodes().values():
        for n in range(2000):
            status = STATUS.NEW if n < 100 else STATUS.DONE
            data = {"sf_priority": n % 4, "sf_due": f"2026-01-{1 + n % 28:02d}T10:00:00+00:00"}
            rows.append(
                Task(
                    process=process,
                    flow_task=get_task_ref(node),
                    flow_task_type="HUMAN",
                    status=status,
                    data=data,
                )  # fmt: skip
            )
    Task.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Task._meta.db_table}")


@pytest.mark.parametrize("node", sorted(human_nodes()))
def test_a_pool_page_reads_the_pools_partial_index(node, a_busy_task_table):
    """The ids of a page come from the index holding only the waiting tasks, in the pool's
    order (stage, priority, due, created): no sort, whatever the number of finished tasks.
    With sorting switched off, a plan still sorts only if no index gives that order -- an
    index whose expressions no longer match the query's (``queues/migrations/0001``)."""
    from viewflow.workflow.fields import get_task_ref

    refs = [get_task_ref(human_nodes()[node])]
    ids = pool_tasks(task_refs=refs).order_by(*URGENCY).values_list("pk", flat=True)[:25]
    sql, params = ids.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "sf_task_pool" in plan, plan
    assert "Sort" not in plan, plan


def test_the_grids_counts_read_their_partial_indexes(a_busy_task_table):
    """within_sla's late tasks come from the partial index of targets migration 0002 and
    the qualifications from ``audit_qualified``: with scans of whole tables switched off,
    each plan still names its index -- a query whose expressions stopped matching an
    index's predicate (the due time's ``salesflow_instant``, the outcome's JSON) would not."""
    from django.test.utils import CaptureQueriesContext

    from salesflow.targets.measures import compute_all

    user = UserFactory()
    start, end = timezone.now() - timedelta(days=30), timezone.now()
    with CaptureQueriesContext(connection) as captured:
        compute_all(dict.fromkeys(("within_sla", "qualified_to_order"), [user.pk]), start, end)
    plans = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN {query['sql']}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    everything = "\n".join(plans)
    for index in ("sf_task_done_late", "audit_qualified"):
        assert index in everything, (index, everything)
