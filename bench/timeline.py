"""A client's timeline at a million activities: the first page's time and queries.

Fills a scratch PostgreSQL database (``test_<db>_timeline``) with ``--activities``
activities (``bench.data.insert_select``: calls, meetings, proposals and notes spread over
``--clients`` clients and two years), then gives one client ``--client-activities`` of
them, ``--emails`` of which are e-mails with their stored messages, and a second client
ten. It requests ``GET /api/clients/{id}/timeline/`` -- the whole request in-process, as a
team lead (who reads everything, reveals and exports included: every source is read) --
``--runs`` times after a warm-up, for both clients, and prints the median and the
statements of one request (the same for both: a page reads each source's index for a page,
whatever the history holds). ``cpu_ms`` is this process's CPU time per request: on a
machine other processes load, the wall-clock median includes waiting for a core.
"""

from __future__ import annotations

import os
from typing import Any

from django.db import connection
from rest_framework.test import APIClient

from salesflow.activities.models import Activity, MailMessage
from salesflow.clients.models import Client

from .base import counting_queries, median, percentile, scratch_database, timed_cpu
from .data import SERIES, analyze, insert_select, next_id, require_postgresql, reset_sequences

STAFF = {"hunter": 10, "account_manager": 10, "team_lead": 2}
KINDS = "(ARRAY['call', 'meeting', 'proposal', 'note'])[1 + g.n %% 4]"
DIRECTIONS = "(ARRAY['in', 'out', '', ''])[1 + g.n %% 4]"
TWO_YEARS = 2 * 365 * 86400


def add_arguments(parser: Any) -> None:
    parser.add_argument("--activities", type=int, default=1_000_000, help="in the whole base")
    parser.add_argument("--clients", type=int, default=50_000, help="clients they are about")
    parser.add_argument("--client-activities", type=int, default=10_000, help="of the big client")
    parser.add_argument("--emails", type=int, default=2_000, help="of those, e-mails")
    parser.add_argument("--runs", type=int, default=50, help="timed requests per client")


def run(
    *, activities: int, clients: int, client_activities: int, emails: int, runs: int, keepdb: bool
) -> dict[str, Any]:
    from flows.simulation import ensure_staff

    require_postgresql()
    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = f"test_{connection.settings_dict['NAME']}_timeline"
    with scratch_database(keep=keepdb):
        staff = ensure_staff("bench_", STAFF)
        authors = [user.pk for users in staff.values() for user in users]
        if keepdb and Activity.objects.exists():  # filled by an earlier --keepdb run
            small, big = Client.objects.order_by("-pk").values_list("pk", flat=True)[:2]
        else:
            big, small = _fill(
                activities=activities,
                clients=clients,
                client_activities=client_activities,
                emails=emails,
                authors=authors,
            )
        api = APIClient()
        api.force_authenticate(staff["team_lead"][0])
        figures: dict[str, Any] = {"database": "postgresql"}
        for name, client_id in (("", big), ("_small", small)):
            url = f"/api/clients/{client_id}/timeline/"
            assert api.get(url).status_code == 200  # warm-up: plans, caches
            both = [timed_cpu(lambda url=url: api.get(url)) for _ in range(runs)]
            seconds = [wall for wall, _cpu in both]
            figures[f"cpu_ms{name}"] = round(median([cpu for _wall, cpu in both]) * 1000, 2)
            with counting_queries() as counter:
                response = api.get(url)
            figures[f"first_page_ms{name}"] = round(median(seconds) * 1000, 2)
            figures[f"p95_ms{name}"] = round(percentile(seconds, 0.95) * 1000, 2)
            figures[f"queries{name}"] = len(counter)
            figures[f"entries{name}"] = len(response.json()["results"])
        figures["load_average"] = round(os.getloadavg()[0], 1)
        figures["activities"] = Activity.objects.count()
        figures["client_activities"] = Activity.objects.filter(client_id=big).count()
        figures["client_emails"] = Activity.objects.filter(client_id=big, kind="email").count()
        figures["small_client_activities"] = Activity.objects.filter(client_id=small).count()
    return figures


def _fill(
    *, activities: int, clients: int, client_activities: int, emails: int, authors: list[int]
) -> tuple[int, int]:
    """The base; returns the big client's id and the small one's."""
    first = next_id(Client)
    age = f"(now() - make_interval(secs => ((g.n::bigint * 7919) %% {TWO_YEARS})::int))"
    insert_select(
        Client,
        SERIES,
        {"id": "g.n", "name": "'Company ' || g.n", "status": "'customer'", "created": age},
        [first, first + clients + 1],
    )
    big, small = first + clients, first + clients + 1
    author = ("(%s::int[])[1 + g.n %% cardinality(%s::int[])]", [authors, authors])
    others = activities - client_activities - 10
    common = {
        "kind": KINDS,
        "direction": DIRECTIONS,
        "source": "'person'",
        "author_id": author,
        "occurred": age,
        "created": age,
        "text": "'Spoke about the order: twenty pumps, delivery in spring. ' || g.n",
        "subject": "''",
        "outcome": "''",
        "counterpart": "'+7 900 555 12 34'",
        "next_step": "''",
    }
    insert_select(
        Activity, SERIES, {**common, "client_id": (f"{first} + g.n %% %s", [clients])}, [1, others]
    )
    insert_select(
        Activity,
        SERIES,
        {**common, "client_id": ("%s", [big])},
        [1, client_activities - emails],
    )
    insert_select(Activity, SERIES, {**common, "client_id": ("%s", [small])}, [1, 10])
    mail_first = next_id(MailMessage)
    insert_select(
        MailMessage,
        SERIES,
        {
            "id": "g.n",
            "message_id": "'<bench-' || g.n || '@volga.example>'",
            "thread_key": "'<bench-' || (g.n / 5) || '@volga.example>'",
            "in_reply_to": "''",
            "subject": "'Счёт на оплату №' || g.n",
            "from_address": "'buyer@volga.example'",
            "from_name": "'Иван Петров'",
            "to_addresses": "'[\"sales@salesflow.test\"]'::jsonb",
            "cc_addresses": "'[]'::jsonb",
            "sent": age,
            "direction": "'in'",
            "text_body": "repeat('Здравствуйте! Высылаю счёт и спецификацию. ', 40)",
            "html_body": "''",
            "size": "4000",
            "attachment_count": "g.n %% 3",
            "problems": "''",
            "source": "'bench'",
            "created": age,
        },
        [mail_first, mail_first + emails - 1],
    )
    insert_select(
        Activity,
        SERIES,
        {
            **common,
            "kind": "'email'",
            "direction": "'in'",
            "source": "'mailbox'",
            "author_id": "NULL",
            "client_id": ("%s", [big]),
            "mail_id": "g.n",
            "subject": "'Счёт на оплату №' || g.n",
            "text": "''",
            "counterpart": "'buyer@volga.example'",
        },
        [mail_first, mail_first + emails - 1],
    )
    reset_sequences(Client, Activity, MailMessage)
    analyze()
    return big, small
