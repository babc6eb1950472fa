"""Background jobs of the pools: thin Celery wrappers over the pools' services.

All are idempotent (safe to run twice, and acknowledged late so a worker killed mid-way
leaves them to another), and retried with backoff when the database or the mail server
is briefly away. Services send them by name (``salesflow.celery.publish``).
"""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.db import DatabaseError

from .distribution import handouts_sweep, task_auto_assign
from .stalled import StalledRowsLocked, stalled_notify, stalled_scan

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "max_retries": 8, "acks_late": True}


@shared_task(autoretry_for=(DatabaseError,), **RETRY)
def auto_assign(task_id: int) -> int | None:
    """Hand a new task to a member of its pool (enqueued after the commit that made it)."""
    person = task_auto_assign(task_id=task_id)
    return person.pk if person else None


@shared_task(autoretry_for=(DatabaseError,), **RETRY)
def hand_out_waiting(grace_seconds: int = 60) -> int:
    """Hand out new tasks whose hand-out job never reached a worker (the broker was down
    when they were made); scheduled every minute in salesflow.schedules."""
    return len(handouts_sweep(grace=timedelta(seconds=grace_seconds)))


@shared_task(autoretry_for=(DatabaseError, StalledRowsLocked), **RETRY)
def scan_stalled() -> int:
    """Mark stalled tasks (scheduled in salesflow.schedules; editable in the admin); rows
    another transaction held locked -- a killed worker's session not yet ended -- make
    it retry later (with backoff) instead of succeeding empty."""
    return len(stalled_scan(retry_if_locked=True))


@shared_task(autoretry_for=(DatabaseError, SMTPException, OSError), **RETRY)
def notify_stalled(task_ids: list[int]) -> int:
    """Tell the team leads which tasks were just marked stalled."""
    return stalled_notify(task_ids=task_ids)
