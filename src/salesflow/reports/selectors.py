"""Reading stored daily reports: a day's snapshot as plain data (``figures.DailyReport``),
the queue depth over the last days, the headline figures, and who receives the e-mail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

from django.db.models import Max, Min, Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from salesflow.people import display_names

from .figures import (
    DailyReport,
    LedgerRow,
    PersonRow,
    QueueRow,
    TransitionRow,
    WorkRow,
    finish_report,
)
from .layout import role_order, role_title, stage_title
from .models import (
    Contribution,
    PersonFigures,
    ReportRecipient,
    RoleFigures,
    Snapshot,
)

# --- reading stored snapshots --------------------------------------------------------------


def daily_reports(*, days: Iterable[date]) -> dict[date, DailyReport]:
    """The stored reports of ``days`` (those that exist), in six queries however many."""
    people = Prefetch("people", queryset=PersonFigures.objects.select_related("user"))
    shares = Prefetch("contributions", queryset=Contribution.objects.select_related("user"))
    snapshots = Snapshot.objects.filter(day__in=list(days)).prefetch_related(
        "roles", "stages", people, "transitions", shares
    )
    return {snapshot.day: _stored(snapshot) for snapshot in snapshots}


def daily_report(*, day: date) -> DailyReport | None:
    """The stored report of ``day`` as plain data, or None. For the API: one call."""
    return daily_reports(days=[day]).get(day)


_WORK_FIELDS = tuple(f.name for f in fields(WorkRow))
_QUEUE_FIELDS = (*_WORK_FIELDS, "open", "unassigned", "created")
_PERSON_FIELDS = (*_WORK_FIELDS, "selling_seconds", "non_selling_seconds")
_TRANSITION_FIELDS = tuple(
    f.name for f in fields(TransitionRow) if f.name not in ("from_title", "to_title")
)


def _stored(snapshot: Snapshot) -> DailyReport:
    """A stored snapshot (its rows prefetched) as the report ``day_figures`` computes."""

    def copy(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: getattr(row, name) for name in names}

    users = [row.user for row in snapshot.people.all()]
    users += [row.user for row in snapshot.contributions.all()]
    names = display_names(users)
    return finish_report(
        DailyReport(
            day=snapshot.day,
            starts=snapshot.starts,
            ends=snapshot.ends,
            time_zone=snapshot.time_zone,
            roles=[
                QueueRow(key=row.role, title=role_title(row.role), **copy(row, _QUEUE_FIELDS))
                for row in snapshot.roles.all()
            ],
            stages=[
                QueueRow(key=row.node, title=stage_title(row.node), **copy(row, _QUEUE_FIELDS))
                for row in snapshot.stages.all()
            ],
            people=[
                PersonRow(user_id=row.user_id, **copy(row, _PERSON_FIELDS))
                for row in snapshot.people.all()
            ],
            transitions=[
                TransitionRow(**copy(row, _TRANSITION_FIELDS)) for row in snapshot.transitions.all()
            ],
            ledger=[
                LedgerRow(
                    user_id=row.user_id,
                    name="",
                    node=row.node,
                    title="",
                    orders=row.orders,
                    amount=row.amount,
                )  # fmt: skip
                for row in snapshot.contributions.all()
            ],
            orders_delivered=snapshot.orders_delivered,
            delivered_amount=snapshot.delivered_amount,
            active_clients=snapshot.active_clients,
            dependent_clients=snapshot.dependent_clients,
            generated=snapshot.generated,
            emailed=snapshot.emailed,
        ),
        names,
    )


@dataclass(frozen=True)
class QueueTrend:
    """Open work per role at the end of each of ``days`` (None: no report that day)."""

    days: list[date]
    series: list[tuple[str, list[int | None]]]


def queue_trend(*, last_day: date, days: int = 30) -> QueueTrend:
    """Queue depth per role over the ``days`` ending with ``last_day``, in one query."""
    first_day = last_day - timedelta(days=days - 1)
    calendar = [first_day + timedelta(days=n) for n in range(days)]
    depth: dict[str, dict[date, int]] = defaultdict(dict)
    rows = (
        RoleFigures.objects.filter(snapshot__day__gte=first_day, snapshot__day__lte=last_day)
        .values_list("snapshot__day", "role", "open")
        .order_by()
    )
    for day, role, count in rows:
        depth[role][day] = count
    return QueueTrend(
        days=calendar,
        series=[
            (role_title(code), [depth[code].get(day) for day in calendar])
            for code in role_order()
            if code in depth
        ],
    )


def stored_days() -> tuple[date | None, date | None]:
    """The first and last days that have a stored report."""
    days = Snapshot.objects.aggregate(first=Min("day"), last=Max("day"))
    return days["first"], days["last"]


@dataclass(frozen=True)
class KeyFigure:
    """One line of the report's headline: the day's value, the day before's and the same
    day a week before (None where there is no report)."""

    label: str
    value: Any
    day_before: Any
    week_before: Any


def dependence_share(report: DailyReport) -> float | None:
    """The percentage of the clients worked on in the 12 months before the day's end that
    depend on one person (salesflow.targets.dependence)."""
    if not report.active_clients:
        return None
    return round(report.dependent_clients * 100 / report.active_clients, 1)


def key_figures(
    report: DailyReport, day_before: DailyReport | None, week_before: DailyReport | None
) -> list[KeyFigure]:
    """The headline figures of ``report`` beside the same figures of the other two."""

    def figures(r: DailyReport | None) -> list[Any]:
        if r is None:
            return [None] * 12
        t = r.totals
        oldest = None if t.oldest_age_seconds is None else round(t.oldest_age_seconds / 3600, 1)
        return [
            t.open, t.unassigned, t.in_work, t.stalled, t.sla_breaches, oldest, t.created,
            t.completed, t.bounces_received, r.orders_delivered, r.delivered_amount,
            dependence_share(r),
        ]  # fmt: skip

    labels = [
        _("Open at the end of the day"), _("Unassigned"), _("In work"), _("Stalled"),
        _("SLA breaches"), _("Oldest open work, h"), pgettext("report", "Created"), _("Completed"),
        _("Bounces"), _("Orders delivered"), _("Amount delivered"),
        _("Clients that depend on one person, %"),
    ]  # fmt: skip
    return [
        KeyFigure(label, *values)
        for label, *values in zip(
            labels, figures(report), figures(day_before), figures(week_before), strict=True
        )
    ]


def report_recipients() -> list[str]:
    """The addresses the daily e-mail goes to (active recipients, set by an admin)."""
    return list(
        ReportRecipient.objects.filter(active=True)
        .order_by("email")
        .values_list("email", flat=True)
    )


@dataclass(frozen=True)
class DependenceTrend:
    """The share (percent) of the clients worked on that depend on one person, at the end
    of each of ``days`` (None: no report that day)."""

    days: list[date]
    shares: list[float | None]


def dependence_trend(*, last_day: date, days: int = 30) -> DependenceTrend:
    """From the stored snapshots, in one query."""
    first_day = last_day - timedelta(days=days - 1)
    calendar = [first_day + timedelta(days=n) for n in range(days)]
    stored = {
        day: round(dependent * 100 / active, 1) if active else None
        for day, active, dependent in Snapshot.objects.filter(
            day__gte=first_day, day__lte=last_day
        ).values_list("day", "active_clients", "dependent_clients")
    }
    return DependenceTrend(days=calendar, shares=[stored.get(day) for day in calendar])
