"""Credit from the trail: who earns what for one deal, as pure arithmetic over its facts.

The facts (``DealTrail``) are read from the audit trail, the tasks and the orders by
``salesflow.pay.trail``; this module turns them into pay lines under the plan in force
on each line's day, with no database access, so that every rule is testable alone.

The rounding rule (stated once, proved in the tests on 10,000 random deals): a deal's
commissionable amount (the order's amount after discount, rounded half-up to the kopeck)
is split between the stages by the plan's percentages, and each stage's share between its
people by their weights, with the **largest-remainder method to the kopeck**: everyone gets
the share rounded down to the kopeck, and the kopecks left over go one each to the largest
remainders (ties: the earlier stage in the plan, then the lower user id). The shares
therefore sum to exactly the commissionable amount. A line's pay (share x rate, advances,
referral) is rounded half-up to the kopeck on its own, and a statement's total is the sum
of its lines' rounded figures, so totals and lines agree to the kopeck.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cache
from math import lcm
from typing import TypeVar

from .plans import EVEN, HUNDRED, PayPlan

KOPECK = Decimal("0.01")
K = TypeVar("K", bound=Hashable)

CREDIT, ADVANCE, CLAWBACK, REFERRAL, ADJUSTMENT, BASE = (
    "credit",
    "advance",
    "clawback",
    "referral",
    "adjustment",
    "base",
)


def kopecks(value: Decimal) -> Decimal:
    """Half-up to the kopeck: how every single figure of a line is rounded."""
    return value.quantize(KOPECK, rounding=ROUND_HALF_UP)


def split_amount(amount: Decimal, weights: Sequence[tuple[K, Fraction]]) -> dict[K, Decimal]:
    """``amount`` (whole kopecks) split in proportion to ``weights`` by the largest
    remainder: the parts sum to exactly ``amount``. Keys of weight 0 get nothing; ties
    go to the earlier key in ``weights``."""
    cents = int((amount / KOPECK).to_integral_value(rounding=ROUND_DOWN))
    if Decimal(cents) * KOPECK != amount:
        raise ValueError(f"{amount} is not a whole number of kopecks")
    keys = [key for key, _ in weights]
    parts = _split_cents(cents, _whole_weights(tuple(weight for _, weight in weights)))
    result: dict[K, Decimal] = {}
    for key, part in zip(keys, parts, strict=True):
        result[key] = result.get(key, Decimal(0)) + Decimal(part) * KOPECK
    return result


@cache
def _whole_weights(weights: tuple[Fraction, ...]) -> tuple[int, ...]:
    """The same proportions as whole numbers (exact: over the common denominator), so the
    split is integer arithmetic -- it runs for every stage of every deal."""
    denominator = lcm(*(weight.denominator for weight in weights)) if weights else 1
    return tuple(int(weight * denominator) for weight in weights)


def _split_cents(cents: int, weights: tuple[int, ...]) -> list[int]:
    total = sum(weights)
    if total <= 0:
        return [0] * len(weights)
    parts = [cents * weight // total for weight in weights]
    left = cents - sum(parts)
    if left:
        # the largest remainders first, ties to the earlier key
        order = sorted(range(len(weights)), key=lambda i: (-(cents * weights[i] % total), i))
        for index in order[:left]:
            parts[index] += 1
    return parts


@dataclass(slots=True)
class Completion:
    """A stage completed forward (not a task sent back by a bounce or a rejection)."""

    node: str
    task_id: int
    owner_id: int | None
    finished: datetime
    holders: tuple[int, ...] = ()  # everyone who held the task, first to last


@dataclass(slots=True)
class DealTrail:
    """What the trail says about one deal."""

    process_id: int
    client: str  # the company's name only
    flow: str  # the flow's reference ("conveyor")
    amount: Decimal  # commissionable: after discount, to the kopeck
    repeat: bool = False  # a repeat order or a reactivation
    referrer_id: int | None = None  # who entered the lead by hand
    completions: tuple[Completion, ...] = ()  # in the order they finished
    delivered: datetime | None = None  # the first forward completion of the delivery
    ended: datetime | None = None  # finished or cancelled without a delivery
    # the completions by stage, worked out on the first ``of`` (asked for every share)
    _nodes: dict[str, list[Completion]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # the amount between the stages under the last plan asked for (credit and advances
    # both ask, mostly under the same plan)
    _amounts: tuple[PayPlan, dict[str, Decimal]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def of(self, node: str) -> list[Completion]:
        """The stage's forward completions, in the order they finished."""
        if self._nodes is None:
            self._nodes = {}
            for completion in self.completions:
                self._nodes.setdefault(completion.node, []).append(completion)
        return self._nodes.get(node, [])


@dataclass(slots=True)
class Share:
    node: str
    user_id: int | None  # None: a stage nobody carried (the company keeps it)
    amount: Decimal
    bounced: bool = False  # part of it moved by a bounce


def stage_shares(deal: DealTrail, plan: PayPlan) -> list[Share]:
    """The deal's commissionable amount split between stages and people (see the module's
    rounding rule): the stages by the plan's split; in a stage, the first forward
    completion earns it (all to its completer, or evenly among everyone who held the task
    when the plan's ``reassigned`` rule is "even"); each later completion is a redo after
    a bounce, which moves the plan's bounce cost from the person whose work was sent back
    to the person who redid it. The shares sum to exactly ``deal.amount``."""
    shares: list[Share] = []
    for node, amount in _stage_amounts(deal, plan).items():
        shares.extend(_node_shares(node, deal.of(node), amount, plan))
    return shares


def _node_shares(
    node: str, done: Sequence[Completion], amount: Decimal, plan: PayPlan
) -> list[Share]:
    """One stage's amount between its people (see ``stage_shares``)."""
    if len(done) == 1 and done[0].owner_id is not None and plan.reassigned != EVEN:
        return [Share(node=node, user_id=done[0].owner_id, amount=amount)]  # the usual case
    weights = _stage_weights(done, plan)
    if not weights:
        return [Share(node=node, user_id=None, amount=amount)]
    people = split_amount(amount, sorted(weights.items(), key=lambda item: item[0]))
    return [
        Share(node=node, user_id=user_id, amount=people[user_id], bounced=len(done) > 1)
        for user_id in sorted(weights)
    ]


# (plan, flow, repeat) -> the plan (kept, so its id is not reused), the stages, their
# weights in whole numbers: worked out once per plan, not for every deal
_SPLITS: dict[tuple[int, str, bool], tuple[PayPlan, tuple[str, ...], tuple[int, ...]]] = {}


def _stage_amounts(deal: DealTrail, plan: PayPlan) -> dict[str, Decimal]:
    """The deal's amount between the stages of its split (largest remainder)."""
    if deal._amounts is not None and deal._amounts[0] is plan:
        return deal._amounts[1]
    key = (id(plan), deal.flow, deal.repeat)
    known = _SPLITS.get(key)
    if known is None or known[0] is not plan:
        split = plan.split_for(deal.flow, repeat=deal.repeat)
        weights = _whole_weights(tuple(Fraction(percent) for percent in split.values()))
        known = _SPLITS[key] = (plan, tuple(split), weights)
    _, nodes, weights = known
    cents = int((deal.amount / KOPECK).to_integral_value(rounding=ROUND_DOWN))
    if Decimal(cents) * KOPECK != deal.amount:
        raise ValueError(f"{deal.amount} is not a whole number of kopecks")
    parts = _split_cents(cents, weights)
    amounts = {node: Decimal(part) * KOPECK for node, part in zip(nodes, parts, strict=True)}
    deal._amounts = (plan, amounts)
    return amounts


def _stage_weights(done: Sequence[Completion], plan: PayPlan) -> dict[int, Fraction]:
    if not done:
        return {}
    first = done[0]
    holders = first.holders if plan.reassigned == EVEN and first.holders else ()
    people = tuple(dict.fromkeys(holders)) or ((first.owner_id,) if first.owner_id else ())
    if not people:
        return {}
    weights = {person: Fraction(1, len(people)) for person in people}
    cost = Fraction(plan.bounce_cost) / 100
    for previous, redo in zip(done, done[1:], strict=False):
        sent_back, redoer = previous.owner_id, redo.owner_id
        if sent_back is None or redoer is None or sent_back == redoer:
            continue
        moved = min(cost, weights.get(sent_back, Fraction(0)))
        weights[sent_back] = weights.get(sent_back, Fraction(0)) - moved
        weights[redoer] = weights.get(redoer, Fraction(0)) + moved
    return {person: weight for person, weight in weights.items() if weight > 0}


@dataclass(slots=True)
class PayLine:
    """One line of a statement: a deal's stage (or referral, advance, clawback,
    adjustment, base) for one person."""

    user_id: int
    kind: str
    at: datetime
    process_id: int | None = None
    client: str = ""
    node: str = ""
    amount: Decimal = Decimal(0)  # the deal's commissionable amount
    share: Decimal = Decimal(0)  # the part of it credited to the person
    rate: Decimal = Decimal(0)  # percent
    commission: Decimal = Decimal(0)  # share x rate
    advance: Decimal = Decimal(0)  # advanced earlier, settled on this line
    pay: Decimal = Decimal(0)  # what this line adds to the statement
    plan: str = ""
    note: str = ""


# rate(plan, user_id, node) -> percent
Rate = Callable[[PayPlan, int, str], Decimal]
PlanFor = Callable[[datetime], "PayPlan | None"]


def deal_lines(
    deal: DealTrail, *, plan_for: PlanFor, rate: Rate, start: datetime, end: datetime
) -> list[PayLine]:
    """The pay lines a deal produces in ``[start, end)``, each under the plan in force on
    its own day:

    - credit: a stage's share once the deal is delivered (a stage done after the delivery,
      such as the follow-up, when it is done), less what was advanced for it;
    - advance: part of the ``advance.stage`` commission when ``advance.on`` is first done;
    - clawback: that advance back, when the deal ends undelivered within the window;
    - referral: the plan's share of the amount to whoever entered the lead by hand (new
      deals only), on delivery.
    """
    lines: list[PayLine] = []
    advances = _advances(deal, plan_for=plan_for, rate=rate)
    if deal.delivered is not None and (plan := plan_for(deal.delivered)) is not None:
        for share in stage_shares(deal, plan):
            done = deal.of(share.node)
            if share.user_id is None or not done:
                continue
            at = max(deal.delivered, done[-1].finished)
            if not start <= at < end:
                continue
            percent = rate(plan, share.user_id, share.node)
            commission = kopecks(share.amount * percent / HUNDRED)
            advanced = advances.get((share.node, share.user_id))
            settled = advanced.pay if advanced and advanced.at <= deal.delivered else Decimal(0)
            lines.append(
                PayLine(
                    user_id=share.user_id,
                    kind=CREDIT,
                    at=at,
                    process_id=deal.process_id,
                    client=deal.client,
                    node=share.node,
                    amount=deal.amount,
                    share=share.amount,
                    rate=percent,
                    commission=commission,
                    advance=settled,
                    pay=commission - settled,
                    plan=plan.code,
                    note="bounce" if share.bounced else "",
                )
            )
        if (
            deal.referrer_id is not None
            and not deal.repeat
            and plan.referral
            and start <= deal.delivered < end
        ):
            referral = kopecks(deal.amount * plan.referral / HUNDRED)
            lines.append(
                PayLine(
                    user_id=deal.referrer_id,
                    kind=REFERRAL,
                    at=deal.delivered,
                    process_id=deal.process_id,
                    client=deal.client,
                    amount=deal.amount,
                    share=deal.amount,
                    rate=plan.referral,
                    commission=referral,
                    pay=referral,
                    plan=plan.code,
                )
            )
    for advance in advances.values():
        if start <= advance.at < end:
            lines.append(advance)
        if deal.delivered is None and deal.ended is not None:
            window = _plan_window(advance, plan_for)
            if (
                window is not None
                and deal.ended - advance.at <= window
                and start <= deal.ended < end
            ):
                lines.append(
                    replace(
                        advance,
                        kind=CLAWBACK,
                        at=deal.ended,
                        pay=-advance.pay,
                        advance=-advance.pay,
                    )
                )
    return lines


def _plan_window(advance: PayLine, plan_for: PlanFor) -> timedelta | None:
    plan = plan_for(advance.at)
    return plan.advance.clawback_within if plan and plan.advance else None


def _advances(deal: DealTrail, *, plan_for: PlanFor, rate: Rate) -> dict[tuple[str, int], PayLine]:
    """The advances the deal earned (whenever), by (stage, person)."""
    result: dict[tuple[str, int], PayLine] = {}
    # the plan is the one in force when the order is placed
    first_on: Completion | None = None
    for completion in deal.completions:
        plan = plan_for(completion.finished)
        if plan is not None and plan.advance is not None and completion.node == plan.advance.on:
            first_on = completion
            break
    if first_on is None:
        return {}
    if deal.delivered is not None and deal.delivered < first_on.finished:
        return {}
    plan = plan_for(first_on.finished)
    assert plan is not None and plan.advance is not None
    stage = plan.advance.stage
    amounts = _stage_amounts(deal, plan)
    if stage not in amounts:
        return {}  # a repeat order's split without the hunter's stage: nothing to advance
    done = [c for c in deal.of(stage) if c.finished <= first_on.finished]
    for share in _node_shares(stage, done, amounts[stage], plan):
        if share.user_id is None or share.amount <= 0:
            continue
        percent = rate(plan, share.user_id, stage)
        commission = kopecks(share.amount * percent / HUNDRED)
        pay = kopecks(commission * plan.advance.part / HUNDRED)
        if not pay:
            continue
        result[(stage, share.user_id)] = PayLine(
            user_id=share.user_id,
            kind=ADVANCE,
            at=first_on.finished,
            process_id=deal.process_id,
            client=deal.client,
            node=stage,
            amount=deal.amount,
            share=share.amount,
            rate=percent,
            commission=commission,
            pay=pay,
            plan=plan.code,
        )
    return result


def totals(lines: Collection[PayLine]) -> dict[int, Decimal]:
    """Each person's total: the sum of their lines' pay (already to the kopeck)."""
    result: dict[int, Decimal] = {}
    for line in lines:
        result[line.user_id] = result.get(line.user_id, Decimal(0)) + line.pay
    return result


def node_rates(
    node_roles: Mapping[str, Collection[str]], person_roles: Mapping[int, Collection[str]]
) -> Rate:
    """The commission rate of a person at a stage: the best rate among their roles that
    perform the stage, else among all their roles (a team lead who stepped in)."""

    known: dict[tuple[str, int, str], Decimal] = {}

    def rate(plan: PayPlan, user_id: int, node: str) -> Decimal:
        key = (plan.code, user_id, node)
        if key not in known:
            mine = person_roles.get(user_id, ())
            performing = [code for code in mine if code in node_roles.get(node, ())]
            known[key] = plan.commission_for(performing or mine)
        return known[key]

    return rate
