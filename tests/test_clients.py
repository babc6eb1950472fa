"""The client base belongs to the company: contacts masked for whoever may not see them on
every page and API answer, reveals and exports audited, lapsed customers called back to
the account pool once per reorder cycle."""

from __future__ import annotations

import re
from collections import deque
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.test import Client as Browser
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient
from viewflow.workflow.models import Process
from viewflow.workflow.status import PROCESS

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Client, Lead, Order, Reactivation
from salesflow.clients.selectors import lapsed_clients, reorder_cycle
from salesflow.intake.services import LeadData, lead_receive, reactivation_run
from salesflow.intake.tasks import reactivate_lapsed_clients
from salesflow.queues import claims
from salesflow.queues.terms import Priority

from .conftest import ROLES, open_task
from .factories import ClientFactory, ContactFactory, UserFactory
from .test_queues import terms

PHONE, PHONE_SHAPES = "+7 900 555 12 34", ("+7 900 555 12 34", "79005551234", "9005551234")
EMAIL = "secret.buyer@secret.example"


def signed_in(user) -> Browser:
    browser = Browser()
    assert browser.login(username=user.username, password="pw")
    return browser


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def leaks(body: str) -> bool:
    return EMAIL in body or any(shape in body for shape in PHONE_SHAPES)


@pytest.fixture
def secret(staff, new_lead):
    """A client whose lead hunter1 is working on, another deal of it at the account stage,
    and a probable duplicate of it waiting for a team lead."""
    client = ClientFactory(name="Secret Works", tax_number="7709876543")
    ContactFactory(client=client, name="Buyer", phone=PHONE, email=EMAIL)
    lead = new_lead(client=client)
    claims.task_claim(task=open_task(lead), user=staff["hunter"][0])
    lead_receive(data=LeadData(company="Secret Works Ltd", phone="+7 900 000 99 99"), source="api")
    return client


# --- masking: a walk through every page and API answer, for every role -------------------

SKIP = re.compile(r"^/(admin|static|i18n|accounts/logout)|/(assign|unassign|cancel|undo)/|export")


def walk(browser, starts: list[str], limit: int = 250) -> dict[str, str]:
    """Every same-site page reachable by links (and API ids) from ``starts``: url -> body."""
    seen: dict[str, str] = {}
    queue = deque(starts)
    while queue and len(seen) < limit:
        url = queue.popleft()
        if url in seen or SKIP.search(url):
            continue
        response = browser.get(url, HTTP_ACCEPT="text/html,application/json")
        body = response.content.decode(errors="replace")
        seen[url] = body
        if response.status_code in (301, 302) and response["Location"].startswith("/"):
            queue.append(response["Location"])  # e.g. /work/ -> the person's first pool
        if response.status_code != 200:
            continue
        for link in re.findall(r'href="(/[^"#]*)"', body):
            queue.append(link.replace("&amp;", "&"))
        for found in re.findall(r'"id":\s*(\d+)', body) if url.startswith("/api/") else ():
            if url.startswith("/api/clients/"):
                queue.append(f"/api/clients/{found}/")
    return seen


def starts_for(client: Client) -> list[str]:
    tasks = [t.pk for lead in client.leads.all() if (t := open_task(lead))]
    return [
        "/",
        "/conveyor/",
        "/clients/",
        f"/clients/{client.pk}/",
        "/clients/duplicates/",
        "/api/clients/",
        f"/api/clients/{client.pk}/",
        "/api/clients/?search=secret",
        *[f"/api/tasks/{pk}/" for pk in tasks],
        # the pools, the inboxes, the console and the report (each role's own and others')
        *[f"/work/pools/{role}/" for role in ROLES],
        *[f"/work/pools/{role}/mine/" for role in ROLES],
        "/work/console/",
        "/reports/daily/",
        *[f"/api/tasks/pool/?role={role}" for role in ROLES],
        "/api/tasks/inbox/",
    ]


@pytest.mark.parametrize(
    "role", ["hunter", "account_manager", "document_clerk", "expeditor", "team_lead", None]
)
def test_no_page_or_api_answer_shows_a_contact_to_someone_without_its_task(
    secret, staff, role, new_lead
):
    from salesflow.reports.services import daily_report_build

    with time_machine.travel(timezone.now() - timedelta(days=2), tick=True):
        new_lead(client=secret)  # an older deal of the client: yesterday's report has it
    daily_report_build(day=timezone.localdate() - timedelta(days=1))
    user = staff[role][1] if role else UserFactory(username="norole")
    browser = signed_in(user)
    pages = walk(browser, starts_for(secret))
    api = walk(api_as(user), [u for u in starts_for(secret) if u.startswith("/api/")])

    assert len(pages) > 15  # the walk really went through the site
    leaking = [url for url, body in {**pages, **api}.items() if leaks(body)]
    assert leaking == []


def test_the_person_holding_the_task_sees_the_contacts_on_request_and_lists_mask_them(
    secret, staff
):
    hunter = staff["hunter"][0]
    task = open_task(secret.leads.order_by("pk").first())
    browser = signed_in(hunter)

    stage = browser.get(f"/conveyor/{task.process_id}/qualify/{task.pk}/execute/")
    assert stage.status_code == 200 and not leaks(stage.content.decode())
    assert "Show (recorded)" in stage.content.decode()
    assert not leaks(browser.get(f"/clients/{secret.pk}/").content.decode())
    api = api_as(hunter)
    contact = api.get(f"/api/tasks/{task.pk}/").json()["contacts"][0]
    assert contact["phone"] != PHONE and contact["can_reveal"]
    shown = api.post(f"/api/contacts/{contact['id']}/reveal/", {"task": task.pk}, format="json")
    assert shown.json()["phone"] == PHONE and shown.json()["email"] == EMAIL
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert (event.actor, event.task_id, event.client_id) == (hunter, task.pk, secret.pk)
    # lists mask for everyone: a list is a copy of the base
    for url in (
        "/clients/",
        "/work/pools/hunter/",
        "/work/pools/hunter/mine/",
        "/clients/?q=secret",
    ):
        assert not leaks(browser.get(url).content.decode()), url
    assert not leaks(api.get("/api/clients/").content.decode())


def test_legal_details_follow_the_roles_client_fields(secret, staff):
    clerk = api_as(staff["document_clerk"][0]).get(f"/api/clients/{secret.pk}/").json()
    hunter = api_as(staff["hunter"][1]).get(f"/api/clients/{secret.pk}/").json()
    assert clerk["legal"]["tax_number"] == "7709876543" and not clerk["legal_masked"]
    assert hunter["legal"]["tax_number"] == "•••" and hunter["legal_masked"]


# --- reveal --------------------------------------------------------------------------------


def test_a_team_lead_reveals_a_contact_and_it_is_recorded(secret, staff):
    lead = staff["team_lead"][0]
    contact = secret.contacts.get(name="Buyer")
    browser = signed_in(lead)
    page = browser.get(f"/clients/{secret.pk}/").content.decode()
    assert "Show (recorded)" in page and not leaks(page)

    revealed = browser.post(f"/clients/{secret.pk}/contacts/{contact.pk}/reveal/")

    assert revealed.status_code == 200 and revealed["Cache-Control"] == "no-store"
    assert PHONE in revealed.content.decode() and EMAIL in revealed.content.decode()
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert event.actor == lead and event.client == secret
    assert event.data == {"contact": contact.pk, "fields": ["email", "phone"]}


@pytest.mark.parametrize("role", ["hunter", "account_manager", "expeditor"])
def test_a_reveal_is_refused_to_who_neither_holds_a_task_nor_has_the_role(secret, staff, role):
    contact = secret.contacts.get(name="Buyer")
    user = staff[role][1]
    page = signed_in(user).post(f"/clients/{secret.pk}/contacts/{contact.pk}/reveal/")
    answer = api_as(user).post(f"/api/contacts/{contact.pk}/reveal/")

    assert page.status_code == 403 and not leaks(page.content.decode())
    assert answer.status_code == 403
    assert "holding one of its tasks" in answer.json()["detail"]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).exists()


def test_an_anonymous_reveal_is_sent_to_sign_in(secret):
    contact = secret.contacts.get(name="Buyer")
    response = Browser().post(f"/clients/{secret.pk}/contacts/{contact.pk}/reveal/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert APIClient().post(f"/api/contacts/{contact.pk}/reveal/").status_code == 401
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).exists()


def test_the_api_reveal_answers_with_the_contact_in_full(secret, staff):
    contact = secret.contacts.get(name="Buyer")
    answer = api_as(staff["team_lead"][0]).post(f"/api/contacts/{contact.pk}/reveal/")
    assert answer.status_code == 200
    assert answer.json()["phone"] == PHONE and answer.json()["email"] == EMAIL
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REVEAL).count() == 1


# --- export --------------------------------------------------------------------------------


@pytest.fixture
def admin_user(db):
    return UserFactory(username="boss", is_superuser=True, is_staff=True)


@pytest.mark.parametrize("who", ["anonymous", "team_lead", "admin"])
def test_exporting_the_base_is_a_permission_of_its_own_and_recorded(secret, staff, who, admin_user):
    browser = {
        "anonymous": Browser(),
        "team_lead": signed_in(staff["team_lead"][0]),
        "admin": signed_in(admin_user),
    }[who]
    response = browser.post("/clients/export/")
    if who == "admin":
        assert response.status_code == 200
        body = b"".join(response.streaming_content).decode()
        assert body.splitlines()[0].startswith("client_id,client,status")
        assert PHONE in body and EMAIL in body
        event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
        assert event.actor == admin_user and event.data == {"clients": 2, "format": "csv"}
    else:
        assert response.status_code in (302, 403)
        assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_the_api_export_needs_the_permission_too(secret, staff, admin_user):
    refused = api_as(staff["team_lead"][0]).post("/api/clients/export/")
    assert refused.status_code == 403 and "export permission" in refused.json()["detail"]
    assert api_as(admin_user).get("/api/clients/export/").status_code == 405  # a POST only
    allowed = api_as(admin_user).post("/api/clients/export/")
    assert allowed.status_code == 200 and allowed["Content-Type"].startswith("text/csv")
    assert EMAIL in b"".join(allowed.streaming_content).decode()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


def test_staff_without_the_export_permission_see_masked_contacts_in_the_admin(secret, db):
    clerk = UserFactory(username="office", is_staff=True)
    from django.contrib.auth.models import Permission

    clerk.user_permissions.add(Permission.objects.get(codename="view_client"))
    body = signed_in(clerk).get(f"/admin/clients/client/{secret.pk}/change/").content.decode()
    assert "Secret Works" in body and not leaks(body)


# --- the client pages ----------------------------------------------------------------------


def test_the_client_list_finds_by_name_key_and_tax_number(secret, staff):
    browser = signed_in(staff["hunter"][1])
    assert "Secret Works" in browser.get("/clients/?q=«secret works»").content.decode()
    assert "Secret Works" in browser.get("/clients/?q=77098").content.decode()
    assert "Secret Works" not in browser.get("/clients/?q=volga").content.decode()


def test_a_merged_clients_page_leads_to_the_client_it_became(secret, staff):
    ghost = ClientFactory(name="Old Secret", merged_into=secret)
    response = signed_in(staff["hunter"][1]).get(f"/clients/{ghost.pk}/")
    assert response["Location"] == f"/clients/{secret.pk}/"
    assert api_as(staff["hunter"][1]).get(f"/api/clients/{ghost.pk}/").status_code == 404


# --- reactivation --------------------------------------------------------------------------

TODAY = date(2026, 6, 10)


def at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time().replace(hour=12)))


def bought(client: Client, *deliveries: tuple[date, str]) -> None:
    """Past deals of ``client``, delivered on the given days for the given amounts."""
    for day, amount in deliveries:
        lead = Lead.objects.create(client=client, source=Lead.Source.MANUAL, status="qualified")
        Order.objects.create(lead=lead, amount=Decimal(amount), delivered=at(day))
    client.status = Client.Status.CUSTOMER
    client.save(update_fields=["status"])


@pytest.mark.parametrize(
    "deliveries,cycle",
    [
        ([date(2026, 1, 1)], 90),  # one delivery: the default
        ([date(2026, 1, 1), date(2026, 1, 31), date(2026, 3, 2), date(2026, 6, 1)], 30),
        ([date(2026, 1, 1), date(2026, 1, 2)], 7),  # at least a week
        ([date(2020, 1, 1), date(2024, 1, 1)], 365),  # at most a year
    ],
)
def test_the_reorder_cycle_is_the_median_gap_between_deliveries(deliveries, cycle, settings):
    settings.SALESFLOW_REORDER_CYCLE_DAYS = 90
    assert reorder_cycle(deliveries) == cycle


@pytest.fixture
def regular(db):
    """Bought every 30 days, last on May 1st: due again on May 31st."""
    client = ClientFactory(name="Regular Buyer")
    ContactFactory(client=client)
    bought(client, (date(2026, 3, 2), "100000"), (date(2026, 4, 1), "100000"),
           (date(2026, 5, 1), "100000"))  # fmt: skip
    return client


@time_machine.travel(at(TODAY), tick=False)
def test_a_lapsed_customer_comes_back_to_the_account_pool_once_per_cycle(regular, staff):
    (lead,) = reactivation_run()

    assert lead.client == regular and lead.source == Lead.Source.REACTIVATION
    task = open_task(lead)
    assert task.flow_task.name == "prepare_order" and task.owner_id is None  # the pool
    assert terms(task).priority == Priority.HIGH
    assert "reorders about every 30 days" in lead.request
    reactivation = Reactivation.objects.get()
    assert (reactivation.due, reactivation.cycle_days) == (date(2026, 5, 31), 30)
    assert reactivation.bought_recently == Decimal("300000.00")

    assert reactivation_run() == []  # the same day again
    with time_machine.travel(at(TODAY + timedelta(days=5)), tick=False):
        assert reactivation_run() == []  # the same cycle, and its deal is open
    # the call came to nothing (the deal was closed); one cycle later: called again
    Process.objects.filter(pk=lead.process_id).update(status=PROCESS.CANCELED)
    with time_machine.travel(at(date(2026, 6, 29)), tick=False):
        assert reactivation_run() == []  # still the cycle that ran out on May 31st
    with time_machine.travel(at(date(2026, 7, 1)), tick=False):
        (again,) = reactivation_run()
    assert again.reactivation.due == date(2026, 6, 30)
    assert Reactivation.objects.count() == 2


@time_machine.travel(at(TODAY), tick=False)
def test_not_yet_due_lost_prospects_and_open_deals_are_left_alone(db, new_lead):
    recent = ClientFactory(name="Recent")
    bought(recent, (date(2026, 5, 1), "10"), (date(2026, 5, 31), "10"))  # due June 30th
    lost = ClientFactory(name="Lost")
    bought(lost, (date(2025, 6, 1), "999999"))  # nothing in 9 months
    ClientFactory(name="Prospect")
    busy = ClientFactory(name="Busy")
    bought(busy, (date(2026, 1, 1), "10"))
    new_lead(client=busy)  # a repeat order already under way

    assert lapsed_clients(today=TODAY) == []
    assert reactivation_run() == []


@time_machine.travel(at(TODAY), tick=False)
def test_the_best_buyers_of_the_last_nine_months_come_first(regular, staff, settings):
    small = ClientFactory(name="Small Buyer")
    bought(small, (date(2026, 2, 1), "5000"))
    big = ClientFactory(name="Big Buyer")
    bought(big, (date(2026, 1, 1), "400000"), (date(2026, 2, 1), "400000"))

    ranked = [c.client_id for c in lapsed_clients(today=TODAY)]
    assert ranked == [big.pk, regular.pk, small.pk]

    settings.SALESFLOW_REACTIVATIONS_PER_RUN = 2
    opened = reactivation_run()
    assert [lead.client_id for lead in opened] == [big.pk, regular.pk]


@time_machine.travel(at(TODAY), tick=False)
def test_the_beat_job_runs_the_reactivation_and_is_scheduled_daily(regular, staff):
    assert reactivate_lapsed_clients.delay().get() == 1
    assert reactivate_lapsed_clients.delay().get() == 0  # idempotent
    job = PeriodicTask.objects.get(name="clients: reactivate lapsed clients")
    assert job.task == "salesflow.clients.tasks.reactivate_lapsed_clients" and job.crontab


@time_machine.travel(at(TODAY), tick=False)
def test_the_database_refuses_a_second_reactivation_for_one_cycle(regular, staff):
    (lead,) = reactivation_run()
    second = Lead.objects.create(client=regular, source=Lead.Source.REACTIVATION)
    with pytest.raises(IntegrityError), transaction.atomic():
        Reactivation.objects.create(
            client=regular, due=date(2026, 5, 31), cycle_days=30,
            last_delivery=date(2026, 5, 1), bought_recently=0, lead=second,
        )  # fmt: skip
    assert Reactivation.objects.count() == 1
