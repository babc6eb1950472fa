"""The periodic jobs and their default schedules.

The schedules live in django-celery-beat's tables so that an admin can change them (or
switch one off) in the Django admin; ``schedules_sync`` -- run after every migrate --
creates the jobs that are missing and never overwrites an admin's changes.

Each entry: a unique name -> the Celery task and either ``every`` (seconds) or ``crontab``
(django-celery-beat CrontabSchedule fields; the time zone is settings.TIME_ZONE).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULT_SCHEDULES: dict[str, dict[str, Any]] = {
    "conveyor: fire due timers": {
        # nurtured leads come back to the hunters on their date (viewflow's Timer nodes)
        "task": "salesflow.conveyor.tasks.fire_due_timers",
        "every": 60,
    },
    "queues: mark stalled tasks": {
        # past the stage's SLA, or assigned and untouched for the role's idle limit
        "task": "salesflow.queues.tasks.scan_stalled",
        "every": 300,
    },
    "clients: reactivate lapsed clients": {
        # customers whose reorder cycle ran out come back to the account pool, once a cycle
        "task": "salesflow.clients.tasks.reactivate_lapsed_clients",
        "crontab": {"minute": "0", "hour": "7"},
    },
    "api: forget old idempotency keys": {
        "task": "salesflow.api.tasks.expire_idempotency_keys",
        "crontab": {"minute": "30", "hour": "3"},
    },
    "reports: daily queue report": {
        # yesterday's report, stored and e-mailed to the report's recipients
        "task": "salesflow.reports.tasks.daily_report",
        "crontab": {"minute": "0", "hour": "6"},
    },
    "activities: fetch the company mailbox": {
        # new mail joins the clients' timelines (nothing when SALESFLOW_IMAP_URL is not set)
        "task": "salesflow.activities.tasks.fetch_mail",
        "every": 120,
    },
    "activities: next steps become reminders": {
        # handoff notes' next-step dates scheduled; reminders due today started
        "task": "salesflow.activities.tasks.next_steps",
        "every": 600,
    },
    "queues: hand out waiting tasks": {
        # new tasks of distributing pools whose hand-out never reached a worker (the broker
        # was down when the stage before them was completed)
        "task": "salesflow.queues.tasks.hand_out_waiting",
        "every": 60,
    },
    "flows: the database operator's queue": {
        # duplicates, incomplete cards, failed contacts, unmatched mail -> the operators'
        # pool (a job of the company's flows, sent by name: the engine does not import it)
        "task": "flows.tasks.data_quality_scan",
        "every": 900,
    },
}


def schedules_sync() -> list[str]:
    """Create the default periodic jobs that do not exist yet; returns their names."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = []
    for name, spec in DEFAULT_SCHEDULES.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        kwargs: dict[str, Any] = {"name": name, "task": spec["task"]}
        if "every" in spec:
            kwargs["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=spec["every"], period=IntervalSchedule.SECONDS
            )
        else:
            kwargs["crontab"], _ = CrontabSchedule.objects.get_or_create(
                timezone=settings.TIME_ZONE, **spec["crontab"]
            )
        PeriodicTask.objects.create(**kwargs)
        created.append(name)
    return created
