"""Dependence on one person: per client, how many people carried its work over the last
12 months and what share of it went through the single busiest one -- the fear this
product answers (the client walks out of the door with its manager).

The work of a client counted here: the stages finished on its deals (the audit trail's
completions and handoffs), the handoff notes written about it and the activities (calls,
meetings, e-mails, proposals, notes) people logged with it; the revenue share is the part
of its delivered revenue on deals the busiest person carried a stage of. A client depends
on one person when that person's share of its work is at least ``THRESHOLD`` percent
and there is enough work to say so (``MINIMUM_WORK`` items).

Three grouped queries whatever the size of the base.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from salesflow.activities.models import Activity
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Client, Order
from salesflow.handoff.models import HandoffNote
from salesflow.people import display_names

from .measures import CARRIED

THRESHOLD = Decimal(80)
MINIMUM_WORK = 5
WINDOW = timedelta(days=365)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class ClientDependence:
    client_id: int
    client: str
    people: int
    busiest_id: int
    busiest: str
    work: int
    share: Decimal  # percent of the client's work through the busiest person
    revenue: Decimal
    revenue_share: Decimal | None


@dataclass(frozen=True)
class Dependence:
    until: datetime
    active_clients: int  # clients with any counted work in the window
    clients: tuple[ClientDependence, ...]  # those past the threshold, worst first

    @property
    def share(self) -> Decimal | None:
        """The percentage of active clients that depend on one person."""
        if not self.active_clients:
            return None
        return (Decimal(len(self.clients)) * HUNDRED / self.active_clients).quantize(Decimal("0.1"))


def dependence(*, until: datetime | None = None) -> Dependence:
    """Clients that depend on one person, as of ``until`` (default: now), over the 12
    months before it. Call through ``access.require_team_lead`` for a person."""
    end = until or timezone.now()
    start = end - WINDOW
    work: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    sources = (
        AuditEvent.objects.filter(
            action__in=CARRIED,
            client__isnull=False,
            actor__isnull=False,
            created__gte=start,
            created__lt=end,
        ).values_list("client_id", "actor_id"),
        HandoffNote.objects.filter(created__gte=start, created__lt=end).values_list(
            "client_id", "author_id"
        ),
        Activity.objects.filter(
            client__isnull=False, author__isnull=False, occurred__gte=start, occurred__lt=end
        ).values_list("client_id", "author_id"),
    )
    for rows in sources:
        for client_id, person_id, n in rows.order_by().annotate(n=Count("id")):
            work[client_id][person_id] += n
    candidates: dict[int, tuple[int, int, Decimal]] = {}
    for client_id, people in work.items():
        total = sum(people.values())
        busiest, most = max(people.items(), key=lambda item: (item[1], -item[0]))
        share = (Decimal(most) * HUNDRED / total).quantize(Decimal("0.1"))
        if total >= MINIMUM_WORK and share >= THRESHOLD:
            candidates[client_id] = (busiest, total, share)
    revenue: dict[int, Decimal] = defaultdict(Decimal)
    carried: dict[int, Decimal] = defaultdict(Decimal)
    if candidates:
        orders = list(
            Order.objects.filter(
                delivered__gte=start, delivered__lt=end, lead__client_id__in=list(candidates)
            ).values_list("lead__client_id", "lead__process_id", "amount", "discount")
        )
        pairs = set(
            AuditEvent.objects.filter(
                action__in=CARRIED, process_id__in=[o[1] for o in orders if o[1] is not None]
            )
            .order_by()
            .values_list("process_id", "actor_id")
            .distinct()
        )
        for client_id, process_id, amount, discount in orders:
            value = (amount * (HUNDRED - discount) / HUNDRED).quantize(Decimal("0.01"))
            revenue[client_id] += value
            if (process_id, candidates[client_id][0]) in pairs:
                carried[client_id] += value
    names = dict(Client.objects.filter(pk__in=list(candidates)).values_list("pk", "name"))
    people_names = display_names(
        get_user_model()._default_manager.filter(pk__in={c[0] for c in candidates.values()})
    )
    clients = [
        ClientDependence(
            client_id=client_id,
            client=names.get(client_id, ""),
            people=len(work[client_id]),
            busiest_id=busiest,
            busiest=people_names.get(busiest, ""),
            work=total,
            share=share,
            revenue=revenue[client_id],
            revenue_share=(
                (carried[client_id] * HUNDRED / revenue[client_id]).quantize(Decimal("0.1"))
                if revenue[client_id]
                else None
            ),
        )
        for client_id, (busiest, total, share) in candidates.items()
    ]
    clients.sort(key=lambda c: (-c.share, -c.work, c.client))
    return Dependence(until=end, active_clients=len(work), clients=tuple(clients))
