"""Stage completion throughput: the conveyor against a bare viewflow flow, in one run.

Both flows have the same main path (five human stages and the same gateways) and run on
the same database with the same lock. For every human task the conveyor's people claim it,
acknowledge the incoming note and complete it with its data and a handoff note, through
the engine's services; the bare flow's tasks are assigned and executed the way viewflow's
own views do it. Process starts are outside the clock for both. Prints tasks per second,
queries per human task for each, and the ratio.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from .base import counting_queries, scratch_database, timed


def add_arguments(parser) -> None:
    parser.add_argument("--leads", type=int, default=200, help="leads per round and flow")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")


def _bare_round(leads: int, user) -> tuple[int, float, int]:
    from .flows import BareFlow

    process_ids = [BareFlow.start.run().pk for _ in range(leads)]
    done = 0

    def work() -> None:
        nonlocal done
        for process_id in process_ids:
            while True:
                task = Task.objects.filter(
                    process_id=process_id, flow_task_type="HUMAN", status=STATUS.NEW
                ).first()
                if task is None:
                    break
                with task.activation() as activation:
                    activation.assign(user)
                with task.activation() as activation:
                    activation.start(None)
                    activation.execute()
                done += 1

    with counting_queries() as queries:
        seconds = timed(work)
    return done, seconds, len(queries)


def _conveyor_round(leads: int, simulator) -> tuple[int, float, int]:
    process_ids = [simulator.add_lead(n).process_id for n in range(leads)]
    simulator.summary.tasks_completed = 0

    def work() -> None:
        for process_id in process_ids:
            simulator.finish(process_id)

    with counting_queries() as queries:
        seconds = timed(work)
    return simulator.summary.tasks_completed, seconds, len(queries)


def run(*, leads: int, rounds: int, keepdb: bool) -> dict:
    from flows.management.commands.simulate import STAFF
    from flows.simulation import ConveyorSimulator, Odds, ensure_staff

    with scratch_database(keep=keepdb):
        staff = ensure_staff("bench_", STAFF)
        simulator = ConveyorSimulator(staff=staff, odds=Odds(0, 0, 0, 0, 0))
        bare_user = get_user_model().objects.create(username="bench_bare")
        # warm up both (imports, caches, the first plans)
        _bare_round(5, bare_user)
        _conveyor_round(5, simulator)
        totals = {"bare": [0, 0.0, 0], "salesflow": [0, 0.0, 0]}
        for _ in range(rounds):
            for name, figures in (
                ("bare", _bare_round(leads, bare_user)),
                ("salesflow", _conveyor_round(leads, simulator)),
            ):
                for i, value in enumerate(figures):
                    totals[name][i] += value
        vendor = connection.vendor
    salesflow_rate = totals["salesflow"][0] / totals["salesflow"][1]
    bare_rate = totals["bare"][0] / totals["bare"][1]
    return {
        "database": vendor,
        "leads": leads * rounds,
        "salesflow_tasks": totals["salesflow"][0],
        "bare_tasks": totals["bare"][0],
        "salesflow_tasks_per_s": round(salesflow_rate, 1),
        "bare_tasks_per_s": round(bare_rate, 1),
        "ratio": round(salesflow_rate / bare_rate, 3),
        "salesflow_queries_per_completion": round(totals["salesflow"][2] / totals["salesflow"][0], 2),
        "bare_queries_per_completion": round(totals["bare"][2] / totals["bare"][0], 2),
    }
