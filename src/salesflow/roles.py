"""The company's roles, read from ``roles/*.toml`` and checked before anything runs.

A role file is data, written by whoever runs the sales department, so every mistake in it
is reported with the file, the key and what is wrong (``RoleFileError``), and the product
refuses to start on a bad file instead of running with a half-understood role.

A role file looks like this::

    code = "hunter"
    discount_limit = "0"                 # percent of an order a member may grant alone
    client_fields = ["phone", "email"]   # contact fields shown in full without a task
    permissions = []                     # engine permissions beyond the stages
    next_step_within = "3d"              # a deal at its stages with no activity and no
                                         # next step this long: on the team leads' list

    [title]
    en = "Active-sales manager"
    ru = "Менеджер активных продаж"

    [stages]                             # flow nodes the role performs, with their SLA
    "conveyor.qualify" = { sla = "1d" }

    [[separation_of_duties]]             # who may not take this role's tasks
    not_after = ["conveyor.qualify"]     # ... having performed one of these nodes
    scope = "client"                     # ... for the same client (or "process")

    [pool]                               # how the role's pool hands out work
    distribution = "pull"                # pull (claim next) | round_robin | least_loaded
    wip_limit = 10                       # open tasks a member may hold at once (none: no limit)
    idle_limit = "4h"                    # assigned but untouched this long: stalled
    columns = ["company", "source", "age", "due"]   # what the pool and inbox pages show

    [[targets]]                          # the role's scorecard (salesflow.targets.measures)
    measure = "calls"                    # one of the measures the engine computes
    target = 60                          # per period, not negative
    weight = 40                          # percent; a period's weights sum to 100
    period = "week"                      # day | week | month

    [leak_watch]                         # a member's day over any of these alerts the team leads
    reveals = 30                         # contacts shown
    unassigns = 10                       # tasks given back unworked
    exports = 2                          # exports of the client base
    suspend_reveals = true               # over a limit: no more reveals until a lead clears it

    [side_task_kinds]                    # the side tasks a stage may hand to this role
    offer = { en = "Prepare a commercial offer", ru = "Подготовить КП" }

    card_rules = ["tax_number"]          # what a complete client card has (CARD_RULES);
                                         # a card missing one is work for this role's pool

A role without ``[leak_watch]`` (or a key of it) gets ``DEFAULT_LEAK_LIMITS``.

Node references are ``<flow>.<node>``, where ``<flow>`` is the flow's ``app_name`` (the
class name without ``Flow``, lower case).

This module only parses: ``get_roles()`` reads the files, checking each on its own.
Whether the nodes, permissions and columns they name exist is a question about the flows
and the pools, which sit above the roles; ``check_roles`` answers it with what the caller
gives it, and the engine's start-up (``salesflow.apps``) calls it with the flow registry's
nodes, so a bad reference still stops the product before anything runs.

Who holds which role lives here too: a user holds a role by being in the auth Group named
by the role's code (``user_role_codes``, ``roles_of``, ``holds_role``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q

from salesflow.models import MANAGE_QUEUES

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser

# Contact and client fields a role may be allowed to see in full (see
# salesflow.clients.selectors.contact_entitlement).
CLIENT_FIELDS = ("phone", "email", "legal_details")
SCOPES = ("client", "process")
PULL, ROUND_ROBIN, LEAST_LOADED = "pull", "round_robin", "least_loaded"
# what a pool page shows when the role file names no columns (the pools' column catalog
# checks every name: salesflow.queues.columns)
DEFAULT_COLUMNS = ("stage", "company", "age", "due", "priority")
DISTRIBUTIONS = (PULL, ROUND_ROBIN, LEAST_LOADED)
# What a complete client card has (``card_rules``; checked by the data-quality scan):
# a tax number, a decision maker among its contacts, a contact that works (a phone or an
# e-mail that has not bounced).
CARD_RULES = ("tax_number", "decision_maker", "working_contact")
SIDE_TASK_KIND = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
# how long a target's period is (salesflow.targets.periods)
TARGET_PERIODS = ("day", "week", "month")
ROLE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,49}$")
_DURATION_PART = re.compile(r"(\d+)\s*([dhm])")
_DURATION = re.compile(r"^\s*(\d+\s*[dhm]\s*)+$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class RoleFileError(Exception):
    """A role file that cannot be used; the message names the file, the key and the reason."""

    def __init__(self, path: Path | str, key: str, reason: str) -> None:
        self.path = str(path)
        self.key = key
        self.reason = reason
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class StageSla:
    """A flow node a role performs and the time the role has for it."""

    node: str
    sla: timedelta


@dataclass(frozen=True)
class SeparationRule:
    """A member who performed one of ``not_after`` (for the same ``scope``) may not take
    this role's tasks there."""

    not_after: tuple[str, ...]
    scope: str


@dataclass(frozen=True)
class PoolPolicy:
    """How a role's pool hands out work (``[pool]`` in the role file)."""

    distribution: str = PULL
    wip_limit: int | None = None
    idle_limit: timedelta | None = None
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class LeakLimits:
    """A day's reveals, unassigns without work and exports a member may make before the
    team leads are alerted (``[leak_watch]``; see ``salesflow.watch``)."""

    reveals: int = 30
    unassigns: int = 10
    exports: int = 2
    suspend_reveals: bool = True


DEFAULT_LEAK_LIMITS = LeakLimits()


@dataclass(frozen=True)
class Target:
    """One line of a role's scorecard (``[[targets]]``): ``measure`` (a code of the
    measures ``salesflow.targets`` computes; checked by ``check_roles``), the ``target``
    value per ``period`` and its ``weight`` (percent) in the period's attainment."""

    measure: str
    target: Decimal
    weight: Decimal
    period: str


LEAK_COUNTS = ("reveals", "unassigns", "exports")


@dataclass(frozen=True)
class Role:
    code: str
    path: str
    title: Mapping[str, str]
    stages: tuple[StageSla, ...]
    permissions: tuple[str, ...] = ()
    discount_limit: Decimal | None = None
    client_fields: tuple[str, ...] = ()
    separation_of_duties: tuple[SeparationRule, ...] = ()
    pool: PoolPolicy = PoolPolicy()
    # a deal at this role's stages with no activity and no next step this long is listed
    # for the team leads ("deals without a next step"); None: never
    next_step_within: timedelta | None = None
    leak_watch: LeakLimits = DEFAULT_LEAK_LIMITS
    # the side tasks a stage may hand to this role: code -> {"en": title, "ru": title}
    side_task_kinds: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # what a complete client card has (CARD_RULES); a card missing one is this role's work
    card_rules: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()
    # everything else the file says, for display
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(stage.node for stage in self.stages)

    def title_for(self, language: str) -> str:
        return self.title.get(language) or self.title["en"]


def parse_duration(value: str) -> timedelta:
    """``"1d 4h"``, ``"8h"``, ``"30m"`` -> timedelta; ValueError on anything else."""
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration like '8h', '2d', '45m' or '1d 4h'")
    kwargs: dict[str, int] = {}
    for amount, unit in _DURATION_PART.findall(value):
        kwargs[_UNITS[unit]] = kwargs.get(_UNITS[unit], 0) + int(amount)
    duration = timedelta(**kwargs)
    if not duration:
        raise ValueError(f"{value!r} is zero; a stage needs some time")
    return duration


class _Reader:
    """Reads one parsed file, turning every mistake into a RoleFileError."""

    TOP_KEYS = {
        "code",
        "title",
        "stages",
        "permissions",
        "discount_limit",
        "client_fields",
        "separation_of_duties",
        "pool",
        "next_step_within",
        "leak_watch",
        "side_task_kinds",
        "card_rules",
        "targets",
    }

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data

    def error(self, key: str, reason: str) -> RoleFileError:
        return RoleFileError(self.path, key, reason)

    def unknown_keys(self, where: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
        for key in table:
            if key not in known:
                name = f"{where}.{key}" if where else key
                raise self.error(name, f"unknown key (known: {', '.join(sorted(known))})")

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "must be a list of strings")
        return tuple(value)

    def read(self) -> Role:
        self.unknown_keys("", self.data, self.TOP_KEYS)
        code = self.data.get("code")
        if not isinstance(code, str) or not ROLE_CODE.match(code):
            raise self.error(
                "code", "must be a lower-case identifier such as 'hunter' or 'account_manager'"
            )
        return Role(
            code=code,
            path=str(self.path),
            title=self.title(),
            stages=self.stages(),
            permissions=self.string_list("permissions"),
            discount_limit=self.discount_limit(),
            client_fields=self.client_fields(),
            separation_of_duties=self.separation_rules(),
            pool=self.pool(),
            next_step_within=self.next_step_within(),
            leak_watch=self.leak_watch(),
            side_task_kinds=self.side_task_kinds(),
            card_rules=self.card_rules(),
            targets=self.targets(),
            raw=dict(self.data),
        )

    def title(self) -> dict[str, str]:
        title = self.data.get("title")
        if not isinstance(title, dict):
            raise self.error("title", "missing: a table with 'en' and 'ru' titles")
        for language in ("en", "ru"):
            if not isinstance(title.get(language), str) or not title[language].strip():
                raise self.error(f"title.{language}", "missing or empty")
        self.unknown_keys("title", title, ("en", "ru"))
        return dict(title)

    def stages(self) -> tuple[StageSla, ...]:
        stages = self.data.get("stages", {})
        if not isinstance(stages, dict):
            raise self.error("stages", "must be a table of node = { sla = '...' }")
        result = []
        for node, options in stages.items():
            key = f"stages.{node}"
            if not isinstance(options, dict):
                raise self.error(key, "must be a table such as { sla = '1d' }")
            self.unknown_keys(key, options, ("sla",))
            if "sla" not in options:
                raise self.error(f"{key}.sla", "missing: how long the role has for this stage")
            try:
                sla = parse_duration(options["sla"])
            except ValueError as exc:
                raise self.error(f"{key}.sla", str(exc)) from None
            result.append(StageSla(node=node, sla=sla))
        return tuple(result)

    def next_step_within(self) -> timedelta | None:
        if "next_step_within" not in self.data:
            return None
        try:
            return parse_duration(self.data["next_step_within"])
        except ValueError as exc:
            raise self.error("next_step_within", str(exc)) from None

    def discount_limit(self) -> Decimal | None:
        if "discount_limit" not in self.data:
            return None
        value = self.data["discount_limit"]
        try:
            limit = Decimal(str(value))
        except InvalidOperation:
            raise self.error("discount_limit", f"{value!r} is not a number") from None
        if not limit.is_finite() or not Decimal(0) <= limit <= Decimal(100):
            raise self.error("discount_limit", "must be a percentage between 0 and 100")
        return limit

    def client_fields(self) -> tuple[str, ...]:
        fields = self.string_list("client_fields")
        for name in fields:
            if name not in CLIENT_FIELDS:
                raise self.error(
                    "client_fields", f"unknown field {name!r} (known: {', '.join(CLIENT_FIELDS)})"
                )
        return fields

    def separation_rules(self) -> tuple[SeparationRule, ...]:
        rules = self.data.get("separation_of_duties", [])
        if not isinstance(rules, list):
            raise self.error("separation_of_duties", "must be an array of tables [[...]]")
        result = []
        for index, rule in enumerate(rules):
            key = f"separation_of_duties[{index}]"
            if not isinstance(rule, dict):
                raise self.error(key, "must be a table")
            self.unknown_keys(key, rule, ("not_after", "scope"))
            not_after = rule.get("not_after")
            if (
                not isinstance(not_after, list)
                or not not_after
                or not all(isinstance(node, str) for node in not_after)
            ):
                raise self.error(f"{key}.not_after", "must be a non-empty list of nodes")
            scope = rule.get("scope", "client")
            if scope not in SCOPES:
                raise self.error(f"{key}.scope", f"must be one of {', '.join(SCOPES)}")
            result.append(SeparationRule(not_after=tuple(not_after), scope=scope))
        return tuple(result)

    def pool(self) -> PoolPolicy:
        pool = self.data.get("pool", {})
        if not isinstance(pool, dict):
            raise self.error("pool", "must be a table [pool]")
        self.unknown_keys("pool", pool, ("distribution", "wip_limit", "idle_limit", "columns"))
        distribution = pool.get("distribution", PULL)
        if distribution not in DISTRIBUTIONS:
            raise self.error("pool.distribution", f"must be one of {', '.join(DISTRIBUTIONS)}")
        wip_limit = pool.get("wip_limit")
        if wip_limit is not None and (
            isinstance(wip_limit, bool) or not isinstance(wip_limit, int) or wip_limit < 1
        ):
            raise self.error("pool.wip_limit", "must be a whole number of tasks, at least 1")
        idle_limit = None
        if "idle_limit" in pool:
            try:
                idle_limit = parse_duration(pool["idle_limit"])
            except ValueError as exc:
                raise self.error("pool.idle_limit", str(exc)) from None
        columns = pool.get("columns", list(DEFAULT_COLUMNS))
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise self.error("pool.columns", "must be a list of column names")
        return PoolPolicy(
            distribution=distribution,
            wip_limit=wip_limit,
            idle_limit=idle_limit,
            columns=tuple(columns),
        )

    def side_task_kinds(self) -> dict[str, dict[str, str]]:
        table = self.data.get("side_task_kinds", {})
        if not isinstance(table, dict):
            raise self.error("side_task_kinds", "must be a table [side_task_kinds]")
        kinds: dict[str, dict[str, str]] = {}
        for code, title in table.items():
            key = f"side_task_kinds.{code}"
            if not SIDE_TASK_KIND.match(code):
                raise self.error(key, "a kind's code must be a lower-case identifier")
            if not isinstance(title, dict):
                raise self.error(key, "must be a table such as { en = '...', ru = '...' }")
            self.unknown_keys(key, title, ("en", "ru"))
            for language in ("en", "ru"):
                if not isinstance(title.get(language), str) or not title[language].strip():
                    raise self.error(f"{key}.{language}", "missing or empty")
            kinds[code] = dict(title)
        return kinds

    def card_rules(self) -> tuple[str, ...]:
        rules = self.string_list("card_rules")
        for name in rules:
            if name not in CARD_RULES:
                raise self.error(
                    "card_rules", f"unknown rule {name!r} (known: {', '.join(CARD_RULES)})"
                )
        return rules

    def leak_watch(self) -> LeakLimits:
        table = self.data.get("leak_watch", {})
        if not isinstance(table, dict):
            raise self.error("leak_watch", "must be a table [leak_watch]")
        self.unknown_keys("leak_watch", table, (*LEAK_COUNTS, "suspend_reveals"))
        values: dict[str, Any] = {}
        for name in LEAK_COUNTS:
            if name in table:
                value = table[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    raise self.error(
                        f"leak_watch.{name}", "must be a whole number per day, at least 1"
                    )
                values[name] = value
        if "suspend_reveals" in table:
            if not isinstance(table["suspend_reveals"], bool):
                raise self.error("leak_watch.suspend_reveals", "must be true or false")
            values["suspend_reveals"] = table["suspend_reveals"]
        return LeakLimits(**values)

    def _number(self, key: str, value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self.error(key, f"{value!r} is not a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.error(key, f"{value!r} is not a number") from None
        if not number.is_finite():
            raise self.error(key, f"{value!r} is not a number")
        return number

    def targets(self) -> tuple[Target, ...]:
        table = self.data.get("targets", [])
        if not isinstance(table, list):
            raise self.error("targets", "must be an array of tables [[targets]]")
        result: list[Target] = []
        for index, entry in enumerate(table):
            key = f"targets[{index}]"
            if not isinstance(entry, dict):
                raise self.error(key, "must be a table")
            self.unknown_keys(key, entry, ("measure", "target", "weight", "period"))
            for name in ("measure", "target", "weight", "period"):
                if name not in entry:
                    raise self.error(f"{key}.{name}", "missing")
            measure = entry["measure"]
            if not isinstance(measure, str) or not measure:
                raise self.error(f"{key}.measure", "must be a measure's code such as 'calls'")
            target = self._number(f"{key}.target", entry["target"])
            if target < 0:
                raise self.error(f"{key}.target", "must not be negative")
            weight = self._number(f"{key}.weight", entry["weight"])
            if not Decimal(0) < weight <= Decimal(100):
                raise self.error(f"{key}.weight", "must be a percentage above 0, at most 100")
            period = entry["period"]
            if period not in TARGET_PERIODS:
                raise self.error(f"{key}.period", f"must be one of {', '.join(TARGET_PERIODS)}")
            if any(t.measure == measure and t.period == period for t in result):
                raise self.error(f"{key}.measure", f"{measure!r} is already a {period} target")
            result.append(Target(measure=measure, target=target, weight=weight, period=period))
        for period in TARGET_PERIODS:
            weights = sum((t.weight for t in result if t.period == period), Decimal(0))
            if weights and weights != Decimal(100):
                raise self.error(
                    "targets",
                    f"the weights of the {period} targets sum to {weights} %, not 100 %",
                )
        return tuple(result)


def read_role_file(path: Path) -> Role:
    """Parse and check one file on its own (without looking at the flows)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RoleFileError(path, "", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise RoleFileError(path, "", f"cannot be read: {exc.strerror}") from None
    return _Reader(path, data).read()


def read_role_files(directory: Path) -> dict[str, Role]:
    """Parse every ``*.toml`` in ``directory``, each checked on its own; two files with
    one code are refused. RoleFileError on the first problem."""
    if not directory.is_dir():
        raise RoleFileError(directory, "", "the roles directory does not exist")
    roles: dict[str, Role] = {}
    for path in sorted(directory.glob("*.toml")):
        role = read_role_file(path)
        if role.code in roles:
            raise RoleFileError(
                path, "code", f"{role.code!r} is already defined in {roles[role.code].path}"
            )
        roles[role.code] = role
    if not roles:
        raise RoleFileError(directory, "", "no role files (*.toml) found")
    return roles


def check_roles(
    roles: Mapping[str, Role],
    *,
    nodes: Mapping[str, str | None],
    engine_permissions: Iterable[str],
    columns: Collection[str],
    measures: Collection[str] | None = None,
) -> None:
    """Check parsed roles against the installation: ``nodes`` maps each human node
    reference (``conveyor.qualify``) to its permission, ``engine_permissions`` are the
    permissions the engine defines, ``columns`` the pool columns that exist, ``measures``
    the codes of the measures targets may name (None: not checked). Every node
    must be performed by a role, and the roles sharing a node must share its pool's
    policy. RoleFileError (file, key, reason) on the first problem."""
    known_permissions = set(engine_permissions) | {p for p in nodes.values() if p}
    for role in roles.values():
        path = role.path
        for stage in role.stages:
            if stage.node not in nodes:
                raise RoleFileError(
                    path,
                    f"stages.{stage.node}",
                    f"no such human node (known: {', '.join(sorted(nodes))})",
                )
        for index, rule in enumerate(role.separation_of_duties):
            for node in rule.not_after:
                if node not in nodes:
                    raise RoleFileError(
                        path,
                        f"separation_of_duties[{index}].not_after",
                        f"no such human node {node!r}",
                    )
        for permission in role.permissions:
            if permission not in known_permissions:
                raise RoleFileError(path, "permissions", f"unknown permission {permission!r}")
        for name in role.pool.columns:
            if name not in columns:
                raise RoleFileError(
                    path, "pool.columns", f"unknown column {name!r} (known: {', '.join(columns)})"
                )
        for index, target in enumerate(role.targets):
            if measures is not None and target.measure not in measures:
                raise RoleFileError(
                    path,
                    f"targets[{index}].measure",
                    f"unknown measure {target.measure!r} (known: {', '.join(sorted(measures))})",
                )
    for node in nodes:
        policies = {r.pool.distribution: r for r in roles.values() if node in r.nodes}
        if len(policies) > 1:
            first, second = list(policies.values())[:2]
            raise RoleFileError(
                second.path,
                "pool.distribution",
                f"{node} is also performed by {first.code} ({first.path}) with"
                f" distribution {first.pool.distribution!r}: one pool, one policy",
            )
    kinds: dict[str, Role] = {}
    for role in roles.values():
        for code in role.side_task_kinds:
            if code in kinds:
                raise RoleFileError(
                    role.path,
                    f"side_task_kinds.{code}",
                    f"already declared by {kinds[code].code} ({kinds[code].path}):"
                    " a kind goes to one role",
                )
            kinds[code] = role
        if role.side_task_kinds and not role.stages:
            raise RoleFileError(
                role.path,
                "side_task_kinds",
                "a role taking side tasks must perform the side-task stage ([stages])",
            )
    covered = {node for role in roles.values() for node in role.nodes}
    for node in sorted(set(nodes) - covered):
        directory = Path(next(iter(roles.values())).path).parent if roles else Path()
        raise RoleFileError(
            directory,
            node,
            "no role performs this node: its tasks would wait in a pool nobody sees",
        )


def read_roles(
    directory: Path,
    *,
    nodes: Mapping[str, str | None],
    engine_permissions: Iterable[str],
    columns: Collection[str],
    measures: Collection[str] | None = None,
) -> dict[str, Role]:
    """``read_role_files`` and ``check_roles`` in one step."""
    roles = read_role_files(directory)
    check_roles(
        roles,
        nodes=nodes,
        engine_permissions=engine_permissions,
        columns=columns,
        measures=measures,
    )
    return roles


@cache
def get_roles() -> dict[str, Role]:
    """The roles of this installation, read once per process; checked against the flows
    at start-up (``salesflow.apps``)."""
    return read_role_files(settings.SALESFLOW_ROLES_DIR)


def roles_for_node(node_ref: str) -> list[Role]:
    return [role for role in get_roles().values() if node_ref in role.nodes]


def distribution_for_node(node_ref: str) -> str:
    """How the node's pool hands out work (``check_roles`` makes sure its roles agree)."""
    roles = roles_for_node(node_ref)
    return roles[0].pool.distribution if roles else PULL


def pool_role_for_node(node_ref: str) -> Role:
    """The first role performing the node: whose pool policy applies to it."""
    return roles_for_node(node_ref)[0]


def idle_limit_for_node(node_ref: str) -> timedelta | None:
    """How long a task of the node may sit assigned and untouched: the shortest idle limit
    of the roles performing it (None: never stalled for idleness)."""
    limits = [r.pool.idle_limit for r in roles_for_node(node_ref) if r.pool.idle_limit]
    return min(limits) if limits else None


@cache
def sla_for_node(node_ref: str) -> timedelta:
    """The node's SLA: the shortest one any role performing it declares (``check_roles``
    makes sure every human node has a role). KeyError for a node no role performs."""
    slas = [s.sla for role in roles_for_node(node_ref) for s in role.stages if s.node == node_ref]
    if not slas:
        raise KeyError(f"no role performs {node_ref!r}")
    return min(slas)


# --- who holds which role ----------------------------------------------------------------


def user_role_codes(user: AnyUser) -> frozenset[str]:
    """The codes of the roles the user holds (their groups), read once per user object."""
    if not user.is_authenticated:
        return frozenset()
    codes: frozenset[str] | None = getattr(user, "_salesflow_roles", None)
    if codes is None:
        codes = frozenset(user.groups.values_list("name", flat=True))
        setattr(user, "_salesflow_roles", codes)  # noqa: B010 - a cache on the user object
    return codes


def roles_of(user: AnyUser) -> list[Role]:
    """The roles the user holds, in the order of the role files."""
    codes = user_role_codes(user)
    return [role for code, role in get_roles().items() if code in codes]


def holds_role(*, user: AnyUser, role: Role) -> bool:
    return user.is_authenticated and role.code in user_role_codes(user)


def can_manage_queues(user: AnyUser) -> bool:
    """A team lead (or an admin): sees every pool, reassigns, offboards."""
    return bool(user.is_active) and user.has_perm(MANAGE_QUEUES)


def role_client_fields(user: AnyUser) -> frozenset[str]:
    """The client fields the user's roles declare (all of them for a superuser)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if getattr(user, "is_superuser", False):
        return frozenset(CLIENT_FIELDS)
    return frozenset(name for role in roles_of(user) for name in role.client_fields)


def discount_limit_for(user: AnyUser, node_ref: str | None = None) -> Decimal:
    """The highest discount (percent) the user may grant without approval at ``node_ref``:
    the largest limit among *their roles that perform that stage* -- a team lead who is
    also an account manager grants at the account stage as an account manager; nothing
    without such a role that declares one. Without ``node_ref``: among all their roles."""
    roles = roles_of(user)
    if node_ref is not None:
        roles = [role for role in roles if node_ref in role.nodes]
    limits = [role.discount_limit for role in roles if role.discount_limit is not None]
    return max(limits, default=Decimal("0"))


def leak_limits_for(user: AnyUser) -> LeakLimits:
    """The leak watch's daily limits for the user: per count the most generous of their
    roles (a person's work needs it), suspended only if every role asks for it; the
    defaults for a person without roles (an admin)."""
    roles = roles_of(user)
    if not roles:
        return DEFAULT_LEAK_LIMITS
    limits = [role.leak_watch for role in roles]
    return LeakLimits(
        reveals=max(limit.reveals for limit in limits),
        unassigns=max(limit.unassigns for limit in limits),
        exports=max(limit.exports for limit in limits),
        suspend_reveals=all(limit.suspend_reveals for limit in limits),
    )


def side_task_kinds() -> dict[str, Role]:
    """Every side-task kind the role files declare, with the role it is handed to (two
    roles declaring one kind: ``check_roles`` refuses it)."""
    return {code: role for role in get_roles().values() for code in role.side_task_kinds}


def card_rules() -> tuple[str, ...]:
    """What a complete client card has: the rules every role file declares, in the order
    of CARD_RULES."""
    declared = {rule for role in get_roles().values() for rule in role.card_rules}
    return tuple(rule for rule in CARD_RULES if rule in declared)


def team_lead_addresses() -> list[str]:
    """E-mail addresses of the active people who manage the queues (the team leads, and
    admins given the permission): whom the stalled work and the leak watch tell."""
    app_label, codename = MANAGE_QUEUES.split(".")
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    people = (
        get_user_model()
        ._default_manager.filter(is_active=True)
        .filter(Q(groups__permissions=permission) | Q(user_permissions=permission))
        .exclude(email="")
        .distinct()
        .order_by("email")
    )
    return list(people.values_list("email", flat=True))
