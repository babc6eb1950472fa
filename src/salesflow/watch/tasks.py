"""The leak watch's background job: a thin Celery wrapper over ``services.leak_notify``."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.db import DatabaseError

from .services import leak_notify

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "max_retries": 8, "acks_late": True}


@shared_task(autoretry_for=(DatabaseError, SMTPException, OSError), **RETRY)
def notify_leak(alert_id: int) -> int:
    """Tell the team leads about a leak early warning (sent after the commit that raised it)."""
    return leak_notify(alert_id=alert_id)
