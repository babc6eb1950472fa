"""A day's figures: the report's rows (``DailyReport``, what the page, the exports, the
e-mail and the API all read) and computing them from the database.

``day_figures(day=...)`` computes a day with the fixed set of aggregate queries in
``queries``; ``selectors.daily_report(day=...)`` reads the stored snapshot. Both return
the same ``DailyReport``, so a stored day can be checked against a fresh computation field
by field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from salesflow.pay.selectors import credit_ledger
from salesflow.people import display_names
from salesflow.roles import get_roles
from salesflow.targets.dependence import dependence

from . import queries
from .layout import (
    APPROVED,
    REJECTED,
    day_bounds,
    handoff_transitions,
    report_layout,
    role_order,
    role_title,
    stage_order,
    stage_title,
)
from .models import AGE_BUCKET_EDGES

AGE_BUCKETS = len(AGE_BUCKET_EDGES) + 1


# --- the shape of a report ------------------------------------------------------------------


def _no_ages() -> list[int]:
    return [0] * AGE_BUCKETS


@dataclass
class WorkRow:
    """Open work held at the end of the day, and what was done during it."""

    in_work: int = 0
    stalled: int = 0
    overdue: int = 0
    oldest_age_seconds: int | None = None
    median_age_seconds: int | None = None
    age_buckets: list[int] = field(default_factory=_no_ages)
    completed: int = 0
    finished_late: int = 0
    handoffs: int = 0
    bounces_received: int = 0
    bounces_caused: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def sla_breaches(self) -> int:
        """Work open past its due time at the end of the day, plus work finished late."""
        return self.overdue + self.finished_late


@dataclass
class QueueRow(WorkRow):
    """A role's or a stage's figures. ``key``: the role code or the stage's node reference."""

    key: str = ""
    title: str = ""
    open: int = 0
    unassigned: int = 0
    created: int = 0


@dataclass
class PersonRow(WorkRow):
    user_id: int = 0
    name: str = ""
    # time on the work finished that day, from when each task was taken (queries.work_time)
    selling_seconds: int = 0
    non_selling_seconds: int = 0

    @property
    def non_selling_share(self) -> float | None:
        """The share of the person's working time that went to non-selling work."""
        total = self.selling_seconds + self.non_selling_seconds
        return self.non_selling_seconds / total if total else None


@dataclass
class TransitionRow:
    """Handoff quality of one transition: handoffs written at ``from_node`` for
    ``to_node``, bounces sent back the other way, and how long the work waited."""

    from_node: str
    to_node: str
    from_title: str = ""
    to_title: str = ""
    handoffs: int = 0
    bounces: int = 0
    claimed: int = 0
    latency_median_seconds: int | None = None
    latency_max_seconds: int | None = None

    @property
    def bounce_rate(self) -> float | None:
        return self.bounces / self.handoffs if self.handoffs else None


@dataclass
class LedgerRow:
    """A person's share of the orders delivered: orders carried through ``node``."""

    user_id: int
    name: str
    node: str
    title: str
    orders: int = 0
    amount: Decimal = Decimal("0.00")


@dataclass
class DailyReport:
    """One day's report as plain data. ``generated`` is None for a computed, unstored day."""

    day: date
    starts: datetime
    ends: datetime
    time_zone: str
    roles: list[QueueRow]
    stages: list[QueueRow]
    people: list[PersonRow]
    transitions: list[TransitionRow]
    ledger: list[LedgerRow]
    orders_delivered: int = 0
    delivered_amount: Decimal = Decimal("0.00")
    active_clients: int = 0
    dependent_clients: int = 0
    generated: datetime | None = None
    emailed: datetime | None = None

    @property
    def totals(self) -> QueueRow:
        """Every stage together (each task belongs to one stage). No median: a median of
        medians is not one."""
        total = QueueRow(key="", title=_("All stages"))
        for row in self.stages:
            for name in _SUMMED:
                setattr(total, name, getattr(total, name) + getattr(row, name))
            total.age_buckets = [
                a + b for a, b in zip(total.age_buckets, row.age_buckets, strict=True)
            ]
            if row.oldest_age_seconds is not None:
                total.oldest_age_seconds = max(
                    total.oldest_age_seconds or 0, row.oldest_age_seconds
                )
        return total


_SUMMED = (
    "open", "unassigned", "in_work", "stalled", "overdue", "created", "completed",
    "finished_late", "handoffs", "bounces_received", "bounces_caused",
)  # fmt: skip
_DONE = ("completed", "finished_late", "handoffs", "bounces_received", "bounces_caused")


# --- computing a day ------------------------------------------------------------------------


def day_figures(*, day: date) -> DailyReport:
    """The report of ``day`` computed from the database as of the end of that day.

    A fixed number of aggregate queries (see ``queries``) plus one for people's names,
    whatever the number of tasks. The caller checks that the day may be reported."""
    start, end = day_bounds(day)
    builder = _DayBuilder(queries.Window(layout=report_layout(), start=start, end=end))
    with queries.reading():
        return builder.build(day)


class _DayBuilder:
    """Turns the grouped rows of ``queries`` into a report's rows (sums over groups,
    never a loop over tasks)."""

    def __init__(self, window: queries.Window) -> None:
        self.window = window
        self.roles = {code: QueueRow(key=code, title=role_title(code)) for code in role_order()}
        self.stages = {ref: QueueRow(key=ref, title=stage_title(ref)) for ref in stage_order()}
        self.people: dict[int, PersonRow] = {}
        self.transitions = {key: TransitionRow(*key) for key in handoff_transitions()}
        self.ledger: list[LedgerRow] = []
        self.delivered = 0
        self.delivered_amount = Decimal("0.00")

    def person(self, user_id: int) -> PersonRow:
        return self.people.setdefault(user_id, PersonRow(user_id=user_id))

    def transition(self, from_node: str, to_node: str) -> TransitionRow:
        return self.transitions.setdefault((from_node, to_node), TransitionRow(from_node, to_node))

    def build(self, day: date) -> DailyReport:
        self.held()
        self.done()
        self.notes()
        self.latency()
        self.contributions()
        self.work_time()
        for code, role in self.roles.items():
            for ref in get_roles()[code].nodes:
                if ref in self.stages:
                    _add_done(role, self.stages[ref])
        names = _names({*self.people, *(share.user_id for share in self.ledger)})
        reliance = dependence(until=self.window.end)
        return finish_report(
            DailyReport(
                day=day,
                starts=self.window.start,
                ends=self.window.end,
                time_zone=settings.TIME_ZONE,
                roles=list(self.roles.values()),
                stages=list(self.stages.values()),
                people=list(self.people.values()),
                transitions=list(self.transitions.values()),
                ledger=self.ledger,
                orders_delivered=self.delivered,
                delivered_amount=self.delivered_amount,
                active_clients=reliance.active_clients,
                dependent_clients=len(reliance.clients),
            ),
            names,
        )

    def held(self) -> None:
        held = queries.held_work(self.window)
        for row in held.roles:
            if row.key in self.roles:
                _hold(self.roles[row.key], row)
        for row in held.stages:
            if row.key in self.stages:
                _hold(self.stages[row.key], row)
        for row in held.holders:
            _hold(self.person(row.key), row)

    def done(self) -> None:
        for ref, count in queries.created(self.window).items():
            if ref in self.stages:
                self.stages[ref].created = count
        for done in queries.completions(self.window):
            doers: list[WorkRow] = [self.stages[done.node]] if done.node in self.stages else []
            if done.owner_id is not None:
                doers.append(self.person(done.owner_id))
            outcome = {"approve": APPROVED, "reject": REJECTED}.get(done.action or "", done.outcome)
            for row in doers:
                row.finished_late += done.late
                if done.action == "bounce":
                    continue  # a bounce is counted from its note
                row.completed += done.tasks
                if outcome:
                    row.outcomes[outcome] = row.outcomes.get(outcome, 0) + done.tasks

    def notes(self) -> None:
        for note in queries.notes(self.window):
            writers: list[WorkRow] = [self.person(note.author_id)]
            if note.from_node in self.stages:
                writers.append(self.stages[note.from_node])
            if note.kind == "handoff":
                for row in writers:
                    row.handoffs += note.notes
                self.transition(note.from_node, note.to_node).handoffs += note.notes
                continue
            for row in writers:
                row.bounces_received += note.notes
            causes: list[WorkRow] = []
            if note.to_node in self.stages:
                causes.append(self.stages[note.to_node])
            if note.caused_by_id is not None:
                causes.append(self.person(note.caused_by_id))
            for row in causes:
                row.bounces_caused += note.notes
            self.transition(note.to_node, note.from_node).bounces += note.notes

    def latency(self) -> None:
        for latency in queries.handoff_latency(self.window):
            row = self.transition(latency.from_node, latency.to_node)
            row.claimed = latency.claimed
            row.latency_median_seconds = _whole(latency.median)
            row.latency_max_seconds = latency.longest

    def work_time(self) -> None:
        for spent in queries.work_time(self.window):
            person = self.person(spent.owner_id)
            person.selling_seconds = spent.selling
            person.non_selling_seconds = spent.non_selling

    def contributions(self) -> None:
        """The contribution ledger: the shares the pay statements credit that day (each
        deal's amount split between the people who carried its stages, by the pay plan:
        ``salesflow.pay``), not the whole amount at every stage."""
        ledger = credit_ledger(start=self.window.start, end=self.window.end)
        for share in ledger.shares:
            self.ledger.append(
                LedgerRow(
                    user_id=share.user_id,
                    name="",
                    node=share.node,
                    title="",
                    orders=share.deals,
                    amount=share.share.quantize(Decimal("0.01")),
                )
            )
        self.delivered = ledger.delivered
        self.delivered_amount = ledger.revenue.quantize(Decimal("0.01"))


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds))


def _hold(row: WorkRow, held: queries.HeldRow) -> None:
    if isinstance(row, QueueRow):
        row.open = held.open
        row.unassigned = held.unassigned
    row.in_work = held.open - held.unassigned
    row.stalled = held.stalled
    row.overdue = held.overdue
    row.oldest_age_seconds = held.oldest
    row.median_age_seconds = _whole(held.median)
    row.age_buckets = list(held.buckets)


def _add_done(total: QueueRow, row: QueueRow) -> None:
    for name in ("created", *_DONE):
        setattr(total, name, getattr(total, name) + getattr(row, name))
    for outcome, count in row.outcomes.items():
        total.outcomes[outcome] = total.outcomes.get(outcome, 0) + count


def _names(user_ids: Iterable[int]) -> dict[int, str]:
    users = get_user_model()._default_manager.filter(pk__in=set(user_ids))
    return display_names(users)


def finish_report(report: DailyReport, names: dict[int, str]) -> DailyReport:
    """Names and titles filled in, rows in the order every reader shows them: roles and
    stages as the conveyor runs, people by name, the ledger by stage and amount."""
    stage_index = {ref: number for number, ref in enumerate(stage_order())}
    role_index = {code: number for number, code in enumerate(role_order())}

    def at(ref: str) -> int:
        return stage_index.get(ref, len(stage_index))

    for person in report.people:
        person.name = names.get(person.user_id, str(person.user_id))
    for share in report.ledger:
        share.name = names.get(share.user_id, str(share.user_id))
        share.title = stage_title(share.node)
    for transition in report.transitions:
        transition.from_title = stage_title(transition.from_node)
        transition.to_title = stage_title(transition.to_node)
    report.roles.sort(key=lambda r: (role_index.get(r.key, len(role_index)), r.key))
    report.stages.sort(key=lambda s: (at(s.key), s.key))
    report.people.sort(key=lambda p: (p.name.lower(), p.user_id))
    report.transitions.sort(key=lambda t: (at(t.from_node), at(t.to_node), t.from_node, t.to_node))
    report.ledger.sort(key=lambda s: (at(s.node), -s.amount, s.name.lower(), s.user_id))
    return report
