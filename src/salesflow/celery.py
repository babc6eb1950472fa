"""The Celery app: configured from Django's settings (``CELERY_*``), tasks found in every
installed app's ``tasks`` module, and the beat schedule."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")

app = Celery("salesflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # nurtured leads come back to the hunters on their date (viewflow's Timer nodes)
    "fire-due-timers": {"task": "salesflow.conveyor.tasks.fire_due_timers", "schedule": 60.0},
}
