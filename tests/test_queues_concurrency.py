"""Pools under real concurrency on PostgreSQL: many people pressing "take the next task" at
once, and two people acting on one task at the same moment."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from django.db import connection
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.simulation import ConveyorSimulator, Odds
from salesflow.audit.models import AuditEvent
from salesflow.conveyor import services
from salesflow.conveyor.locking import locked_task
from salesflow.exceptions import ClaimConflict, WipLimitReached
from salesflow.queues import claims

from .conftest import open_task
from .factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(*functions):
    """Run each function in its own thread (and database connection); re-raise the first
    error any of them hit."""
    errors: list[BaseException] = []

    def wrap(function):
        def run():
            try:
                function()
            except BaseException as exc:  # noqa: BLE001 - reported to the test below
                errors.append(exc)
            finally:
                connection.close()

        return run

    threads = [threading.Thread(target=wrap(f)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (a deadlock?)"
    if errors:
        raise errors[0]


def test_claim_next_by_many_people_at_once_never_gives_a_task_twice(new_lead):
    workers, per_worker = 8, 5  # hunters may hold 5 tasks each (roles/hunter.toml)
    hunters = [
        [UserFactory(username=f"h{w}_{n}", roles=["hunter"]) for n in range(per_worker)]
        for w in range(workers)
    ]
    # more tasks than the hunters may hold: each stops at their limit, never for want of work
    for _ in range(workers * per_worker * 5 + 50):
        new_lead()
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(people):
        def claim_until_full():
            for person in people:
                while True:
                    try:
                        task = claims.task_claim_next(user=person)
                    except WipLimitReached:
                        break
                    if task is None:
                        return
                    with lock:
                        claimed.append(task.pk)

        return claim_until_full

    run_in_threads(*(worker(people) for people in hunters))

    assert len(claimed) == workers * per_worker * 5  # every hunter filled to the limit
    duplicates = [pk for pk, n in Counter(claimed).items() if n > 1]
    assert duplicates == []
    owned = Task.objects.filter(flow_task_type="HUMAN", status=STATUS.ASSIGNED)
    assert owned.count() == len(claimed)
    assert AuditEvent.objects.filter(action="claim").count() == len(claimed)


def test_of_two_people_claiming_one_task_at_once_the_second_is_refused(new_lead):
    first, second = (UserFactory(username=f"hunter_{n}", roles=["hunter"]) for n in (1, 2))
    task = open_task(new_lead())
    holding = threading.Event()
    outcome: list[str] = []

    def claims_first():
        # what task_claim does, paused while it holds the lock
        with locked_task(task) as locked:
            Task.objects.filter(pk=locked.pk).update(owner=first, status=STATUS.ASSIGNED)
            holding.set()
            time.sleep(0.5)

    def claims_second():
        holding.wait()
        try:
            claims.task_claim(task=task, user=second)
            outcome.append("claimed")
        except ClaimConflict:
            outcome.append("refused")

    run_in_threads(claims_first, claims_second)

    assert outcome == ["refused"]
    task.refresh_from_db()
    assert task.owner == first


def test_a_double_submitted_completion_moves_the_deal_on_once(new_lead):
    hunter = UserFactory(username="hunter_1", roles=["hunter"])
    simulator = ConveyorSimulator(staff={"hunter": [hunter]}, odds=Odds(0, 0, 0, 0, 0))
    lead = new_lead()
    task = claims.task_claim(task=open_task(lead), user=hunter)
    note = simulator.note(task.flow_task.handoff, task)
    outcomes: list[str] = []

    def complete():
        try:
            services.stage_complete(
                task=task, user=hunter, data={"outcome": "qualified"}, handoff=note
            )
            outcomes.append("done")
        except ClaimConflict:
            outcomes.append("refused")

    run_in_threads(complete, complete)

    assert sorted(outcomes) == ["done", "refused"]
    assert Task.objects.filter(process_id=lead.process_id, flow_task_type="HUMAN").count() == 2
    assert AuditEvent.objects.filter(action="handoff", task=task).count() == 1


def _press_take_next(user_id: int, start, results) -> None:
    """One process pressing "take the next task" once, when all are ready."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    person = get_user_model().objects.get(pk=user_id)
    start.wait()
    try:
        task = claims.task_claim_next(user=person)
        results.put("claimed" if task is not None else "nothing")
    except WipLimitReached:
        results.put("limit")
    except Exception as exc:  # noqa: BLE001 - reported to the test (a deadlock would show)
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


def test_one_person_pressing_take_next_from_many_processes_stops_at_the_wip_limit(new_lead):
    import multiprocessing

    from django.db import connections

    from salesflow.roles import get_roles

    limit = get_roles()["hunter"].pool.wip_limit
    assert limit is not None and limit > 1
    hunter = UserFactory(username="hunter_busy", roles=["hunter"])
    for _ in range(limit - 1):  # one short of the limit
        claims.task_claim(task=open_task(new_lead()), user=hunter)
    for _ in range(10):
        new_lead()  # plenty waiting: only the limit may stop them
    connections.close_all()  # each process opens its own
    presses = 8
    context = multiprocessing.get_context("fork")
    start, results = context.Barrier(presses), context.Queue()
    processes = [
        context.Process(target=_press_take_next, args=(hunter.pk, start, results))
        for _ in range(presses)
    ]
    for process in processes:
        process.start()
    outcomes = Counter(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(timeout=30)

    assert outcomes == Counter({"claimed": 1, "limit": presses - 1})
    held = Task.objects.filter(owner=hunter, status__in=[STATUS.ASSIGNED, STATUS.STARTED])
    assert held.count() == limit
