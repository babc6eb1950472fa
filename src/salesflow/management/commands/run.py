"""``salesflow run``: the whole product in one process tree -- the web server, a Celery
worker and Celery beat -- on the embedded defaults (SQLite, a broker directory on disk).

Production runs these as separate services instead (see the README); this command is the
newcomer's first minute. Stopping it (Ctrl-C) stops all three; if one of them dies the
others are stopped too, and the command exits with an error.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from salesflow.security import development_defaults_refusal

DEMO_LOGINS = (
    ("hunter1 / hunter2", "active-sales manager (hunter)"),
    ("account1 / account2", "account manager"),
    ("clerk", "document clerk"),
    ("expeditor", "expeditor"),
    ("teamlead", "team lead"),
    ("admin", "administrator (Django admin at /admin/)"),
)


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat together (embedded default)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        refusal = development_defaults_refusal(where="--host", host=host)
        if refusal:
            raise CommandError(refusal)
        python = sys.executable
        level = os.environ.get("LOG_LEVEL", "WARNING")  # warnings and errors, no chatter
        commands = {
            "web": [python, "-m", "salesflow.cli", "runserver", f"{host}:{port}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "salesflow", "--quiet", "worker",
                       "--pool=solo", f"--loglevel={level}"],
            "beat": [python, "-m", "celery", "-A", "salesflow", "--quiet", "beat",
                     f"--loglevel={level}"],
        }  # fmt: skip
        env = {
            **os.environ,
            "LOG_LEVEL": level,
            # Celery's warning about running as root (a laptop's container): not news here
            "PYTHONWARNINGS": "ignore:You're running the worker with superuser privileges",
        }
        children = {
            # the web's banner and request lines go nowhere; its warnings and errors are
            # logged to stderr, which stays
            name: subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL if name == "web" else None
            )
            for name, cmd in commands.items()
        }
        if not self.wait_for_web(host, port, children):
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            raise CommandError("the web server did not start; see the lines above")
        self.stdout.write(self.style.SUCCESS(f"\nsalesflow is running at http://{host}:{port}/"))
        self.stdout.write("Demo logins (password: salesflow):")
        for login, role in DEMO_LOGINS:
            self.stdout.write(f"  {login:<22} {role}")
        self.stdout.write("Press Ctrl-C to stop.\n")

        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failed = None
        while not stopping and failed is None:
            time.sleep(0.5)
            failed = next((n for n, p in children.items() if p.poll() is not None), None)
            if failed is not None:
                # Ctrl-C reaches the children too (one process group): a child that stopped
                # for it is not a failure
                time.sleep(0.5)
                failed = None if stopping else failed
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if failed:
            self.stderr.write(f"{failed} stopped unexpectedly; everything was stopped.")
            sys.exit(1)

    @staticmethod
    def wait_for_web(
        host: str, port: int, children: dict[str, subprocess.Popen[bytes]], seconds: float = 60
    ) -> bool:
        """Say "running" only once the web server answers (not before, as it used to)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(child.poll() is not None for child in children.values()):
                return False
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.2)
        return False
