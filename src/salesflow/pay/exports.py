"""Statements as files for payroll: JSON (the plain data), CSV and XLSX -- one row per
person and period, then the line detail (the XLSX on two sheets, the CSV one table after
the other). Company names come from outside: a text a spreadsheet would run as a formula
is written as text (defusedcsv; a string cell in the XLSX)."""

from __future__ import annotations

import io
import json
from typing import Any

from defusedcsv import csv
from django.utils.translation import gettext as _

from .selectors import Statement, statement_as_data

FORMATS = ("json", "csv", "xlsx")
CONTENT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def tables(result: Statement) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, columns, rows): the people's totals, then every line."""
    period = f"{result.month:%Y-%m}"
    people = [
        [period, user_id, result.names.get(user_id, ""), total]
        for user_id, total in result.totals.items()
    ]
    lines = [
        [
            period,
            line.user_id,
            result.names.get(line.user_id, ""),
            line.kind,
            line.at.date().isoformat(),
            line.process_id or "",
            line.client,
            line.node,
            line.amount,
            line.share,
            line.rate,
            line.commission,
            line.advance,
            line.pay,
            line.plan,
            line.note,
        ]
        for line in result.lines
    ]
    return [
        (_("People"), [_("Period"), _("User id"), _("Person"), _("Total")], people),
        (
            _("Lines"),
            [
                _("Period"),
                _("User id"),
                _("Person"),
                _("Kind"),
                _("Date"),
                _("Deal"),
                _("Client"),
                _("Stage"),
                _("Amount"),
                _("Share"),
                _("Rate, %"),
                _("Commission"),
                _("Advance settled"),
                _("Pay"),
                _("Plan"),
                _("Note"),
            ],
            lines,
        ),
    ]


def statement_file(result: Statement, file_format: str) -> bytes:
    if file_format == "json":
        return json.dumps(statement_as_data(result), ensure_ascii=False, indent=2).encode()
    if file_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        for number, (title, columns, rows) in enumerate(tables(result)):
            if number:
                writer.writerow([])
            writer.writerow([title])
            writer.writerow(columns)
            writer.writerows(rows)
        return out.getvalue().encode()
    if file_format == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        workbook = Workbook(write_only=True)
        for title, columns, rows in tables(result):
            sheet = workbook.create_sheet(title=title[:31])
            sheet.append(columns)
            for row in rows:
                cells: list[Any] = []
                for value in row:
                    if isinstance(value, str):
                        cell = WriteOnlyCell(sheet, value=value)
                        cell.data_type = "s"
                        cells.append(cell)
                    else:
                        cells.append(value)
                sheet.append(cells)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown format {file_format!r}")


def file_name(result: Statement, file_format: str) -> str:
    return f"pay-{result.month:%Y-%m}.{file_format}"
