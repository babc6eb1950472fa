"""A background job that kills its worker each time is not re-delivered forever (issue 12,
item 7c): deliveries of one attempt are counted before the job runs; past
``SALESFLOW_JOB_MAX_DELIVERIES`` it is parked for an admin instead of run again."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone

from salesflow.celery import JobParked
from salesflow.models import JobDelivery
from salesflow.queues.tasks import scan_stalled
from salesflow.queues.terms import terms_of

from .conftest import open_task

pytestmark = pytest.mark.django_db


def test_a_job_that_finishes_leaves_no_count_behind(new_lead):
    assert scan_stalled.apply(task_id="job-1").get() == 0
    assert not JobDelivery.objects.exists()


@override_settings(SALESFLOW_JOB_MAX_DELIVERIES=3)
def test_a_job_delivered_too_often_without_finishing_is_parked_not_run(new_lead):
    late = open_task(new_lead())
    # what three workers killed in the middle of this job (out of memory) leave behind
    JobDelivery.objects.create(task_id="job-oom", name=scan_stalled.name, attempt=0, deliveries=3)
    with time_machine.travel(timezone.now() + timedelta(days=3), tick=False):
        with pytest.raises(JobParked, match="delivered 4 times without finishing"):
            scan_stalled.apply(task_id="job-oom")
        late.refresh_from_db()
        assert terms_of(late).stalled is None  # the job did not run
        parked = JobDelivery.objects.get(task_id="job-oom")
        assert parked.parked is not None and parked.deliveries == 4  # kept for an admin
        with pytest.raises(JobParked):  # delivered once more: still not run
            scan_stalled.apply(task_id="job-oom")

        # a job killed fewer times than the limit runs, and its count is cleared
        JobDelivery.objects.create(
            task_id="job-once", name=scan_stalled.name, attempt=0, deliveries=1
        )
        assert scan_stalled.apply(task_id="job-once").get() == 1
        assert not JobDelivery.objects.filter(task_id="job-once").exists()


def test_a_retry_counts_its_deliveries_afresh(new_lead):
    """A retry (the database was away) is not a worker's death: its count starts again."""
    JobDelivery.objects.create(task_id="job-r", name=scan_stalled.name, attempt=0, deliveries=3)
    assert scan_stalled.apply(task_id="job-r", retries=1).get() == 0
    assert not JobDelivery.objects.filter(task_id="job-r").exists()
