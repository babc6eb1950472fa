"""The conveyor end to end through the engine's services, and each of its refusals."""

from datetime import timedelta

import pytest
from viewflow.workflow.status import PROCESS, STATUS

from flows.simulation import Odds
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Order
from salesflow.conveyor import services
from salesflow.exceptions import (
    ClaimConflict,
    HandoffIncomplete,
    HandoffNotAcknowledged,
    NotPermitted,
    SeparationOfDutiesViolated,
    StageInvalid,
)
from salesflow.handoff.models import HandoffNote
from salesflow.queues import claims

from .conftest import open_task

NOTE = {
    "client_needs": "twenty pumps for the new bottling line",
    "decision_maker": "Ivan Petrov, chief engineer",
    "budget_and_terms": "about two million, thirty days payment",
    "next_step": "send a quote with delivery dates",
    "next_step_date": "2030-01-15",
}


def test_a_lead_travels_the_whole_conveyor_with_a_note_at_every_handoff(new_lead, driver):
    lead = new_lead()
    simulator = driver()
    simulator.finish(lead.process_id)

    lead.process.refresh_from_db()
    assert lead.process.status == PROCESS.DONE
    notes = HandoffNote.objects.filter(process=lead.process).order_by("created")
    assert [(n.from_node, n.to_node) for n in notes] == [
        ("conveyor.qualify", "conveyor.prepare_order"),
        ("conveyor.prepare_order", "conveyor.documents"),
        ("conveyor.documents", "conveyor.delivery"),
        ("conveyor.delivery", "conveyor.follow_up"),
    ]
    assert all(n.acknowledged_by_id and n.acknowledged_by_id != n.author_id for n in notes[:3])
    performers = {
        e.task.flow_task.name: e.actor.username
        for e in AuditEvent.objects.filter(process=lead.process, action="claim")
    }
    assert performers["qualify"].startswith("hunter")
    assert performers["prepare_order"].startswith("account_manager")
    assert performers["documents"].startswith("document_clerk")
    assert performers["delivery"].startswith("expeditor")


def test_completing_without_the_handoff_note_is_refused_and_nothing_changes(new_lead, staff):
    lead = new_lead()
    task = open_task(lead)
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    events = AuditEvent.objects.count()

    with pytest.raises(HandoffIncomplete) as refused:
        services.stage_complete(task=task, user=hunter, data={"outcome": "qualified"}, handoff={})

    assert set(refused.value.errors) >= {"client_needs", "decision_maker", "next_step_date"}
    task.refresh_from_db()
    lead.refresh_from_db()
    assert task.status == STATUS.ASSIGNED
    assert lead.status == "new"
    assert AuditEvent.objects.count() == events
    assert not HandoffNote.objects.exists()


@pytest.mark.parametrize(
    "value",
    ["ok", "n/a", "see above", "pumps", "pumps pumps pumps", "....."],
)
def test_a_thin_handoff_field_is_refused_with_its_reason(new_lead, staff, value):
    lead = new_lead()
    task = open_task(lead)
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    with pytest.raises(HandoffIncomplete) as refused:
        services.stage_complete(
            task=task,
            user=hunter,
            data={"outcome": "qualified"},
            handoff={**NOTE, "client_needs": value},
        )
    assert list(refused.value.errors) == ["client_needs"]


def test_disqualifying_without_a_reason_is_refused(new_lead, staff):
    lead = new_lead()
    task = open_task(lead)
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    with pytest.raises(StageInvalid) as refused:
        services.stage_complete(task=task, user=hunter, data={"outcome": "disqualified"})
    assert "disqualification_reason" in refused.value.errors
    lead.refresh_from_db()
    assert lead.status == "new"


def test_disqualified_lead_needs_no_handoff_and_ends(new_lead, staff):
    lead = new_lead()
    task = open_task(lead)
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    services.stage_complete(
        task=task,
        user=hunter,
        data={"outcome": "disqualified", "disqualification_reason": "they build it themselves"},
    )
    lead.refresh_from_db()
    lead.process.refresh_from_db()
    assert lead.status == "disqualified"
    assert lead.disqualification_reason == "they build it themselves"
    assert lead.process.status == PROCESS.DONE
    event = AuditEvent.objects.get(process=lead.process, action="complete")
    assert event.reason == "they build it themselves"


def test_a_user_of_another_role_cannot_claim(new_lead, staff):
    task = open_task(new_lead())
    with pytest.raises(NotPermitted, match="roles do not include"):
        claims.task_claim(task=task, user=staff["expeditor"][0])
    task.refresh_from_db()
    assert task.owner_id is None and task.status == STATUS.NEW


def test_a_task_taken_a_moment_ago_is_refused_to_the_second_claimant(new_lead, staff):
    task = open_task(new_lead())
    claims.task_claim(task=task, user=staff["hunter"][0])
    with pytest.raises(ClaimConflict):
        claims.task_claim(task=task, user=staff["hunter"][1])
    task.refresh_from_db()
    assert task.owner == staff["hunter"][0]


def test_the_hunter_who_qualified_may_not_be_the_account_manager(new_lead, staff, driver):
    both = staff["hunter"][0]
    both.groups.add(staff["account_manager"][0].groups.get())
    lead = new_lead()
    task = open_task(lead)
    claims.task_claim(task=task, user=both)
    services.stage_complete(task=task, user=both, data={"outcome": "qualified"}, handoff=NOTE)

    prepare = open_task(lead)
    with pytest.raises(SeparationOfDutiesViolated, match="Separation of duties"):
        claims.task_claim(task=prepare, user=both)
    prepare.refresh_from_db()
    assert prepare.owner_id is None
    claims.task_claim(task=prepare, user=staff["account_manager"][1])


def test_the_stage_cannot_complete_before_the_incoming_note_is_acknowledged(
    new_lead, staff, driver
):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "prepare_order")
    manager = staff["account_manager"][0]
    claims.task_claim(task=task, user=manager)
    with pytest.raises(HandoffNotAcknowledged):
        services.stage_complete(task=task, user=manager, data={})
    note = HandoffNote.objects.get(process=lead.process)
    assert note.acknowledged_by_id is None


def test_discount_over_the_limit_goes_to_the_team_lead(new_lead, driver, staff):
    lead = new_lead()
    task = driver(Odds(0, 0, 1, 0, 0)).advance_to(lead.process_id, "approve_discount")
    order = Order.objects.get(lead=lead)
    assert order.discount_needs_approval
    with pytest.raises(NotPermitted):
        claims.task_claim(task=task, user=staff["account_manager"][0])
    lead_user = staff["team_lead"][0]
    claims.task_claim(task=task, user=lead_user)
    services.stage_complete(task=task, user=lead_user, data={"comment": "worth it"})
    order.refresh_from_db()
    assert order.discount_approved_by == lead_user
    assert not order.discount_needs_approval
    assert open_task(lead).flow_task.name == "documents"
    assert AuditEvent.objects.filter(
        process=lead.process, action="approve", actor=lead_user
    ).exists()


def test_a_bounce_goes_back_to_its_author_with_the_question(new_lead, driver, staff):
    lead = new_lead()
    simulator = driver()
    documents = simulator.advance_to(lead.process_id, "documents")
    author = HandoffNote.objects.get(to_node="conveyor.documents").author
    clerk = staff["document_clerk"][0]
    claims.task_claim(task=documents, user=clerk)

    with pytest.raises(HandoffIncomplete):
        services.stage_bounce(task=documents, user=clerk, question={"question": "?"})
    services.stage_bounce(
        task=documents, user=clerk, question={"question": "which entity signs the contract?"}
    )

    back = open_task(lead)
    assert back.flow_task.name == "prepare_order"
    assert back.owner == author and back.status == STATUS.ASSIGNED
    bounce = HandoffNote.objects.get(kind="bounce")
    assert bounce.to_node == "conveyor.prepare_order"
    assert bounce.fields == {"question": "which entity signs the contract?"}
    assert AuditEvent.objects.filter(action="bounce", actor=clerk).exists()
    assert AuditEvent.objects.filter(action="assign", task=back, to_user=author).exists()


def test_a_client_who_does_not_order_ends_the_deal_with_the_reason(new_lead, staff):
    from .factories import ClientFactory

    lead = new_lead(client=ClientFactory(status="customer"))  # a repeat order: account pool
    task = open_task(lead)
    manager = staff["account_manager"][0]
    claims.task_claim(task=task, user=manager)

    with pytest.raises(StageInvalid) as refused:
        services.stage_complete(task=task, user=manager, data={"outcome": "no_order"})
    assert refused.value.errors == {"lost_reason": ["Say why the client does not order."]}

    result = services.stage_complete(
        task=task,
        user=manager,
        data={"outcome": "no_order", "lost_reason": "they bought from a competitor"},
    )
    assert result.note is None  # nobody to hand over to
    lead.refresh_from_db()
    lead.process.refresh_from_db()
    assert (lead.status, lead.lost_reason) == ("lost", "they bought from a competitor")
    assert lead.process.status == PROCESS.DONE
    assert not Order.objects.filter(lead=lead).exists()


def test_an_order_needs_its_terms(new_lead, staff, driver):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "prepare_order")
    manager = staff["account_manager"][0]
    claims.task_claim(task=task, user=manager)
    with pytest.raises(StageInvalid) as refused:
        services.stage_complete(
            task=task, user=manager, data={"outcome": "order"}, acknowledge=True
        )
    assert set(refused.value.errors) == {
        "specification", "amount", "discount", "terms", "delivery_address",
    }  # fmt: skip


def test_a_nurtured_lead_whose_company_became_a_customer_goes_to_the_account_pool(new_lead, staff):
    import time_machine
    from django.utils import timezone
    from viewflow.workflow.timers import fire_due_timers

    lead = new_lead()
    task = open_task(lead)
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    back_on = timezone.localdate() + timedelta(days=30)
    services.stage_complete(
        task=task, user=hunter, data={"outcome": "nurture", "nurture_until": back_on}
    )
    lead.client.status = "customer"  # another deal of theirs was delivered meanwhile
    lead.client.save()

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert fire_due_timers() == 1

    back = open_task(lead)
    assert back.flow_task.name == "prepare_order"  # not the hunters' qualify
    lead.refresh_from_db()
    assert lead.status == "qualified"


def test_a_rejected_discount_sent_back_to_qualify_does_not_block_the_hunter(
    new_lead, driver, staff
):
    """Issue 12 (1): qualify -> an order at 10 % (over the account manager's limit) -> the
    team lead rejects the discount -> the account manager sends the order back to qualify:
    the hunter completes qualify (a later stage's rule does not bind an earlier one), and
    the order's discount is asked for again at the order's preparation."""
    lead = new_lead()
    simulator = driver(Odds(0, 0, 1, 0, 0))
    approval = simulator.advance_to(lead.process_id, "approve_discount")
    team_lead = staff["team_lead"][0]
    claims.task_claim(task=approval, user=team_lead)
    services.stage_bounce(
        task=approval, user=team_lead, question={"question": "why ten percent for this client?"}
    )
    prepare = open_task(lead)
    assert prepare.flow_task.name == "prepare_order"
    services.stage_bounce(
        task=prepare,
        user=prepare.owner,
        question={"question": "does the client really need the whole line?"},
    )
    qualify = open_task(lead)
    assert qualify.flow_task.name == "qualify"
    assert Order.objects.get(lead=lead).discount_needs_approval  # still not approved

    result = services.stage_complete(
        task=qualify,
        user=qualify.owner,
        data={"outcome": "qualified"},
        handoff=NOTE,
        acknowledge=True,
    )
    assert result.note is not None
    again = open_task(lead)
    assert again.flow_task.name == "prepare_order"
    # the order's stages after the approval still refuse while the discount waits
    simulator.finish(lead.process_id)
    lead.process.refresh_from_db()
    assert lead.process.status == PROCESS.DONE
    assert Order.objects.get(lead=lead).discount_approved_by is not None


def test_only_the_stages_after_an_approval_wait_for_it():
    from salesflow.conveyor.registry import after_approval

    assert after_approval() == {
        "conveyor.documents", "conveyor.delivery", "conveyor.follow_up",
    }  # fmt: skip


def _deliver(simulator, lead, staff, typed_day):
    task = simulator.advance_to(lead.process_id, "delivery")
    expeditor = staff["expeditor"][0]
    claims.task_claim(task=task, user=expeditor)
    services.stage_complete(
        task=task,
        user=expeditor,
        data={"delivered_on": typed_day.isoformat(), "originals_returned": "on"},
        handoff=simulator.note(task.flow_task.handoff, task),
        acknowledge=True,
    )
    return Order.objects.get(lead=lead)


def test_a_delivery_counts_on_the_day_it_is_recorded_and_keeps_the_day_typed(
    new_lead, driver, staff
):
    """Issue 12 (6): one rule -- the order's ``delivered`` is the moment the delivery was
    recorded (never 12:00 of the typed day, which lies ahead in the morning), the day the
    daily report counts it on; the day the client received the goods is kept as typed."""
    from datetime import datetime, time

    import time_machine
    from django.utils import timezone

    from salesflow.reports.figures import day_figures

    day = timezone.localdate() - timedelta(days=5)
    morning = timezone.make_aware(datetime.combine(day, time(8, 0)))
    late = timezone.make_aware(datetime.combine(day, time(23, 30)))
    simulator = driver()
    with time_machine.travel(morning, tick=False):
        first = new_lead()
        order = _deliver(simulator, first, staff, day)
        assert order.delivered == morning  # not 12:00, four hours ahead
        assert order.delivered_on == day
    with time_machine.travel(late, tick=False):
        second = new_lead()
        order = _deliver(simulator, second, staff, day - timedelta(days=1))  # entered late
        assert timezone.localdate(order.delivered) == day
        assert order.delivered_on == day - timedelta(days=1)

    assert day_figures(day=day).orders_delivered == 2  # both recorded that day
    assert day_figures(day=day - timedelta(days=1)).orders_delivered == 0
    assert {timezone.localdate(o.delivered) for o in Order.objects.all()} == {day}


def test_a_prospect_that_becomes_a_customer_has_its_waiting_qualify_tasks_moved_to_the_account_pool(
    new_lead, driver, staff
):
    """Issue 12 (5): the first delivery makes the client a customer; its other deals
    waiting at qualify (held by a hunter or in the pool) go on at prepare order, in the
    account pool, one MOVE audit event each; another client's deal stays."""
    from salesflow.clients.models import Lead

    from .factories import ClientFactory

    client = ClientFactory(status="prospect")
    delivered = new_lead(client=client)
    held = new_lead(client=client)
    waiting = new_lead(client=client)
    elsewhere = new_lead()
    hunter = staff["hunter"][1]
    held_task = open_task(held)
    claims.task_claim(task=held_task, user=hunter)
    waiting_task = open_task(waiting)

    from django.utils import timezone

    _deliver(driver(), delivered, staff, timezone.localdate())

    client.refresh_from_db()
    assert client.status == "customer"
    for lead, old in ((held, held_task), (waiting, waiting_task)):
        old.refresh_from_db()
        assert old.status == STATUS.CANCELED
        now = open_task(lead)
        assert now.flow_task.name == "prepare_order"  # the account pool's
        lead.refresh_from_db()
        assert (lead.status, lead.source) == (Lead.Status.QUALIFIED, Lead.Source.REPEAT_ORDER)
        event = AuditEvent.objects.get(action="move", task=old)
        assert event.data["task"] == now.pk and event.data["to_node"] == "conveyor.prepare_order"
        assert "became a customer" in event.reason
    assert AuditEvent.objects.get(action="move", task=held_task).from_user == hunter
    assert open_task(elsewhere).flow_task.name == "qualify"
    # the moved deal goes on to its end from the account pool
    driver().finish(held.process_id)
    held.process.refresh_from_db()
    assert held.process.status == PROCESS.DONE
