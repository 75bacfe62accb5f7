"""Parse, map and validate a raw sheet in DuckDB, vectorised: strings in, typed rows out.

The raw sheet is a DuckDB table ``raw(rn BIGINT, c0 VARCHAR, c1 VARCHAR, ...)`` (``rn`` is the
1-based row number in the file). Every value from the file reaches SQL as a column value or a
bound parameter; identifiers are positional names made here or canonical names from schema.
"""
from __future__ import annotations

import os
import re
import threading
import warnings
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from analytics import schema
from analytics.ingest import vocab
from analytics.ingest.headers import AM, DAYS, MARK, PCT, PM, HeaderMatch

_WS = " \t\r\n\u00a0\ufeff"

# Date strings, tried by shape so that "14/3/25" never reads as the year 25 and month-first
# ("03/14/2025") fails instead of swapping. Two-digit years: DuckDB's %y, like Python's
# (00-68 -> 20xx, 69-99 -> 19xx). Years outside 1900-2100 are typos, not dates.
# An Excel serial has five digits (10000 is 18 May 1927, 73050 is 31 Dec 2099): a bare number of
# four digits or fewer ("2025", "14") is a year or a slip, not a date, and is reported as invalid.
# A macro's argument is copied into its body wherever it is named, and every copy of a regular
# expression is compiled when the query is bound: so a value used more than once is passed
# through a one-element list_transform lambda (bound once), which keeps the big query's
# planning time small.
# _cell: every cell is read through it (readers.unneutralise says why). One regular expression,
# not a CASE: with a CASE and an IN list in each column's source text, planning the big query
# took twice as long (LA placements, 5,000 rows: 0.69 s against 0.36 s).
_MACROS = r"""
CREATE OR REPLACE MACRO _untime(s) AS
  regexp_replace(s, '(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)$', '');
CREATE OR REPLACE MACRO _date_ts(d) AS CASE
  WHEN regexp_full_match(d, '\d{4}-\d{1,2}-\d{1,2}') THEN try_strptime(d, '%Y-%m-%d')
  WHEN regexp_full_match(d, '\d{4}/\d{1,2}/\d{1,2}') THEN try_strptime(d, '%Y/%m/%d')
  WHEN regexp_full_match(d, '\d{1,2}/\d{1,2}/\d{4}') THEN try_strptime(d, '%d/%m/%Y')
  WHEN regexp_full_match(d, '\d{1,2}-\d{1,2}-\d{4}') THEN try_strptime(d, '%d-%m-%Y')
  WHEN regexp_full_match(d, '\d{1,2}\.\d{1,2}\.\d{4}') THEN try_strptime(d, '%d.%m.%Y')
  WHEN regexp_full_match(d, '\d{1,2}/\d{1,2}/\d{2}') THEN try_strptime(d, '%d/%m/%y')
  WHEN regexp_full_match(d, '\d{1,2}-\d{1,2}-\d{2}') THEN try_strptime(d, '%d-%m-%y')
  WHEN regexp_full_match(d, '\d{1,2}\.\d{1,2}\.\d{2}') THEN try_strptime(d, '%d.%m.%y')
  WHEN regexp_full_match(d, '\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{4}') THEN
    try_strptime(replace(d, '-', ' '), ['%d %b %Y', '%d %B %Y'])
  WHEN regexp_full_match(d, '\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{2}') THEN
    try_strptime(replace(d, '-', ' '), ['%d %b %y', '%d %B %y'])
  WHEN regexp_full_match(d, '\d{8}') THEN try_strptime(d, '%Y%m%d')
  WHEN regexp_full_match(d, '\d{5}(?:\.\d+)?') THEN
    TIMESTAMP '1899-12-30' + to_days(CAST(floor(CAST(d AS DOUBLE)) AS INTEGER))
END;
CREATE OR REPLACE MACRO _uk_date(s) AS list_transform([_untime(s)], lambda u:
  list_transform([_date_ts(u)], lambda t:
    CASE WHEN year(t) BETWEEN 1900 AND 2100 THEN CAST(t AS DATE) END)[1])[1];
CREATE OR REPLACE MACRO _num(s) AS list_transform(
  [TRY_CAST(regexp_replace(s, '[£,\s]', '', 'g') AS DOUBLE)], lambda x: CASE WHEN isfinite(x) THEN x END)[1];
CREATE OR REPLACE MACRO _vkey(s) AS regexp_replace(lower(s), '[^\p{L}\p{N}]', '', 'g');
CREATE OR REPLACE MACRO _bool(s) AS CASE
  WHEN lower(s) IN ('y', 'yes', 'true', '1', 't', '1.0') THEN true
  WHEN lower(s) IN ('n', 'no', 'false', '0', 'f', '0.0') THEN false END;
CREATE OR REPLACE MACRO _cell(s) AS regexp_replace(s, '^''([-=+@\t\r\n])', '\1');
CREATE OR REPLACE MACRO _upn_digit(c) AS CASE
  WHEN c BETWEEN '0' AND '9' THEN ascii(c) - 48
  ELSE strpos('ABCDEFGHJKLMNPQRTUVWXYZ', c) - 1 END;
"""
# Characters 2-12 are digits (the caller checks the shape), so plain arithmetic on their
# code points; only character 13 may be a letter (a temporary UPN).
_UPN_SUM = " + ".join(f"{i} * (ascii(substr(x, {i}, 1)) - 48)" for i in range(2, 13))
_MACROS += (
    "CREATE OR REPLACE MACRO _upn_ok(x) AS substr('ABCDEFGHJKLMNPQRTUVWXYZ', "
    f"(({_UPN_SUM} + 13 * _upn_digit(substr(x, 13, 1))) % 23) + 1, 1) = substr(x, 1, 1) "
    "AND _upn_digit(substr(x, 13, 1)) >= 0;\n"
)


# Lookup tables (vocab key -> canonical value), one per vocabulary; names are ours.
_LOOKUPS = {
    "_v_setting_type": vocab.SETTING_TYPE, "_v_reason": vocab.REASON,
    "_v_destination": vocab.DESTINATION, "_v_sex": vocab.SEX, "_v_sen_status": vocab.SEN_STATUS,
    "_v_commissioner": vocab.COMMISSIONER, "_v_category": vocab.EXCLUSION_CATEGORY,
    "_v_excl_reason": vocab.EXCLUSION_REASON, "_v_ethnicity": vocab.ETHNICITY_GROUP,
}


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the macros and lookup tables (in the database's main schema, so that every
    cursor of it sees them)."""
    for stmt in _MACROS.split(";\n"):
        if stmt.strip():
            con.execute(stmt)
    schema.add_fold_function(con)   # register marks are grouped by the setting's key (data-spec §6)
    for name, table in _LOOKUPS.items():
        con.execute(f"CREATE OR REPLACE TABLE {name} AS "
                    "SELECT unnest($k::VARCHAR[]) AS k, unnest($v::VARCHAR[]) AS v",
                    {"k": list(table), "v": list(table.values())})


_DB: duckdb.DuckDBPyConnection | None = None
_DB_PID: int | None = None
_DB_LOCK = threading.Lock()


def database() -> duckdb.DuckDBPyConnection:
    """The importer's in-memory DuckDB database, made once per process with the macros and
    lookup tables installed. Each read works on a ``cursor()`` of it: a connection of its own,
    whose TEMP tables and registered views no other read sees."""
    global _DB, _DB_PID
    with _DB_LOCK:
        if _DB is None or _DB_PID != os.getpid():   # a forked child makes its own
            con = duckdb.connect(":memory:")
            con.execute("SET enable_progress_bar = false")
            install_macros(con)
            _DB, _DB_PID = con, os.getpid()
        return _DB




# Column kinds. Vocab kinds name (table, fallback): fallback None means "blank + warning".
_VOCABS = {
    "setting_type": (vocab.SETTING_TYPE, "unknown"),
    "reason": (vocab.REASON, "other"),
    "destination": (vocab.DESTINATION, "other"),
    "sex": (vocab.SEX, "U"),
    "sen_status": (vocab.SEN_STATUS, None),
    "commissioner": (vocab.COMMISSIONER, None),
}
_URN = {"home_school_urn": 6, "provider_urn": 6, "school_urn": 6, "provider_ukprn": 8}
# Optional columns whose invalid value still rejects the row (data-spec §5).
_REJECT_IF_INVALID = {"end_date", "period_end"}
# The warning for a pupil ID that is nearly a UPN (_Builder._pupil_id), after the column's header.
SPACED_UPN = "had spaces inside, which were removed: a UPN has none."
MISTYPED_UPN = ("is not a well-formed UPN: a character may be missing, extra or mistyped (a UPN is a "
                "letter, 11 digits and a check character). Check it, or this child may be counted as two "
                "pupils.")


MAX_CARRIED = 4   # raw cells the row kind's full test may carry past the joins (_stages)


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


@dataclass
class SheetResult:
    accepted: pa.Table
    rejected: pa.Table
    summary_rows: int
    blank_rows: int
    sheet_warnings: list[str] = field(default_factory=list)


def _empty(dataset: str) -> pa.Table:
    fields = [pa.field("row_number", pa.int64())]
    types = {"VARCHAR": pa.string(), "DATE": pa.date32(), "DOUBLE": pa.float64(),
             "INTEGER": pa.int32(), "BOOLEAN": pa.bool_()}
    for c in schema.DATASETS[dataset]:
        fields.append(pa.field(c.name, types[schema.DUCKDB_TYPE[c.type]]))
    fields.append(pa.field("warnings", pa.string()))
    return pa.schema(fields).empty_table()


REJECTED_SCHEMA = pa.schema([pa.field("row_number", pa.int64()), pa.field("reason", pa.string()),
                             pa.field("original", pa.string())])


def run(con: duckdb.DuckDBPyConnection, ncols: int, headers: list[str],
        match: HeaderMatch) -> SheetResult:
    """Turn the ``raw`` table into accepted and rejected pyarrow tables."""
    p = _Params()
    ws = p(_WS)
    # Each row's kind: 0 blank, 1 a summary ("Total") row, 2 data. The first non-empty cell
    # decides (a row whose first non-empty cell is only spaces counts as blank). It is named
    # once, through a lambda: written out in each test, DuckDB evaluated the wide COALESCE
    # once per summary word, which cost more than all the parsing. (_cell never makes a
    # non-empty cell empty, so the first non-empty cell is the same before it and after.)
    summary_words = p(list(vocab.SUMMARY_WORDS))
    first = ("list_transform([COALESCE(" + ", ".join(f"NULLIF(c{i}, '')" for i in range(ncols))
             + f")], lambda f: CASE WHEN f IS NULL OR trim(_cell(f), {ws}) = '' THEN 0 "
             f"WHEN list_contains({summary_words}, lower(trim(_cell(f), {ws} || ':'))) THEN 1 "
             "ELSE 2 END)[1]")
    # Fast path, most rows: a first cell with no space or ':' at either end (nor an apostrophe
    # at the start, which _cell may take off) that is longer than any summary word is the row's
    # first non-empty cell, trims to itself and is no summary word (lower() never shortens a
    # string), so the row is data.
    edge, longest = p(_WS + ":"), max(len(w) for w in vocab.SUMMARY_WORDS)
    lead = p(_WS + ":'")

    def fast(c: str) -> str:
        return (f"({c} <> '' AND length({c}) > {longest} AND NOT contains({lead}, left({c}, 1)) "
                f"AND NOT contains({edge}, right({c}, 1)))")
    first = f"CASE WHEN {fast('c0')} THEN 2 ELSE {first} END"
    b = _Builder(p, match, headers, ws)
    b.fast_first = fast
    sheet_warnings = []
    if match.dataset == "attendance" and PCT in match.columns:
        note = _percent_as_fraction(con, match.columns[PCT], headers)
        if note:
            b.pct_scale = 100
            sheet_warnings.append(note)
    if match.dataset == "attendance" and (match.columns.keys() & {AM, PM, MARK}):
        counts = con.execute(
            "SELECT count(*) FILTER (WHERE k = 0), count(*) FILTER (WHERE k = 1)"
            f" FROM (SELECT {first} AS k FROM raw)", p.values).fetchall()[0]
        blank_rows, summary_rows = int(counts[0]), int(counts[1])
        table = _arrow(con, b.marks_sql(first, summary_words, ncols), p.values)
    else:
        # every row comes back with its kind (_k), so one pass over the sheet counts the blank
        # and summary rows and parses the data rows
        table = _unordered(con, b.rows_sql(first, summary_words, ncols), p.values)
        kinds = table["_k"]
        blank_rows = pc.sum(pc.equal(kinds, 0)).as_py() or 0
        summary_rows = pc.sum(pc.equal(kinds, 1)).as_py() or 0
        if blank_rows or summary_rows:
            table = table.filter(pc.equal(kinds, 2))
        table = table.drop_columns(["_k"])
    table = _in_file_order(table)
    ok = pc.is_null(table["_reject"])
    n_bad = table.num_rows - table["_reject"].null_count
    bad_rows = table.filter(pc.invert(ok)) if n_bad else table.slice(0, 0)
    if bad_rows.num_rows:
        # the original cells of rejected rows only, fetched by row number
        q = _Params()
        original = _Builder(q, match, headers, ws).original(ncols)
        rns = q(bad_rows["row_number"].to_pylist())
        orig = _arrow(con, f"SELECT rn AS row_number, {original} AS _original FROM raw "
                           f"WHERE list_contains({rns}::BIGINT[], rn) ORDER BY rn", q.values)
        bad_rows = bad_rows.select(["row_number", "_reject"]).join(orig, "row_number")
        bad_rows = bad_rows.sort_by("row_number")
    else:
        bad_rows = bad_rows.append_column("_original", pa.array([], pa.string()))
    accepted = (table.filter(ok) if n_bad else table).select(
        ["row_number", *schema.column_names(match.dataset), "_warn"])
    accepted = accepted.rename_columns([*accepted.column_names[:-1], "warnings"])
    target = _empty(match.dataset).schema
    if accepted.schema != target:
        accepted = accepted.cast(target)
    rejected = bad_rows.select(["row_number", "_reject", "_original"])
    rejected = rejected.rename_columns(["row_number", "reason", "original"])
    rejected = rejected.cast(REJECTED_SCHEMA)
    return SheetResult(accepted, rejected, summary_rows, blank_rows, sheet_warnings)


# Two ways to fetch Arrow, each better at one end: con.sql() binds a query once to make a
# relation and again to run it (50-60 ms of the big query's planning, more than reading 5,000
# rows); a result of con.execute() is planned once but copied once more on the way out (0.11 s
# for 2.3 million rows of seven columns), and warns so, which is not shown.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
COPY_COSTS_MORE = 200_000   # rows: from here on, binding twice is the cheaper of the two


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: dict, rows: int = 0) -> pa.Table:
    """A query's result as an Arrow table; `rows`, roughly how many it returns."""
    if rows >= COPY_COSTS_MORE:
        return con.sql(sql, params=params).to_arrow_table()
    return con.execute(sql, params).to_arrow_reader().read_all()


def _unordered(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pa.Table:
    """Run the big query with DuckDB free to return rows in any order (this cursor only), so
    that both cores work on a sheet of one row group too; _in_file_order puts them back."""
    rows = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    con.execute("SET SESSION preserve_insertion_order = false")
    try:
        return _arrow(con, sql, params, rows)
    finally:
        con.execute("RESET SESSION preserve_insertion_order")


def _in_file_order(table: pa.Table) -> pa.Table:
    """The rows sorted by row number, copying as little as possible.

    DuckDB's threads each return their blocks of rows in order, but the blocks of the two
    threads come back one after the other, not interleaved: the table is a few runs of
    consecutive row numbers out of place. Those runs are put back in order as zero-copy
    slices; anything else (many runs, or runs that overlap) gets a full sort.
    """
    n = table.num_rows
    if n < 2:
        return table
    rn = table["row_number"]
    step = pc.subtract(rn.slice(1), rn.slice(0, n - 1))
    if pc.min(step).as_py() > 0:
        return table   # already ascending
    breaks = pc.indices_nonzero(pc.not_equal(step, 1)).to_pylist()
    if len(breaks) <= max(64, n // 512):
        starts = [0] + [b + 1 for b in breaks]
        ends = [b + 1 for b in breaks] + [n]
        first, last = rn.take(pa.array(starts)).to_pylist(), rn.take(pa.array([e - 1 for e in ends])).to_pylist()
        runs = sorted(zip(first, last, starts, ends))
        if all(prev[1] < nxt[0] for prev, nxt in zip(runs, runs[1:])):
            return pa.concat_tables([table.slice(a, e - a) for _, _, a, e in runs])
    return table.sort_by("row_number")


def _percent_as_fraction(con: duckdb.DuckDBPyConnection, col: int, headers: list[str]
                         ) -> str | None:
    """A sentence when the percentage column holds fractions, else None.

    A cell formatted as a percentage in Excel holds 0.85 for 85%, and a CSV saved from such a
    sheet may too. When no cell has a '%' sign and every number is between 0 and 1 with at
    least one above 0, the column is read as fractions (0.85 = 85%): attendance of at most 1%
    on every row is not a plausible export.
    """
    c = f"c{int(col)}"
    top, signs = con.execute(
        f"SELECT max(_num(_cell({c}))), count(*) FILTER (WHERE contains({c}, '%')) FROM raw "
        f"WHERE trim(COALESCE({c}, '')) <> ''").fetchall()[0]
    if signs or top is None or not 0 < top <= 1:
        return None
    return (f"Every value in the '{str(headers[col]).strip()}' column is between 0 and 1, so "
            "they were read as fractions (0.85 = 85%), as Excel stores a cell formatted as a "
            "percentage.")


def _joined(parts: list[str]) -> str:
    """SQL: the non-NULL sentences joined by '; ' (one final full stop), or NULL."""
    if not parts:
        return "CAST(NULL AS VARCHAR)"
    inner = ", ".join(f"rtrim({x}, '.')" for x in parts)
    # the sentences are only assembled for rows that have at least one
    return (f"CASE WHEN COALESCE({', '.join(parts)}) IS NOT NULL THEN "
            f"NULLIF(concat_ws('; ', {inner}), '') || '.' END")


class _Builder:
    def __init__(self, p: _Params, match: HeaderMatch, headers: list[str], ws: str):
        self.p, self.m, self.headers, self.ws = p, match, headers, ws
        self.dataset = match.dataset
        self.label = {c: str(headers[i]).strip() for c, i in match.columns.items()}
        self.rejects: list[str] = []   # SQL expressions: a sentence or NULL
        self.warns: list[str] = []
        self.lookups: list[tuple[str, str, str]] = []   # (alias, lookup table, source column)
        self.dict_msgs: dict[str, list[tuple[str, str]]] = {}   # source -> (column, sentence SQL)
        self.pct_scale = 1   # 100 when the percentage column holds fractions
        self.fast_first = None   # column name -> SQL of the row kind's fast test (see run)

    def _lookup(self, table: str, s: str) -> str:
        alias = f"lk_{len(self.lookups)}"
        self.lookups.append((alias, table, s))
        return alias

    # -- helpers ---------------------------------------------------------------------------
    def s(self, col: str) -> str:
        """The trimmed cell text of a mapped column (read through _cell), or NULL."""
        if col not in self.m.columns:
            return "CAST(NULL AS VARCHAR)"
        c = f"c{self.m.columns[col]}"
        # trim() is slow, and of ASCII characters it strips only ' ': so an all-ASCII cell
        # (as many bytes as characters) with no space at either end, and no apostrophe at the
        # start for _cell to take off, is its own trimmed text
        return (f"CASE WHEN NOT starts_with({c}, ' ') AND NOT starts_with({c}, '''') AND "
                f"NOT suffix({c}, ' ') AND strlen({c}) = length({c}) THEN NULLIF({c}, '') "
                f"ELSE NULLIF(trim(_cell({c})), '') END")

    def msg(self, col: str, text_after_value: str, value: str | None = None) -> str:
        """SQL for: <Header> '<value>' <text>."""
        p = self.p
        if value is None:
            return f"concat({p(self.label.get(col, col))}, {p(' ' + text_after_value)})"
        return (f"concat({p(self.label.get(col, col))}, {p(' ' + chr(39))}, left({value}, 60), "
                f"{p(chr(39) + ' ' + text_after_value)})")

    def original(self, ncols: int) -> str:
        seen: dict[str, int] = {}
        parts = []
        for i in range(ncols):
            h = str(self.headers[i]).strip() if i < len(self.headers) else ""
            h = h or f"Column {i + 1}"
            seen[h] = seen.get(h, 0) + 1
            key = h if seen[h] == 1 else f"{h} ({seen[h]})"
            parts.append(f"{self.p(key)}, _cell(c{i})")
        return f"CAST(json_object({', '.join(parts)}) AS VARCHAR)"

    # -- one column ------------------------------------------------------------------------
    def column(self, c: schema.Column) -> str:
        """SQL for a canonical column's value; adds reject/warn expressions as it goes."""
        name, p = c.name, self.p
        self.last_source = None
        if name == "ethnicity_group":
            self.last_source = "s_ethnicity"
            return self._ethnicity_group()
        if name not in self.m.columns and not (name == "sessions" and DAYS in self.m.columns):
            return "NULL"
        s = f"s_{name}" if name != "sessions" or "sessions" in self.m.columns else "s__days"
        required = c.required
        V = f"v_{name}"
        self.last_source = s
        if name == "pupil_id":
            return self._pupil_id(s)
        if c.type == schema.DATE:
            v = f"_uk_date({s})"
            bad = f"{s} IS NOT NULL AND {V} IS NULL"
            self._invalid(name, s, bad, required or name in _REJECT_IF_INVALID,
                          "is not a valid date (day/month/year, in the years 1900 to 2100)")
            return v
        if name in _VOCABS and not (name == "reason" and self.dataset == "exclusions"):
            fallback = _VOCABS[name][1]
            look = self._lookup(f"_v_{name}", s)
            if fallback is None:
                self.warns.append(f"CASE WHEN {s} IS NOT NULL AND {look} IS NULL THEN "
                                  f"{self.msg(name, 'is not a recognised code, so it was left blank.', s)} END")
                return look
            self.warns.append(f"CASE WHEN {s} IS NOT NULL AND {look} IS NULL THEN "
                              f"{self.msg(name, f'is not a recognised code, so it was stored as {fallback!r}.', s)} END")
            return f"CASE WHEN {s} IS NOT NULL THEN COALESCE({look}, {p(fallback)}) END"
        if name == "category":
            look = self._lookup("_v_category", s)
            self.rejects.append(f"CASE WHEN {s} IS NULL THEN {self.msg(name, 'is blank, but it is required.')} "
                                f"WHEN {look} IS NULL THEN {self.msg(name, 'is not a known exclusion type (use suspension, permanent or lunchtime).', s)} END")
            return look
        if name == "reason" and self.dataset == "exclusions":
            look = self._lookup("_v_excl_reason", s)
            self.warns.append(f"CASE WHEN {s} IS NOT NULL AND {look} IS NULL THEN "
                              f"{self.msg(name, 'is not a DfE exclusion reason code; the text was kept as given.', s)} END")
            return f"COALESCE({look}, {s})"
        if name in _URN:
            n = _URN[name]
            v = f"CASE WHEN regexp_full_match({s}, {p(f'[0-9]{{{n}}}')}) THEN {s} END"
            self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", False,
                          f"is not a {n}-digit number")
            return v
        if name == "nc_year":
            k = f"upper(regexp_replace({s}, '^(?i:nc\\s*year|year|yr|y)\\s*', ''))"
            v = (f"CASE WHEN {k} IN ('R', 'RECEPTION') THEN 'R' WHEN {k} IN ('X', 'N1', 'N2') "
                 f"THEN {k} WHEN regexp_full_match({k}, '[0-9]{{1,2}}(\\.0+)?') AND "
                 f"CAST(CAST({k} AS DOUBLE) AS INTEGER) BETWEEN 1 AND 14 "
                 f"THEN CAST(CAST(CAST({k} AS DOUBLE) AS INTEGER) AS VARCHAR) END")
            self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", False,
                          "is not a year group (R, 1-14 or X)")
            return v
        if c.type == schema.BOOL:
            v = f"_bool({s})"
            self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", False,
                          "is not yes/no (Y/N, Yes/No, True/False, 1/0)")
            return v
        if c.type in (schema.NUMBER, schema.INTEGER):
            num = f"_num({s})"
            if name == "sessions" and "sessions" not in self.m.columns:
                num = f"(_num({s}) * 2)"   # a "Days" column: 1 day = 2 sessions
                self.label["sessions"] = self.label[DAYS]
            if name in ("possible_sessions", "attended_sessions"):
                if name == "attended_sessions" and PCT in self.m.columns:
                    required = False   # the percentage stands in for it
                self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", True,
                              "is not a number", required)
                self.rejects.append(f"CASE WHEN {V} < 0 THEN "
                                    f"{self.msg(name, 'is negative.', s)} END")
                return num
            if name == "sessions_per_week":
                v = (f"CASE WHEN {num} = floor({num}) AND {num} BETWEEN 1 AND 10 "
                     f"THEN CAST({num} AS INTEGER) END")
                self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", False,
                              "is not a whole number of sessions from 1 to 10")
                return v
            if name == "hours_per_week":
                # a week has 168 hours: more is a typo (400 for 40), not a timetable
                v = f"CASE WHEN {num} BETWEEN 0 AND 168 THEN {num} END"
                self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", False,
                              "is not a number of hours from 0 to 168 (the hours in a week)")
                return v
            v = num if required else f"CASE WHEN {num} >= 0 THEN {num} END"
            self._invalid(name, s, f"{s} IS NOT NULL AND {V} IS NULL", required,
                          "is not a number" if required else "is not a number of 0 or more")
            return v
        # text
        if required:
            self.rejects.append(f"CASE WHEN {s} IS NULL THEN "
                                f"{self.msg(name, 'is blank, but it is required.')} END")
        return s

    def _invalid(self, name: str, s: str, bad: str, rejects: bool, words: str,
                 required: bool | None = None) -> None:
        if required is None:
            required = schema.column(self.dataset, name).required
        if rejects:
            blank = (f"WHEN {s} IS NULL THEN {self.msg(name, 'is blank, but it is required.')} "
                     if required else "")
            self.rejects.append(f"CASE {blank}WHEN {bad} THEN {self.msg(name, words + '.', s)} END")
        else:
            self.warns.append(f"CASE WHEN {bad} THEN "
                              f"{self.msg(name, words + ', so it was left blank.', s)} END")

    def _pupil_id(self, s: str) -> str:
        # A UPN written in groups ('A123 4567 89012', as some systems print it) is the same UPN:
        # its spaces are removed, with a row warning (nothing is silently fixed). Only when what
        # is left is UPN-shaped: a local ID may have spaces of its own.
        compact = f"regexp_replace(upper({s}), '[ \\t\u00a0]+', '', 'g')"
        upn = "'[A-Z][0-9]{11}[0-9A-Z]'"
        v = f"CASE WHEN regexp_full_match({compact}, {upn}) THEN {compact} ELSE upper({s}) END"
        self.warns.append(
            f"CASE WHEN v_pupil_id IS DISTINCT FROM upper({s}) THEN "
            f"{self.msg('pupil_id', SPACED_UPN)} END")
        self.rejects.append(
            f"CASE WHEN {s} IS NULL THEN {self.msg('pupil_id', 'is blank, but it is required.')} "
            f"WHEN regexp_full_match(v_pupil_id, '[0-9]+(?:\\.[0-9]+)?E[+-]?[0-9]+') THEN "
            f"{self.msg('pupil_id', 'looks like a number that Excel shortened (scientific notation); the digits are lost, so the pupil cannot be identified.')} END")
        # A UPN typed wrongly (a digit dropped or doubled, O or I for 0 or 1) makes the same child
        # a second pupil. Local IDs are allowed (data-spec §1), so only near-UPNs are warned of:
        # a letter, then 10 to 13 characters that are all digits, O or I but for the last (a
        # temporary UPN ends in a letter), with at most two O/I. The value is left out of the
        # sentence: it is nearly a UPN, which must not be shown, and it is not UPN-shaped, so
        # the pages' UPN masking would not hide it (the row number finds it).
        self.warns.append(
            f"CASE WHEN regexp_full_match(v_pupil_id, '[A-Z][0-9]{{11}}[0-9A-Z]') AND NOT _upn_ok(v_pupil_id) THEN "
            f"{self.msg('pupil_id', 'has a check letter that does not match its digits, so it is not a valid UPN.')} "
            f"WHEN regexp_full_match(v_pupil_id, '[A-Z][0-9OI]{{9,12}}[0-9A-Z]') "
            f"AND NOT regexp_full_match(v_pupil_id, '[A-Z][0-9]{{11}}[0-9A-Z]') "
            f"AND length(regexp_replace(substr(v_pupil_id, 2, length(v_pupil_id) - 2), '[0-9]', '', 'g')) <= 2 THEN "
            f"{self.msg('pupil_id', MISTYPED_UPN)} "
            f"WHEN regexp_full_match(v_pupil_id, '[0-9]+\\.[0-9]+') THEN "
            f"{self.msg('pupil_id', 'looks like a number with a decimal point; check that the ID was not changed by a number format.')} END")
        return v

    def _ethnicity_group(self) -> str:
        if "ethnicity" not in self.m.columns:
            return "NULL"
        p = self.p
        look = self._lookup("_v_ethnicity", "s_ethnicity")
        self.warns.append(f"CASE WHEN s_ethnicity IS NOT NULL AND {look} IS NULL THEN "
                          f"{self.msg('ethnicity', 'is not a recognised ethnicity code, so its group was stored as Unknown.', 's_ethnicity')} END")
        return f"CASE WHEN s_ethnicity IS NOT NULL THEN COALESCE({look}, 'Unknown') END"

    # -- whole statements ------------------------------------------------------------------
    def _source_cols(self, dictionary: set[str] = frozenset()) -> str:
        """Trimmed text per mapped column; raw text (r_) for those parsed by dictionary."""
        return ", ".join(f"c{i} AS r_s_{c}" if f"s_{c}" in dictionary else f"{self.s(c)} AS s_{c}"
                         for c, i in self.m.columns.items())

    def _row_checks(self) -> None:
        """Checks across columns; they read the final columns (quoted canonical names)."""
        p, ds = self.p, self.dataset
        if ds == "placements":
            named = "s_provider IS NULL AND " if "provider" in self.m.columns else ""
            self.rejects.append(
                f"CASE WHEN {named}\"provider_urn\" IS NULL AND \"provider_ukprn\" IS NULL THEN "
                f"{p('No provider is given: fill in the provider name, URN or UKPRN.')} END")
            self.rejects.append(f"CASE WHEN \"end_date\" < \"start_date\" THEN "
                                f"{p('The end date is before the start date.')} END")
            self.warns.append(f"CASE WHEN \"planned_end_date\" < \"start_date\" THEN "
                              f"{p('The planned end date is before the start date.')} END")
        elif ds == "attendance":
            self.rejects.append(
                f"CASE WHEN \"attended_sessions\" > \"possible_sessions\" THEN "
                f"{p('More sessions are attended than possible.')} END")
            self.rejects.append(f"CASE WHEN \"period_end\" < \"period_start\" THEN "
                                f"{p('The period ends before it starts.')} END")

    def _values(self, cols: list[schema.Column]) -> tuple[dict[str, str], dict[str, str]]:
        """Each column's value SQL, and the source column of those parsed per distinct value."""
        values, sources = {}, {}
        for c in cols:
            r0, w0 = len(self.rejects), len(self.warns)
            expr = self.column(c)
            values[c.name] = expr
            src = self.last_source
            cheap = c.type == schema.BOOL or c.name in _URN   # as fast per row as a join
            if src and expr not in (src, "NULL") and not cheap:
                sources[c.name] = src
                # this column's own reject/warning sentences read only its source text, value
                # and lookups, so they too are worked out once per distinct text
                self._per_value(src, self.rejects, r0)
                self._per_value(src, self.warns, w0)
        return values, sources

    def _per_value(self, src: str, parts: list[str], start: int) -> None:
        msgs = self.dict_msgs.setdefault(src, [])
        for i in range(start, len(parts)):
            name = f"m_{src}_{len(msgs)}"
            msgs.append((name, parts[i]))
            parts[i] = name

    def _stages(self, first: str, summary_words: str, values: dict[str, str],
                sources: dict[str, str], ncols: int) -> str:
        """CTEs: s (kept rows' source text), per-source dictionaries, v (parsed values).

        Dates, codes and numbers repeat a lot, so they are parsed once per distinct text
        and joined back, which keeps the regular expressions off the hot path. When the first
        column is one of those, the row kind's fast test (see run) is worked out once per
        distinct text too, and the full test only for rows that fail it.
        """
        by_src: dict[str, list[str]] = {}
        for name, src in sources.items():
            by_src.setdefault(src, []).append(name)
        ctes, joins, outs = [], [], []
        kind_dict = None
        for k, (src, names) in enumerate(by_src.items()):
            looks = [(a, tbl) for a, tbl, s in self.lookups if s == src]
            ljoin = " ".join(f"LEFT JOIN {tbl} AS j_{a} ON j_{a}.k = _vkey(x.{src})"
                             for a, tbl in looks)
            lcols = "".join(f", j_{a}.v AS {a}" for a, _ in looks)
            vcols = ", ".join(f"{values[n]} AS v_{n}" for n in names)
            lnames = "".join(f", {a}" for a, _ in looks)
            # keyed on the raw cell text, so rows need no trimming of these columns
            raw_col = f"c{self.m.columns[src[2:]]}"
            msgs = self.dict_msgs.get(src, [])
            mcols = "".join(f", {expr} AS {name}" for name, expr in msgs)
            if raw_col == "c0" and self.fast_first is not None and kind_dict is None:
                kind_dict = f"p{k}"
                mcols += f", {self.fast_first('_key')} AS _fast"
                outs.append(f"p{k}._fast")
            # with sentences, a blank cell has a row too (its sentence may be "is blank")
            nonnull = "" if msgs else f" WHERE {raw_col} IS NOT NULL"
            ctes.append(
                f"p{k} AS (SELECT *{mcols} FROM (SELECT _key, {src}, {vcols}{lnames} FROM "
                f"(SELECT x._key, x.{src}{lcols} "
                f"FROM (SELECT {raw_col} AS _key, NULLIF(trim(_cell({raw_col}), {self.ws}), '') AS {src} "
                f"FROM (SELECT DISTINCT {raw_col} FROM raw){nonnull}) "
                f"AS x {ljoin})))")
            eq = "IS NOT DISTINCT FROM" if msgs or raw_col == "c0" else "="
            joins.append(f"LEFT JOIN p{k} ON p{k}._key {eq} s.r_{src}")
            outs += ([f"p{k}.{src}"] + [f"p{k}.v_{n}" for n in names] + [f"p{k}.{a}" for a, _ in looks]
                     + [f"p{k}.{name}" for name, _ in msgs])
        rowlevel = [f"{values[n]} AS v_{n}" for n in values if n not in sources]
        # The full test reads every cell of the row, so then s must carry the raw cells the
        # dictionaries do not (dictionary sources carry theirs as r_s_...). That pays when few
        # are left (2.3M attendance rows: 10% less CPU) and not when many are (100,000
        # placements, ten cells carried through twenty joins: 3-5% more), hence MAX_CARRIED.
        dict_cols = {f"c{self.m.columns[src[2:]]}": f"r_{src}" for src in by_src}
        raw_cells = [f"c{i}" for i in range(ncols) if f"c{i}" not in dict_cols]
        if len(raw_cells) > MAX_CARRIED and kind_dict is not None:
            outs.remove(f"{kind_dict}._fast")
            kind_dict = None
        if kind_dict is None:
            return (
                f"WITH s AS (SELECT rn, _k, {self._source_cols(set(by_src))} FROM "
                f"(SELECT *, {first} AS _k FROM raw)), "
                + "".join(c + ", " for c in ctes)
                + f"v AS (SELECT {', '.join(['s.*', *outs, *rowlevel])} FROM s {' '.join(joins)})")
        kind = first
        for col, alias in dict_cols.items():
            kind = re.sub(rf"\b{col}\b", alias, kind)
        return (
            f"WITH s AS (SELECT rn, {', '.join([*raw_cells, self._source_cols(set(by_src))])} "
            f"FROM raw), "
            + "".join(c + ", " for c in ctes)
            + f"v0 AS (SELECT {', '.join(['s.*', *outs, *rowlevel])} FROM s {' '.join(joins)}), "
            f"v AS (SELECT CASE WHEN _fast THEN 2 ELSE {kind} END AS _k, * EXCLUDE (_fast) FROM v0)")

    def rows_sql(self, first: str, summary_words: str, ncols: int) -> str:
        cols = schema.column_names(self.dataset)
        values, sources = self._values(list(schema.DATASETS[self.dataset]))
        if PCT in self.m.columns:
            scale = " * 100" if self.pct_scale == 100 else ""
            values["pct"], sources["pct"] = f"(_num(replace(s__pct, '%', '')){scale})", "s__pct"
        final = {c: f"v_{c}" for c in cols}
        if self.dataset == "attendance":
            final = self._attendance_derived(final)
        self._row_checks()
        reason, warn = _joined(self.rejects), _joined(self.warns)
        dcols = ", ".join(f'{expr} AS "{c}"' for c, expr in final.items())
        return (
            self._stages(first, summary_words, values, sources, ncols) + ", "
            f"d AS (SELECT *, {dcols} FROM v), "
            f"t AS (SELECT *, {reason} AS _reject, {warn} AS _warn FROM d) "
            f"SELECT rn AS row_number, {', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)}, "
            f"_reject, _warn, _k FROM t"
        )

    def _attendance_derived(self, final: dict[str, str]) -> dict[str, str]:
        p = self.p
        final = dict(final)
        if PCT in self.m.columns:
            pct = "v_pct"
            self.rejects.append(
                f"CASE WHEN s__pct IS NOT NULL AND {pct} IS NULL THEN "
                f"{self.msg(PCT, 'is not a percentage.', 's__pct')} "
                f"WHEN {pct} < 0 OR {pct} > 100 THEN "
                f"{self.msg(PCT, 'is outside 0-100%.', 's__pct')} "
                f"WHEN s__pct IS NULL AND v_attended_sessions IS NULL THEN "
                f"{p('Attended sessions and attendance % are both blank.')} END")
            # round half up to a whole session; round(.., 6) first so 2.4999999 is 2.5
            from_pct = (f"CASE WHEN {pct} BETWEEN 0 AND 100 AND v_possible_sessions >= 0 "
                        f"THEN floor(round({pct} * v_possible_sessions / 100, 6) + 0.5) END")
            final["attended_sessions"] = f"COALESCE(v_attended_sessions, {from_pct})"
        if self.m.week_start:
            default_end = "CAST(date_trunc('week', v_period_start) AS DATE) + 4"
        else:
            default_end = "v_period_start"
        final["period_end"] = f"COALESCE(v_period_end, {default_end})"
        return final

    def marks_sql(self, first: str, summary_words: str, ncols: int) -> str:
        """Register marks: one row per pupil per date (AM/PM) or per session (Session, Mark)."""
        p = self.p
        values, sources = self._values([schema.column("attendance", "pupil_id"),
                                        schema.column("attendance", "period_start")])
        setting = "s_setting" if "setting" in self.m.columns else "CAST(NULL AS VARCHAR)"
        reason, warn = _joined(self.rejects), _joined(self.warns)
        if MARK in self.m.columns:
            marks = "[upper(s__mark)]"
        else:
            marks = (f"[{'upper(s__am)' if AM in self.m.columns else 'NULL'}, "
                     f"{'upper(s__pm)' if PM in self.m.columns else 'NULL'}]")
        attended, not_possible = p(list(vocab.MARKS_ATTENDED)), p(list(vocab.MARKS_NOT_POSSIBLE))
        cols = schema.column_names("attendance")
        return (
            self._stages(first, summary_words, values, sources, ncols) + ", "
            f"t AS (SELECT rn, v_pupil_id, v_period_start, {setting} AS _setting, "
            f"{marks} AS _marks, {reason} AS _reject, {warn} AS _warn FROM v WHERE _k = 2), "
            f"m AS (SELECT rn, v_pupil_id, v_period_start, _setting, _warn, "
            f"unnest(_marks) AS _mark FROM t WHERE _reject IS NULL), "
            f"w AS (SELECT min(rn) AS row_number, v_pupil_id AS pupil_id, "
            f"CAST(date_trunc('week', v_period_start) AS DATE) AS period_start, "
            f"any_value(_setting ORDER BY rn) AS setting, "
            f"count(*) FILTER (WHERE _mark IS NOT NULL AND NOT list_contains({not_possible}, _mark)) AS possible, "
            f"count(*) FILTER (WHERE list_contains({attended}, _mark)) AS attended, "
            f"string_agg(DISTINCT _warn, '; ') AS _warn "
            f"FROM m GROUP BY v_pupil_id, CAST(date_trunc('week', v_period_start) AS DATE), "
            f"coalesce({schema.fold_sql('trim(_setting)')}, '') HAVING count(*) FILTER (WHERE _mark IS NOT NULL AND NOT "
            f"list_contains({not_possible}, _mark)) > 0) "
            f"SELECT row_number, pupil_id, period_start, period_start + 4 AS period_end, "
            f"CAST(possible AS DOUBLE) AS possible_sessions, "
            f"CAST(attended AS DOUBLE) AS attended_sessions, setting, "
            f"CAST(NULL AS VARCHAR) AS _reject, _warn FROM w "
            f"UNION ALL SELECT rn, {', '.join('NULL' for _ in cols)}, _reject, NULL "
            f"FROM t WHERE _reject IS NOT NULL"
        )
