"""Credit from the trail, as pure arithmetic: the rounding rule proved on 10,000 random
deals, and each rule of the plan (bounce, reassignment, advance, clawback, referral,
repeat orders, a plan change) on a deal small enough to work out by hand."""

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from salesflow.pay.credit import (
    ADVANCE,
    CLAWBACK,
    CREDIT,
    REFERRAL,
    Completion,
    DealTrail,
    deal_lines,
    split_amount,
    stage_shares,
)
from salesflow.pay.plans import Advance, PayPlan, RolePay, plan_for

UTC = datetime.now().astimezone().tzinfo
NODES = ("c.qualify", "c.order", "c.documents", "c.delivery", "c.follow_up")
SPLIT = dict(zip(NODES, map(Decimal, ("30", "40", "10", "10", "10")), strict=True))


def plan(**changes) -> PayPlan:
    base = PayPlan(
        code="p",
        path="p.toml",
        title={"en": "p"},
        effective_from=date(2020, 1, 1),
        effective_until=None,
        roles={"r": RolePay(base=Decimal(0), commission=Decimal(10))},
        splits={"c": SPLIT},
        repeat_splits={"c": {"c.order": Decimal(70), "c.documents": Decimal(30)}},
        advance=Advance(
            stage="c.qualify", on="c.order", part=Decimal(50), clawback_within=timedelta(days=30)
        ),
        referral=Decimal("0.5"),
        bounce_cost=Decimal(20),
    )
    return replace(base, **changes)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, 1, hour, tzinfo=UTC) + timedelta(days=day - 1)


def done(node: str, owner: int, day: int, *holders: int, task: int = 0) -> Completion:
    return Completion(node=node, task_id=task, owner_id=owner, finished=at(day), holders=holders)


def ten_percent(_plan, _user, _node):
    return Decimal(10)


def lines_of(deal, plans=None, start=None, end=None):
    plans = plans or [plan()]
    start, end = start or at(1, 0), end or at(32, 0)
    return deal_lines(
        deal,
        plan_for=lambda moment: plan_for(moment.date(), plans),
        rate=ten_percent,
        start=start,
        end=end,
    )


def test_split_amount_gives_the_leftover_kopecks_to_the_largest_remainders():
    thirds = split_amount(
        Decimal("100.00"), [("a", Fraction(1)), ("b", Fraction(1)), ("c", Fraction(1))]
    )
    assert thirds == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}
    uneven = split_amount(
        Decimal("0.05"), [("a", Fraction(30)), ("b", Fraction(40)), ("c", Fraction(30))]
    )
    # 1.5, 2 and 1.5 kopecks: the tie of the two halves goes to the earlier stage
    assert uneven == {"a": Decimal("0.02"), "b": Decimal("0.02"), "c": Decimal("0.01")}
    with pytest.raises(ValueError, match="whole number of kopecks"):
        split_amount(Decimal("1.005"), [("a", Fraction(1))])


def test_on_10000_random_deals_the_shares_sum_to_exactly_the_amount():
    """The rounding rule: largest remainder to the kopeck, between stages and then between
    people -- no drift, whatever the split, the people, the bounces and reassignments."""
    rng = random.Random(14)
    for _ in range(10_000):
        nodes = NODES[: rng.randint(1, len(NODES))]
        cuts = sorted(rng.sample(range(1, 10_000), len(nodes) - 1))
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, 10_000], strict=True)]
        split = {node: Decimal(part) / 100 for node, part in zip(nodes, parts, strict=True)}
        assert sum(split.values()) == 100
        completions = []
        day = 1
        for node in nodes:
            if rng.random() < 0.1:
                continue  # a stage nobody carried: its share stays with the company
            for _ in range(rng.choice((1, 1, 1, 2, 3))):  # redone after bounces
                people = rng.sample(range(1, 9), rng.choice((1, 1, 2, 3)))
                completions.append(done(node, people[-1], day, *people))
                day += 1
        deal = DealTrail(
            process_id=1,
            client="X",
            flow="c",
            amount=Decimal(rng.randint(0, 10**9)) / 100,
            completions=tuple(completions),
        )
        chosen = plan(
            splits={"c": split},
            bounce_cost=Decimal(rng.randint(0, 10_000)) / 100,
            reassigned=rng.choice(("completer", "even")),
        )
        shares = stage_shares(deal, chosen)
        assert sum(share.amount for share in shares) == deal.amount
        assert all(share.amount >= 0 for share in shares)
        assert all(share.amount == share.amount.quantize(Decimal("0.01")) for share in shares)


def test_a_plain_delivered_deal_pays_each_stage_its_share_once_delivered():
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("1000.00"),
        completions=(
            done("c.qualify", 1, 2),
            done("c.order", 2, 3),
            done("c.documents", 3, 4),
            done("c.delivery", 4, 5),
        ),
        delivered=at(5),
    )
    lines = lines_of(deal)
    credit = {(line.user_id, line.node): line for line in lines if line.kind == CREDIT}
    assert {key: line.share for key, line in credit.items()} == {
        (1, "c.qualify"): Decimal("300.00"),
        (2, "c.order"): Decimal("400.00"),
        (3, "c.documents"): Decimal("100.00"),
        (4, "c.delivery"): Decimal("100.00"),
    }
    # the hunter was advanced half of 30.00 when the order was placed; the rest on delivery
    (advance,) = [line for line in lines if line.kind == ADVANCE]
    assert (advance.user_id, advance.pay, advance.at) == (1, Decimal("15.00"), at(3))
    assert credit[(1, "c.qualify")].commission == Decimal("30.00")
    assert credit[(1, "c.qualify")].pay == Decimal("15.00")
    assert credit[(2, "c.order")].pay == Decimal("40.00")
    # the follow-up is not done yet: its share is not credited yet
    assert not [line for line in lines if line.node == "c.follow_up"]


def test_a_stage_done_after_the_delivery_is_credited_when_it_is_done():
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("1000.00"),
        completions=(done("c.order", 2, 3), done("c.delivery", 4, 5), done("c.follow_up", 2, 40)),
        delivered=at(5),
    )
    march = lines_of(deal)
    april = lines_of(deal, start=at(32, 0), end=at(62, 0))
    assert "c.follow_up" not in {line.node for line in march}
    assert [(line.node, line.share) for line in april] == [("c.follow_up", Decimal("100.00"))]


def test_a_bounce_moves_the_plans_cost_from_the_sent_back_to_the_redoer():
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("1000.00"),
        completions=(done("c.order", 2, 3), done("c.order", 5, 4), done("c.delivery", 4, 5)),
        delivered=at(5),
    )
    shares = {(s.node, s.user_id): s.amount for s in stage_shares(deal, plan())}
    assert shares[("c.order", 2)] == Decimal("320.00")  # 400 less 20 %
    assert shares[("c.order", 5)] == Decimal("80.00")
    # redone by the same person: nothing moves
    same = replace(deal, completions=(done("c.order", 2, 3), done("c.order", 2, 4)))
    assert {(s.node, s.user_id): s.amount for s in stage_shares(same, plan())}[
        ("c.order", 2)
    ] == Decimal("400.00")


def test_a_reassigned_stage_goes_to_its_completer_unless_the_plan_says_even():
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("100.00"),
        completions=(done("c.qualify", 3, 2, 1, 2, 3),),
    )
    by_completer = {
        s.user_id: s.amount for s in stage_shares(deal, plan()) if s.node == "c.qualify"
    }
    assert by_completer == {3: Decimal("30.00")}
    even = {
        s.user_id: s.amount
        for s in stage_shares(deal, plan(reassigned="even"))
        if s.node == "c.qualify"
    }
    assert even == {1: Decimal("10.00"), 2: Decimal("10.00"), 3: Decimal("10.00")}


def test_an_advance_is_clawed_back_when_the_deal_ends_undelivered_within_the_window():
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("1000.00"),
        completions=(done("c.qualify", 1, 2), done("c.order", 2, 3)),
        ended=at(20),
    )
    kinds = [(line.kind, line.user_id, line.pay) for line in lines_of(deal)]
    assert kinds == [(ADVANCE, 1, Decimal("15.00")), (CLAWBACK, 1, Decimal("-15.00"))]
    late = replace(deal, ended=at(3) + timedelta(days=31))
    assert [line.kind for line in lines_of(late, end=at(80))] == [ADVANCE]


def test_a_repeat_order_has_no_hunter_share_and_no_referral():
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("1000.00"),
        repeat=True,
        referrer_id=9,
        completions=(done("c.order", 2, 3), done("c.documents", 3, 4), done("c.delivery", 4, 5)),
        delivered=at(5),
    )
    lines = lines_of(deal)
    assert {(line.node, line.share) for line in lines} == {
        ("c.order", Decimal("700.00")),
        ("c.documents", Decimal("300.00")),
    }
    new = replace(deal, repeat=False)
    (referral,) = [line for line in lines_of(new) if line.kind == REFERRAL]
    assert (referral.user_id, referral.pay) == (9, Decimal("5.00"))


def test_a_plan_change_applies_from_its_day_and_never_rewrites_what_came_before():
    old = plan(effective_until=date(2026, 3, 15))
    new = plan(
        code="new",
        effective_from=date(2026, 3, 16),
        roles={"r": RolePay(base=Decimal(0), commission=Decimal(20))},
    )
    deal = DealTrail(
        process_id=7,
        client="Acme",
        flow="c",
        amount=Decimal("1000.00"),
        completions=(done("c.qualify", 1, 2), done("c.order", 2, 3), done("c.delivery", 4, 20)),
        delivered=at(20),
    )
    rate = lambda p, _u, _n: p.roles["r"].commission  # noqa: E731
    lines = deal_lines(
        deal,
        plan_for=lambda moment: plan_for(moment.date(), [old, new]),
        rate=rate,
        start=at(1, 0),
        end=at(32, 0),
    )
    advance = next(line for line in lines if line.kind == ADVANCE)
    credit = next(line for line in lines if line.kind == CREDIT and line.node == "c.qualify")
    assert (advance.plan, advance.pay) == ("p", Decimal("15.00"))  # 50 % of 10 % of 300
    assert (credit.plan, credit.commission, credit.pay) == (
        "new",
        Decimal("60.00"),
        Decimal("45.00"),
    )
