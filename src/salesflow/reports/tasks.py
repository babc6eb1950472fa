"""The scheduled daily report: a thin Celery wrapper over the report's services.

Run by Celery beat every morning (``salesflow.schedules``: "reports: daily queue report",
its time editable by an admin) for the day before. Safe to
run again: the day's snapshot is replaced, not duplicated, and the e-mail goes out once per
day. A day the morning job missed (the broker or the worker was down at 06:00) is built by
the next run and at every worker's start (``daily_report_catch_up``, sent by
``salesflow.celery`` when a worker is ready), once: it then has its snapshot (not e-mailed:
the mail is the morning job's).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from .exceptions import NoRecipients, ReportDayInvalid
from .services import daily_report_build, daily_report_email
from .services import daily_report_catch_up as catch_up

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError, OSError),  # OSError covers SMTP and connection errors
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    max_retries=6,
)
def daily_report(day: str | None = None) -> dict[str, Any]:
    """Build ``day``'s report (ISO date; default: yesterday in settings.TIME_ZONE), store
    it and e-mail it to the recipients. A day that cannot be reported (no data yet) and a
    missing recipient list are logged, not retried: running again would not help."""
    report_day = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    # yesterday is built below in any case (a re-run replaces it): the days before it
    missed = [] if day else catch_up(until=report_day - timedelta(days=1))
    missed_days = [missed_day.isoformat() for missed_day in missed]
    try:
        daily_report_build(day=report_day)
    except ReportDayInvalid as refusal:
        logger.warning("daily report for %s not built: %s", report_day, refusal.message)
        return {
            "day": report_day.isoformat(),
            "built": False,
            "emailed": False,
            "missed": missed_days,
        }
    try:
        emailed = daily_report_email(day=report_day)
    except NoRecipients as refusal:
        logger.warning("daily report for %s not e-mailed: %s", report_day, refusal.message)
        emailed = False
    return {"day": report_day.isoformat(), "built": True, "emailed": emailed, "missed": missed_days}


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=60,
    retry_backoff_max=30 * 60,
    max_retries=6,
)
def daily_report_catch_up() -> list[str]:
    """Build every day up to yesterday the morning job missed, each once (sent at every
    worker's start: the broker may have been down at 06:00, and beat does not send a
    missed job again). Returns the days built."""
    yesterday = timezone.localdate() - timedelta(days=1)
    return [day.isoformat() for day in catch_up(until=yesterday)]
