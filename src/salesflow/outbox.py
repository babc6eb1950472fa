"""The outbox: the product's own notifications recorded before they are sent, sent once.

A notification is recorded (``notification_record``) under a key that names what it is
about; ``notification_send`` commits "sending started" on the row before it speaks to the
mail server and marks it sent after the server accepted the message. So a job that runs
again -- Celery re-queues it when its worker was killed -- never sends a notification a
second time: a row already sent, or attempted by a worker that died before it could mark
it, is left alone (the latter waits in the admin, Notifications, for a person to look).
A mail server that refuses (nothing was sent) clears the attempt and re-raises, so the
job's retry sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .models import Notification

logger = logging.getLogger(__name__)


def notification_record(
    *, key: str, subject: str, body: str, recipients: Sequence[str]
) -> Notification:
    """The notification under ``key``, recorded now unless it was before (then as it is)."""
    notification, _ = Notification.objects.get_or_create(
        key=key[:200],
        defaults={"subject": subject[:300], "body": body, "recipients": list(recipients)},
    )
    return notification


def notification_send(*, notification: Notification) -> bool:
    """Send a recorded notification once; True if this call sent it."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification.pk, attempted__isnull=True, sent__isnull=True)
            .first()
        )
        if row is None:  # sent, being sent, or its send's outcome unknown: not again
            return False
        row.attempted = timezone.now()
        row.save(update_fields=["attempted"])
    try:
        send_mail(row.subject, row.body, settings.DEFAULT_FROM_EMAIL, list(row.recipients))
    except Exception:
        # refused before anything was accepted: the retry may send it
        Notification.objects.filter(pk=row.pk).update(attempted=None)
        raise
    Notification.objects.filter(pk=row.pk).update(sent=timezone.now())
    return True
