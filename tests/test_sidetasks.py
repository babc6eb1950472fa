"""Side tasks end to end: handed over from a stage to the assistants' pool, the stage
waiting for it or going on, done or cancelled, the result returned to whoever holds the
stage then; bad input refused with the reason and nothing written; the pages' rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import PROCESS, STATUS

import salesflow.urls  # noqa: F401 - mounts the flows' pages (their reverse needs it)
from flows.models import SideTask
from flows.reminders import RemindersFlow
from flows.sidetasks import SideTasksFlow
from flows.sidework import side_task_cancel, side_task_request
from salesflow.activities.models import Activity
from salesflow.audit.models import AuditEvent
from salesflow.conveyor.services import stage_complete
from salesflow.exceptions import NotPermitted, StageInvalid, StageOnHold
from salesflow.queues import claims

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_stage(driver, staff):
    """A deal whose first stage is held by a hunter: (simulator, process id, task, hunter)."""
    sim = driver()
    process_id = sim.add_deal(1)
    task = sim.open_task(process_id)
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    task.refresh_from_db()
    return sim, process_id, task, hunter


def side_stage(side_task: SideTask) -> Task:
    return Task.objects.get(process_id=side_task.process_id, flow_task_type="HUMAN")


def do_side_task(side_task: SideTask, assistant, result: str = "Offer sent on letterhead"):
    task = side_stage(side_task)
    claims.task_claim(task=task, user=assistant)
    task.refresh_from_db()
    return stage_complete(task=task, user=assistant, data={"result": result})


def complete_origin(sim, task, user):
    return stage_complete(
        task=task,
        user=user,
        data=sim.data_qualify(task),
        handoff=sim.note(task.flow_task.handoff, task),
        acknowledge=True,
    )


def test_a_waiting_stage_cannot_be_completed_until_its_side_task_is_done(at_stage, staff):
    sim, process_id, task, hunter = at_stage
    assistant = staff["assistant"][0]

    side = side_task_request(
        task=task, user=hunter, kind="offer", brief="A commercial offer for 20 pumps", wait=True
    )
    assert side.status == SideTask.Status.OPEN
    assert side_stage(side).flow_task.flow_class is SideTasksFlow
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SIDE_TASK, task=task).count() == 1

    task.refresh_from_db()
    with pytest.raises(StageOnHold) as refused:
        complete_origin(sim, task, hunter)
    assert "waiting for the assistant" in refused.value.message
    assert f"side task #{side.pk}" in refused.value.message
    task.refresh_from_db()
    assert task.status == STATUS.ASSIGNED  # nothing moved

    do_side_task(side, assistant)
    side.refresh_from_db()
    assert side.status == SideTask.Status.DONE
    assert side.result == "Offer sent on letterhead"
    assert side.finished_by == assistant
    assert side.returned_to == hunter  # the stage's holder gets the result
    # on the client's timeline
    assert Activity.objects.filter(
        client_id=side.client_id, text__contains="Offer sent on letterhead"
    ).exists()

    task.refresh_from_db()
    complete_origin(sim, task, hunter)  # no longer waiting
    task.refresh_from_db()
    assert task.status == STATUS.DONE


def test_a_stage_that_does_not_wait_goes_on_and_the_result_goes_to_the_next_holder(at_stage, staff):
    sim, process_id, task, hunter = at_stage
    assistant = staff["assistant"][0]
    side = side_task_request(
        task=task, user=hunter, kind="card", brief="Add the plant's delivery address", wait=False
    )
    task.refresh_from_db()
    complete_origin(sim, task, hunter)  # goes on at once

    next_task = sim.open_task(process_id)
    assert next_task.flow_task.name == "prepare_order"
    if next_task.owner_id is None:
        claims.task_claim(task=next_task, user=staff["account_manager"][0])
        next_task.refresh_from_db()

    do_side_task(side, assistant, result="Address added to the card")
    side.refresh_from_db()
    assert side.status == SideTask.Status.DONE
    assert side.returned_to == next_task.owner  # whoever holds the deal now


def test_the_holder_changed_while_the_side_task_was_open_gets_the_result(at_stage, staff):
    sim, process_id, task, hunter = at_stage
    colleague = staff["hunter"][1]
    side = side_task_request(
        task=task, user=hunter, kind="payment", brief="Chase the advance payment", wait=True
    )
    task.refresh_from_db()
    claims.task_unassign(task=task, user=hunter, reason="Off sick from tomorrow, sorry")
    task.refresh_from_db()
    claims.task_claim(task=task, user=colleague)
    task.refresh_from_db()
    with pytest.raises(StageOnHold):  # still waiting, whoever holds it
        complete_origin(sim, task, colleague)

    do_side_task(side, staff["assistant"][0], result="Paid on the 3rd")
    side.refresh_from_db()
    assert side.returned_to == colleague
    task.refresh_from_db()
    complete_origin(sim, task, colleague)


def test_a_cancelled_side_task_releases_the_stage(at_stage, staff):
    sim, process_id, task, hunter = at_stage
    side = side_task_request(
        task=task, user=hunter, kind="booking", brief="Book a truck for Friday", wait=True
    )
    stranger = staff["expeditor"][0]
    with pytest.raises(NotPermitted):
        side_task_cancel(side_task_id=side.pk, user=stranger, reason="not mine")
    with pytest.raises(StageInvalid):
        side_task_cancel(side_task_id=side.pk, user=hunter, reason="  ")
    side.refresh_from_db()
    assert side.status == SideTask.Status.OPEN

    side_task_cancel(side_task_id=side.pk, user=hunter, reason="The client will collect it")
    side.refresh_from_db()
    assert side.status == SideTask.Status.CANCELLED
    assert side_stage(side).status == STATUS.CANCELED
    assert Process.objects.get(pk=side.process_id).status == PROCESS.CANCELED
    task.refresh_from_db()
    complete_origin(sim, task, hunter)
    task.refresh_from_db()
    assert task.status == STATUS.DONE


@pytest.mark.parametrize(
    "kind,brief,field,says",
    [
        ("horoscope", "Read the stars", "kind", "not a kind of side task"),
        ("offer", "   ", "brief", "Write a brief"),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_written(
    at_stage, kind, brief, field, says
):
    sim, process_id, task, hunter = at_stage
    processes = Process.objects.count()
    with pytest.raises(StageInvalid) as refused:
        side_task_request(task=task, user=hunter, kind=kind, brief=brief, wait=True)
    assert says in " ".join(refused.value.errors[field])
    assert says in refused.value.message
    assert not SideTask.objects.exists()
    assert Process.objects.count() == processes
    task.refresh_from_db()
    assert "sf_holds" not in task.data


def test_only_the_stages_holder_hands_a_side_task_over(at_stage, staff):
    sim, process_id, task, hunter = at_stage
    with pytest.raises(NotPermitted):
        side_task_request(
            task=task, user=staff["hunter"][1], kind="offer", brief="An offer", wait=False
        )
    assert not SideTask.objects.exists()


def test_a_side_task_for_a_deal_that_has_ended_is_refused(driver, staff):
    sim = driver()
    process_id = sim.add_deal(2)
    sim.finish(process_id)
    lead = Process.objects.get(pk=process_id).lead
    assert lead.process.status == PROCESS.DONE
    # a next step promised to the client still reaches someone: a task serving that deal
    reminder = RemindersFlow.start.run(client=lead.client, lead=lead)
    task = Task.objects.get(process=reminder, flow_task_type="HUMAN")
    manager = staff["account_manager"][1]
    if task.owner_id is None:
        claims.task_claim(task=task, user=manager)
        task.refresh_from_db()
    with pytest.raises(NotPermitted) as refused:
        side_task_request(task=task, user=task.owner, kind="offer", brief="An offer", wait=True)
    assert "The deal has ended" in refused.value.message
    assert not SideTask.objects.exists()


# --- the pages -----------------------------------------------------------------------


def request_url(task: Task) -> str:
    return SideTasksFlow.instance.reverse("side_task_request", args=[task.pk])


def test_the_stage_page_hands_over_and_then_shows_it_waits(client, at_stage):
    sim, process_id, task, hunter = at_stage
    client.force_login(hunter)
    page = task.flow_task.reverse("execute", args=[task.process_id, task.pk])
    body = client.get(page).content.decode()
    assert "Hand to the assistant" in body
    assert "Prepare a commercial offer" in body

    answer = client.post(
        request_url(task), {"kind": "offer", "brief": "An offer for 20 pumps", "wait": "on"}
    )
    assert answer.status_code == 302
    side = SideTask.objects.get()
    assert side.waits and side.brief == "An offer for 20 pumps"
    body = client.get(page).content.decode()
    assert "Waiting for the assistant" in body

    answer = client.post(
        page, {"action": "complete", **{f"stage-{k}": v for k, v in sim.data_qualify(task).items()}}
    )
    assert answer.status_code == 409
    assert "waiting for the assistant" in answer.content.decode()


@pytest.mark.parametrize("who", ["anonymous", "another hunter", "assistant"])
def test_the_hand_over_page_refuses_anyone_but_the_holder(client, at_stage, staff, who):
    sim, process_id, task, hunter = at_stage
    people = {"another hunter": staff["hunter"][1], "assistant": staff["assistant"][0]}
    if who != "anonymous":
        client.force_login(people[who])
    answer = client.post(request_url(task), {"kind": "offer", "brief": "x", "wait": "on"})
    if who == "anonymous":
        assert answer.status_code == 302 and "login" in answer["Location"]
    else:
        assert answer.status_code == 403
    assert not SideTask.objects.exists()


def test_the_bad_input_page_says_why(client, at_stage):
    sim, process_id, task, hunter = at_stage
    client.force_login(hunter)
    answer = client.post(request_url(task), {"kind": "offer", "brief": ""})
    assert answer.status_code == 400
    assert "Write a brief" in answer.content.decode()
    assert not SideTask.objects.exists()


@pytest.mark.parametrize("who,status", [("anonymous", 302), ("stranger", 403), ("holder", 302)])
def test_the_cancel_page_lets_only_the_holder_or_a_lead(client, at_stage, staff, who, status):
    sim, process_id, task, hunter = at_stage
    side = side_task_request(task=task, user=hunter, kind="offer", brief="An offer", wait=True)
    people = {"stranger": staff["document_clerk"][0], "holder": hunter}
    if who != "anonymous":
        client.force_login(people[who])
    url = SideTasksFlow.instance.reverse("side_task_cancel", args=[side.pk])
    answer = client.post(url, {"reason": "not needed any more"})
    assert answer.status_code == status
    side.refresh_from_db()
    expected = SideTask.Status.CANCELLED if who == "holder" else SideTask.Status.OPEN
    assert side.status == expected


def test_refusals_and_the_waiting_reason_speak_russian(at_stage):
    from django.utils import translation

    sim, process_id, task, hunter = at_stage
    with translation.override("ru"):
        with pytest.raises(StageInvalid) as refused:
            side_task_request(task=task, user=hunter, kind="offer", brief="", wait=True)
        assert "Напишите задание" in refused.value.message
        side_task_request(task=task, user=hunter, kind="offer", brief="КП на насосы", wait=True)
        task.refresh_from_db()
        with pytest.raises(StageOnHold) as held:
            complete_origin(sim, task, hunter)
        assert "ждёт ассистента" in held.value.message
        assert "Подготовить коммерческое предложение" in held.value.message


def test_the_assistants_pool_shows_each_side_task_with_its_company_in_constant_queries(
    client, at_stage, staff
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sim, process_id, task, hunter = at_stage
    side_task_request(task=task, user=hunter, kind="offer", brief="An offer", wait=False)
    client.force_login(staff["assistant"][0])
    with CaptureQueriesContext(connection) as one:
        page = client.get("/work/pools/assistant/")
    assert page.status_code == 200
    company = Process.objects.get(pk=process_id).lead.client.name
    assert company in page.content.decode()

    for number in range(3):  # more side tasks from more deals: the same statements
        other = sim.open_task(sim.add_deal(10 + number))
        claims.task_claim(task=other, user=staff["hunter"][1])
        other.refresh_from_db()
        side_task_request(task=other, user=staff["hunter"][1], kind="card", brief="x", wait=False)
    with CaptureQueriesContext(connection) as four:
        page = client.get("/work/pools/assistant/")
    assert len(four) == len(one)


def test_the_panel_and_its_refusal_read_in_russian(client, at_stage):
    sim, process_id, task, hunter = at_stage
    client.force_login(hunter)
    client.cookies["django_language"] = "ru"
    page = client.get(task.flow_task.reverse("execute", args=[task.process_id, task.pk]))
    body = page.content.decode()
    assert "Передать ассистенту" in body
    assert "Подготовить коммерческое предложение" in body
    answer = client.post(request_url(task), {"kind": "horoscope", "brief": ""})
    assert answer.status_code == 400
    text = answer.content.decode()
    assert "не вид побочной задачи" in text and "Напишите задание" in text


def test_a_side_task_has_its_roles_sla_stall_and_masking(at_stage, staff):
    import time_machine
    from django.utils import timezone

    from salesflow.clients.selectors import contact_entitlement
    from salesflow.queues import stalled, terms

    sim, process_id, task, hunter = at_stage
    side = side_task_request(task=task, user=hunter, kind="offer", brief="An offer", wait=True)
    stage = side_stage(side)
    assert terms.DUE in stage.data  # the assistant role's SLA (1 day)
    first, second = staff["assistant"]
    claims.task_claim(task=stage, user=first)
    # the side task's holder reads the client's contacts as their work; a colleague does not
    assert contact_entitlement(user=first, client_id=side.client_id).holds_task
    assert not contact_entitlement(user=second, client_id=side.client_id).holds_task

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert stage.pk in stalled.stalled_scan()  # past its SLA: stalled, like any stage


def test_the_account_managers_inbox_says_what_a_stage_waits_for(client, driver, staff):
    sim = driver()
    process_id = sim.add_deal(20)
    task = sim.advance_to(process_id, "prepare_order")
    if task.owner_id is None:
        claims.task_claim(task=task, user=staff["account_manager"][0])
        task.refresh_from_db()
    side = side_task_request(task=task, user=task.owner, kind="offer", brief="An offer", wait=True)
    client.force_login(task.owner)
    body = client.get("/work/pools/account_manager/mine/").content.decode()
    assert "Waiting for" in body
    assert f"waiting for the assistant (side task #{side.pk}" in body
