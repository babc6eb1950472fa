"""Claim-next under concurrency: worker processes press "take the next task" as fast as
they can until the pool is empty; every task must go to exactly one person.

The hunters' pool is filled with ``--tasks`` waiting leads; each of ``--workers``
processes (its own database connection) claims for its own hunters -- enough of them that
the WIP limit never stops the run. Prints claims per second over the whole run, and the
duplicates (a task claimed twice: must be 0), counted both from what the workers got and
from the audit trail.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter

from django.db import connections

from .base import scratch_database
from .data import add_deals, require_postgresql


def add_arguments(parser) -> None:
    parser.add_argument("--workers", type=int, default=8, help="concurrent claiming processes")
    parser.add_argument("--tasks", type=int, default=2000, help="tasks waiting in the pool")


def _claimer(user_ids: list[int], start, results) -> None:
    """One worker: claim the next task for each of its people until the pool is empty."""
    from django.contrib.auth import get_user_model

    from salesflow.exceptions import WipLimitReached
    from salesflow.queues.claims import task_claim_next

    people = list(get_user_model().objects.filter(pk__in=user_ids))
    claimed, errors = [], []
    start.wait()
    for person in people:
        while True:
            try:
                task = task_claim_next(user=person, role="hunter")
            except WipLimitReached:
                break
            except Exception as exc:  # reported, not hidden: a deadlock would show here
                errors.append(f"{type(exc).__name__}: {exc}")
                break
            if task is None:
                break
            claimed.append(task.pk)
    connections.close_all()
    results.put((claimed, errors))


def run(*, workers: int, tasks: int, keepdb: bool) -> dict:
    from flows.simulation import ensure_staff
    from salesflow.audit.models import AuditEvent
    from salesflow.roles import get_roles

    require_postgresql()
    wip = get_roles()["hunter"].pool.wip_limit or tasks
    per_worker = -(-tasks // (workers * wip)) + 1  # enough people that WIP never stops them
    with scratch_database(keep=keepdb):
        people = ensure_staff("bench_", {"hunter": workers * per_worker})["hunter"]
        add_deals(count=tasks, staff={"hunter": [p.pk for p in people]},
                  open_at="conveyor.qualify", history=False)  # fmt: skip
        connections.close_all()  # each process opens its own
        context = multiprocessing.get_context("fork")
        start, results = context.Barrier(workers + 1), context.Queue()
        groups = [[p.pk for p in people[w::workers]] for w in range(workers)]
        processes = [
            context.Process(target=_claimer, args=(group, start, results)) for group in groups
        ]
        for process in processes:
            process.start()
        start.wait()
        began = time.perf_counter()
        outcomes = [results.get(timeout=600) for _ in processes]
        seconds = time.perf_counter() - began
        for process in processes:
            process.join()
        claimed = [pk for got, _ in outcomes for pk in got]
        errors = [error for _, got in outcomes for error in got]
        audited = Counter(
            AuditEvent.objects.filter(action=AuditEvent.Action.CLAIM).values_list(
                "task_id", flat=True
            )
        )
    return {
        "workers": workers,
        "tasks": tasks,
        "claimed": len(claimed),
        "seconds": round(seconds, 3),
        "claims_per_s": round(len(claimed) / seconds, 1),
        "duplicates": len(claimed) - len(set(claimed)),
        "audited_duplicates": sum(1 for n in audited.values() if n > 1),
        "errors": errors[:10],
    }
