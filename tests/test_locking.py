"""The locked read every claim and completion starts with: for every shape it serves, the
task and its related rows exactly as the ORM's ``select_related`` reads them, in one
query that locks the task's process and the task itself."""

import pytest
from django.db import connection, transaction
from django.db.models import IntegerField
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext
from viewflow.workflow.models import Task

from salesflow.conveyor.locking import SHAPES, locked_task, task_for_update
from salesflow.exceptions import NotFound

from .conftest import open_task

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def chain(task: Task, related: str) -> list:
    """The objects along ``related`` as cached on ``task`` (None where the chain ends)."""
    objects, current = [task], task
    for name in related.split("__"):
        try:
            current = getattr(current, name)
        except Exception as missing:  # noqa: BLE001 - the ORM's DoesNotExist of that relation
            assert type(missing).__name__ == "RelatedObjectDoesNotExist"
            objects.append(None)
            break
        objects.append(current)
    return objects


@pytest.mark.parametrize("related", SHAPES)
@pytest.mark.parametrize("stage", ["qualify", "documents"])  # without an order, and with one
def test_every_shape_reads_what_select_related_reads(new_lead, driver, related, stage):
    lead = new_lead()
    task = driver().advance_to(lead.process_id, stage)
    count = RawSQL(
        "SELECT COUNT(*) FROM viewflow_task WHERE process_id = %s",
        [task.process_id],
        output_field=IntegerField(),
    )
    expected = Task.objects.select_related(related).annotate(tasks_so_far=count).get(pk=task.pk)

    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = task_for_update(
            task_id=task.pk, related=related, annotations={"tasks_so_far": count}
        )
        got, want = chain(locked, related), chain(expected, related)
        assert [type(o) for o in got] == [type(o) for o in want]
        for mine, theirs in zip(got, want, strict=True):
            if theirs is not None:
                assert fields_of(mine) == fields_of(theirs)
        assert locked.flow_task == expected.flow_task and locked.data == expected.data
        assert locked.tasks_so_far == expected.tasks_so_far
        if related != "process" and got[2] is not None:
            assert locked.process.lead.process is locked.process  # cached both ways
    assert len(queries) == 1  # everything above came with the locked read
    assert queries[0]["sql"].endswith(" FOR UPDATE OF t1, t0")  # the process, then the task


def test_a_shape_nobody_tested_is_refused(new_lead):
    task = open_task(new_lead())
    with pytest.raises(ValueError, match="not a locked read's shape"):
        task_for_update(task_id=task.pk, related="process__lead__client")


def test_a_task_that_is_gone_is_not_found(new_lead):
    task = open_task(new_lead())
    missing = Task(pk=task.pk + 10_000, flow_task=task.flow_task)
    with (
        pytest.raises(NotFound, match=f"Task #{missing.pk} does not exist"),
        locked_task(missing),
    ):
        pass
