"""Pool and inbox pages at scale: a role's pool and a person's inbox, timed at 10,000 and
at 1,000,000 finished tasks with the same open work.

Fills a scratch PostgreSQL database with open deals spread over the conveyor's stages
(half waiting in their pools, half with a member) and finished ones, then requests the
hunters' pool page and a hunter's inbox many times through Django's full request cycle
(middleware, view, template) in this process: server time, median and 95th percentile,
and the queries each page sends. Then adds finished deals up to the big size and measures
again.
"""

from __future__ import annotations

import time

from django.test import Client

from .base import counting_queries, median, percentile, scratch_database
from .data import PATH, add_deals, analyze, count_tasks, require_postgresql

STAFF = {"hunter": 10, "account_manager": 10, "document_clerk": 4, "expeditor": 4, "team_lead": 2}
OPEN_SPREAD = {  # where the open deals wait
    "conveyor.qualify": 0.30,
    "conveyor.prepare_order": 0.20,
    "conveyor.documents": 0.17,
    "conveyor.delivery": 0.17,
    "conveyor.follow_up": 0.16,
}
CHUNK = 100_000  # deals per statement batch when filling up


def add_arguments(parser) -> None:
    parser.add_argument("--open", type=int, default=20_000, help="open tasks")
    parser.add_argument("--finished", type=int, default=1_000_000, help="finished tasks (big)")
    parser.add_argument(
        "--small", type=int, default=10_000, help="finished tasks of the first measurement"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per page and size")


def _fill_finished(target: int, staff: dict[str, list[int]]) -> None:
    """Finished deals (five done stages each) until ``target`` tasks are finished."""
    missing = target - count_tasks()["finished"]
    deals = max(0, missing // len(PATH))
    while deals:
        batch = min(CHUNK, deals)
        add_deals(count=batch, staff=staff, open_at=None)
        deals -= batch
    analyze()


def _measure(browser: Client, url: str, requests: int) -> dict[str, float]:
    for _ in range(10):  # warm up: imports, caches, query plans
        assert browser.get(url).status_code == 200
    with counting_queries() as queries:
        browser.get(url)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = browser.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return {
        "median_ms": round(median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "queries": len(queries),
    }


def run(*, open: int, finished: int, small: int, requests: int, keepdb: bool) -> dict:  # noqa: A002
    from flows.simulation import ensure_staff

    require_postgresql()
    with scratch_database(keep=keepdb):
        people = ensure_staff("bench_", STAFF)
        staff = {role: [u.pk for u in users] for role, users in people.items()}
        for ref, share in OPEN_SPREAD.items():
            half = int(open * share) // 2
            # only the open task: the finished ones are counted in exactly below
            add_deals(count=half, staff=staff, open_at=ref, history=False)
            add_deals(count=half, staff=staff, open_at=ref, assigned=True, history=False)
        _fill_finished(small, staff)

        hunter = people["hunter"][0]
        browser = Client()
        browser.force_login(hunter)
        pages = {"queue": "/work/pools/hunter/", "inbox": "/work/pools/hunter/mine/"}

        at_small = {name: _measure(browser, url, requests) for name, url in pages.items()}
        small_counts = count_tasks()
        _fill_finished(finished, staff)
        at_big = {name: _measure(browser, url, requests) for name, url in pages.items()}
        big_counts = count_tasks()

    return {
        "open": big_counts["open"],
        "finished_small": small_counts["finished"],
        "finished": big_counts["finished"],
        "queue_median_ms": at_big["queue"]["median_ms"],
        "queue_p95_ms": at_big["queue"]["p95_ms"],
        "inbox_median_ms": at_big["inbox"]["median_ms"],
        "inbox_p95_ms": at_big["inbox"]["p95_ms"],
        "queries": at_big["queue"]["queries"],
        "inbox_queries": at_big["inbox"]["queries"],
        "queries_small": at_small["queue"]["queries"],
        "inbox_queries_small": at_small["inbox"]["queries"],
        "queue_median_ms_small": at_small["queue"]["median_ms"],
        "inbox_median_ms_small": at_small["inbox"]["median_ms"],
        "ratio": round(at_big["queue"]["median_ms"] / at_small["queue"]["median_ms"], 3),
        "inbox_ratio": round(at_big["inbox"]["median_ms"] / at_small["inbox"]["median_ms"], 3),
    }
