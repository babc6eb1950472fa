"""``salesflow sync-roles``: copy roles/*.toml into auth groups and permissions."""

from typing import Any

from django.core.management.base import BaseCommand

from salesflow.services import roles_sync


class Command(BaseCommand):
    help = "Check roles/*.toml and make each role's group hold exactly its permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for result in roles_sync():
            state = "created" if result.created else "updated"
            self.stdout.write(f"{result.code:<16} {state}: {', '.join(result.permissions)}")
