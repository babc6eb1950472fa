"""The Celery app: configured from Django's settings (``CELERY_*``), tasks found in every
installed app's ``tasks`` module. The periodic jobs are in ``salesflow.schedules``.

``publish`` is how the engine's services send a job: by the task's name, so that a service
never imports the module of the Celery task that wraps it (which imports the service)."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery
from celery.signals import beat_init, worker_init
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from kombu.exceptions import OperationalError
from kombu.utils.url import url_to_parts

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")

app = Celery("salesflow")
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
