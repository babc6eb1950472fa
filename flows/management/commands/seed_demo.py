"""``salesflow seed-demo``: demo people for every role, about two months of history, and
deals waiting at every stage today.

The history is played through the engine's own services by the conveyor's simulator
(``flows.simulation``) with the clock moved back, day by day: leads from every source,
bounces, stalls, discounts approved and rejected, lost deals, side tasks, repeat orders,
reactivated clients, calls, meetings and proposals. Then the daily report is stored for
every past day, so a newcomer's first page shows reports, scorecards, the funnel and pay
statements with something in them.

The clock is moved with time-machine (a run-time dependency for this reason): it moves
the time every caller reads, the model fields' ``default=timezone.now`` included, which a
patched ``django.utils.timezone.now`` would miss. The services take no ``now`` of their
own, and should not grow one for a demo.

The background jobs the seed's commit sends run in the command's own process
(``jobs_run_here``): they belong to the past.

Idempotent: people are created once (their passwords are left alone afterwards) and the
history and deals only on an empty client base.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from flows.dataquality_work import data_quality_scan
from flows.sidework import side_task_request
from flows.simulation import ConveyorSimulator, Odds
from salesflow.clients.models import Client
from salesflow.pay.disputes import pay_dispute_open
from salesflow.pay.selectors import current_month
from salesflow.reports.services import daily_report_build
from salesflow.targets.services import goal_set

HISTORY_DAYS = 60
# the odds of the history's side paths: every kind of deal, each often enough to be seen
HISTORY_ODDS = Odds(
    disqualify=0.1,
    nurture=0.05,
    over_limit=0.2,
    reject=0.25,
    bounce=0.1,
    side_task=0.08,
    lost=0.15,
    repeat=0.3,
)

PASSWORD = "salesflow"
# username -> role (None: the administrator)
DEMO_USERS = {
    "hunter1": "hunter",
    "hunter2": "hunter",
    "account1": "account_manager",
    "account2": "account_manager",
    "clerk": "document_clerk",
    "expeditor": "expeditor",
    "teamlead": "team_lead",
    "assistant": "assistant",
    "operator": "database_operator",
    "admin": None,
}
# full names, so that the pages name people as a team would (salesflow.people)
DEMO_NAMES = {
    "hunter1": ("Anna", "Orlova"),
    "hunter2": ("Boris", "Kim"),
    "account1": ("Vera", "Sokolova"),
    "account2": ("Dmitry", "Lebedev"),
    "clerk": ("Irina", "Volkova"),
    "expeditor": ("Pavel", "Morozov"),
    "teamlead": ("Elena", "Smirnova"),
    "assistant": ("Maria", "Pavlova"),
    "operator": ("Sergey", "Fedorov"),
    "admin": ("Oleg", "Admin"),
}


@contextmanager
def jobs_run_here() -> Iterator[None]:
    """The background jobs the seed's commit sends -- some 600: a hand-out for every stage
    of two months, the team leads' notices of each day's stalled work -- run in this
    process instead, their e-mails kept in memory and dropped. They belong to the past:
    a worker's first start would otherwise print 49 old "tasks are stalled" e-mails into
    a newcomer's terminal (the development e-mail backend is the console)."""
    from salesflow.celery import app

    eager = app.conf.task_always_eager
    trace = logging.getLogger("celery.app.trace")  # a line per job: 600 lines of noise
    level = trace.level
    app.conf.task_always_eager = True
    trace.setLevel(logging.WARNING)
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            yield
    finally:
        app.conf.task_always_eager = eager
        trace.setLevel(level)


class Command(BaseCommand):
    help = "Create the demo users (password 'salesflow') and demo deals at every stage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="allow it with SALESFLOW_ENV=production"
        )

    def handle(self, *args: Any, force: bool, **options: Any) -> None:
        self.verbosity = int(options.get("verbosity", 1))
        if settings.PRODUCTION and not force:
            raise CommandError("refusing to create demo users in production (use --force)")
        with transaction.atomic():
            staff = self.ensure_users()
            if Client.objects.exists():
                self.say("Demo deals: the client base is not empty, left as it is.")
                return
        # all or nothing: a seed stopped half-way leaves no half of a past behind
        with jobs_run_here(), transaction.atomic():
            first_day = self.seed_history(staff)
            self.seed_deals(staff)
            self.seed_goals(staff)
            self.store_reports(first_day)

    def seed_history(self, staff: dict[str, list[Any]]) -> date:
        """The last ``HISTORY_DAYS`` days played with the clock moved; returns the first."""
        import time_machine  # imported here: only this command moves the clock

        first_day = timezone.localdate() - timedelta(days=HISTORY_DAYS)
        dawn = datetime.combine(first_day, time(6), tzinfo=timezone.get_current_timezone())
        past = ConveyorSimulator(staff=staff, odds=HISTORY_ODDS, seed=17)
        with time_machine.travel(dawn, tick=False) as clock:
            summary = past.run_history(first_day=first_day, days=HISTORY_DAYS, clock=clock)
        if summary.problems:
            first = list(summary.problems.items())[:5]
            raise CommandError(
                "the demo's history went wrong: "
                + "; ".join(f"deal #{pid}: {why}" for pid, why in first)
            )
        self.say(
            f"Demo history: {HISTORY_DAYS} days, {summary.leads} leads, "
            f"{summary.tasks_completed} stages done, {summary.bounces} bounces "
            f"({summary.seconds:.1f} s)."
        )
        return first_day

    def seed_goals(self, staff: dict[str, list[Any]]) -> None:
        """SMART goals the team lead set for this month, so that scorecards show them."""
        lead = staff["team_lead"][0]
        today = timezone.localdate()
        month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        goal_set(
            lead=lead,
            person=staff["hunter"][0],
            what="Turn 40 % of the leads qualified this month into orders",
            measure="qualified_to_order",
            target=40,
            deadline=month_end,
        )
        goal_set(
            lead=lead,
            person=staff["account_manager"][0],
            what="Win back three lapsed clients who order again",
            measure="reactivated_reordered",
            target=3,
            deadline=month_end,
        )

    def store_reports(self, first_day: date) -> None:
        """The daily report of every past day, as the morning job would have stored it."""
        yesterday = timezone.localdate() - timedelta(days=1)
        days = [first_day + timedelta(days=n) for n in range((yesterday - first_day).days + 1)]
        for day in days:
            daily_report_build(day=day)
        self.say(f"Daily reports: {len(days)} days stored.")

    def say(self, line: str) -> None:
        if getattr(self, "verbosity", 1) >= 1:  # `make run` asks for --verbosity 0
            self.stdout.write(line)

    def ensure_users(self) -> dict[str, list[Any]]:
        user_model = get_user_model()
        staff: dict[str, list[Any]] = {}
        for username, role in DEMO_USERS.items():
            user, created = user_model._default_manager.get_or_create(
                username=username,
                defaults={
                    "first_name": DEMO_NAMES[username][0],
                    "last_name": DEMO_NAMES[username][1],
                    "email": f"{username}@example.com",
                },
            )
            if created:
                user.set_password(PASSWORD)
                user.is_staff = user.is_superuser = role is None
                user.save()
                self.say(f"  user {username} ({role or 'administrator'}) created")
            if role:
                user.groups.add(Group.objects.get(name=role))
                staff.setdefault(role, []).append(user)
        return staff

    def seed_deals(self, staff: dict[str, list[Any]]) -> None:
        calm = ConveyorSimulator(staff=staff, odds=Odds(0, 0, 0, 0, 0), seed=1)
        n = iter(range(1, 100))

        def deal() -> int:
            return calm.add_deal(next(n))

        # waiting in the hunters' pool, and one already taken
        deal(), deal()
        calm._claim(calm.open_task(deal()))
        for stage in ("prepare_order", "prepare_order", "documents", "delivery", "follow_up"):
            calm.advance_to(deal(), stage)
        calm.finish(deal())
        # a discount over the account manager's limit, waiting for the team lead
        generous = ConveyorSimulator(staff=staff, odds=Odds(0, 0, 1, 0, 0), seed=2)
        generous.advance_to(deal(), "approve_discount")
        # sent back by the document clerk with a question, now with its account manager
        calm.send_back(calm.advance_to(deal(), "documents"))
        # disqualified and nurtured leads
        ConveyorSimulator(staff=staff, odds=Odds(1, 0, 0, 0, 0)).finish(deal())
        ConveyorSimulator(staff=staff, odds=Odds(0, 1, 0, 0, 0)).finish(deal())
        # an account manager's order waits for the assistant's commercial offer
        offer = calm.advance_to(deal(), "prepare_order")
        if offer.owner is None:
            calm._claim(offer)
            offer.refresh_from_db()
        side_task_request(
            task=offer,
            user=offer.owner,
            kind="offer",
            brief="A commercial offer for 40 pumps on our letterhead, by Friday.",
            wait=True,
        )
        # the database operator's queue: the demo's cards lack tax numbers
        data_quality_scan(limit=20)
        # a hunter disputes this month's pay: the decision waits in the team leads' pool
        pay_dispute_open(
            person=staff["hunter"][0],
            month=current_month(),
            deal=None,
            stage="",
            reason="The bonus for last month's new clients is missing from my base.",
        )
        self.say(f"Demo deals: {next(n) - 1} deals at every stage of the conveyor.")
