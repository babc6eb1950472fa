"""``salesflow targets scorecard --period P [--user U] [--format json]``.

A person's scorecard (``--user``, a username) or, without it, the team grid, worst first,
for a day (2026-12-07), an ISO week (2026-W49) or a month (2026-12). Run by whoever runs
the installation, so it reads anyone's; a bad period or an unknown user is refused with
the reason and a non-zero exit code.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from salesflow.exceptions import SalesflowError
from salesflow.targets.exports import scorecard_document
from salesflow.targets.periods import period_parse
from salesflow.targets.selectors import Scorecard, scorecard, team_grid


class Command(BaseCommand):
    help = "Scorecards: a person's, or the team's grid (worst first)."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="command", required=True)
        card = commands.add_parser("scorecard", help="a person's scorecard or the team grid")
        card.add_argument("--period", required=True, help="2026-12-07 | 2026-W49 | 2026-12")
        card.add_argument("--user", help="the person's username (default: the whole team)")
        card.add_argument("--format", dest="output_format", choices=("text", "json"))

    def handle(
        self,
        *args: Any,
        command: str,
        period: str,
        user: str | None,
        output_format: str | None,
        **options: Any,
    ) -> None:
        try:
            period_ = period_parse(period)
        except SalesflowError as refusal:
            raise CommandError(f"--period: {refusal.message}") from None
        if user:
            person = get_user_model()._default_manager.filter(username=user).first()
            if person is None:
                raise CommandError(f"--user: there is no user {user!r}")
            cards = [scorecard(person=person, period=period_)]
        else:
            cards = team_grid(period=period_)
        if output_format == "json":
            documents = [scorecard_document(card) for card in cards]
            self.stdout.write(json.dumps(documents[0] if user else documents, indent=2))
            return
        for card in cards:
            self._text(card)

    def _text(self, card: Scorecard) -> None:
        attainment = "-" if card.attainment is None else f"{card.attainment} %"
        self.stdout.write(f"{card.name} ({card.period.label}): {attainment}")
        for line in card.lines:
            self.stdout.write(
                f"  {line.measure.code:24} {line.actual!s:>12} / {line.target!s:<12}"
                f" weight {line.weight!s:>5}  {line.attainment} %"
            )
