"""The product as an operator runs it -- gunicorn, a Celery worker and Celery beat as
separate processes with the production profile -- for the load benchmark and for the
tests that need real processes (``tests/procs.py``).

Every process starts in a session (process group) of its own. ``Proc.stop`` sends SIGTERM
to its leader -- gunicorn, celery: each stops its own children and exits -- waits, and
then checks that nothing of the group is left; whatever is left is killed and named in
what ``stop`` returns, so a caller can fail on orphans.

``WebClient`` talks HTTP to gunicorn as the TLS proxy in front of it would: every request
says ``X-Forwarded-Proto: https`` (the installation runs with ``BEHIND_TLS_PROXY=1``), and
it keeps the cookies itself, since production cookies are ``Secure`` and an ordinary
client would not send them over plain HTTP.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import redis

BIN = Path(sys.executable).parent  # the virtualenv's bin/: gunicorn, celery, salesflow
T = TypeVar("T")


def production_env(
    *,
    database_url: str,
    broker_url: str,
    static_root: Path,
    var_dir: Path,
    **extra: str,
) -> dict[str, str]:
    """The environment of a production installation on this machine (``extra`` adds or
    replaces variables). Nothing in it relaxes the production profile: HTTPS is what the
    proxy in front says (``BEHIND_TLS_PROXY``), the secret key is a fresh random one."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SALESFLOW_", "CELERY_"))
    }
    env.update(
        {
            "SALESFLOW_ENV": "production",
            "DJANGO_SETTINGS_MODULE": "salesflow.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "BEHIND_TLS_PROXY": "1",
            "STATIC_ROOT": str(static_root),
            "SALESFLOW_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def collectstatic(env: Mapping[str, str]) -> None:
    """``salesflow collectstatic`` into the environment's STATIC_ROOT (the production
    storage serves hashed files only: the web cannot start without them)."""
    subprocess.run(
        [str(BIN / "salesflow"), "collectstatic", "--noinput", "--verbosity=0"],
        env=dict(env),
        check=True,
        capture_output=True,
        text=True,
    )


def gunicorn_command(*, port: int, workers: int) -> list[str]:
    return [
        str(BIN / "gunicorn"), "salesflow.wsgi",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--timeout", "60",
        "--graceful-timeout", "10",
    ]  # fmt: skip


def worker_command(*, name: str, concurrency: int = 1) -> list[str]:
    return [
        str(BIN / "celery"), "-A", "salesflow", "worker",
        "--hostname", f"{name}@%h",
        "--concurrency", str(concurrency),
        "--without-gossip", "--without-mingle",
        "--loglevel=INFO",
    ]  # fmt: skip


def beat_command(*, schedule_dir: Path) -> list[str]:
    return [
        str(BIN / "celery"), "-A", "salesflow", "beat",
        "--loglevel=INFO",
        "--pidfile", str(schedule_dir / "beat.pid"),
    ]  # fmt: skip


def _group_members(group: int) -> list[str]:
    """Live (not zombie) processes of a process group, as "pid command" (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended while we looked
        state, _parent, process_group = stat[stat.rindex(")") + 2 :].split()[:3]
        if int(process_group) == group and state != "Z":
            members.append(f"{entry.name} {command.strip()[:120]}")
    return members


@dataclass
class Proc:
    """A running process (and its children), its output in ``log_path``."""

    name: str
    popen: subprocess.Popen
    log_path: Path
    left_over: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def log(self, last: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-last:]

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a machine losing power would: no handler
        runs, no task is acknowledged."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._wait_group_gone(5)

    def stop(self, timeout: float = 30) -> list[str]:
        """SIGTERM to the leader and wait for the group to end; SIGKILL after ``timeout``.
        Returns what had to be killed: "<pid> <command>" of every process that outlived
        its leader, or the leader itself if it ignored SIGTERM (empty: a clean stop)."""
        problems: list[str] = []
        if self.running:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                problems.append(f"{self.pid} {self.name}: running {timeout:.0f}s after SIGTERM")
        orphans = self._wait_group_gone(5)
        if orphans or problems:
            problems += orphans
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
            self._wait_group_gone(5)
        self.left_over = problems
        return problems

    def _wait_group_gone(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        members = _group_members(self.pid)
        while members and time.monotonic() < deadline:
            time.sleep(0.1)
            members = _group_members(self.pid)
        return members


def start(name: str, command: list[str], *, env: Mapping[str, str], log_dir: Path) -> Proc:
    """Start ``command`` in its own process group, its output into ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            command,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Proc(name=name, popen=popen, log_path=log_path)


def wait_until(
    check: Callable[[], T],
    *,
    timeout: float,
    what: str,
    watch: tuple[Proc, ...] = (),
    interval: float = 0.2,
) -> T:
    """Poll ``check`` until it returns something true, and return that. TimeoutError
    saying ``what`` was awaited (with the logs of ``watch``) after ``timeout`` seconds,
    or at once if one of the watched processes has died."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        dead = [proc for proc in watch if not proc.running]
        if dead or time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name} (exit {p.popen.poll()}):\n{p.log()}" for p in watch)
            cause = f"{dead[0].name} died" if dead else f"not within {timeout:.0f}s"
            raise TimeoutError(f"waiting for {what}: {cause}\n{logs}")
        time.sleep(interval)


@dataclass
class RedisServer:
    """A Redis server of one's own on a free port, data in memory only: a broker that a
    benchmark cannot share with anyone, and that a test may stop."""

    dir: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
        ]  # fmt: skip
        self.proc = start(f"redis-{self.port}", command, env={}, log_dir=self.dir)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_until(answers, timeout=30, what="redis-server", watch=(self.proc,))

    def stop(self) -> list[str]:
        return self.proc.stop() if self.proc else []


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class WebClient:
    """One person's connection to the web app through the TLS proxy (see the module's
    docstring): one connection, kept while the server keeps it (gunicorn's sync workers
    close it after each answer), cookies, the session's CSRF token for unsafe requests."""

    def __init__(self, port: int, *, token: str | None = None, timeout: float = 60) -> None:
        self.port = port
        self.origin = f"https://127.0.0.1:{port}"
        self.token = token
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        secure: bool = True,
    ) -> Answer:
        """``form``: an urlencoded form (lists: repeated fields); ``body``: JSON. A broken
        connection is retried once on a new one (a server may close an idle connection)."""
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if secure:
            sent["X-Forwarded-Proto"] = "https"
        if self.token:
            sent["Authorization"] = f"Token {self.token}"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload: bytes | None = None
        if form is not None:
            payload = urlencode(form, doseq=True).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if method not in ("GET", "HEAD") and "csrftoken" in self.cookies:
            sent.update({"X-CSRFToken": self.cookies["csrftoken"], "Origin": self.origin})
        for attempt in (1, 2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout
                )
            started = time.perf_counter()
            try:
                self._connection.request(method, path, body=payload, headers=sent)
                response = self._connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()  # a half-sent request leaves the connection unusable
                raise
            seconds = time.perf_counter() - started
            self._keep_cookies(response.headers)
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return Answer(response.status, response.headers, data, seconds)
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Answer:
        return self.request("POST", path, **kwargs)

    def sign_in(self, username: str, password: str) -> None:
        """The sign-in form, as a browser fills it in; RuntimeError if it is refused."""
        self.get("/accounts/login/")
        answer = self.post("/accounts/login/", form={"username": username, "password": password})
        if answer.status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"sign-in of {username} refused: {answer.status}")

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or ():
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
