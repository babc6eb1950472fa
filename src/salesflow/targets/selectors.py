"""Scorecards: a person's targets for a period beside what the engine measured, the team
grid, and the weighted attainment the pay plans read.

Every figure comes from ``measures``; each measure is computed once for everyone a page
shows (the grid sends the same handful of queries for 5 people or 50). A target's
attainment is ``actual / target`` (for a measure where lower is better, ``target /
actual``, and 100 % at or under the target), capped at ``ATTAINMENT_CAP`` so that one
figure far over its target cannot hide another far under; the weighted attainment is the
weighted mean over the period's targets of every role the person holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from salesflow.activities.models import Activity
from salesflow.audit.models import AuditEvent
from salesflow.people import display_name, display_names
from salesflow.roles import Target, get_roles, roles_of

from .measures import ACTIVITY_KINDS, CARRIED, FINISHED, HIGHER, MEASURES, Measure, compute_all
from .models import Goal
from .periods import Period, local_midnight, periods_back

ATTAINMENT_CAP = Decimal(150)
HUNDRED = Decimal(100)
TREND_PERIODS = 6


def attainment(*, actual: Decimal, target: Decimal, better: str) -> Decimal:
    """One target's attainment in percent (see the module's docstring)."""
    if better == HIGHER:
        value = HUNDRED if target == 0 else actual * HUNDRED / target
    elif actual <= target:
        value = HUNDRED
    else:
        value = target * HUNDRED / actual
    return min(value, ATTAINMENT_CAP).quantize(Decimal("0.1"))


def weighted(lines: Iterable[tuple[Decimal, Decimal]]) -> Decimal | None:
    """(weight, attainment) pairs -> their weighted mean; None without any."""
    pairs = list(lines)
    total = sum((weight for weight, _value in pairs), Decimal(0))
    if not total:
        return None
    return (sum((w * a for w, a in pairs), Decimal(0)) / total).quantize(Decimal("0.1"))


def targets_for(user: Any, kind: str) -> list[Target]:
    """The person's targets of a period kind, across their roles (a measure two roles
    both name counts once, with the first role's target)."""
    seen: dict[str, Target] = {}
    for role in roles_of(user):
        for target in role.targets:
            if target.period == kind and target.measure not in seen:
                seen[target.measure] = target
    return list(seen.values())


def compute(
    measures: Iterable[str], users: Sequence[int], start: datetime, end: datetime
) -> dict[str, dict[int, Decimal]]:
    """Each measure once for all ``users`` (measures read together, in one go)."""
    return compute_all(dict.fromkeys(measures, users), start, end)


@dataclass(frozen=True)
class ScoreLine:
    measure: Measure
    target: Decimal
    weight: Decimal
    actual: Decimal
    attainment: Decimal
    trend: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    actual: Decimal | None  # None: ticked by a team lead, not measured
    percent: Decimal
    achieved: bool
    overdue: bool


@dataclass(frozen=True)
class Scorecard:
    person: Any
    name: str
    period: Period
    lines: tuple[ScoreLine, ...]
    attainment: Decimal | None
    goals: tuple[GoalProgress, ...] = field(default=())


def _lines(
    targets: Sequence[Target], user_id: int, figures: dict[str, dict[int, Decimal]]
) -> list[ScoreLine]:
    lines = []
    for target in targets:
        measure = MEASURES[target.measure]
        actual = figures[target.measure].get(user_id, Decimal(0))
        lines.append(
            ScoreLine(
                measure=measure,
                target=target.target,
                weight=target.weight,
                actual=actual,
                attainment=attainment(actual=actual, target=target.target, better=measure.better),
            )
        )
    return lines


def scorecard(*, person: Any, period: Period, trend: int = TREND_PERIODS) -> Scorecard:
    """One person's scorecard for ``period``: each target of its kind with the figure, the
    attainment and the figures of the ``trend`` periods up to it; their open and recent
    SMART goals. Call through ``access.access_scorecard``."""
    targets = targets_for(person, period.kind)
    codes = [t.measure for t in targets]
    history = periods_back(period, max(trend, 1))
    by_period = {p: compute(codes, [person.pk], p.start, p.end) for p in history}
    current = _lines(targets, person.pk, by_period[period])
    lines = tuple(
        ScoreLine(
            measure=line.measure,
            target=line.target,
            weight=line.weight,
            actual=line.actual,
            attainment=line.attainment,
            trend=tuple(
                (p.label, by_period[p][line.measure.code].get(person.pk, Decimal(0)))
                for p in history
            ),
        )
        for line in current
    )
    return Scorecard(
        person=person,
        name=display_name(person),
        period=period,
        lines=lines,
        attainment=weighted((line.weight, line.attainment) for line in lines),
        goals=tuple(goal_progress(goals=goals_of(person_id=person.pk, around=period.first))),
    )


def team(*, kind: str | None = None) -> list[Any]:
    """The active people holding a role with targets (of ``kind``, if given)."""
    codes = [
        role.code
        for role in get_roles().values()
        if any(kind is None or t.period == kind for t in role.targets)
    ]
    people = list(
        get_user_model()
        ._default_manager.filter(is_active=True, groups__name__in=codes)
        .prefetch_related("groups")
        .distinct()
        .order_by("username")
    )
    for person in people:
        # what roles.user_role_codes would read once per person: from the prefetch instead
        held = frozenset(group.name for group in person.groups.all())
        setattr(person, "_salesflow_roles", held)  # noqa: B010 - roles.user_role_codes cache
    return people


def team_grid(
    *, period: Period, people: Sequence[Any] | None = None, until: datetime | None = None
) -> list[Scorecard]:
    """Everyone's scorecard for ``period`` (no trend, no goals) -- up to ``until`` if that
    is earlier than its end (the daily report's month so far) -- worst attainment first:
    each measure computed once for the whole team. Call through ``access.access_team_grid``."""
    people = team(kind=period.kind) if people is None else people
    targets = {person.pk: targets_for(person, period.kind) for person in people}
    # each measure for the people who have a target on it, not for the whole team
    wanted: dict[str, list[int]] = {}
    for person_id, person_targets in targets.items():
        for target in person_targets:
            wanted.setdefault(target.measure, []).append(person_id)
    end = min(period.end, until) if until is not None else period.end
    figures = compute_all(wanted, period.start, end)
    names = display_names(people)
    cards = []
    for person in people:
        lines = _lines(targets[person.pk], person.pk, figures)
        cards.append(
            Scorecard(
                person=person,
                name=names[person.pk],
                period=period,
                lines=tuple(lines),
                attainment=weighted((line.weight, line.attainment) for line in lines),
            )
        )
    cards.sort(key=lambda card: (card.attainment is None, card.attainment or 0, card.name))
    return cards


def weighted_attainment(*, user: Any, period: Period) -> Decimal | None:
    """The person's weighted attainment (percent) of their ``period.kind`` targets for
    ``period``, as the pay plans read it (a plan may scale commission by it); None for a
    person whose roles have no targets of that kind."""
    targets = targets_for(user, period.kind)
    if not targets:
        return None
    figures = compute([t.measure for t in targets], [user.pk], period.start, period.end)
    return weighted((line.weight, line.attainment) for line in _lines(targets, user.pk, figures))


# --- SMART goals ---------------------------------------------------------------------------


def goals_of(*, person_id: int, around: date | None = None) -> list[Goal]:
    """A person's goals still running on ``around`` (default today) or ending in the 30
    days before it."""
    day = around or timezone.localdate()
    return list(
        Goal.objects.filter(person_id=person_id, deadline__gte=day.replace(day=1))
        .select_related("set_by", "done_by")
        .order_by("deadline", "id")
    )


def goal_progress(*, goals: Iterable[Goal]) -> list[GoalProgress]:
    """Progress of each goal: its measure from its first day to the end of its deadline
    (one computation per goal), or ticked done."""
    today = timezone.localdate()
    result = []
    for goal in goals:
        actual: Decimal | None = None
        if goal.measure:
            start = local_midnight(goal.starts)
            end = local_midnight(goal.deadline + timedelta(days=1))
            actual = MEASURES[goal.measure].compute([goal.person_id], start, end)[goal.person_id]
            better = MEASURES[goal.measure].better
            percent = attainment(actual=actual, target=goal.target, better=better)
            achieved = percent >= HUNDRED
        else:
            achieved = goal.done is not None
            percent = HUNDRED if achieved else Decimal(0)
        result.append(
            GoalProgress(
                goal=goal,
                actual=actual,
                percent=min(percent, HUNDRED),
                achieved=achieved,
                overdue=not achieved and goal.deadline < today,
            )
        )
    return result


# --- what counts toward a figure -----------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    when: datetime
    what: str
    client_id: int | None
    client: str
    task_id: int | None
    process_id: int | None


EVIDENCE_LIMIT = 200


def evidence(*, person: Any, code: str, period: Period) -> list[Evidence]:
    """The activities or stage events behind a person's figure of ``code`` (newest first,
    at most ``EVIDENCE_LIMIT``). Call through ``access.access_scorecard``."""
    measure = MEASURES[code]
    start, end = period.start, period.end
    if measure.evidence == "activities":
        activities = (
            Activity.objects.filter(
                author=person, kind=ACTIVITY_KINDS[code], occurred__gte=start, occurred__lt=end
            )
            .select_related("client")
            .order_by("-occurred", "-id")[:EVIDENCE_LIMIT]
        )
        return [
            Evidence(
                when=a.occurred,
                what=a.subject or a.get_kind_display(),
                client_id=a.client_id,
                client=str(a.client) if a.client else "",
                task_id=a.task_id,
                process_id=None,
            )
            for a in activities
        ]
    events = AuditEvent.objects.filter(actor=person, created__gte=start, created__lt=end)
    if measure.evidence == "bounces":
        events = AuditEvent.objects.filter(
            action=AuditEvent.Action.HANDOFF,
            actor=person,
            created__lt=end,
        ).filter(
            Exists(
                AuditEvent.objects.filter(
                    process_id=OuterRef("process_id"),
                    action=AuditEvent.Action.BOUNCE,
                    created__gte=start,
                    created__lt=end,
                )
            )
        )
    elif measure.evidence == "deliveries":
        events = events.model.objects.filter(
            actor=person,
            action__in=CARRIED,
            process__lead__order__delivered__gte=start,
            process__lead__order__delivered__lt=end,
        )
    else:
        events = events.filter(action__in=FINISHED)
    rows = events.select_related("client").order_by("-created", "-id")[:EVIDENCE_LIMIT]
    return [
        Evidence(
            when=e.created,
            what=e.get_action_display(),
            client_id=e.client_id,
            client=str(e.client) if e.client else "",
            task_id=e.task_id,
            process_id=e.process_id,
        )
        for e in rows
    ]
