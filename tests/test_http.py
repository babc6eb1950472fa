"""The conveyor through the web pages, as its people use it: sign in, take the task from the
pool, read the note, complete the stage with a note for the next one."""

import pytest
from django.test import Client
from viewflow.workflow.status import PROCESS, STATUS

from salesflow.audit.models import AuditEvent
from salesflow.handoff.models import HandoffNote

from .conftest import open_task

NOTES = {
    "qualify": {
        "client_needs": "twenty pumps for the new bottling line",
        "decision_maker": "Ivan Petrov, chief engineer",
        "budget_and_terms": "about two million roubles, payment in thirty days",
        "next_step": "send a quote with the delivery dates",
        "next_step_date": "2030-01-15",
    },
    "prepare_order": {
        "documents_needed": "contract invoice and closing acts",
        "payment_terms": "half in advance and the rest on delivery",
        "signatory": "Olga Smirnova, general director",
    },
    "documents": {
        "what_to_deliver": "twenty pumps with the signed contract copy",
        "receiver": "warehouse manager at the Kazan plant, weekdays until five",
        "originals_to_return": "signed closing acts and the invoice",
    },
    "delivery": {
        "delivery_result": "delivered on time without any damage",
        "client_remarks": "they want spare seals with the next order",
        "originals_status": "all signed originals are back in the office",
    },
}
STAGE_DATA = {
    "qualify": {"outcome": "qualified"},
    "prepare_order": {
        "outcome": "order",
        "specification": "pumps NM-100, 20 pieces",
        "amount": "1500000.00",
        "discount": "3",
        "terms": "half in advance",
        "delivery_address": "12 Industrial Street, Kazan",
    },
    "documents": {"contract_signed": "on", "invoice_issued": "on", "closing_acts_prepared": "on"},
    "delivery": {"delivered_on": "2026-01-10", "originals_returned": "on"},
    "follow_up": {"outcome": "closed", "feedback": "the client is pleased with the delivery"},
}
WHO = {
    "qualify": "hunter",
    "prepare_order": "account_manager",
    "documents": "document_clerk",
    "delivery": "expeditor",
    "follow_up": "account_manager",
}


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password="pw")
    return client


def urls(task) -> dict[str, str]:
    base = f"/conveyor/{task.process_id}/{task.flow_task.name}/{task.pk}/"
    return {"index": base, "assign": base + "assign/", "execute": base + "execute/"}


def stage_post(stage: str, *, acknowledge: bool) -> dict[str, str]:
    data = {"action": "complete", **{f"stage-{k}": v for k, v in STAGE_DATA[stage].items()}}
    data.update({f"handoff-{k}": v for k, v in NOTES.get(stage, {}).items()})
    if acknowledge:
        data["acknowledge"] = "on"
    return data


@pytest.mark.django_db
def test_a_lead_goes_from_intake_to_the_end_through_the_pages(new_lead, staff):
    lead = new_lead()
    for stage in ("qualify", "prepare_order", "documents", "delivery", "follow_up"):
        task = open_task(lead)
        assert task.flow_task.name == stage
        person = staff[WHO[stage]][1]
        browser = signed_in(person)
        page = urls(task)

        queue = browser.get(f"/work/pools/{WHO[stage]}/")
        assert queue.status_code == 200
        assert f"/{task.pk}/" in queue.content.decode()

        assert browser.post(page["assign"])["Location"] == page["execute"]
        work = browser.get(page["execute"])
        assert work.status_code == 200
        if stage != "qualify":
            # the note from the stage before is on top of the page, as its template reads
            body = work.content.decode()
            assert "Handed over to you" in body
            assert "I have read it: acknowledge" in body
        if stage == "prepare_order":
            assert "What the client needs" in body and "Qualify → Prepare order" in body
        done = browser.post(page["execute"], stage_post(stage, acknowledge=stage != "qualify"))
        assert done.status_code == 302, done.content.decode()[-2000:]

    lead.process.refresh_from_db()
    assert lead.process.status == PROCESS.DONE
    assert HandoffNote.objects.filter(process=lead.process).count() == 4
    assert (
        not HandoffNote.objects.filter(process=lead.process, acknowledged__isnull=True)
        .exclude(to_node="conveyor.follow_up")
        .exists()
    )


@pytest.mark.django_db
def test_the_page_refuses_a_completion_without_a_note_and_keeps_the_task(new_lead, staff):
    task = open_task(new_lead())
    hunter = staff["hunter"][0]
    browser = signed_in(hunter)
    browser.post(urls(task)["assign"])

    response = browser.post(
        urls(task)["execute"], {"action": "complete", "stage-outcome": "qualified"}
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "is incomplete: the next person needs more" in body
    assert "This field is required in a handoff note." in body
    task.refresh_from_db()
    assert task.status == STATUS.ASSIGNED
    assert not HandoffNote.objects.exists()
    assert not AuditEvent.objects.filter(action__in=["handoff", "complete"]).exists()


@pytest.mark.django_db
def test_the_page_refuses_a_disqualification_without_a_reason(new_lead, staff):
    task = open_task(new_lead())
    browser = signed_in(staff["hunter"][0])
    browser.post(urls(task)["assign"])
    response = browser.post(
        urls(task)["execute"], {"action": "complete", "stage-outcome": "disqualified"}
    )
    assert response.status_code == 400
    assert "Say why the lead is disqualified." in response.content.decode()
    task.refresh_from_db()
    assert task.status == STATUS.ASSIGNED


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "expeditor", "other_hunter"])
def test_only_the_owner_may_work_on_a_stage(new_lead, staff, who):
    task = open_task(new_lead())
    owner = staff["hunter"][0]
    signed_in(owner).post(urls(task)["assign"])
    browser = {
        "anonymous": Client(),
        "expeditor": signed_in(staff["expeditor"][0]),
        "other_hunter": signed_in(staff["hunter"][1]),
    }[who]

    response = browser.post(urls(task)["execute"], stage_post("qualify", acknowledge=False))

    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif who == "expeditor":  # not even a task of their roles: they may not see it
        assert response.status_code == 403
    else:  # a colleague of the pool sees the task, but it is not theirs to work on
        assert response.status_code == 403
        assert f"Task #{task.pk} is not assigned to you." in response.content.decode()
    task.refresh_from_db()
    assert task.status == STATUS.ASSIGNED and task.owner == owner
    assert not HandoffNote.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who,allowed", [("expeditor", False), ("account_manager", False), ("hunter", True)]
)
def test_claiming_from_the_pool_needs_the_stage_role(new_lead, staff, who, allowed):
    task = open_task(new_lead())
    browser = signed_in(staff[who][0])

    response = browser.post(urls(task)["assign"])

    task.refresh_from_db()
    if allowed:
        assert response["Location"] == urls(task)["execute"]
        assert task.owner == staff[who][0]
    else:  # a task of another role's pool: not theirs to see, let alone take
        assert response.status_code == 403
        assert task.owner_id is None and task.status == STATUS.NEW
        assert not AuditEvent.objects.filter(action="claim").exists()


@pytest.mark.django_db
def test_the_receiver_acknowledges_the_note_then_sends_it_back_with_a_question(
    new_lead, staff, driver
):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "documents")
    clerk = staff["document_clerk"][1]
    browser = signed_in(clerk)
    browser.post(urls(task)["assign"])

    assert browser.post(urls(task)["execute"], {"action": "acknowledge"}).status_code == 302
    note = HandoffNote.objects.get(to_node="conveyor.documents")
    assert note.acknowledged_by == clerk

    thin = browser.post(urls(task)["execute"], {"action": "bounce", "bounce-question": "why"})
    assert thin.status_code == 400
    assert "Too thin" in thin.content.decode()

    sent = browser.post(
        urls(task)["execute"],
        {"action": "bounce", "bounce-question": "which legal entity signs the contract?"},
    )
    assert sent.status_code == 302
    back = open_task(lead)
    assert back.flow_task.name == "prepare_order" and back.owner == note.author


@pytest.mark.django_db
def test_the_flow_graph_shows_the_conveyor(staff):
    response = signed_in(staff["team_lead"][0]).get("/conveyor/chart/")
    assert response.status_code == 200
    svg = response.content.decode().lower()
    for title in ("qualify", "prepare order", "approve discount", "documents", "delivery"):
        assert f">{title}</text>" in svg
    assert svg.count(">bounce</text>") == 5  # the way back from every receiving stage


@pytest.mark.django_db
def test_the_pages_speak_russian_to_a_russian_user(new_lead, staff):
    task = open_task(new_lead())
    browser = signed_in(staff["hunter"][0])
    browser.cookies["django_language"] = "ru"
    browser.post(urls(task)["assign"])

    response = browser.post(
        urls(task)["execute"], {"action": "complete", "stage-outcome": "disqualified"}
    )

    body = response.content.decode()
    assert "Укажите, почему лид дисквалифицирован." in body
    assert "Завершить и передать" in body


@pytest.mark.django_db
def test_acknowledging_the_note_keeps_what_was_typed_on_the_stage_page(new_lead, staff, driver):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "prepare_order")
    manager = staff["account_manager"][1]
    browser = signed_in(manager)
    browser.post(urls(task)["assign"])
    typed = stage_post("prepare_order", acknowledge=False)
    typed["action"] = "acknowledge"  # the button of the note, pressed half-way through

    acknowledged = browser.post(urls(task)["execute"], typed)
    assert acknowledged.status_code == 302  # Turbo follows a redirect, not a 200 to a POST
    page = browser.get(acknowledged["Location"])

    body = page.content.decode()
    assert page.status_code == 200
    assert HandoffNote.objects.get(to_node="conveyor.prepare_order").acknowledged_by == manager
    assert "Handoff note acknowledged." in body
    assert 'value="12 Industrial Street, Kazan"' in body  # the order typed so far
    assert 'value="Olga Smirnova, general director"' in body  # the note for the next stage
    assert 'value="pumps NM-100, 20 pieces"' in body
    assert "This field is required" not in body and "Too thin" not in body
    again = browser.get(urls(task)["execute"]).content.decode()  # kept once, not for ever
    assert 'value="Olga Smirnova, general director"' not in again
    done = browser.post(urls(task)["execute"], stage_post("prepare_order", acknowledge=False))
    assert done.status_code == 302


@pytest.mark.django_db
def test_a_completion_refused_for_an_unread_note_keeps_the_form_and_can_acknowledge_it(
    new_lead, staff, driver
):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "prepare_order")
    manager = staff["account_manager"][1]
    browser = signed_in(manager)
    browser.post(urls(task)["assign"])
    author = HandoffNote.objects.get(to_node="conveyor.prepare_order").author

    refused = browser.post(urls(task)["execute"], stage_post("prepare_order", acknowledge=False))

    body = refused.content.decode()
    assert refused.status_code == 409
    assert f"Read the handoff note from {author.get_full_name()}" in body
    assert 'value="Olga Smirnova, general director"' in body
    assert 'name="acknowledge"' in body  # the box that acknowledges with the completion
    done = browser.post(urls(task)["execute"], stage_post("prepare_order", acknowledge=True))
    assert done.status_code == 302
