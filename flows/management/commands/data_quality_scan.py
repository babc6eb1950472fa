"""``salesflow data-quality-scan``: run the database operator's rules now (the Celery job
``flows.tasks.data_quality_scan`` does the same)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from flows.dataquality_work import data_quality_scan


class Command(BaseCommand):
    help = (
        "Find probable duplicates, incomplete cards, failed contacts and unmatched mail; "
        "a task in the database operators' pool for each new one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=500, help="at most this many per rule")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="the counts as JSON"
        )

    def handle(self, *args: Any, limit: int, as_json: bool, **options: Any) -> None:
        started = data_quality_scan(limit=limit)
        if as_json:
            self.stdout.write(json.dumps(started, sort_keys=True))
        else:
            for kind, count in started.items():
                self.stdout.write(f"{kind}: {count}")
