"""A hand-built conveyor day with known ages and outcomes, for the daily report's tests.

Everything happens at stated times (frozen clock, UTC), through the engine's services --
the stall marks too: the stalled scan runs at stated times and marks what it finds, and a
change of hands clears an idleness stall, as in production -- so every figure of the
report of ``DAY`` can be worked out by hand (``EXPECTED`` below, and the tests'
comments). The same scenario is played on PostgreSQL by the tests and on SQLite in a
subprocess, to check both databases give the same figures.

The leads, by letter:

* A -- qualified by hunter1 the day before; prepared by account_manager1 on DAY (order
  1,000.00 at 3 %), sent back by document_clerk1 with a question: back with
  account_manager1 at the end of the day.
* B -- disqualified by hunter2 on DAY, three hours after it was due.
* C -- new on DAY; hunter1 takes it at once, leaves it untouched -- marked stalled for
  idleness at 12:30 -- and gives it back to the pool at 16:30, which ends that stall.
* E -- qualified, prepared (2,000.00 at 2.5 %) and documented three days before; delivered
  by expeditor1 on DAY, four hours late: the day's one delivered order.
* G -- waiting for a hunter since two days before DAY, past its due time, marked stalled
  for its SLA at 12:30 on DAY.
* H -- qualified and prepared two days before DAY; its documents taken by
  document_clerk2 and left untouched: marked stalled for idleness the morning before DAY,
  still stalled -- and overdue -- with them at the end of DAY. The day after, a team lead
  moves it to document_clerk1, which clears the mark: the report of DAY must not change.
* L -- qualified by hunter1 the day before; on DAY account_manager2 takes it and the
  client does not order: the deal is lost at the order stage.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import time_machine
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.clients.models import Lead
from salesflow.conveyor import services
from salesflow.intake.services import lead_intake
from salesflow.queues import claims, moves, stalled, terms

from .test_http import NOTES

DAY = date(2026, 3, 2)
UTC = timezone.get_fixed_timezone(0)


def at(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` UTC on DAY + ``day_offset`` days."""
    return datetime.combine(DAY + timedelta(days=day_offset), datetime.min.time()).replace(
        hour=hour, minute=minute, tzinfo=UTC
    )


def stage_data(stage: str, *, amount: str = "1000.00", discount: str = "3") -> dict[str, Any]:
    return {
        "qualify": {"outcome": "qualified"},
        "prepare_order": {
            "outcome": "order",
            "specification": "pumps NM-100, 20 pieces",
            "amount": amount,
            "discount": discount,
            "terms": "half in advance",
            "delivery_address": "12 Industrial Street, Kazan",
        },
        "documents": {
            "contract_signed": "on",
            "invoice_issued": "on",
            "closing_acts_prepared": "on",
        },
        "delivery": {"delivered_on": timezone.localdate().isoformat(), "originals_returned": "on"},
        "follow_up": {"outcome": "closed", "feedback": "the client is pleased with the delivery"},
    }[stage]


def new_lead(name: str) -> Lead:
    from .factories import ClientFactory, ContactFactory

    client = ClientFactory(name=f"Lead {name} LLC")
    return lead_intake(
        client=client,
        contact=ContactFactory(client=client),
        source=Lead.Source.MANUAL,
        request="twenty pumps for the new plant",
    )


def open_task(lead: Lead) -> Task:
    return Task.objects.get(
        process_id=lead.process_id,
        flow_task_type="HUMAN",
        status__in=[STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED],
    )


def claim(lead: Lead, user: Any) -> Task:
    return claims.task_claim(task=open_task(lead), user=user)


def complete(lead: Lead, user: Any, **data: str) -> None:
    """Complete the lead's open stage (taking it first if it waits in the pool)."""
    task = open_task(lead)
    if task.status == STATUS.NEW:
        task = claims.task_claim(task=task, user=user)
    stage = task.flow_task.name
    services.stage_complete(
        task=task,
        user=user,
        data={**stage_data(stage), **data},
        handoff=NOTES.get(stage) if task.flow_task.handoff else None,
        acknowledge=True,
    )


def bounce(lead: Lead, user: Any) -> None:
    services.stage_bounce(
        task=open_task(lead),
        user=user,
        question={"question": "which legal entity signs and where do we deliver?"},
    )


def scan(*leads: Lead) -> None:
    """Run the stalled scan now; it must mark exactly the open tasks of ``leads``."""
    assert sorted(stalled.stalled_scan()) == sorted(open_task(lead).pk for lead in leads)


def play_until_end_of_day(staff: dict[str, list[Any]], clock: time_machine.Coordinates) -> dict:
    """Play everything up to the end of DAY; returns the leads by letter."""
    hunter1, hunter2 = staff["hunter"]
    account1, account2 = staff["account_manager"]
    clerk1, clerk2 = staff["document_clerk"]
    expeditor1 = staff["expeditor"][0]
    leads: dict[str, Lead] = {}

    clock.move_to(at(-3, 9))
    leads["E"] = new_lead("E")
    clock.move_to(at(-3, 10))
    complete(leads["E"], hunter2)
    clock.move_to(at(-3, 11))
    complete(leads["E"], account2, amount="2000.00", discount="2.5")
    clock.move_to(at(-3, 13))
    complete(leads["E"], clerk2)  # the delivery is due three days later, at 13:00 on DAY

    clock.move_to(at(-2, 10))
    leads["G"] = new_lead("G")  # due at 10:00 the day before DAY; nobody takes it
    clock.move_to(at(-2, 11))
    leads["H"] = new_lead("H")
    clock.move_to(at(-2, 12))
    complete(leads["H"], hunter2)
    clock.move_to(at(-2, 13))
    complete(leads["H"], account2, amount="3000.00", discount="0")  # documents due in a day
    clock.move_to(at(-2, 14))
    claim(leads["H"], clerk2)
    clock.move_to(at(-1, 8))
    scan(leads["H"])  # idle for 18 h, more than a clerk's 4 h; not yet past its due time

    clock.move_to(at(-1, 9))
    leads["A"] = new_lead("A")
    leads["B"] = new_lead("B")  # due at 09:00 on DAY
    clock.move_to(at(-1, 10))
    claim(leads["A"], hunter1)
    clock.move_to(at(-1, 11))
    complete(leads["A"], hunter1)  # its note: 11:00 the day before
    clock.move_to(at(-1, 12))
    leads["L"] = new_lead("L")
    clock.move_to(at(-1, 13))
    complete(leads["L"], hunter1)  # its note: 13:00 the day before

    clock.move_to(at(0, 8))
    leads["C"] = new_lead("C")
    clock.move_to(at(0, 8, 15))
    claim(leads["C"], hunter1)
    clock.move_to(at(0, 9, 30))
    claim(leads["A"], account1)  # taken 22.5 h after the hunter's handoff
    clock.move_to(at(0, 10))
    claim(leads["B"], hunter2)
    clock.move_to(at(0, 10, 30))
    claim(leads["L"], account2)  # taken 21.5 h after the hunter's handoff
    clock.move_to(at(0, 11, 30))
    complete(leads["L"], account2, outcome="no_order", lost_reason="a competitor was cheaper")
    clock.move_to(at(0, 12))
    complete(leads["B"], hunter2, outcome="disqualified", disqualification_reason="no budget")
    clock.move_to(at(0, 12, 30))
    scan(leads["G"], leads["C"])  # G past its due time; C idle since 08:15 (over 4 h)
    clock.move_to(at(0, 13))
    complete(leads["A"], account1)  # order 1,000.00 at 3 %, its note for the clerk
    clock.move_to(at(0, 14))
    claim(leads["A"], clerk1)  # taken an hour after the handoff
    clock.move_to(at(0, 15))
    bounce(leads["A"], clerk1)  # back to account1, assigned to them at once
    clock.move_to(at(0, 16, 30))
    claims.task_unassign(
        task=open_task(leads["C"]), user=hunter1, reason="not mine"
    )  # C's stall ends
    clock.move_to(at(0, 17))
    complete(leads["E"], expeditor1)  # delivered, four hours past its due time
    return leads


def play_the_day_after(
    staff: dict[str, list[Any]], clock: time_machine.Coordinates, leads: dict
) -> None:
    """What happens after DAY: none of it may change DAY's report."""
    hunter1 = staff["hunter"][0]
    account1 = staff["account_manager"][0]
    clock.move_to(at(1, 9))
    complete(leads["C"], hunter1)
    clock.move_to(at(1, 10))
    complete(leads["A"], account1)
    moves.task_reassign(
        task=open_task(leads["H"]),
        by=staff["team_lead"][0],
        to=staff["document_clerk"][0],
        reason="document_clerk2 is away this week",
    )
    assert terms.STALLED not in open_task(leads["H"]).data  # its idleness stall is over
    clock.move_to(at(1, 11))
    claim(leads["G"], staff["hunter"][1])  # G's stall for its SLA stays
    clock.move_to(at(1, 12))
    scan(leads["H"])  # now for its SLA: it has been past its due time since the day before
    clock.move_to(at(1, 15))
    complete(leads["E"], account1)  # the follow-up


H = 3600
# DAY's figures, worked out by hand from the story above.
EXPECTED_STAGES = {
    # open at the end of DAY: C (16 h, in the pool; its idleness stall ended when it was
    # given back), G (2 d 14 h, stalled for its SLA, overdue); done: B, late
    "conveyor.qualify": dict(
        open=2, unassigned=2, in_work=0, stalled=1, overdue=1,
        oldest_age_seconds=62 * H, median_age_seconds=(16 * H + 62 * H) // 2,
        age_buckets=[0, 1, 1, 0, 0], created=1, completed=1, finished_late=1,
        outcomes={"disqualified": 1}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
    # open: A again (9 h, back with account1); done: A's order, L lost; A bounced back here
    "conveyor.prepare_order": dict(
        open=1, unassigned=0, in_work=1, stalled=0, overdue=0,
        oldest_age_seconds=9 * H, median_age_seconds=9 * H, age_buckets=[0, 1, 0, 0, 0],
        created=1, completed=2, finished_late=0, outcomes={"order": 1, "lost": 1}, handoffs=1,
        bounces_received=0, bounces_caused=1,
    ),
    "conveyor.approve_discount": dict(
        open=0, unassigned=0, in_work=0, stalled=0, overdue=0, oldest_age_seconds=None,
        median_age_seconds=None, age_buckets=[0, 0, 0, 0, 0], created=0, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
    # open: H (2 d 11 h, with document_clerk2, stalled for idleness, due since 13:00 the day
    # before); A arrived at 13:00 and was sent back at 15:00
    "conveyor.documents": dict(
        open=1, unassigned=0, in_work=1, stalled=1, overdue=1, oldest_age_seconds=59 * H,
        median_age_seconds=59 * H, age_buckets=[0, 0, 1, 0, 0], created=1, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=1, bounces_caused=0,
    ),
    # E delivered at 17:00, due at 13:00
    "conveyor.delivery": dict(
        open=0, unassigned=0, in_work=0, stalled=0, overdue=0, oldest_age_seconds=None,
        median_age_seconds=None, age_buckets=[0, 0, 0, 0, 0], created=0, completed=1,
        finished_late=1, outcomes={}, handoffs=1, bounces_received=0, bounces_caused=0,
    ),
    # E's follow-up, waiting 7 h
    "conveyor.follow_up": dict(
        open=1, unassigned=1, in_work=0, stalled=0, overdue=0, oldest_age_seconds=7 * H,
        median_age_seconds=7 * H, age_buckets=[0, 1, 0, 0, 0], created=1, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
    # the reminder flow's stage (the account managers'): no next step fell due that day
    "reminders.remind": dict(
        open=0, unassigned=0, in_work=0, stalled=0, overdue=0, oldest_age_seconds=None,
        median_age_seconds=None, age_buckets=[0, 0, 0, 0, 0], created=0, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
    # side tasks (the assistants') and the base's quality (the database operators'): none
    # that day
    "sidetasks.do": dict(
        open=0, unassigned=0, in_work=0, stalled=0, overdue=0, oldest_age_seconds=None,
        median_age_seconds=None, age_buckets=[0, 0, 0, 0, 0], created=0, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
    "dataquality.fix": dict(
        open=0, unassigned=0, in_work=0, stalled=0, overdue=0, oldest_age_seconds=None,
        median_age_seconds=None, age_buckets=[0, 0, 0, 0, 0], created=0, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
    # pay disputes (the team leads'): none that day
    "disputes.decide": dict(
        open=0, unassigned=0, in_work=0, stalled=0, overdue=0, oldest_age_seconds=None,
        median_age_seconds=None, age_buckets=[0, 0, 0, 0, 0], created=0, completed=0,
        finished_late=0, outcomes={}, handoffs=0, bounces_received=0, bounces_caused=0,
    ),
}  # fmt: skip
