"""CSV ingest: dates, encodings, layouts, synonyms, rejects and warnings (data-spec §1-§5).

Every pupil and UPN here is invented. Expected values are worked out by hand in comments.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from analytics.errors import IngestError
from analytics.ingest import read_file

D = dt.date


def one(data: bytes | str, name: str = "upload.csv", mapping=None):
    if isinstance(data, str):
        data = data.encode("utf-8")
    sheets = read_file(data, name, mapping)
    assert len(sheets) == 1
    return sheets[0]


def placements_with_start(*starts: str):
    rows = "".join(f"B801200005001,Oak PRU,{s}\n" for s in starts)
    return one("UPN,Provider,Start Date\n" + rows)


# -- dates ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2025-03-14", D(2025, 3, 14)),            # ISO
    ("14/03/2025", D(2025, 3, 14)),            # UK day-first
    ("14/3/25", D(2025, 3, 14)),               # one-digit month, two-digit year -> 2025
    ("4/3/2025", D(2025, 3, 4)),               # 4 March, never 3 April
    ("14-03-2025", D(2025, 3, 14)),
    ("14.03.2025", D(2025, 3, 14)),
    ("14 Mar 2025", D(2025, 3, 14)),
    ("14-Mar-25", D(2025, 3, 14)),
    ("14 March 2025", D(2025, 3, 14)),
    ("14/03/2025 10:30", D(2025, 3, 14)),      # time part dropped
    ("2025-03-14 00:00:00", D(2025, 3, 14)),
    ("45730", D(2025, 3, 14)),                 # Excel serial: 45658 is 1 Jan 2025, +72 days
    ("1/1/69", D(1969, 1, 1)),                 # Python %y: 69-99 -> 1900s
    ("1/1/68", D(2068, 1, 1)),                 # 00-68 -> 2000s
])
def test_uk_dates_parse(text, expected):
    sheet = placements_with_start(text)
    assert sheet.rejected.num_rows == 0, sheet.rejected.to_pylist()
    assert sheet.accepted["start_date"].to_pylist() == [expected]


@pytest.mark.parametrize("text", ["03/14/2025", "31/02/2025", "2025-13-01", "14/03/2205",
                                  "yesterday", "14/03",
                                  # bare numbers too short to be Excel serials: a year, a slip
                                  "2025", "14", "6", "9999"])
def test_invalid_start_dates_reject_the_row(text):
    sheet = placements_with_start(text)
    assert sheet.accepted.num_rows == 0
    [row] = sheet.rejected.to_pylist()
    assert row["row_number"] == 2
    assert "Start Date" in row["reason"] and "not a valid" in row["reason"]
    assert json.loads(row["original"]) == {"UPN": "B801200005001", "Provider": "Oak PRU",
                                           "Start Date": text}


def test_a_bare_year_in_an_optional_date_is_blank_with_warning_not_1905():
    # read as an Excel serial, "2025" would be 17 July 1905 and "14" 13 January 1900
    sheet = one("UPN,Provider,Start Date,DOB,Last Review\nB801200005001,Oak,14/03/2025,2012,14\n")
    [row] = sheet.accepted.to_pylist()
    assert (row["date_of_birth"], row["last_review_date"]) == (None, None)
    assert "DOB '2012' is not a valid date" in row["warnings"]
    assert "Last Review '14' is not a valid date" in row["warnings"]


def test_invalid_optional_date_is_blank_with_warning():
    sheet = one("UPN,Provider,Start Date,DOB\nB801200005001,Oak,14/03/2025,31/02/2012\n")
    [row] = sheet.accepted.to_pylist()
    assert row["date_of_birth"] is None
    assert "DOB '31/02/2012'" in row["warnings"]


def test_end_before_start_and_invalid_end_reject():
    sheet = one("UPN,Provider,Start Date,End\n"
                "B801200005001,Oak,14/03/2025,13/03/2025\n"
                "B801200005001,Elm,14/03/2025,03/31/2025\n"
                "B801200005001,Ash,14/03/2025,14/03/2025\n")
    assert sheet.accepted["provider"].to_pylist() == ["Ash"]
    reasons = {r["row_number"]: r["reason"] for r in sheet.rejected.to_pylist()}
    assert "before the start date" in reasons[2]
    assert "End '03/31/2025'" in reasons[3]


# -- encodings and delimiters ---------------------------------------------------------------

CSV_TEXT = "UPN;Forename;Provider;Start Date;Weekly Cost\nB801200005001;Zoë;Café Fox;14/03/2025;£1,250.00\n"


@pytest.mark.parametrize("encoded", [
    CSV_TEXT.encode("utf-8"),
    b"\xef\xbb\xbf" + CSV_TEXT.encode("utf-8"),
    CSV_TEXT.encode("cp1252"),
    CSV_TEXT.encode("utf-16"),          # with BOM
], ids=["utf8", "utf8-bom", "cp1252", "utf16"])
def test_encodings(encoded):
    [row] = one(encoded).accepted.to_pylist()
    assert row["first_name"] == "Zoë"
    assert row["provider"] == "Café Fox"
    assert row["cost_per_week"] == 1250.0


def test_tab_delimiter_quoted_newline_and_row_numbers():
    text = ('UPN\tProvider\tStart Date\tSuccess Criteria\n'
            'B801200005001\tOak\t14/03/2025\t"Attend\nfull time"\n'
            '\n'
            'P207000016049\tElm\t15/03/2025\t\n')
    sheet = one(text)
    rows = sheet.accepted.to_pylist()
    assert [r["objectives"] for r in rows] == ["Attend\nfull time", None]
    # record 1 header, 2 Oak (spans two lines), 3 blank, 4 Elm
    assert [r["row_number"] for r in rows] == [2, 4]
    assert sheet.blank_rows == 1



@pytest.mark.parametrize("quoted_newline", [False, True])
def test_cells_past_the_last_heading_keep_the_row_and_warn(quoted_newline):
    # Record 1 is the heading row, records 2-72 are 71 ordinary rows (past the 60 the sniffer
    # looks at), record 73 has two cells more than the three headings, record 74 a trailing
    # empty cell only (no warning). A quoted newline in record 2 sends the file down the Python
    # csv path instead of DuckDB's reader; row numbers count records either way.
    first = 'B801200005001,"Oak\nPRU",01/03/2025\n' if quoted_newline else \
        'B801200005001,Oak,01/03/2025\n'
    text = ("UPN,Provider,Start Date\n" + first
            + "".join(f"B801200005001,Oak,{D(2025, 3, 1) + dt.timedelta(days=d):%d/%m/%Y}\n"
                      for d in range(1, 71))
            + "B801200005001,Oak,14/06/2025,Elm,extra\n"
            + "B801200005001,Oak,15/06/2025,\n")
    sheet = one(text)
    assert sheet.accepted.num_rows == 73 and sheet.rejected.num_rows == 0
    by_row = {r["row_number"]: r for r in sheet.accepted.to_pylist()}
    assert (by_row[73]["start_date"], by_row[73]["provider"]) == (D(2025, 6, 14), "Oak")
    assert by_row[74]["start_date"] == D(2025, 6, 15)
    assert len(sheet.sheet_warnings) == 1
    assert sheet.sheet_warnings[0].startswith(
        "1 row had more cells than there are column headings (row 73)")


# -- layout -----------------------------------------------------------------------------------

def test_header_under_title_rows_blank_and_summary_rows():
    text = ("Alternative provision placements,,\n"
            "Exported 01/04/2025,,\n"
            ",,\n"
            "UPN,Provider,Start Date\n"
            "B801200005001,Oak,14/03/2025\n"
            ",,\n"
            "Total,1,\n"
            "P207000016049,Elm,15/03/2025\n"
            "Grand Total,2,\n")
    sheet = one(text)
    assert sheet.header_row == 4
    assert sheet.accepted["row_number"].to_pylist() == [5, 8]
    assert sheet.summary_rows == 2
    assert sheet.blank_rows == 1
    assert sheet.rejected.num_rows == 0


def test_synonyms_date_hint_and_unmapped():
    text = ("Pupil Reference,Legal Surname,AP Provider,Placement Start (dd/mm/yyyy),"
            "Favourite Colour,Length (days)\n"
            "b801200005001 ,Smith,Oak,14/03/2025,red,\n")
    sheet = one(text)
    assert sheet.dataset == "placements"
    assert sheet.mapping == {"Pupil Reference": "pupil_id", "Legal Surname": "last_name",
                             "AP Provider": "provider",
                             "Placement Start (dd/mm/yyyy)": "start_date"}
    assert sheet.unmapped == ["Favourite Colour", "Length (days)"]
    assert any("Favourite Colour" in w for w in sheet.sheet_warnings)
    [row] = sheet.accepted.to_pylist()
    assert row["pupil_id"] == "B801200005001"          # trimmed, upper-cased
    assert sheet.carried == ["pupil_id", "last_name", "provider", "start_date"]


@pytest.mark.parametrize("heading", ["Hrs per week", "HRS PER WK", "Hours per wk", "Hours/week", "Hrs",
                                     "Hours a week", "Weekly hours"])
def test_the_short_forms_of_hours_per_week_are_known(heading):
    sheet = one(f"UPN,AP Provider,Start Date,{heading}\nB801200005001,Oak,14/03/2025,12.5\n")
    assert sheet.mapping[heading] == "hours_per_week"
    assert sheet.accepted["hours_per_week"].to_pylist() == [12.5]


def test_explicit_mapping():
    text = "Kid,Where,When\nB801200005001,Oak,14/03/2025\n"
    with pytest.raises(IngestError):
        one(text)
    sheet = one(text, mapping={"Kid": "pupil_id", "Where": "provider", "When": "start_date"})
    assert sheet.accepted["start_date"].to_pylist() == [D(2025, 3, 14)]


def test_duplicated_headers_first_wins():
    sheet = one("UPN,Provider,Provider,Start Date\nB801200005001,Oak,Elm,14/03/2025\n")
    assert sheet.accepted["provider"].to_pylist() == ["Oak"]
    assert any("repeats" in w for w in sheet.sheet_warnings)


# -- values -----------------------------------------------------------------------------------

def test_vocabularies_booleans_and_money():
    text = ("UPN,Provider,Start Date,Gender,SEN,LAC,FSM,AP Type,Commissioned By,"
            "Placement Reason,Outcome,Ethnicity,Weekly Cost,Year Group\n"
            "B801200005001,Oak,14/03/2025,Girl,EHCP,Yes,0,PRU,Local Authority,"
            "Medical condition (mental health need),Reintegrated,White - White British,"
            "\"£1,250.00\",Year 9\n"
            "P207000016049,Elm,14/03/2025,m,SEN support,n,True,OOT,school,PEX,NEET,ABAN,300,R\n")
    a, b = one(text).accepted.to_pylist()
    assert (a["sex"], a["sen_status"], a["cla"], a["fsm"]) == ("F", "E", True, False)
    assert (a["setting_type"], a["commissioner"], a["reason"], a["destination"]) == (
        "state_ap_school", "la", "medical_mental_health", "mainstream")
    assert a["ethnicity"] == "White - White British" and a["ethnicity_group"] == "White"
    assert (a["cost_per_week"], a["nc_year"]) == (1250.0, "9")
    assert (b["sex"], b["sen_status"], b["cla"], b["fsm"]) == ("M", "K", False, True)
    assert (b["setting_type"], b["reason"], b["destination"]) == (
        "one_to_one_tuition", "permanent_exclusion", "neet")
    assert b["ethnicity_group"] == "Asian / Asian British"
    assert b["nc_year"] == "R"
    assert a["warnings"] is None and b["warnings"] is None


def test_unknown_codes_become_other_or_unknown_with_warning():
    text = ("UPN,Provider,Start Date,AP Type,Placement Reason,Outcome,LAC\n"
            "B801200005001,Oak,14/03/2025,Spaceship,Boredom,Mars,maybe\n")
    [row] = one(text).accepted.to_pylist()
    assert (row["setting_type"], row["reason"], row["destination"], row["cla"]) == (
        "unknown", "other", "other", None)
    for original in ("'Spaceship'", "'Boredom'", "'Mars'", "'maybe'"):
        assert original in row["warnings"]


def test_ids_stay_text_and_upn_checks():
    # B801200005001: 8*2+1*4+2*5+5*10+1*13 = 93; 93 mod 23 = 1 -> 'B' (valid)
    # P207000016049: sum 266; 266 mod 23 = 13 -> 'P' (valid)
    # B207000016049: same digits, so the check letter should be 'P': warning only
    text = ("UPN,Provider,Start Date,School URN\n"
            "B801200005001,Oak,14/03/2025,012345\n"
            "P207000016049,Oak,14/03/2025,12345\n"
            "B207000016049,Oak,14/03/2025,\n"
            "1.23E+12,Oak,14/03/2025,\n"
            "007,Oak,14/03/2025,\n")
    sheet = one(text)
    rows = sheet.accepted.to_pylist()
    assert [r["pupil_id"] for r in rows] == ["B801200005001", "P207000016049", "B207000016049",
                                             "007"]
    assert rows[0]["home_school_urn"] == "012345" and rows[0]["warnings"] is None
    assert rows[1]["home_school_urn"] is None and "6-digit" in rows[1]["warnings"]
    assert "check letter" in rows[2]["warnings"]
    [rej] = sheet.rejected.to_pylist()
    assert rej["row_number"] == 5 and "scientific notation" in rej["reason"]


def test_required_and_provider_rejects():
    text = ("UPN,Provider,Provider URN,Start Date\n"
            ",Oak,,14/03/2025\n"
            "B801200005001,,,14/03/2025\n"
            "B801200005001,,123456,14/03/2025\n"
            "B801200005001,Oak,,\n")
    sheet = one(text)
    assert sheet.accepted["provider_urn"].to_pylist() == ["123456"]
    reasons = {r["row_number"]: r["reason"] for r in sheet.rejected.to_pylist()}
    assert "UPN is blank" in reasons[2]
    assert "No provider" in reasons[3]
    assert "Start Date is blank" in reasons[5]


# -- other datasets ---------------------------------------------------------------------------

def test_exclusions_days_doubled_and_categories():
    text = ("UPN,Exclusion Type,Exclusion Date,Length (days),Reason\n"
            "B801200005001,FIXD,01/10/2024,1.5,PP\n"         # 1.5 days = 3 sessions
            "B801200005001,Permanent exclusion,02/10/2024,,Bullying\n"
            "B801200005001,Expelled,03/10/2024,1,DB\n"
            "B801200005001,lunchtime,04/10/2024,-1,Rudeness\n")
    sheet = one(text)
    assert sheet.dataset == "exclusions"
    rows = sheet.accepted.to_pylist()
    # a negative length is an invalid value in an optional column: stored blank with a
    # warning, the exclusion kept (data-spec §5)
    assert [(r["category"], r["sessions"], r["reason"]) for r in rows] == [
        ("suspension", 3.0, "PP"), ("permanent", None, "BU"), ("lunchtime", None, "Rudeness")]
    assert "Length (days) '-1' is not a number of 0 or more" in rows[2]["warnings"]
    reasons = {r["row_number"]: r["reason"] for r in sheet.rejected.to_pylist()}
    assert list(reasons) == [4]
    assert "'Expelled'" in reasons[4] and "exclusion type" in reasons[4]


def test_unreadable_exclusion_length_is_blank_with_a_warning_not_a_reject():
    sheet = one("UPN,Exclusion Type,Exclusion Date,Number of Sessions\n"
                "B801200005001,suspension,01/10/2024,two\n"
                "B801200005001,suspension,08/10/2024,4\n")
    assert sheet.rejected.num_rows == 0
    rows = sheet.accepted.to_pylist()
    assert [(r["start_date"], r["sessions"]) for r in rows] == [(D(2024, 10, 1), None), (D(2024, 10, 8), 4.0)]
    assert "Number of Sessions 'two' is not a number of 0 or more" in rows[0]["warnings"]
    assert rows[1]["warnings"] is None


def test_assessments():
    text = ("Pupil ID,Subject,Date Assessed,Score,Higher is Better\n"
            "B801200005001,Reading age,01/09/2024,7.5,Y\n"
            "B801200005001,SDQ total,01/09/2024,x,N\n")
    sheet = one(text)
    assert sheet.dataset == "assessments"
    [row] = sheet.accepted.to_pylist()
    assert (row["measure"], row["date"], row["value"], row["higher_is_better"]) == (
        "Reading age", D(2024, 9, 1), 7.5, True)
    [rej] = sheet.rejected.to_pylist()
    assert "Score 'x' is not a number" in rej["reason"]


def test_unrecognised_file_and_missing_columns():
    with pytest.raises(IngestError, match="no column for"):
        one("UPN,Provider,Notes\nB801200005001,Oak,hello\n")
    with pytest.raises(IngestError, match="header row"):
        one("just some words\nand more\n")


def test_header_only_file_is_an_error():
    with pytest.raises(IngestError, match="no rows of data"):
        one("UPN,Provider,Start Date\n")


def test_temporary_upn_check_letter():
    # X12345678901A: digits 2-12 weighted 2..12 sum to 342; final 'A' is 0 in the alphabet;
    # 342 mod 23 = 20 -> 'X' (ABCDEFGHJKLMNPQRTUVWXYZ), so valid; A12345678901A is not.
    sheet = one("UPN,Provider,Start Date\nX12345678901A,Oak,14/03/2025\n"
                "A12345678901A,Oak,14/03/2025\n")
    ok, bad = sheet.accepted.to_pylist()
    assert ok["warnings"] is None
    assert "check letter" in bad["warnings"]


def test_a_row_with_fewer_cells_than_headings_is_warned_about():
    # A reviewer: a row cut short after its 20th cell loaded with no word, and its missing cells
    # cleared stored values (a blank in a carried column clears, data-spec §6). A row ending in
    # empty cells (",,") is complete: its cells are there, empty.
    text = ("UPN,Provider,Start Date,Hours Per Week\n"
            "B801200005001,Oak,01/03/2025,25\n"
            "P207000016049,Elm,02/03/2025\n"          # row 3: one cell short
            "B801200005001,Oak,03/03/2025,\n"         # row 4: an empty last cell, not short
            "P207000016049,Elm\n"                     # row 5: two short (no start date: rejected)
            "B801200005001,Oak,04/03/2025,30\n")
    sheet = one(text)
    assert sheet.sheet_warnings == [
        "2 rows had fewer cells than there are column headings (row 3, 5); the missing cells were read as "
        "blank, and a blank clears the value stored before. A line cut short, or a line break inside a "
        "value that is not in quotes, usually causes this: check those rows in the file."]
    assert sorted(r["row_number"] for r in sheet.accepted.to_pylist()) == [2, 3, 4, 6]


@pytest.mark.parametrize("ending", ["", "\n"])
def test_a_file_cut_off_in_its_last_row_is_refused(ending):
    # A reviewer: half of the autumn file (ending mid-row) loaded as 56 rows with no warning; the
    # last row's objectives were cut to "Gradual increase in h" and its later cells blank.
    text = ("UPN,Provider,Start Date,Objectives,Hours Per Week\n"
            "B801200005001,Oak,01/03/2025,Full time by summer,25\n"
            "P207000016049,Elm,02/03/2025,Gradual increase in h")
    if ending:   # the same short last row with a line ending: a row cut short, warned, not a cut file
        assert one(text + ending).sheet_warnings[0].startswith("1 row had fewer cells than there are column "
                                                               "headings (row 3)")
        return
    with pytest.raises(IngestError) as e:
        one(text)
    assert str(e.value).endswith("The file ends in the middle of row 3: that row has fewer cells than there are "
                                 "column headings and no line ending after it, so the file looks cut off (a "
                                 "download or copy that did not finish). Nothing was loaded: save or send the "
                                 "whole file again.")


def test_hours_a_week_past_the_hours_in_a_week_are_blank_with_a_warning():
    # A reviewer: 400 hours a week was stored as it is (a week has 168), while -5 was warned.
    sheet = one("UPN,Provider,Start Date,Hours Per Week\n"
                "B801200005001,Oak,01/03/2025,400\n"
                "P207000016049,Elm,02/03/2025,168\n"
                "B801200005001,Elm,03/03/2025,-5\n")
    rows = sheet.accepted.to_pylist()
    assert [r["hours_per_week"] for r in rows] == [None, 168.0, None]
    assert "Hours Per Week '400' is not a number of hours from 0 to 168 (the hours in a week)" in rows[0]["warnings"]
    assert rows[1]["warnings"] is None
    assert "Hours Per Week '-5' is not a number of hours from 0 to 168" in rows[2]["warnings"]


def test_the_missing_columns_are_listed_with_and():
    # A reviewer: "...has no column for a pupil ID (UPN), a placement start date."
    with pytest.raises(IngestError) as e:
        one("Kid Code,Provider,Began on,Hours Per Week\nB801200005001,Oak,01/03/2025,25\n")
    assert str(e.value).endswith("This looks like placements data, but it has no column for a pupil ID (UPN) "
                                 "and a placement start date.")
