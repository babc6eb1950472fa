"""Reading the daily report: computing a day's figures, and reading stored snapshots as
plain data (the page, the exports, the e-mail and the API all read ``DailyReport``).

``day_figures(day=...)`` computes a day from the database with the fixed set of aggregate
queries in ``queries``; ``daily_report(day=...)`` reads the stored snapshot in a fixed
number of queries. Both return the same ``DailyReport``, so a stored day can be checked
against a fresh computation field by field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max, Min, Prefetch
from django.utils import timezone
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from viewflow.workflow.fields import get_task_ref

from salesflow.clients.models import Lead
from salesflow.conveyor.registry import flows, handoff_target, human_nodes, node_ref
from salesflow.conveyor.stage import is_stage
from salesflow.exceptions import NotPermitted
from salesflow.models import VIEW_REPORTS
from salesflow.roles import get_roles

from . import queries
from .exceptions import ReportNotFound
from .models import (
    AGE_BUCKET_EDGES,
    Contribution,
    PersonFigures,
    ReportRecipient,
    RoleFigures,
    Snapshot,
)

AGE_BUCKETS = len(AGE_BUCKET_EDGES) + 1
APPROVED, REJECTED = "approved", "rejected"


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


# --- the configuration the figures are grouped by ----------------------------------------------


@cache
def stage_order() -> tuple[str, ...]:
    """Stage node references in the order their flows declare them (the conveyor's)."""
    nodes = human_nodes()
    order = []
    for flow_class in flows():
        for name in vars(flow_class):
            node = flow_class.instance.node(name)
            if is_stage(node) and node_ref(node) in nodes:
                order.append(node_ref(node))
    return tuple(order)


def role_order() -> tuple[str, ...]:
    """Role codes by the first conveyor stage they perform (those with none last)."""
    stages = {ref: number for number, ref in enumerate(stage_order())}
    roles = get_roles()
    return tuple(
        sorted(
            roles,
            key=lambda code: (
                min((stages.get(n, 999) for n in roles[code].nodes), default=999),
                code,
            ),
        )
    )


def stage_title(ref: str) -> str:
    node = human_nodes().get(ref)
    return str(node.task_title) if node is not None else ref


def role_title(code: str) -> str:
    role = get_roles().get(code)
    return role.title_for((get_language() or "en")[:2]) if role is not None else code


def outcome_label(outcome: str) -> str:
    """A stage outcome as people read it: a lead's status ("Qualified"), an approval's
    decision, or else the label of the stage form's choice."""
    if outcome == APPROVED:
        return _("approved")
    if outcome == REJECTED:
        return _("rejected")
    if outcome in Lead.Status.values:
        return str(Lead.Status(outcome).label)
    for node in human_nodes().values():
        field_ = getattr(node.form_class, "base_fields", {}).get("outcome")
        for value, label in getattr(field_, "choices", ()):
            if value == outcome:
                return str(label)
    return outcome


def report_layout() -> queries.Layout:
    """The stages, roles, approvals and delivery stage of the configured flows."""
    nodes = human_nodes()
    delivery = settings.SALESFLOW_DELIVERY_NODE
    return queries.Layout(
        stages=tuple((get_task_ref(node), ref) for ref, node in nodes.items()),
        roles=tuple(
            (get_task_ref(nodes[stage.node]), role.code)
            for role in get_roles().values()
            for stage in role.stages
            if stage.node in nodes
        ),
        approvals=tuple(ref for ref, node in nodes.items() if node.is_approval),
        delivery=get_task_ref(nodes[delivery]) if delivery in nodes else delivery,
    )


def handoff_transitions() -> list[tuple[str, str]]:
    """Every (from, to) a stage's handoff template declares, in conveyor order."""
    nodes = human_nodes()
    result = []
    for ref in stage_order():
        node = nodes[ref]
        target = handoff_target(node)
        if target is not None:
            result.append((ref, node_ref(target)))
    return result


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in settings.TIME_ZONE (23 or 25 hours
    long on the days the clocks change)."""
    zone = timezone.get_default_timezone()
    return (
        timezone.make_aware(datetime.combine(day, time.min), zone),
        timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min), zone),
    )


def data_start() -> date | None:
    """The first day with conveyor data (the first stage task's), or None if none yet."""
    first = queries.first_task_created()
    return timezone.localdate(first) if first is not None else None


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
        for code, role in self.roles.items():
            for ref in get_roles()[code].nodes:
                if ref in self.stages:
                    _add_done(role, self.stages[ref])
        names = _names({*self.people, *(share.user_id for share in self.ledger)})
        return _finish(
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

    def contributions(self) -> None:
        delivery = settings.SALESFLOW_DELIVERY_NODE
        for share in queries.contributions(self.window):
            amount = Decimal(str(share.amount or 0)).quantize(Decimal("0.01"))
            self.ledger.append(
                LedgerRow(
                    user_id=share.user_id,
                    name="",
                    node=share.node,
                    title="",
                    orders=share.orders,
                    amount=amount,
                )
            )
            if share.node == delivery:
                self.delivered += share.orders
                self.delivered_amount += amount


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
    return {user.pk: user.get_full_name() or user.get_username() for user in users}


def _finish(report: DailyReport, names: dict[int, str]) -> DailyReport:
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
_TRANSITION_FIELDS = tuple(
    f.name for f in fields(TransitionRow) if f.name not in ("from_title", "to_title")
)


def _stored(snapshot: Snapshot) -> DailyReport:
    """A stored snapshot (its rows prefetched) as the report ``day_figures`` computes."""

    def copy(row: Any, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: getattr(row, name) for name in names}

    users = [row.user for row in snapshot.people.all()]
    users += [row.user for row in snapshot.contributions.all()]
    names = {user.pk: user.get_full_name() or user.get_username() for user in users}
    return _finish(
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
                PersonRow(user_id=row.user_id, **copy(row, _WORK_FIELDS))
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


def key_figures(
    report: DailyReport, day_before: DailyReport | None, week_before: DailyReport | None
) -> list[KeyFigure]:
    """The headline figures of ``report`` beside the same figures of the other two."""

    def figures(r: DailyReport | None) -> list[Any]:
        if r is None:
            return [None] * 11
        t = r.totals
        oldest = None if t.oldest_age_seconds is None else round(t.oldest_age_seconds / 3600, 1)
        return [
            t.open, t.unassigned, t.in_work, t.stalled, t.sla_breaches, oldest, t.created,
            t.completed, t.bounces_received, r.orders_delivered, r.delivered_amount,
        ]  # fmt: skip

    labels = [
        _("Open at the end of the day"), _("Unassigned"), _("In work"), _("Stalled"),
        _("SLA breaches"), _("Oldest open work, h"), pgettext("report", "Created"), _("Completed"),
        _("Bounces"), _("Orders delivered"), _("Amount delivered"),
    ]  # fmt: skip
    return [
        KeyFigure(label, *values)
        for label, *values in zip(
            labels, figures(report), figures(day_before), figures(week_before), strict=True
        )
    ]


# --- who may read it --------------------------------------------------------------------------


def can_read_reports(user: Any) -> bool:
    """Team leads (the ``salesflow.view_reports`` permission) and admins."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(VIEW_REPORTS))


@dataclass(frozen=True)
class ReportOverview:
    """What the report page shows: the day, the day before and the same day a week
    before, and the queue depth over the last 30 days."""

    report: DailyReport
    day_before: DailyReport | None
    week_before: DailyReport | None
    trend: QueueTrend
    first_day: date | None
    last_day: date | None


def access_report_overview(*, user: Any, day: date | None = None) -> ReportOverview:
    """The report page's data for ``user``: ``day`` (default: the latest stored).

    NotPermitted for anyone but team leads and admins; ReportNotFound when the day has
    no stored report (its message names the days that have one)."""
    if not can_read_reports(user):
        raise NotPermitted(_("The daily report is for team leads and admins."))
    first, last = stored_days()
    if last is None:
        raise ReportNotFound(
            _(
                "There is no daily report yet: the first is built the morning after the "
                "first day of work."
            )
        )
    day = day or last
    reports = daily_reports(days=[day, day - timedelta(days=1), day - timedelta(days=7)])
    if day not in reports:
        raise ReportNotFound(
            _("There is no report for %(day)s. Reports exist from %(first)s to %(last)s.")
            % {"day": day.isoformat(), "first": str(first), "last": last.isoformat()}
        )
    return ReportOverview(
        report=reports[day],
        day_before=reports.get(day - timedelta(days=1)),
        week_before=reports.get(day - timedelta(days=7)),
        trend=queue_trend(last_day=day),
        first_day=first,
        last_day=last,
    )


def access_daily_report(*, user: Any, day: date) -> DailyReport:
    """A stored day's report for ``user`` (an export, the API): NotPermitted or
    ReportNotFound as ``access_report_overview``."""
    if not can_read_reports(user):
        raise NotPermitted(_("The daily report is for team leads and admins."))
    report = daily_report(day=day)
    if report is None:
        raise ReportNotFound(_("There is no report for %(day)s.") % {"day": day.isoformat()})
    return report


def report_recipients() -> list[str]:
    """The addresses the daily e-mail goes to (active recipients, set by an admin)."""
    return list(
        ReportRecipient.objects.filter(active=True)
        .order_by("email")
        .values_list("email", flat=True)
    )
