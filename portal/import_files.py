"""Reading a merchant register file: CSV (UTF-8 or GB18030) or XLSX, into numbered rows."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# English headers and the Chinese ones a regulator's spreadsheet uses.
HEADERS: dict[str, str] = {
    "name": "name",
    "商户名称": "name",
    "credit_code": "credit_code",
    "统一社会信用代码": "credit_code",
    "market": "market",
    "所属市场": "market",
    "category": "category",
    "行业类别": "category",
    "address": "address",
    "地址": "address",
    "phone": "phone",
    "联系电话": "phone",
    "commitment": "commitment",
    "双承诺": "commitment",
}
REQUIRED_COLUMNS = ("name", "credit_code", "market", "category", "address", "phone")
MAX_ROWS = 10_000
_XLSX_MAGIC = b"PK\x03\x04"
# A checked file waits here for the regulator to confirm; a day later it is removed.
UPLOADS = "imports"
KEEP_UPLOAD_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says why."""


@dataclass(frozen=True)
class RawRow:
    """One data row, by the line (or spreadsheet row) it came from; the header is line 1."""

    line: int
    values: dict[str, str]


def clean_cell(value: object) -> str:
    """Return a cell as trimmed text, full-width forms folded (Excel users type both)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFKC", str(value)).strip()


def decode_csv(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), else GB18030, as Excel on Chinese Windows saves."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise ImportFileError("the file is neither UTF-8 nor GB18030 text") from exc


def _columns(header: list[str]) -> list[str | None]:
    """Map the header cells to field names, refusing a file that lacks a required column."""
    columns = [HEADERS.get(clean_cell(cell).lower()) or HEADERS.get(clean_cell(cell)) for cell in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise ImportFileError(f"missing column(s): {', '.join(missing)}")
    return columns


def _rows(cells: Iterator[tuple[int, list[object]]]) -> list[RawRow]:
    """Turn numbered cell lists into rows keyed by field, skipping blank lines."""
    first = next(cells, None)
    if first is None:
        raise ImportFileError("the file is empty")
    columns = _columns([clean_cell(cell) for cell in first[1]])
    rows: list[RawRow] = []
    for line, raw in cells:
        values = {name: clean_cell(cell) for name, cell in zip(columns, raw, strict=False) if name}
        if not any(values.values()):
            continue
        if len(rows) >= MAX_ROWS:
            raise ImportFileError(f"more than {MAX_ROWS} rows; split the file")
        rows.append(RawRow(line, values))
    return rows


def _csv_cells(text: str) -> Iterator[tuple[int, list[object]]]:
    """Yield (line number, cells) for each CSV record; quoted newlines keep the first line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    for record in reader:
        yield line, list(record)
        line = reader.line_num + 1


def _xlsx_cells(data: bytes) -> Iterator[tuple[int, list[object]]]:
    """Yield (row number, cells) from the first sheet, streamed in read-only mode."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileError("the spreadsheet cannot be opened") from exc
    try:
        sheet = book.worksheets[0]
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(row)
    finally:
        book.close()


def read_register(filename: str, data: bytes) -> list[RawRow]:
    """Read a CSV or XLSX merchant register into rows; raise ImportFileError if unreadable."""
    if filename.lower().endswith(".xlsx") or data.startswith(_XLSX_MAGIC):
        return _rows(_xlsx_cells(data))
    if filename.lower().endswith(".xls"):
        raise ImportFileError("old .xls files are not supported; save as .xlsx or CSV")
    try:
        return _rows(_csv_cells(decode_csv(data)))
    except csv.Error as exc:
        raise ImportFileError(f"the CSV cannot be read: {exc}") from exc


def stash_upload(bulk_dir: Path, user_id: int, filename: str, data: bytes) -> str:
    """Keep an uploaded register until it is confirmed; return its token."""
    token = secrets.token_hex(16)
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") or data.startswith(_XLSX_MAGIC) else ".csv"
    folder = bulk_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{user_id}-{token}{suffix}").write_bytes(data)
    return token


def _stashed(bulk_dir: Path, user_id: int, token: str) -> Path | None:
    """Return the stashed file of this user and token, if it exists."""
    if not _TOKEN.match(token):
        return None
    for suffix in (".xlsx", ".csv"):
        path = bulk_dir / UPLOADS / f"{user_id}-{token}{suffix}"
        if path.is_file():
            return path
    return None


def load_upload(bulk_dir: Path, user_id: int, token: str) -> tuple[str, bytes] | None:
    """Return (file name, bytes) of a register this user uploaded, or None."""
    path = _stashed(bulk_dir, user_id, token)
    return (path.name, path.read_bytes()) if path is not None else None


def drop_upload(bulk_dir: Path, user_id: int, token: str) -> None:
    """Remove a stashed register once it is imported."""
    path = _stashed(bulk_dir, user_id, token)
    if path is not None:
        path.unlink(missing_ok=True)


def purge_old_uploads(bulk_dir: Path) -> int:
    """Remove stashed registers older than a day; return how many."""
    cutoff, purged = time.time() - KEEP_UPLOAD_SECONDS, 0
    folder = bulk_dir / UPLOADS
    for path in folder.glob("*-*.*") if folder.is_dir() else []:
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            purged += 1
    return purged
