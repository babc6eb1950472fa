"""What every benchmark shares: a scratch database, a query counter, a clock."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def scratch_database(*, keep: bool = False, verbosity: int = 0) -> Iterator[str]:
    """Create (or with ``keep`` reuse) ``test_<db>``, migrated; drop it afterwards unless
    ``keep``. Yields the database name.

    Inside, Django runs as in production: DEBUG off, so the debug cursor does not log and
    time every query (it would weigh on whichever side runs more queries).
    """
    settings.DEBUG = False
    old_name = connection.settings_dict["NAME"]
    # serialize=False: the test runner's copy of every row (for rolling back transactional
    # tests) is not needed here, and over a kept database of a million rows it took minutes
    name = connection.creation.create_test_db(
        verbosity=verbosity, autoclobber=True, keepdb=keep, serialize=False
    )
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=verbosity, keepdb=keep)


class QueryCounter:
    """Counts the statements sent to the database (``len(counter)``), without keeping
    them -- Django's own query log stops at 9,000."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __len__(self) -> int:
        return self.count


@contextmanager
def counting_queries() -> Iterator[QueryCounter]:
    """Count the queries run inside the block (``len(counter)``)."""
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def timed(function: Callable[[], object]) -> float:
    """Seconds ``function`` takes, by the monotonic clock."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def timed_cpu(function: Callable[[], object]) -> tuple[float, float]:
    """Seconds ``function`` takes by the monotonic clock, and the seconds of this process's
    CPU it used: the second figure leaves out the waits for the database (and the disk's
    fsync at each commit), which another process's load makes noisy."""
    started, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - started, time.process_time() - cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)
