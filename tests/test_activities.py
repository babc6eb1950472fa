"""The company's memory: logging from the stage page, the client timeline (its order, its
kinds, its masking, its cursor), calls from the exchange, handover reasons, the triage
list, next steps that become reminders, and the deals left without one."""

from __future__ import annotations

import html
import json
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.activities.calls import signature_for
from salesflow.activities.capture import mail_capture
from salesflow.activities.models import Activity, CallIntegration, ExchangeCall, Reminder
from salesflow.activities.reminders import reminders_run
from salesflow.activities.selectors import deals_without_next_step
from salesflow.activities.services import activity_log, activity_match_client
from salesflow.audit.models import AuditEvent
from salesflow.clients.services import contact_reveal
from salesflow.conveyor.services import stage_complete
from salesflow.exceptions import NotPermitted, SalesflowError
from salesflow.queues import claims, moves
from salesflow.queues.models import Absence
from salesflow.roles import RoleFileError

from .conftest import open_task
from .factories import ClientFactory, ContactFactory, UserFactory
from .mailtools import russian_mail

pytestmark = pytest.mark.django_db

SECRET = "s" * 40


def page_as(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def api_as(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def stage_url(task: Task) -> str:
    get_resolver().url_patterns  # noqa: B018 - viewflow names its URLs as the URLconf loads
    return task.flow_task.reverse("execute", args=[task.process_id, task.pk])


@pytest.fixture
def held(staff, new_lead):
    """A deal whose qualify task hunter1 holds."""
    lead = new_lead()
    task = claims.task_claim(task=open_task(lead), user=staff["hunter"][0])
    return lead, task


# --- the quick log on the stage page ----------------------------------------------------------


def test_the_holder_logs_a_call_with_a_next_step_from_the_stage_page(staff, held):
    lead, task = held
    hunter = staff["hunter"][0]
    page = page_as(hunter)
    assert "Record a call or a meeting" in page.get(stage_url(task)).content.decode()
    tomorrow = timezone.localdate() + timedelta(days=1)

    response = page.post(
        f"/activities/tasks/{task.pk}/log/",
        {"kind": "call", "text": "Agreed to send the price list", "next_step_date": tomorrow},
    )

    assert response.status_code == 302 and response["Location"] == stage_url(task)
    activity = Activity.objects.get()
    assert (activity.kind, activity.direction, activity.author) == ("call", "out", hunter)
    assert (activity.client_id, activity.lead, activity.task_id) == (lead.client_id, lead, task.pk)
    reminder = Reminder.objects.get()
    assert (reminder.due, reminder.activity, reminder.process) == (tomorrow, activity, None)
    shown = page.get(stage_url(task)).content.decode()
    assert "Agreed to send the price list" in shown  # the panel's latest history


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"kind": "call", "text": "  "}, "This field is required."),
        ({"kind": "visit", "text": "went there"}, "Say whether it was a call or a meeting."),
        ({"kind": "call", "text": "x", "next_step_date": "2001-01-01"}, "not for 2001-01-01"),
    ],
)
def test_a_bad_quick_log_says_why_and_records_nothing(staff, held, post, message):
    _lead, task = held
    page = page_as(staff["hunter"][0])
    response = page.post(f"/activities/tasks/{task.pk}/log/", post, follow=True)
    assert message in response.content.decode()
    assert not Activity.objects.exists() and not Reminder.objects.exists()


def test_someone_elses_task_cannot_be_logged_on(staff, held):
    _lead, task = held
    response = page_as(staff["team_lead"][0]).post(
        f"/activities/tasks/{task.pk}/log/", {"kind": "call", "text": "I called them"}
    )
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == ["Log activities on a task you are working on."]
    assert not Activity.objects.exists()


def test_only_task_holders_and_team_leads_add_to_a_clients_history(staff, held):
    lead, _task = held
    client = lead.client
    with pytest.raises(NotPermitted, match="holding one of this client's tasks"):
        activity_log(user=staff["hunter"][1], client=client, kind="note", text="met at a fair")
    assert activity_log(user=staff["team_lead"][0], client=client, kind="note", text="big buyer")
    assert Activity.objects.count() == 1


# --- the timeline -------------------------------------------------------------------------------


@pytest.fixture
def history(staff, held, driver):
    """hunter1 holds the deal; a call, an e-mail-less note, a reveal by a team lead."""
    lead, task = held
    hunter, lead_person = staff["hunter"][0], staff["team_lead"][0]
    contact = lead.contact
    with time_machine.travel(timezone.now() - timedelta(hours=3)):
        activity_log(
            user=hunter, client=lead.client, kind="call", direction="in", contact=contact,
            text="Asked for twenty pumps", outcome="price list requested",
        )  # fmt: skip
    Activity.objects.filter(kind="call").update(counterpart=contact.phone)
    with time_machine.travel(timezone.now() - timedelta(hours=2)):
        contact_reveal(contact_id=contact.pk, user=lead_person)
    with time_machine.travel(timezone.now() - timedelta(hours=1)):
        activity_log(user=lead_person, client=lead.client, kind="note", text="Pays late")
    return lead


def timeline_as(user, client_id, query="") -> dict:
    response = api_as(user).get(f"/api/clients/{client_id}/timeline/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_holder_reads_everything_in_time_order(staff, history):
    body = timeline_as(staff["hunter"][0], history.client_id)
    kinds = [entry["kind"] for entry in body["results"]]
    # newest first: taken just now, the deal a moment before, the note and the call hours
    # ago; the team lead's reveal is not for a hunter's eyes
    assert kinds == ["stage", "deal", "note", "call"]
    call = body["results"][3]
    assert (call["title"], call["text"], call["outcome"]) == (
        "Incoming call",
        "Asked for twenty pumps",
        "price list requested",
    )
    # what was said, in full; the number masked even for the holder: a contact is revealed
    # on the card, one audited reveal at a time, never read off the timeline
    assert call["counterpart"] != history.contact.phone
    assert call["counterpart"].startswith("+7 ••• •••-••-")
    assert (body["results"][0]["title"], body["results"][0]["who"]) == ("Qualify: taken", "hunter1")


def test_a_team_lead_reads_it_masked_and_sees_the_reveal(staff, history):
    body = timeline_as(staff["team_lead"][0], history.client_id)
    by_kind = {entry["kind"]: entry for entry in body["results"]}
    assert by_kind["call"]["text"] == "Asked for twenty pumps"
    assert by_kind["call"]["counterpart"].startswith("+7 ••• •••-••-")
    assert by_kind["access"]["title"] == "A contact revealed"
    assert by_kind["access"]["text"] == "e-mail, phone"


def test_anyone_else_sees_that_something_happened_and_when(staff, history):
    body = timeline_as(staff["hunter"][1], history.client_id)
    assert [e["kind"] for e in body["results"]] == ["stage", "deal", "note", "call"]
    call = body["results"][3]
    assert call["hidden"] and call["text"] == call["counterpart"] == call["outcome"] == ""
    assert call["at"] and call["title"] == "Incoming call"
    page = page_as(staff["hunter"][1]).get(f"/activities/clients/{history.client_id}/")
    assert "Asked for twenty pumps" not in page.content.decode()
    assert "What was said is for the people working on this client." in page.content.decode()


def test_the_timeline_is_filtered_by_kind_and_refuses_an_unknown_kind(staff, history):
    body = timeline_as(staff["hunter"][0], history.client_id, "?kind=call,deal")
    assert [e["kind"] for e in body["results"]] == ["deal", "call"]
    response = api_as(staff["hunter"][0]).get(f"/api/clients/{history.client_id}/timeline/?kind=x")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("There is no kind “x” on a timeline")


def test_the_cursor_walks_the_whole_history_once_even_through_equal_times(staff, held):
    lead, _task = held
    hunter = staff["hunter"][0]
    moment = timezone.now() - timedelta(days=1)
    for n in range(12):  # twelve at one instant, then some apart
        activity_log(user=hunter, client=lead.client, kind="note", text=f"n{n}", occurred=moment)
    for n in range(5):
        activity_log(user=hunter, client=lead.client, kind="note", text=f"m{n}",
                     occurred=moment - timedelta(minutes=n + 1))  # fmt: skip
    seen, url = [], f"/api/clients/{lead.client_id}/timeline/?kind=note&limit=5"
    api = api_as(hunter)
    while url:
        body = api.get(url).json()
        seen += [entry["text"] for entry in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted([f"n{n}" for n in range(12)] + [f"m{n}" for n in range(5)])
    assert len(seen) == 17


def test_a_page_costs_the_same_queries_for_a_short_and_a_long_history(staff, held):
    lead, _task = held
    hunter = staff["hunter"][0]

    def first_page_queries() -> int:
        api = api_as(hunter)
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/api/clients/{lead.client_id}/timeline/").status_code == 200
        return len(queries)

    for n in range(3):
        activity_log(user=hunter, client=lead.client, kind="note", text=f"a{n}")
    short = first_page_queries()
    for n in range(60):
        activity_log(user=staff["team_lead"][n % 2], client=lead.client, kind="call", text=f"b{n}")
    assert first_page_queries() == short


def test_a_merged_clients_history_is_on_the_surviving_clients_timeline(staff, held):
    lead, _task = held
    old = ClientFactory(name="Old name")
    activity_log(user=staff["team_lead"][0], client=old, kind="note", text="from the old card")
    old.merged_into = lead.client
    old.save(update_fields=["merged_into"])
    texts = [e["text"] for e in timeline_as(staff["hunter"][0], lead.client_id)["results"]]
    assert "from the old card" in texts
    response = page_as(staff["hunter"][0]).get(f"/activities/clients/{old.pk}/")
    assert response["Location"] == f"/activities/clients/{lead.client_id}/"


# --- calls from the telephone exchange ------------------------------------------------------------


@pytest.fixture
def exchange():
    return CallIntegration.objects.create(name="asterisk", secret=SECRET)


def report(body: dict, *, secret: str = SECRET, at: int | None = None, name: str = "asterisk"):
    raw = json.dumps(body).encode()
    stamp = str(at if at is not None else int(time.time()))
    headers = {
        "HTTP_X_SALESFLOW_EXCHANGE": name,
        "HTTP_X_SALESFLOW_TIMESTAMP": stamp,
        "HTTP_X_SALESFLOW_SIGNATURE": signature_for(secret=secret, timestamp=stamp, body=raw),
    }
    return APIClient().post("/api/calls/", raw, content_type="application/json", **headers)


CALL = {
    "call_id": "1699-42", "direction": "in", "number": "8 (900) 555-12-34",
    "started": "2026-03-02T10:00:00+03:00", "duration": 125, "status": "answered",
    "recording_url": "https://pbx.example/rec/1699-42.mp3", "agent": "hunter1",
}  # fmt: skip


def test_a_signed_call_is_recorded_once_on_the_clients_timeline(staff, exchange):
    contact = ContactFactory(phone="+7 900 555 12 34")
    first = report(CALL)
    again = report(CALL)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    activity = Activity.objects.get()
    assert (activity.client, activity.contact, activity.author) == (
        contact.client,
        contact,
        staff["hunter"][0],
    )
    assert (activity.duration, activity.direction, activity.source) == (125, "in", "exchange")
    assert ExchangeCall.objects.get().recording_url == CALL["recording_url"]
    body = timeline_as(staff["team_lead"][0], contact.client_id, "?kind=call")
    assert body["results"][0]["outcome"] == "answered"
    assert body["results"][0]["recording_url"] == CALL["recording_url"]


def test_a_call_from_an_unknown_number_goes_to_the_triage_list(exchange):
    assert report({**CALL, "number": "+7 495 000-00-01"}).json()["client"] is None
    assert Activity.objects.get().client is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"secret": "t" * 40}, "The signature does not match"),
        ({"at": int(time.time()) - 3600}, "more than 300 is refused as a possible replay"),
        ({"name": "nobody"}, "No active telephone exchange is registered as “nobody”."),
    ],
)
def test_a_call_that_is_not_provably_the_exchanges_is_refused(exchange, kwargs, message):
    response = report(CALL, **kwargs)
    assert response.status_code == 401 and message in response.json()["detail"]
    assert not Activity.objects.exists() and not ExchangeCall.objects.exists()


def test_a_malformed_call_report_names_its_bad_fields(exchange):
    response = report({**CALL, "direction": "sideways", "duration": -1, "started": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"direction", "duration", "started"}
    assert not Activity.objects.exists()


# --- the triage list ---------------------------------------------------------------------------


def test_a_team_lead_puts_an_unmatched_call_on_a_clients_timeline(staff, exchange):
    report({**CALL, "number": "+7 495 000-00-01"})
    client = ClientFactory(name="Oka Valves")
    activity = Activity.objects.get()
    with pytest.raises(NotPermitted):
        activity_match_client(activity_id=activity.pk, client=client, by=staff["hunter"][0])
    page = page_as(staff["team_lead"][0])
    assert "+7 495 000-00-01" in page.get("/activities/triage/").content.decode()
    page.post(f"/activities/triage/{activity.pk}/match/", {"client": "oka valves"})
    activity.refresh_from_db()
    assert (activity.client, activity.triaged_by) == (client, staff["team_lead"][0])
    with pytest.raises(SalesflowError, match="already on the timeline of Oka Valves"):
        activity_match_client(
            activity_id=activity.pk, client=ClientFactory(), by=staff["team_lead"][0]
        )


# --- handover: why a task moved ---------------------------------------------------------------


def test_the_receiver_reads_why_the_task_was_moved_on_the_page_and_in_the_api(staff, held):
    _lead, task = held
    receiver = staff["hunter"][1]
    moves.task_reassign(
        task=task, by=staff["team_lead"][0], to=receiver, reason="Anna is on holiday until Monday"
    )
    page = page_as(receiver).get(stage_url(task)).content.decode()
    assert "Why this task changed hands" in page and "Anna is on holiday until Monday" in page
    assert "team_lead1 moved it from hunter1 to hunter2" in page
    handover = api_as(receiver).get(f"/api/tasks/{task.pk}/").json()["handover"]
    assert handover["reason"] == "Anna is on holiday until Monday"
    assert (handover["from_person"], handover["to_person"]) == ("hunter1", "hunter2")


# --- next steps become reminders --------------------------------------------------------------


def reminder_task(reminder: Reminder) -> Task:
    return Task.objects.get(process_id=reminder.process_id, flow_task_type="HUMAN")


def test_a_next_step_becomes_a_task_for_the_deals_holder_on_its_day(staff, held):
    lead, _task = held
    hunter = staff["hunter"][0]
    day = timezone.localdate() + timedelta(days=2)
    activity_log(user=hunter, client=lead.client, kind="call", text="call back", lead=lead,
                 next_step="send the offer", next_step_date=day)  # fmt: skip
    assert reminders_run()["started"] == 0  # not its day yet

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert reminders_run(today=day) == {"scheduled_from_notes": 0, "started": 1, "to_holder": 1}
        assert reminders_run(today=day)["started"] == 0  # once
    reminder = Reminder.objects.get()
    task = reminder_task(reminder)
    assert (task.owner, task.status, task.flow_task.name) == (hunter, STATUS.ASSIGNED, "remind")
    assert task.data["sf_due"].startswith(day.isoformat()) or task.data["sf_due"] > day.isoformat()
    assert AuditEvent.objects.filter(task=task, action="assign", to_user=hunter).exists()


@pytest.mark.parametrize("gone", ["away", "left"])
def test_a_next_step_of_someone_away_or_gone_waits_in_the_account_pool(staff, held, gone):
    lead, _task = held
    hunter = staff["hunter"][0]
    today = timezone.localdate()
    activity_log(user=hunter, client=lead.client, kind="call", text="call back",
                 next_step_date=today)  # fmt: skip
    if gone == "away":
        Absence.objects.create(user=hunter, starts=today, ends=today)
    else:
        hunter.is_active = False
        hunter.save(update_fields=["is_active"])
    assert reminders_run(today=today)["to_holder"] == 0
    task = reminder_task(Reminder.objects.get())
    assert (task.owner, task.status) == (None, STATUS.NEW)


def test_a_handoff_notes_next_step_is_scheduled_once_and_started_on_its_day(
    staff, new_lead, driver
):
    lead = new_lead()
    account = driver().advance_to(lead.process_id, "prepare_order")  # hunter1's note: +1 day
    assert reminders_run()["scheduled_from_notes"] == 1
    assert reminders_run()["scheduled_from_notes"] == 0
    reminder = Reminder.objects.get()
    assert reminder.handoff_note is not None and reminder.lead == lead
    result = reminders_run(today=reminder.due)
    task = reminder_task(Reminder.objects.get())
    assert result["started"] == 1
    assert task.owner_id == account.owner_id or task.owner_id is None


def test_doing_a_reminder_records_what_happened_and_schedules_the_next(staff, held):
    lead, _task = held
    hunter = staff["hunter"][0]
    today = timezone.localdate()
    activity_log(user=hunter, client=lead.client, kind="note", text="promised a call",
                 next_step_date=today)  # fmt: skip
    reminders_run(today=today)
    task = reminder_task(Reminder.objects.get())
    page = page_as(hunter).get(stage_url(task)).content.decode()
    assert "promised a call" in page
    stage_complete(
        task=task,
        user=hunter,
        data={"kind": "call", "text": "Called: they want a visit",
              "next_step_date": (today + timedelta(days=3)).isoformat()},
    )  # fmt: skip
    assert Activity.objects.filter(text="Called: they want a visit", task=task).exists()
    assert Reminder.objects.filter(process__isnull=True).count() == 1


# --- deals without a next step -------------------------------------------------------------------


def test_a_deal_quiet_for_longer_than_its_role_allows_is_listed(staff, held, new_lead):
    lead, task = held
    quiet = deals_without_next_step(now=timezone.now() + timedelta(days=4))  # hunter: 3d
    assert [deal.task.pk for deal in quiet if deal.task.process_id == lead.process_id] == [task.pk]
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        page = page_as(staff["team_lead"][0]).get("/activities/without-next-step/")
    assert lead.client.name in page.content.decode()
    activity_log(user=staff["hunter"][0], client=lead.client, kind="call", text="spoke",
                 next_step_date=timezone.localdate() + timedelta(days=9))  # fmt: skip
    later = deals_without_next_step(now=timezone.now() + timedelta(days=4))
    assert task.pk not in [deal.task.pk for deal in later]
    assert page_as(staff["hunter"][0]).get("/activities/without-next-step/").status_code == 403


def test_a_bad_next_step_limit_in_a_role_file_names_the_file_and_the_key(tmp_path):
    from salesflow.roles import read_role_file

    path = tmp_path / "hunter.toml"
    path.write_text(
        'code = "hunter"\nnext_step_within = "soon"\n[title]\nen = "Hunter"\nru = "Охотник"\n'
    )
    with pytest.raises(RoleFileError, match=r"hunter.toml: next_step_within: 'soon' is not a"):
        read_role_file(path)


# --- who may open what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "hunter", "team_lead"])
def test_the_team_leads_lists_are_theirs(staff, role):
    browser = Client() if role == "anonymous" else page_as(staff[role][0])
    for url in ("/activities/triage/", "/activities/without-next-step/"):
        response = browser.get(url)
        if role == "team_lead":
            assert response.status_code == 200
        elif role == "anonymous":
            assert response.status_code == 302 and "login" in response["Location"]
        else:
            assert response.status_code == 403


def test_nobody_signed_in_reads_a_timeline_or_reports_a_call_without_a_signature(history):
    assert APIClient().get(f"/api/clients/{history.client_id}/timeline/").status_code == 401
    response = APIClient().post("/api/calls/", CALL, format="json")
    assert response.status_code == 401
    assert "needs the headers X-Salesflow-Exchange" in response.json()["detail"]


@pytest.mark.parametrize("role", ["anonymous", "hunter", "holder", "team_lead", "admin"])
def test_adding_to_a_clients_history_and_reading_its_mail_by_role(staff, held, role, settings):
    """Saleor's rule: each protected action by nobody, a wrong role and the right ones;
    the wrong ones change nothing."""
    lead, _task = held
    settings.SALESFLOW_MAIL_COMPANY_DOMAINS = ["salesflow.test"]
    mail_id = mail_capture(raw=russian_mail(sender=lead.contact.email), source="t").mail_id
    people = {
        "hunter": staff["hunter"][1],
        "holder": staff["hunter"][0],
        "team_lead": staff["team_lead"][0],
        "admin": UserFactory(username="boss", is_superuser=True, is_staff=True),
    }
    browser = Client() if role == "anonymous" else page_as(people[role])
    before = Activity.objects.count()
    logged = browser.post(
        f"/activities/clients/{lead.client_id}/", {"kind": "note", "text": "pays in 30 days"}
    )
    read = browser.get(f"/activities/mail/{mail_id}/")
    if role == "anonymous":
        assert logged.status_code == read.status_code == 302
        assert "login" in logged["Location"]
        assert Activity.objects.count() == before
    elif role == "hunter":
        assert logged.status_code == 403 and read.status_code == 403
        assert "holding one of this client's tasks" in html.unescape(logged.content.decode())
        assert Activity.objects.count() == before
    else:
        assert logged.status_code == 302 and read.status_code == 200
        assert Activity.objects.count() == before + 1
        assert "Здравствуйте! Высылаю счёт" in read.content.decode()
