"""Intake matching against a large client base: leads per second and queries per lead.

Fills the scratch database with ``--clients`` clients (one contact each, names drawn from
a few words so that many are alike) by bulk insert, then sends ``--leads`` leads through
``lead_receive`` -- a third by a known phone in another format, a third by a similar name,
a third new -- and reports the rate and the statements per lead. The matching keys are
indexed, so the figures should hardly move between 10,000 and 1,000,000 clients.
"""

from __future__ import annotations

import random

from django.db import connection

from .base import counting_queries, median, scratch_database, timed

WORDS = (
    "volga", "ural", "baltic", "siberian", "kama", "don", "neva", "altai", "oka", "amur",
    "pumps", "steel", "foods", "timber", "tyres", "agro", "textiles", "honey", "glass",
    "fisheries", "trade", "service", "plant", "group", "systems",
)  # fmt: skip


def add_arguments(parser) -> None:
    parser.add_argument("--clients", type=int, default=100_000, help="clients in the base")
    parser.add_argument("--leads", type=int, default=300, help="leads sent through the intake")


def _fill(count: int, rng: random.Random) -> None:
    from salesflow.clients import normalize
    from salesflow.clients.models import Client, Contact

    batch = 5_000
    for start in range(0, count, batch):
        clients = []
        for n in range(start, min(count, start + batch)):
            name = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {n}"
            clients.append(Client(name=name, name_key=normalize.name_key(name)))
        Client.objects.bulk_create(clients)
        Contact.objects.bulk_create(
            Contact(
                client=client,
                name="Buyer",
                phone=f"+7 900 {client.pk:07d}",
                phone_key=f"7900{client.pk:07d}",
                email=f"buyer{client.pk}@example.com",
                email_key=f"buyer{client.pk}@example.com",
            )
            for client in clients
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE clients_client; ANALYZE clients_contact")


def run(*, clients: int, leads: int, keepdb: bool) -> dict:
    from salesflow.clients.models import Client
    from salesflow.intake.services import LeadData, lead_receive

    rng = random.Random(5)
    with scratch_database(keep=keepdb):
        _fill(clients, rng)
        top = Client.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
        kinds = {"known_phone": [], "similar_name": [], "new": []}
        queries = []
        for n in range(leads):
            kind = ("known_phone", "similar_name", "new")[n % 3]
            pk = rng.randint(1, top)
            if kind == "known_phone":
                data = LeadData(company=f"Someone {n}", phone=f"8 (900) {pk:07d}")
            elif kind == "similar_name":
                known = Client.objects.only("name").get(pk=pk).name
                data = LeadData(company=f'"{known}" LLC', phone=f"+7 800 {n:07d}")
            else:
                data = LeadData(company=f"Brand New Works {n}", phone=f"+7 700 {n:07d}")
            with counting_queries() as counter:
                seconds = timed(lambda data=data: lead_receive(data=data, source="api"))
            kinds[kind].append(seconds)
            queries.append(len(counter))
        vendor = connection.vendor

    return {
        "database": vendor,
        "clients": clients,
        "leads": leads,
        "leads_per_s": round(leads / sum(sum(v) for v in kinds.values()), 1),
        **{f"{kind}_median_ms": round(median(v) * 1000, 2) for kind, v in kinds.items()},
        "queries_per_lead_median": median(queries),
        "queries_per_lead_max": max(queries),
    }
