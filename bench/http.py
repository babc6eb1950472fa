"""Load over HTTP: people of every role working their inboxes against gunicorn with the
production profile, a Celery worker handing work out, PostgreSQL and Redis.

Fills a scratch PostgreSQL database with open work spread over the conveyor (half in the
pools, half with staff who are not part of the run) and finished deals, collects the
static files, starts a Redis of its own as the broker, gunicorn (``--workers``) and a
Celery worker, each as the operator would (``bench.processes``). Then ``--users``
simulated people of each role -- each a process with its own connection and session
(reopened after each answer: gunicorn's sync workers close it, as behind nginx) -- sign
in and, for ``--seconds``, do what people do: open their pool and their inbox, take the
next task (or the first one the pool's policy gave them), open it and complete it with
the stage's data and a handoff note where the stage needs one. Prints requests per
second and the median and 95th percentile of each page's response time as the users saw
it, and the errors (any answer other than the page's expected one): 0.
"""

from __future__ import annotations

import multiprocessing
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from django.db import connection, connections

from . import processes
from .base import median, percentile, scratch_database
from .data import PATH, add_deals, analyze, count_tasks, require_postgresql

ROLES = ("hunter", "account_manager", "document_clerk", "expeditor", "team_lead")
# Staff holding the prefilled work (not signed in): 80 people, as in a mid-size company.
STAFF = {"hunter": 30, "account_manager": 25, "document_clerk": 10, "expeditor": 10, "team_lead": 5}
PASSWORD = "bench-password-not-secret"
TASK_URL = re.compile(r"/conveyor/(\d+)/(\w+)/(\d+)/")
CHUNK = 50_000  # deals per statement batch when filling up


def add_arguments(parser) -> None:
    parser.add_argument("--users", type=int, default=2, help="simulated people per role")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seconds", type=float, default=60, help="measured time")
    parser.add_argument("--open", type=int, default=20_000, help="open tasks")
    parser.add_argument("--finished", type=int, default=100_000, help="finished tasks")


def _fill(*, open_tasks: int, finished: int, staff: dict[str, list[int]]) -> None:
    share = open_tasks // len(PATH) // 2
    for ref in PATH:
        add_deals(count=share, staff=staff, open_at=ref, history=False)
        add_deals(count=share, staff=staff, open_at=ref, assigned=True, history=False)
    deals = max(0, finished - count_tasks()["finished"]) // len(PATH)
    while deals:
        batch = min(CHUNK, deals)
        add_deals(count=batch, staff=staff, open_at=None)
        deals -= batch
    analyze()


class Person:
    """One simulated person of a role, in a process of its own."""

    def __init__(self, port: int, username: str, role: str) -> None:
        from flows.simulation import ConveyorSimulator, Odds

        self.browser = processes.WebClient(port)
        self.username, self.role = username, role
        self.pool = f"/work/pools/{role}/"
        # what people type, as the simulator has it; no bounces (a different action)
        self.typing = ConveyorSimulator(
            staff={}, odds=Odds(bounce=0, reject=0), seed=hash(username)
        )
        self.samples: list[tuple[str, float]] = []
        self.errors: list[str] = []
        self.nothing = 0  # "take the next task" found nothing for them

    def hit(self, page: str, method: str, path: str, expect: int, **kwargs: Any):
        try:
            answer = self.browser.request(method, path, **kwargs)
        except OSError as error:
            self.errors.append(f"{page} {path}: {type(error).__name__}: {error}")
            return None
        self.samples.append((page, answer.seconds * 1000))
        if answer.status != expect:
            self.errors.append(f"{page} {path}: {answer.status} (expected {expect})")
            return None
        return answer

    def turn(self) -> None:
        """Pool, inbox, a task (from the inbox, else the next from the pool), its page, done."""
        self.hit("pool", "GET", self.pool, 200)
        inbox = self.hit("inbox", "GET", self.pool + "mine/", 200)
        found = TASK_URL.search(inbox.text) if inbox else None
        if found is None:
            taken = self.hit("take_next", "POST", self.pool + "claim-next/", 302)
            found = TASK_URL.search(taken.headers["Location"]) if taken else None
            if found is None:
                self.nothing += 1  # nothing waits for them (or they hold their limit)
                return
        process_id, node_name, task_id = found.groups()
        stage = f"/conveyor/{process_id}/{node_name}/{task_id}/execute/"
        if self.hit("open_task", "GET", stage, 200) is None:
            return
        self.hit("complete", "POST", stage, 302, form=self.completion(int(process_id), node_name))

    def completion(self, process_id: int, node_name: str) -> dict[str, str]:
        from types import SimpleNamespace

        from salesflow.conveyor.registry import human_nodes

        node = human_nodes()[f"conveyor.{node_name}"]
        task = SimpleNamespace(process_id=process_id)
        form = {"action": "complete", "acknowledge": "on"}
        data = getattr(self.typing, f"data_{node_name}")(task)
        form.update({f"stage-{key}": value for key, value in data.items()})
        if node.handoff is not None:
            note = self.typing.note(node.handoff, task)
            form.update({f"handoff-{key}": value for key, value in note.items()})
        return form


def _person(port, username, role, seconds, start, results) -> None:
    person = Person(port, username, role)
    try:
        person.browser.sign_in(username, PASSWORD)
    except (RuntimeError, OSError) as error:
        person.errors.append(f"sign in: {error}")
    start.wait()
    began = time.monotonic()
    while time.monotonic() - began < seconds and not person.errors:
        person.turn()
    person.browser.close()
    results.put((role, person.samples, person.errors, person.nothing))


def run(
    *,
    users: int,
    workers: int,
    seconds: float,
    open: int,
    finished: int,
    keepdb: bool,  # noqa: A002
) -> dict:
    from flows.simulation import ensure_staff
    from salesflow.audit.models import AuditEvent

    require_postgresql()
    with tempfile.TemporaryDirectory(prefix="salesflow-bench-http-") as scratch:
        scratch_dir = Path(scratch)
        with scratch_database(keep=keepdb) as name:
            staff = ensure_staff("bench_", STAFF)
            _fill(
                open_tasks=open,
                finished=finished,
                staff={role: [u.pk for u in people] for role, people in staff.items()},
            )
            people = ensure_staff("load_", dict.fromkeys(ROLES, users), password=PASSWORD)
            counts = count_tasks()
            db = connection.settings_dict
            database_url = (
                f"postgres://{db['USER']}{':' + db['PASSWORD'] if db.get('PASSWORD') else ''}"
                f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
            )
            connections.close_all()  # the processes open their own
            figures = _load(scratch_dir, database_url, people, workers=workers, seconds=seconds)
            # the pools' hand-outs the worker did meanwhile (the prefilled data has none)
            figures["handed_out_by_worker"] = AuditEvent.objects.filter(
                action=AuditEvent.Action.ASSIGN, actor=None
            ).count()
    return {"open": counts["open"], "finished": counts["finished"], **figures}


def _load(scratch: Path, database_url: str, people, *, workers: int, seconds: float) -> dict:
    broker = processes.RedisServer(scratch / "redis")
    broker.dir.mkdir()
    broker.start()
    env = processes.production_env(
        database_url=database_url,
        broker_url=broker.url,
        static_root=scratch / "static",
        var_dir=scratch / "var",
        LOG_LEVEL="WARNING",
    )
    started: list[processes.Proc] = []
    try:
        processes.collectstatic(env)
        port = processes.free_port()
        web = processes.start(
            "web", processes.gunicorn_command(port=port, workers=workers), env=env, log_dir=scratch
        )
        started.append(web)
        worker = processes.start(
            "worker", processes.worker_command(name="bench"), env=env, log_dir=scratch
        )
        started.append(worker)
        probe = processes.WebClient(port, timeout=5)

        def healthy() -> bool:
            try:
                return probe.get("/health/", secure=False).status == 200
            except OSError:
                return False

        processes.wait_until(healthy, timeout=120, what="gunicorn", watch=(web, worker))
        probe.close()
        return _drive(port, people, seconds=seconds)
    finally:
        for proc in reversed(started):
            proc.stop()
        broker.stop()


def _drive(port: int, people: dict[str, list], *, seconds: float) -> dict:
    context = multiprocessing.get_context("fork")
    everyone = [(user.username, role) for role, users in people.items() for user in users]
    start, results = context.Barrier(len(everyone) + 1), context.Queue()
    children = [
        context.Process(target=_person, args=(port, name, role, seconds, start, results))
        for name, role in everyone
    ]
    for child in children:
        child.start()
    start.wait(timeout=300)  # everyone signed in: the clock starts
    began = time.monotonic()
    outcomes = [results.get(timeout=seconds + 300) for _ in children]
    elapsed = time.monotonic() - began
    for child in children:
        child.join(timeout=30)

    by_page: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    nothing = 0
    for _role, samples, failed, idle in outcomes:
        for page, ms in samples:
            by_page[page].append(ms)
        errors += failed
        nothing += idle
    total = sum(len(times) for times in by_page.values())
    pages = {
        page: {
            "requests": len(times),
            "p50_ms": round(median(times), 1),
            "p95_ms": round(percentile(times, 0.95), 1),
        }
        for page, times in sorted(by_page.items())
    }
    return {
        "users": len(everyone),
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "stages_completed": pages.get("complete", {}).get("requests", 0),
        "pages": pages,
        "nothing_to_take": nothing,
        "errors": len(errors),
        "error_samples": errors[:10],
    }
