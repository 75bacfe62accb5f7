"""Rows of one sheet that are the same record (data-spec §6 keys): the store keeps the later
row, and now says so, before Load (the check) and after it (the result and the history).

A reviewer's file had two rows for one placement (pupil W999200125001 at Oak PRU URN 100001 from
01/09/2025): "4 rows accepted, no warnings", and the store held 3 placements with row 2's 25
hours and £1,250 replaced by row 3's 10 hours and £800 without a word.
"""
from __future__ import annotations

import pytest

from analytics.ingest import read_file
from analytics.store import Store

DUP = ("UPN,Provider Name,Provider URN,Start Date,Actual End Date,Hours,Outcome,Weekly Cost\n"
       "W999200125001,Oak PRU,100001,01/09/2025,,25,,1250\n"                       # row 2
       "W999200125001,oak pru ,100001,01/09/2025,16/01/2026,10,Reintegrated,800\n"  # row 3: row 2's placement
       "K999200125002,Oak PRU,100001,01/09/2025,,25,,1250\n"                       # row 4
       "Z999200125003,Oak PRU,100001,08/09/2025,,25,,1250\n"                       # row 5
       "K999200125002,Elm Tuition,,01/09/2025,,6,,300\n").encode()                 # row 6: another provider

NOTICE = ("Row 3 repeats the placement in row 2 (the same pupil, provider and start date): only row 3, the "
          "later, is kept.")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ap.duckdb")
    yield s
    s.close()


def test_the_check_and_the_result_say_which_rows_repeat_a_record(store):
    [sheet] = read_file(DUP, "dup_keys.csv")
    preview = store.preview_changes(sheet)
    assert preview.repeated == ((3, 2),)
    assert preview.added == 4            # 5 rows, 4 placements
    [res] = store.ingest_parsed([sheet], "h1")
    assert (res.status, res.accepted) == ("loaded", 5)
    # the result's sentence squares the 5 rows with the check's "add 4 placements"
    assert "5 rows accepted (1 repeating an earlier row's placement, so 4 placements stored)" in res.message
    notes = res.warnings[res.warnings["row_number"].isna()]["warning"].tolist()
    assert notes == [NOTICE]
    assert store.uploads().iloc[0]["sheet_warnings"].tolist() == [NOTICE]
    rows = store.con.cursor().execute(
        "SELECT pupil_id, hours_per_week, cost_per_week, destination FROM placements "
        "WHERE pupil_id = 'W999200125001'").fetchall()
    assert rows == [("W999200125001", 10.0, 800.0, "mainstream")]   # the later row


@pytest.mark.parametrize("dataset, text, pairs", [
    ("attendance", "UPN,Week Commencing,Possible,Attended,Setting\n"
                   "D999123400001,01/09/2025,10,8,Oak PRU\n"        # row 2
                   "D999123400001,01/09/2025,10,9,oak pru\n"        # row 3: same week and setting
                   "D999123400001,01/09/2025,10,9,\n"               # row 4: no setting: another record
                   "D999123400001,08/09/2025,10,10,Oak PRU\n", [(3, 2)]),
    ("exclusions", "UPN,Exclusion Type,Exclusion Date,Sessions\n"
                   "D999123400001,suspension,01/10/2025,2\n"
                   "D999123400001,FIXD,01/10/2025,4\n"              # row 3: the same suspension
                   "D999123400001,permanent,01/10/2025,\n"
                   "D999123400001,Suspension,01/10/2025,6\n", [(3, 2), (5, 2)]),
    ("assessments", "UPN,Measure,Date,Score\n"
                    "D999123400001,Reading age,01/09/2025,7\n"
                    "D999123400001,reading age ,01/09/2025,8\n"     # row 3: same measure and date
                    "D999123400001,Reading age,02/09/2025,8\n", [(3, 2)]),
])
def test_every_dataset_by_its_own_key(store, dataset, text, pairs):
    [sheet] = read_file(text.encode(), f"{dataset}.csv")
    assert sheet.dataset == dataset
    [res] = store.ingest_parsed([sheet], "h")
    notes = res.warnings[res.warnings["row_number"].isna()]["warning"].tolist()
    assert len(notes) == 1
    if len(pairs) == 1:
        [(later, first)] = pairs
        assert notes[0].startswith(f"Row {later} repeats the ") and f" in row {first} (the same " in notes[0]
    else:
        assert notes[0].startswith(f"{len(pairs)} rows repeat ")
        for later, first in pairs:
            assert f"row {later} repeats row {first}" in notes[0]


def test_repeats_are_found_when_records_are_already_stored(store):
    # the second upload goes through the general rebuild (records to replace), not the first-upload path
    first = b"UPN,Week Commencing,Possible,Attended\nD999123400001,01/09/2025,10,8\n"
    [res] = store.ingest_file(first, "week1.csv")
    assert res.warnings.empty
    again = (b"UPN,Week Commencing,Possible,Attended\nD999123400001,01/09/2025,10,9\n"
             b"D999123400001,01/09/2025,10,10\nD999123400001,08/09/2025,10,7\n")
    [res] = store.ingest_file(again, "weeks.csv")
    assert res.warnings["warning"].tolist() == [
        "Row 3 repeats the attendance period in row 2 (the same pupil, dates and setting): only row 3, the "
        "later, is kept."]
    assert store.con.cursor().execute(
        "SELECT attended_sessions FROM attendance ORDER BY period_start").fetchall() == [(10.0,), (7.0,)]


def test_a_sheet_without_repeats_has_no_notice(store):
    [res] = store.ingest_file(b"UPN,Provider,Start Date\nD999123400001,Oak,01/09/2025\n"
                              b"D999123400001,Elm,01/09/2025\n", "two.csv")
    assert res.warnings.empty


def test_the_check_warns_when_attendance_weeks_come_back_under_another_setting(store):
    # A reviewer's re-export without the setting column stored each week twice (Oak PRU with 8
    # attended, blank with 9): 20 possible sessions a week. The setting is part of the key
    # (data-spec §6), so this is by the rules, but the user must be told before Load.
    store.ingest_file(b"UPN,Week Commencing,Possible,Attended,Setting\n"
                      b"D999123400001,15/09/2025,10,8,Oak PRU\n"
                      b"D999123400001,22/09/2025,10,7,Oak PRU\n", "autumn.csv")
    [no_setting] = read_file(b"UPN,Week Commencing,Possible,Attended\n"
                             b"D999123400001,15/09/2025,10,9\n"       # stored under Oak PRU
                             b"D999123400001,22/09/2025,10,9\n"       # stored under Oak PRU
                             b"D999123400001,29/09/2025,10,9\n", "again.csv")   # new week
    assert store.preview_changes(no_setting).other_setting == 2
    [same_setting] = read_file(b"UPN,Week Commencing,Possible,Attended,Setting\n"
                               b"D999123400001,15/09/2025,10,9,oak pru\n"
                               b"D999123400001,29/09/2025,10,9,Oak PRU\n", "fixed.csv")
    pv = store.preview_changes(same_setting)
    assert (pv.other_setting, pv.changed, pv.added) == (0, 1, 1)


def test_the_result_says_how_many_blank_rows_were_ignored(store):
    # the check said "2 blank row(s) ignored"; the result did not
    text = (b"UPN,Provider,Start Date\n"
            b"W999200125001,Oak PRU,01/09/2025\n"
            b",,\n"
            b"K999200125002,Oak PRU,01/09/2025\n"
            b",,\n")
    [sheet] = read_file(text, "blanks.csv")
    assert sheet.blank_rows == 2
    [res] = store.ingest_parsed([sheet], "h")
    assert res.message == "blanks.csv: loaded as placements (upload 1), 2 rows accepted, 2 blank rows ignored."
