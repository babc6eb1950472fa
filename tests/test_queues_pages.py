"""The pool pages, the team console and the pools' commands, as their people use them."""

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.queues import claims
from salesflow.queues.terms import Priority, StallReason

from .conftest import open_task
from .factories import UserFactory
from .test_http import signed_in
from .test_queues import mark

pytestmark = pytest.mark.django_db


def anonymous() -> Client:
    return Client()


def headers(html: str) -> list[str]:
    return [h.strip() for h in re.findall(r"<th[^>]*>\s*<span>([^<]*)</span>", html)]


def row_cells(html: str, pk: int) -> list[str]:
    """The text of each cell of the row of task ``pk``, as a person reads it."""
    row = re.search(rf'<tr[^>]*data-row-id="{pk}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"no row for task {pk}"
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-row-id="(\d+)"', html)]


# --- who may see what ------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,status",
    [(None, 302), ("expeditor", 403), ("hunter", 200), ("team_lead", 200)],
)
def test_a_pool_page_is_for_its_role_and_the_team_leads(staff, new_lead, who, status):
    new_lead()
    browser = signed_in(staff[who][0]) if who else anonymous()
    response = browser.get("/work/pools/hunter/")
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "who,status", [(None, 302), ("hunter", 403), ("account_manager", 403), ("team_lead", 200)]
)
def test_the_console_is_for_team_leads(staff, who, status):
    browser = signed_in(staff[who][0]) if who else anonymous()
    assert browser.get("/work/console/").status_code == status


def test_an_admin_sees_the_console_too(db):
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    assert signed_in(admin).get("/work/console/").status_code == 200


# --- a role's pool and inbox -------------------------------------------------------------


def test_each_role_sees_the_columns_it_works_by(staff, new_lead):
    new_lead()
    hunters = signed_in(staff["hunter"][0]).get("/work/pools/hunter/").content.decode()
    clerks = (
        signed_in(staff["document_clerk"][0]).get("/work/pools/document_clerk/").content.decode()
    )
    assert headers(hunters) == [
        "#", "Company", "Lead source", "Request", "Age", "Nurtured until", "Due", "Priority",
    ]  # fmt: skip
    assert "Documents missing" in headers(clerks) and "Lead source" not in headers(clerks)


def test_the_request_column_shows_what_the_client_asked_for(staff, new_lead):
    lead = new_lead()
    task = open_task(lead)
    hunter = staff["hunter"][0]
    columns = headers(signed_in(hunter).get("/work/pools/hunter/").content.decode())
    pool = row_cells(signed_in(hunter).get("/work/pools/hunter/").content.decode(), task.pk)
    request = pool[columns.index("Request")]
    assert request == "twenty pumps for the new plant"
    assert lead.client.name in pool
    claims.task_claim(task=task, user=hunter)
    mine = row_cells(signed_in(hunter).get("/work/pools/hunter/mine/").content.decode(), task.pk)
    assert mine[columns.index("Request")] == request


def test_the_pool_lists_waiting_work_most_urgent_first_with_counts(staff, new_lead):
    hunter = staff["hunter"][0]
    first, second, third = (open_task(new_lead()) for _ in range(3))
    mark(third, priority=Priority.HIGH)
    claims.task_claim(task=first, user=hunter)

    page = signed_in(hunter).get("/work/pools/hunter/").content.decode()

    assert row_ids(page) == [third.pk, second.pk]
    assert "Pool (2)" in page and "My tasks (1)" in page
    mine = signed_in(hunter).get("/work/pools/hunter/mine/").content.decode()
    assert row_ids(mine) == [first.pk]


def test_the_pool_sorts_and_filters(staff, new_lead):
    tasks = [open_task(new_lead()) for _ in range(3)]
    mark(tasks[1], due=timezone.now() - timedelta(hours=1))
    browser = signed_in(staff["hunter"][0])

    by_age = browser.get("/work/pools/hunter/?_orderby=age").content.decode()
    assert row_ids(by_age) == sorted((t.pk for t in tasks), reverse=True)  # youngest first
    overdue = browser.get("/work/pools/hunter/?overdue=true").content.decode()
    assert row_ids(overdue) == [tasks[1].pk]
    assert 'class="sf-overdue"' in overdue


def test_a_pool_page_costs_the_same_queries_with_3_or_30_tasks(staff, new_lead):
    browser = signed_in(staff["hunter"][0])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert browser.get("/work/pools/hunter/").status_code == 200
        return len(captured)

    for _ in range(3):
        new_lead()
    few = queries()
    for _ in range(27):
        new_lead()
    assert queries() == few


def test_take_the_next_task_gives_the_most_urgent_one(staff, new_lead):
    hunter = staff["hunter"][0]
    older, urgent = open_task(new_lead()), open_task(new_lead())
    mark(urgent, priority=Priority.URGENT)

    response = signed_in(hunter).post("/work/pools/hunter/claim-next/")

    assert response["Location"] == f"/conveyor/{urgent.process_id}/qualify/{urgent.pk}/execute/"
    urgent.refresh_from_db()
    older.refresh_from_db()
    assert urgent.owner == hunter and older.owner_id is None


def test_take_the_next_task_is_refused_to_another_role(staff, new_lead):
    task = open_task(new_lead())
    response = signed_in(staff["expeditor"][0]).post("/work/pools/hunter/claim-next/", follow=True)
    assert "do not hold the role" in response.content.decode()
    task.refresh_from_db()
    assert task.owner_id is None


# --- the team console ------------------------------------------------------------------


def test_the_console_shows_every_pool_and_stalled_work_first(staff, new_lead, driver):
    lead_user = staff["team_lead"][0]
    calm, stalled = open_task(new_lead()), open_task(new_lead())
    mark(stalled, stalled=timezone.now(), stalled_reason=StallReason.SLA)
    page = signed_in(lead_user).get("/work/console/").content.decode()
    assert row_ids(page)[:2] == [stalled.pk, calm.pk]
    summary = page[page.index('id="pool-summary"') : page.index("</table>")]
    hunters = summary[summary.index("Active-sales manager") :].split("</tr>")[0]
    assert re.findall(r'class="sf-num">(?:<span[^>]*>)?(\d+)', hunters)[:3] == ["2", "0", "1"]


def test_the_console_reassigns_a_selection_with_a_reason(staff, new_lead):
    lead_user, hunter = staff["team_lead"][0], staff["hunter"][1]
    tasks = [open_task(new_lead()) for _ in range(2)]
    browser = signed_in(lead_user)
    pks = [str(t.pk) for t in tasks]

    asked = browser.post("/work/console/reassign/", {"pk": pks})
    assert asked.status_code == 200 and "Reassign the selected tasks" in asked.content.decode()
    no_reason = browser.post(
        "/work/console/reassign/", {"pk": pks, "to": hunter.pk, "_confirm": "1"}
    )
    assert no_reason.status_code == 200 and "This field is required" in no_reason.content.decode()
    assert not Task.objects.filter(owner=hunter).exists()

    done = browser.post(
        "/work/console/reassign/",
        {"pk": pks, "to": hunter.pk, "reason": "new leads for the new hire", "_confirm": "1"},
    )
    assert done.status_code == 302
    assert Task.objects.filter(owner=hunter, status=STATUS.ASSIGNED).count() == 2
    assert (
        AuditEvent.objects.filter(action="reassign", actor=lead_user, to_user=hunter).count() == 2
    )


def test_the_console_says_why_a_move_is_refused_and_moves_nothing(staff, new_lead):
    tasks = [open_task(new_lead()) for _ in range(2)]
    response = signed_in(staff["team_lead"][0]).post(
        "/work/console/reassign/",
        {
            "pk": [t.pk for t in tasks],
            "to": staff["expeditor"][0].pk,
            "reason": "help out",
            "_confirm": "1",
        },
    )
    assert response.status_code == 403
    assert "has no role that performs" in response.content.decode()
    assert not Task.objects.filter(owner__isnull=False).exists()


def test_reassigning_from_the_console_is_refused_to_a_hunter(staff, new_lead):
    task = open_task(new_lead())
    response = signed_in(staff["hunter"][0]).post(
        "/work/console/reassign/",
        {"pk": [task.pk], "to": staff["hunter"][0].pk, "reason": "mine", "_confirm": "1"},
    )
    assert response.status_code == 403
    task.refresh_from_db()
    assert task.owner_id is None


def test_offboarding_from_the_console_previews_then_moves_everything(staff, new_lead):
    leaving, lead_user = staff["hunter"][0], staff["team_lead"][0]
    tasks = [open_task(new_lead()) for _ in range(2)]
    for task in tasks:
        claims.task_claim(task=task, user=leaving)
    browser = signed_in(lead_user)

    preview = browser.post("/work/console/offboard/", {"user": leaving.pk}).content.decode()
    assert 'id="offboard-plan"' in preview and f"#{tasks[0].pk}" in preview
    leaving.refresh_from_db()
    assert leaving.is_active

    done = browser.post(
        "/work/console/offboard/",
        {"user": leaving.pk, "preview": preview_token(preview), "_confirm": "1"},
    )
    assert done.status_code == 302
    leaving.refresh_from_db()
    assert not leaving.is_active
    assert not Task.objects.filter(owner=leaving).exclude(status=STATUS.DONE).exists()


def preview_token(page: str) -> str:
    found = re.search(r'name="preview" value="([^"]+)"', page)
    assert found, "the preview carries what it shows"
    return found.group(1)


def test_offboarding_confirms_only_the_person_who_was_previewed(staff, new_lead):
    previewed, switched = staff["hunter"]
    lead_user = staff["team_lead"][0]
    claims.task_claim(task=open_task(new_lead()), user=previewed)
    browser = signed_in(lead_user)
    preview = browser.post("/work/console/offboard/", {"user": previewed.pk}).content.decode()

    # the select is switched to another person after the preview, then confirmed
    page = browser.post(
        "/work/console/offboard/",
        {"user": switched.pk, "preview": preview_token(preview), "_confirm": "1"},
    )

    body = page.content.decode()
    assert page.status_code == 409
    assert "Nothing was done: the preview on the page was not of" in body
    assert 'id="offboard-plan"' in body and preview_token(body) != preview_token(preview)
    previewed.refresh_from_db(), switched.refresh_from_db()
    assert previewed.is_active and switched.is_active
    assert not AuditEvent.objects.filter(action="deactivate").exists()
    # without any preview, a confirmation only shows one
    blind = browser.post("/work/console/offboard/", {"user": switched.pk, "_confirm": "1"})
    assert blind.status_code == 409
    switched.refresh_from_db()
    assert switched.is_active


def test_offboarding_refuses_when_the_work_changed_since_the_preview(staff, new_lead):
    leaving, lead_user = staff["hunter"][0], staff["team_lead"][0]
    claims.task_claim(task=open_task(new_lead()), user=leaving)
    browser = signed_in(lead_user)
    preview = browser.post("/work/console/offboard/", {"user": leaving.pk}).content.decode()
    late = open_task(new_lead())
    claims.task_claim(task=late, user=leaving)  # taken after the preview was read

    page = browser.post(
        "/work/console/offboard/",
        {"user": leaving.pk, "preview": preview_token(preview), "_confirm": "1"},
    )

    body = page.content.decode()
    assert page.status_code == 409
    assert "open work changed since the preview (1 tasks then, 2 now)" in body
    assert f"#{late.pk}" in body  # the new preview shows it
    leaving.refresh_from_db()
    assert leaving.is_active
    late.refresh_from_db()
    assert late.owner == leaving


def test_nobody_offboards_themselves(db):
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    page = signed_in(admin).post("/work/console/offboard/", {"user": admin.pk})
    assert page.status_code == 403
    assert "You cannot offboard yourself" in page.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_the_offboard_pickers_name_people_and_tell_namesakes_apart(staff):
    one, two = staff["hunter"]
    for person in (one, two):
        person.first_name, person.last_name = "Anna", "Petrova"
        person.save(update_fields=["first_name", "last_name"])
    page = signed_in(staff["team_lead"][0]).get("/work/console/offboard/").content.decode()
    assert f">Anna Petrova ({one.username})</option>" in page
    assert f">Anna Petrova ({two.username})</option>" in page


# --- the command line --------------------------------------------------------------------


def test_stalled_lists_the_stalled_tasks_as_json(staff, new_lead):
    task = open_task(new_lead())
    mark(task, stalled=timezone.now(), stalled_reason=StallReason.SLA)
    open_task(new_lead())  # not stalled
    out = StringIO()
    call_command("stalled", "--json", stdout=out)
    (row,) = json.loads(out.getvalue())
    assert row["id"] == task.pk
    assert row["node"] == "conveyor.qualify" and row["role"] == "hunter"
    assert row["owner"] is None and row["stalled_reason"] == "sla"


def test_claim_next_from_the_command_line(staff, new_lead):
    task = open_task(new_lead())
    out = StringIO()
    call_command("claim_next", "hunter1", "--json", stdout=out)
    assert json.loads(out.getvalue())["claimed"]["id"] == task.pk
    out = StringIO()
    call_command("claim_next", "hunter2", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"claimed": None}
    with pytest.raises(CommandError, match="no user “nobody”"):
        call_command("claim_next", "nobody")


def test_offboard_from_the_command_line_dry_run_then_for_real(staff, new_lead):
    leaving = staff["hunter"][0]
    task = claims.task_claim(task=open_task(new_lead()), user=leaving)

    out = StringIO()
    call_command("offboard", "hunter1", "--to-pool", "--dry-run", stdout=out)
    assert "Nothing was changed" in out.getvalue()
    leaving.refresh_from_db()
    assert leaving.is_active

    call_command("offboard", "hunter1", "--to", "hunter2", stdout=StringIO())
    leaving.refresh_from_db()
    task.refresh_from_db()
    assert not leaving.is_active and task.owner == staff["hunter"][1]
    with pytest.raises(CommandError, match="already deactivated"):
        call_command("offboard", "hunter1", "--to-pool")
    with pytest.raises(CommandError, match="no user “ghost”"):
        call_command("offboard", "ghost", "--to-pool")


def test_the_pool_and_the_console_speak_russian(staff, new_lead):
    new_lead()
    hunter = signed_in(staff["hunter"][0])
    hunter.cookies["django_language"] = "ru"
    pool = hunter.get("/work/pools/hunter/").content.decode()
    assert "Взять следующую задачу" in pool and "Общая очередь (1)" in pool
    assert "Менеджер активных продаж" in pool  # the role's own title from its file
    lead = signed_in(staff["team_lead"][0])
    lead.cookies["django_language"] = "ru"
    assert "Консоль руководителя" in lead.get("/work/console/").content.decode()


def test_a_pool_that_hands_work_out_says_where_the_work_is(staff):
    expeditor = signed_in(staff["expeditor"][0])
    pool = expeditor.get("/work/pools/expeditor/").content.decode()
    assert 'id="pool-hint"' in pool and "nothing waits here" in pool
    assert 'href="/work/pools/expeditor/mine/"' in pool
    mine = expeditor.get("/work/pools/expeditor/mine/").content.decode()
    assert "Nothing has been handed to you yet" in mine
    hunters = signed_in(staff["hunter"][0]).get("/work/pools/hunter/mine/").content.decode()
    assert "take the next task from the pool" in hunters


def test_the_expeditor_reads_when_each_order_is_to_be_delivered(staff, new_lead, driver):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "delivery")
    holder = task.owner or staff["expeditor"][0]
    tab = "mine/" if task.owner else ""
    page = signed_in(holder).get(f"/work/pools/expeditor/{tab}").content.decode()
    columns = headers(page)
    cells = row_cells(page, task.pk)
    lead.refresh_from_db()
    assert lead.order.delivery_date is not None  # the demo's orders are planned
    assert cells[columns.index("Delivery date")] not in ("", "—")
