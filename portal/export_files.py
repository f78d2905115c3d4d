"""Tables as files: CSV that Excel opens as UTF-8, and XLSX through openpyxl."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

Cell = str | int | float | None
# A cell a spreadsheet would run as a formula (CSV injection, OWASP): shown as text instead.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Sheet:
    """One table: a title (the XLSX sheet name), a header row and the rows."""

    title: str
    header: Sequence[str]
    rows: Iterable[Sequence[Cell]]
    count: int | None = None


def _safe(value: Cell) -> Cell:
    """Defuse text that starts like a formula; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_bytes(sheets: Sequence[Sheet]) -> bytes:
    """Write the sheets one after another, a blank line between; UTF-8 with BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for index, sheet in enumerate(sheets):
        if index:
            writer.writerow([])
            writer.writerow([sheet.title])
        writer.writerow(sheet.header)
        writer.writerows([_safe(v) for v in row] for row in sheet.rows)
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """Write each table to its own sheet, streaming (write-only), every text cell as text."""
    book = Workbook(write_only=True)
    for sheet in sheets:
        ws = book.create_sheet(title=sheet.title[:31])
        ws.append(list(sheet.header))
        for row in sheet.rows:
            cells = []
            for value in row:
                cell = WriteOnlyCell(ws, value=_safe(value))
                if isinstance(value, str):
                    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
                cells.append(cell)
            ws.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
