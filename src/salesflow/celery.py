"""The Celery app: configured from Django's settings (``CELERY_*``), tasks found in every
installed app's ``tasks`` module. The periodic jobs are in ``salesflow.schedules``.

``publish`` is how the engine's services send a job: by the task's name, so that a service
never imports the module of the Celery task that wraps it (which imports the service)."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import beat_init, worker_init, worker_ready
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from kombu.exceptions import OperationalError
from kombu.utils.url import url_to_parts

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")

app = Celery("salesflow", task_cls="salesflow.celery:CountedTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# every log line of a task carries its id (see salesflow.logs)
from .logs import bind_celery_task_ids  # noqa: E402
from .security import development_defaults_refusal  # noqa: E402

bind_celery_task_ids()

logger = logging.getLogger(__name__)


@worker_init.connect
@beat_init.connect
def refuse_development_defaults_elsewhere(**kwargs: Any) -> None:
    """With ``SALESFLOW_ENV`` unset (the development defaults by omission), a worker or beat
    starts only with a broker on this machine (the default one is a directory here)."""
    url = settings.CELERY_BROKER_URL
    host = "" if url.startswith(("filesystem://", "memory://")) else url_to_parts(url).hostname
    refusal = development_defaults_refusal(where="the broker", host=host or "")
    if refusal:
        raise ImproperlyConfigured(refusal)


# sent by name: the reports layer sits above this module (make lint's layers)
DAILY_REPORT_CATCH_UP = "salesflow.reports.tasks.daily_report_catch_up"


@worker_ready.connect
def catch_up_daily_reports(sender: Any = None, **kwargs: Any) -> None:
    """A worker that starts sends the job that builds the daily reports the morning job
    missed: if the broker was down at 06:00, beat could not send that morning's job and
    does not send it again. Sent, not run here: the worker stays free to start, and the
    job is retried like any other. To a queue this worker consumes, so that it runs even
    on a worker of named queues. Every worker sends it; the job builds a day once."""
    consumed = getattr(sender, "app", app).amqp.queues.consume_from or {}
    queue = next(iter(consumed), None)
    try:
        app.send_task(DAILY_REPORT_CATCH_UP, **({"queue": queue} if queue else {}))
    except OperationalError:
        logger.exception("could not send the daily reports' catch-up to the broker")


def publish(task_name: str, *args: Any) -> bool:
    """Send the job ``task_name`` (a registered task's full name) with ``args``; call it
    after the commit that made its work (``transaction.on_commit``).

    False -- logged, not raised -- when the broker cannot take it: the commit stands (a
    person's completed stage must not turn into an error page), and the caller says what
    picks the work up later. A name no task has is a programming error and raises."""
    if task_name not in app.tasks:  # the tasks modules are imported on the first send
        app.loader.import_default_modules()
    task = app.tasks[task_name]  # KeyError: no such task
    try:
        task.delay(*args)
    except OperationalError:
        logger.exception("could not send %s%r to the broker", task_name, args)
        return False
    return True


# --- a job that kills its worker is not re-delivered forever -----------------------------


class JobParked(Exception):
    """The job was delivered too often without finishing (its worker died each time): it
    is not run again; an admin finds it under Parked jobs."""


def count_delivery(task: Any, args: Any, kwargs: Any) -> None:
    """Count this delivery of the job before it runs (committed at once in a worker); a
    retry (``request.retries``) starts its own count. Past the limit: park it and refuse
    to run it -- the job fails and is acknowledged instead of being handed to yet another
    worker. (A task class, not a ``task_prerun`` signal: Celery logs and swallows what a
    signal's receiver raises, so a signal could not stop the job.)"""
    task_id = task.request.id
    if not task_id:
        return
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from .models import JobDelivery

    attempt = int(task.request.retries or 0)
    with transaction.atomic():
        row, created = JobDelivery.objects.select_for_update().get_or_create(
            task_id=task_id,
            defaults={
                "name": task.name,
                "arguments": repr((args, kwargs))[:2000],
                "attempt": attempt,
                "deliveries": 1,
            },
        )
        if not created:
            if row.attempt != attempt:
                row.attempt, row.deliveries = attempt, 1
            else:
                row.deliveries = F("deliveries") + 1
            row.save(update_fields=["attempt", "deliveries", "last"])
            row.refresh_from_db(fields=["deliveries", "parked"])
        limit = settings.SALESFLOW_JOB_MAX_DELIVERIES
        if row.parked is None and row.deliveries <= limit:
            return
        if row.parked is None:
            row.parked = timezone.now()
            row.save(update_fields=["parked"])
    logger.error(
        "job %s [%s] parked: delivered %d times without finishing (limit %d)",
        task.name,
        task_id,
        row.deliveries,
        limit,
    )
    raise JobParked(
        f"{task.name} [{task_id}] was delivered {row.deliveries} times without finishing; "
        "parked for an admin (admin: Parked jobs)"
    )


def forget_delivery(task_id: str | None) -> None:
    """The job finished (succeeded, failed or will be retried): nothing to count."""
    if not task_id:
        return
    from django.db import DatabaseError

    from .models import JobDelivery

    try:
        JobDelivery.objects.filter(task_id=task_id, parked__isnull=True).delete()
    except DatabaseError:  # the row stays; it counts one delivery too many, no more
        logger.warning("could not clear the delivery count of job %s", task_id, exc_info=True)


class CountedTask(Task):
    """Every job of the app: its deliveries counted (``count_delivery``); a worker killed
    in the middle never reaches the ``finally`` that clears the count."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django.db import DatabaseError

        try:
            count_delivery(self, args, kwargs)
        except DatabaseError:
            # the database is away: the job runs uncounted, fails on it the same way and
            # is retried with backoff by its own autoretry (the count must not stop that)
            logger.warning("could not count a delivery of %s", self.name, exc_info=True)
        task_id = self.request.id
        try:
            # run, not super().__call__: that pushes an empty request over the worker's,
            # and the job's retries would take it for a direct call (Celery's own advice)
            return self.run(*args, **kwargs)
        finally:
            forget_delivery(task_id)
