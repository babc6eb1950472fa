"""``salesflow pay statement --period YYYY-MM [--user U] [--format json|csv|xlsx]
[--output F]`` and ``salesflow pay close --period YYYY-MM [--as ADMIN]``.

The command line is the operator's (it reads every statement, as an admin does); closing
is done on behalf of a named admin, who is recorded in the audit trail. Bad input is
refused with a message and a non-zero exit code, before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from salesflow.exceptions import SalesflowError
from salesflow.pay.exports import FORMATS, statement_file
from salesflow.pay.selectors import parse_month, statement
from salesflow.pay.services import pay_period_close


class Command(BaseCommand):
    help = "Pay statements for a month (one person or everyone), and closing a month."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        show = actions.add_parser("statement", help="a month's statement (so far, if open)")
        show.add_argument("--period", required=True, help="the month, YYYY-MM")
        show.add_argument("--user", help="one person's username (default: everyone)")
        show.add_argument("--format", dest="file_format", choices=FORMATS, default="json")
        show.add_argument("--output", help="the file to write (default: standard output)")
        close = actions.add_parser("close", help="freeze a month that is over")
        close.add_argument("--period", required=True, help="the month, YYYY-MM")
        close.add_argument(
            "--as", dest="admin", help="the admin closing it (default: the only superuser)"
        )

    def handle(self, *args: Any, action: str, period: str, **options: Any) -> None:
        try:
            month = parse_month(period)
        except ValueError as exc:
            raise CommandError(f"--period: {exc}") from None
        if action == "close":
            self.close(month, options.get("admin"))
            return
        user_ids = None
        if options.get("user"):
            user = get_user_model()._default_manager.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"--user: nobody is called {options['user']!r}")
            user_ids = [user.pk]
        output = options.get("output")
        file_format = options["file_format"]
        if file_format == "xlsx" and not output:
            raise CommandError("--format xlsx needs --output FILE")
        if output and not Path(output).resolve().parent.is_dir():
            raise CommandError(f"--output: the folder of {output} does not exist")
        content = statement_file(statement(month=month, user_ids=user_ids), file_format)
        if output:
            Path(output).write_bytes(content)
            self.stderr.write(f"Written to {output}.")
        else:
            self.stdout.write(content.decode(), ending="\n")

    def close(self, month: Any, username: str | None) -> None:
        admins = get_user_model()._default_manager.filter(is_superuser=True, is_active=True)
        if username:
            admins = admins.filter(username=username)
        found = list(admins[:2])
        if len(found) != 1:
            raise CommandError(
                f"--as: no active admin called {username!r}"
                if username
                else "name the admin closing the month with --as (there is not exactly one)"
            )
        try:
            period = pay_period_close(month=month, user=found[0])
        except SalesflowError as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write(
            f"Closed {period.month:%Y-%m}: {period.lines.count()} lines, total {period.total}."
        )
