"""``salesflow seed-demo``: demo people for every role and deals waiting at every stage.

Idempotent: people are created once (their passwords are left alone afterwards) and the
deals only on an empty client base.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from flows.dataquality_work import data_quality_scan
from flows.sidework import side_task_request
from flows.simulation import ConveyorSimulator, Odds
from salesflow.clients.models import Client
from salesflow.pay.disputes import pay_dispute_open
from salesflow.pay.selectors import current_month

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


class Command(BaseCommand):
    help = "Create the demo users (password 'salesflow') and demo deals at every stage."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="allow it with SALESFLOW_ENV=production"
        )

    @transaction.atomic
    def handle(self, *args: Any, force: bool, **options: Any) -> None:
        self.verbosity = int(options.get("verbosity", 1))
        if settings.PRODUCTION and not force:
            raise CommandError("refusing to create demo users in production (use --force)")
        staff = self.ensure_users()
        if Client.objects.exists():
            self.say("Demo deals: the client base is not empty, left as it is.")
            return
        self.seed_deals(staff)

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
