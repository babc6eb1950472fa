"""The funnel as the reports show it: who may read it, its tables (the page, CSV, XLSX),
its JSON document (the API, the command) and its charts.

The figures are ``salesflow.targets.funnel``'s; this module only checks the reader (team
leads and admins, as the daily report) and the range, and lays the figures out.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from datetime import date
from typing import Any

from defusedcsv import csv
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from salesflow.clients.models import Lead
from salesflow.exceptions import NotPermitted
from salesflow.targets.funnel import Funnel, funnel, funnel_range_check

from . import charts
from .access import can_read_reports
from .exports import Table, _xlsx_cell
from .layout import stage_order

KINDS = ("new", "repeat", "reactivation")


def access_funnel(*, user: Any, first: date | None, last: date | None) -> Funnel:
    """The funnel of ``[first, last]`` for ``user``: NotPermitted for anyone but team
    leads and admins; PeriodInvalid for a range that cannot be reported."""
    if not can_read_reports(user):
        raise NotPermitted(_("The funnel is for team leads and admins."))
    first, last = funnel_range_check(first=first, last=last)
    return funnel(first=first, last=last)


def kind_titles() -> dict[str, str]:
    return {
        "new": _("New clients"),
        "repeat": _("Repeat orders"),
        "reactivation": _("Reactivations"),
    }


def funnel_tables(result: Funnel) -> list[Table]:
    sources = dict(Lead.Source.choices)
    titles = kind_titles()
    position = {ref: n for n, ref in enumerate(stage_order())}  # the conveyor's order
    return [
        Table(
            "Funnel",
            _("Funnel"),
            [_("Step"), _("Deals"), _("Value"), _("Conversion from the step before, %")],
            [
                [_("Leads in"), result.leads, None, None],
                [_("Qualified"), result.qualified, None, result.conversion["lead_to_qualified"]],
                [
                    _("Orders"),
                    result.orders,
                    result.orders_value,
                    result.conversion["qualified_to_order"],
                ],
                [
                    _("Delivered"),
                    result.delivered,
                    result.delivered_value,
                    result.conversion["order_to_delivered"],
                ],
            ],
        ),  # fmt: skip
        Table(
            "Leads by source",
            _("Leads by source"),
            [_("Source"), _("Leads")],
            [[str(sources.get(k, k)), v] for k, v in result.leads_by_source.items()],
        ),
        Table(
            "Lost",
            _("Lost and disqualified, with their reasons"),
            [_("Reason"), _("Outcome"), _("Deals")],
            [[reason, _("lost"), n] for reason, n in result.lost.items()]
            + [[reason, _("disqualified"), n] for reason, n in result.disqualified.items()],
        ),
        Table(
            "Stages",
            _("Stages, time and the open pipeline"),
            [
                _("Stage"),
                _("Finished in the range"),
                _("Median time, h"),
                _("Open now"),
                _("Open value"),
                _("Delivered of those that reached it, %"),
                _("Forecast"),
            ],
            [
                [
                    s.title,
                    s.finished,
                    s.median_hours,
                    s.open,
                    s.open_value,
                    s.delivered_share,
                    s.forecast,
                ]
                for s in sorted(result.stages, key=lambda s: position.get(s.node, len(position)))
            ],
        ),  # fmt: skip
        Table(
            "Revenue",
            _("Delivered revenue by kind"),
            [_("Month"), *[titles[k] for k in KINDS]],
            [
                [month.strftime("%Y-%m"), *[row[k] for k in KINDS]]
                for month, row in result.revenue_trend
            ]
            + [[_("The range"), *[result.revenue[k] for k in KINDS]]],
        ),  # fmt: skip
    ]


def funnel_document(result: Funnel) -> dict[str, Any]:
    data = asdict(result)
    data["revenue_trend"] = [
        {"month": month.isoformat(), **row} for month, row in result.revenue_trend
    ]
    document: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return document


def funnel_file(result: Funnel, file_format: str) -> bytes:
    if file_format == "json":
        return json.dumps(funnel_document(result), ensure_ascii=False, indent=2).encode()
    tables = funnel_tables(result)
    if file_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        for number, table in enumerate(tables):
            if number:
                writer.writerow([])
            writer.writerow([table.title])
            writer.writerow(table.columns)
            writer.writerows(table.rows)
        return out.getvalue().encode()
    if file_format == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        for table in tables:
            sheet = workbook.create_sheet(title=table.title[:31])
            sheet.append(table.columns)
            for row in table.rows:
                sheet.append([_xlsx_cell(sheet, value) for value in row])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown funnel format {file_format!r}")


def funnel_file_name(result: Funnel, file_format: str) -> str:
    return f"salesflow-funnel-{result.first.isoformat()}-{result.last.isoformat()}.{file_format}"


def funnel_charts(result: Funnel) -> dict[str, charts.Chart]:
    titles = kind_titles()
    months = [month.strftime("%m.%Y") for month, _row in result.revenue_trend]
    return {
        "steps": charts.bar_chart(
            _("Deals at each step in the range"),
            [_("Leads in"), _("Qualified"), _("Orders"), _("Delivered")],
            [(_("deals"), [result.leads, result.qualified, result.orders, result.delivered])],
        ),
        "revenue": charts.line_chart(
            _("Delivered revenue by kind, per month"),
            months,
            [(titles[k], [int(row[k]) for _month, row in result.revenue_trend]) for k in KINDS],
        ),
    }
