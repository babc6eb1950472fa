"""``salesflow simulate --leads N [--json] [--disqualify P ...]``: drive N new leads along
the whole conveyor; fails (exit 1) if any deal is left with no way forward."""

import json
from dataclasses import fields
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

ODDS_HELP = {
    "disqualify": "a hunter disqualifies the lead",
    "nurture": "a hunter puts the lead off to a later day (the simulation brings it back)",
    "over_limit": "an account manager grants a discount over their limit",
    "reject": "a team lead rejects the discount (sends the order back)",
    "bounce": "a stage sends the deal back to the one before (once per stage and deal)",
    "lost": "the client does not order at the order's preparation",
    "side_task": "a stage hands a side task to the assistants and waits for it",
    "repeat": "the client orders again at the follow-up (a repeat order)",
}


def _odds(value: str) -> float:
    odds = float(value)
    if not 0 <= odds <= 1:
        raise ValueError(value)
    return odds


class Command(BaseCommand):
    help = (
        "Drive N new leads through the whole conveyor with the engine's own services, as "
        "simulated people of the right roles, writing real handoff notes and taking the "
        "side paths (disqualify, nurture, discount approval and rejection, bounces, lost) "
        "with the odds given; print a summary. Exits 1 if any deal ends with no way "
        "forward (neither finished, nor in a pool somebody may take it from, nor held, "
        "nor waiting for its date)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--leads", type=int, required=True, help="how many new leads")
        parser.add_argument("--seed", type=int, default=0, help="random seed (repeatable runs)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        defaults = Odds(side_task=SIDE_TASK_ODDS)
        for spec in fields(Odds):
            parser.add_argument(
                f"--{spec.name.replace('_', '-')}",
                dest=f"odds_{spec.name}",
                type=_odds,
                default=SIDE_TASK_ODDS
                if spec.name == "side_task"
                else getattr(defaults, spec.name),
                metavar="P",
                help=f"odds (0..1) that {ODDS_HELP[spec.name]}; default %(default)s",
            )

    def handle(self, *args: Any, leads: int, seed: int, json: bool, **options: Any) -> None:
        if leads < 1:
            raise CommandError("--leads must be at least 1")
        odds = Odds(**{spec.name: options[f"odds_{spec.name}"] for spec in fields(Odds)})
        with transaction.atomic():
            staff = ensure_staff("sim_", STAFF)
        summary = ConveyorSimulator(staff=staff, odds=odds, seed=seed).run(leads)
        if json:
            self.stdout.write(_json(summary.as_dict()))
        else:
            for key, value in summary.as_dict().items():
                if key != "problems":
                    self.stdout.write(f"{key:>16}: {value}")
        if summary.problems:
            first = list(summary.problems.items())[:10]
            raise CommandError(
                f"{len(summary.problems)} of {leads} deals have no way forward: "
                + "; ".join(f"deal #{pid}: {why}" for pid, why in first)
            )


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=False)
