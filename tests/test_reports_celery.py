"""The scheduled daily report through a real Celery worker on the Redis broker.

The worker is a separate process started with the test database's settings; the test is
transactional so that the worker sees the data it commits and the test sees the snapshot
the worker commits. The worker is always stopped, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from celery import Celery
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from bench.processes import wait_until
from salesflow.reports.models import ReportRecipient, Snapshot
from salesflow.reports.services import daily_report_build

from . import procs
from .conftest import open_task

PROJECT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 120  # a generous bound for a loaded machine; not a measure of speed


def _test_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(redis_url, tmp_path):
    """A Celery worker process on its own queue of the test Redis database; yields the
    queue's name. Stopped (then killed, if it must be) when the test ends."""
    queue = f"reports-test-{uuid.uuid4().hex[:8]}"
    log = (tmp_path / "worker.log").open("w")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": redis_url,
        "PYTHONPATH": os.pathsep.join([str(PROJECT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "salesflow",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],  # fmt: skip
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield queue
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        if process.returncode not in (0, -signal.SIGTERM):
            print((tmp_path / "worker.log").read_text()[-5000:])


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_scheduled_report_and_stores_yesterdays_snapshot(
    staff, new_lead, driver, redis_url, worker, tmp_path
):
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=True):
        lead = new_lead()
        driver().step(lead.process_id)  # qualified, handed over to the account managers
    ReportRecipient.objects.create(email="lead@example.com")
    yesterday = timezone.localdate() - timedelta(days=1)
    job = PeriodicTask.objects.get(name="reports: daily queue report")

    Celery("probe", broker=redis_url).send_task(
        job.task, args=json.loads(job.args), kwargs=json.loads(job.kwargs), queue=worker
    )

    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        snapshot = Snapshot.objects.filter(day=yesterday, emailed__isnull=False).first()
        if snapshot is not None:
            break
        time.sleep(0.5)
    else:
        log = (tmp_path / "worker.log").read_text()[-3000:]
        pytest.fail(f"the worker stored no snapshot for {yesterday}; its log:\n{log}")

    stages = {row.node: row for row in snapshot.stages.all()}
    assert stages["conveyor.prepare_order"].open == 1  # the lead waits for an account manager
    assert open_task(lead).flow_task.name == "prepare_order"
    assert Snapshot.objects.count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_workers_that_start_build_the_days_the_morning_job_missed_once(
    staff, new_lead, redis_url, tmp_path
):
    """Issue 17 (4): the broker was down for the last four mornings, so beat sent no job.
    Two production workers start; each sends the catch-up when it is ready; every missed
    day -- yesterday included -- is built, by one of them, once."""
    with time_machine.travel(timezone.now() - timedelta(days=6), tick=True):
        new_lead()
    yesterday = timezone.localdate() - timedelta(days=1)
    last_stored = yesterday - timedelta(days=4)
    daily_report_build(day=last_stored)
    missed = [last_stored + timedelta(days=n) for n in range(1, 5)]

    procs.flush_redis(redis_url)
    stack = procs.Stack(tmp_path, broker_url=redis_url)
    try:
        stack.worker("worker1")
        stack.worker("worker2")
        wait_until(
            lambda: stack.logs().count("daily_report_catch_up[") >= 4,  # received, succeeded
            timeout=WAIT_SECONDS,
            what="both workers' catch-up jobs to finish",
            watch=tuple(stack.procs),
        )
        logs = stack.logs()
    finally:
        problems = stack.close()
    assert not problems, "\n".join(problems)
    assert logs.count("succeeded") >= 2, logs[-3000:]
    assert sorted(Snapshot.objects.values_list("day", flat=True)) == [last_stored, *missed]
    for day in missed:  # built once: by one worker's job; the other found it built
        assert logs.count(f"daily report for {day.isoformat()} built") == 1, logs[-3000:]
