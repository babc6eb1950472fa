"""Reading a file of leads (CSV or XLSX) into rows the import validates one by one.

A row is a line number (as a person finds it in the file: the header is line 1) and its
values by column. Columns are matched by their header, case and spaces aside, in English
or Russian; a column the import does not know stops it before anything is written, so a
misspelled header never silently drops a field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# header (lower case, single spaces) -> LeadForm field
COLUMNS = {
    "company": "company", "company name": "company", "компания": "company",
    "организация": "company", "название": "company",
    "contact": "contact_name", "contact name": "contact_name", "contact_name": "contact_name",
    "name": "contact_name", "контакт": "contact_name", "контактное лицо": "contact_name",
    "фио": "contact_name",
    "position": "position", "должность": "position",
    "phone": "phone", "телефон": "phone",
    "email": "email", "e-mail": "email", "почта": "email",
    "tax number": "tax_number", "tax_number": "tax_number", "inn": "tax_number",
    "инн": "tax_number",
    "request": "request", "comment": "request", "запрос": "request",
    "комментарий": "request",
    "source": "source_detail", "source detail": "source_detail",
    "source_detail": "source_detail", "источник": "source_detail",
}  # fmt: skip


class LeadFileError(Exception):
    """The file as a whole cannot be imported (format, encoding, headers)."""


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]
    # what makes the row unreadable whatever its values say, per field (a formula cell)
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unreadable:
    """A spreadsheet cell that holds no value the import can take: a formula (its stored
    result may be stale, missing, or an error such as ``=1/0``) or an error value."""

    what: str

    def problem(self, field: str) -> str:
        return f"{field}: {self.what}"


def _formula(text: object) -> Unreadable:
    shown = str(getattr(text, "text", text))  # an array formula keeps its text in .text
    shown = shown if len(shown) <= 60 else f"{shown[:60]}..."
    return Unreadable(
        f"the cell is a formula ({shown}), not a value; the import takes values only -- "
        "copy the column and paste it as values"
    )


@dataclass
class LeadFile:
    path: Path
    rows: list[Row]


def read_lead_file(path: Path) -> LeadFile:
    """All data rows of a CSV (UTF-8 with or without BOM, or Windows-1251; comma, semicolon
    or tab) or XLSX (first sheet) file. Blank rows are skipped."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        table = _xlsx(path)
    elif suffix in (".csv", ".txt"):
        table = _csv(path)
    else:
        raise LeadFileError(f"{path.name}: not a .csv or .xlsx file")
    try:
        line, header = next(table)
    except StopIteration:
        raise LeadFileError(f"{path.name}: the file is empty") from None
    fields = _fields(header)
    rows = []
    for line, cells in table:
        problems = tuple(
            cell.problem(fields.get(index, f"column {index + 1}"))
            for index, cell in enumerate(cells)
            if isinstance(cell, Unreadable)
        )
        values = {
            field: _text(cells[index]) if index < len(cells) else ""
            for index, field in fields.items()
        }
        extra = [cell for cell in cells[len(header) :] if _text(cell)]
        if extra:
            values["__extra__"] = ", ".join(_text(c) for c in extra)
        if problems or any(v for v in values.values()):
            rows.append(Row(line=line, values=values, problems=problems))
    return LeadFile(path=path, rows=rows)


def _fields(header: list[object]) -> dict[int, str]:
    fields: dict[int, str] = {}
    unknown = []
    for index, cell in enumerate(header):
        name = " ".join(_text(cell).lower().split())
        if not name:
            continue
        if name not in COLUMNS:
            unknown.append(_text(cell))
        elif COLUMNS[name] in fields.values():
            raise LeadFileError(f"two columns for {COLUMNS[name]!r} (line 1)")
        else:
            fields[index] = COLUMNS[name]
    if unknown:
        known = ", ".join(sorted({k for k in COLUMNS if k.isascii()}))
        raise LeadFileError(f"unknown columns {', '.join(unknown)} (line 1); known: {known}")
    if "company" not in fields.values():
        raise LeadFileError("no 'company' column (line 1)")
    return fields


def _text(value: object) -> str:
    if value is None or isinstance(value, Unreadable):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone or tax number typed into a numeric cell
    return str(value).strip()


def _csv(path: Path) -> Iterator[tuple[int, list[object]]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes any byte string
        raise LeadFileError(f"{path.name}: cannot tell the text encoding")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    # csv stops at a cell over its field_size_limit (128 KB) with an error that names no
    # line and loses the rest of the file. The reader takes any cell the file holds
    # (it is in memory already); the rows' rules (LeadForm's max_length per field) then
    # refuse the row that is too long, by its line, and the rest imports. The limit is
    # the process's, so it is put back when the file is read.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        reader = csv.reader(io.StringIO(text, newline=""), dialect)
        start = 1
        for cells in reader:
            yield start, list(cells)
            start = reader.line_num + 1
    finally:
        csv.field_size_limit(limit)


def _xlsx(path: Path) -> Iterator[tuple[int, list[object]]]:
    from openpyxl import load_workbook

    # Not data_only: a formula cell must be seen as one. Its stored result is what the
    # spreadsheet last computed, if it computed at all (a file written by a program has
    # none, ``=1/0`` stores an error), so it is refused, saying so, never read as empty.
    try:
        workbook = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise LeadFileError(f"{path.name}: not a readable XLSX file ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            yield number, [_xlsx_value(cell) for cell in cells]
    finally:
        workbook.close()


def _xlsx_value(cell: Any) -> object:
    kind = getattr(cell, "data_type", None)
    if kind == "f":
        return _formula(cell.value)
    if kind == "e":
        return Unreadable(f"the cell holds a spreadsheet error ({cell.value}), not a value")
    return cell.value
