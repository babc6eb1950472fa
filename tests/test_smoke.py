"""The product as an operator runs it: gunicorn (2 workers), a Celery worker and Celery beat
as separate processes with the production profile, on the machine's PostgreSQL (the test
database) and Redis. Leads come in over the API, a stage is completed over HTTP, the
worker hands the next task to an account manager, beat's jobs reach the worker -- and
everything stops cleanly on SIGTERM, leaving no process behind (the ``stack`` fixture).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from knox.models import AuthToken
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Lead

from . import procs
from .conftest import open_task
from .test_http import NOTES, STAGE_DATA

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEAD = {"company": "Ural Steel Works", "contact_name": "Pavel", "phone": "+7 343 200 10 10"}


@pytest.fixture
def stack(tmp_path, redis_url):
    """The test's processes on the test's Redis database; all stopped at the end, and the
    test fails if one had to be killed or left a child process behind."""
    procs.flush_redis(redis_url)
    running = procs.Stack(tmp_path, broker_url=redis_url)
    try:
        yield running
    finally:
        problems = running.close()
    assert not problems, "\n".join(problems)


def token(user) -> str:
    return AuthToken.objects.create(user=user)[1]


def test_the_production_processes_take_leads_hand_out_work_and_stop_cleanly(stack, staff):
    hunter = staff["hunter"][0]
    # the sweep last ran an hour ago (beat counts an interval from the last run): due now
    PeriodicTask.objects.filter(name="queues: hand out waiting tasks").update(
        last_run_at=timezone.now() - timedelta(hours=1)
    )
    stack.web(workers=2)
    worker = stack.worker()
    stack.beat()
    browser = stack.client()

    # the production profile holds: plain HTTP is sent to HTTPS, HSTS, secure cookies,
    # hashed static files served by WhiteNoise; the health check needs neither TLS nor login
    assert browser.get("/health/", secure=False).json() == {
        "status": "ok", "database": "ok", "broker": "ok",
    }  # fmt: skip
    plain = browser.get("/accounts/login/", secure=False)
    assert plain.status == 301 and plain.headers["Location"].startswith("https://")
    login = browser.get("/accounts/login/")
    assert login.status == 200 and "max-age=31536000" in login.headers["Strict-Transport-Security"]
    assert all("Secure" in c for c in login.headers.get_all("Set-Cookie"))
    stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', login.text)
    assert stylesheet and browser.get(stylesheet.group(1)).status == 200

    # leads over the API, from an integration's token
    integration = stack.client(token=token(hunter))
    for n in range(3):
        created = integration.post(
            "/api/leads/",
            body={**LEAD, "company": f"Ural Steel Works {n}", "phone": f"+7 343 200 10 1{n}"},
            headers={"Idempotency-Key": f"smoke-{n}"},
        )
        assert created.status == 201, created.text
    assert Lead.objects.count() == 3

    # a hunter takes the next lead and hands it over, over HTTP
    taken = integration.post("/api/tasks/claim-next/", body={"role": "hunter"})
    assert taken.status == 200, taken.text
    qualify = taken.json()["id"]
    done = integration.post(
        f"/api/tasks/{qualify}/complete/",
        body={"data": STAGE_DATA["qualify"], "handoff": NOTES["qualify"]},
    )
    assert done.status == 200, done.text
    lead = Lead.objects.get(process__task__id=qualify)

    # the worker hands the order to an account manager (least loaded)
    order = procs.wait_until(
        lambda: (t := open_task(lead)) and t.flow_task.name == "prepare_order" and t.owner_id and t,
        timeout=procs.START_SECONDS,
        what="the worker to hand the order out",
        watch=(worker,),
    )
    assert order.owner in staff["account_manager"] and order.status == STATUS.ASSIGNED
    handed = AuditEvent.objects.get(action=AuditEvent.Action.ASSIGN, task=order)
    assert handed.actor is None and "least_loaded" in handed.reason

    # the account manager works it over HTTP; the documents go to a clerk in turn
    manager = stack.client(token=token(order.owner))
    assert manager.post(f"/api/tasks/{order.pk}/acknowledge/").status == 200
    done = manager.post(
        f"/api/tasks/{order.pk}/complete/",
        body={"data": STAGE_DATA["prepare_order"], "handoff": NOTES["prepare_order"]},
    )
    assert done.status == 200, done.text
    documents = procs.wait_until(
        lambda: (t := open_task(lead)) and t.flow_task.name == "documents" and t.owner_id and t,
        timeout=procs.START_SECONDS,
        what="the worker to hand the documents out",
        watch=(worker,),
    )
    assert documents.owner in staff["document_clerk"]

    # beat's periodic jobs reach the worker
    sweep = r"Task salesflow\.queues\.tasks\.hand_out_waiting\[.*\] succeeded"
    procs.wait_until(
        lambda: re.search(sweep, worker.log(10**6)),
        timeout=procs.START_SECONDS,
        what="beat's hand-out sweep to run in the worker",
        watch=(worker,),
    )

    # structured logs: each line one JSON object with its request's or task's id
    web_lines = [
        json.loads(line) for line in stack.procs[0].log(10**6).splitlines() if line.startswith("{")
    ]
    assert web_lines and all(line["request_id"] for line in web_lines)  # fmt: skip
    task_lines = [
        json.loads(line)
        for line in worker.log(10**6).splitlines()
        if line.startswith("{") and "auto_assign" in line
    ]
    assert any(line["task_id"] != "-" for line in task_lines)
