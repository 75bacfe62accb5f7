"""Sheets big enough for the reader's parallel paths: row order, row numbers, blank and total rows.

The reader lets DuckDB return rows in any order and puts them back by row number
(pipeline._in_file_order), and splits a sheet of one row group into parts so both cores work
(readers.view_in_parts). These tests check the rows come back complete, in file order, with
the right numbers. Pupil IDs are invented (not UPN-shaped).
"""
from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa

from analytics.ingest import read_file
from analytics.ingest.pipeline import _in_file_order
from analytics.ingest.readers import PARTS

D = dt.date


def _table(rows: list[int]) -> pa.Table:
    return pa.table({"row_number": pa.array(rows, pa.int64()),
                     "label": pa.array([f"r{r}" for r in rows])})


def test_runs_out_of_place_are_put_back_in_order():
    # three runs of consecutive row numbers, handed back as [7-9], [2-3], [4-6]
    out = _in_file_order(_table([7, 8, 9, 2, 3, 4, 5, 6]))
    assert out["row_number"].to_pylist() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert out["label"].to_pylist() == ["r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"]


def test_runs_with_gaps_and_interleaved_rows_are_sorted():
    # gaps (rows 4 and 8 were blank) and two runs that overlap: 2,5,9 and 3,6,7
    out = _in_file_order(_table([2, 5, 9, 3, 6, 7]))
    assert out["row_number"].to_pylist() == [2, 3, 5, 6, 7, 9]
    assert out["label"].to_pylist() == ["r2", "r3", "r5", "r6", "r7", "r9"]


def test_in_order_and_tiny_tables_are_returned_as_they_are():
    assert _in_file_order(_table([2, 3, 10])).to_pylist() == _table([2, 3, 10]).to_pylist()
    assert _in_file_order(_table([5]))["row_number"].to_pylist() == [5]
    assert _in_file_order(_table([]))["row_number"].to_pylist() == []


def test_any_shuffle_comes_back_sorted():
    rng = random.Random(7)
    for _ in range(300):
        rows = sorted(rng.sample(range(2, 400), rng.randint(0, 60)))
        if rng.random() < 0.5:
            rng.shuffle(rows)
        else:   # cut into blocks and shuffle the blocks, as DuckDB's threads do
            cuts = sorted(rng.sample(range(len(rows) + 1), min(len(rows) + 1, 4)))
            blocks = [rows[a:b] for a, b in zip([0, *cuts], [*cuts, len(rows)])]
            rng.shuffle(blocks)
            rows = [r for b in blocks for r in b]
        assert _in_file_order(_table(rows))["row_number"].to_pylist() == sorted(rows)


def test_a_20000_row_attendance_csv_keeps_every_row_its_number_and_values():
    # Row i (i = 0..19999) is pupil Q{i:05d}, week starting 2024-09-02 + 7*(i % 30) days,
    # 10 possible sessions, i % 11 attended. A row of empty cells sits after data row 5000
    # and a Total row after data row 12000, so file row numbers (header = row 1) are:
    # data row i -> i + 2 for i < 5000, i + 3 for 5000 <= i < 12000, i + 4 after.
    n = 20_000
    assert n >= 4096 * PARTS   # big enough to be read in parts
    lines = ["UPN,Week Commencing,Possible Sessions,Attended Sessions"]
    expected_rn, expected_att, expected_week = [], [], []
    rn = 1
    for i in range(n):
        if i == 5000:
            lines.append(",,,")
            rn += 1
        if i == 12000:
            lines.append("Total,,,")
            rn += 1
        week = D(2024, 9, 2) + dt.timedelta(days=7 * (i % 30))
        lines.append(f"Q{i:05d},{week.isoformat()},10,{i % 11}")
        rn += 1
        expected_rn.append(rn)
        expected_att.append(float(i % 11))
        expected_week.append(week)
    [sheet] = read_file(("\n".join(lines) + "\n").encode(), "weeks.csv")
    assert (sheet.blank_rows, sheet.summary_rows, sheet.rejected.num_rows) == (1, 1, 0)
    got = sheet.accepted
    assert got.num_rows == n
    assert got["row_number"].to_pylist() == expected_rn
    assert got["pupil_id"].to_pylist() == [f"Q{i:05d}" for i in range(n)]
    assert got["attended_sessions"].to_pylist() == expected_att
    assert got["period_start"].to_pylist() == expected_week
    # a week start with no end: the end is that week's Friday (data-spec §2)
    assert got["period_end"].to_pylist()[:2] == [D(2024, 9, 6), D(2024, 9, 13)]


def test_a_large_csv_with_one_bad_row_rejects_that_row_only():
    # 18,000 rows; data row 9,000 (file row 9,002) has more attended than possible sessions
    lines = ["UPN,Week Commencing,Possible Sessions,Attended Sessions"]
    for i in range(18_000):
        lines.append(f"Q{i:05d},2024-09-02,10,{12 if i == 9000 else 5}")
    [sheet] = read_file(("\n".join(lines) + "\n").encode(), "weeks.csv")
    assert sheet.accepted.num_rows == 17_999
    assert sheet.rejected["row_number"].to_pylist() == [9002]
    assert "More sessions are attended than possible" in sheet.rejected["reason"][0].as_py()
    assert 9002 not in sheet.accepted["row_number"].to_pylist()
    rns = sheet.accepted["row_number"].to_pylist()
    assert rns == sorted(rns) and rns[0] == 2 and rns[-1] == 18_001


def test_a_csv_on_disk_is_read_where_it_is_and_bytes_survive_no_scratch_space(tmp_path, monkeypatch):
    from analytics.ingest import readers
    from analytics.store import Store

    path = tmp_path / "weeks.csv"
    path.write_text("UPN,Week Commencing,Possible Sessions,Attended Sessions\n"
                    "Q00001,2024-09-02,10,9\nQ00002,2024-09-09,10,4\n")

    def no_scratch(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(readers.tempfile, "mkstemp", no_scratch)
    # from a path: DuckDB reads the file itself, so no scratch copy is asked for
    with Store(tmp_path / "ap.duckdb") as store:
        [res] = store.ingest_file(path)
        assert (res.status, res.accepted) == ("loaded", 2)
    # from bytes (an upload): the scratch copy fails, and Python's csv module reads it instead
    [sheet] = read_file(path.read_bytes(), "weeks.csv")
    assert sheet.accepted["attended_sessions"].to_pylist() == [9.0, 4.0]
    assert sheet.accepted["row_number"].to_pylist() == [2, 3]
