"""Who may read the daily report: team leads (``salesflow.view_reports``) and admins; one
access helper per way of reading it (the page, a stored day for an export or the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils.translation import gettext as _

from salesflow.exceptions import NotPermitted
from salesflow.models import VIEW_REPORTS

from .exceptions import ReportNotFound
from .figures import DailyReport
from .selectors import QueueTrend, daily_report, daily_reports, queue_trend, stored_days


def can_read_reports(user: Any) -> bool:
    """Team leads (the ``salesflow.view_reports`` permission) and admins."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(VIEW_REPORTS))


@dataclass(frozen=True)
class ReportOverview:
    """What the report page shows: the day, the day before and the same day a week
    before, and the queue depth over the last 30 days."""

    report: DailyReport
    day_before: DailyReport | None
    week_before: DailyReport | None
    trend: QueueTrend
    first_day: date | None
    last_day: date | None


def access_report_overview(*, user: Any, day: date | None = None) -> ReportOverview:
    """The report page's data for ``user``: ``day`` (default: the latest stored).

    NotPermitted for anyone but team leads and admins; ReportNotFound when the day has
    no stored report (its message names the days that have one)."""
    if not can_read_reports(user):
        raise NotPermitted(_("The daily report is for team leads and admins."))
    first, last = stored_days()
    if last is None:
        raise ReportNotFound(
            _(
                "There is no daily report yet: the first is built the morning after the "
                "first day of work."
            )
        )
    day = day or last
    reports = daily_reports(days=[day, day - timedelta(days=1), day - timedelta(days=7)])
    if day not in reports:
        raise ReportNotFound(
            _("There is no report for %(day)s. Reports exist from %(first)s to %(last)s.")
            % {"day": day.isoformat(), "first": str(first), "last": last.isoformat()}
        )
    return ReportOverview(
        report=reports[day],
        day_before=reports.get(day - timedelta(days=1)),
        week_before=reports.get(day - timedelta(days=7)),
        trend=queue_trend(last_day=day),
        first_day=first,
        last_day=last,
    )


def access_daily_report(*, user: Any, day: date) -> DailyReport:
    """A stored day's report for ``user`` (an export, the API): NotPermitted or
    ReportNotFound as ``access_report_overview``."""
    if not can_read_reports(user):
        raise NotPermitted(_("The daily report is for team leads and admins."))
    report = daily_report(day=day)
    if report is None:
        raise ReportNotFound(_("There is no report for %(day)s.") % {"day": day.isoformat()})
    return report
