"""Importer: an uploaded CSV or .xlsx -> recognised datasets -> typed rows and rejects.

The one entry point is :func:`read_file` (docs/architecture.md §1); the rules it applies are
data-spec.md §1-§5. Nothing but :class:`~analytics.errors.IngestError` leaves it.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from analytics import schema
from analytics.errors import IngestError
from analytics.ingest import pipeline, readers
from analytics.ingest.containers import (MAX_FILE_BYTES, check_workbook, column_index,
                                         formulas_without_values, kind_of)
from analytics.ingest.headers import (AM, DAYS, MARK, PCT, PM, HeaderMatch, find_header_row,
                                      normalise_header, recognise)
from analytics.privacy import mask_upns

__all__ = ["ParsedSheet", "read_file", "MAX_FILE_BYTES"]
log = logging.getLogger(__name__)

NO_DATA = "It has column headings but no rows of data."
HIDDEN_SHEET = "This sheet is hidden in the workbook"


@dataclass
class ParsedSheet:
    file_name: str
    sheet: str | None
    dataset: str | None
    skipped_reason: str | None
    header_row: int | None
    mapping: dict[str, str]
    unmapped: list[str]
    carried: list[str]
    accepted: pa.Table
    rejected: pa.Table
    summary_rows: int = 0
    blank_rows: int = 0
    sheet_warnings: list[str] = field(default_factory=list)


def read_file(source: Path | bytes | str, file_name: str,
              mapping: dict[str, str] | None = None, *, data: bytes | None = None
              ) -> list[ParsedSheet]:
    """Read one uploaded file into one ParsedSheet per CSV or worksheet.

    `data`: the bytes of `source` (a path) when the caller has read them already; a CSV is
    then still read by DuckDB from the path, not copied to a temporary file.
    Raises IngestError (only) when the file cannot be read or no sheet of it is a dataset.
    """
    file_name = str(file_name or "upload")
    try:
        return _read(source, file_name, dict(mapping or {}), data)
    except IngestError:
        raise
    except MemoryError:
        raise IngestError("The file is too large to read in the memory available. Split it "
                          "into smaller files and upload them one by one.",
                          file=file_name) from None
    except Exception as exc:  # noqa: BLE001 - the contract: nothing else escapes
        # the file's name is often the child's: no UPN in the log (security.md invariant 9)
        log.warning("unexpected error reading %s", mask_upns(file_name), exc_info=True)
        raise IngestError("The file could not be read: it may be damaged, or laid out in a way "
                          "this tool does not understand. Open it in Excel, save it again as "
                          ".xlsx or CSV, and upload the new copy.", file=file_name) from exc


def _read(source: Path | bytes | str, file_name: str, mapping: dict[str, str],
          known: bytes | None = None) -> list[ParsedSheet]:
    path: str | None = None
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif known is not None:
        data, path = known, str(source)
    else:
        p = Path(source)
        try:
            size = p.stat().st_size
        except OSError:
            raise IngestError("The file could not be opened.", file=file_name) from None
        if size > MAX_FILE_BYTES:
            raise _too_big(file_name)
        data = p.read_bytes()
        path = str(p)
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(file_name)
    kind = kind_of(data, file_name)
    # a cursor of the shared in-memory database: its own connection, so the TEMP tables and
    # registered views a read makes are its own and go when it closes (safe across threads)
    con = pipeline.database().cursor()
    try:
        if kind == "xlsx":
            check_workbook(data, file_name)
            return _read_xlsx(con, data, file_name, mapping)
        return [_read_csv(con, data, path, file_name, mapping)]
    finally:
        for stmt in ("DROP VIEW IF EXISTS raw", "DROP TABLE IF EXISTS raw", "DROP TABLE IF EXISTS raw0",
                     "DROP VIEW IF EXISTS raw_arrow"):
            try:
                con.execute(stmt)
            except duckdb.Error:
                pass   # 'raw' is a view or a table, never both; closing drops either way
        con.close()


def _too_big(file_name: str) -> IngestError:
    return IngestError(f"The file is larger than {MAX_FILE_BYTES // 2**20} MB, which is over the "
                       "upload limit. Split it into smaller files.", file=file_name)


def _mapping_keys(mapping: dict[str, str]) -> frozenset[str]:
    return frozenset(normalise_header(k) for k in mapping)


def _read_csv(con, data: bytes, path: str | None, file_name: str,
              mapping: dict[str, str]) -> ParsedSheet:
    if data.isascii() and b"\x00" not in data[:8192]:   # (NUL bytes: UTF-16 without a BOM)
        # plain ASCII is UTF-8 as it is: only the head is decoded here (for the sniffing);
        # the whole text only if Python's csv module has to read the file
        text, encoding, head = None, "utf-8", data[:readers.SNIFF_CHARS].decode("ascii")
        empty = data.isspace() or not data   # isspace() stops at the first other byte
    else:
        text, encoding = readers.decode(data, file_name)
        head, empty = text[:readers.SNIFF_CHARS], not text or text.isspace()
    if empty:
        raise IngestError("The file is empty.", file=file_name)
    delim, idx, headers, ncols, lines = readers.sniff_csv(head, _mapping_keys(mapping), file_name)
    match, why = recognise(headers, mapping, None)
    if match is None:
        raise IngestError(why, file=file_name, row=idx + 1)
    utf8 = data if encoding == "utf-8" else text.encode("utf-8")
    arrow = readers.load_csv(con, text, utf8, path if encoding == "utf-8" else None, delim, idx,
                             ncols, lines)
    sheet = _parse(con, ncols, headers, match, file_name, None, idx)
    if sheet.dataset is None:
        raise IngestError(sheet.skipped_reason, file=file_name)
    # Arrow reads only files whose every row has as many cells as headings, no more, no fewer
    n_short, first, last_short, last = (0, [], None, None) if arrow is not None else readers.short_rows(con, ncols)
    if n_short == 1 and last_short == last and not utf8.rstrip(b" \t").endswith((b"\n", b"\r")):
        # the last row stops short and the file has no line ending after it: a file cut off
        raise IngestError(f"The file ends in the middle of row {last}: that row has fewer cells than there "
                          "are column headings and no line ending after it, so the file looks cut off (a "
                          "download or copy that did not finish). Nothing was loaded: save or send the whole "
                          "file again.", file=file_name, row=last)
    if n_short:
        which = ", ".join(str(r) for r in first) + (", ..." if n_short > len(first) else "")
        sheet.sheet_warnings.append(
            f"{n_short} row{'s' if n_short != 1 else ''} had fewer cells than there are column headings "
            f"(row {which}); the missing cells were read as blank, and a blank clears the value stored "
            "before. A line cut short, or a line break inside a value that is not in quotes, usually "
            "causes this: check those rows in the file.")
    n_over, first = (0, []) if arrow is not None else readers.overflow_rows(con, ncols)
    if n_over:
        which = ", ".join(str(r) for r in first) + (", ..." if n_over > len(first) else "")
        sheet.sheet_warnings.append(
            f"{n_over} row{'s' if n_over != 1 else ''} had more cells than there are column "
            f"headings (row {which}); the cells past the last heading were not read. A comma "
            "inside a value that is not in quotes, or a missing heading, usually causes this.")
    return sheet


def _read_xlsx(con, data: bytes, file_name: str, mapping: dict[str, str]) -> list[ParsedSheet]:
    import python_calamine as cal

    try:
        wb = cal.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception:
        raise IngestError("The workbook is damaged or is not a real .xlsx file, so it could not "
                          "be opened. Save it again from Excel and upload the new copy.",
                          file=file_name) from None
    out: list[ParsedSheet] = []
    keys = _mapping_keys(mapping)
    blanks = formulas_without_values(data)
    for name, hidden in _worksheets(wb):
        if hidden:
            # What the user does not see in Excel is not loaded unseen: often a lookup list, and
            # when it holds data, the user should see it before it changes the figures.
            out.append(_skipped(file_name, name, f"{HIDDEN_SHEET}, so it was not "
                                                 "loaded. If it holds data to load, unhide it in Excel "
                                                 "(right-click a sheet tab, Unhide), save and upload the "
                                                 "file again."))
            continue
        try:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception:
            out.append(_skipped(file_name, name, "This sheet could not be read (it may be "
                                                 "damaged)."))
            continue
        while rows and not any(c not in ("", None) for c in rows[-1]):
            rows.pop()   # trailing formatted-but-empty rows
        head = [[readers.cell_text(c) or "" for c in r] for r in rows[:30]]
        idx, score = find_header_row(head, keys)
        if score < 2:
            out.append(_skipped(file_name, name, "No header row was found in its first 30 rows."
                                if rows else "The sheet is empty."))
            continue
        headers = [readers.unneutralise(h).strip() for h in head[idx]]
        while headers and not headers[-1]:
            headers.pop()
        match, why = recognise(headers, mapping, name)
        if match is None:
            out.append(_skipped(file_name, name, why, idx + 1))
            continue
        ncols = len(headers)
        con.execute("DROP VIEW IF EXISTS raw")
        readers.register_sheet(con, rows, idx, ncols)
        try:
            out.append(_parse(con, ncols, headers, match, file_name, name, idx))
        finally:
            con.unregister("raw")
        if out[-1].dataset and blanks.get(name):
            _formulas_named(out[-1], blanks[name], headers, idx)
    if not any(s.dataset for s in out):
        reasons = "; ".join(f"sheet '{s.sheet}': {s.skipped_reason.rstrip('.')}" for s in out)
        raise IngestError("No sheet in this workbook holds placements, attendance, exclusions "
                          "or assessments" + (f" ({reasons})" if reasons else "") + ".",
                          file=file_name)
    return out


def _formulas_named(sheet: ParsedSheet, cells: list[tuple[str, int]], headers: list[str], header_index: int) -> None:
    """Say which cells of a sheet hold formulas with no saved result (read as blank): in the
    sheet's warnings, and on each row, where a rejected row's reason ("... is blank") would
    otherwise send the person looking for a blank cell that is not there."""
    below = [(col, row) for col, row in cells if row > header_index + 1]
    if not below:
        return

    def named(col: str, row: int) -> str:
        i = column_index(col)
        return f"{col}{row}" + (f" ({headers[i]})" if i < len(headers) and headers[i] else "")
    listed = ", ".join(named(c, r) for c, r in below[:10]) + (f" and {len(below) - 10} more" if len(below) > 10 else "")
    n = len(below)
    sheet.sheet_warnings.append(
        f"{n} cell{'s' if n != 1 else ''} hold{'s' if n == 1 else ''} a formula with no saved result, so "
        f"{'it was' if n == 1 else 'they were'} read as blank: {listed}. Open the file in Excel, let it "
        "calculate, save it and upload it again.")
    per_row: dict[int, list[str]] = {}
    for c, r in below:
        per_row.setdefault(r, []).append(named(c, r))
    notes = {r: f"{', '.join(v)} hold{'s' if len(v) == 1 else ''} a formula with no saved result, read as blank"
             for r, v in per_row.items()}
    sheet.accepted = _with_notes(sheet.accepted, "warnings", notes)
    sheet.rejected = _with_notes(sheet.rejected, "reason", notes)


def _with_notes(table: pa.Table, column: str, notes: dict[int, str]) -> pa.Table:
    """`table` with a note put before `column`'s text on the rows numbered in `notes`."""
    if table is None or column not in table.column_names or not table.num_rows:
        return table
    rows = table["row_number"].to_pylist()
    if not any(r in notes for r in rows):
        return table
    texts = table[column].to_pylist()
    texts = [(f"{notes[r]}; {t}" if t else f"{notes[r]}.") if r in notes else t for r, t in zip(rows, texts)]
    return table.set_column(table.column_names.index(column), column, pa.array(texts, pa.string()))


def _worksheets(wb) -> list[tuple[str, bool]]:
    """(name, hidden) of each worksheet (not chart sheets), in workbook order."""
    try:
        meta = wb.sheets_metadata
        return [(m.name, not str(getattr(m, "visible", "Visible")).endswith(".Visible"))
                for m in meta if str(getattr(m, "typ", "WorkSheet")).endswith("WorkSheet")]
    except Exception:
        return [(name, False) for name in wb.sheet_names]


def _skipped(file_name: str, sheet: str | None, reason: str, header_row: int | None = None
             ) -> ParsedSheet:
    return ParsedSheet(file_name=file_name, sheet=sheet, dataset=None, skipped_reason=reason,
                       header_row=header_row, mapping={}, unmapped=[], carried=[],
                       accepted=pa.table({}), rejected=pipeline.REJECTED_SCHEMA.empty_table())


def _carried(match: HeaderMatch) -> list[str]:
    have = set(match.columns)
    if "ethnicity" in have:
        have.add("ethnicity_group")
    if DAYS in have:
        have.add("sessions")
    if match.dataset == "attendance":
        have.add("period_end")
        if have & {AM, PM, MARK}:
            have |= {"possible_sessions", "attended_sessions"}
        if PCT in have:
            have.add("attended_sessions")
    return [c for c in schema.column_names(match.dataset) if c in have]


def _parse(con, ncols: int, headers: list[str], match: HeaderMatch, file_name: str,
           sheet: str | None, idx: int) -> ParsedSheet:
    result = pipeline.run(con, ncols, headers, match)
    warnings = list(match.warnings) + list(result.sheet_warnings)
    if result.accepted.num_rows + result.rejected.num_rows == 0:
        return _skipped(file_name, sheet, NO_DATA, idx + 1)
    return ParsedSheet(
        file_name=file_name, sheet=sheet, dataset=match.dataset, skipped_reason=None,
        header_row=idx + 1, mapping=dict(match.mapping), unmapped=list(match.unmapped),
        carried=_carried(match), accepted=result.accepted, rejected=result.rejected,
        summary_rows=result.summary_rows, blank_rows=result.blank_rows, sheet_warnings=warnings)


def uk_dates(values: list[str | None]) -> list:
    """Each text as a date by the importer's own rules (data-spec §5: ISO, UK day-first, Excel
    serials of five digits, two-digit years, a time part dropped; never month-first), or None.

    >>> uk_dates(["2025-02-17", "17/02/2025", "2025-02-17 00:00:00", "02/17/2025", "", None])
    [datetime.date(2025, 2, 17), datetime.date(2025, 2, 17), datetime.date(2025, 2, 17), None, None, None]
    """
    con = pipeline.database().cursor()
    try:
        texts = [None if v is None else str(v).strip() or None for v in values]
        return [r[0] for r in con.execute(
            "SELECT _uk_date(v) FROM unnest(?::VARCHAR[]) WITH ORDINALITY AS t(v, i) ORDER BY i",
            [texts]).fetchall()]
    finally:
        con.close()
