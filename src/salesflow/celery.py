"""The Celery app: configured from Django's settings (``CELERY_*``), tasks found in every
installed app's ``tasks`` module. The periodic jobs are in ``salesflow.schedules``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")

app = Celery("salesflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# every log line of a task carries its id (see salesflow.logs)
from .logs import bind_celery_task_ids  # noqa: E402

bind_celery_task_ids()
