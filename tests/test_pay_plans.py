"""Pay plans: the shipped plan is read exactly; every mistake is refused with the file,
the key and the reason, and stops the start-up."""

import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from salesflow.conveyor.registry import node_permissions
from salesflow.pay.plans import (
    PayPlanError,
    check_plans,
    get_plans,
    plan_for,
    read_plan_files,
)
from salesflow.roles import get_roles

SHIPPED = Path(__file__).resolve().parent.parent / "roles" / "pay" / "standard.toml"
PLAN = SHIPPED.read_text(encoding="utf-8")


def write(directory: Path, **files: str) -> Path:
    for name, text in files.items():
        (directory / f"{name}.toml").write_text(text, encoding="utf-8")
    return directory


def refused(directory: Path) -> PayPlanError:
    with pytest.raises(PayPlanError) as caught:
        plans = read_plan_files(directory)
        check_plans(plans, nodes=node_permissions(), roles=get_roles())
    return caught.value


def test_the_shipped_plan_is_read_as_exact_decimals_and_fits_the_flows():
    (plan,) = get_plans()
    check_plans([plan], nodes=node_permissions(), roles=get_roles())
    assert plan.code == "standard"
    assert plan.effective_from == date(2020, 1, 1) and plan.effective_until is None
    assert plan.splits["conveyor"]["conveyor.qualify"] == Decimal("30")
    assert sum(plan.splits["conveyor"].values()) == Decimal(100)
    assert "conveyor.qualify" not in plan.repeat_splits["conveyor"]
    assert plan.roles["hunter"].commission == Decimal("10")
    assert plan.roles["team_lead"].base == Decimal("120000.00")
    assert plan.advance is not None
    assert plan.advance.part == Decimal("50")
    assert plan.advance.clawback_within == timedelta(days=90)
    assert plan.referral == Decimal("0.5") and plan.bounce_cost == Decimal("20")
    assert plan.reassigned == "completer"


def test_a_split_that_is_not_exactly_100_percent_is_refused(tmp_path):
    error = refused(
        write(
            tmp_path,
            p=PLAN.replace('"conveyor.documents" = "10"', '"conveyor.documents" = "10.01"', 1),
        )
    )
    assert error.path.endswith("p.toml")
    assert error.key == "flows.conveyor.split"
    assert "100.01 %" in error.reason


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        (
            'commission = "10"',
            'commission = "-1"',
            "roles.hunter.commission",
            "must not be negative",
        ),
        ('commission = "10"\n', "\n", "roles.hunter.commission", "missing"),
        ('commission = "10"', "commission = 10.5", "roles.hunter.commission", "must be a string"),
        ('base = "60000.00"', 'base = "lots"', "roles.hunter.base", "is not a number"),
        ('part = "50"', 'part = "150"', "advance.part", "at most 100"),
        ('cost = "20"', 'cost = "-5"', "bounce.cost", "must not be negative"),
        ('rule = "completer"', 'rule = "loudest"', "reassigned.rule", "must be one of"),
        (
            'clawback_within = "90d"',
            'clawback_within = "a quarter"',
            "advance.clawback_within",
            "not a duration",
        ),
        ("effective_from = 2020-01-01\n", "", "effective_from", "missing"),
        ("[roles.hunter]", "[roles.hunters]", "roles.hunters", "no such role"),
        (
            '"conveyor.delivery" = "10"',
            '"conveyor.deliver" = "10"',
            "flows.conveyor.split.conveyor.deliver",
            "no such stage",
        ),
        (
            'stage = "conveyor.qualify"',
            'stage = "conveyor.qualification_call"',
            "advance.stage",
            "no such stage",
        ),
        ('code = "standard"', 'code = "standard"\nbonus = "1"', "bonus", "unknown key"),
    ],
)
def test_each_mistake_is_refused_with_the_file_the_key_and_the_reason(
    tmp_path, old, new, key, reason
):
    assert old in PLAN
    error = refused(write(tmp_path, p=PLAN.replace(old, new, 1)))
    assert error.key == key
    assert reason in error.reason
    assert str(error).startswith(f"{tmp_path / 'p.toml'}: {key}: ")


def test_overlapping_effective_dates_are_refused_and_consecutive_ones_chosen_by_day(tmp_path):
    march = PLAN.replace(
        "effective_from = 2020-01-01", "effective_from = 2020-01-01\neffective_until = 2026-03-15"
    )
    later = PLAN.replace('code = "standard"', 'code = "later"').replace(
        "effective_from = 2020-01-01", "effective_from = 2026-03-15"
    )
    error = refused(write(tmp_path, a=march, b=later))
    assert error.path.endswith("b.toml") and error.key == "effective_from"
    assert "overlaps 'standard'" in error.reason

    write(tmp_path, b=later.replace("2026-03-15", "2026-03-16"))
    plans = read_plan_files(tmp_path)
    assert plan_for(date(2026, 3, 15), plans).code == "standard"
    assert plan_for(date(2026, 3, 16), plans).code == "later"
    assert plan_for(date(2019, 12, 31), plans) is None


def test_an_open_ended_plan_followed_by_another_overlaps(tmp_path):
    later = PLAN.replace('code = "standard"', 'code = "later"').replace("2020-01-01", "2027-01-01")
    error = refused(write(tmp_path, a=PLAN, b=later))
    assert "open-ended" in error.reason


def test_a_bad_plan_stops_the_start_up(tmp_path):
    write(
        tmp_path, standard=PLAN.replace('"conveyor.qualify" = "30"', '"conveyor.qualify" = "31"', 1)
    )
    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "check"],
        env={**os.environ, "SALESFLOW_PAY_PLANS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "Bad pay plan" in result.stderr
    assert "standard.toml: flows.conveyor.split: the stages' shares sum to 101 %" in result.stderr
