"""Who may do what: every role -- and nobody signed in -- against every protected page and
action, on the pages and in the API, in one table (``ACTIONS``).

Each action says which roles may do it, how its success looks and what it would change.
A role it allows must succeed; any other must be refused -- sent to sign in (pages), 401
(the API), 403, 404, or the page again with the refusal -- and must have changed nothing:
the action's own state is as it was and not one audit event was written (every change
of the engine writes one). ``test_the_table_covers_every_role_and_the_actions_asked_for``
keeps the table honest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.queues import claims
from salesflow.reports.models import Snapshot
from salesflow.reports.services import daily_report_build
from salesflow.watch.models import LeakAlert

from .conftest import open_task
from .factories import ClientFactory, ContactFactory, UserFactory
from .test_http import NOTES, STAGE_DATA, stage_post

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous",
    "hunter",
    "account_manager",
    "document_clerk",
    "expeditor",
    "team_lead",
    "assistant",
    "database_operator",
    "admin",
)
LEADS_AND_ADMINS = {"team_lead", "admin"}
QUALIFIED = stage_post("qualify", acknowledge=False)
QUESTION = {"question": "which legal entity signs the contract, and who signs for it?"}


@dataclass
class World:
    """What the actions act on; each test gets a new one."""

    people: dict[str, Any]  # role -> the person acting in it (None: anonymous)
    waiting: Task  # a hunter's task in the pool
    held: Task  # a hunter's task, the hunter's own ("hunter" below holds it)
    documents: Task  # the documents stage, the document clerk's own
    leaver: Any  # a hunter a team lead may offboard
    colleague: Any  # where a team lead may move work
    client_id: int  # a client nobody acting holds a task of
    contact_id: int
    day: str  # a day with a stored report
    held_contact_id: int  # a contact of the held task's client (its holder may show it)
    suspended: Any  # a person whose reveals the leak watch suspended

    def reload(self, task: Task) -> Task:
        return Task.objects.get(pk=task.pk)


@pytest.fixture
def world(staff, new_lead, driver) -> World:
    hunter, clerk = staff["hunter"][0], staff["document_clerk"][0]
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=True):
        waiting = open_task(new_lead())
    yesterday = timezone.localdate() - timedelta(days=1)
    daily_report_build(day=yesterday)
    held = claims.task_claim(task=open_task(new_lead()), user=hunter)
    documents = driver().advance_to(new_lead().process_id, "documents")
    documents = claims.task_claim(task=documents, user=clerk)
    secret = ClientFactory(name="Secret Works")
    contact = ContactFactory(client=secret, phone="+7 900 555 12 34", email="buyer@secret.example")
    people = {role: staff[role][0] for role in ROLES if role in staff}
    people["admin"] = UserFactory(username="boss", is_superuser=True, is_staff=True)
    people["anonymous"] = None
    suspended = UserFactory(username="suspended", roles=["hunter"])
    LeakAlert.objects.create(
        user=suspended, day=timezone.localdate(), kind="reveals", count=26, limit=25
    )
    return World(
        people=people,
        waiting=waiting,
        held=held,
        documents=documents,
        leaver=UserFactory(username="leaver", roles=["hunter"]),
        colleague=staff["hunter"][1],
        client_id=secret.pk,
        contact_id=contact.pk,
        day=yesterday.isoformat(),
        held_contact_id=held.process.lead.contact_id,
        suspended=suspended,
    )


def page_as(user) -> Client:
    browser = Client()
    if user is not None:
        browser.force_login(user)
    return browser


def api_as(user) -> APIClient:
    api = APIClient()
    if user is not None:
        api.force_authenticate(user)
    return api


@dataclass(frozen=True)
class Action:
    """One protected thing to try. ``call(client, world)`` makes the request; ``done(world,
    user)`` says whether the action's change happened (None for a read: nothing changes)."""

    name: str
    api: bool
    allowed: frozenset[str]
    call: Callable[[Any, World], Any]
    ok: Callable[[Any], bool]
    done: Callable[[World, Any], bool] | None = None

    def __str__(self) -> str:
        return self.name


def status(code: int) -> Callable[[Any], bool]:
    return lambda response: response.status_code == code


def redirect_to(fragment: str) -> Callable[[Any], bool]:
    return lambda response: response.status_code == 302 and fragment in response["Location"]


def owner_is(task_of: Callable[[World], Task]) -> Callable[[World, Any], bool]:
    return lambda world, user: world.reload(task_of(world)).owner_id == getattr(user, "pk", -1)


def finished(task_of: Callable[[World], Task]) -> Callable[[World, Any], bool]:
    return lambda world, user: world.reload(task_of(world)).status == STATUS.DONE


def audited(action: str) -> Callable[[World, Any], bool]:
    return lambda world, user: AuditEvent.objects.filter(action=action).exists()


def base(world: World, task: Task) -> str:
    return f"/conveyor/{task.process_id}/{task.flow_task.name}/{task.pk}/"


def offboard(client: Any, leaver: Any) -> Any:
    """Preview, then confirm what the preview showed (a confirmation without it does nothing)."""
    preview = client.post("/work/console/offboard/", {"user": leaver.pk})
    token = re.search(r'name="preview" value="([^"]+)"', preview.content.decode())
    data = {"user": leaver.pk, "_confirm": "1", "preview": token.group(1) if token else ""}
    return client.post("/work/console/offboard/", data)


POOL_READERS = frozenset({"hunter", *LEADS_AND_ADMINS})
ACTIONS = [
    # --- pages ---------------------------------------------------------------------------
    Action("view a pool", False, POOL_READERS,
           lambda c, w: c.get("/work/pools/hunter/"), status(200)),
    Action("view an inbox", False, POOL_READERS,
           lambda c, w: c.get("/work/pools/hunter/mine/"), status(200)),
    Action("view the console", False, frozenset(LEADS_AND_ADMINS),
           lambda c, w: c.get("/work/console/"), status(200)),
    Action("view the report", False, frozenset(LEADS_AND_ADMINS),
           lambda c, w: c.get("/reports/daily/"), status(200)),
    Action("download the report", False, frozenset(LEADS_AND_ADMINS),
           lambda c, w: c.get(f"/reports/daily/export/?day={w.day}&format=csv"), status(200)),
    # A superuser holds every permission, the stages' too, so an admin may take a given
    # task; "the next task" comes from the pools of the roles one holds, and admins hold none.
    Action("claim", False, frozenset({"hunter", "admin"}),
           lambda c, w: c.post(base(w, w.waiting) + "assign/"),
           redirect_to("/execute/"), owner_is(lambda w: w.waiting)),
    Action("take the next task", False, frozenset({"hunter"}),
           lambda c, w: c.post("/work/pools/hunter/claim-next/"),
           redirect_to("/execute/"), owner_is(lambda w: w.waiting)),
    Action("complete", False, frozenset({"hunter"}),
           lambda c, w: c.post(base(w, w.held) + "execute/", QUALIFIED),
           redirect_to("/work/pools/hunter/mine/"), finished(lambda w: w.held)),
    Action("bounce", False, frozenset({"document_clerk"}),
           lambda c, w: c.post(base(w, w.documents) + "execute/",
                               {"action": "bounce", "bounce-question": QUESTION["question"]}),
           redirect_to("/work/pools/document_clerk/mine/"), finished(lambda w: w.documents)),
    # the holder, or a team lead, gives a task back -- with a reason
    Action("unassign with reason", False, frozenset({"hunter", *LEADS_AND_ADMINS}),
           lambda c, w: c.post(base(w, w.held) + "unassign/", {"reason": "wrong region"}),
           redirect_to("/work/"), lambda w, u: w.reload(w.held).owner_id is None),
    Action("clear a suspension", False, frozenset(LEADS_AND_ADMINS),
           lambda c, w: c.post(f"/work/console/suspensions/{w.suspended.pk}/clear/",
                               {"reason": "a complaint week"}),
           redirect_to("/work/console/"),
           lambda w, u: not LeakAlert.objects.filter(cleared__isnull=True).exists()),
    Action("reassign", False, frozenset(LEADS_AND_ADMINS),
           lambda c, w: c.post("/work/console/reassign/", {
               "pk": [w.held.pk], "to": w.colleague.pk, "reason": "holiday", "_confirm": "1"}),
           redirect_to("/work/console/"), lambda w, u: w.reload(w.held).owner == w.colleague),
    Action("offboard", False, frozenset(LEADS_AND_ADMINS),
           lambda c, w: offboard(c, w.leaver),
           redirect_to("/work/console/"),
           lambda w, u: not type(w.leaver).objects.get(pk=w.leaver.pk).is_active),
    # the database operator fixes cards: may reveal any client's contacts (recorded, watched)
    Action("reveal a contact", False, frozenset({*LEADS_AND_ADMINS, "database_operator"}),
           lambda c, w: c.post(f"/clients/{w.client_id}/contacts/{w.contact_id}/reveal/"),
           status(200), audited(AuditEvent.Action.REVEAL)),
    # the held task's holder shows its client's contact (recorded); the roles that may
    # reveal any contact do too; nobody else
    Action("show contact", False, frozenset({"hunter", "database_operator", *LEADS_AND_ADMINS}),
           lambda c, w: c.post(f"/clients/{w.held.process.lead.client_id}/contacts/"
                               f"{w.held_contact_id}/reveal/"),
           status(200), audited(AuditEvent.Action.REVEAL)),
    # only the holder of a stage hands a side task over from it (issue 16)
    Action("hand a side task over", False, frozenset({"hunter"}),
           lambda c, w: c.post(f"/sidetasks/from/{w.held.pk}/",
                               {"kind": "offer", "brief": "An offer for 20 pumps"}),
           redirect_to("/execute/"), audited(AuditEvent.Action.SIDE_TASK)),
    # probable duplicates: the database operators' queue; the team leads keep the right
    Action("view the probable duplicates", False,
           frozenset({"database_operator", *LEADS_AND_ADMINS}),
           lambda c, w: c.get("/clients/duplicates/"), status(200)),
    Action("export the clients", False, frozenset({"admin"}),
           lambda c, w: c.post("/clients/export/"), status(200), audited(AuditEvent.Action.EXPORT)),
    Action("open the admin", False, frozenset({"admin"}),
           lambda c, w: c.get("/admin/"), status(200)),
    Action("list users in the admin", False, frozenset({"admin"}),
           lambda c, w: c.get("/admin/auth/user/"), status(200)),
    # --- the API -------------------------------------------------------------------------
    Action("API: read a pool", True, POOL_READERS,
           lambda c, w: c.get("/api/tasks/pool/?role=hunter"), status(200)),
    Action("API: read a task", True, POOL_READERS,
           lambda c, w: c.get(f"/api/tasks/{w.held.pk}/"), status(200)),
    Action("API: claim", True, frozenset({"hunter", "admin"}),
           lambda c, w: c.post(f"/api/tasks/{w.waiting.pk}/claim/"),
           status(200), owner_is(lambda w: w.waiting)),
    Action("API: complete", True, frozenset({"hunter"}),
           lambda c, w: c.post(f"/api/tasks/{w.held.pk}/complete/",
                               {"data": STAGE_DATA["qualify"], "handoff": NOTES["qualify"]},
                               format="json"),
           status(200), finished(lambda w: w.held)),
    Action("API: bounce", True, frozenset({"document_clerk"}),
           lambda c, w: c.post(f"/api/tasks/{w.documents.pk}/bounce/", QUESTION, format="json"),
           status(200), finished(lambda w: w.documents)),
    Action("API: reveal a contact", True, frozenset({*LEADS_AND_ADMINS, "database_operator"}),
           lambda c, w: c.post(f"/api/contacts/{w.contact_id}/reveal/"),
           status(200), audited(AuditEvent.Action.REVEAL)),
    Action("API: show contact", True,
           frozenset({"hunter", "database_operator", *LEADS_AND_ADMINS}),
           lambda c, w: c.post(f"/api/contacts/{w.held_contact_id}/reveal/",
                               {}, format="json"),
           status(200), audited(AuditEvent.Action.REVEAL)),
    Action("API: unassign with reason", True, frozenset({"hunter", *LEADS_AND_ADMINS}),
           lambda c, w: c.post(f"/api/tasks/{w.held.pk}/unassign/", {"reason": "wrong region"},
                               format="json"),
           status(200), lambda w, u: w.reload(w.held).owner_id is None),
    Action("API: export the clients", True, frozenset({"admin"}),
           lambda c, w: c.post("/api/clients/export/"), status(200),
           audited(AuditEvent.Action.EXPORT)),
    Action("API: read the report", True, frozenset(LEADS_AND_ADMINS),
           lambda c, w: c.get(f"/api/reports/daily/{w.day}/"), status(200)),
]  # fmt: skip


def refused(action: Action, role: str, response: Any) -> bool:
    """How a refusal may look: sent to sign in, an error status, or -- for the pages that
    answer a refused step with the page and its message -- a redirect elsewhere than the
    success's."""
    code = response.status_code
    if role == "anonymous":
        if action.api:
            return code == 401
        return code == 302 and "login/" in response["Location"]
    if code in (403, 404, 409):
        return True
    if action.name in ("open the admin", "list users in the admin"):
        return code == 302 and "/admin/login/" in response["Location"]
    return code == 302 and not action.ok(response)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_each_role_may_do_exactly_what_its_role_allows(world, action, role):
    user = world.people[role]
    client = api_as(user) if action.api else page_as(user)
    events = AuditEvent.objects.count()
    snapshots = list(Snapshot.objects.values_list("pk", "generated"))

    response = action.call(client, world)

    if role in action.allowed:
        assert action.ok(response), (response.status_code, response.get("Location"))
        if action.done is not None:
            assert action.done(world, user)
    else:
        assert refused(action, role, response), (response.status_code, response.get("Location"))
        if action.done is not None:
            assert not action.done(world, user)
        assert AuditEvent.objects.count() == events  # nothing at all was written
        assert list(Snapshot.objects.values_list("pk", "generated")) == snapshots


def test_the_table_covers_every_role_and_the_actions_asked_for():
    asked = {
        "view a pool", "view the console", "view the report", "claim", "complete", "bounce",
        "reassign", "offboard", "reveal a contact", "export the clients",
        "download the report", "open the admin",
        "show contact", "unassign with reason", "clear a suspension",
        "hand a side task over", "view the probable duplicates",
    }  # fmt: skip
    names = {action.name for action in ACTIONS}
    assert asked <= names
    assert all(action.allowed <= set(ROLES) - {"anonymous"} for action in ACTIONS)
    assert len(names) == len(ACTIONS)
