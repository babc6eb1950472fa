"""``salesflow import leads FILE [--dry-run]``: leads from a CSV or XLSX file.

Every row goes through the same intake as the web form and the API (``lead_receive``), in
its own savepoint: a bad row is reported with its line number and reason and never
half-written, and it does not stop the good rows. ``--dry-run`` runs the whole import in
a transaction that is rolled back -- the report is exactly what a real run would say,
duplicates within the file included, and nothing is written.
"""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DataError, IntegrityError, transaction
from tqdm import tqdm

from salesflow.clients.models import Lead
from salesflow.clients.selectors import MatchKind
from salesflow.exceptions import SalesflowError
from salesflow.intake.forms import LeadForm
from salesflow.intake.leadfile import LeadFileError, Row, read_lead_file
from salesflow.intake.services import lead_receive


class Command(BaseCommand):
    help = "Import leads from a CSV or XLSX file (salesflow import leads FILE [--dry-run])."

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_subparsers(dest="what", required=True)
        leads = what.add_parser("leads", help="leads: one row per lead, a header row first")
        leads.add_argument("file", type=Path, help=".csv or .xlsx")
        leads.add_argument(
            "--dry-run", action="store_true", help="check and match every row, write nothing"
        )

    def handle(self, *args: Any, what: str, file: Path, dry_run: bool, **options: Any) -> None:
        try:
            lead_file = read_lead_file(file)
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except LeadFileError as error:
            raise CommandError(str(error)) from None
        outcomes: Counter[str] = Counter()
        rejected: list[tuple[int, str]] = []
        with transaction.atomic() if dry_run else nullcontext():
            rows = tqdm(lead_file.rows, desc=file.name, unit="row", file=sys.stderr, disable=None)
            for row in rows:
                outcome, problem = self.import_row(row, source=file.name)
                if problem:
                    rejected.append((row.line, problem))
                else:
                    outcomes[outcome] += 1
            if dry_run:
                transaction.set_rollback(True)
        self.report(lead_file.rows, outcomes, rejected, dry_run=dry_run)
        if rejected:
            raise CommandError(f"{len(rejected)} rows rejected (see above)", returncode=1)

    def import_row(self, row: Row, *, source: str) -> tuple[str, str]:
        """(outcome, "") for an imported row, ("", reason) for a rejected one."""
        if row.problems:
            return "", "; ".join(row.problems)
        if "__extra__" in row.values:
            extra = row.values["__extra__"]
            extra = extra if len(extra) <= 100 else f"{extra[:100]}... ({len(extra)} characters)"
            return "", f"more values than the header has columns: {extra}"
        form = LeadForm(data=row.values)
        if not form.is_valid():
            return "", "; ".join(
                f"{name}: {' '.join(map(str, messages))}"
                if name != "__all__"
                else " ".join(map(str, messages))
                for name, messages in form.errors.items()
            )
        data = form.lead_data()
        if not data.source_detail:
            data = type(data)(**{**data.__dict__, "source_detail": source})
        try:
            with transaction.atomic():  # this row only: a failure undoes it alone
                result = lead_receive(data=data, source=Lead.Source.IMPORT)
        except SalesflowError as error:
            return "", error.message
        except (IntegrityError, DataError) as error:
            return "", f"refused by the database: {error}".splitlines()[0]
        return result.outcome, ""

    def report(
        self,
        rows: list[Row],
        outcomes: Counter[str],
        rejected: list[tuple[int, str]],
        *,
        dry_run: bool,
    ) -> None:
        for line, problem in rejected:
            self.stdout.write(f"line {line}: {problem}")
        imported = sum(outcomes.values())
        self.stdout.write(
            f"{'Would import' if dry_run else 'Imported'} {imported} of {len(rows)} rows: "
            f"{outcomes[MatchKind.NEW_CLIENT]} new clients, "
            f"{outcomes[MatchKind.EXISTING_CLIENT]} known clients, "
            f"{outcomes[MatchKind.PROBABLE_DUPLICATE]} probable duplicates for a team lead; "
            f"{len(rejected)} rejected."
        )
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
