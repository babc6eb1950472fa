"""A hand-built month of pay (March 2026), every figure worked out in advance.

Two plans: the shipped one until 15 March; from 16 March the same with account managers
on 10 % instead of 8 % (a plan change mid-month). Deals, by letter (amounts after a 0 %
discount; stage split 30/40/10/10/10, repeat orders 60/15/15/10):

* P -- plain: hunter1, account1 (1,000.00), clerk1, expeditor1; delivered 5 March.
  hunter1 300 -> 30.00, half advanced on 3 March; account1 400 -> 32.00; clerk1 and
  expeditor1 100 each -> 5.00. Follow-up not done: its 100 is not credited yet.
* B -- a bounce: account1 prepares (2,000.00), clerk1 sends it back, a team lead moves the
  redo to account2, who completes it. Of the order stage's 800, 20 % (160) moves to
  account2: account1 640 -> 51.20, account2 160 -> 12.80; hunter1 600 -> 60.00 (30.00
  advanced); clerk1 and expeditor1 200 -> 10.00 each.
* M -- reassigned mid-stage: hunter2 takes the qualification, a team lead moves it to
  hunter1, who completes it: all 300 to hunter1 (the completer) -> 30.00 (15.00 advanced);
  account2 (1,000.00) 32.00; clerk2 5.00; expeditor2 5.00.
* L -- lost after an advance: hunter2 qualifies, account1 places an order (1,000.00) on
  14 March (hunter2 advanced 15.00); clerk1 sends it back and account1 records no order on
  15 March: the 15.00 is clawed back the same day.
* F -- a referral, under the new plan: expeditor2 entered the lead; hunter2, account1
  (3,000.00), clerk2, expeditor2; delivered 19 March. hunter2 900 -> 90.00 (45.00
  advanced); account1 1,200 at 10 % -> 120.00; clerk2 and expeditor2 300 -> 15.00 each;
  expeditor2's referral 0.5 % of 3,000 -> 15.00.
* R -- a repeat order of P's client, under the new plan: account2 (500.00), clerk1,
  expeditor1: no hunter share; account2 300 -> 30.00; clerk1 and expeditor1 75 -> 3.75.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from salesflow.clients.models import Client, Lead
from salesflow.intake.services import lead_intake
from salesflow.queues import moves

from .factories import ClientFactory, ContactFactory
from .report_scenario import bounce, claim, complete, open_task

UTC = timezone.get_fixed_timezone(0)
SHIPPED = (Path(__file__).resolve().parent.parent / "roles" / "pay" / "standard.toml").read_text()
OLD = SHIPPED.replace(
    "effective_from = 2020-01-01", "effective_from = 2020-01-01\neffective_until = 2026-03-15"
)
NEW = (
    SHIPPED.replace('code = "standard"', 'code = "march"')
    .replace("effective_from = 2020-01-01", "effective_from = 2026-03-16")
    .replace('base = "70000.00"\ncommission = "8"', 'base = "70000.00"\ncommission = "10"')
)

# what each person earns in March beyond their base
EXPECTED = {
    "hunter1": Decimal("120.00"),
    "hunter2": Decimal("90.00"),
    "account_manager1": Decimal("203.20"),
    "account_manager2": Decimal("74.80"),
    "document_clerk1": Decimal("18.75"),
    "document_clerk2": Decimal("20.00"),
    "expeditor1": Decimal("18.75"),
    "expeditor2": Decimal("35.00"),
}
REVENUE = Decimal("7500.00")
CREDITED = Decimal("6750.00")  # all but the follow-ups not yet done


def on(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def lead(name: str, *, client: Client | None = None, created_by: Any = None) -> Lead:
    client = client or ClientFactory(name=f"{name} LLC")
    return lead_intake(
        client=client,
        contact=ContactFactory(client=client),
        source=Lead.Source.MANUAL,
        request="twenty pumps",
        created_by=created_by,
    )


def order(amount: str) -> dict[str, str]:
    return {"amount": amount, "discount": "0"}


def play(staff: dict[str, list[Any]], clock: Any) -> dict[str, Lead]:
    hunter1, hunter2 = staff["hunter"]
    account1, account2 = staff["account_manager"]
    clerk1, clerk2 = staff["document_clerk"]
    expeditor1, expeditor2 = staff["expeditor"]
    lead_person = staff["team_lead"][0]
    deals: dict[str, Lead] = {}

    clock.move_to(on(2, 9))
    deals["P"] = lead("P")
    clock.move_to(on(2))
    complete(deals["P"], hunter1)
    clock.move_to(on(3))
    complete(deals["P"], account1, **order("1000.00"))
    clock.move_to(on(4))
    complete(deals["P"], clerk1)
    clock.move_to(on(5))
    complete(deals["P"], expeditor1)

    clock.move_to(on(6, 9))
    deals["B"] = lead("B")
    clock.move_to(on(6))
    complete(deals["B"], hunter1)
    clock.move_to(on(7))
    complete(deals["B"], account1, **order("2000.00"))
    clock.move_to(on(8))
    claim(deals["B"], clerk1)
    clock.move_to(on(8, 13))
    bounce(deals["B"], clerk1)  # back to account1
    clock.move_to(on(8, 14))
    moves.task_reassign(task=open_task(deals["B"]), by=lead_person, to=account2, reason="away")
    clock.move_to(on(8, 15))
    complete(deals["B"], account2, **order("2000.00"))
    clock.move_to(on(9))
    complete(deals["B"], clerk1)
    clock.move_to(on(10))
    complete(deals["B"], expeditor1)

    clock.move_to(on(11, 9))
    deals["M"] = lead("M")
    clock.move_to(on(11, 10))
    claim(deals["M"], hunter2)
    clock.move_to(on(11, 13))
    moves.task_reassign(task=open_task(deals["M"]), by=lead_person, to=hunter1, reason="ill")
    clock.move_to(on(11, 14))
    complete(deals["M"], hunter1)
    clock.move_to(on(12))
    complete(deals["M"], account2, **order("1000.00"))
    clock.move_to(on(12, 15))
    complete(deals["M"], clerk2)
    clock.move_to(on(13))
    complete(deals["M"], expeditor2)

    clock.move_to(on(14, 9))
    deals["L"] = lead("L")
    clock.move_to(on(14, 10))
    complete(deals["L"], hunter2)
    clock.move_to(on(14, 11))
    complete(deals["L"], account1, **order("1000.00"))
    clock.move_to(on(15, 10))
    claim(deals["L"], clerk1)
    clock.move_to(on(15, 11))
    bounce(deals["L"], clerk1)
    clock.move_to(on(15, 12))
    complete(deals["L"], account1, outcome="no_order", lost_reason="the client went elsewhere")

    clock.move_to(on(16, 9))
    deals["F"] = lead("F", created_by=expeditor2)
    clock.move_to(on(16))
    complete(deals["F"], hunter2)
    clock.move_to(on(17))
    complete(deals["F"], account1, **order("3000.00"))
    clock.move_to(on(18))
    complete(deals["F"], clerk2)
    clock.move_to(on(19))
    complete(deals["F"], expeditor2)

    clock.move_to(on(20, 9))
    deals["R"] = lead("R", client=Client.objects.get(pk=deals["P"].client_id))
    assert deals["R"].source == Lead.Source.REPEAT_ORDER
    clock.move_to(on(20, 10))
    complete(deals["R"], account2, **order("500.00"))
    clock.move_to(on(21, 10))
    complete(deals["R"], clerk1)
    clock.move_to(on(22, 10))
    complete(deals["R"], expeditor1)
    return deals
