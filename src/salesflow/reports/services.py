"""Building, storing and e-mailing the daily queue report.

``daily_report_build`` computes a day with the selectors' aggregate queries -- as of the
end of that day, so a backfill gives the live run's figures -- and then replaces the day's
stored snapshot in one transaction: a run that fails leaves the previous snapshot as it
was, and the unique day keeps one snapshot per day however often it runs.
``daily_report_email`` sends a stored day to the recipients an admin keeps, once.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection, models, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .exceptions import NoRecipients, ReportDayInvalid, ReportNotFound
from .exports import CONTENT_TYPES, file_name, report_xlsx
from .figures import DailyReport, day_figures
from .layout import data_start
from .models import (
    Contribution,
    PersonFigures,
    RoleFigures,
    Snapshot,
    StageFigures,
    TransitionFigures,
)
from .selectors import daily_reports, key_figures, report_recipients

ROW_MODELS = (RoleFigures, StageFigures, PersonFigures, TransitionFigures, Contribution)

logger = logging.getLogger(__name__)


def report_day_check(*, day: date) -> None:
    """Refuse (ReportDayInvalid) a day that cannot be reported: today or later (it has not
    ended), or a day before the first conveyor task."""
    today = timezone.localdate()
    if day >= today:
        raise ReportDayInvalid(
            _(
                "%(day)s has not ended yet: a day's report can be built from the next day on "
                "(the latest is %(yesterday)s)."
            )
            % {"day": day.isoformat(), "yesterday": (today - timedelta(days=1)).isoformat()}
        )
    first = data_start()
    if first is None:
        raise ReportDayInvalid(_("There is no conveyor data yet: nothing to report."))
    if day < first:
        raise ReportDayInvalid(
            _("The conveyor's data begins on %(first)s; %(day)s is before it.")
            % {"first": first.isoformat(), "day": day.isoformat()}
        )


def daily_report_missing_days(*, until: date) -> list[date]:
    """The days up to ``until`` (included) that have no stored report, from the first
    stored day on -- at most ``settings.SALESFLOW_REPORT_CATCH_UP_DAYS`` back from
    ``until``. None while nothing is stored: a new installation's reports begin with its
    first morning job, not with a backfill of its whole history (``salesflow report daily
    --date D`` does that on request)."""
    first = Snapshot.objects.order_by("day").values_list("day", flat=True).first()
    if first is None:
        return []
    limit = until - timedelta(days=max(settings.SALESFLOW_REPORT_CATCH_UP_DAYS - 1, 0))
    start = max(first, limit)
    stored = set(
        Snapshot.objects.filter(day__gte=start, day__lte=until).values_list("day", flat=True)
    )
    days = (start + timedelta(days=n) for n in range((until - start).days + 1))
    return [day for day in days if day not in stored]


# the first key of the two-key advisory locks on a report's day (see conveyor.locking)
_REPORT_DAY_LOCK_SPACE = 0x5A20


def daily_report_build_missing(*, day: date) -> bool:
    """Build ``day``'s report only if it has none; False if it already had one. Runs
    started at once (two workers starting, a worker's start beside the morning job)
    build a day once: the day is locked (a PostgreSQL advisory lock, held until the
    transaction ends) before it is looked for, and built in the same transaction.
    SQLite lets one writer in at a time anyway. ReportDayInvalid as ``daily_report_build``."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)",
                    [_REPORT_DAY_LOCK_SPACE, day.toordinal()],
                )
        if Snapshot.objects.filter(day=day).exists():
            return False
        daily_report_build(day=day)
    logger.info("daily report for %s built: the morning job had missed it", day)
    return True


def daily_report_catch_up(*, until: date) -> list[date]:
    """Build every day up to ``until`` the morning job missed (``daily_report_missing_days``),
    each once; returns the days built. A day that cannot be reported (before the data
    begins) is logged and skipped. Nothing is e-mailed: the e-mail is the morning job's
    (``salesflow report daily --date D --email`` sends a missed one)."""
    built = []
    for day in daily_report_missing_days(until=until):
        try:
            if daily_report_build_missing(day=day):
                built.append(day)
        except ReportDayInvalid as refusal:
            logger.warning("missed daily report for %s not built: %s", day, refusal.message)
    return built


def _values(model: type[models.Model], row: Any) -> dict[str, Any]:
    """The model's figure fields, read from a report row of the same names."""
    return {
        field.attname: getattr(row, field.attname)
        for field in model._meta.concrete_fields
        if hasattr(row, field.attname) and field.attname not in ("id", "snapshot_id")
    }


def daily_report_build(*, day: date) -> Snapshot:
    """Compute ``day``'s report and store it, replacing that day's snapshot if there is
    one (its ``emailed`` is kept). ReportDayInvalid, before anything is read or written,
    for a day that cannot be reported."""
    report_day_check(day=day)
    report = day_figures(day=day)
    with transaction.atomic():
        snapshot, _ = Snapshot.objects.update_or_create(
            day=day,
            defaults={
                "starts": report.starts,
                "ends": report.ends,
                "time_zone": report.time_zone,
                "generated": timezone.now(),
                "orders_delivered": report.orders_delivered,
                "delivered_amount": report.delivered_amount,
                "active_clients": report.active_clients,
                "dependent_clients": report.dependent_clients,
            },
        )
        for model in ROW_MODELS:
            model._default_manager.filter(snapshot=snapshot).delete()
        RoleFigures.objects.bulk_create(
            RoleFigures(snapshot=snapshot, role=row.key, **_values(RoleFigures, row))
            for row in report.roles
        )
        StageFigures.objects.bulk_create(
            StageFigures(snapshot=snapshot, node=row.key, **_values(StageFigures, row))
            for row in report.stages
        )
        PersonFigures.objects.bulk_create(
            PersonFigures(snapshot=snapshot, **_values(PersonFigures, row)) for row in report.people
        )
        TransitionFigures.objects.bulk_create(
            TransitionFigures(snapshot=snapshot, **_values(TransitionFigures, row))
            for row in report.transitions
        )
        Contribution.objects.bulk_create(
            Contribution(snapshot=snapshot, **_values(Contribution, row)) for row in report.ledger
        )
    return snapshot


def _message(reports: dict[date, DailyReport], day: date, to: list[str]) -> EmailMessage:
    report = reports[day]
    context = {
        "report": report,
        "figures": key_figures(
            report, reports.get(day - timedelta(days=1)), reports.get(day - timedelta(days=7))
        ),
    }
    message = EmailMessage(
        subject=_("Daily queue report for %(day)s") % {"day": day.isoformat()},
        body=render_to_string("salesflow/reports/email.txt", context),
        to=to,
    )
    message.attach(file_name(report, "xlsx"), report_xlsx(report), CONTENT_TYPES["xlsx"])
    return message


def daily_report_email(*, day: date, force: bool = False) -> bool:
    """E-mail ``day``'s stored report to the active recipients: the key figures beside the
    day before's and the week before's in the body, the whole report as XLSX attached, in
    the installation's language.

    Once per day: False, and nothing sent, if it already went out (unless ``force``).
    NoRecipients when an admin has configured none; ReportNotFound when the day has no
    stored report (build it first)."""
    recipients = report_recipients()
    if not recipients:
        raise NoRecipients(
            _(
                "Nobody would get the daily report: add recipients under Reports → Report "
                "recipients in the admin."
            )
        )
    # The outbox's rule (salesflow.outbox): "started" is committed before the mail server
    # is spoken to and "e-mailed" after it accepted, so a job run again after its worker
    # died never sends the day twice; a start with no end is left for a person (--email).
    with transaction.atomic():
        snapshot = Snapshot.objects.select_for_update().filter(day=day).first()
        if snapshot is None:
            raise ReportNotFound(
                _("There is no report for %(day)s: build it first.") % {"day": day.isoformat()}
            )
        if not force and snapshot.emailed is not None:
            return False
        if not force and snapshot.email_started is not None:
            logger.error(
                "the report of %s was being e-mailed when its worker stopped: not sent "
                "again (salesflow report daily --date %s --email sends it)",
                day,
                day,
            )
            return False
        with translation.override(settings.LANGUAGE_CODE):
            reports = daily_reports(days=[day, day - timedelta(days=1), day - timedelta(days=7)])
            message = _message(reports, day, recipients)
        snapshot.email_started = timezone.now()
        snapshot.save(update_fields=["email_started"])
    try:
        message.send()
    except Exception:
        # refused before anything was accepted: the job's retry sends it
        Snapshot.objects.filter(pk=snapshot.pk).update(email_started=None)
        raise
    Snapshot.objects.filter(pk=snapshot.pk).update(emailed=timezone.now())
    return True
