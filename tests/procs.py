"""Real processes for the smoke and fault tests (``test_smoke.py``, ``test_faults.py``).

``Stack`` starts gunicorn, Celery workers and beat with the production profile
(``bench.processes``) against the test database and a Redis database, and stops them when
the test ends, whatever happened: the test's fixture calls ``Stack.close()`` in its
``finally`` and fails if a process had to be killed or left a child behind. Also here: a
private Redis server (to take the broker away without touching the shared one), an SMTP
sink that counts the e-mails really sent, and the PostgreSQL helpers the fault tests use
to stop a worker in the middle of its transaction (a lock it must wait for).

The tests using them are transactional (``django_db(transaction=True)``): the processes
see what the test commits, and the test sees what they commit.
"""

from __future__ import annotations

import atexit
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import redis
from django.db import connection

from bench import processes
from bench.processes import Proc, WebClient, free_port, wait_until

START_SECONDS = 90  # generous bounds for a loaded 2-core machine, not measures of speed
_static: dict[str, Path] = {}


def test_database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{db['USER']}{password}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def static_root(env: dict[str, str]) -> Path:
    """The production static files, collected once per test session."""
    if "root" not in _static:
        root = Path(tempfile.mkdtemp(prefix="salesflow-static-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        processes.collectstatic({**env, "STATIC_ROOT": str(root)})
        _static["root"] = root
    return _static["root"]


class Stack:
    """The processes of one test (see the module's docstring)."""

    def __init__(self, tmp_path: Path, *, broker_url: str, **env: str) -> None:
        self.dir = tmp_path
        self.broker_url = broker_url
        base = processes.production_env(
            database_url=test_database_url(),
            broker_url=broker_url,
            static_root=tmp_path / "static",  # replaced below, once collected
            var_dir=tmp_path / "var",
            **env,
        )
        self.env = {**base, "STATIC_ROOT": str(static_root(base))}
        self.procs: list[Proc] = []
        self.web_port: int | None = None

    def start(self, name: str, command: list[str]) -> Proc:
        proc = processes.start(name, command, env=self.env, log_dir=self.dir)
        self.procs.append(proc)
        return proc

    def web(self, *, workers: int = 2) -> Proc:
        """gunicorn with ``workers`` workers, once /health/ answers 200."""
        self.web_port = free_port()
        proc = self.start("web", processes.gunicorn_command(port=self.web_port, workers=workers))
        probe = WebClient(self.web_port, timeout=5)

        def healthy() -> bool:
            try:
                return probe.get("/health/", secure=False).status == 200
            except OSError:
                return False

        wait_until(healthy, timeout=START_SECONDS, what="gunicorn to answer", watch=(proc,))
        probe.close()
        return proc

    def worker(self, name: str = "worker", *, include: tuple[str, ...] = ()) -> Proc:
        """A Celery worker (one pool process), once it says it is ready; ``include``:
        modules of jobs only tests send (``tests.worker_jobs``), imported by the worker
        as Celery's ``--include`` says -- the product's own modules are left as they are."""
        command = processes.worker_command(name=name)
        if include:
            command += ["--include", ",".join(include)]
        proc = self.start(name, command)
        wait_until(
            lambda: " ready." in proc.log(), timeout=START_SECONDS, what=f"{name}", watch=(proc,)
        )
        return proc

    def beat(self) -> Proc:
        proc = self.start("beat", processes.beat_command(schedule_dir=self.dir))
        wait_until(
            lambda: "beat: Starting" in proc.log(),
            timeout=START_SECONDS,
            what="beat",
            watch=(proc,),
        )
        return proc

    def client(self, **kwargs) -> WebClient:
        assert self.web_port is not None, "start the web first"
        return WebClient(self.web_port, **kwargs)

    def close(self) -> list[str]:
        """Stop every process, the last started first. Returns what went wrong: processes
        that had to be killed or left children behind, with the end of their logs."""
        problems = []
        for proc in reversed(self.procs):
            left = proc.stop()
            if left:
                problems.append(f"{proc.name}: {left}\n{proc.log(3000)}")
        return problems

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}:\n{p.log()}" for p in self.procs)


def flush_redis(url: str) -> None:
    """Empty the test's Redis database: no message of an earlier, interrupted run may
    reach this test's worker."""
    redis.Redis.from_url(url).flushdb()


def broker_idle(url: str, queue: str = "celery") -> bool:
    """Nothing waiting in the queue and nothing delivered but unacknowledged."""
    client = redis.Redis.from_url(url)
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


# --- e-mail -----------------------------------------------------------------------------------


class _SmtpHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for Django's backend: every message is kept, none delivered."""

    def handle(self) -> None:
        self.reply("220 sink ESMTP")
        mail_from, recipients, data = "", [], None
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                mail_from, recipients = command[10:].strip("<> "), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command[8:].strip("<> "))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with .")
                lines = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(chunk)
                data = b"".join(lines).decode(errors="replace")
                self.server.messages.append((mail_from, recipients, data))  # type: ignore[attr-defined]
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP, ...
                self.reply("250 OK")

    def reply(self, text: str) -> None:
        self.wfile.write(f"{text}\r\n".encode())


class Mailbox(socketserver.ThreadingTCPServer):
    """An SMTP server on a free port in this process; ``messages``: (from, to, text)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[tuple[str, list[str], str]] = []

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.server_address[1]}"


@contextmanager
def mailbox() -> Iterator[Mailbox]:
    server = Mailbox()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# --- PostgreSQL: stopping a worker in the middle of its transaction -------------------------


@contextmanager
def holding(lock_sql: str) -> Iterator[psycopg2.extensions.connection]:
    """A transaction of the test's own holding a lock (``LOCK TABLE ...``), released --
    rolled back -- when the block ends."""
    conn = psycopg2.connect(test_database_url())
    try:
        with conn.cursor() as cursor:
            cursor.execute(lock_sql)
        yield conn
    finally:
        conn.rollback()
        conn.close()


def _activity(sql: str, params: tuple) -> list[tuple]:
    conn = psycopg2.connect(test_database_url())
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        conn.close()


def backends_waiting_for_a_lock() -> list[int]:
    """Process ids of the test database's sessions waiting for a lock."""
    rows = _activity(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        (),
    )
    return [row[0] for row in rows]


def backend_alive(pid: int) -> bool:
    return bool(_activity("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)))
