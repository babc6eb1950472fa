"""Pay plans, read from ``roles/pay/*.toml`` and checked before anything runs.

A plan is data written by whoever runs the sales department (see
``roles/pay/standard.toml``), so, like the role files (``salesflow.roles``), every mistake
is reported with the file, the key and the reason (``PayPlanError``) and the product
refuses to start on a bad plan: a split that does not sum to exactly 100 %, a negative or
missing rate, a stage no flow has, two plans in force on the same day.

Every amount and percentage is a ``Decimal`` read from a string (a TOML float would
already be rounded); a plan is chosen by the date of the event it pays for
(``plan_for``), so a plan that starts next month never rewrites this month.

This module only parses; ``check_plans`` checks the stages and roles a plan names against
what the caller gives it (the flows' human nodes, the role files) -- called at start-up by
the engine's composition root.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from salesflow.roles import ROLE_CODE, parse_duration

HUNDRED = Decimal(100)
COMPLETER, EVEN = "completer", "even"
REASSIGNED_RULES = (COMPLETER, EVEN)


class PayPlanError(Exception):
    """A pay plan that cannot be used; the message names the file, the key and the reason."""

    def __init__(self, path: Path | str, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class RolePay:
    base: Decimal  # per month
    commission: Decimal  # percent of the credited share


@dataclass(frozen=True)
class Advance:
    stage: str  # whose share is partly paid early
    on: str  # ... when this stage is first completed (the order placed)
    part: Decimal  # percent of that stage's commission
    clawback_within: timedelta


@dataclass(frozen=True)
class PayPlan:
    code: str
    path: str
    title: Mapping[str, str]
    effective_from: date
    effective_until: date | None  # inclusive; None: open-ended
    roles: Mapping[str, RolePay]
    splits: Mapping[str, Mapping[str, Decimal]]  # flow -> node -> percent
    repeat_splits: Mapping[str, Mapping[str, Decimal]]
    advance: Advance | None = None
    referral: Decimal = Decimal(0)  # percent of the deal's amount
    bounce_cost: Decimal = Decimal(0)  # percent of the stage's share
    reassigned: str = COMPLETER

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_until is None or day <= self.effective_until
        )

    def split_for(self, flow: str, *, repeat: bool) -> Mapping[str, Decimal]:
        """The stage split of a deal of ``flow``; a repeat order or reactivation takes the
        plan's ``repeat_split`` when it has one."""
        if repeat and flow in self.repeat_splits:
            return self.repeat_splits[flow]
        return self.splits.get(flow, {})

    def commission_for(self, role_codes: Collection[str]) -> Decimal:
        """The commission rate of the best-paid of these roles (0 for none in the plan)."""
        rates = [self.roles[c].commission for c in role_codes if c in self.roles]
        return max(rates, default=Decimal(0))

    def base_for(self, role_codes: Collection[str]) -> Decimal:
        bases = [self.roles[c].base for c in role_codes if c in self.roles]
        return max(bases, default=Decimal(0))

    def title_for(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]


class _Reader:
    TOP_KEYS = (
        "code",
        "title",
        "effective_from",
        "effective_until",
        "roles",
        "flows",
        "advance",
        "referral",
        "bounce",
        "reassigned",
    )

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data

    def error(self, key: str, reason: str) -> PayPlanError:
        return PayPlanError(self.path, key, reason)

    def table(self, key: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return value

    def unknown_keys(self, where: str, table: Mapping[str, Any], known: Collection[str]) -> None:
        for key in table:
            if key not in known:
                name = f"{where}.{key}" if where else key
                raise self.error(name, f"unknown key (known: {', '.join(sorted(known))})")

    def percent(self, key: str, value: Any, *, upper: Decimal | None = HUNDRED) -> Decimal:
        if value is None:
            raise self.error(key, "missing")
        if not isinstance(value, str):
            raise self.error(key, f'must be a string such as "12.5" (not {value!r})')
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(key, f"{value!r} is not a number") from None
        if not number.is_finite() or number < 0:
            raise self.error(key, f"{value!r}: must not be negative")
        if upper is not None and number > upper:
            raise self.error(key, f"{value!r}: must be at most {upper}")
        return number

    def day(self, key: str, value: Any) -> date:
        if not isinstance(value, date):
            raise self.error(key, "must be a date such as 2026-01-01")
        return value

    def read(self) -> PayPlan:
        data = self.data
        self.unknown_keys("", data, self.TOP_KEYS)
        code = data.get("code")
        if not isinstance(code, str) or not ROLE_CODE.match(code):
            raise self.error("code", "must be a lower-case identifier such as 'standard'")
        title = self.table("title", data.get("title"))
        for language in ("en", "ru"):
            if not isinstance(title.get(language), str) or not title[language].strip():
                raise self.error(f"title.{language}", "missing or empty")
        if "effective_from" not in data:
            raise self.error("effective_from", "missing: the first day the plan is in force")
        effective_from = self.day("effective_from", data["effective_from"])
        effective_until = None
        if "effective_until" in data:
            effective_until = self.day("effective_until", data["effective_until"])
            if effective_until < effective_from:
                raise self.error("effective_until", "is before effective_from")
        splits, repeat_splits = self.flows()
        return PayPlan(
            code=code,
            path=str(self.path),
            title=dict(title),
            effective_from=effective_from,
            effective_until=effective_until,
            roles=self.roles(),
            splits=splits,
            repeat_splits=repeat_splits,
            advance=self.advance(),
            referral=self.optional_percent("referral", "share"),
            bounce_cost=self.optional_percent("bounce", "cost"),
            reassigned=self.reassigned(),
        )

    def roles(self) -> dict[str, RolePay]:
        roles = self.table(
            "roles",
            data_or(
                self.data, "roles", missing=self.error("roles", "missing: [roles.<code>] tables")
            ),
        )
        result = {}
        for code, pay in roles.items():
            key = f"roles.{code}"
            pay = self.table(key, pay)
            self.unknown_keys(key, pay, ("base", "commission"))
            result[code] = RolePay(
                base=self.percent(f"{key}.base", pay.get("base"), upper=None),
                commission=self.percent(f"{key}.commission", pay.get("commission")),
            )
        return result

    def split(self, key: str, value: Any) -> dict[str, Decimal]:
        table = self.table(key, value)
        if not table:
            raise self.error(key, "empty: name the stages and their percentages")
        split = {node: self.percent(f"{key}.{node}", v) for node, v in table.items()}
        total = sum(split.values(), Decimal(0))
        if total != HUNDRED:
            raise self.error(key, f"the stages' shares sum to {total} %, not exactly 100 %")
        return split

    def flows(self) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, Decimal]]]:
        flows = self.table(
            "flows",
            data_or(
                self.data, "flows", missing=self.error("flows", "missing: [flows.<flow>.split]")
            ),
        )
        splits, repeats = {}, {}
        for flow, options in flows.items():
            key = f"flows.{flow}"
            options = self.table(key, options)
            self.unknown_keys(key, options, ("split", "repeat_split"))
            if "split" not in options:
                raise self.error(f"{key}.split", "missing: how a deal is split between stages")
            splits[flow] = self.split(f"{key}.split", options["split"])
            if "repeat_split" in options:
                repeats[flow] = self.split(f"{key}.repeat_split", options["repeat_split"])
        return splits, repeats

    def advance(self) -> Advance | None:
        if "advance" not in self.data:
            return None
        table = self.table("advance", self.data["advance"])
        self.unknown_keys("advance", table, ("stage", "on", "part", "clawback_within"))
        for name in ("stage", "on"):
            if not isinstance(table.get(name), str):
                raise self.error(f"advance.{name}", "missing: a stage such as 'conveyor.qualify'")
        try:
            window = parse_duration(table.get("clawback_within", ""))
        except ValueError as exc:
            raise self.error("advance.clawback_within", str(exc)) from None
        return Advance(
            stage=table["stage"],
            on=table["on"],
            part=self.percent("advance.part", table.get("part")),
            clawback_within=window,
        )

    def optional_percent(self, name: str, key: str) -> Decimal:
        if name not in self.data:
            return Decimal(0)
        table = self.table(name, self.data[name])
        self.unknown_keys(name, table, (key,))
        return self.percent(f"{name}.{key}", table.get(key))

    def reassigned(self) -> str:
        if "reassigned" not in self.data:
            return COMPLETER
        table = self.table("reassigned", self.data["reassigned"])
        self.unknown_keys("reassigned", table, ("rule",))
        rule = table.get("rule", COMPLETER)
        if rule not in REASSIGNED_RULES:
            raise self.error("reassigned.rule", f"must be one of {', '.join(REASSIGNED_RULES)}")
        return str(rule)


def data_or(data: Mapping[str, Any], key: str, *, missing: PayPlanError) -> Any:
    if key not in data:
        raise missing
    return data[key]


def read_plan_file(path: Path) -> PayPlan:
    """Parse and check one plan on its own (without looking at the flows or the roles)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PayPlanError(path, "", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise PayPlanError(path, "", f"cannot be read: {exc.strerror}") from None
    return _Reader(path, data).read()


def read_plan_files(directory: Path) -> list[PayPlan]:
    """Every ``*.toml`` in ``directory``, ordered by ``effective_from``; refused when two
    plans share a code or are in force on the same day."""
    if not directory.is_dir():
        raise PayPlanError(directory, "", "the pay plans directory does not exist")
    plans = [read_plan_file(path) for path in sorted(directory.glob("*.toml"))]
    if not plans:
        raise PayPlanError(directory, "", "no pay plans (*.toml) found")
    codes: dict[str, PayPlan] = {}
    for plan in plans:
        if plan.code in codes:
            raise PayPlanError(
                plan.path, "code", f"{plan.code!r} is already defined in {codes[plan.code].path}"
            )
        codes[plan.code] = plan
    plans.sort(key=lambda plan: plan.effective_from)
    for earlier, later in zip(plans, plans[1:], strict=False):
        if earlier.effective_until is None or earlier.effective_until >= later.effective_from:
            raise PayPlanError(
                later.path,
                "effective_from",
                f"{later.effective_from} overlaps {earlier.code!r} ({earlier.path}), in force"
                f" {earlier.effective_from} to {earlier.effective_until or 'open-ended'}",
            )
    return plans


def check_plans(
    plans: Collection[PayPlan], *, nodes: Collection[str], roles: Collection[str]
) -> None:
    """Check parsed plans against the installation: ``nodes`` are the human node references
    (``conveyor.qualify``), ``roles`` the role codes of the role files. PayPlanError (file,
    key, reason) on the first stage or role that does not exist."""
    for plan in plans:
        for code in plan.roles:
            if code not in roles:
                raise PayPlanError(
                    plan.path, f"roles.{code}", f"no such role (known: {', '.join(sorted(roles))})"
                )
        for kind, table in (("split", plan.splits), ("repeat_split", plan.repeat_splits)):
            for flow, split in table.items():
                for node in split:
                    if node not in nodes or not node.startswith(f"{flow}."):
                        known = sorted(n for n in nodes if n.startswith(f"{flow}."))
                        raise PayPlanError(
                            plan.path,
                            f"flows.{flow}.{kind}.{node}",
                            f"no such stage of flow {flow!r} (known: {', '.join(known)})",
                        )
        if plan.advance is not None:
            for name in ("stage", "on"):
                node = getattr(plan.advance, name)
                if node not in nodes:
                    raise PayPlanError(plan.path, f"advance.{name}", f"no such stage {node!r}")


@cache
def get_plans() -> tuple[PayPlan, ...]:
    """The plans of this installation, read once per process; checked at start-up."""
    return tuple(read_plan_files(settings.SALESFLOW_PAY_PLANS_DIR))


def plan_for(day: date, plans: Collection[PayPlan] | None = None) -> PayPlan | None:
    """The plan in force on ``day`` (None: no plan then -- nothing is paid)."""
    for plan in plans if plans is not None else get_plans():
        if plan.in_force(day):
            return plan
    return None
