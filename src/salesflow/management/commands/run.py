"""``salesflow run``: the whole product in one process tree -- the web server, a Celery
worker and Celery beat -- on the embedded defaults (SQLite, a broker directory on disk).

Production runs these as separate services instead (see the README); this command is the
newcomer's first minute. Stopping it (Ctrl-C) stops all three; if one of them dies the
others are stopped too, and the command exits with an error.
"""

import signal
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
        commands = {
            "web": [python, "-m", "salesflow.cli", "runserver", f"{host}:{port}", "--noreload"],
            "worker": [python, "-m", "celery", "-A", "salesflow", "worker", "--pool=solo",
                       "--loglevel=INFO"],
            "beat": [python, "-m", "celery", "-A", "salesflow", "beat", "--loglevel=INFO"],
        }  # fmt: skip
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
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
