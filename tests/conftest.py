"""Shared fixtures: people in every role, leads on the conveyor, and a driver that moves a
deal along it through the engine's services."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth import get_user_model
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.simulation import ConveyorSimulator, Odds
from salesflow.clients.models import Lead
from salesflow.intake.services import lead_intake

from .factories import ClientFactory, ContactFactory, UserFactory

ROLES = (
    "hunter",
    "account_manager",
    "document_clerk",
    "expeditor",
    "team_lead",
    "assistant",
    "database_operator",
)


def pytest_sessionstart(session):
    """Tests run on PostgreSQL; say so plainly instead of failing in a hundred places."""
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        raise pytest.UsageError(f"the tests need PostgreSQL (DATABASE_URL), not {engine}")


@pytest.fixture(autouse=True)
def english():
    """Each test starts in English: a request in Russian leaves its language active in
    the thread, and messages are asserted in English unless a test says otherwise."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def staff(db):
    """Two people per role: ``staff["hunter"][0]`` and so on, fresh from the database."""
    people = {}
    for role in ROLES:
        people[role] = [UserFactory(username=f"{role}{n}", roles=[role]) for n in (1, 2)]
    return {
        role: [get_user_model().objects.get(pk=u.pk) for u in users]
        for role, users in people.items()
    }


@pytest.fixture
def new_lead(db):
    def make(**kwargs) -> Lead:
        client = kwargs.pop("client", None) or ClientFactory()
        contact = ContactFactory(client=client)
        return lead_intake(
            client=client,
            contact=contact,
            source=kwargs.pop("source", Lead.Source.MANUAL),
            request=kwargs.pop("request", "twenty pumps for the new plant"),
            **kwargs,
        )

    return make


@pytest.fixture
def driver(staff):
    """A simulator that never takes side paths unless told to (``driver(odds=...)``)."""

    def make(odds: Odds | None = None) -> ConveyorSimulator:
        return ConveyorSimulator(staff=staff, odds=odds or Odds(0, 0, 0, 0, 0))

    return make


def open_task(lead: Lead) -> Task | None:
    return (
        Task.objects.filter(
            process_id=lead.process_id,
            flow_task_type="HUMAN",
            status__in=[STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED],
        )
        .order_by("pk")
        .first()
    )


@pytest.fixture
def redis_url():
    """A Redis database for tests that need the real broker. Skips only outside CI."""
    import redis

    url = os.environ.get("SALESFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("SALESFLOW_REQUIRE_SERVICES"):
            pytest.fail(f"Redis is not reachable at {url}, and CI requires it")
        pytest.skip(f"Redis is not reachable at {url}")
    return url


@pytest.fixture
def pay_plans(settings, tmp_path):
    """The hand-built March's two pay plans (``pay_scenario``): the old one, and the new
    one in force from the 16th."""
    from salesflow.pay import plans

    from . import pay_scenario

    (tmp_path / "old.toml").write_text(pay_scenario.OLD)
    (tmp_path / "new.toml").write_text(pay_scenario.NEW)
    settings.SALESFLOW_PAY_PLANS_DIR = tmp_path
    plans.get_plans.cache_clear()
    yield
    plans.get_plans.cache_clear()
