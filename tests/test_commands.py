"""The ``salesflow`` command line: simulate, seed-demo, the production profile."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from viewflow.workflow.models import Task

from flows.management.commands import seed_demo
from flows.models import SideTask
from salesflow.activities.models import Activity
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Client, Lead
from salesflow.handoff.models import HandoffNote
from salesflow.pay.selectors import statement
from salesflow.reports.models import Snapshot
from salesflow.targets.funnel import funnel
from salesflow.targets.models import Goal
from salesflow.targets.periods import period_containing
from salesflow.targets.selectors import scorecard


@pytest.mark.django_db
def test_simulate_drives_leads_along_the_conveyor_and_reports_as_json():
    out = StringIO()
    call_command("simulate", "--leads", "6", "--seed", "3", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert set(summary) == {
        "leads", "finished", "tasks_completed", "handoffs", "bounces", "approvals", "lost",
        "nurtured", "timers_fired", "waiting", "stuck", "side_tasks", "seconds", "problems",
    }  # fmt: skip
    assert summary["problems"] == {} and summary["stuck"] == 0
    done = SideTask.objects.filter(status=SideTask.Status.DONE)
    assert summary["side_tasks"] == done.count() > 0
    assert not SideTask.objects.filter(status=SideTask.Status.OPEN).exists()
    assert summary["leads"] == 6 == Lead.objects.count()
    assert 0 < summary["finished"] <= 6
    assert summary["handoffs"] == HandoffNote.objects.filter(kind="handoff").count()
    assert summary["bounces"] == HandoffNote.objects.filter(kind="bounce").count()
    assert (
        summary["tasks_completed"]
        == Task.objects.filter(flow_task_type="HUMAN", status="DONE").count()
    )


@pytest.mark.django_db
def test_simulate_with_every_side_path_raised_leaves_no_deal_without_a_way_forward():
    """Issue 12 (1): bounces from every stage, rejections, nurture, lost -- every deal ends
    finished or waiting where somebody can take it; no error. (10,000 leads: see
    docs/benchmarks.md; the same command, smaller here.)"""
    out = StringIO()
    call_command(
        "simulate", "--leads", "60", "--seed", "12", "--json",
        "--disqualify", "0.1", "--nurture", "0.3", "--over-limit", "0.6",
        "--reject", "0.6", "--bounce", "0.6", "--lost", "0.1",
        stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue())
    assert summary["problems"] == {} and summary["stuck"] == 0
    assert summary["finished"] + summary["waiting"] == 60
    assert summary["finished"] > 40
    assert summary["bounces"] > 30 and summary["lost"] > 0 and summary["timers_fired"] > 0
    rejections = AuditEvent.objects.filter(action="reject").count()
    back_to_qualify = HandoffNote.objects.filter(kind="bounce", to_node="conveyor.qualify").count()
    assert rejections > 0 and back_to_qualify > 0


@pytest.mark.django_db
def test_simulate_fails_naming_a_deal_left_with_no_way_forward():
    """A deal nobody may take is reported by number and the command exits non-zero."""
    from django.contrib.auth.models import Group
    from django.core.management.base import CommandError

    from flows.simulation import ConveyorSimulator, ensure_staff

    staff = ensure_staff("sim_", {"hunter": 1})
    simulator = ConveyorSimulator(staff=staff)
    process_id = simulator.add_deal(1)
    Group.objects.get(name="hunter").user_set.clear()  # nobody holds the hunters' role
    simulator.tally([process_id])
    assert simulator.summary.problems == {process_id: "stuck: nobody may take conveyor.qualify"}
    with pytest.raises(CommandError, match="disqualify"):
        call_command("simulate", "--leads", "1", "--disqualify", "2")  # odds are 0..1


@pytest.mark.django_db
def test_simulate_refuses_zero_leads():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("simulate", "--leads", "0")


def _seeded_counts() -> dict[str, int]:
    models = (Client, Lead, Task, AuditEvent, HandoffNote, Activity, Snapshot, Goal, SideTask)
    return {model.__name__: model.objects.count() for model in models}


@pytest.mark.django_db
def test_seed_demo_writes_two_months_of_history_and_deals_at_every_stage_once():
    """Issue 17 (5): a newcomer's first page has a past -- stored daily reports, a funnel,
    scorecards and pay statements with figures -- and a second run adds nothing."""
    out = StringIO()
    call_command("seed_demo", verbosity=0, stdout=out)
    assert out.getvalue() == ""  # `make run` asks for --verbosity 0
    counts = _seeded_counts()
    call_command("seed_demo", stdout=StringIO())
    assert _seeded_counts() == counts  # idempotent

    users = get_user_model().objects
    assert users.get(username="hunter1").check_password("salesflow")
    assert users.get(username="admin").is_superuser
    names = {u.username: u.get_full_name() for u in users.all()}
    assert names["hunter1"] and names["hunter1"] != names["hunter2"]
    assert users.get(username="assistant").groups.filter(name="assistant").exists()
    assert users.get(username="operator").groups.filter(name="database_operator").exists()
    open_stages = {
        task.flow_task.name
        for task in Task.objects.filter(flow_task_type="HUMAN", status__in=["NEW", "ASSIGNED"])
    }
    assert open_stages >= {
        "qualify",
        "prepare_order",
        "approve_discount",
        "documents",
        "delivery",
        "follow_up",
        "do",  # a side task the prepared order waits for
        "fix",  # the database operator's queue
        "decide",  # a hunter's pay dispute, in the team leads' pool
    }
    assert SideTask.objects.filter(waits=True, status=SideTask.Status.OPEN).count() == 1

    # the past: every day's report stored, as the morning job would have
    today = timezone.localdate()
    days = set(Snapshot.objects.values_list("day", flat=True))
    assert days == {today - timedelta(days=n) for n in range(1, seed_demo.HISTORY_DAYS + 1)}
    assert Snapshot.objects.filter(orders_delivered__gt=0).count() > 20
    # every path a deal takes, on the trail
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"handoff", "bounce", "stalled", "approve", "reject", "side_task"} <= actions
    assert set(Lead.objects.values_list("source", flat=True)) == set(Lead.Source.values)
    assert {"call", "meeting", "proposal"} <= set(Activity.objects.values_list("kind", flat=True))

    result = funnel(first=today - timedelta(days=60), last=today - timedelta(days=1))
    assert min(result.leads, result.qualified, result.orders, result.delivered) > 0
    assert sum(result.lost.values()) > 0 and len(result.lost) > 1
    assert all(result.revenue.get(kind, 0) > 0 for kind in ("new", "repeat", "reactivation"))

    last_month = period_containing("month", today.replace(day=1) - timedelta(days=1))
    account = users.get(username="account1")
    card = scorecard(person=account, period=last_month)
    assert card.lines and all(line.actual > 0 for line in card.lines)
    assert scorecard(person=account, period=period_containing("month", today)).goals
    assert statement(month=last_month.first).lines


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS"]
)
def test_the_production_profile_refuses_to_start_without_its_variables(missing):
    env = {
        **os.environ,
        "SALESFLOW_ENV": "production",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/salesflow",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "sales.example.com",
        "DJANGO_SETTINGS_MODULE": "salesflow.settings",
    }
    del env[missing]
    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "check"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert missing in result.stderr


def test_the_command_accepts_dashes_for_its_own_commands():
    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "seed-demo", "--help"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "salesflow.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert "demo users" in result.stdout
