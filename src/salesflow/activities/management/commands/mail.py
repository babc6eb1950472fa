"""``salesflow mail import FILE [--json]``: an mbox file or a Maildir (a leaving manager's
exported mailbox) joins the company's memory; ``salesflow mail fetch [--json]``: the
company mailbox read now, as the two-minutely job does.

Both go through the same path as every message (``activities.capture.mail_capture``):
each message is stored once, on the timeline of the clients whose contacts are on it, or
on the triage list; one that is read with problems (an unknown charset, broken MIME) is
stored and reported by its place in the file. Importing a file again stores nothing twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from salesflow.activities.capture import mail_import_file
from salesflow.activities.imap import mailbox_fetch
from salesflow.exceptions import SalesflowError


class Command(BaseCommand):
    help = "Mail into the clients' timelines: import an mbox/Maildir, or fetch the mailbox now."

    def add_arguments(self, parser: Any) -> None:
        what = parser.add_subparsers(dest="what", required=True)
        imported = what.add_parser("import", help="an mbox file or a Maildir directory")
        imported.add_argument("file", type=Path, help="mbox file or Maildir directory")
        imported.add_argument("--json", action="store_true", help="print one JSON object")
        fetch = what.add_parser("fetch", help="read the company mailbox (SALESFLOW_IMAP_URL) now")
        fetch.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, what: str, **options: Any) -> None:
        try:
            if what == "import":
                report: Any = mail_import_file(path=options["file"])
            else:
                report = mailbox_fetch()
        except SalesflowError as error:
            raise CommandError(error.message) from None
        figures = asdict(report)
        if options.get("json"):
            self.stdout.write(json.dumps(figures, ensure_ascii=False))
            return
        for where, problem in figures.pop("problems"):
            self.stdout.write(f"message {where}: {problem}")
        source = figures.pop("path", None) or figures.pop("mailbox", "")
        counts = ", ".join(f"{key} {value}" for key, value in figures.items() if key != "kind")
        self.stdout.write(f"{source}: {counts}")
