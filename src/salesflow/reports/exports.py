"""A day's report as files: JSON (the plain data), CSV and XLSX (the page's tables).

CSV and XLSX carry the same tables: the XLSX one sheet per table, the CSV the tables one
after another, each under a line with its title and separated by an empty line. Ages and
latencies are in hours there (people read them in spreadsheets), in seconds in JSON.

Names in them come from outside (a company name typed into the public form): a text that
a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) is written as text --
the CSV by defusedcsv (an apostrophe before it), the XLSX as a cell of type string.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from typing import Any

from defusedcsv import csv
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .figures import DailyReport
from .layout import outcome_label
from .models import AGE_BUCKET_LABELS

FORMATS = ("json", "csv", "xlsx")
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclass(frozen=True)
class Table:
    name: str  # a stable key (the page finds its tables by it)
    title: str  # in the reader's language; also the XLSX sheet's name
    columns: list[str]
    rows: list[list[Any]]


def hours(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 1)


def outcomes_text(outcomes: dict[str, int]) -> str:
    return "; ".join(f"{outcome_label(k)}: {v}" for k, v in sorted(outcomes.items()))


def report_tables(report: DailyReport) -> list[Table]:
    """The report's tables, as the page, the CSV and the XLSX show them."""
    totals = report.totals
    summary: list[list[Any]] = [
        [pgettext("report", "Day"), report.day.isoformat()],
        [_("Time zone"), report.time_zone],
        [_("Generated"), report.generated.isoformat() if report.generated else ""],
        [_("Open at the end of the day"), totals.open],
        [_("Unassigned"), totals.unassigned],
        [_("In work"), totals.in_work],
        [_("Stalled"), totals.stalled],
        [_("SLA breaches"), totals.sla_breaches],
        [pgettext("report", "Created"), totals.created],
        [_("Completed"), totals.completed],
        [_("Handoffs written"), totals.handoffs],
        [_("Bounces"), totals.bounces_received],
        [_("Orders delivered"), report.orders_delivered],
        [_("Amount delivered"), report.delivered_amount],
    ]
    queue_columns = [
        _("Open"), _("Unassigned"), _("In work"), _("Stalled"), _("Overdue"),
        _("Finished late"), _("SLA breaches"), _("Oldest age, h"), _("Median age, h"),
        pgettext("report", "Created"), _("Completed"), _("Outcomes"), _("Handoffs written"),
        _("Bounces received"), _("Bounces caused"),
    ]  # fmt: skip

    def queue(row: Any) -> list[Any]:
        return [
            row.open, row.unassigned, row.in_work, row.stalled, row.overdue, row.finished_late,
            row.sla_breaches, hours(row.oldest_age_seconds), hours(row.median_age_seconds),
            row.created, row.completed, outcomes_text(row.outcomes), row.handoffs,
            row.bounces_received, row.bounces_caused,
        ]  # fmt: skip

    return [
        Table("Summary", _("Key figures"), [_("Figure"), _("Value")], summary),
        Table(
            "Roles",
            _("Roles"),
            [_("Role"), *queue_columns],
            [[row.title, *queue(row)] for row in report.roles],
        ),
        Table(
            "Stages",
            _("Stages"),
            [_("Stage"), *queue_columns],
            [[row.title, *queue(row)] for row in report.stages],
        ),
        Table(
            "People",
            _("People"),
            [
                _("Person"),
                _("In work"),
                _("Stalled"),
                _("Overdue"),
                _("Finished late"),
                _("SLA breaches"),
                _("Oldest age, h"),
                _("Median age, h"),
                _("Completed"),
                _("Outcomes"),
                _("Handoffs written"),
                _("Bounces received"),
                _("Bounces caused"),
                _("Selling work, h"),
                _("Non-selling work, h"),
                _("Non-selling share"),
            ],  # fmt: skip
            [
                [
                    p.name,
                    p.in_work,
                    p.stalled,
                    p.overdue,
                    p.finished_late,
                    p.sla_breaches,
                    hours(p.oldest_age_seconds),
                    hours(p.median_age_seconds),
                    p.completed,
                    outcomes_text(p.outcomes),
                    p.handoffs,
                    p.bounces_received,
                    p.bounces_caused,
                    hours(p.selling_seconds),
                    hours(p.non_selling_seconds),
                    None if p.non_selling_share is None else round(p.non_selling_share, 3),
                ]  # fmt: skip
                for p in report.people
            ],
        ),
        Table(
            "Handoff quality",
            _("Handoff quality"),
            [
                _("From stage"),
                _("To stage"),
                _("Handoffs"),
                _("Bounces"),
                _("Bounce rate"),
                _("Taken by the next role"),
                _("Median handoff latency, h"),
                _("Longest handoff latency, h"),
            ],  # fmt: skip
            [
                [
                    t.from_title,
                    t.to_title,
                    t.handoffs,
                    t.bounces,
                    None if t.bounce_rate is None else round(t.bounce_rate, 3),
                    t.claimed,
                    hours(t.latency_median_seconds),
                    hours(t.latency_max_seconds),
                ]  # fmt: skip
                for t in report.transitions
            ],
        ),
        Table(
            "Contribution ledger",
            _("Contribution ledger"),
            [_("Person"), _("Stage"), _("Orders"), _("Amount")],
            [[s.name, s.title, s.orders, s.amount] for s in report.ledger],
        ),
        Table(
            "Age of open work",
            _("Age of open work"),
            [_("Role"), *[str(label) for label in AGE_BUCKET_LABELS]],
            [[row.title, *row.age_buckets] for row in report.roles],
        ),
    ]


def report_document(report: DailyReport) -> dict[str, Any]:
    """The report as one JSON-ready document (the JSON export, the API)."""
    data = asdict(report)
    data["totals"] = asdict(report.totals)
    document: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return document


def report_json(report: DailyReport) -> str:
    return json.dumps(report_document(report), ensure_ascii=False, indent=2)


def report_csv(report: DailyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for number, table in enumerate(report_tables(report)):
        if number:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.columns)
        writer.writerows(table.rows)
    return out.getvalue()


def report_xlsx(report: DailyReport) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    for table in report_tables(report):
        sheet = workbook.create_sheet(title=table.title[:31])  # Excel's limit
        sheet.append(table.columns)
        for row in table.rows:
            sheet.append([_xlsx_cell(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    """A text as a string cell: openpyxl would store a text starting with "=" as a formula."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def report_file(report: DailyReport, file_format: str) -> bytes:
    """The report in ``file_format`` (one of FORMATS), as bytes."""
    if file_format == "json":
        return report_json(report).encode()
    if file_format == "csv":
        return report_csv(report).encode()
    if file_format == "xlsx":
        return report_xlsx(report)
    raise ValueError(f"unknown report format {file_format!r}")


def file_name(report: DailyReport, file_format: str) -> str:
    return f"salesflow-report-{report.day.isoformat()}.{file_format}"
