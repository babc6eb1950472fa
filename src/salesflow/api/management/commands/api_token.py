"""``salesflow api-token USERNAME``: an API token for an integration's user (shown once).

``--revoke-older`` ends a rotation (every token but the newest is revoked),
``--revoke-all`` locks the integration out."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from salesflow.api.tokens import api_token_create, api_tokens_revoke
from salesflow.exceptions import SalesflowError


class Command(BaseCommand):
    help = (
        "Make an API token for USERNAME (printed once; stored only as a digest; it "
        "expires after SALESFLOW_API_TOKEN_DAYS), or revoke their tokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--revoke-older", action="store_true", help="revoke every token but the newest"
        )
        group.add_argument("--revoke-all", action="store_true", help="revoke every token")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model()._default_manager.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user {options['username']!r}.")
        if options["revoke_older"] or options["revoke_all"]:
            count = api_tokens_revoke(user=user, keep_newest=bool(options["revoke_older"]))
            self.stdout.write(f"{count} token(s) of {user.get_username()} revoked.")
            return
        try:
            new = api_token_create(user=user)
        except SalesflowError as error:
            raise CommandError(error.message) from None
        self.stdout.write(new.token)
        expiry = f"expires {new.expiry:%Y-%m-%d %H:%M %Z}" if new.expiry else "never expires"
        self.stderr.write(f"API token for {user.get_username()}: shown once, {expiry}.")
