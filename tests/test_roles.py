"""Role files: what a good one gives, and how each mistake is refused (file, key, reason)."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from salesflow.models import Role
from salesflow.queues.columns import COLUMNS
from salesflow.roles import LeakLimits, RoleFileError, get_roles, parse_duration, read_roles
from salesflow.services import roles_sync

NODES = {"conveyor.qualify": "flows.qualify_lead", "conveyor.documents": "flows.prepare_documents"}
GOOD = """
code = "hunter"
discount_limit = "2.5"
client_fields = ["phone"]
[title]
en = "Hunter"
ru = "Охотник"
[stages]
"conveyor.qualify" = { sla = "1d 4h" }
"""
CLERK = """
code = "clerk"
[title]
en = "Clerk"
ru = "Делопроизводитель"
[stages]
"conveyor.documents" = { sla = "8h" }
[[separation_of_duties]]
not_after = ["conveyor.qualify"]
scope = "process"
"""


def write(directory: Path, **files: str) -> Path:
    for name, text in files.items():
        (directory / f"{name}.toml").write_text(text, encoding="utf-8")
    return directory


def test_the_shipped_roles_cover_every_stage():
    roles = get_roles()
    assert set(roles) == {
        "hunter",
        "account_manager",
        "document_clerk",
        "expeditor",
        "team_lead",
        "assistant",
        "database_operator",
    }
    assert roles["assistant"].title["ru"] == "Технический ассистент"
    assert roles["database_operator"].title["en"] == "Database operator"
    assert "offer" in roles["assistant"].side_task_kinds
    assert roles["database_operator"].card_rules == (
        "tax_number",
        "decision_maker",
        "working_contact",
    )
    assert roles["team_lead"].nodes == ("conveyor.approve_discount", "disputes.decide")
    assert roles["account_manager"].discount_limit == Decimal("5")


def test_a_good_file_is_read_with_its_durations_and_rules(tmp_path):
    roles = read_roles(
        write(tmp_path, hunter=GOOD, clerk=CLERK),
        nodes=NODES,
        engine_permissions=(),
        columns=COLUMNS,
    )
    assert roles["hunter"].stages[0].sla == timedelta(days=1, hours=4)
    assert roles["hunter"].discount_limit == Decimal("2.5")
    assert roles["clerk"].separation_of_duties[0].not_after == ("conveyor.qualify",)
    assert roles["clerk"].separation_of_duties[0].scope == "process"


@pytest.mark.parametrize(
    "change,key,reason",
    [
        (lambda t: t.replace('code = "hunter"', 'code = "Hunter Boss"'), "code", "lower-case"),
        (lambda t: 'colour = "red"\n' + t, "colour", "unknown key"),
        (lambda t: t.replace('ru = "Охотник"\n', ""), "title.ru", "missing"),
        (
            lambda t: t.replace('sla = "1d 4h"', 'sla = "soon"'),
            "stages.conveyor.qualify.sla",
            "not a duration",
        ),
        (
            lambda t: t.replace('{ sla = "1d 4h" }', '{ due = "1d" }'),
            "stages.conveyor.qualify.due",
            "unknown key",
        ),
        (
            lambda t: t.replace('"conveyor.qualify"', '"conveyor.qualifyy"'),
            "stages.conveyor.qualifyy",
            "no such human node",
        ),
        (lambda t: t.replace('"2.5"', '"150"'), "discount_limit", "between 0 and 100"),
        (lambda t: t.replace('"2.5"', '"lots"'), "discount_limit", "not a number"),
        (lambda t: t.replace('["phone"]', '["salary"]'), "client_fields", "unknown field"),
        (lambda t: 'permissions = ["salesflow.fly"]\n' + t, "permissions", "unknown permission"),
        (
            lambda t: t + "[[separation_of_duties]]\nnot_after = []\n",
            "separation_of_duties[0].not_after",
            "non-empty",
        ),
        (
            lambda t: (
                t + '[[separation_of_duties]]\nnot_after = ["conveyor.qualify"]\nscope = "galaxy"\n'
            ),
            "separation_of_duties[0].scope",
            "one of",
        ),
        (lambda t: t.replace("[title]", "[title"), "", "not valid TOML"),
        (lambda t: t + '[pool]\ndistribution = "lottery"\n', "pool.distribution", "one of"),
        (lambda t: t + "[pool]\nwip_limit = 0\n", "pool.wip_limit", "at least 1"),
        (lambda t: t + '[pool]\nwip_limit = "5"\n', "pool.wip_limit", "whole number"),
        (lambda t: t + "[pool]\nwip_limit = true\n", "pool.wip_limit", "whole number"),
        (lambda t: t + '[pool]\nidle_limit = "a while"\n', "pool.idle_limit", "not a duration"),
        (lambda t: t + '[pool]\ncolumns = ["salary"]\n', "pool.columns", "unknown column"),
        (lambda t: t + '[pool]\nqueue = "fast"\n', "pool.queue", "unknown key"),
        (lambda t: t + "[leak_watch]\nreveals = 0\n", "leak_watch.reveals", "at least 1"),
        (lambda t: t + '[leak_watch]\nexports = "2"\n', "leak_watch.exports", "whole number"),
        (lambda t: t + "[leak_watch]\nunassigns = true\n", "leak_watch.unassigns", "whole"),
        (
            lambda t: t + '[leak_watch]\nsuspend_reveals = "yes"\n',
            "leak_watch.suspend_reveals",
            "true or false",
        ),
        (lambda t: t + "[leak_watch]\ncalls = 3\n", "leak_watch.calls", "unknown key"),
        (lambda t: "leak_watch = 5\n" + t, "leak_watch", "must be a table"),
        (lambda t: 'side_task_kinds = "offer"\n' + t, "side_task_kinds", "must be a table"),
        (
            lambda t: t + '[side_task_kinds]\nOffer = { en = "Offer", ru = "КП" }\n',
            "side_task_kinds.Offer",
            "lower-case identifier",
        ),
        (
            lambda t: t + '[side_task_kinds]\noffer = { en = "Offer" }\n',
            "side_task_kinds.offer.ru",
            "missing or empty",
        ),
        (
            lambda t: t + '[side_task_kinds]\noffer = { en = "Offer", ru = "КП", de = "A" }\n',
            "side_task_kinds.offer.de",
            "unknown key",
        ),
        (lambda t: 'card_rules = ["shoe_size"]\n' + t, "card_rules", "unknown rule"),
    ],
)
def test_a_bad_file_is_refused_with_the_file_the_key_and_the_reason(tmp_path, change, key, reason):
    write(tmp_path, hunter=change(GOOD), clerk=CLERK)
    with pytest.raises(RoleFileError) as refused:
        read_roles(tmp_path, nodes=NODES, engine_permissions=(), columns=COLUMNS)
    error = refused.value
    assert error.path.endswith("hunter.toml")
    assert error.key == key
    assert reason in error.reason
    assert str(error).startswith(f"{error.path}: ")


def test_a_good_pool_table_is_read(tmp_path):
    pool = '[pool]\ndistribution = "round_robin"\nwip_limit = 7\nidle_limit = "2h"\n'
    roles = read_roles(
        write(tmp_path, hunter=GOOD + pool + 'columns = ["company", "due"]\n', clerk=CLERK),
        nodes=NODES,
        engine_permissions=(),
        columns=COLUMNS,
    )
    hunter = roles["hunter"].pool
    assert (hunter.distribution, hunter.wip_limit) == ("round_robin", 7)
    assert hunter.idle_limit == timedelta(hours=2)
    assert hunter.columns == ("company", "due")
    clerk = roles["clerk"].pool
    assert (clerk.distribution, clerk.wip_limit, clerk.idle_limit) == ("pull", None, None)


def test_leak_watch_limits_are_read_with_defaults_for_what_a_file_leaves_out(tmp_path):
    watch = "[leak_watch]\nreveals = 40\nsuspend_reveals = false\n"
    roles = read_roles(
        write(tmp_path, hunter=GOOD + watch, clerk=CLERK),
        nodes=NODES,
        engine_permissions=(),
        columns=COLUMNS,
    )
    hunter, clerk = roles["hunter"].leak_watch, roles["clerk"].leak_watch
    assert (hunter.reveals, hunter.unassigns, hunter.exports) == (40, 10, 2)
    assert hunter.suspend_reveals is False
    assert clerk == LeakLimits()  # a role that declares none: the defaults


def test_two_roles_sharing_a_stage_must_share_its_distribution(tmp_path):
    rival = (
        GOOD.replace('code = "hunter"', 'code = "rival"') + '[pool]\ndistribution = "round_robin"\n'
    )
    write(tmp_path, hunter=GOOD, rival=rival, clerk=CLERK)
    with pytest.raises(RoleFileError, match="one pool, one policy") as refused:
        read_roles(tmp_path, nodes=NODES, engine_permissions=(), columns=COLUMNS)
    assert refused.value.key == "pool.distribution"


def test_a_node_nobody_performs_is_refused(tmp_path):
    with pytest.raises(RoleFileError, match="no role performs this node") as refused:
        read_roles(
            write(tmp_path, hunter=GOOD), nodes=NODES, engine_permissions=(), columns=COLUMNS
        )
    assert refused.value.key == "conveyor.documents"


def test_two_files_with_one_code_are_refused(tmp_path):
    write(tmp_path, hunter=GOOD, again=GOOD, clerk=CLERK)
    with pytest.raises(RoleFileError, match="already defined"):
        read_roles(tmp_path, nodes=NODES, engine_permissions=(), columns=COLUMNS)


@pytest.mark.parametrize("value", ["", "0h", "3x", "h", "1.5d", 5])
def test_durations_must_be_whole_days_hours_or_minutes(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_a_bad_role_file_stops_the_start_up(tmp_path, settings):
    """The app refuses to start (ImproperlyConfigured) on a bad file, naming it."""
    import subprocess
    import sys

    write(tmp_path, hunter=GOOD.replace('sla = "1d 4h"', 'sla = "whenever"'))
    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "check"],
        env={**__import__("os").environ, "SALESFLOW_ROLES_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "Bad role file" in result.stderr
    assert "hunter.toml: stages.conveyor.qualify.sla" in result.stderr


@pytest.mark.django_db
def test_sync_gives_each_role_group_exactly_its_permissions():
    group = Group.objects.get(name="hunter")
    group.permissions.add(Permission.objects.get(codename="deliver_order"))  # drifted by hand

    roles_sync()
    roles_sync()  # idempotent

    assert set(group.permissions.values_list("codename", flat=True)) == {
        "qualify_lead",
        "view_conveyorprocess",
        "add_lead",  # hunters enter the leads they find (roles/hunter.toml)
        # the next steps of the deals they hold come back to them (flows/reminders.py)
        "remind_client",
        "view_reminderprocess",
    }
    lead = set(Group.objects.get(name="team_lead").permissions.values_list("codename", flat=True))
    assert {"approve_discount", "manage_queues", "view_reports", "manage_conveyorprocess"} <= lead
    assert Role.objects.filter(active=True).count() == 7


@pytest.mark.django_db
def test_a_role_whose_file_is_gone_is_deactivated_and_loses_its_permissions():
    ghost_group = Group.objects.create(name="ghost")
    ghost_group.permissions.add(Permission.objects.get(codename="qualify_lead"))
    Role.objects.create(code="ghost", title_en="Ghost", title_ru="Призрак", group=ghost_group)

    call_command("sync_roles", stdout=StringIO())

    ghost = Role.objects.get(code="ghost")
    assert not ghost.active
    assert not ghost_group.permissions.exists()


def test_a_side_task_kind_declared_by_two_roles_is_refused(tmp_path):
    kinds = '[side_task_kinds]\noffer = { en = "Offer", ru = "КП" }\n'
    write(tmp_path, hunter=GOOD + kinds, clerk=CLERK + kinds)
    with pytest.raises(RoleFileError) as refused:
        read_roles(tmp_path, nodes=NODES, engine_permissions=(), columns=COLUMNS)
    assert refused.value.key == "side_task_kinds.offer"
    assert "already declared by" in refused.value.reason
