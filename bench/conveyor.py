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

from .base import counting_queries, median, scratch_database, timed_cpu


def add_arguments(parser) -> None:
    parser.add_argument("--leads", type=int, default=300, help="leads per flow in all")
    parser.add_argument(
        "--rounds", type=int, default=15, help="alternating rounds the leads are split into"
    )


def _bare_round(leads: int, user) -> tuple[int, float, int, float]:
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
        seconds, cpu = timed_cpu(work)
    return done, seconds, len(queries), cpu


def _conveyor_round(leads: int, simulator) -> tuple[int, float, int, float]:
    process_ids = [simulator.add_lead(n).process_id for n in range(leads)]
    simulator.summary.tasks_completed = 0

    def work() -> None:
        for process_id in process_ids:
            simulator.finish(process_id)

    with counting_queries() as queries:
        seconds, cpu = timed_cpu(work)
    return simulator.summary.tasks_completed, seconds, len(queries), cpu


def run(*, leads: int, rounds: int, keepdb: bool) -> dict:
    """Alternate short rounds of both flows (ABBA order) so that a change in the machine's
    load hits both alike; the rates are the medians of the rounds'."""
    from flows.management.commands.simulate import STAFF
    from flows.simulation import ConveyorSimulator, Odds, ensure_staff

    per_round = max(1, leads // rounds)
    with scratch_database(keep=keepdb):
        staff = ensure_staff("bench_", STAFF)
        simulator = ConveyorSimulator(staff=staff, odds=Odds(0, 0, 0, 0, 0))
        bare_user = get_user_model().objects.create(username="bench_bare")
        # warm up both (imports, caches, the first query plans)
        _bare_round(5, bare_user)
        _conveyor_round(5, simulator)
        results: dict[str, list[tuple[int, float, int, float]]] = {"bare": [], "salesflow": []}
        for number in range(rounds):
            order = ("bare", "salesflow") if number % 2 == 0 else ("salesflow", "bare")
            for name in order:
                if name == "bare":
                    results[name].append(_bare_round(per_round, bare_user))
                else:
                    results[name].append(_conveyor_round(per_round, simulator))
        vendor = connection.vendor

    def rate(name: str) -> float:
        return median([done / seconds for done, seconds, _, _ in results[name]])

    def cpu_ms(name: str) -> float:
        return median([cpu * 1000 / done for done, _, _, cpu in results[name]])

    def queries(name: str) -> float:
        done = sum(r[0] for r in results[name])
        return round(sum(r[2] for r in results[name]) / done, 2)

    return {
        "database": vendor,
        "leads": per_round * rounds,
        "salesflow_tasks": sum(r[0] for r in results["salesflow"]),
        "bare_tasks": sum(r[0] for r in results["bare"]),
        "salesflow_tasks_per_s": round(rate("salesflow"), 1),
        "bare_tasks_per_s": round(rate("bare"), 1),
        "ratio": round(rate("salesflow") / rate("bare"), 3),
        "salesflow_queries_per_completion": queries("salesflow"),
        "bare_queries_per_completion": queries("bare"),
        # this process's CPU per task (the database's waits left out): what the engine's
        # Python and the ORM cost, steady while other processes load the disk
        "salesflow_cpu_ms_per_task": round(cpu_ms("salesflow"), 2),
        "bare_cpu_ms_per_task": round(cpu_ms("bare"), 2),
        "cpu_ratio": round(cpu_ms("bare") / cpu_ms("salesflow"), 3),
    }
