"""Pools: every human task's due date and priority."""

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from flows.simulation import Odds
from salesflow.clients.models import Client, Lead
from salesflow.conveyor import services
from salesflow.queues import services as queues
from salesflow.queues.models import QueueItem

from .conftest import open_task
from .factories import ClientFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.get_fixed_timezone(0))


@time_machine.travel(NOW, tick=False)
def test_a_new_lead_waits_for_the_hunters_due_within_their_sla(new_lead):
    task = open_task(new_lead())
    item = QueueItem.objects.get(task=task)
    assert item.due == NOW + timedelta(days=1)  # roles/hunter.toml: qualify sla = "1d"
    assert item.priority == QueueItem.Priority.NORMAL
    assert item.stalled is None


def test_a_known_client_comes_back_to_the_account_pool_with_high_priority(new_lead):
    client = ClientFactory(status=Client.Status.CUSTOMER)
    lead = new_lead(client=client, source=Lead.Source.WEB_FORM)
    task = open_task(lead)
    assert task.flow_task.name == "prepare_order"
    assert QueueItem.objects.get(task=task).priority == QueueItem.Priority.HIGH


def test_work_sent_back_is_high_priority(new_lead, driver):
    lead = new_lead()
    simulator = driver()
    simulator.send_back(simulator.advance_to(lead.process_id, "prepare_order"))
    back = open_task(lead)
    assert back.flow_task.name == "qualify"
    assert QueueItem.objects.get(task=back).priority == QueueItem.Priority.HIGH


def test_a_discount_approval_is_urgent(new_lead, driver):
    lead = new_lead()
    task = driver(Odds(0, 0, 1, 0, 0)).advance_to(lead.process_id, "approve_discount")
    assert QueueItem.objects.get(task=task).priority == QueueItem.Priority.URGENT


def _deliver_by(promised: date, driver, new_lead, staff):
    lead = new_lead()
    simulator = driver()
    task = simulator.advance_to(lead.process_id, "prepare_order")
    manager = next(
        u for u in staff["account_manager"] if queues.assignment_refusal(task=task, user=u) is None
    )
    queues.task_claim(task=task, user=manager)
    data = {**simulator.data_prepare_order(task), "delivery_date": promised.isoformat()}
    note = simulator.note(task.flow_task.handoff, task)
    services.stage_complete(task=task, user=manager, data=data, handoff=note, acknowledge=True)
    return QueueItem.objects.get(task=simulator.advance_to(lead.process_id, "delivery"))


@time_machine.travel(NOW, tick=False)
def test_a_delivery_promised_sooner_than_the_sla_is_due_on_the_promised_day(
    driver, new_lead, staff
):
    item = _deliver_by(NOW.date() + timedelta(days=1), driver, new_lead, staff)
    promised_evening = timezone.make_aware(
        datetime.combine(NOW.date() + timedelta(days=1), time(18))
    )
    assert item.due == promised_evening  # sooner than the expeditor's 3 days


@time_machine.travel(NOW, tick=False)
def test_a_delivery_promised_later_than_the_sla_keeps_the_sla(driver, new_lead, staff):
    item = _deliver_by(NOW.date() + timedelta(days=30), driver, new_lead, staff)
    assert item.due == NOW + timedelta(days=3)
