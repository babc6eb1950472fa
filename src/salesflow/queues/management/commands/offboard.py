"""``salesflow offboard USERNAME (--to-pool | --to OTHER) [--dry-run]``: a person leaves.

Every open task they hold goes back to its pool, or to a named colleague, each with an
audit event, and their account is deactivated -- never deleted. ``--dry-run`` prints what
would happen and changes nothing.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from salesflow.exceptions import SalesflowError
from salesflow.queues.moves import user_offboard
from salesflow.queues.selectors import user_named


class Command(BaseCommand):
    help = "Move every open task of USERNAME to the pools (or to OTHER) and deactivate them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--to-pool", action="store_true", help="back to their pools")
        where.add_argument("--to", metavar="OTHER", help="to this colleague")
        parser.add_argument("--dry-run", action="store_true", help="show the plan only")

    def handle(
        self, *args: Any, username: str, to_pool: bool, to: str | None, dry_run: bool, **_: Any
    ) -> None:
        try:
            user = user_named(username)
            colleague = user_named(to) if to else None
            if not user.is_active and not dry_run:
                raise CommandError(f"{username} is already deactivated.")
            plan = user_offboard(user=user, by=None, to=colleague, dry_run=dry_run)
        except SalesflowError as error:
            raise CommandError(error.message) from None
        where = to or "their pools"
        for task in plan.tasks:
            refusal = plan.refusals.get(task.pk)
            line = f"#{task.pk:<7} {task.flow_task.task_title} -> {where}"
            self.stdout.write(line + (f"  REFUSED: {refusal}" if refusal else ""))
        if dry_run:
            verdict = "would be moved" if plan.ok else "cannot all be moved"
            self.stdout.write(
                f"Dry run: {len(plan.tasks)} open tasks of {username} {verdict}; "
                f"{username} would be deactivated. Nothing was changed."
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{len(plan.tasks)} open tasks of {username} moved to {where}; "
                    f"{username} is deactivated."
                )
            )
