"""Downloads that are safe to open in Excel (security.md invariant 6).

Text that Excel (or LibreOffice, or Google Sheets) would read as a formula, because it starts
with ``= + - @``, a tab, CR or LF, is neutralised. In a CSV, which has no types, it gets a
leading apostrophe, as OWASP's CSV-injection guidance advises. In an .xlsx it is written as it
is, as a string cell (never evaluated) styled with quotePrefix, Excel's own mark for "this is
text", so the sender sees and sends back the text itself. Only text is touched: numbers, dates
and booleans are written as themselves, so a negative number stays a number while the text
"-5" is neutralised. The importer reads "'" + such text as the text (readers.unneutralise), so
a download fixed and uploaded again stores what the first upload would have.

>>> neutralise("=HYPERLINK(\\"http://x\\")"), neutralise(-5), neutralise("-5"), neutralise("Oak PRU")
('\\'=HYPERLINK("http://x")', -5, "'-5", 'Oak PRU')
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from analytics.ingest.headers import REJECTED_REASON_HEADING, REJECTED_ROW_HEADING

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

# Characters XML 1.0 cannot hold; openpyxl refuses them. Uploaded text can carry them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_EXCEL_CELL_MAX = 32767
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_DATE_FORMAT = "dd/mm/yyyy"
_PERCENT_FORMAT = "0.0%"
_DATETIME_FORMAT = "dd/mm/yyyy hh:mm"
_MIN_WIDTH, _MAX_WIDTH = 8, 60
_PORTRAIT_CHARS = 100   # columns wider than this (in characters) print in landscape


def neutralise(value):
    """The value, with a leading apostrophe when it is text Excel would run as a formula.

    >>> neutralise("@SUM(A1)"), neutralise("\\tx"), neutralise(3.5), neutralise(None)
    ("'@SUM(A1)", "'\\tx", 3.5, None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, np.floating) and bool(np.isnan(value))


def _flat_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Index kept only when it means something (named); MultiIndex headers joined with ' / '."""
    if df.index.name is not None or isinstance(df.index, pd.MultiIndex):
        df = df.reset_index()
    if isinstance(df.columns, pd.MultiIndex):
        df = df.copy()
        df.columns = [" / ".join(str(p) for p in parts if str(p) != "") for parts in df.columns]
    return df


def _text_columns(df: pd.DataFrame) -> list:
    return [c for c in df.columns
            if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])
                    or pd.api.types.is_datetime64_any_dtype(df[c]))]


def _whole_numbers(series: pd.Series) -> bool:
    if not pd.api.types.is_float_dtype(series):
        return False
    known = series.dropna()
    return bool(len(known)) and bool(np.isfinite(known).all()) and bool((known % 1 == 0).all()) \
        and bool((known.abs() < 2**53).all())


def _safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    df = _flat_columns(df)
    text = set(_text_columns(df))
    columns = {}
    for i, c in enumerate(df.columns):
        series = df.iloc[:, i]
        if c in text:
            series = series.astype(object).map(neutralise)
        elif _whole_numbers(series):
            series = series.astype("Int64")  # 3, not 3.0, when a blank made the column float
        columns[i] = series
    out = pd.DataFrame(columns, index=df.index)
    out.columns = [neutralise(str(c)) for c in df.columns]
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 with a byte-order mark (so Excel reads £ and accents), CRLF lines, text neutralised.

    Dates are written as ISO (2025-03-14; with the time only when there is one), which Excel
    reads as dates in any locale.
    """
    safe = _safe_frame(df)
    buf = io.StringIO()
    safe.to_csv(buf, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue().encode("utf-8-sig")


def _cell_value(value):
    """A value openpyxl can write: Python scalars, naive datetimes, text as it is (see
    _text_cell for text Excel would run)."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return value.date() if value.time() == time(0) else value
    if isinstance(value, date):
        return value
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isinf(value) else value
    if isinstance(value, Decimal):
        return value
    text = value if isinstance(value, str) else str(value)
    return _ILLEGAL_XML.sub("\ufffd", text)[:_EXCEL_CELL_MAX]


def _text_cell(ws, text: str) -> WriteOnlyCell:
    """A string cell, never a formula: openpyxl would take text starting with "=" for one.
    quotePrefix is what Excel sets when a user types an apostrophe before such text."""
    cell = WriteOnlyCell(ws, value=text)
    cell.data_type = "s"
    cell.quotePrefix = True
    return cell


def _needs_neutralising(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def _display_len(value) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if isinstance(value, float):
        return len(f"{value:.6g}")
    return max((len(line) for line in str(value).splitlines()), default=0)


def _sheet_title(name, used: set[str]) -> str:
    title = _SHEET_NAME_BAD.sub("_", str(name)).strip("'") or "Sheet"
    title = title[:31]
    base, n = title, 2
    while title.casefold() in used:
        suffix = f" ({n})"
        title = base[:31 - len(suffix)] + suffix
        n += 1
    used.add(title.casefold())
    return title


def _write_sheet(wb: Workbook, title: str, df: pd.DataFrame, percent=(), marking: str | None = None) -> None:
    from openpyxl.utils import get_column_letter

    df = _flat_columns(df)
    as_percent = [str(c) in {str(p) for p in percent} for c in df.columns]
    ws = wb.create_sheet(title)
    header = [_cell_value(str(c)) for c in df.columns]
    rows = [[_cell_value(v) for v in row] for row in df.itertuples(index=False, name=None)]
    total = 0
    for i, name in enumerate(header, start=1):
        width = max([_display_len(name)] + [_display_len(r[i - 1]) for r in rows])
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, _MIN_WIDTH), _MAX_WIDTH)
        total += ws.column_dimensions[get_column_letter(i)].width
    ws.freeze_panes = "A2"
    # printed as a meeting paper: one page wide (landscape when wide), the headings on every page
    ws.print_title_rows = "1:1"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.page_setup.paperSize = 9   # A4 (openpyxl Worksheet.PAPERSIZE_A4)
    ws.page_setup.orientation = "landscape" if total > _PORTRAIT_CHARS else "portrait"
    if marking:   # a protective marking at the top and foot of every printed page
        ws.oddHeader.center.text = ws.oddFooter.center.text = marking
        ws.oddHeader.center.font = ws.oddFooter.center.font = "Calibri,Bold"
    bold = Font(bold=True)
    head_cells = []
    for name in header:
        cell = _text_cell(ws, name) if _needs_neutralising(name) else WriteOnlyCell(ws, value=name)
        cell.font = bold
        head_cells.append(cell)
    ws.append(head_cells)
    for row in rows:
        out = []
        for value, pct in zip(row, as_percent):
            if pct and isinstance(value, (int, float)) and not isinstance(value, bool):
                cell = WriteOnlyCell(ws, value=value)   # a fraction, shown as a percentage
                cell.number_format = _PERCENT_FORMAT
                out.append(cell)
            elif isinstance(value, (date, datetime)):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = _DATETIME_FORMAT if isinstance(value, datetime) else _DATE_FORMAT
                out.append(cell)
            elif _needs_neutralising(value):
                out.append(_text_cell(ws, value))
            else:
                out.append(value)
        ws.append(out)
    if header and rows:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"


def to_xlsx_bytes(data: pd.DataFrame | Mapping[str, pd.DataFrame], percent=(), marking: str | None = None) -> bytes:
    """An .xlsx workbook: one sheet per DataFrame (a dict gives sheet name → frame).

    ``marking``: a protective marking ("OFFICIAL-SENSITIVE") printed at the top and foot of
    every page of every sheet (files with a row per pupil).

    Headers are bold and frozen, columns sized to their content (capped), dates are real date
    cells (dd/mm/yyyy), text is never written as a formula (text Excel would run is a string
    cell marked quotePrefix, without the apostrophe a CSV needs), and characters an .xlsx
    cannot hold are replaced with U+FFFD. Columns named in ``percent`` hold fractions: their
    numbers stay numbers (0.55) shown as percentages (55.0%).
    """
    sheets = {"Data": data} if isinstance(data, pd.DataFrame) else dict(data)
    wb = Workbook(write_only=True)
    used: set[str] = set()
    if not sheets:
        sheets = {"Data": pd.DataFrame()}
    for name, df in sheets.items():
        _write_sheet(wb, _sheet_title(name, used), df, percent, marking)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rejected_rows_table(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows to send back and fix: the row's number in the file and why it was
    rejected, then the row as it was in the file (`rejects`: row_number, reason, original
    as the JSON the store keeps).

    The first two headings are ones the importer skips (headers.OWN_HEADINGS), so the fixed file
    can be uploaded as it is: a heading "reason" would be read as the placement reason.
    """
    originals = []
    for text in rejects["original"]:
        try:
            originals.append(json.loads(text) if isinstance(text, str) else {})
        except ValueError:
            originals.append({"original": text})
    wide = pd.DataFrame(originals, index=rejects.index)
    base = rejects[["row_number", "reason"]].rename(columns={
        "row_number": REJECTED_ROW_HEADING, "reason": REJECTED_REASON_HEADING})
    # a file that was itself such a download carries its old reason: the new one replaces it
    return pd.concat([base, wide.drop(columns=[c for c in wide.columns if c in base.columns])], axis=1)
