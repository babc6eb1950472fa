"""Background jobs of pay: thin Celery wrappers over its services."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.db import DatabaseError

from salesflow.models import Notification
from salesflow.outbox import notification_send

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "max_retries": 8, "acks_late": True}


@shared_task(
    name="salesflow.pay.tasks.send_notification",
    autoretry_for=(DatabaseError, SMTPException, OSError),
    **RETRY,
)
def send_notification(notification_id: int) -> bool:
    """Send a pay notification recorded in the outbox (a dispute's answer), once."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return False
    return notification_send(notification=notification)
