"""The report's pages, in viewflow's site as their own application ("Reports").

Thin: parse the form, call one selector (which checks the reader may see reports), render.
A refusal is shown with its message: 403 for a person who is not a team lead or an admin
(the menu hides the application from them too), 404 for a day without a report.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views import View
from viewflow.urls import Application

from salesflow.exceptions import NotPermitted, SalesflowError
from salesflow.targets.funnel import CONVERSION_NOTE
from salesflow.targets.periods import MONTH, period_containing
from salesflow.targets.selectors import team_grid

from . import charts
from .access import (
    ReportOverview,
    access_daily_report,
    access_report_overview,
    can_read_reports,
)
from .exports import CONTENT_TYPES, FORMATS, Table, file_name, report_file, report_tables
from .funnel import access_funnel, funnel_charts, funnel_file, funnel_file_name, funnel_tables
from .layout import outcome_label
from .models import AGE_BUCKET_LABELS
from .selectors import dependence_trend, key_figures
from .templatetags.reports import sf_figure


class DayForm(forms.Form):
    day = forms.DateField(
        label=pgettext_lazy("report", "Day"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class ExportForm(forms.Form):
    day = forms.DateField(label=pgettext_lazy("report", "Day"))
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=[(f, f) for f in FORMATS])


def _refused(error: SalesflowError) -> None:
    """Refusals a page cannot show as content: raised as Django's own responses."""
    if isinstance(error, NotPermitted):
        raise PermissionDenied(error.message)


def _cell(value: Any, *, rate: bool) -> Any:
    """A figure as a person reads it: amounts with thousands separators in the reader's
    format, a rate as a percentage (the downloads keep the plain numbers)."""
    if rate and isinstance(value, (int, float, Decimal)):
        return f"{number_format(Decimal(str(value)) * 100, 1, force_grouping=True)} %"
    return sf_figure(value)


def _for_reading(table: Table) -> Table:
    rates = {i for i, column in enumerate(table.columns) if column == _("Bounce rate")}
    rows = [[_cell(v, rate=i in rates) for i, v in enumerate(row)] for row in table.rows]
    return Table(table.name, table.title, table.columns, rows)


def _charts(overview: ReportOverview) -> dict[str, charts.Chart]:
    report = overview.report
    trend = overview.trend
    return {
        "depth": charts.line_chart(
            _("Open work per role at the end of each day, last 30 days"),
            [day.strftime("%d.%m") for day in trend.days],
            trend.series,
        ),
        "ages": charts.bar_chart(
            _("Age of open work at the end of the day, per role"),
            [str(label) for label in AGE_BUCKET_LABELS],
            [(row.title, row.age_buckets) for row in report.roles if row.open],
        ),
        "throughput": charts.bar_chart(
            _("Throughput per stage during the day"),
            [row.title for row in report.stages],
            [
                (_("created"), [row.created for row in report.stages]),
                (_("completed"), [row.completed for row in report.stages]),
                (_("sent back"), [row.bounces_received for row in report.stages]),
            ],
        ),
    }


class DailyReportView(View):
    """The day's report beside the day before and the same day a week before."""

    template_name = "salesflow/reports/daily.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form = DayForm(request.GET or None)
        context: dict[str, Any] = {"form": form}
        if form.is_bound and not form.is_valid():
            return render(request, self.template_name, context, status=400)
        day: date | None = form.cleaned_data.get("day") if form.is_bound else None
        try:
            overview = access_report_overview(user=request.user, day=day)
        except SalesflowError as error:
            _refused(error)
            context["refusal"] = error.message
            return render(request, self.template_name, context, status=error.status)
        report = overview.report
        if not form.is_bound:  # the latest day: the day picker says which it is
            context["form"] = DayForm(initial={"day": report.day})
        reliance = dependence_trend(last_day=report.day)
        month = period_containing(MONTH, report.day)
        context.update(
            team=team_grid(period=month, until=report.ends),
            team_month=month,
            dependence=reliance,
            dependence_chart=charts.line_chart(
                _("Clients that depend on one person, percent of those worked on, last 30 days"),
                [day.strftime("%d.%m") for day in reliance.days],
                [
                    (
                        _("depend on one person, %"),
                        [None if share is None else round(share) for share in reliance.shares],
                    )
                ],
            ),
            overview=overview,
            report=report,
            figures=key_figures(report, overview.day_before, overview.week_before),
            charts=_charts(overview),
            tables={
                slugify(t.name).replace("-", "_"): _for_reading(t) for t in report_tables(report)
            },
            formats=FORMATS,
            outcome_label=outcome_label,
        )
        return render(request, self.template_name, context)


class ExportView(View):
    """A stored day's report as a file: ``?day=YYYY-MM-DD&format=json|csv|xlsx``."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not can_read_reports(request.user):
            raise PermissionDenied(_("The daily report is for team leads and admins."))
        form = ExportForm(request.GET)
        if not form.is_valid():
            return render(request, "salesflow/reports/daily.html", {"form": form}, status=400)
        file_format = form.cleaned_data["format"]
        try:
            report = access_daily_report(user=request.user, day=form.cleaned_data["day"])
        except SalesflowError as error:
            _refused(error)
            return render(
                request,
                "salesflow/reports/daily.html",
                {"form": DayForm(), "refusal": error.message},
                status=error.status,
            )
        response = HttpResponse(
            report_file(report, file_format), content_type=CONTENT_TYPES[file_format]
        )
        response["Content-Disposition"] = f'attachment; filename="{file_name(report, file_format)}"'
        return response


class FunnelForm(forms.Form):
    first = forms.DateField(
        label=gettext_lazy("From"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    last = forms.DateField(
        label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[(f, f) for f in FORMATS], required=False
    )


class FunnelView(View):
    """The funnel and forecast for a date range (default: this month so far); with
    ``format`` the same figures as a file."""

    template_name = "salesflow/reports/funnel.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if not can_read_reports(request.user):
            raise PermissionDenied(_("The funnel is for team leads and admins."))
        today = timezone.localdate()
        data = request.GET or {"first": today.replace(day=1), "last": today}
        form = FunnelForm(data)
        context: dict[str, Any] = {"form": form, "formats": FORMATS}
        if not form.is_valid():
            return render(request, self.template_name, context, status=400)
        try:
            result = access_funnel(
                user=request.user,
                first=form.cleaned_data["first"],
                last=form.cleaned_data["last"],
            )
        except SalesflowError as error:
            _refused(error)
            context["refusal"] = error.message
            return render(request, self.template_name, context, status=error.status)
        file_format = form.cleaned_data.get("format")
        if file_format:
            response = HttpResponse(
                funnel_file(result, file_format), content_type=CONTENT_TYPES[file_format]
            )
            name = funnel_file_name(result, file_format)
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        context.update(
            funnel=result,
            charts=funnel_charts(result),
            tables={slugify(t.name).replace("-", "_"): t for t in funnel_tables(result)},
            conversion_note=CONVERSION_NOTE,
        )
        return render(request, self.template_name, context)


class ReportsApplication(Application):
    """ "Reports" in the site's menu, shown only to those who may read the report."""

    title = gettext_lazy("Reports")
    icon = "insights"
    app_name = "reports"
    menu_template_name = "salesflow/reports/menu.html"
    permission = staticmethod(can_read_reports)

    daily_path = path("daily/", DailyReportView.as_view(), name="daily")
    export_path = path("daily/export/", ExportView.as_view(), name="export")
    funnel_path = path("funnel/", FunnelView.as_view(), name="funnel")
