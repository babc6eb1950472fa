"""The funnel and the forecast for a date range, from what the engine records.

For ``[first, last]`` (whole local days):

* **leads in** by source (``Lead.created``);
* **qualified**: deals whose qualification (a stage completion recording the outcome
  ``qualified``) happened in the range;
* **orders**: orders written in the range (``Order.created``), with their total;
* **delivered**: orders delivered in the range, with their total (after discount);
* **lost** (the client did not order) and **disqualified**, each with its reasons, by
  when the deal's last stage was finished;
* **conversion** between those steps (each figure over the one before it, in the same
  range; from qualified to order only the orders of new leads count -- a repeat order or a
  reactivation starts at the account stage and was never qualified, and counting them
  put the conversion over 100 %), and the **median time per stage** of the stage tasks
  finished in the range;
* the **open pipeline** now: open stage tasks per stage, and their deals' value (a side
  task, a reminder or a data-quality fix is no deal: counted open, valued at nothing);
* the **forecast** for the range's last month -- see ``FORECAST_METHOD``;
* **revenue by kind**: delivered revenue from new clients, repeat orders and
  reactivations (the lead's source), and the same split for each of the last six months:
  the early warning that the hunters stopped hunting.

Every figure is a grouped query (no query per lead, task or order): the count is the same
for a week of data or a year's.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
)
from django.db.models.aggregates import Aggregate
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from viewflow.workflow.fields import get_task_ref
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Lead, Order, money, total_kopecks
from salesflow.conveyor.registry import human_nodes

from .measures import CARRIED, QUALIFIED
from .periods import FIRST_YEAR, PeriodInvalid, local_midnight

HUNDRED = Decimal(100)
MONEY_ZERO = Decimal("0.00")  # a month without revenue of a kind shows 0.00, not 0
OPEN = (STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED)
HISTORY_DAYS = 90
TREND_MONTHS = 6
NEW, REPEAT, REACTIVATION = "new", "repeat", "reactivation"
FORECAST_METHOD = gettext_lazy(
    "Forecast for the month = revenue already delivered in the month + for each stage, the "
    "value of the deals open there now × the share of the deals that reached that stage in "
    "the last 90 days (and are finished) that were delivered. A deal without an order yet "
    "is valued at the average delivered order of those 90 days."
)
CONVERSION_NOTE = gettext_lazy(
    "From qualified to orders, only the orders of new leads count: repeat orders and "
    "reactivations start at the account stage without being qualified."
)


class Median(Aggregate):
    """The median of an interval (PostgreSQL's ``percentile_cont``)."""

    function = "percentile_cont"
    template = "percentile_cont(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


@dataclass(frozen=True)
class StageRow:
    node: str
    title: str
    finished: int
    median_hours: Decimal | None
    open: int
    open_value: Decimal
    delivered_share: Decimal | None  # percent, of the deals that reached it
    forecast: Decimal


@dataclass(frozen=True)
class Funnel:
    first: date
    last: date
    leads_by_source: dict[str, int]
    leads: int
    qualified: int
    orders: int
    orders_value: Decimal
    delivered: int
    delivered_value: Decimal
    lost: dict[str, int]  # reason -> deals
    disqualified: dict[str, int]
    conversion: dict[str, Decimal | None]  # step -> percent
    stages: tuple[StageRow, ...]
    forecast_month: date
    forecast: Decimal
    revenue: dict[str, Decimal]  # kind -> delivered total
    revenue_trend: tuple[tuple[date, dict[str, Decimal]], ...]
    method: str


def funnel_range_check(*, first: date | None, last: date | None) -> tuple[date, date]:
    """PeriodInvalid for a missing day, a range that ends before it starts or in the future."""
    if first is None or last is None:
        raise PeriodInvalid(_("Give both the first and the last day of the range."))
    if last < first:
        raise PeriodInvalid(
            _("The range ends (%(last)s) before it starts (%(first)s).")
            % {"first": first.isoformat(), "last": last.isoformat()}
        )
    if first.year < FIRST_YEAR:
        raise PeriodInvalid(_("The range starts before %(year)s.") % {"year": FIRST_YEAR})
    today = timezone.localdate()
    if last > today:
        raise PeriodInvalid(
            _("The range ends in the future (%(last)s; today is %(today)s).")
            % {"last": last.isoformat(), "today": today.isoformat()}
        )
    return first, last


def _task_ref(flow_task: Any) -> str:
    """A task's node as its task reference (viewflow reads the column back as the node)."""
    return flow_task if isinstance(flow_task, str) else str(get_task_ref(flow_task))


def _sums(orders: Any, *keys: str) -> dict[Any, tuple[int, Decimal]]:
    """Count and total (``Order.total``, added up by the database) of ``orders`` by
    ``keys``: the value of the one key, a tuple of several; ``None`` without keys."""
    figures = {"n": Count("id"), "kopecks": Sum(total_kopecks())}
    if not keys:
        whole = orders.order_by().aggregate(**figures)
        return {None: (whole["n"], money(whole["kopecks"]))}
    result = {}
    for *key, n, kopecks in orders.order_by().values_list(*keys).annotate(**figures):
        result[key[0] if len(keys) == 1 else tuple(key)] = (n, money(kopecks))
    return result


def _by_kind(sums: dict[str, tuple[int, Decimal]]) -> dict[str, Decimal]:
    """Totals by lead source -> by kind of revenue (new, repeat, reactivation)."""
    revenue = dict.fromkeys((NEW, REPEAT, REACTIVATION), MONEY_ZERO)
    for source, (_n, total) in sums.items():
        revenue[_kind(source)] += total
    return revenue


def _kind(source: str) -> str:
    if source == Lead.Source.REPEAT_ORDER:
        return REPEAT
    if source == Lead.Source.REACTIVATION:
        return REACTIVATION
    return NEW


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * HUNDRED / whole).quantize(Decimal("0.1")) if whole else None


def _ended(status: str, start: Any, end: Any) -> dict[str, int]:
    """Deals of ``status`` whose last stage was finished in the range, by reason: read
    from the range's stage completions (no later one in the deal), not from every lead of
    that status in the history."""
    later = AuditEvent.objects.filter(
        process_id=OuterRef("process_id"), action__in=CARRIED, created__gt=OuterRef("created")
    )
    reason = (
        "process__lead__lost_reason"
        if status == Lead.Status.LOST
        else "process__lead__disqualification_reason"
    )
    rows = (
        AuditEvent.objects.filter(
            action__in=CARRIED,
            created__gte=start,
            created__lt=end,
            process__lead__status=status,
        )
        .exclude(Exists(later))
        .order_by()
        .values_list(reason)
        .annotate(n=Count("process_id", distinct=True))
    )
    return {text.strip() or "-": n for text, n in sorted(rows, key=lambda r: (-r[1], r[0]))}


def _medians(refs: dict[str, str], start: Any, end: Any) -> dict[str, tuple[int, Any]]:
    tasks = Task.objects.filter(
        flow_task__in=list(refs), status=STATUS.DONE, finished__gte=start, finished__lt=end
    ).order_by()
    took = ExpressionWrapper(F("finished") - F("created"), output_field=DurationField())
    if connection.vendor == "postgresql":
        rows = tasks.values_list("flow_task").annotate(n=Count("id"), median=Median(took))
        return {refs[_task_ref(flow_task)]: (n, median) for flow_task, n, median in rows}
    seconds: dict[str, list[float]] = defaultdict(list)
    for flow_task, created, finished in tasks.values_list("flow_task", "created", "finished"):
        seconds[refs[_task_ref(flow_task)]].append((finished - created).total_seconds())
    return {
        node: (len(values), timedelta(seconds=statistics.median(values)))
        for node, values in seconds.items()
    }


def funnel(*, first: date, last: date) -> Funnel:
    """The funnel of ``[first, last]``; call ``funnel_range_check`` first (the pages, the
    API and the command do, through ``salesflow.reports``)."""
    start, end = local_midnight(first), local_midnight(last + timedelta(days=1))
    nodes = human_nodes()
    refs = {get_task_ref(node): ref for ref, node in nodes.items()}

    by_source = dict(
        Lead.objects.filter(created__gte=start, created__lt=end)
        .order_by()
        .values_list("source")
        .annotate(n=Count("id"))
    )
    qualified = (
        AuditEvent.objects.filter(
            action__in=CARRIED,
            data__outcome=QUALIFIED,
            process__isnull=False,  # a deal's; and so the index audit_qualified serves it
            created__gte=start,
            created__lt=end,
        )
        .values("process_id")
        .distinct()
        .count()
    )
    orders = _sums(Order.objects.filter(created__gte=start, created__lt=end), "lead__source")
    order_count = sum(n for n, _total in orders.values())
    orders_value = sum((total for _n, total in orders.values()), MONEY_ZERO)
    new_orders = sum(n for source, (n, _total) in orders.items() if _kind(source) == NEW)
    delivered_sums = _sums(
        Order.objects.filter(delivered__gte=start, delivered__lt=end), "lead__source"
    )
    revenue = _by_kind(delivered_sums)
    delivered_count = sum(n for n, _total in delivered_sums.values())
    delivered_value = sum(revenue.values(), MONEY_ZERO)

    # the trend: delivered revenue by kind for each of the last months up to ``last``
    trend_start = local_midnight(
        (last.replace(day=1) - timedelta(days=31 * (TREND_MONTHS - 1))).replace(day=1)
    )
    monthly: dict[date, dict[str, Decimal]] = {}
    for (month, source), (_n, total) in _sums(
        Order.objects.filter(delivered__gte=trend_start, delivered__lt=end).annotate(
            month=TruncMonth("delivered")
        ),
        "month",
        "lead__source",
    ).items():
        day = month.date() if hasattr(month, "date") else month
        row = monthly.setdefault(day, dict.fromkeys((NEW, REPEAT, REACTIVATION), MONEY_ZERO))
        row[_kind(source)] += total

    # the open pipeline and the forecast: per stage, its open tasks, those of a deal
    # without an order yet (valued at the average order), and their orders' total
    open_rows = (
        Task.objects.filter(flow_task__in=list(refs), status__in=OPEN)
        .order_by()
        .values_list("flow_task")
        .annotate(
            n=Count("id"),
            unpriced=Count(
                "id",
                filter=Q(process__lead__isnull=False, process__lead__order__isnull=True),
            ),
            kopecks=Sum(total_kopecks("process__lead__order")),
        )
    )
    history_start = end - timedelta(days=HISTORY_DAYS)
    reached = (
        Task.objects.filter(flow_task__in=list(refs), created__gte=history_start, created__lt=end)
        .filter(process__status=STATUS.DONE, process__lead__isnull=False)
        .order_by()
        .values_list("flow_task")
        .annotate(
            deals=Count("process_id", distinct=True),
            won=Count(
                "process_id",
                distinct=True,
                filter=Q(process__lead__order__delivered__isnull=False),
            ),
        )
    )
    shares: dict[str, Decimal | None] = {}
    for flow_task, deals, won in reached:
        shares[refs[_task_ref(flow_task)]] = _percent(won, deals)
    average_count, average_total = _sums(
        Order.objects.filter(delivered__gte=history_start, delivered__lt=end)
    )[None]
    average_order = average_total / average_count if average_count else Decimal(0)
    open_count: dict[str, int] = defaultdict(int)
    open_value: dict[str, Decimal] = defaultdict(Decimal)
    for flow_task, n, unpriced, kopecks in open_rows:
        node = refs[_task_ref(flow_task)]
        open_count[node] += n
        open_value[node] += money(kopecks) + unpriced * average_order

    month_first = last.replace(day=1)
    month_start = local_midnight(month_first)
    month_delivered = _sums(Order.objects.filter(delivered__gte=month_start, delivered__lt=end))[
        None
    ][1]
    medians = _medians(refs, start, end)
    stages = []
    for ref, node in nodes.items():
        share = shares.get(ref)
        expected = (open_value[ref] * (share or 0) / HUNDRED).quantize(Decimal("0.01"))
        finished, median = medians.get(ref, (0, None))
        stages.append(
            StageRow(
                node=ref,
                title=str(node.task_title),
                finished=finished,
                median_hours=(
                    Decimal(median.total_seconds() / 3600).quantize(Decimal("0.1"))
                    if median is not None
                    else None
                ),
                open=open_count[ref],
                open_value=open_value[ref].quantize(Decimal("0.01")),
                delivered_share=share,
                forecast=expected,
            )
        )
    leads = sum(by_source.values())
    return Funnel(
        first=first,
        last=last,
        leads_by_source={str(k): v for k, v in sorted(by_source.items())},
        leads=leads,
        qualified=qualified,
        orders=order_count,
        orders_value=orders_value,
        delivered=delivered_count,
        delivered_value=delivered_value,
        lost=_ended(Lead.Status.LOST, start, end),
        disqualified=_ended(Lead.Status.DISQUALIFIED, start, end),
        conversion={
            "lead_to_qualified": _percent(qualified, leads),
            "qualified_to_order": _percent(new_orders, qualified),
            "order_to_delivered": _percent(delivered_count, order_count),
        },
        stages=tuple(stages),
        forecast_month=month_first,
        forecast=month_delivered + sum((s.forecast for s in stages), Decimal(0)),
        revenue=revenue,
        revenue_trend=tuple(sorted(monthly.items())),
        method=str(FORECAST_METHOD),
    )
