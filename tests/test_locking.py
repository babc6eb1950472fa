"""The locked read every claim and completion starts with: the task and its related rows in
one query, with the related objects already attached, locking its process and itself."""

import pytest
from django.db import connection, transaction
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext
from viewflow.workflow.models import Task

from salesflow.clients.models import Lead, Order
from salesflow.conveyor.locking import locked_task, task_for_update
from salesflow.exceptions import NotFound

from .conftest import open_task

pytestmark = pytest.mark.django_db


def same(instance, expected) -> bool:
    fields = type(expected)._meta.concrete_fields
    return all(getattr(instance, f.attname) == getattr(expected, f.attname) for f in fields)


def test_the_task_and_its_chain_come_back_as_the_orm_reads_them(new_lead, driver):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "documents")
    expected = Task.objects.select_related("process__lead__order").get(pk=task.pk)
    order = Order.objects.get(lead=lead)
    tasks_so_far = Task.objects.filter(process_id=task.process_id).count()
    count = RawSQL("SELECT COUNT(*) FROM viewflow_task WHERE process_id = %s", [task.process_id],
                   output_field=IntegerField())  # fmt: skip

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = task_for_update(task_id=task.pk, related="process__lead__order",
                                 tasks_so_far=count)  # fmt: skip
        assert same(locked, expected)
        assert locked.flow_task == expected.flow_task and locked.data == expected.data
        assert same(locked.process, expected.process)
        assert same(locked.process.lead, expected.process.lead)
        assert same(locked.process.lead.order, order)
        assert locked.process.lead.process is locked.process
        assert locked.tasks_so_far == tasks_so_far
    assert len(queries) == 1  # everything above came with the locked read
    sql = queries[0]["sql"]
    assert sql.endswith('FOR UPDATE OF "viewflow_task", "viewflow_process"') or sql.endswith(
        'FOR UPDATE OF "viewflow_process", "viewflow_task"'
    )  # the process (viewflow's own lock) and the task, nothing else


def test_a_missing_relation_is_known_to_be_missing(new_lead):
    lead = new_lead()
    task = open_task(lead)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = task_for_update(task_id=task.pk, related="process__lead__order")
        with pytest.raises(Lead.order.RelatedObjectDoesNotExist):
            locked.process.lead.order  # noqa: B018 - no order yet, and no query to find out
    assert len(queries) == 1


def test_a_task_that_is_gone_is_not_found(new_lead):
    task = open_task(new_lead())
    missing = Task(pk=task.pk + 10_000, flow_task=task.flow_task)
    with (
        pytest.raises(NotFound, match=f"Task #{missing.pk} does not exist"),
        locked_task(missing),
    ):
        pass
