"""``salesflow bench <benchmark> [options] [--json]``."""

import json
from importlib import import_module

from django.core.management.base import BaseCommand

# benchmark name -> module with add_arguments(parser) and run(**options) -> dict
BENCHMARKS = {
    "conveyor": "bench.conveyor",
    "inbox": "bench.inbox",
    "claim": "bench.claim",
    "intake": "bench.intake",
    "report": "bench.report",
    "pay": "bench.pay",
    "http": "bench.http",
    "timeline": "bench.timeline",
    "mail": "bench.mail",
    "scorecard": "bench.scorecard",
}


class Command(BaseCommand):
    help = "Run a benchmark and print its figures (see docs/benchmarks.md)."

    def add_arguments(self, parser):
        self.own_options: dict[str, list[str]] = {}
        subparsers = parser.add_subparsers(dest="benchmark", required=True)
        for name, module_path in BENCHMARKS.items():
            module = import_module(module_path)
            sub = subparsers.add_parser(name, help=module.__doc__.strip().splitlines()[0])
            sub.add_argument("--json", action="store_true", help="print one JSON object")
            sub.add_argument(
                "--keepdb", action="store_true", help="reuse the scratch database between runs"
            )
            module.add_arguments(sub)
            self.own_options[name] = [
                a.dest for a in sub._actions if a.dest not in ("help", "json")
            ]

    def handle(self, *args, benchmark: str, **options):
        module = import_module(BENCHMARKS[benchmark])
        as_json = options["json"]
        figures = module.run(**{key: options[key] for key in self.own_options[benchmark]})
        if as_json:
            self.stdout.write(json.dumps(figures))
        else:
            for key, value in figures.items():
                self.stdout.write(f"{key:>28}: {value}")
