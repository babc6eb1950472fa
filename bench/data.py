"""A big conveyor history, written straight into PostgreSQL for the benchmarks.

Driving a million tasks through the flow would take hours; these rows are what the flow
leaves behind -- processes, clients, leads, orders, viewflow's tasks with their terms in
the pool (``task_terms``) -- made with ``INSERT ... SELECT generate_series`` in seconds.
Every column a statement does not name gets NULL or the model field's default
(``insert_select``), so a column added to a model later does not break the benchmarks.

PostgreSQL only: the benchmarks measure the production database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models
from viewflow.workflow.fields import get_flow_ref, get_task_ref
from viewflow.workflow.models import Process, Task

from salesflow.clients.models import Client, Lead, Order
from salesflow.conveyor.registry import human_nodes
from salesflow.queues import terms
from salesflow.queues.terms import Priority
from salesflow.roles import roles_for_node, sla_for_node

# The conveyor's main path, in order.
PATH = (
    "conveyor.qualify",
    "conveyor.prepare_order",
    "conveyor.documents",
    "conveyor.delivery",
    "conveyor.follow_up",
)
SERIES = "generate_series(%s, %s) AS g(n)"

Expression = str | tuple[str, Sequence[Any]]


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit(
            "this benchmark needs PostgreSQL (DATABASE_URL=postgres://...): it measures the "
            "production database, not the embedded SQLite default"
        )


def insert_select(
    model: type[models.Model],
    rows: str,
    values: Mapping[str, Expression],
    rows_params: Sequence[Any] = (),
) -> int:
    """``INSERT INTO <model> (...) SELECT ... FROM <rows>``.

    ``values`` maps column names to SQL expressions over ``rows`` -- a string, or
    ``(sql, params)``; every other column gets NULL if it may, else its field's default.
    Returns the number of rows inserted.
    """
    columns: list[str] = []
    expressions: list[str] = []
    params: list[Any] = []
    for field in model._meta.concrete_fields:
        column = field.column
        if column in values:
            expression = values[column]
            sql, own = (expression, ()) if isinstance(expression, str) else expression
            columns.append(column)
            expressions.append(sql)
            params.extend(own)
        elif field.primary_key or field.null:
            continue
        else:
            columns.append(column)
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) "
        f"SELECT {', '.join(expressions)} FROM {rows}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *rows_params])
        return cursor.rowcount


def _parts(expression: Expression) -> tuple[str, list[Any]]:
    return (expression, []) if isinstance(expression, str) else (expression[0], [*expression[1]])


def stamp(moment: Expression) -> Expression:
    """A timestamp expression written as ``salesflow.queues.terms.stamp`` writes a time:
    UTC, ISO 8601, to the second (NULL stays NULL)."""
    sql, params = _parts(moment)
    return (
        f"to_char(({sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')",
        params,
    )


def task_terms(
    *,
    due: Expression,
    priority: Expression,
    stalled: Expression = "NULL",
    stalled_reason: Expression = "NULL",
) -> Expression:
    """``Task.data`` holding a task's terms in its pool (the keys of
    ``salesflow.queues.terms``) from SQL expressions: ``due`` and ``stalled`` timestamps,
    ``priority`` a number, ``stalled_reason`` a ``StallReason`` value. A NULL stall leaves
    its keys out, as an unmarked task has none."""
    pairs = (
        (terms.DUE, stamp(due)),
        (terms.PRIORITY, priority),
        (terms.STALLED, stamp(stalled)),
        (terms.STALLED_REASON, stalled_reason),
    )
    items: list[str] = []
    params: list[Any] = []
    for key, value in pairs:
        sql, own = _parts(value)
        items.append(f"%s, {sql}")
        params += [key, *own]
    return f"jsonb_strip_nulls(jsonb_build_object({', '.join(items)}))", params


def next_id(model: type[models.Model]) -> int:
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def reset_sequences(*tables: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        for model in tables:
            table = model._meta.db_table
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {connection.ops.quote_name(table)}))",
                [table],
            )


def owners_of(node_ref: str, staff: Mapping[str, Sequence[int]]) -> list[int]:
    """The user ids (from ``staff``: role code -> ids) who perform a stage."""
    return [pk for role in roles_for_node(node_ref) for pk in staff.get(role.code, ())]


def add_deals(
    *,
    count: int,
    staff: Mapping[str, Sequence[int]],
    open_at: str | None = None,
    assigned: bool = False,
    history: bool = True,
    days: int = 30,
) -> None:
    """``count`` deals, each with a client, a lead and (from "prepare order" on) an order;
    their stages done in turn by the staff up to ``open_at``, whose task is left open --
    in the pool, or with a member if ``assigned`` -- or to the end if ``open_at`` is None.
    Without ``history`` an open deal has only its open task (no finished ones).
    Dates spread over the last ``days`` days; every task has its terms (due by its stage's
    SLA, one in ten high priority)."""
    nodes = human_nodes()
    span = [next_id(Process), next_id(Process) + count - 1]
    age = f"(now() - make_interval(secs => g.n %% {days * 86400}))"
    finished = open_at is None
    stages = PATH if finished else PATH[: PATH.index(open_at) + 1]

    insert_select(
        Process,
        SERIES,
        {
            "id": "g.n",
            "flow_class": ("%s", [get_flow_ref(nodes[PATH[0]].flow_class)]),
            "status": ("%s", ["DONE" if finished else "NEW"]),
            "created": age,
            "finished": age if finished else "NULL",
        },
        span,
    )
    insert_select(
        Client,
        SERIES,
        {"id": "g.n", "name": "'Company ' || g.n", "status": "'customer'", "created": age},
        span,
    )
    insert_select(
        Lead,
        SERIES,
        {
            "id": "g.n",
            "client_id": "g.n",
            "process_id": "g.n",
            "source": "(ARRAY['web_form', 'import', 'api', 'manual'])[1 + g.n %% 4]",
            "status": "'qualified'",
            "request": "'twenty pumps for the new bottling line'",
            "created": age,
        },
        span,
    )
    if len(stages) > 1:
        insert_select(
            Order,
            SERIES,
            {
                "id": "g.n",
                "lead_id": "g.n",
                "amount": "(1000 + (g.n %% 997) * 1000)::numeric",
                "discount": "(g.n %% 5)::numeric",
                "delivery_address": "g.n || ' Industrial Street, Kazan'",
                "delivery_date": "(now() + make_interval(days => g.n %% 20))::date",
                "created": age,
            },
            span,
        )
    owner = "(%s::int[])[1 + g.n %% cardinality(%s::int[])]"
    for position, ref in enumerate(stages):
        is_open = not finished and ref == open_at
        if not (is_open or history or finished):
            continue
        people = owners_of(ref, staff)
        owned = not is_open or assigned

        def at(hours: int, position: int = position) -> str:
            return f"{age} + make_interval(hours => {position * 6 + hours})"

        insert_select(
            Task,
            SERIES,
            {
                "flow_task": ("%s", [get_task_ref(nodes[ref])]),
                "flow_task_type": "'HUMAN'",
                "status": ("%s", ["DONE" if not is_open else "ASSIGNED" if assigned else "NEW"]),
                "created": at(0),
                "assigned": at(1) if owned else "NULL",
                "finished": "NULL" if is_open else at(3),
                "token": "'start'",
                "owner_id": (owner, [people, people]) if owned else "NULL",
                "owner_permission": ("%s", [nodes[ref]._owner_permission]),
                "process_id": "g.n",
                "data": task_terms(
                    due=(f"{at(0)} + %s::interval", [sla_for_node(ref)]),
                    priority=(
                        "CASE WHEN g.n %% 10 = 0 THEN %s ELSE %s END",
                        [Priority.HIGH, Priority.NORMAL],
                    ),
                ),
            },
            span,
        )
    reset_sequences(Process, Client, Lead, Order, Task)


def analyze() -> None:
    """Fresh planner statistics after a bulk load (as autovacuum would give, later)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def count_tasks() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FILTER (WHERE status = 'DONE'),"
            f" COUNT(*) FILTER (WHERE status IN ('NEW', 'ASSIGNED', 'STARTED'))"
            f" FROM {connection.ops.quote_name(Task._meta.db_table)}"
        )
        finished, open_ = cursor.fetchone()
    return {"finished": finished, "open": open_}
