"""The Celery app: configured from Django's settings (``CELERY_*``), tasks found in every
installed app's ``tasks`` module. The periodic jobs are in ``salesflow.schedules``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")

app = Celery("salesflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
