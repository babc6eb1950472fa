"""``salesflow simulate --leads N [--json]``: drive N new leads along the whole conveyor."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from flows.simulation import ConveyorSimulator, Odds, ensure_staff

STAFF = {
    "hunter": 2,
    "account_manager": 2,
    "document_clerk": 1,
    "expeditor": 1,
    "team_lead": 1,
    "assistant": 1,
}
# how often a stage hands a side task to the assistants (and waits for it)
SIDE_TASK_ODDS = 0.1


class Command(BaseCommand):
    help = (
        "Drive N new leads through the whole conveyor with the engine's own services, as "
        "simulated people of the right roles, writing real handoff notes and taking some "
        "bounce and discount-approval paths; print a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, required=True, help="how many new leads")
        parser.add_argument("--seed", type=int, default=0, help="random seed (repeatable runs)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, leads: int, seed: int, json: bool, **options: Any) -> None:
        if leads < 1:
            raise CommandError("--leads must be at least 1")
        with transaction.atomic():
            staff = ensure_staff("sim_", STAFF)
        summary = ConveyorSimulator(
            staff=staff, seed=seed, odds=Odds(side_task=SIDE_TASK_ODDS)
        ).run(leads)
        if json:
            self.stdout.write(_json(summary.as_dict()))
        else:
            for key, value in summary.as_dict().items():
                self.stdout.write(f"{key:>16}: {value}")


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=False)
