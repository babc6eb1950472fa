"""A process that serves a client or a deal without being one (a side task, a reminder) is
that client's to the engine: ``ProcessSubject``, read in one place (conveyor.selectors)."""

from __future__ import annotations

import pytest
from viewflow.workflow.models import Process, Task
from viewflow.workflow.status import STATUS

from salesflow.clients.models import ProcessSubject
from salesflow.clients.selectors import contact_entitlement
from salesflow.conveyor.selectors import lead_of, process_client_id, process_client_ids

from .conftest import open_task
from .factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


def serving(client, lead=None) -> Process:
    process = Process.objects.create(flow_class="flows/conveyor.ConveyorFlow")
    ProcessSubject.objects.create(process=process, client=client, lead=lead)
    return process


def test_a_process_serving_a_deal_is_about_the_deals_client(new_lead):
    lead = new_lead()
    deal = open_task(lead).process
    side = serving(lead.client, lead)
    elsewhere = serving(ClientFactory())

    assert process_client_id(side) == lead.client_id == process_client_id(deal)
    assert process_client_ids(process_ids=[deal.pk, side.pk, elsewhere.pk]) == {
        deal.pk: lead.client_id,
        side.pk: lead.client_id,
        elsewhere.pk: elsewhere.subject.client_id,
    }
    task = Task(process=side)
    assert lead_of(task) == lead  # its work is on that deal


def test_a_process_about_no_deal_has_a_client_and_no_lead():
    client = ClientFactory()
    process = serving(client)
    assert process_client_id(process) == client.pk
    assert lead_of(Task(process=process)) is None


def test_holding_a_task_of_a_process_serving_the_client_shows_its_contacts():
    client = ClientFactory()
    assistant, other = UserFactory(), UserFactory()
    process = serving(client)
    Task.objects.create(
        process=process, flow_task="flows/conveyor.ConveyorFlow.qualify", owner=assistant,
        status=STATUS.ASSIGNED, flow_task_type="HUMAN",
    )  # fmt: skip

    assert contact_entitlement(user=assistant, client_id=client.pk).holds_task
    assert not contact_entitlement(user=other, client_id=client.pk).holds_task
