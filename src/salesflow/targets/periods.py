"""A target's period -- a day, an ISO week or a month -- and how a person writes one.

``2026-12-07`` is a day, ``2026-W49`` an ISO week (Monday to Sunday), ``2026-12`` a month.
A period's bounds are local midnights in ``settings.TIME_ZONE`` (as the daily report's), so
a figure of a day here is the figure of the same day there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from salesflow.exceptions import SalesflowError

DAY, WEEK, MONTH = "day", "week", "month"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# the years a period may fall in (a trend reaches back from it; the end of a period must
# still be a date)
FIRST_YEAR, LAST_YEAR = 1970, 9000


class PeriodInvalid(SalesflowError):
    """A period or a date range a person typed that cannot be used."""


@dataclass(frozen=True)
class Period:
    """``[first, last]`` days of one day, week or month."""

    kind: str
    first: date

    @property
    def last(self) -> date:
        if self.kind == DAY:
            return self.first
        if self.kind == WEEK:
            return self.first + timedelta(days=6)
        following = (self.first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return following - timedelta(days=1)

    @property
    def start(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        return local_midnight(self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        if self.kind == DAY:
            return self.first.isoformat()
        if self.kind == WEEK:
            year, week, _day = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first:%Y-%m}"

    def previous(self) -> Period:
        return period_containing(self.kind, self.first - timedelta(days=1))

    def next(self) -> Period:
        return period_containing(self.kind, self.last + timedelta(days=1))

    def __str__(self) -> str:
        return self.label


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def period_containing(kind: str, day: date) -> Period:
    if kind == DAY:
        return Period(DAY, day)
    if kind == WEEK:
        return Period(WEEK, day - timedelta(days=day.weekday()))
    return Period(MONTH, day.replace(day=1))


def period_parse(text: str) -> Period:
    """``2026-12-07`` | ``2026-W49`` | ``2026-12`` -> Period; PeriodInvalid otherwise."""
    value = (text or "").strip()
    try:
        if match := _WEEK.match(value):
            period = Period(WEEK, date.fromisocalendar(int(match[1]), int(match[2]), 1))
        elif match := _MONTH.match(value):
            period = Period(MONTH, date(int(match[1]), int(match[2]), 1))
        else:
            period = Period(DAY, date.fromisoformat(value))
        if not FIRST_YEAR <= period.first.year <= LAST_YEAR:
            raise ValueError(value)
        return period
    except ValueError:
        raise PeriodInvalid(
            _(
                "%(value)r is not a period: write a day (2026-12-07), an ISO week (2026-W49) "
                "or a month (2026-12)."
            )
            % {"value": value}
        ) from None


def periods_back(period: Period, count: int) -> list[Period]:
    """``count`` periods ending with ``period``, oldest first."""
    result = [period]
    while len(result) < count:
        result.append(result[-1].previous())
    return result[::-1]
