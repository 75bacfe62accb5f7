"""The three CSV readers agree: Arrow's (the fast path), DuckDB's and Python's csv module.

A CSV is read by Arrow when every line after the header is one record of at most as many
cells as headings; otherwise by DuckDB (which pads short rows), and by Python's csv module when
lines and records do not line up. Whichever reads it, the sheet must come out the same: the
same rows, values, row numbers, rejects (with their original cells) and warnings.
Pupils are invented.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest import read_file, readers

D = dt.date


def _read(data: bytes, how: str, monkeypatch):
    with monkeypatch.context() as m:
        if how in ("duckdb", "python"):
            m.setattr(readers, "_load_arrow", lambda *a, **k: None)
        if how == "python":
            def python_only(con, text, utf8, path, delim, header_index, ncols, lines):
                readers.load_csv_python_after(con, text if text is not None else utf8.decode(),
                                              delim, ncols + 1, header_index)
            m.setattr(readers, "load_csv", python_only)
        [sheet] = read_file(data, "upload.csv")
    return sheet


def _summary(sheet) -> dict:
    return {"dataset": sheet.dataset, "accepted": sheet.accepted.to_pylist(),
            "rejected": sheet.rejected.to_pylist(), "blank": sheet.blank_rows,
            "summary": sheet.summary_rows, "sheet_warnings": sheet.sheet_warnings}


def _arrow_used(data: bytes, monkeypatch) -> bool:
    used = []
    real = readers._load_arrow

    def spy(*a, **k):
        table = real(*a, **k)
        used.append(table is not None)
        return table
    with monkeypatch.context() as m:
        m.setattr(readers, "_load_arrow", spy)
        read_file(data, "upload.csv")
    return used == [True]


TRICKY = (
    'UPN,Provider,Start Date,End Date,Weekly Cost,Objectives,Destination\r\n'
    'B801200005001,"Oak, North",14/03/2025,,"£1,250.00","Say ""hello""",N/A\r\n'
    'P207000016049,  Elm  ,2025-03-15,20/03/2025,300,"",NULL\r\n'
    ',,,,,,\r\n'
    'B801200005001,Ash,01/04/2025,31/03/2025,nan,5" screen,mainstream\r\n'
    'Total,,,,,,\r\n'
    'Q1,Café Ré,2025-04-02,,,,\r\n'
).encode("utf-8")


def test_a_tricky_file_reads_the_same_three_ways(monkeypatch):
    assert _arrow_used(TRICKY, monkeypatch)
    arrow = _summary(_read(TRICKY, "arrow", monkeypatch))
    assert arrow == _summary(_read(TRICKY, "duckdb", monkeypatch))
    assert arrow == _summary(_read(TRICKY, "python", monkeypatch))
    # and what it says, worked out by hand:
    rows = {r["row_number"]: r for r in arrow["accepted"]}
    assert sorted(rows) == [2, 3, 7]                     # row 4 blank, 5 rejected, 6 a total
    assert (arrow["blank"], arrow["summary"]) == (1, 1)
    assert rows[2]["provider"] == "Oak, North"           # a quoted comma stays in the cell
    assert rows[2]["cost_per_week"] == 1250.0            # "£1,250.00"
    assert rows[2]["objectives"] == 'Say "hello"'        # doubled quotes are one quote
    assert rows[2]["destination"] == "other"             # "N/A" is text, not a missing value
    assert rows[3]["provider"] == "Elm"                  # spaces trimmed
    assert rows[3]["destination"] == "other"             # "NULL" too
    assert rows[3]["objectives"] is None                 # "" is blank
    assert rows[7]["provider"] == "Café Ré"
    [bad] = arrow["rejected"]
    assert bad["row_number"] == 5
    assert "end date is before the start date" in bad["reason"]
    original = json.loads(bad["original"])
    assert original["Objectives"] == '5" screen'         # a quote inside a cell is kept
    assert original["Weekly Cost"] == "nan"


def test_a_short_row_is_read_by_duckdb_padded_with_blanks(monkeypatch):
    data = b"UPN,Provider,Start Date,Hours\nB801200005001,Oak,14/03/2025\nP207000016049,Elm,15/03/2025,6\n"
    assert not _arrow_used(data, monkeypatch)
    sheet = _read(data, "arrow", monkeypatch)
    assert sheet.accepted["hours_per_week"].to_pylist() == [None, 6.0]
    assert _summary(sheet) == _summary(_read(data, "python", monkeypatch))


CELL = st.one_of(
    st.sampled_from(["", " ", "N/A", "NULL", "nan", "Total", "14/03/2025", "2025-03-15",
                     "31/02/2025", "£1,250", "12.5", "-3", "Y", "no", "online", "Oak, North",
                     'Say "hi"', "B801200005001", "P207000016049", "x\ty"]),
    st.text(alphabet=st.sampled_from(list('ab1 ,"£é-/.')), max_size=8),
)
HEADINGS = ["UPN", "Provider", "Start Date", "End Date", "Hours", "Setting Type", "LAC", "Notes"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELL, min_size=len(HEADINGS), max_size=len(HEADINGS)), min_size=1,
                max_size=12),
       st.sampled_from(["\n", "\r\n"]))
def test_any_well_formed_file_reads_the_same_three_ways(monkeypatch, rows, newline):
    out = io.StringIO()
    csv.writer(out, lineterminator=newline).writerows([HEADINGS, *rows])
    data = out.getvalue().encode("utf-8")
    results = []
    for how in ("arrow", "duckdb", "python"):
        try:
            results.append(_summary(_read(data, how, monkeypatch)))
        except Exception as e:   # the IngestError sentence must agree too (e.g. no data rows)
            results.append(str(e))
    assert results[0] == results[1] == results[2]


@pytest.mark.parametrize("delim", [";", "\t"])
def test_other_delimiters_take_the_fast_path(monkeypatch, delim):
    data = (f"UPN{delim}Provider{delim}Start Date\n"
            f"B801200005001{delim}Oak, North{delim}14/03/2025\n").encode()
    assert _arrow_used(data, monkeypatch)
    [row] = _read(data, "arrow", monkeypatch).accepted.to_pylist()
    assert (row["provider"], row["start_date"]) == ("Oak, North", D(2025, 3, 14))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELL, min_size=len(HEADINGS), max_size=len(HEADINGS)), min_size=1,
                max_size=12))
def test_row_kinds_the_same_worked_out_per_row_or_per_distinct_first_cell(monkeypatch, rows):
    # Blank rows, 'Total' rows and data rows must be told apart the same way whether the row
    # kind's test runs on every row or once per distinct first cell (pipeline.MAX_CARRIED).
    from analytics.ingest import pipeline

    out = io.StringIO()
    csv.writer(out).writerows([HEADINGS, *rows])
    data = out.getvalue().encode("utf-8")
    results = []
    for carried in (-1, 100):
        monkeypatch.setattr(pipeline, "MAX_CARRIED", carried)
        try:
            results.append(_summary(_read(data, "arrow", monkeypatch)))
        except Exception as e:
            results.append(str(e))
    assert results[0] == results[1]


def test_row_kinds_by_hand_either_way(monkeypatch):
    from analytics.ingest import pipeline

    data = ("UPN,Week Commencing,Possible Sessions,Attended Sessions\n"
            "B801200005001,2024-09-02,10,9\n"
            "  ,2024-09-09,10,4\n"          # first cell only spaces: a blank row
            ",,,\n"                          # all empty: blank
            " Total: ,,20,13\n"              # a summary row, however spaced
            ",2024-09-16,10,5\n"             # first cell empty, data after: rejected (no UPN)
            "P207000016049,2024-09-16,10,6\n").encode()
    for carried in (-1, 100):
        monkeypatch.setattr(pipeline, "MAX_CARRIED", carried)
        sheet = _read(data, "arrow", monkeypatch)
        assert (sheet.blank_rows, sheet.summary_rows) == (2, 1)
        assert sheet.accepted["row_number"].to_pylist() == [2, 7]
        assert sheet.rejected["row_number"].to_pylist() == [6]
