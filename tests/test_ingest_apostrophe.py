"""A cell in our downloads' neutralised form is read as the text without its apostrophe.

Downloads put an apostrophe before text Excel would run as a formula (exports.neutralise:
= + - @, tab, CR, LF), and Excel keeps it as text in a CSV. So "'=x" (exactly an apostrophe and
one of those characters) is read as "=x", by every reader (Arrow, DuckDB, Python's csv module,
python-calamine) and in every kind of column; any other apostrophe is the sender's and stays.
Expected values are worked out by hand from the files below. Pupils are invented.
"""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import Workbook

from analytics.exports import FORMULA_STARTS
from analytics.ingest import pipeline, read_file, readers

HYPERLINK = '=HYPERLINK("http://x","y")'

# (cell, as read): the rule, one case per line
CELLS = [
    ("'=x", "=x"),
    ("'+44 20", "+44 20"),
    ("'-x", "-x"),
    ("'@SUM(A1)", "@SUM(A1)"),
    ("'\tx", "\tx"),
    ("'\rx", "\rx"),
    ("'\nx", "\nx"),
    ("'=", "="),                      # the apostrophe and the sign alone
    ("''=x", "''=x"),                 # an apostrophe before an apostrophe is not our form
    ("'Ollie's", "'Ollie's"),         # an apostrophe before anything else is the sender's
    ("' -x", "' -x"),
    ("'", "'"),
    (" '=x", " '=x"),                 # not at the very start: not our form
    ("x'=y", "x'=y"),
    ("=x", "=x"),
    ("", ""),
]


@pytest.mark.parametrize("cell, expected", CELLS)
def test_the_rule_in_python_and_in_sql(cell, expected):
    assert readers.unneutralise(cell) == expected
    con = pipeline.database().cursor()
    try:
        assert con.execute("SELECT _cell(?)", [cell]).fetchall()[0][0] == expected
        assert con.execute("SELECT _cell(NULL::VARCHAR)").fetchall()[0][0] is None
    finally:
        con.close()


def test_the_forms_read_back_are_exactly_the_forms_downloads_write():
    assert set(readers.NEUTRALISED) == {"'" + c for c in FORMULA_STARTS}


# Rows: 2 and 3 loaded, 4 a summary row ("'\tTotal" reads as "\tTotal", which trims to
# "Total"), 5 blank ("'\t" reads as a tab), 6 rejected (31 February).
ROWS = [
    ["D999123400001", "Ann", "'-x", "'" + HYPERLINK, "01/09/2025", "'+27.5", "'@note"],
    ["'+0012345", "'Ollie's", "''=x", "'+b", "02/09/2025", "' -x", "'"],
    ["'\tTotal", "", "", "", "", "", ""],
    ["'\t", "", "", "", "", "", ""],
    ["T999123400002", "Finn", "'\tTab", "Oak PRU", "31/02/2025", "", "'=notes"],
]
HEADERS = ["UPN", "Forename", "Surname", "Provider Name", "Placement Start", "Hours per Week",
           "'=Notes"]
# two more text columns: more raw cells than the row kind's per-value test carries
# (pipeline.MAX_CARRIED), so the wide file takes the other way through _stages
WIDE_HEADERS = ["Home School", "Academy Trust"]
WIDE_ROWS = [["'-home", "'+trust"], ["", ""], ["", ""], ["", ""], ["", ""]]


def _table(wide: bool) -> list[list[str]]:
    head = HEADERS + (WIDE_HEADERS if wide else [])
    return [head] + [r + (w if wide else []) for r, w in zip(ROWS, WIDE_ROWS)]


def _csv(wide: bool) -> bytes:
    def quoted(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\t') else cell
    return "".join(",".join(map(quoted, r)) + "\r\n" for r in _table(wide)).encode()


def _xlsx(wide: bool) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in _table(wide):
        ws.append([c if c != "" else None for c in r])   # "'..." is never taken for a formula
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _read(how: str, wide: bool, monkeypatch):
    used = []
    with monkeypatch.context() as m:
        if how == "arrow":
            real = readers._load_arrow

            def spy(*a, **k):
                table = real(*a, **k)
                used.append(table is not None)
                return table
            m.setattr(readers, "_load_arrow", spy)
        if how in ("duckdb", "python"):
            m.setattr(readers, "_load_arrow", lambda *a, **k: None)
        if how == "python":
            def python_only(con, text, utf8, path, delim, header_index, ncols, lines):
                used.append("python")
                readers.load_csv_python_after(con, text if text is not None else utf8.decode(),
                                              delim, ncols + 1, header_index)
            m.setattr(readers, "load_csv", python_only)
        if how == "xlsx":
            [sheet] = read_file(_xlsx(wide), "upload.xlsx")
        else:
            [sheet] = read_file(_csv(wide), "upload.csv")
    assert used == {"arrow": [True], "python": ["python"]}.get(how, [])
    return sheet


@pytest.mark.parametrize("wide", [False, True], ids=["narrow", "wide"])
@pytest.mark.parametrize("how", ["arrow", "duckdb", "python", "xlsx"])
def test_every_reader_reads_the_neutralised_form_as_the_text(how, wide, monkeypatch):
    sheet = _read(how, wide, monkeypatch)
    assert sheet.dataset == "placements"
    assert (sheet.blank_rows, sheet.summary_rows) == (1, 1)
    rows = {r["row_number"]: r for r in sheet.accepted.to_pylist()}
    assert sorted(rows) == [2, 3]
    ann, ollie = rows[2], rows[3]
    assert (ann["pupil_id"], ann["first_name"], ann["last_name"], ann["provider"]) == \
        ("D999123400001", "Ann", "-x", HYPERLINK)
    assert ann["start_date"] == dt.date(2025, 9, 1)
    assert ann["hours_per_week"] == 27.5             # "'+27.5" is the number +27.5
    assert ann["warnings"] is None
    # an ID keeps its leading zeros; other apostrophes stay as sent
    assert (ollie["pupil_id"], ollie["first_name"], ollie["last_name"], ollie["provider"]) == \
        ("+0012345", "'Ollie's", "''=x", "+b")
    assert ollie["hours_per_week"] is None           # "' -x" is not our form, so not a number
    assert "' -x'" in ollie["warnings"]
    if wide:
        assert (ann["home_school"], ann["trust"]) == ("-home", "+trust")
        assert (ollie["home_school"], ollie["trust"]) == (None, None)
    [bad] = sheet.rejected.to_pylist()
    assert bad["row_number"] == 6
    assert "'31/02/2025' is not a valid date" in bad["reason"]
    original = {"UPN": "T999123400002", "Forename": "Finn", "Surname": "\tTab",
                "Provider Name": "Oak PRU", "Placement Start": "31/02/2025",
                "Hours per Week": "", "=Notes": "=notes"}   # the heading read by the same rule
    if wide:
        original |= {"Home School": "", "Academy Trust": ""}
    assert json.loads(bad["original"]) == original
