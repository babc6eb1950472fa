"""``salesflow claim-next USERNAME [--role ROLE] [--json]``: give a person the most urgent
task waiting in their pools, exactly as the "take the next task" button does."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from salesflow.exceptions import SalesflowError
from salesflow.queues.claims import task_claim_next
from salesflow.queues.selectors import task_summary, user_named


class Command(BaseCommand):
    help = "Claim the most urgent task of USERNAME's pools for them (for scripts and tests)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", help="only this role's pool (its code, e.g. hunter)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(
        self, *args: Any, username: str, role: str | None, json: bool, **options: Any
    ) -> None:
        try:
            user = user_named(username)
            task = task_claim_next(user=user, role=role)
        except SalesflowError as error:
            raise CommandError(error.message) from None
        row = task_summary(task, now=timezone.now()) if task else None
        if json:
            self.stdout.write(_dumps({"claimed": row}))
        elif row is None:
            self.stdout.write(f"Nothing is waiting for {username}.")
        else:
            self.stdout.write(f"#{row['id']} {row['node']} ({row['company']}) is {username}'s now.")


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)
