"""The SQL behind a day's report: a fixed handful of aggregate queries, whatever the size.

Each function runs one statement over viewflow's task table (a task's terms in its pool,
such as its due time, are in its ``data``: see ``salesflow.queues.terms``) and our client,
audit and handoff tables for one day ``[start, end)`` and returns grouped rows -- never one
row per task. They are written by hand because they need what the ORM cannot say in one
query: common table expressions mapping flow nodes to stages and roles, ``FILTER``
clauses, a median (``percentile_cont`` on PostgreSQL), and "as of the end of the day"
lookups in the audit trail. Every table and column they name comes from the models
(``sqlnames.Names``), and every status and action is a parameter, so a renamed field
changes the SQL with it; ``tests/test_raw_sql.py`` runs each statement on the current schema.

Everything is computed *as of the end of the day* from timestamps, the append-only audit
trail and what never changes once written (a task's due time), never from the current
state of a row that may still change, so a backfill gives the figures the live run would
have:

* a task was open at ``end`` if it was created before it and not finished before it;
* who held it then is the ``to_user`` of its last assignment event (claim, assign,
  reassign, unassign) before ``end`` -- viewflow's ``owner`` is only the last owner;
* ages are whole seconds from the task's creation to ``end``;
* a task was stalled at ``end`` if the stalled scan marked it before ``end`` (its
  "stalled" audit event) and the mark still held then: a stall for the SLA lasts until
  the task is done; a stall for idleness ends when the task changes hands (the pools
  clear the task's marks then), so it held if no holder change came after it before
  ``end``. The task's current marks cannot say this for a past day;
* a completion that ended its deal with the lead lost counts as the outcome ``lost``: the
  lead's status is read as it is now, which is safe for this one -- "lost" is a lead's
  last status, and no stage follows the completion that set it.

The same SQL runs on PostgreSQL and SQLite (the embedded default). Where they differ --
seconds between two timestamps, a median, a JSON field, a time kept in JSON -- ``_Dialect``
says it; SQLite gets a ``sf_median`` aggregate registered on each connection
(``register_sqlite_functions``), which gives the same figures as ``percentile_cont(0.5)``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Lead
from salesflow.handoff.models import HandoffNote
from salesflow.queues import terms
from salesflow.queues.terms import StallReason
from salesflow.sqlnames import Names

from .models import AGE_BUCKET_EDGES

OPEN_STATUSES = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
# audit actions that change who holds a task
HOLDER_ACTIONS = (
    AuditEvent.Action.ASSIGN,
    AuditEvent.Action.CLAIM,
    AuditEvent.Action.REASSIGN,
    AuditEvent.Action.UNASSIGN,
)
# audit actions that finish a stage (exactly one per finished stage task)
COMPLETION_ACTIONS = (
    AuditEvent.Action.COMPLETE,
    AuditEvent.Action.HANDOFF,
    AuditEvent.Action.APPROVE,
    AuditEvent.Action.BOUNCE,
    AuditEvent.Action.REJECT,
)


@dataclass(frozen=True)
class Layout:
    """The configured stages, as the task table spells them.

    ``stages``: (viewflow task reference, node reference) of every human stage;
    ``roles``: (viewflow task reference, role code) for every role performing a stage;
    ``approvals``: node references of approval stages (their send-backs are rejections);
    ``delivery``: the viewflow task reference of the stage that delivers an order.
    """

    stages: tuple[tuple[str, str], ...]
    roles: tuple[tuple[str, str], ...]
    approvals: tuple[str, ...]
    delivery: str
    # viewflow task references of the stages whose work is not selling (side tasks, the
    # base's quality): the people's time is split by it
    non_selling: tuple[str, ...] = ()


@dataclass(frozen=True)
class Window:
    """One day of the configured stages: ``[start, end)``."""

    layout: Layout
    start: datetime
    end: datetime


@dataclass(frozen=True)
class HeldRow:
    """Open work at the end of the day of one group (``key``: role, stage or person)."""

    key: Any
    open: int
    unassigned: int
    stalled: int
    overdue: int
    oldest: int | None
    median: float | None
    buckets: tuple[int, ...]


@dataclass(frozen=True)
class CompletionRow:
    node: str
    owner_id: int | None
    action: str | None
    outcome: str | None
    tasks: int
    late: int


@dataclass(frozen=True)
class WorkTimeRow:
    """A person's time on the work they finished during the day, split into selling
    stages and non-selling ones (seconds)."""

    owner_id: int
    selling: int
    non_selling: int


@dataclass(frozen=True)
class NoteRow:
    kind: str
    from_node: str
    to_node: str
    author_id: int
    caused_by_id: int | None
    notes: int


@dataclass(frozen=True)
class LatencyRow:
    from_node: str
    to_node: str
    claimed: int
    median: float | None
    longest: int | None


# --- the database's dialect --------------------------------------------------------------


class _Dialect:
    """The few spellings PostgreSQL and SQLite do not share."""

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"

    def seconds(self, later: str, earlier: str) -> str:
        """Whole seconds from ``earlier`` to ``later`` (both truncated to the second)."""
        if self.postgres:
            return (
                f"CAST(EXTRACT(EPOCH FROM date_trunc('second', {later})"
                f" - date_trunc('second', {earlier})) AS bigint)"
            )
        return (
            f"(CAST(strftime('%%s', {later}) AS INTEGER)"
            f" - CAST(strftime('%%s', {earlier}) AS INTEGER))"
        )

    def materialized(self) -> str:
        """Compute a common table expression once, not once per reference (PostgreSQL
        would otherwise inline it, and its subqueries, into every place it is used)."""
        return "MATERIALIZED" if self.postgres else ""

    def median(self, expression: str) -> str:
        if self.postgres:
            return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {expression})"
        return f"sf_median({expression})"

    def json_text(self, column: str, key: str) -> str:
        if self.postgres:
            return f"({column} ->> '{key}')"
        return f"json_extract({column}, '$.{key}')"

    def json_time(self, column: str, key: str) -> str:
        """A time kept in a JSON column as an ISO 8601 string with its offset (a task's
        terms), comparable with the database's own timestamps: PostgreSQL casts it;
        SQLite keeps times as UTC text to the second (and more), so the string is
        rewritten that way (``strftime`` turns the offset into UTC)."""
        if self.postgres:
            return f"CAST({column} ->> '{key}' AS timestamptz)"
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', json_extract({column}, '$.{key}'))"

    def timestamp(self, value: datetime) -> Any:
        return connection.ops.adapt_datetimefield_value(value)


class _SqliteMedian:
    """``sf_median(x)`` for SQLite: the median as ``percentile_cont(0.5)`` computes it."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return float(statistics.median(self.values)) if self.values else None


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: give SQLite connections ``sf_median``."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("sf_median", 1, _SqliteMedian)


# --- building statements -----------------------------------------------------------------


def _marks(values: Iterable[Any], params: dict[str, Any], prefix: str) -> str:
    """``%(prefix0)s, %(prefix1)s, ...`` for ``values``, added to ``params``."""
    names = []
    for number, value in enumerate(values):
        params[f"{prefix}{number}"] = str(value)
        names.append(f"%({prefix}{number})s")
    return ", ".join(names) if names else "NULL"


def _values(
    name: str, columns: Sequence[str], rows: Sequence[Sequence[str]], params: dict[str, Any]
) -> str:
    """A common table expression ``name(columns)`` holding ``rows`` (as parameters)."""
    if not rows:
        nulls = ", ".join("CAST(NULL AS VARCHAR(200))" for _ in columns)
        return f"{name}({', '.join(columns)}) AS (SELECT {nulls} WHERE 1 = 0)"
    lines = []
    for number, row in enumerate(rows):
        lines.append(f"({_marks(row, params, f'{name}_{number}_')})")
    return f"{name}({', '.join(columns)}) AS (VALUES {', '.join(lines)})"


@contextmanager
def reading() -> Iterator[None]:
    """Run a day's statements in one transaction, without PostgreSQL's JIT compilation.

    The open-work statement looks up each open task's holder and stall marks by index:
    tens of thousands of cheap lookups, whose summed cost estimate passes the server's
    thresholds for compiling and optimising the plan with LLVM -- which then takes longer
    than running it (0.47 s of 0.72 s at 22,000 open tasks). None of the day's statements
    gains from it. ``SET LOCAL`` lasts until the end of the transaction (the outermost
    one, if the caller has one open)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
        yield


def _run(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def _common(window: Window) -> tuple[str, dict[str, Any]]:
    """The ``WITH`` clause every statement starts with (stages and roles) and its params:
    ``start`` and ``end`` of the day."""
    sql = _Dialect()
    params: dict[str, Any] = {
        "start": sql.timestamp(window.start),
        "end": sql.timestamp(window.end),
        "done": STATUS.DONE,
    }
    ctes = [
        _values("stage", ("flow_task", "node"), window.layout.stages, params),
        _values("role_stage", ("flow_task", "role"), window.layout.roles, params),
    ]
    return "WITH " + ",\n".join(ctes), params


# --- open work at the end of the day ---------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """Open work at the end of the day, grouped three ways."""

    roles: list[HeldRow]
    stages: list[HeldRow]  # key: the node reference
    holders: list[HeldRow]  # key: the user holding it (unassigned work is left out)


def held_work(window: Window) -> Held:
    """Open work at ``end`` per role, per stage and per holder, in one statement: the open
    tasks (who held each, whether it was stalled) are found once and grouped three times."""
    sql = _Dialect()
    with_clause, params = _common(window)
    T, E = Names(Task), Names(AuditEvent)
    holder_actions = _marks(HOLDER_ACTIONS, params, "holder_action")
    open_statuses = _marks(OPEN_STATUSES, params, "open_status")
    params["stalled"] = AuditEvent.Action.STALLED
    params["sla_stall"] = StallReason.SLA
    age = sql.seconds("%(end)s", f"t.{T.created}")
    edges = (0, *AGE_BUCKET_EDGES, None)
    buckets = []
    for low, high in zip(edges, edges[1:], strict=False):
        condition = f"o.age >= {int(low or 0)}" + (f" AND o.age < {int(high)}" if high else "")
        buckets.append(f"COUNT(*) FILTER (WHERE {condition})")
    figures = f"""COUNT(*),
            COUNT(*) FILTER (WHERE o.holder IS NULL),
            COUNT(*) FILTER (WHERE o.stalled = 1),
            COUNT(*) FILTER (WHERE o.due < %(end)s),
            MAX(o.age),
            {sql.median("o.age")},
            {", ".join(buckets)}"""
    # stalled at the end: a mark before it that still held -- one for the SLA, or one for
    # idleness with no change of hands after it (events of one moment in insertion order)
    rows = _run(
        f"""{with_clause},
        open_work AS {sql.materialized()} (
            SELECT t.{T.flow_task} AS flow_task,
                {sql.json_time(f"t.{T.data}", terms.DUE)} AS due, {age} AS age,
                (SELECT e.{E.to_user} FROM {E.table} e
                  WHERE e.{E.task} = t.{T.id} AND e.{E.action} IN ({holder_actions})
                    AND e.{E.created} < %(end)s
                  ORDER BY e.{E.created} DESC, e.{E.id} DESC LIMIT 1) AS holder,
                CASE WHEN EXISTS (
                    SELECT 1 FROM {E.table} m
                    WHERE m.{E.task} = t.{T.id} AND m.{E.action} = %(stalled)s
                      AND m.{E.created} < %(end)s
                      AND ({sql.json_text(f"m.{E.data}", "stall")} = %(sla_stall)s
                        OR NOT EXISTS (
                        SELECT 1 FROM {E.table} h
                        WHERE h.{E.task} = t.{T.id} AND h.{E.action} IN ({holder_actions})
                          AND h.{E.created} < %(end)s
                          AND (h.{E.created} > m.{E.created}
                               OR (h.{E.created} = m.{E.created} AND h.{E.id} > m.{E.id}))))
                ) THEN 1 ELSE 0 END AS stalled
            FROM {T.table} t
            JOIN stage s ON s.flow_task = t.{T.flow_task}
            WHERE t.{T.created} < %(end)s
              AND (t.{T.status} IN ({open_statuses}) OR t.{T.finished} >= %(end)s)
        )
        SELECT 'role', r.role, {figures}
        FROM open_work o JOIN role_stage r ON r.flow_task = o.flow_task
        GROUP BY r.role
        UNION ALL
        SELECT 'stage', s.node, {figures}
        FROM open_work o JOIN stage s ON s.flow_task = o.flow_task
        GROUP BY s.node
        UNION ALL
        SELECT 'holder', CAST(o.holder AS VARCHAR(20)), {figures}
        FROM open_work o WHERE o.holder IS NOT NULL
        GROUP BY o.holder""",
        params,
    )
    grouped: dict[str, list[HeldRow]] = {"role": [], "stage": [], "holder": []}
    for row in rows:
        grouped[row[0]].append(
            HeldRow(
                key=int(row[1]) if row[0] == "holder" else row[1],
                open=row[2],
                unassigned=row[3],
                stalled=row[4],
                overdue=row[5],
                oldest=None if row[6] is None else int(row[6]),
                median=None if row[7] is None else float(row[7]),
                buckets=tuple(row[8:]),
            )
        )
    return Held(roles=grouped["role"], stages=grouped["stage"], holders=grouped["holder"])


# --- what happened during the day ---------------------------------------------------------


def created(window: Window) -> dict[str, int]:
    """Stage tasks created during the day, by node reference."""
    with_clause, params = _common(window)
    T = Names(Task)
    rows = _run(
        f"""{with_clause}
        SELECT s.node, COUNT(*) FROM {T.table} t JOIN stage s ON s.flow_task = t.{T.flow_task}
        WHERE t.{T.created} >= %(start)s AND t.{T.created} < %(end)s
        GROUP BY s.node""",
        params,
    )
    return dict(rows)


def completions(window: Window) -> list[CompletionRow]:
    """Stage tasks finished during the day, by node, owner, how they were finished (the
    completion's audit action) and the outcome it recorded; ``late``: after their due.

    A completion that ended the deal with its lead lost (the client did not order) counts
    as the outcome ``lost``, whatever the stage's form called it, beside the lead statuses
    the qualification records (qualified, disqualified, nurture)."""
    sql = _Dialect()
    with_clause, params = _common(window)
    T, E, L = Names(Task), Names(AuditEvent), Names(Lead)
    actions = _marks(COMPLETION_ACTIONS, params, "action")
    params["lost"] = Lead.Status.LOST
    rows = _run(
        f"""{with_clause},
        done AS (
            SELECT s.node, t.{T.owner} AS owner_id, e.{E.action} AS action,
                CASE WHEN l.{L.status} = %(lost)s AND NOT EXISTS (
                    SELECT 1 FROM {T.table} n JOIN stage ns ON ns.flow_task = n.{T.flow_task}
                    WHERE n.{T.process} = t.{T.process} AND n.{T.id} > t.{T.id})
                THEN %(lost)s ELSE {sql.json_text(f"e.{E.data}", "outcome")} END AS outcome,
                CASE WHEN {sql.json_time(f"t.{T.data}", terms.DUE)} < t.{T.finished}
                THEN 1 ELSE 0 END AS late
            FROM {T.table} t
            JOIN stage s ON s.flow_task = t.{T.flow_task}
            LEFT JOIN {L.table} l ON l.{L.process} = t.{T.process}
            LEFT JOIN {E.table} e ON e.{E.task} = t.{T.id} AND e.{E.action} IN ({actions})
            WHERE t.{T.status} = %(done)s
              AND t.{T.finished} >= %(start)s AND t.{T.finished} < %(end)s
        )
        SELECT node, owner_id, action, outcome, COUNT(*), SUM(late)
        FROM done
        GROUP BY node, owner_id, action, outcome""",
        params,
    )
    return [CompletionRow(*row) for row in rows]


def work_time(window: Window) -> list[WorkTimeRow]:
    """Per person, the time of the stage tasks they finished during the day -- from when
    each was taken (``Task.assigned``, set by the pools on every assignment; the day's
    start if earlier) to when it was finished -- split into selling and non-selling stages
    (the figure behind "38 % of a manager's time went to non-selling work")."""
    sql = _Dialect()
    with_clause, params = _common(window)
    T = Names(Task)
    taken = f"CASE WHEN t.{T.assigned} > %(start)s THEN t.{T.assigned} ELSE %(start)s END"
    spent = sql.seconds(f"t.{T.finished}", taken)
    non_selling = (
        f"t.{T.flow_task} IN ({_marks(window.layout.non_selling, params, 'non_selling')})"
        if window.layout.non_selling
        else "1 = 0"
    )
    rows = _run(
        f"""{with_clause}
        SELECT t.{T.owner},
            SUM(CASE WHEN {non_selling} THEN 0 ELSE {spent} END),
            SUM(CASE WHEN {non_selling} THEN {spent} ELSE 0 END)
        FROM {T.table} t
        JOIN stage s ON s.flow_task = t.{T.flow_task}
        WHERE t.{T.status} = %(done)s
          AND t.{T.finished} >= %(start)s AND t.{T.finished} < %(end)s
          AND t.{T.owner} IS NOT NULL AND t.{T.assigned} IS NOT NULL
          AND t.{T.assigned} <= t.{T.finished}
        GROUP BY t.{T.owner}""",
        params,
    )
    return [
        WorkTimeRow(int(owner), int(selling or 0), int(other or 0))
        for owner, selling, other in rows
    ]


def notes(window: Window) -> list[NoteRow]:
    """Handoff and bounce notes written during the day, by transition and author.

    For a bounce, ``caused_by_id`` is whoever last completed the stage it was sent back
    to, before it was sent back: the person whose work bounced. Send-backs from approval
    stages (discount rejections) are left out."""
    with_clause, params = _common(window)
    T, N = Names(Task), Names(HandoffNote)
    params["bounce"] = HandoffNote.Kind.BOUNCE
    not_rejection = (
        f"AND NOT (n.{N.kind} = %(bounce)s AND n.{N.from_node} IN"
        f" ({_marks(window.layout.approvals, params, 'approval')}))"
        if window.layout.approvals
        else ""
    )
    rows = _run(
        f"""{with_clause}
        SELECT n.{N.kind}, n.{N.from_node}, n.{N.to_node}, n.{N.author},
            CASE WHEN n.{N.kind} = %(bounce)s THEN (
                SELECT d.{T.owner} FROM {T.table} d JOIN stage ds ON ds.flow_task = d.{T.flow_task}
                WHERE d.{T.process} = n.{N.process} AND ds.node = n.{N.to_node}
                  AND d.{T.status} = %(done)s AND d.{T.finished} <= n.{N.created}
                ORDER BY d.{T.finished} DESC, d.{T.id} DESC LIMIT 1
            ) END AS caused_by,
            COUNT(*)
        FROM {N.table} n
        WHERE n.{N.created} >= %(start)s AND n.{N.created} < %(end)s
          {not_rejection}
        GROUP BY n.{N.kind}, n.{N.from_node}, n.{N.to_node}, n.{N.author}, caused_by""",
        params,
    )
    return [NoteRow(*row) for row in rows]


def handoff_latency(window: Window) -> list[LatencyRow]:
    """The time from a handoff (the stage done, its note written) to the next role taking
    the work, for work first taken during the day, by transition.

    The work taken is the first task of the note's receiving stage created after the note;
    "taken" is the task's first claim or assignment to a person. Tasks created by a bounce
    are not handoffs and are left out (a later task of the same stage came in between)."""
    sql = _Dialect()
    with_clause, params = _common(window)
    T, N, E = Names(Task), Names(HandoffNote), Names(AuditEvent)
    taking = _marks(
        (AuditEvent.Action.ASSIGN, AuditEvent.Action.CLAIM, AuditEvent.Action.REASSIGN),
        params,
        "taking",
    )
    params["handoff"] = HandoffNote.Kind.HANDOFF
    latency = sql.seconds("f.taken", f"n.{N.created}")
    rows = _run(
        f"""{with_clause},
        first_taken AS (
            SELECT e.{E.task} AS task_id, e.{E.created} AS taken FROM {E.table} e
            WHERE e.{E.action} IN ({taking}) AND e.{E.to_user} IS NOT NULL
              AND e.{E.created} >= %(start)s AND e.{E.created} < %(end)s
              AND NOT EXISTS (
                SELECT 1 FROM {E.table} p
                WHERE p.{E.task} = e.{E.task} AND p.{E.action} IN ({taking})
                  AND p.{E.to_user} IS NOT NULL
                  AND (p.{E.created} < e.{E.created}
                       OR (p.{E.created} = e.{E.created} AND p.{E.id} < e.{E.id})))
        ),
        sample AS (
            SELECT n.{N.from_node} AS from_node, n.{N.to_node} AS to_node, {latency} AS latency
            FROM first_taken f
            JOIN {T.table} t ON t.{T.id} = f.task_id
            JOIN stage s ON s.flow_task = t.{T.flow_task}
            JOIN {N.table} n ON n.{N.id} = (
                SELECT n2.{N.id} FROM {N.table} n2
                WHERE n2.{N.process} = t.{T.process} AND n2.{N.to_node} = s.node
                  AND n2.{N.kind} = %(handoff)s AND n2.{N.created} <= t.{T.created}
                ORDER BY n2.{N.created} DESC, n2.{N.id} DESC LIMIT 1)
            WHERE NOT EXISTS (
                SELECT 1 FROM {T.table} m
                WHERE m.{T.process} = t.{T.process} AND m.{T.flow_task} = t.{T.flow_task}
                  AND m.{T.created} >= n.{N.created} AND m.{T.created} < t.{T.created})
        )
        SELECT from_node, to_node, COUNT(*), {sql.median("latency")}, MAX(latency)
        FROM sample GROUP BY from_node, to_node""",
        params,
    )
    return [
        LatencyRow(
            from_node=row[0],
            to_node=row[1],
            claimed=row[2],
            median=None if row[3] is None else float(row[3]),
            longest=None if row[4] is None else int(row[4]),
        )
        for row in rows
    ]


def first_task_created() -> datetime | None:
    """When the first stage task was created: the day the data begins."""
    first: datetime | None = (
        Task.objects.filter(flow_task_type="HUMAN")
        .order_by("created")
        .values_list("created", flat=True)
        .first()
    )
    return first
