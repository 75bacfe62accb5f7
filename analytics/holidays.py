"""A holiday calendar from a user's file: which dates it gives, and what it could not use.

The file has one date per row, or a first and a last day per row (inclusive), in any column
layout a school or LA calendar comes in. Dates are read by the importer's own rules (ISO, UK
day-first, Excel date cells and serials; never month-first), so "2025-02-03" is 3 February,
not 2 March. Nothing is dropped unsaid: a cell that is not a date, a range whose last day is
before its first, and a range of more than a year are each reported with their row and left
out, for the user to see before saving.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from analytics.errors import IngestError
from analytics.ingest import uk_dates
from analytics.ingest.containers import MAX_FILE_BYTES, check_workbook

MAX_RANGE_DAYS = 366


@dataclass
class HolidayFile:
    dates: list[date]
    problems: list[str] = field(default_factory=list)   # sentences, one per row left out


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v)) or str(v).strip() == ""


def holiday_dates(df: pd.DataFrame) -> HolidayFile:
    """The dates of a calendar read as text with no header (pandas: header=None, dtype=str).

    The first line is a header unless it holds a date. Date columns are those where at least
    half of the non-blank cells are dates; with two or more, the first two are each row's first
    and last day.
    """
    df = df.reset_index(drop=True)
    if len(df) and not any(d is not None for d in uk_dates([None if _blank(v) else str(v)
                                                             for v in df.iloc[0]])):
        df, first_row = df.iloc[1:].reset_index(drop=True), 2
    else:
        first_row = 1
    parsed = {c: uk_dates([None if _blank(v) else str(v) for v in df[c]]) for c in df.columns}
    date_cols = []
    for c in df.columns:
        filled = sum(not _blank(v) for v in df[c])
        if filled and sum(d is not None for d in parsed[c]) >= 0.5 * filled:
            date_cols.append(c)
    if not date_cols:
        return HolidayFile([])
    out: set[date] = set()
    problems: list[str] = []
    first = date_cols[0]
    last = date_cols[1] if len(date_cols) >= 2 else None
    for i in range(len(df)):
        row = i + first_row   # the row in the spreadsheet
        a_text, a = df[first].iloc[i], parsed[first][i]
        b_text, b = (df[last].iloc[i], parsed[last][i]) if last is not None else (None, None)
        if _blank(a_text) and _blank(b_text):
            continue
        if a is None:
            problems.append(f"Row {row}: '{a_text}' is not a date (day/month/year), so the row was left out."
                            if not _blank(a_text) else f"Row {row}: there is no first day, so the row was left out.")
            continue
        if last is None or _blank(b_text):
            out.add(a)
            continue
        if b is None:
            problems.append(f"Row {row}: '{b_text}' is not a date (day/month/year), so the row was left out.")
            continue
        if b < a:
            problems.append(f"Row {row}: the last day ({b:%d/%m/%Y}) is before the first ({a:%d/%m/%Y}), "
                            "so the row was left out. Swap them if the dates are right.")
            continue
        if (b - a).days > MAX_RANGE_DAYS:
            problems.append(f"Row {row}: {a:%d/%m/%Y} to {b:%d/%m/%Y} is more than a year, so the row was "
                            "left out. Check the years.")
            continue
        out.update(a + timedelta(days=k) for k in range((b - a).days + 1))
    return HolidayFile(sorted(out), problems)


def read_calendar(data: bytes, file_name: str) -> HolidayFile:
    """The dates of a calendar file (.xlsx: its first sheet; else text, comma, semicolon or tab
    separated). Raises IngestError, a sentence for the user, when the file cannot be read."""
    if len(data) > MAX_FILE_BYTES:
        raise IngestError("The file is too big for a holiday calendar.", file=file_name)
    if file_name.lower().endswith(".xlsx"):
        check_workbook(data, file_name)
        try:
            df = pd.read_excel(io.BytesIO(data), dtype=str, header=None, engine="openpyxl")
        except Exception:  # noqa: BLE001 - a damaged workbook is one sentence
            raise IngestError("The workbook could not be read. Save it again from Excel and upload "
                              "the new copy.", file=file_name) from None
        return holiday_dates(df)
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):   # latin-1 reads any bytes
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    # only these separators: a column of dates alone must not be split at its slashes
    try:
        sep = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        sep = ","
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, sep=sep, header=None, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return HolidayFile([])
    return holiday_dates(df)
