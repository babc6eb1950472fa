"""``salesflow stalled [--json]``: the tasks marked stalled, the longest stalled first."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from salesflow.queues.selectors import stalled_tasks, task_summary


class Command(BaseCommand):
    help = "List the stalled tasks: id, stage, role, owner, age, due date (SLA) and why."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print one JSON array")

    def handle(self, *args: Any, json: bool, **options: Any) -> None:
        now = timezone.now()
        rows = [task_summary(task, now=now) for task in stalled_tasks()]
        if json:
            self.stdout.write(_dumps(rows))
            return
        if not rows:
            self.stdout.write("No stalled tasks.")
            return
        for row in rows:
            self.stdout.write(
                f"#{row['id']:<7} {row['node']:<26} {row['role']:<16} "
                f"{row['owner'] or '(pool)':<14} age {row['age_hours']:>7.1f} h  "
                f"due {row['due']}  {row['stalled_reason']}"
            )


def _dumps(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False)
