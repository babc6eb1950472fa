"""The ``salesflow`` command line: simulate, seed-demo, the production profile."""

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from viewflow.workflow.models import Task

from flows.models import SideTask
from salesflow.clients.models import Client, Lead
from salesflow.handoff.models import HandoffNote


@pytest.mark.django_db
def test_simulate_drives_leads_along_the_conveyor_and_reports_as_json():
    out = StringIO()
    call_command("simulate", "--leads", "6", "--seed", "3", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert set(summary) == {
        "leads", "finished", "tasks_completed", "handoffs", "bounces", "approvals",
        "side_tasks", "seconds",
    }  # fmt: skip
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
def test_simulate_refuses_zero_leads():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="at least 1"):
        call_command("simulate", "--leads", "0")


@pytest.mark.django_db
def test_seed_demo_creates_people_and_deals_at_every_stage_once():
    call_command("seed_demo", stdout=StringIO())
    clients = Client.objects.count()
    call_command("seed_demo", stdout=StringIO())

    assert Client.objects.count() == clients  # idempotent
    users = get_user_model().objects
    assert users.get(username="hunter1").check_password("salesflow")
    assert users.get(username="admin").is_superuser
    names = {
        task.flow_task.name
        for task in Task.objects.filter(flow_task_type="HUMAN", status__in=["NEW", "ASSIGNED"])
    }
    assert names >= {
        "qualify",
        "prepare_order",
        "approve_discount",
        "documents",
        "delivery",
        "follow_up",
        "do",  # a side task the prepared order waits for
        "fix",  # the database operator's queue
    }
    assert HandoffNote.objects.filter(kind="bounce").exists()
    assert SideTask.objects.filter(waits=True, status=SideTask.Status.OPEN).count() == 1
    assert users.get(username="assistant").groups.filter(name="assistant").exists()
    assert users.get(username="operator").groups.filter(name="database_operator").exists()


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


@pytest.mark.django_db
def test_seed_demo_says_nothing_at_verbosity_0_and_gives_people_full_names():
    out = StringIO()
    call_command("seed_demo", verbosity=0, stdout=out)
    assert out.getvalue() == ""
    from django.contrib.auth import get_user_model

    names = {u.username: u.get_full_name() for u in get_user_model().objects.all()}
    assert names["hunter1"] and names["hunter1"] != names["hunter2"]
