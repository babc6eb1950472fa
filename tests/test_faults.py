"""Faults, scripted: the production processes (``procs.Stack``) lose a worker to kill -9 in
the middle of its work, the database to a restart while requests run, the broker for a
while -- and nothing is lost, done twice or left half-done.

How a worker is caught "in the middle": the test's own transaction holds a lock the task
needs at the chosen point (the snapshot table while the report is stored, the recipients
while it is e-mailed, the audit table while the scan writes its marks, the permissions
while the team leads are looked up), waits until the worker's session is blocked on it,
and kills the worker's whole process group. Its session, its transaction never
committed, is rolled back by PostgreSQL. A second worker then gets the unacknowledged
message again once the broker's visibility timeout -- set to 5 s in this environment
only -- has passed.

A job that kills its worker every time (out of memory) is a job of the tests' own
(``tests.worker_jobs``, given to the worker with Celery's ``--include``) that SIGKILLs the
pool process running it: the worker's main process puts it back in the queue at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from celery import Celery
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from knox.models import AuthToken
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from bench.processes import RedisServer
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Lead
from salesflow.handoff.models import HandoffNote
from salesflow.models import JobDelivery
from salesflow.queues import claims
from salesflow.queues.terms import HANDOUT, terms_of
from salesflow.reports.models import ReportRecipient, Snapshot

from . import procs, worker_jobs
from .conftest import open_task
from .factories import UserFactory
from .test_http import NOTES, STAGE_DATA

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# a dead worker's message comes back after 5 s; the broker looks for such messages each second
REDELIVERY = {"visibility_timeout": 5, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
WAIT = procs.START_SECONDS


@pytest.fixture
def mailbox():
    with procs.mailbox() as box:
        yield box


@pytest.fixture
def stack(tmp_path, redis_url, mailbox):
    """Production processes on the test's Redis database, e-mail into ``mailbox``; all
    stopped at the end, and the test fails if one had to be killed or left a child."""
    procs.flush_redis(redis_url)
    running = procs.Stack(
        tmp_path,
        broker_url=redis_url,
        EMAIL_URL=mailbox.url,
        CELERY_BROKER_TRANSPORT_OPTIONS=json.dumps(REDELIVERY),
    )
    try:
        yield running
    finally:
        problems = running.close()
    assert not problems, "\n".join(problems)


def next_stage(task: Task) -> Task | None:
    """The human task the deal went on to after ``task`` (past the gateways)."""
    return (
        Task.objects.filter(process_id=task.process_id, flow_task_type="HUMAN", pk__gt=task.pk)
        .order_by("pk")
        .first()
    )


def send(redis_url: str, task: str) -> None:
    """Enqueue a job by name, as beat does."""
    Celery("probe", broker=redis_url).send_task(task)


def job_ids(worker, job: str, event: str) -> list[str]:
    """Ids of the ``job`` messages the worker's log says were ``received``/``succeeded``."""
    return re.findall(rf"Task {re.escape(job)}\[([0-9a-f-]+)\] {event}", worker.log(10**6))


def kill_while_blocked(stack: procs.Stack, worker, lock: str, job: str) -> None:
    """Hold ``lock``, send ``job``, wait until the worker's session waits for the lock,
    kill -9 the worker, release the lock and wait until PostgreSQL has ended the dead
    worker's session (rolling back whatever it had not committed)."""
    with procs.holding(lock):
        send(stack.broker_url, job)
        (blocked,) = procs.wait_until(
            procs.backends_waiting_for_a_lock, timeout=WAIT, what=f"{job} to block", watch=(worker,)
        )
        worker.kill()
    procs.wait_until(
        lambda: not procs.backend_alive(blocked), timeout=WAIT, what="the dead session to end"
    )


# --- kill -9 in the middle of the daily report -----------------------------------------------


@pytest.fixture
def yesterday_happened(new_lead, driver, staff):
    """A deal handed over two days ago, and a recipient for the report."""
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=True):
        driver().step(new_lead().process_id)
    ReportRecipient.objects.create(email="lead@example.com")
    return timezone.localdate() - timedelta(days=1)


@pytest.mark.parametrize(
    "moment,lock,stored_before_kill",
    [
        ("while storing the snapshot", "LOCK TABLE reports_snapshot IN EXCLUSIVE MODE", 0),
        ("while e-mailing", "LOCK TABLE reports_reportrecipient IN ACCESS EXCLUSIVE MODE", 1),
    ],
)
def test_a_daily_report_killed_midway_is_done_once_by_the_next_worker(
    stack, mailbox, yesterday_happened, moment, lock, stored_before_kill
):
    first = stack.worker("worker-1")
    kill_while_blocked(stack, first, lock, "salesflow.reports.tasks.daily_report")

    assert Snapshot.objects.count() == stored_before_kill and mailbox.messages == []
    second = stack.worker("worker-2")
    snapshot = procs.wait_until(
        lambda: Snapshot.objects.filter(emailed__isnull=False).first(),
        timeout=WAIT,
        what="the second worker to store and e-mail the report",
        watch=(second,),
    )
    procs.wait_until(
        lambda: procs.broker_idle(stack.broker_url), timeout=WAIT, what="the job to be acked"
    )

    assert snapshot.day == yesterday_happened
    assert Snapshot.objects.count() == 1
    assert len(mailbox.messages) == 1, [m[2][:300] for m in mailbox.messages]
    assert mailbox.messages[0][1] == ["lead@example.com"]
    # the very message the first worker was killed with, not a new one
    job = "salesflow.reports.tasks.daily_report"
    assert job_ids(first, job, "received") == job_ids(second, job, "succeeded")


# --- kill -9 in the middle of the stalled scan -----------------------------------------------


SCAN, NOTIFY = "salesflow.queues.tasks.scan_stalled", "salesflow.queues.tasks.notify_stalled"


@pytest.mark.parametrize(
    "moment,lock,marked_before_kill,killed",
    [
        ("while marking", "LOCK TABLE audit_auditevent IN SHARE MODE", 0, SCAN),
        (
            "while telling the team leads",
            "LOCK TABLE auth_permission IN ACCESS EXCLUSIVE MODE",
            3,  # the scan committed; its e-mail job was the one killed
            NOTIFY,
        ),
    ],
)
def test_a_stalled_scan_killed_midway_marks_each_task_once_and_tells_once(
    stack, mailbox, staff, new_lead, moment, lock, marked_before_kill, killed
):
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        late = [open_task(new_lead()) for _ in range(3)]  # a hunter's SLA is one day
    first = stack.worker("worker-1")
    kill_while_blocked(stack, first, lock, SCAN)

    stalled = AuditEvent.objects.filter(action=AuditEvent.Action.STALLED)
    assert stalled.count() == marked_before_kill and mailbox.messages == []
    second = stack.worker("worker-2")
    procs.wait_until(
        lambda: mailbox.messages, timeout=WAIT, what="the team leads' e-mail", watch=(second,)
    )
    procs.wait_until(
        lambda: procs.broker_idle(stack.broker_url), timeout=WAIT, what="the jobs to be acked"
    )

    assert sorted(stalled.values_list("task_id", flat=True)) == sorted(t.pk for t in late)
    assert all(terms_of(Task.objects.get(pk=t.pk)).stalled for t in late)
    assert len(mailbox.messages) == 1
    _sender, recipients, text = mailbox.messages[0]
    assert sorted(recipients) == sorted(u.email for u in staff["team_lead"])
    assert all(f"#{t.pk} " in text for t in late)
    assert job_ids(first, killed, "received") == job_ids(second, killed, "succeeded") != []


# --- a job that kills its worker every time (out of memory) ---------------------------------


def test_a_job_that_kills_its_worker_every_time_is_parked_and_the_queue_goes_on(
    stack, mailbox, staff, new_lead
):
    """Issue 12, 7c, as it was found: the job SIGKILLs the pool process running it on every
    delivery, as the out-of-memory killer would. The worker's main process starts a new
    pool process each time and, with ``task_reject_on_worker_lost``, the message goes back
    to the queue at once -- counted each time (``CountedTask``) until, past
    ``SALESFLOW_JOB_MAX_DELIVERIES`` (the production default, 3), it is parked: failed and
    acknowledged, listed for an admin, never delivered again; the job queued behind it
    runs."""
    limit = 3
    with time_machine.travel(timezone.now() - timedelta(days=2)):
        late = open_task(new_lead())  # work for the scan queued behind the job that kills
    admin = with_password(
        UserFactory(username="admin", is_staff=True, is_superuser=True), "admin-password-1"
    )
    first = stack.worker("worker-1", include=(worker_jobs.__name__,))
    killer = Celery("probe", broker=stack.broker_url).send_task(worker_jobs.OUT_OF_MEMORY).id
    send(stack.broker_url, SCAN)

    parked = procs.wait_until(
        lambda: JobDelivery.objects.filter(task_id=killer, parked__isnull=False).first(),
        timeout=WAIT,
        what="the job to be parked",
        watch=(first,),  # the worker itself lives on: only its pool process is killed
    )
    procs.wait_until(
        lambda: job_ids(first, SCAN, "succeeded"), timeout=WAIT, what="the scan", watch=(first,)
    )
    procs.wait_until(
        lambda: procs.broker_idle(stack.broker_url), timeout=WAIT, what="the jobs to be acked"
    )

    log = first.log(10**6)
    assert parked.name == worker_jobs.OUT_OF_MEMORY and parked.attempt == 0
    assert parked.deliveries == limit + 1
    # delivered the limit's times and killed each time, then once more: parked, not run
    assert job_ids(first, worker_jobs.OUT_OF_MEMORY, "received") == [killer] * (limit + 1)
    killed = re.findall(r"Process '(ForkPoolWorker-\d+)' pid:\d+ exited with 'signal 9", log)
    assert len(set(killed)) == limit, log[-5000:]  # a new pool process each time
    assert f"parked: delivered {limit + 1} times without finishing" in log
    # the other job of the queue ran, and its count was cleared as it finished
    assert terms_of(Task.objects.get(pk=late.pk)).stalled is not None
    assert list(JobDelivery.objects.values_list("task_id", flat=True)) == [killer]

    # more restarts -- the whole worker killed, a new one started -- and a visibility
    # timeout: nothing of the job is left in the broker to come back
    first.kill()
    second = stack.worker("worker-2", include=(worker_jobs.__name__,))
    time.sleep(REDELIVERY["visibility_timeout"] + 2 * REDELIVERY["unacked_restore_interval"])
    send(stack.broker_url, SCAN)
    procs.wait_until(
        lambda: job_ids(second, SCAN, "succeeded"),
        timeout=WAIT,
        what="a job after the restart",
        watch=(second,),
    )
    assert job_ids(second, worker_jobs.OUT_OF_MEMORY, "received") == []
    assert JobDelivery.objects.get(task_id=killer).deliveries == limit + 1

    # an admin finds it under Parked jobs
    stack.web(workers=1)
    browser = stack.client()
    browser.sign_in(admin.username, "admin-password-1")
    english = {"Accept-Language": "en"}
    index = browser.get("/admin/", headers=english)
    assert index.status == 200 and "Parked jobs" in index.text
    page = browser.get("/admin/salesflow/jobdelivery/?parked__isempty=0", headers=english)
    assert page.status == 200, page.text[-2000:]
    assert killer in page.text and worker_jobs.OUT_OF_MEMORY in page.text
    assert f'<td class="field-deliveries">{limit + 1}</td>' in page.text


# --- PostgreSQL restarts while people complete stages ----------------------------------------


def _cluster() -> str:
    """The version of the machine's cluster, as .ci/run finds it."""
    return sorted(entry.name for entry in Path("/etc/postgresql").iterdir())[0]


def restart_postgresql() -> float:
    """Restart the machine's PostgreSQL cluster (fast shutdown: sessions are ended, open
    transactions rolled back); returns the seconds it took."""
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return time.monotonic() - started


def ensure_postgresql_up() -> None:
    """Whatever happened in the test, leave the shared PostgreSQL running."""
    if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0:
        return
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", _cluster(), "main", "start"], timeout=120
    )
    procs.wait_until(
        lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0,
        timeout=60,
        what="PostgreSQL to start again",
    )


@pytest.fixture
def restartable_postgresql():
    """The machine's own PostgreSQL cluster, which this test may restart. Skips only
    outside CI (``SALESFLOW_REQUIRE_SERVICES``), like the tests needing Redis."""
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        if os.environ.get("SALESFLOW_REQUIRE_SERVICES"):
            pytest.fail("CI requires the machine's PostgreSQL cluster (pg_ctlcluster)")
        pytest.skip("needs the machine's PostgreSQL cluster (pg_ctlcluster)")
    yield
    ensure_postgresql_up()


def test_a_postgresql_restart_leaves_no_half_done_stage_and_the_web_recovers(
    restartable_postgresql, stack, new_lead
):
    hunters = [UserFactory(username=f"restart{n}", roles=["hunter"]) for n in range(6)]
    work = {hunter: [] for hunter in hunters}
    for hunter in hunters:
        for _ in range(5):  # a hunter's WIP limit
            work[hunter].append(claims.task_claim(task=open_task(new_lead()), user=hunter).pk)
    web = stack.web(workers=2)
    web_processes = procs.processes._group_members(web.pid)

    answers: list[tuple[float, int]] = []  # (when, status) of every completion request
    reads: list[tuple[float, int]] = []
    completed = threading.Semaphore(0)
    restart_over = threading.Event()
    deadline = time.monotonic() + WAIT

    def complete_all(hunter) -> None:
        browser = stack.client(token=AuthToken.objects.create(user=hunter)[1])
        for task_id in work[hunter]:
            while time.monotonic() < deadline:
                try:
                    # a client that retries a change sends a key with it: a completion
                    # whose commit went through but whose answer was lost (the database
                    # ended the session after the COMMIT) is answered again, not refused
                    status = browser.post(
                        f"/api/tasks/{task_id}/complete/",
                        body={"data": STAGE_DATA["qualify"], "handoff": NOTES["qualify"]},
                        headers={"Idempotency-Key": f"complete-{task_id}"},
                    ).status
                except OSError:
                    status = 0  # no answer at all: counted, never expected
                answers.append((time.monotonic(), status))
                if status == 200:
                    completed.release()
                    time.sleep(0.8)  # people, not a benchmark: the work spans the restart
                    break
                time.sleep(0.2)  # 503: try again, as the answer says

    def read_inbox() -> None:
        """Someone looking at their inbox all along, until a second after the restart."""
        browser = stack.client(token=AuthToken.objects.create(user=hunters[0])[1])
        stop = deadline
        while time.monotonic() < stop:
            try:
                reads.append((time.monotonic(), browser.get("/api/tasks/inbox/").status))
            except OSError:
                reads.append((time.monotonic(), 0))
            if restart_over.is_set() and stop == deadline:
                stop = time.monotonic() + 1
            time.sleep(0.05)

    threads = [threading.Thread(target=complete_all, args=(h,)) for h in hunters]
    reader = threading.Thread(target=read_inbox)
    try:
        reader.start()
        for thread in threads:
            thread.start()
        for _ in range(4):
            assert completed.acquire(timeout=WAIT), "no stage completed before the restart"
        outage = restart_postgresql()
        back = time.monotonic()
        restart_over.set()
        for thread in (*threads, reader):
            thread.join(timeout=WAIT)
    finally:
        restart_over.set()
        ensure_postgresql_up()
        connection.close()  # the test's own session ended with the restart

    assert not any(thread.is_alive() for thread in (*threads, reader))
    statuses = [status for _at, status in answers + reads]
    assert set(statuses) <= {200, 503}, statuses  # a clear "try again", never a 500
    assert 503 in statuses  # requests really ran while the database was gone ...
    assert [status for at, status in answers].count(200) == 30  # every stage done in the end
    # ... and the same web served again once it was back, writes included
    assert {status for at, status in reads if at > back} == {200}
    assert any(at > back and status == 200 for at, status in answers)
    # nothing half-done: every completed stage has its note, its audit event and its next
    # task; nothing else was written
    for task_ids in work.values():
        for task in Task.objects.filter(pk__in=task_ids):
            assert task.status == STATUS.DONE
            assert HandoffNote.objects.filter(from_task=task).count() == 1
            assert AuditEvent.objects.filter(task=task, action="handoff").count() == 1
            assert next_stage(task) is not None
    assert HandoffNote.objects.count() == AuditEvent.objects.filter(action="handoff").count() == 30
    assert Task.objects.filter(flow_task_type="HUMAN").count() == 60  # 30 done, 30 next
    # the same gunicorn workers serve on: their connections were checked and renewed
    assert procs.processes._group_members(web.pid) == web_processes
    health = stack.client().get("/health/", secure=False)
    assert health.status == 200, health.text
    print(f"restart took {outage:.1f}s; answers: {statuses.count(503)} x 503, then 200 again")


# --- the broker goes away ----------------------------------------------------------------------


@pytest.fixture
def broker(tmp_path):
    """A Redis server of the test's own: the one the test may stop."""
    server = RedisServer(tmp_path / "redis")
    server.dir.mkdir()
    server.start()
    try:
        yield server
    finally:
        assert not server.stop()


@pytest.fixture
def broker_stack(tmp_path, broker):
    running = procs.Stack(
        tmp_path / "stack", broker_url=broker.url, CELERY_BROKER_TRANSPORT_OPTIONS="{}"
    )
    try:
        yield running
    finally:
        problems = running.close()
    assert not problems, "\n".join(problems)


def with_password(user, password: str):
    """A password the production profile's hasher can check (the tests' is MD5)."""
    user.password = PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt())
    user.save(update_fields=["password"])
    return user


def test_with_the_broker_down_the_web_works_and_the_hand_out_happens_when_it_returns(
    broker, broker_stack, staff, new_lead
):
    hunter = with_password(staff["hunter"][0], "hunter-password-1")
    sweep = PeriodicTask.objects.get(name="queues: hand out waiting tasks")
    sweep.interval = IntervalSchedule.objects.create(every=2, period=IntervalSchedule.SECONDS)
    sweep.kwargs = json.dumps({"grace_seconds": 1})  # an admin's edit: sooner than the default
    sweep.save()
    tasks = [claims.task_claim(task=open_task(new_lead()), user=hunter) for _ in range(2)]
    web, worker = broker_stack.web(), broker_stack.worker()
    broker_stack.beat()
    browser = broker_stack.client()
    browser.sign_in(hunter.username, "hunter-password-1")

    def complete(task) -> float:
        answer = browser.post(
            f"/conveyor/{task.process_id}/qualify/{task.pk}/execute/",
            form={
                "action": "complete",
                **{f"stage-{k}": v for k, v in STAGE_DATA["qualify"].items()},
                **{f"handoff-{k}": v for k, v in NOTES["qualify"].items()},
            },
        )
        assert answer.status == 302, answer.text[-2000:]
        return answer.seconds

    def handed_out(task):
        nxt = next_stage(task)
        return nxt if nxt and nxt.owner_id else None

    # the broker up: the next task is handed out by the worker at once
    complete(tasks[0])
    procs.wait_until(lambda: handed_out(tasks[0]), timeout=WAIT, what="a hand-out", watch=(worker,))

    broker.stop()
    health = browser.get("/health/", secure=False)
    assert health.status == 503
    assert health.json()["database"] == "ok" and health.json()["broker"].startswith("error")
    # the web keeps working: pages, a completion, the public form
    assert browser.get("/work/pools/hunter/").status == 200
    seconds = complete(tasks[1])
    waiting = next_stage(tasks[1])
    assert waiting.owner_id is None and HANDOUT in waiting.data
    visitor = broker_stack.client()
    visitor.get("/leads/form/")
    form = {"company": "Volga Pumps", "contact_name": "Anna", "phone": "+7 843 200 30 30"}
    assert visitor.post("/leads/form/", form=form).status == 302
    assert Lead.objects.filter(client__name="Volga Pumps").exists()
    assert "the pool's sweep will hand it out" in web.log(10**6)

    broker.start()  # the same address; empty, as a Redis without persistence comes back
    given = procs.wait_until(
        lambda: handed_out(tasks[1]), timeout=WAIT, what="the sweep's hand-out", watch=(worker,)
    )
    assert AuditEvent.objects.filter(action="assign", task=given, actor=None).count() == 1
    assert HANDOUT not in Task.objects.get(pk=given.pk).data
    procs.wait_until(
        lambda: browser.get("/health/", secure=False).status == 200,
        timeout=WAIT,
        what="the health check to see the broker again",
    )
    print(f"a completion with the broker down took {seconds:.2f}s")
