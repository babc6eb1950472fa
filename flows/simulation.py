"""Driving leads along the conveyor through the engine's own services, as its people would.

Used by ``salesflow simulate``, ``salesflow seed-demo`` and the conveyor benchmark. Every
step is what a person does in the UI: claim from the pool (a colleague steps in when a
separation-of-duties rule says no), acknowledge the incoming note, complete the stage with
its data and a real handoff note -- or send it back with a question.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from typing import Any, Protocol

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS
from viewflow.workflow.timers import fire_due_timers

from salesflow.activities.models import Activity
from salesflow.activities.services import activity_log
from salesflow.clients.models import Client, Contact, Lead
from salesflow.conveyor import services
from salesflow.conveyor.registry import node_ref
from salesflow.exceptions import ClaimConflict, SeparationOfDutiesViolated
from salesflow.handoff.templates import DATE, HandoffTemplate
from salesflow.intake.services import lead_intake, reactivation_run
from salesflow.queues import claims
from salesflow.queues.stalled import stalled_scan
from salesflow.roles import get_roles, side_task_kinds

from . import sidework
from .models import ConveyorProcess

COMPANIES = (
    "Volga Pumps", "Ural Steel Works", "Baltic Foods", "Siberian Timber", "Kama Tyres",
    "Don Agro", "Neva Textiles", "Altai Honey", "Oka Glass", "Amur Fisheries",
)  # fmt: skip
WORDS = (
    "the client confirmed volumes and wants the first shipment before the end of month",
    "decision depends on the chief engineer who asked for technical sheets and prices",
    "payment in thirty days after delivery was discussed and accepted in principle",
    "they compare us with two competitors and care most about delivery dates",
)  # fmt: skip


# why deals end without an order (one per deal, by its number: the random sequence of a
# seeded run stays what it was)
LOST = (
    "they bought from a competitor",
    "they bought from a competitor",
    "the price was too high",
    "the project was postponed to next year",
)
DISQUALIFIED = ("no budget this year", "no budget this year", "not a business we sell to")


def pick(reasons: Sequence[str], number: int) -> str:
    return reasons[number % len(reasons)]


@dataclass
class Summary:
    leads: int = 0
    finished: int = 0
    tasks_completed: int = 0
    handoffs: int = 0
    bounces: int = 0
    approvals: int = 0
    # side tasks handed to the assistants (the stage waited for each) and done
    side_tasks: int = 0
    lost: int = 0
    nurtured: int = 0
    timers_fired: int = 0
    waiting: int = 0
    stuck: int = 0
    seconds: float = 0.0
    # deal id -> why it cannot go on (an error, or no way forward): must stay empty
    problems: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Clock(Protocol):
    """What moves the time the engine reads (``time_machine``'s traveller does)."""

    def move_to(self, destination: datetime) -> None: ...


# what a stage's holder logs while holding it
ACTIVITY_KINDS: dict[str, tuple[str, ...]] = {
    "qualify": (Activity.Kind.CALL, Activity.Kind.CALL, Activity.Kind.MEETING),
    "prepare_order": (Activity.Kind.PROPOSAL, Activity.Kind.CALL, Activity.Kind.MEETING),
    "follow_up": (Activity.Kind.CALL,),
}


@dataclass
class Odds:
    """How often the simulated people take each side path."""

    disqualify: float = 0.08
    nurture: float = 0.04
    over_limit: float = 0.25
    reject: float = 0.2
    bounce: float = 0.08
    # a selling stage hands a side task to the assistants and waits for it (only when the
    # staff has assistants; none unless asked for, so other runs keep their paths)
    side_task: float = 0.0
    lost: float = 0.0
    # the client orders again at the follow-up (a repeat order in the account pool)
    repeat: float = 0.0


def ensure_staff(
    prefix: str, per_role: Mapping[str, int], password: str | None = None
) -> dict[str, list[Any]]:
    """Users ``<prefix><role>_<n>`` in each role's group; returns {role: [users]}."""
    user_model = get_user_model()
    staff: dict[str, list[Any]] = {}
    for role, count in per_role.items():
        group = Group.objects.get(name=role)
        staff[role] = []
        for n in range(1, count + 1):
            user, created = user_model._default_manager.get_or_create(
                username=f"{prefix}{role}_{n}", defaults={"is_active": True}
            )
            if created:
                if password:
                    user.set_password(password)
                else:
                    user.set_unusable_password()
                user.save()
            user.groups.add(group)
            staff[role].append(user)
    return staff


@dataclass
class ConveyorSimulator:
    staff: Mapping[str, Sequence[Any]]
    odds: Odds = field(default_factory=Odds)
    seed: int = 0
    summary: Summary = field(default_factory=Summary)
    # the moved clock of ``run_history``: side tasks then take their time (None: no time
    # passes between steps, as in ``run``)
    clock: Clock | None = None

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._turns = {role: itertools.cycle(users) for role, users in self.staff.items()}
        self._bounced: set[tuple[int, str]] = set()

    # --- leads ---------------------------------------------------------------------------

    def add_deal(self, number: int) -> int:
        """``add_lead``, returning its deal's process id."""
        lead = self.add_lead(number)
        if lead.process_id is None:
            raise RuntimeError(f"lead #{lead.pk} did not start a deal")
        return lead.process_id

    def add_lead(self, number: int, *, source: str = Lead.Source.WEB_FORM) -> Lead:
        name = f"{self.rng.choice(COMPANIES)} {number}"
        client = Client.objects.create(
            name=name, legal_address=f"{number} Industrial Street, Kazan"
        )
        contact = Contact.objects.create(
            client=client,
            name=f"Buyer {number}",
            phone=f"+7 900 {number:07d}",
            email=f"buyer{number}@example.com",
            is_decision_maker=True,
        )
        self.summary.leads += 1
        return lead_intake(
            client=client, contact=contact, source=source, request=self.rng.choice(WORDS)
        )

    # --- one step ------------------------------------------------------------------------

    def open_task(self, process_id: int) -> Task | None:
        return (
            Task.objects.filter(
                process_id=process_id,
                flow_task_type="HUMAN",
                status__in=[STATUS.NEW, STATUS.ASSIGNED, STATUS.STARTED],
            )
            .order_by("pk")
            .first()
        )

    def _claim(self, task: Task) -> Any:
        """A person of the stage's roles takes the task -- unless the pool handed it out
        meanwhile (a worker running beside the simulator): then it is its owner's."""
        roles = [r.code for r in get_roles().values() if node_ref(task.flow_task) in r.nodes]
        candidates = [u for r in roles for u in self.staff.get(r, ())]
        for _ in range(len(candidates)):
            user = next(self._turns[self.rng.choice(roles)])
            try:
                claims.task_claim(task=task, user=user)
            except SeparationOfDutiesViolated:
                continue
            except ClaimConflict:
                task.refresh_from_db()
                if task.owner_id is None:
                    raise
                return task.owner
            return user
        raise RuntimeError(f"nobody may take {task}: every candidate is barred")

    def step(self, process_id: int) -> bool:
        """Do the next human step of the process; False when nothing is left to do."""
        task = self.open_task(process_id)
        if task is None:
            return False
        user = task.owner if task.status != STATUS.NEW else self._claim(task)
        node = task.flow_task
        key = (process_id, node.name)
        bounce_odds = self.odds.reject if node.is_approval else self.odds.bounce
        if (
            node.bounce_node is not None
            and key not in self._bounced
            and self.rng.random() < bounce_odds
            and Task.objects.filter(
                process_id=process_id, flow_task=node.bounce_node, status=STATUS.DONE
            ).exists()
        ):
            self._bounced.add(key)
            self.send_back(task, user)
        else:
            if (
                self.odds.side_task
                and self.staff.get("assistant")
                and self.rng.random() < self.odds.side_task
            ):
                self.side_task(task, user)
            data = getattr(self, f"data_{node.name}")(task)
            result = services.stage_complete(
                task=task,
                user=user,
                data=data,
                handoff=self.note(node.handoff, task) if node.handoff else None,
                acknowledge=True,
            )
            self.summary.handoffs += result.note is not None
            self.summary.approvals += node.is_approval
        self.summary.tasks_completed += 1
        return True

    def side_task(self, task: Task, user: Any) -> None:
        """The stage's holder hands a side task over and waits; an assistant takes it
        from the pool and does it (its result goes back to the holder)."""
        side = sidework.side_task_request(
            task=task,
            user=user,
            kind=self.rng.choice(list(side_task_kinds())),
            brief=self.rng.choice(WORDS),
            wait=True,
        )
        side_stage = Task.objects.get(process_id=side.process_id, flow_task_type="HUMAN")
        assistant = side_stage.owner if side_stage.status != STATUS.NEW else None
        self._later(20, 90)  # the assistant gets to it
        if assistant is None:
            assistant = next(self._turns["assistant"])
            side_stage = claims.task_claim(task=side_stage, user=assistant)
        self._later(15, 60)  # and does it
        services.stage_complete(
            task=side_stage, user=assistant, data={"result": self.rng.choice(WORDS)}
        )
        self.summary.side_tasks += 1
        self.summary.tasks_completed += 1

    def _later(self, least: int, most: int) -> None:
        """With a moved clock: some minutes pass."""
        if self.clock is not None:
            minutes = self.rng.randint(least, most)
            self.clock.move_to(timezone.now() + timedelta(minutes=minutes))

    def advance_to(self, process_id: int, node_name: str, *, max_steps: int = 20) -> Task:
        """Step until the process's open task is at ``node_name``; returns that task."""
        for _ in range(max_steps):
            task = self.open_task(process_id)
            if task is not None and task.flow_task.name == node_name:
                return task
            if not self.step(process_id):
                break
        raise RuntimeError(f"process {process_id} did not reach {node_name}")

    def send_back(self, task: Task, user: Any = None) -> None:
        """Send ``task`` back to the stage before with a question (claiming it first if
        nobody holds it)."""
        if user is None:
            user = task.owner if task.status != STATUS.NEW else self._claim(task)
        services.stage_bounce(
            task=task,
            user=user,
            question={"question": "which legal entity signs and where do we deliver?"},
        )
        self.summary.bounces += 1

    def finish(self, process_id: int, *, max_steps: int = 50) -> None:
        for _ in range(max_steps):
            if not self.step(process_id):
                return

    def fire_timers(self, process_id: int) -> int:
        """The deal's waiting timers fire now, as if their day had come (a nurtured lead
        comes back to the hunters); returns how many fired."""
        fired = 0
        for task in Task.objects.filter(
            process_id=process_id, flow_task_type="TIMER", status=STATUS.SCHEDULED
        ):
            with transaction.atomic(), task.activation() as activation:
                activation.start()
                activation.execute()
            fired += 1
        self.summary.timers_fired += fired
        return fired

    def run(self, leads: int, *, rounds: int = 5) -> Summary:
        """Drive ``leads`` new deals as far as people can take them; a deal nurtured to a
        later day comes back (its timer fired) up to ``rounds`` times. A step that fails
        is recorded in ``summary.problems`` for its deal and the others go on."""
        started = time.perf_counter()
        process_ids = [self.add_deal(n) for n in range(1, leads + 1)]
        for round_ in range(rounds + 1):
            for process_id in process_ids:
                if process_id in self.summary.problems:
                    continue
                try:
                    self.finish(process_id)
                except Exception as exc:  # recorded: the run reports every stuck deal
                    self.summary.problems[process_id] = f"{type(exc).__name__}: {exc}"
            if round_ == rounds:
                break
            waiting = [pid for pid in process_ids if pid not in self.summary.problems]
            if sum([self.fire_timers(pid) for pid in waiting]) == 0:
                break
        self.tally(process_ids)
        self.summary.seconds = round(time.perf_counter() - started, 3)
        return self.summary

    def tally(self, process_ids: Sequence[int]) -> None:
        """Every deal is finished, or waits where it can go on: a task in the pool of a
        role somebody active holds, a task held by an active person, or a timer with its
        date. Anything else is a problem (a deal with no way forward)."""
        states = deal_states(process_ids)
        for process_id, state in states.items():
            if state.startswith("stuck") and process_id not in self.summary.problems:
                self.summary.problems[process_id] = state
        self.summary.finished = sum(state == "finished" for state in states.values())
        self.summary.waiting = sum(state in ("pool", "held", "timer") for state in states.values())
        self.summary.stuck = len(self.summary.problems)

    # --- weeks of history, with the clock moved -----------------------------------------

    def run_history(
        self,
        *,
        first_day: date,
        days: int,
        clock: Clock,
        leads_per_day: tuple[int, int] = (1, 3),
        pace: float = 0.7,
        activity: float = 0.5,
        number_from: int = 1000,
    ) -> Summary:
        """Play ``days`` days from ``first_day`` as a team would live them, moving
        ``clock`` (which the engine's services read: ``timezone.now()``) through each day:
        at 07:00 lapsed clients come back to the account pool (reactivation), nurtured
        leads whose date has come return; from 09:00 new leads arrive from every source;
        from 09:30 people take work from the pools and finish it some minutes later --
        each open deal with odds ``pace`` a day, so some wait past their stage's SLA --
        logging calls, meetings and proposals (odds ``activity``) while they hold it; at
        19:30 the stalled-work scan runs. The caller sets the clock before the first day
        and puts it back afterwards."""
        started = time.perf_counter()
        self.clock = clock
        tz = timezone.get_current_timezone()
        numbers = itertools.count(number_from)
        sources = [Lead.Source.WEB_FORM, Lead.Source.IMPORT, Lead.Source.API, Lead.Source.MANUAL]
        for offset in range(days):
            day = first_day + timedelta(days=offset)

            def at(hour: int, minute: int = 0, day: date = day) -> datetime:
                return datetime.combine(day, dt_time(hour, minute), tzinfo=tz)

            clock.move_to(at(7))
            reactivation_run(today=day)
            clock.move_to(at(8))
            self.summary.timers_fired += fire_due_timers()
            for n in range(self.rng.randint(*leads_per_day)):
                clock.move_to(at(9, 5 + 11 * n))
                self.add_lead(next(numbers), source=self.rng.choice(sources))
            self._work_day(clock, start=at(9, 30), end=at(19), activity=activity, pace=pace)
            clock.move_to(at(19, 30))
            stalled_scan()
        self.summary.seconds = round(time.perf_counter() - started, 3)
        return self.summary

    def _work_day(
        self, clock: Clock, *, start: datetime, end: datetime, activity: float, pace: float
    ) -> None:
        now = start
        # deals only (a process with a lead): not a side task's or a reminder's
        open_deals = ConveyorProcess.objects.filter(status=PROCESS.NEW, lead__isnull=False)
        open_deals = open_deals.order_by("pk")
        for process_id in list(open_deals.values_list("pk", flat=True)):
            if now >= end:
                return  # the rest waits for tomorrow
            if process_id in self.summary.problems or self.rng.random() > pace:
                continue
            task = self.open_task(process_id)
            if task is None:
                continue  # waiting for its date
            clock.move_to(now)
            try:
                if task.status == STATUS.NEW:
                    self._claim(task)
                    task.refresh_from_db()
                if self.rng.random() < activity:
                    self.log_activity(task)
                now += timedelta(minutes=self.rng.randint(5, 30))
                clock.move_to(now)
                self.step(process_id)
            except Exception as exc:  # recorded: the caller reports every stuck deal
                self.summary.problems[process_id] = f"{type(exc).__name__}: {exc}"
            # a side task the stage waited for took its time
            now = max(now, timezone.now()) + timedelta(minutes=self.rng.randint(1, 5))

    def log_activity(self, task: Task) -> None:
        """The task's holder records what they did for the client: a call, a meeting or a
        proposal, as the stage calls for."""
        kinds = ACTIVITY_KINDS.get(task.flow_task.name)
        if not kinds:
            return  # documents, delivery, approvals: their record is the stage itself
        kind = self.rng.choice(kinds)
        lead = Lead.objects.select_related("client", "contact").get(process_id=task.process_id)
        activity_log(
            user=task.owner,
            client=lead.client,
            kind=kind,
            text=self.rng.choice(WORDS),
            direction=Activity.Direction.OUT if kind == Activity.Kind.CALL else "",
            duration=self.rng.randint(60, 900) if kind == Activity.Kind.CALL else None,
            contact=lead.contact,
            lead=lead,
            task=task,
        )

    # --- what people type ------------------------------------------------------------------

    def note(self, template: HandoffTemplate, task: Task) -> dict[str, str]:
        client = f"deal #{task.process_id}"
        values = {}
        for spec in template.fields:
            if spec.kind == DATE:
                values[spec.name] = (timezone.localdate() + timedelta(days=7)).isoformat()
            else:
                values[spec.name] = f"{spec.label} for {client}: {self.rng.choice(WORDS)}"
        return values

    def data_qualify(self, task: Task) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < self.odds.disqualify:
            return {
                "outcome": "disqualified",
                "disqualification_reason": pick(DISQUALIFIED, task.process_id),
            }
        if roll < self.odds.disqualify + self.odds.nurture:
            self.summary.nurtured += 1
            return {
                "outcome": "nurture",
                "nurture_until": (timezone.localdate() + timedelta(days=30)).isoformat(),
            }
        return {"outcome": "qualified"}

    def data_prepare_order(self, task: Task) -> dict[str, Any]:
        if self.rng.random() < self.odds.lost:
            self.summary.lost += 1
            return {"outcome": "no_order", "lost_reason": pick(LOST, task.process_id)}
        discount = Decimal("10") if self.rng.random() < self.odds.over_limit else Decimal("3")
        return {
            "outcome": "order",
            "specification": "pumps NM-100, 20 pcs, with spare parts kit",
            "amount": str(Decimal(self.rng.randrange(100_000, 5_000_000)) / 100),
            "discount": str(discount),
            "terms": "50% prepayment, the rest within 30 days of delivery",
            "delivery_address": "12 Industrial Street, Kazan",
            # planned a week ahead: the expeditor's pool shows when each order is due
            "delivery_date": (timezone.localdate() + timedelta(days=7)).isoformat(),
        }

    def data_approve_discount(self, task: Task) -> dict[str, Any]:
        return {"comment": "large order, the discount pays off"}

    def data_documents(self, task: Task) -> dict[str, Any]:
        return {"contract_signed": "on", "invoice_issued": "on", "closing_acts_prepared": "on"}

    def data_delivery(self, task: Task) -> dict[str, Any]:
        return {"delivered_on": timezone.localdate().isoformat(), "originals_returned": "on"}

    def data_follow_up(self, task: Task) -> dict[str, Any]:
        if self.odds.repeat and self.rng.random() < self.odds.repeat:
            return {
                "outcome": "repeat_order",
                "feedback": "the client is satisfied and wants the same again",
                "repeat_request": "the same pumps again, 20 pcs, delivery next month",
            }
        return {"outcome": "closed", "feedback": "the client is satisfied with the delivery"}


def deal_states(process_ids: Sequence[int]) -> dict[int, str]:
    """Where each deal stands: "finished", "pool" (an open task in the pool of a stage
    some active person may take), "held" (an active person's task), "timer" (waiting
    for its date), or "stuck: why"."""
    active = get_user_model()._default_manager.filter(is_active=True)
    takers = {
        ref
        for role in get_roles().values()
        if active.filter(groups__name=role.code).exists()
        for ref in role.nodes
    }
    states: dict[int, str] = {}
    processes = ConveyorProcess.objects.filter(pk__in=process_ids)
    for process in processes:
        if process.status == PROCESS.DONE:
            states[process.pk] = "finished"
            continue
        tasks = list(
            Task.objects.filter(process=process).exclude(status__in=[STATUS.DONE, STATUS.CANCELED])
        )
        states[process.pk] = _open_state(tasks, takers)
    return states


def _open_state(tasks: Sequence[Task], takers: set[str]) -> str:
    if not tasks:
        return "stuck: not finished and no open task"
    for task in tasks:
        if task.status == STATUS.ERROR:
            return f"stuck: task #{task.pk} ({task.flow_task}) failed"
        if task.flow_task_type == "TIMER" and task.status == STATUS.SCHEDULED:
            return "timer"
        if task.flow_task_type == "HUMAN":
            if task.status == STATUS.NEW:
                ref = node_ref(task.flow_task)
                return "pool" if ref in takers else f"stuck: nobody may take {ref}"
            if task.owner is not None and task.owner.is_active:
                return "held"
    return "stuck: " + ", ".join(f"#{t.pk} {t.flow_task} {t.status}" for t in tasks)
