"""Background jobs of the company's memory: thin Celery wrappers over its services, run by
Celery beat (``salesflow.schedules``)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from .imap import MailboxUnavailable, mailbox_fetch
from .reminders import reminders_run

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def fetch_mail() -> dict[str, Any]:
    """Take new messages from the company mailbox (``SALESFLOW_IMAP_URL``; nothing when it
    is not set). A mailbox that cannot be read now -- the server down, the password wrong
    -- is logged with the reason and left to the next run (every two minutes): nothing was
    taken from it, so nothing is lost."""
    if not settings.SALESFLOW_IMAP_URL:
        return {"configured": False}
    try:
        report = mailbox_fetch()
    except MailboxUnavailable as unavailable:
        logger.error("company mailbox not read: %s", unavailable.message)
        return {"configured": True, "error": unavailable.message}
    for uid, problem in report.problems:
        logger.warning("company mailbox, message %s: %s", uid, problem)
    return {
        "configured": True,
        "fetched": report.fetched,
        "stored": report.stored,
        "unmatched": report.unmatched,
        "duplicates": report.duplicates,
        "left": report.left,
    }


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=60,
    max_retries=5,
)
def next_steps() -> dict[str, int]:
    """Schedule the next steps of new handoff notes and start the reminders due today
    (idempotent: safe to retry, or to run beside another run)."""
    return reminders_run()
