"""Readers: a CSV or a worksheet -> header row + the ``raw`` DuckDB view of cell strings.

CSV: the encoding, delimiter and header row are sniffed in Python on the first lines. The rows
are loaded by Arrow's multi-threaded CSV reader, in memory, when every line after the header is
one record with no more cells than headings (the usual export); else by DuckDB's CSV reader,
which pads short rows and catches cells past the last heading; and by Python's csv module when
the file's lines and records do not line up (quoted newlines, blank lines), so that row numbers
stay exact. All three give the same cells (tests/test_ingest_readers_agree.py). Worksheets:
python-calamine, cells turned into strings column by column. Every cell is then read through
:func:`unneutralise` (in SQL, pipeline's ``_cell``), whichever reader gave it.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import shutil
import sys
import tempfile
from itertools import islice

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analytics.errors import IngestError
from analytics.ingest.headers import find_header_row

SNIFF_CHARS = 1 << 20
DELIMITERS = (",", ";", "\t")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# -- text -------------------------------------------------------------------------------------

NEUTRALISED = tuple("'" + c for c in ("=", "+", "-", "@", "\t", "\r", "\n"))


def unneutralise(cell: str) -> str:
    """A cell as the importer reads it: our downloads' neutralised text without its apostrophe.

    A download puts an apostrophe before text Excel would run as a formula (exports.neutralise),
    and Excel keeps that apostrophe as text in a CSV: a fixed download uploaded again would
    otherwise store "'=x" for "=x" (a new provider, a new name). Only that exact form is read
    so; any other apostrophe is the sender's. The pipeline does the same in SQL (``_cell``).

    >>> unneutralise("'=HYPERLINK(1)"), unneutralise("'-x"), unneutralise("'Ollie's"), unneutralise("' -x")
    ('=HYPERLINK(1)', '-x', "'Ollie's", "' -x")
    """
    return cell[1:] if cell.startswith(NEUTRALISED) else cell


def decode(data: bytes, file_name: str) -> tuple[str, str]:
    """(text, encoding name). UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            raise IngestError("The file says it is UTF-8 text but contains invalid "
                              "characters. Save it again as 'CSV UTF-8' and upload it again.",
                              file=file_name) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise IngestError("The file says it is UTF-16 text but is damaged. Save it again "
                              "as 'CSV UTF-8' and upload it again.", file=file_name) from None
    head = data[:8192]
    if b"\x00" in head:
        zeros = head.count(b"\x00")
        if zeros * 3 > len(head) and (head[1::2].count(0) > len(head) // 3 or
                                      head[0::2].count(0) > len(head) // 3):
            enc = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError:
                pass
        raise IngestError("This file is not a text (CSV) file or an Excel workbook, so it "
                          "could not be read.", file=file_name)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _records(text: str, delim: str, limit: int) -> tuple[list[list[str]], list[int]]:
    """The first `limit` records and the physical line count after each one."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows, lines = [], []
    try:
        for row in islice(reader, limit):
            rows.append(row)
            lines.append(reader.line_num)
    except csv.Error:
        pass
    return rows, lines


def head_records(text: str, delim: str) -> list[list[str]]:
    """The first records of a CSV's text split by ``delim`` (as sniff_csv sees them)."""
    return _records(text[:SNIFF_CHARS], delim, 60)[0]


def sniff_csv(text: str, mapping_keys: frozenset[str], file_name: str
              ) -> tuple[str, int, list[str], int, list[int]]:
    """(delimiter, header index, headers, column count, line counts of the head records)."""
    head = text[:SNIFF_CHARS]
    best = None
    for delim in DELIMITERS:
        rows, lines = _records(head, delim, 60)
        idx, score = find_header_row(rows, mapping_keys)
        width = len(rows[idx]) if idx >= 0 else 0
        key = (score, width)
        if best is None or key > best[0]:
            best = (key, delim, idx, rows, lines)
    (score, _), delim, idx, rows, lines = best
    if score < 2:
        raise IngestError("No header row was found in the first 30 rows. The file needs a row "
                          "of column headings such as 'UPN', 'Start Date' and 'Provider'.",
                          file=file_name)
    headers = [unneutralise(h).strip() for h in rows[idx]]
    while headers and not headers[-1]:
        headers.pop()
    ncols = max([len(headers)] + [len(r) for r in rows[idx + 1:]])
    headers += [""] * (ncols - len(headers))
    return delim, idx, headers, ncols, lines


def _scratch_dir(size: int) -> str | None:
    """Where to write an uploaded CSV for DuckDB's reader: memory-backed /dev/shm when it has
    room for twice the file (writing 150 MB to disk took 0.4 s here), else the usual temp dir."""
    try:
        if shutil.disk_usage("/dev/shm").free > 2 * size + (64 << 20):
            return "/dev/shm"
    except OSError:
        pass
    return None


def load_csv(con: duckdb.DuckDBPyConnection, text: str | None, utf8: bytes, path: str | None,
             delim: str, header_index: int, ncols: int, lines: list[int]) -> pa.Table | None:
    """Create ``raw`` from the rows after the header (Arrow, DuckDB or Python's csv module).

    ``raw`` has one column more than the headings (``c{ncols}``): it catches a cell past the
    last heading, so the caller can say which rows had more cells than headings. Returns the
    Arrow table behind ``raw`` when Arrow read it (no row then has a cell past the headings).
    """
    header_lines = lines[header_index]
    simple_head = header_lines == header_index + 1   # no quoted newline above the data
    if simple_head:
        # Row numbers are exact only when every line is one record (a quoted newline spans
        # two lines; DuckDB skips empty lines): the records read must equal the lines left.
        offset = 0
        for _ in range(header_lines):
            offset = utf8.find(b"\n", offset) + 1
            if offset == 0:
                offset = len(utf8)
                break
        expect = utf8.count(b"\n", offset) + (1 if len(utf8) > offset and utf8[-1:] != b"\n" else 0)
        first_rn = int(header_index) + 2   # an int we computed, not file text
        table = _load_arrow(con, utf8, offset, delim, ncols, first_rn, expect)
        if table is not None:
            return table
        tmp = None
        try:
            if path is None:
                fd, tmp = tempfile.mkstemp(suffix=".csv", dir=_scratch_dir(len(utf8)))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(utf8)
                path = tmp
            cols = {f"c{i}": "VARCHAR" for i in range(ncols + 1)}
            con.execute(
                "CREATE OR REPLACE TEMP TABLE raw0 AS SELECT * FROM read_csv($path, header = false, "
                "skip = $skip, delim = $delim, quote = '\"', escape = '\"', columns = $cols, "
                "auto_detect = false, null_padding = true, strict_mode = false, "
                "nullstr = [chr(0)], max_line_size = 20000000)",   # an empty cell is '', not NULL
                {"path": path, "skip": header_lines, "delim": delim, "cols": cols})
            n = con.execute("SELECT count(*) FROM raw0").fetchall()[0][0]
            if n == expect:
                view_in_parts(con, "raw0", int(n), first_rn)
                return None
        except (duckdb.Error, OSError):
            pass   # no room for the scratch copy, or DuckDB could not read it: Python reads it
        finally:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
    if text is None:
        text = utf8.decode("utf-8")
    load_csv_python_after(con, text, delim, ncols + 1, header_index)
    return None


def _load_arrow(con: duckdb.DuckDBPyConnection, utf8: bytes, offset: int, delim: str,
                ncols: int, first_rn: int, expect: int) -> pa.Table | None:
    """The common case, fast: Arrow's multi-threaded CSV reader over the bytes in memory.

    Only for a file whose every line after the header is one record of at most `ncols` cells
    and no more: a row with more cells (for the warning), a quoted newline or an empty line
    makes it return None, and DuckDB's reader (which pads short rows) or Python's is used.
    Cells are text exactly as in the file (an empty cell is '', as the other readers give it;
    "NA", "NULL" and the like are text, not missing values).
    """
    if expect == 0:
        return None
    names = [f"c{i}" for i in range(ncols)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(pa.py_buffer(memoryview(utf8)[offset:])),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter=delim, quote_char='"', double_quote=True, escape_char=False,
                newlines_in_values=False, ignore_empty_lines=False,
                invalid_row_handler=lambda row: "error"),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError):
        return None
    if table.num_rows != expect:
        return None
    n = table.num_rows
    table = table.add_column(0, "rn", pa.array(np.arange(first_rn, first_rn + n, dtype=np.int64)))
    table = table.append_column(f"c{ncols}", pa.nulls(n, pa.string()))
    con.register("raw_arrow", table)
    con.execute("CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM raw_arrow")
    return table


PARTS = 4                 # slices of a small sheet, so that DuckDB's threads share its rows
PARTS_BELOW = 1_000_000   # rows; a larger sheet has enough row groups of its own


def view_in_parts(con: duckdb.DuckDBPyConnection, table: str, n: int, first_rn: int) -> None:
    """Make the view ``raw`` (rn, c0, c1, ...) over `table` (a name made here).

    DuckDB shares a scan between threads by row group (122,880 rows), so a sheet of 100,000
    rows is one row group and every query on it runs on one core. Under PARTS_BELOW rows the
    view is a UNION ALL of row-id ranges instead, which DuckDB scans in parallel (same rows,
    same numbers; measured: a query over 100,000 placements took 0.19 s instead of 0.34 s).
    """
    first_rn, n = int(first_rn), int(n)
    if n < 4096 * PARTS or n >= PARTS_BELOW:
        parts = [f"SELECT rowid + {first_rn} AS rn, * FROM {table}"]
    else:
        step = -(-n // PARTS)
        parts = [f"SELECT rowid + {first_rn} AS rn, * FROM {table} "
                 f"WHERE rowid >= {i * step} AND rowid < {(i + 1) * step}" for i in range(PARTS)]
    con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS {' UNION ALL '.join(parts)}")


def overflow_rows(con: duckdb.DuckDBPyConnection, ncols: int) -> tuple[int, list[int]]:
    """Rows of ``raw`` with a non-blank cell past the last heading: (count, first five rows)."""
    n, first = con.execute(
        f"SELECT count(*), list(rn ORDER BY rn)[1:5] FROM raw "
        f"WHERE trim(COALESCE(c{int(ncols)}, '')) <> ''").fetchall()[0]
    return int(n), list(first or [])


def short_rows(con: duckdb.DuckDBPyConnection, ncols: int) -> tuple[int, list[int], int | None, int | None]:
    """Rows of ``raw`` with fewer cells than headings (a heading's cell missing, which DuckDB's
    and Python's readers give as NULL, where an empty cell is ''), blank rows aside:
    (count, first five rows, the last such row, the last row of the sheet)."""
    ncols = int(ncols)
    missing = " OR ".join(f"c{j} IS NULL" for j in range(ncols))
    present = " OR ".join(f"trim(coalesce(c{j}, '')) <> ''" for j in range(ncols))
    n, first, last_short, last = con.execute(
        f"SELECT count(*) FILTER (WHERE ({missing}) AND ({present})), "
        f"list(rn ORDER BY rn) FILTER (WHERE ({missing}) AND ({present}))[1:5], "
        f"max(rn) FILTER (WHERE ({missing}) AND ({present})), max(rn) FROM raw").fetchall()[0]
    return int(n), list(first or []), last_short, last


def _register(con: duckdb.DuckDBPyConnection, rows: list[list], ncols: int, first_rn: int,
              keep_from: int = 0) -> None:
    rows = rows[keep_from:]
    cols = {"rn": pa.array(range(first_rn + keep_from, first_rn + keep_from + len(rows)),
                           pa.int64())}
    for j in range(ncols):
        cols[f"c{j}"] = pa.array([r[j] if j < len(r) else None for r in rows], pa.string())
    table = pa.table(cols)
    con.execute("DROP VIEW IF EXISTS raw")
    con.register("raw_arrow", table)
    con.execute("CREATE OR REPLACE TEMP TABLE raw AS SELECT * FROM raw_arrow")
    con.unregister("raw_arrow")


def load_csv_python_after(con, text: str, delim: str, ncols: int, header_index: int) -> None:
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    _register(con, rows, ncols, first_rn=1, keep_from=header_index + 1)


# -- worksheets -------------------------------------------------------------------------------

def cell_text(x: object) -> str | None:
    """A calamine cell as the text the pipeline parses (dates ISO, whole numbers no '.0')."""
    if x is None or x == "":
        return None
    if isinstance(x, str):
        return x
    if isinstance(x, bool):
        return "TRUE" if x else "FALSE"
    if isinstance(x, float):
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return repr(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, dt.datetime):
        return x.isoformat(sep=" ")
    if isinstance(x, (dt.date, dt.time)):
        return x.isoformat()
    return str(x)


def column_strings(col: tuple | list) -> pa.Array:
    """One worksheet column as a string array, in C where the column has one type."""
    try:
        arr = pa.array(col)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        arr = None
    if arr is not None and pa.types.is_string(arr.type) or arr is not None and pa.types.is_null(arr.type):
        return arr.cast(pa.string())
    if arr is None:
        col = [None if x == "" else x for x in col]
        try:
            arr = pa.array(col)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return pa.array([cell_text(x) for x in col], pa.string())
    t = arr.type
    if pa.types.is_floating(t):
        integral = pc.and_(pc.equal(pc.floor(arr), arr), pc.less(pc.abs(arr), 1e15))
        as_int = pc.cast(pc.if_else(integral, arr, 0.0), pa.int64()).cast(pa.string())
        return pc.if_else(integral, as_int, arr.cast(pa.string()))
    if pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_null(t):
        return arr.cast(pa.string())
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "TRUE", "FALSE")
    if pa.types.is_timestamp(t):
        return pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")
    return pa.array([cell_text(x) for x in col], pa.string())


def register_sheet(con: duckdb.DuckDBPyConnection, rows: list[list], header_index: int,
                   ncols: int) -> None:
    data = rows[header_index + 1:]
    widths = set(map(len, data))          # calamine rows are normally all one width
    width = max(widths, default=0)
    if len(widths) > 1:
        data = [list(r) + [""] * (width - len(r)) for r in data]
    columns = list(zip(*data)) if data else []
    cols = {"rn": pa.array(range(header_index + 2, header_index + 2 + len(data)), pa.int64())}
    for j in range(ncols):
        cols[f"c{j}"] = (column_strings(columns[j]) if j < len(columns)
                         else pa.nulls(len(data), pa.string()))
    con.register("raw", pa.table(cols))
