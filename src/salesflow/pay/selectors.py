"""Statements: a person's or the team's pay for a month, as lines and totals.

An open month is computed from the trail each time it is read (``so_far`` while it is not
over); a closed month is read as it was frozen (``ClosedLine``). Either way a statement
is built in a constant number of queries, whatever the history's size, and its totals are
the sums of its lines' rounded figures, so they agree to the kopeck.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from salesflow.people import display_names
from salesflow.roles import get_roles

from .credit import ADJUSTMENT, BASE, CREDIT, PayLine, deal_lines, node_rates
from .models import PayAdjustment, PayPeriod
from .plans import EVEN, PayPlan, get_plans, plan_for
from .trail import deal_trails

MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> date:
    """``"2026-03"`` -> date(2026, 3, 1); ValueError with the reason otherwise."""
    match = MONTH.match(value.strip())
    if not match or not 1 <= int(match[2]) <= 12 or not 1970 <= int(match[1]) <= 9998:
        raise ValueError(f"{value[:20]!r} is not a month such as 2026-03 (YYYY-MM)")
    return date(int(match[1]), int(match[2]), 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's first moment and the next month's, in the installation's time zone."""
    tz = timezone.get_default_timezone()
    start = datetime(month.year, month.month, 1, tzinfo=tz)
    following = next_month(month)
    return start, datetime(following.year, following.month, 1, tzinfo=tz)


def current_month() -> date:
    return timezone.localdate().replace(day=1)


@dataclass
class Statement:
    month: date
    closed: PayPeriod | None
    so_far: bool  # the month is not over yet
    lines: list[PayLine]
    revenue: Decimal  # delivered in the month, after discount
    credited: Decimal  # the shares credited to people in the month
    names: dict[int, str] = field(default_factory=dict)

    @property
    def totals(self) -> dict[int, Decimal]:
        result: dict[int, Decimal] = defaultdict(Decimal)
        for line in self.lines:
            result[line.user_id] += line.pay
        return dict(sorted(result.items(), key=lambda item: self.names.get(item[0], "")))

    @property
    def total(self) -> Decimal:
        return sum((line.pay for line in self.lines), Decimal(0))

    def of(self, user_id: int) -> list[PayLine]:
        return [line for line in self.lines if line.user_id == user_id]


def _role_holders() -> dict[int, set[str]]:
    """Every active person's role codes (one query)."""
    through = get_user_model().groups.through
    codes = set(get_roles())
    holders: dict[int, set[str]] = defaultdict(set)
    for user_id, code in through.objects.filter(
        group__name__in=codes, user__is_active=True
    ).values_list("user_id", "group__name"):
        holders[user_id].add(code)
    return holders


def _node_roles() -> dict[str, set[str]]:
    nodes: dict[str, set[str]] = defaultdict(set)
    for role in get_roles().values():
        for node in role.nodes:
            nodes[node].add(role.code)
    return nodes


def _plan_on(plans: Collection[PayPlan]) -> Callable[[datetime], PayPlan | None]:
    """The plan in force at a moment (the day in the installation's time zone), by
    comparing with each plan's first and last moments -- called for every line."""
    tz = timezone.get_default_timezone()
    spans = []
    for plan in plans:
        start = datetime.combine(plan.effective_from, datetime.min.time(), tzinfo=tz)
        until = plan.effective_until
        end = (
            datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=tz)
            if until is not None
            else None
        )
        spans.append((start, end, plan))

    def plan_at(moment: datetime) -> PayPlan | None:
        for start, end, plan in spans:
            if start <= moment and (end is None or moment < end):
                return plan
        return None

    return plan_at


def compute_lines(month: date) -> tuple[list[PayLine], Decimal]:
    """Every line of an open month, computed from the trail, and the month's revenue."""
    start, end = month_bounds(month)
    plans = get_plans()
    plan_at = _plan_on(plans)
    holders = _role_holders()
    rate = node_rates(_node_roles(), holders)
    lines: list[PayLine] = []
    revenue = Decimal(0)
    hands = any(plan.reassigned == EVEN for plan in plans)
    for deal in deal_trails(start=start, end=end, holders=hands):
        if deal.delivered is not None and start <= deal.delivered < end:
            revenue += deal.amount
        lines.extend(deal_lines(deal, plan_for=plan_at, rate=rate, start=start, end=end))
    base_plan = plan_for(month, plans)
    if base_plan is not None:
        for user_id, codes in holders.items():
            base = base_plan.base_for(codes)
            if base:
                lines.append(
                    PayLine(user_id=user_id, kind=BASE, at=start, pay=base, plan=base_plan.code)
                )
    for adjustment in PayAdjustment.objects.filter(month=month).order_by("created", "id"):
        lines.append(
            PayLine(
                user_id=adjustment.user_id,
                kind=ADJUSTMENT,
                at=adjustment.created,
                process_id=adjustment.process_id,
                pay=adjustment.amount,
                note=adjustment.reason,
            )
        )
    lines.sort(key=lambda line: (line.at, line.process_id or 0, line.node, line.kind, line.user_id))
    return lines, revenue


def _frozen_lines(period: PayPeriod, user_ids: Collection[int] | None) -> list[PayLine]:
    rows = period.lines.order_by("id")
    if user_ids is not None:
        rows = rows.filter(user_id__in=list(user_ids))
    return [
        PayLine(
            user_id=row.user_id,
            kind=row.kind,
            at=row.at,
            process_id=row.process_id,
            client=row.client,
            node=row.node,
            amount=row.amount,
            share=row.share,
            rate=row.rate,
            commission=row.commission,
            advance=row.advance,
            pay=row.pay,
            plan=row.plan,
            note=row.note,
        )
        for row in rows
    ]


def statement(*, month: date, user_ids: Collection[int] | None = None) -> Statement:
    """The month's statement for ``user_ids`` (None: everyone): frozen if the month is
    closed, else computed now ("so far" while the month is not over)."""
    closed = PayPeriod.objects.filter(month=month).first()
    if closed is not None:
        lines = _frozen_lines(closed, user_ids)
        revenue, credited = closed.revenue, closed.credited
    else:
        lines, revenue = compute_lines(month)
        credited = sum((line.share for line in lines if line.kind == CREDIT), Decimal(0))
        if user_ids is not None:
            wanted = set(user_ids)
            lines = [line for line in lines if line.user_id in wanted]
    people = {line.user_id for line in lines} | set(user_ids or ())
    users = get_user_model()._default_manager.filter(pk__in=people)
    end = month_bounds(month)[1]
    return Statement(
        month=month,
        closed=closed,
        so_far=closed is None and timezone.now() < end,
        lines=lines,
        revenue=revenue,
        credited=credited,
        names=display_names(users),
    )


def statement_as_data(result: Statement) -> dict[str, object]:
    """The statement as plain JSON-ready data (the CLI's and the API's shape)."""
    return {
        "period": f"{result.month:%Y-%m}",
        "status": "closed" if result.closed else ("so_far" if result.so_far else "open"),
        "revenue": str(result.revenue),
        "credited": str(result.credited),
        "total": str(result.total),
        "people": [
            {"user": user_id, "name": result.names.get(user_id, ""), "total": str(total)}
            for user_id, total in result.totals.items()
        ],
        "lines": [
            {
                "user": line.user_id,
                "name": result.names.get(line.user_id, ""),
                "kind": line.kind,
                "at": line.at.isoformat(),
                "deal": line.process_id,
                "client": line.client,
                "stage": line.node,
                "amount": str(line.amount),
                "share": str(line.share),
                "rate": str(line.rate),
                "commission": str(line.commission),
                "advance": str(line.advance),
                "pay": str(line.pay),
                "plan": line.plan,
                "note": line.note,
            }
            for line in result.lines
        ],
    }


@dataclass(frozen=True)
class LedgerShare:
    """A person's credit at a stage over a window: the deals and their shares."""

    node: str
    user_id: int
    deals: int
    share: Decimal


@dataclass(frozen=True)
class Ledger:
    shares: list[LedgerShare]
    delivered: int  # deals delivered in the window
    revenue: Decimal  # their commissionable amounts


def credit_ledger(*, start: datetime, end: datetime) -> Ledger:
    """The shares the statements credit in ``[start, end)`` (the ``credit`` lines: who
    earns what of each deal, by stage and person), as the trail stood at ``end`` -- what
    the daily report's contribution ledger shows, so the two never disagree. Stages are
    credited under the plan in force on the day; with no plan in force, nothing is."""
    plans = get_plans()
    plan_at = _plan_on(plans)
    groups: dict[tuple[str, int], list[Decimal]] = defaultdict(list)
    delivered, revenue = 0, Decimal(0)
    hands = any(plan.reassigned == EVEN for plan in plans)
    for deal in deal_trails(start=start, end=end, holders=hands):
        deal = replace(deal, completions=tuple(c for c in deal.completions if c.finished < end))
        if deal.delivered is not None and not deal.delivered < end:
            deal = replace(deal, delivered=None)
        if deal.delivered is not None and start <= deal.delivered < end:
            delivered += 1
            revenue += deal.amount
        for line in deal_lines(deal, plan_for=plan_at, rate=_no_rate, start=start, end=end):
            if line.kind == CREDIT:
                groups[(line.node, line.user_id)].append(line.share)
    shares = [
        LedgerShare(node=node, user_id=user_id, deals=len(amounts), share=sum(amounts, Decimal(0)))
        for (node, user_id), amounts in groups.items()
    ]
    return Ledger(shares=shares, delivered=delivered, revenue=revenue)


def _no_rate(plan: PayPlan, user_id: int, node: str) -> Decimal:
    return Decimal(0)
