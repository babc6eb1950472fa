"""The measures a target may name: what the engine computes, per person and period, from
what it already records -- never from a figure someone typed.

Each measure is computed for a whole set of people at once, in one or two grouped queries
whatever the number of people or the size of the history (the team grid and the pay plans
call it for everyone), and gives ``{user id: value}`` (people with nothing get 0):

Standard -- the activity norms:

* ``calls``, ``meetings``, ``proposals``: activities of that kind the person is the author
  of, by when they happened (``Activity.occurred``).
* ``card_completeness``: of the clients on whose deals the person finished a stage in the
  period, the percentage whose card is complete (legal name, tax number, and a contact
  with both a phone and an e-mail) as the card is now.
* ``notes_sent_back``: handoff notes of theirs the next stage sent back (bounces of the
  work the person handed off: the last handoff in the deal before the bounce). Lower is
  better.

KPI -- the results:

* ``revenue_delivered``: the total (after discount) of the orders delivered in the period
  on deals the person finished a stage of. Everyone who carried a deal is credited with
  the whole of it here; how pay splits it is the pay plans' business.
* ``qualified_to_order``: of the deals the person qualified in the period, the percentage
  that have an order now.
* ``within_sla``: of the stage tasks the person finished in the period, the percentage
  finished by their due time.
* ``reactivated_reordered``: reactivated clients (a reactivation deal) whose order was
  delivered in the period, on deals the person finished a stage of.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DateTimeField, Exists, Func, OuterRef, Q
from django.db.models.fields.json import KeyTextTransform
from django.utils.dateparse import parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.activities.models import Activity
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Contact, Lead, Order, money, total_kopecks
from salesflow.queues import terms
from salesflow.sqlnames import Names

STANDARD, KPI = "standard", "kpi"
HIGHER, LOWER = "higher", "lower"
COUNT, PERCENT, MONEY = "count", "percent", "money"
# audit actions that finish a stage and pass the deal on (a bounce sends it back)
CARRIED = (AuditEvent.Action.COMPLETE, AuditEvent.Action.HANDOFF, AuditEvent.Action.APPROVE)
# every way a stage task is finished
FINISHED = (*CARRIED, AuditEvent.Action.BOUNCE, AuditEvent.Action.REJECT)
QUALIFIED = "qualified"
# the activity measures and the kind of activity each counts
ACTIVITY_KINDS = {
    "calls": Activity.Kind.CALL,
    "meetings": Activity.Kind.MEETING,
    "proposals": Activity.Kind.PROPOSAL,
}
HUNDRED = Decimal(100)

Values = dict[int, Decimal]
Compute = Callable[[Collection[int], datetime, datetime], Values]


@dataclass(frozen=True)
class Measure:
    code: str
    layer: str  # STANDARD or KPI
    title: str | Promise
    unit: str  # COUNT, PERCENT or MONEY
    better: str  # HIGHER or LOWER
    compute: Compute
    # what counts toward it, for the links under a scorecard's figure
    evidence: str  # "activities", "stages", "deliveries", "bounces"
    # measures read by one statement (the two delivery measures): the statement, which
    # ``compute_all`` runs once for all of them
    together: Callable[[Collection[int], datetime, datetime], dict[str, Values]] | None = None


def _zeros(users: Collection[int]) -> Values:
    return dict.fromkeys(users, Decimal(0))


def _percent(part: int, whole: int) -> Decimal:
    if not whole:
        return Decimal(0)
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.1"))


def _activities(kind: str) -> Compute:
    def compute(users: Collection[int], start: datetime, end: datetime) -> Values:
        values = _zeros(users)
        rows = (
            Activity.objects.filter(
                author_id__in=users, kind=kind, occurred__gte=start, occurred__lt=end
            )
            .order_by()
            .values_list("author_id")
            .annotate(n=Count("id"))
        )
        for user_id, n in rows:
            values[user_id] = Decimal(n)
        return values

    return compute


def _carried(users: Collection[int], start: datetime, end: datetime) -> Q:
    return Q(actor_id__in=users, action__in=CARRIED, created__gte=start, created__lt=end)


def card_completeness(users: Collection[int], start: datetime, end: datetime) -> Values:
    values = _zeros(users)
    reachable = Contact.objects.filter(client=OuterRef("client_id")).exclude(phone="")
    rows = (
        AuditEvent.objects.filter(_carried(users, start, end), client__isnull=False)
        .annotate(reachable=Exists(reachable.exclude(email="")))
        .order_by()
        .values_list("actor_id")
        .annotate(
            whole=Count("client_id", distinct=True),
            part=Count(
                "client_id",
                distinct=True,
                filter=Q(reachable=True) & ~Q(client__legal_name="") & ~Q(client__tax_number=""),
            ),
        )
    )
    for user_id, whole, part in rows:
        values[user_id] = _percent(part, whole)
    return values


def notes_sent_back(users: Collection[int], start: datetime, end: datetime) -> Values:
    """Two reads: the period's bounces, then the handoffs of those deals up to the last of
    them; each bounce is charged to the deal's last handoff before it (in Python: a
    correlated subquery would be evaluated again in the filter and the grouping)."""
    values = _zeros(users)
    bounces = list(
        AuditEvent.objects.filter(
            action=AuditEvent.Action.BOUNCE,
            created__gte=start,
            created__lt=end,
            process__isnull=False,
        ).values_list("process_id", "created", "id")
    )
    if not bounces:
        return values
    handoffs: dict[int, list[tuple[datetime, int, int]]] = defaultdict(list)
    for process_id, created, event_id, actor_id in (
        AuditEvent.objects.filter(
            action=AuditEvent.Action.HANDOFF,
            process_id__in={process_id for process_id, _c, _i in bounces},
            created__lte=max(created for _p, created, _i in bounces),
        )
        .order_by("created", "id")
        .values_list("process_id", "created", "id", "actor_id")
    ):
        handoffs[process_id].append((created, event_id, actor_id))
    wanted = set(users)
    for process_id, created, _event_id in bounces:
        before = [h for h in handoffs[process_id] if h[0] <= created]
        if before and before[-1][2] in wanted:
            values[before[-1][2]] += 1
    return values


def delivery_figures(users: Collection[int], start: datetime, end: datetime) -> dict[str, Values]:
    """``revenue_delivered`` and ``reactivated_reordered`` in one statement: the orders
    delivered in the period (``order_delivered``), the people who carried a stage of
    each (``audit_process_carried``), each (person, deal) once, summed per person in the
    database. By hand because the pairs must be made distinct before they are added up,
    and the ORM has no subquery in FROM; an order's total is ``total_kopecks``, compiled
    by the ORM into the statement."""
    revenue, reactivated = _zeros(users), _zeros(users)
    if not users:
        return {"revenue_delivered": revenue, "reactivated_reordered": reactivated}
    R, L, E = Names(Order), Names(Lead), Names(AuditEvent)
    orders = Order.objects.all().query
    kopecks, kopecks_params = (
        total_kopecks()
        .resolve_expression(orders)
        .as_sql(orders.get_compiler(connection=connection), connection)
    )
    sql = f"""
        SELECT pair.actor, SUM(pair.kopecks), SUM(pair.reactivated)
        FROM (
            SELECT DISTINCT e.{E.actor} AS actor, e.{E.process} AS process,
                {kopecks} AS kopecks,
                CASE WHEN l.{L.source} = %s THEN 1 ELSE 0 END AS reactivated
            FROM {R.table}
            JOIN {L.table} l ON l.{L.id} = {R.table}.{R.lead}
            JOIN {E.table} e ON e.{E.process} = l.{L.process}
            WHERE {R.table}.{R.delivered} >= %s AND {R.table}.{R.delivered} < %s
                AND e.{E.action} IN ({", ".join(["%s"] * len(CARRIED))})
                AND e.{E.actor} IN ({", ".join(["%s"] * len(users))})
        ) pair
        GROUP BY pair.actor
    """
    params = [*kopecks_params, Lead.Source.REACTIVATION.value, start, end, *CARRIED, *users]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for user_id, total, count in cursor.fetchall():
            revenue[user_id] = money(total)
            reactivated[user_id] = Decimal(count)
    return {"revenue_delivered": revenue, "reactivated_reordered": reactivated}


def revenue_delivered(users: Collection[int], start: datetime, end: datetime) -> Values:
    return delivery_figures(users, start, end)["revenue_delivered"]


def reactivated_reordered(users: Collection[int], start: datetime, end: datetime) -> Values:
    return delivery_figures(users, start, end)["reactivated_reordered"]


def qualified_to_order(users: Collection[int], start: datetime, end: datetime) -> Values:
    values = _zeros(users)
    rows = (
        AuditEvent.objects.filter(
            _carried(users, start, end), data__outcome=QUALIFIED, process__isnull=False
        )
        .annotate(ordered=Exists(Order.objects.filter(lead__process_id=OuterRef("process_id"))))
        .order_by()
        .values_list("actor_id")
        .annotate(
            whole=Count("process_id", distinct=True),
            part=Count("process_id", distinct=True, filter=Q(ordered=True)),
        )
    )
    for user_id, whole, part in rows:
        values[user_id] = _percent(part, whole)
    return values


def within_sla(users: Collection[int], start: datetime, end: datetime) -> Values:
    """The due time is kept in the task's JSON terms as text: PostgreSQL counts from two
    partial indexes (targets migration 0002); on SQLite (which would compare it as text)
    it is compared in Python."""
    values = _zeros(users)
    events = AuditEvent.objects.filter(
        actor_id__in=users,
        action__in=FINISHED,
        created__gte=start,
        created__lt=end,
        task__isnull=False,
    )
    if connection.vendor == "postgresql":
        # from the task table: a finished task's owner is who finished it (viewflow keeps
        # the last owner); two index-only counts (targets migration 0002): every finished
        # stage task, and those finished after their due time
        stage_tasks = Task.objects.filter(
            owner_id__in=users,
            flow_task_type="HUMAN",
            status=STATUS.DONE,
            finished__gte=start,
            finished__lt=end,
        ).order_by()
        due_time = Func(
            KeyTextTransform(terms.DUE, "data"),
            function="salesflow_instant",
            output_field=DateTimeField(),
        )
        late_tasks = dict(
            stage_tasks.filter(finished__gt=due_time).values_list("owner_id").annotate(n=Count("*"))
        )
        for user_id, n in stage_tasks.values_list("owner_id").annotate(n=Count("*")):
            values[user_id] = _percent(n - late_tasks.get(user_id, 0), n)
        return values
    rows = (
        events.annotate(due=KeyTextTransform(terms.DUE, "task__data"))
        .order_by()
        .values_list("actor_id", "task_id", "task__finished", "due")
    )
    whole: dict[int, set[int]] = defaultdict(set)
    late: dict[int, set[int]] = defaultdict(set)
    for user_id, task_id, finished, due in rows:
        whole[user_id].add(task_id)
        due_at = parse_datetime(due) if due else None
        if due_at is not None and finished is not None and finished > due_at:
            late[user_id].add(task_id)
    for user_id, tasks in whole.items():
        values[user_id] = _percent(len(tasks) - len(late[user_id]), len(tasks))
    return values


MEASURES: dict[str, Measure] = {
    measure.code: measure
    for measure in (
        Measure(
            "calls",
            STANDARD,
            _("Calls made"),
            COUNT,
            HIGHER,
            _activities(Activity.Kind.CALL),
            "activities",
        ),
        Measure(
            "meetings",
            STANDARD,
            _("Meetings held"),
            COUNT,
            HIGHER,
            _activities(Activity.Kind.MEETING),
            "activities",
        ),
        Measure(
            "proposals",
            STANDARD,
            _("Proposals sent"),
            COUNT,
            HIGHER,
            _activities(Activity.Kind.PROPOSAL),
            "activities",
        ),
        Measure(
            "card_completeness",
            STANDARD,
            _("Complete client cards, %"),
            PERCENT,
            HIGHER,
            card_completeness,
            "stages",
        ),
        Measure(
            "notes_sent_back",
            STANDARD,
            _("Handoff notes sent back"),
            COUNT,
            LOWER,
            notes_sent_back,
            "bounces",
        ),
        Measure(
            "revenue_delivered",
            KPI,
            _("Revenue delivered"),
            MONEY,
            HIGHER,
            revenue_delivered,
            "deliveries",
            together=delivery_figures,
        ),
        Measure(
            "qualified_to_order",
            KPI,
            _("Qualified leads that ordered, %"),
            PERCENT,
            HIGHER,
            qualified_to_order,
            "stages",
        ),
        Measure(
            "within_sla",
            KPI,
            _("Stages finished within SLA, %"),
            PERCENT,
            HIGHER,
            within_sla,
            "stages",
        ),
        Measure(
            "reactivated_reordered",
            KPI,
            _("Reactivated clients who ordered again"),
            COUNT,
            HIGHER,
            reactivated_reordered,
            "deliveries",
            together=delivery_figures,
        ),
    )
}


def compute_all(
    wanted: Mapping[str, Collection[int]], start: datetime, end: datetime
) -> dict[str, Values]:
    """Each measure of ``wanted`` for the people it names (measures read together, once,
    for all of theirs)."""
    figures: dict[str, Values] = {}
    for code in wanted:
        if code in figures:
            continue
        measure = MEASURES[code]
        if measure.together is None:
            figures[code] = measure.compute(wanted[code], start, end)
            continue
        group = [c for c, m in MEASURES.items() if m.together is measure.together and c in wanted]
        users = sorted({user for c in group for user in wanted[c]})
        figures.update(measure.together(users, start, end))
    return {code: figures[code] for code in wanted}
