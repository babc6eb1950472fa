"""``salesflow report daily [--date D] [--format json|csv|xlsx] [--output F] [--email]``
and ``salesflow report funnel --from D --to D [--format json|csv|xlsx] [--output F]``.

Builds (or rebuilds) one day's report and stores it -- yesterday by default, any past day
as a backfill -- then optionally writes it to a file and e-mails it. Every bad input is
refused before anything is written, with a message and a non-zero exit code.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from salesflow.exceptions import SalesflowError
from salesflow.reports.exports import FORMATS, report_file
from salesflow.reports.funnel import funnel_file
from salesflow.reports.selectors import daily_report, report_recipients
from salesflow.reports.services import daily_report_build, daily_report_email
from salesflow.targets.funnel import funnel, funnel_range_check


class Command(BaseCommand):
    help = "Build and store the daily queue report; export it or e-mail it."

    def add_arguments(self, parser: CommandParser) -> None:
        reports = parser.add_subparsers(dest="report", required=True)
        daily = reports.add_parser(
            "daily",
            help="one day's report: built from the data as of the end of that day and stored "
            "(replacing that day's report)",
        )
        daily.add_argument("--date", dest="day", help="the day, YYYY-MM-DD (default: yesterday)")
        daily.add_argument(
            "--format", dest="file_format", choices=FORMATS, help="write the report in this format"
        )
        daily.add_argument(
            "--output", help="the file to write (default: standard output; XLSX needs a file)"
        )
        daily.add_argument(
            "--email", action="store_true", help="e-mail it to the report's recipients"
        )

        funnel = reports.add_parser(
            "funnel", help="the funnel and forecast of a date range (not stored)"
        )
        funnel.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        funnel.add_argument("--to", dest="last", required=True, help="last day, YYYY-MM-DD")
        funnel.add_argument("--format", dest="file_format", choices=FORMATS, help="default: json")
        funnel.add_argument("--output", help="the file to write (default: standard output)")

    def handle(
        self,
        *args: Any,
        report: str,
        file_format: str | None,
        output: str | None,
        day: str | None = None,
        email: bool = False,
        first: str | None = None,
        last: str | None = None,
        **options: Any,
    ) -> None:
        if report == "funnel":
            self._funnel(first, last, file_format, output)
            return
        day_ = self._day(day)
        file_format = self._format(file_format, output)
        if output and not Path(output).resolve().parent.is_dir():
            raise CommandError(f"--output: the folder of {output} does not exist")
        if email and not report_recipients():
            raise CommandError(
                "No recipients are configured for the daily report: add them in the admin "
                "(Reports → Report recipients), or leave out --email."
            )
        try:
            daily_report_build(day=day_)
        except SalesflowError as refusal:
            raise CommandError(refusal.message) from None
        stored = daily_report(day=day_)
        if stored is None:  # it was just built
            raise CommandError(f"The report for {day_.isoformat()} could not be read back.")
        notes = self.stderr if file_format and not output else self.stdout
        if file_format:
            content = report_file(stored, file_format)
            if output:
                _write(Path(output), content)
                notes.write(f"Written to {output}.")
            else:
                self.stdout.write(content.decode(), ending="")
        totals = stored.totals
        notes.write(
            f"Daily report for {day_.isoformat()} stored: {totals.open} open "
            f"({totals.unassigned} unassigned), {totals.completed} completed, "
            f"{stored.orders_delivered} orders delivered, {len(stored.people)} people."
        )
        if email:
            try:
                daily_report_email(day=day_, force=True)
            except SalesflowError as refusal:
                raise CommandError(refusal.message) from None
            notes.write("E-mailed to: " + ", ".join(report_recipients()))

    def _funnel(
        self, first: str | None, last: str | None, file_format: str | None, output: str | None
    ) -> None:
        days = []
        for flag, value in (("--from", first), ("--to", last)):
            try:
                days.append(date.fromisoformat(value or ""))
            except ValueError:
                raise CommandError(
                    f"{flag} must be a day written YYYY-MM-DD, not {value!r}"
                ) from None
        chosen = self._format(file_format, output) or "json"
        if output and not Path(output).resolve().parent.is_dir():
            raise CommandError(f"--output: the folder of {output} does not exist")
        try:
            first_, last_ = funnel_range_check(first=days[0], last=days[1])
        except SalesflowError as refusal:
            raise CommandError(refusal.message) from None
        content = funnel_file(funnel(first=first_, last=last_), chosen)
        if output:
            _write(Path(output), content)
            self.stderr.write(f"Written to {output}.")
        else:
            self.stdout.write(content.decode(), ending="")

    def _day(self, value: str | None) -> date:
        if value is None:
            return timezone.localdate() - timedelta(days=1)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--date must be a day written YYYY-MM-DD, not {value!r}") from None

    def _format(self, file_format: str | None, output: str | None) -> str | None:
        if output and not file_format:
            file_format = Path(output).suffix.lstrip(".").lower()
            if file_format not in FORMATS:
                raise CommandError(
                    f"--output {output}: say the format with --format ({', '.join(FORMATS)})"
                )
        if file_format == "xlsx" and not output:
            raise CommandError("XLSX is a binary file: give --output FILE")
        return file_format


def _write(path: Path, content: bytes) -> None:
    """Write the whole file or nothing: a temporary file beside it, renamed into place."""
    handle, temporary = tempfile.mkstemp(dir=path.resolve().parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
