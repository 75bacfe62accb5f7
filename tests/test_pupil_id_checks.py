"""Pupil IDs typed wrongly: a row warning for an ID that is nearly a UPN (analytics.ingest), and
a sheet notice when a placements sheet gives a pupil's first name, last name and date of birth
under a different pupil ID from another pupil in the current state (Store._same_pupil).

A mistyped UPN otherwise makes the same child a second pupil, with a second open placement at
the top of the Case list, and nothing on screen says why: UPNs are never shown. Local IDs are
allowed (data-spec §1), so only near-UPNs are warned of, and only as warnings.

Pupils are synthetic: UPNs from LA number 999 (no real LA has it) or local IDs, and invented
names. Check letters worked out by hand (dfe-codes.md §4.1: sum of position * digit over
characters 2-13, mod 23, through ABCDEFGHJKLMNPQRTUVWXYZ):
- C999000000001: 2*9 + 3*9 + 4*9 + 13*1 = 94, 94 mod 23 = 2: C (as tests/test_upload_page_checks.py).
- R999000000002: 81 + 13*2 = 107, 107 mod 23 = 15: R (likewise).
- V999000000004: 81 + 13*4 = 133, 133 mod 23 = 18: V (A0 ... R15 T16 U17 V18).
- T999444316577: 18 + 27 + 36 + 5*4 + 6*4 + 7*4 + 8*3 + 9*1 + 10*6 + 11*5 + 12*7 + 13*7
  = 81 + 20 + 24 + 28 + 24 + 9 + 60 + 55 + 84 + 91 = 476, 476 mod 23 = 16: T. Typed with the
  letter O for its first 9 it is the reviewer's TO99444316577.
- B999000000001 has C999000000001's digits, so its check letter is wrong.
"""
from __future__ import annotations

import hashlib
import re

import duckdb
import pytest

from analytics.ingest import read_file
from analytics.store import ChangePreview, Store, same_pupil_notice
from tests.test_store_helpers import sheet

MISTYPED = ("is not a well-formed UPN: a character may be missing, extra or mistyped (a UPN is a "
            "letter, 11 digits and a check character). Check it, or this child may be counted as two "
            "pupils.")


def one(text: str):
    [s] = read_file(text.encode("utf-8"), "ids.csv")
    return s


def warnings_by_id(ids: list[str], header: str = "UPN") -> dict[str, str | None]:
    text = f"{header},Provider,Start Date\n" + "".join(f"{i},Oak PRU,01/09/2025\n" for i in ids)
    s = one(text)
    assert s.rejected.num_rows == 0   # a warning, never a reject: local IDs are allowed
    return {r["pupil_id"]: r["warnings"] for r in s.accepted.to_pylist()}


# -- 1. an ID that looks like a mistyped UPN (a row warning) -------------------------------------

@pytest.mark.parametrize("typed, why", [
    ("N99941881539", "a letter and 11 digits: a digit dropped (the reviewer's)"),
    ("TO99444316577", "T999444316577 with the letter O typed for its first 9 (the reviewer's)"),
    ("C99900000001", "C999000000001 with a 0 dropped"),
    ("C9990000000001", "C999000000001 with a 0 doubled: 13 digits"),
    ("C9990000001", "two digits dropped: a letter and 10 digits"),
    ("T9994443I6577", "T999444316577 with the letter I typed for its 1"),
    ("C999000000001X", "a valid UPN with a letter added at the end"),
    ("X1234567890A", "a temporary UPN (letter, 11 digits, letter) with a digit dropped"),
])
def test_an_id_that_is_nearly_a_upn_is_warned_of(typed, why):
    assert warnings_by_id([typed]) == {typed: "UPN " + MISTYPED}, why


def test_lower_case_is_read_upper_case_and_the_header_names_the_column():
    # upper-cased first (data-spec §1), so 'c99900000001' is C99900000001: a digit dropped
    assert warnings_by_id(["c99900000001"], header="Pupil ID") == {"C99900000001": "Pupil ID " + MISTYPED}


@pytest.mark.parametrize("typed", [
    "LA-0004", "P1", "PUP00123", "1234567", "007", "42",   # local IDs
    "C999000000001", "T999444316577", "R999000000002",      # valid UPNs
    "X12345678901A",      # a valid temporary UPN (tests/test_ingest_csv.py works it out)
    "P0000123",           # a letter and 7 digits: too short to be a UPN typed wrongly
    "AB1234567890",       # two letters first: not a UPN's shape
    "C999000OIO0I01",     # four O/I: not "nearly all digits"
    "999000000001",       # no letter at all (a local number, or a UPN without its check letter)
])
def test_local_ids_and_valid_upns_are_not_warned_of(typed):
    assert warnings_by_id([typed]) == {typed: None}


def test_a_wrong_check_letter_keeps_its_own_warning():
    w = warnings_by_id(["B999000000001"])["B999000000001"]
    assert w == "UPN has a check letter that does not match its digits, so it is not a valid UPN."
    assert "999000000001" not in w   # a UPN is never repeated in a message (security.md invariant 9)
    assert "not a well-formed UPN" not in w


def test_the_warning_shows_no_id():
    # The ID is nearly a UPN, and not UPN-shaped, so the pages' UPN masking would miss it:
    # the sentence leaves it out, and the row number finds it.
    s = one("UPN,Provider,Start Date\nOak,Oak PRU,01/09/2025\nTO99444316577,Oak PRU,01/09/2025\n")
    rows = {r["row_number"]: r["warnings"] for r in s.accepted.to_pylist()}
    assert rows == {2: None, 3: "UPN " + MISTYPED}
    assert "99444316577" not in rows[3] and not re.search(r"[0-9]{5}", rows[3])


SPACED = "had spaces inside, which were removed: a UPN has none."


@pytest.mark.parametrize("typed, why", [
    ("C999 0000 00001", "grouped as some systems print a UPN"),
    ("C999000 000001", "one space inside"),
    ("c999\u00a00000\u00a000001", "non-breaking spaces (copied from a web page), lower case"),
    ("C999\t000000001", "a tab inside"),
])
def test_a_upn_written_with_spaces_is_the_upn_with_a_warning(typed, why):
    # C999000000001's check letter is right (module docstring), so the spaced form is that pupil:
    # without this, the same child is a second pupil once a later file writes it without spaces
    assert warnings_by_id([typed]) == {"C999000000001": "UPN " + SPACED}, why


def test_a_spaced_upn_with_a_wrong_check_letter_gets_both_warnings():
    w = warnings_by_id(["B999 0000 00001"])["B999000000001"]
    assert w == ("UPN had spaces inside, which were removed: a UPN has none; "
                 "UPN has a check letter that does not match its digits, so it is not a valid UPN.")


@pytest.mark.parametrize("typed", ["AB 12", "LA REF 0004", "C999 0000 0001"])
def test_spaces_stay_in_an_id_that_is_not_a_upn_without_them(typed):
    # a local ID may have spaces of its own (data-spec §1: trimmed and upper-cased, nothing more);
    # 'C99900000001' (12 characters) is not UPN-shaped, so it stays as typed and unwarned
    assert warnings_by_id([typed]) == {typed: None}


def test_the_spaced_and_unspaced_upn_are_one_pupil_in_the_store(store):
    head = "UPN,Provider Name,Provider URN,Start Date,End Date\n"
    store.ingest_file((head + "C999 0000 00001,Oak PRU,100001,01/09/2025,\n").encode(), "autumn.csv")
    store.ingest_file((head + "C999000000001,Oak PRU,100001,01/09/2025,12/12/2025\n").encode(), "spring.csv")
    # spring's end date closes autumn's placement: one pupil, one placement, no open one
    assert store.con.execute("SELECT pupil_id, end_date IS NULL FROM placements").fetchall() == [
        ("C999000000001", False)]


def test_the_other_datasets_warn_of_it_too():
    s = one("UPN,Exclusion Type,Start Date,Sessions\nC99900000001,suspension,01/10/2025,2\n")
    assert s.dataset == "exclusions"
    assert s.accepted.to_pylist()[0]["warnings"] == "UPN " + MISTYPED


# -- 2. one pupil under two IDs (a sheet notice) ------------------------------------------------

@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ap.duckdb")
    yield s
    s.close()


def load(store, sh, name):
    [r] = store.ingest_parsed([sh], hashlib.sha256(name.encode()).hexdigest())
    return r


def row(pupil_id, first="Ada", last="Quillfeather", dob="2011-05-04", start="2025-09-01", urn="100001",
        **more):
    return {"pupil_id": pupil_id, "first_name": first, "last_name": last, "date_of_birth": dob,
            "provider_urn": urn, "start_date": start, **more}


def notices(store, upload_id) -> list[str]:
    [(w,)] = store.con.execute("SELECT sheet_warnings FROM uploads WHERE upload_id = ?", [upload_id]).fetchall()
    return list(w or [])


# Autumn has the child under a mistyped UPN; spring spells it right (same name, date of birth,
# provider and start date): two pupils, each with an open placement.
AUTUMN = sheet("placements", [
    row("R999000000002", first="Bram", last="Otterly", dob="2012-02-29"),
    row("TO99444316577"),
], file_name="autumn.csv")
SPRING = sheet("placements", [
    row("R999000000002", first="Bram", last="Otterly", dob="2012-02-29"),
    row("V999000000004", first="Cass", last="Wendleby", dob="2010-11-30", start="2026-01-05"),
    row("T999444316577"),
], file_name="spring.csv")
# What every notice says of why (a later file cannot replace the record under the wrong ID: the
# ID is part of its key, data-spec §6), between where the other ID is and what to do.
WHY = ("If it is the same child, one ID is mistyped, and the child counts as two pupils until the record "
       "under the wrong ID goes: a later file with the ID put right adds a record beside it, not in its "
       "place, since the ID is part of every record.")
# spring's row 4 (the third row) matches autumn's TO99444316577 (upload 1): one pupil, row 4
SPRING_FOUND = ("1 pupil appears under more than one pupil ID: row 4 of this sheet has the same first name, "
                "last name and date of birth as a pupil with another ID, in upload 1 (autumn.csv). " + WHY +
                " If the ID in upload 1 (autumn.csv) is the wrong one, open that pupil's case in the Pupil view "
                "and remove the record under \"Correct this pupil's records\" (the case list names the upload that "
                "brought each ID).")
SPRING_NOTICE = SPRING_FOUND + " If this sheet's ID is the wrong one, correct the wrong ID in this file before loading."
SPRING_LOADED = SPRING_FOUND + (" If this sheet's ID is the wrong one, withdraw this upload (2), correct the file "
                                "and upload it again.")


def test_the_corrected_id_in_a_later_file_is_reported_before_and_after_load(store):
    first = load(store, AUTUMN, "autumn")
    assert notices(store, first.upload_id) == [] and store.last_same_pupil is None
    pv = store.preview_changes(SPRING)
    assert pv.same_pupil == SPRING_NOTICE
    assert pv.added == 2   # T999444316577 (a second pupil) and V999000000004
    spring = load(store, SPRING, "spring")
    assert spring.upload_id == 2
    assert notices(store, spring.upload_id) == [SPRING_LOADED]
    # the load's result carries it too, as a sheet warning (no row number)
    assert spring.warnings["warning"].tolist() == [SPRING_LOADED]
    assert spring.warnings["row_number"].isna().all()


def test_a_batch_preview_counts_the_files_ahead_of_it(store):
    # autumn and spring dropped together: spring's preview applies autumn first
    # (autumn is a file above it in the batch, not a stored upload)
    pv = store.preview_changes(SPRING, before=[(AUTUMN, None)])
    assert pv.same_pupil == (
        "1 pupil appears under more than one pupil ID: row 4 of this sheet has the same first name, last name "
        "and date of birth as a pupil with another ID, in autumn.csv, above it. " + WHY +
        " If the ID in autumn.csv is the wrong one, correct it there before loading. If this sheet's ID is the "
        "wrong one, correct the wrong ID in this file before loading.")
    assert store.uploads().empty   # a preview stores nothing


def test_rows_of_one_sheet_and_names_compared_trimmed_and_case_folded(store):
    # Rows 2 and 4 are one child (names differ only in case and spaces); rows 3 and 5 another;
    # row 6 shares row 2's name but not its date of birth. Two pupils; rows 2, 3, 4 and 5.
    r = load(store, sheet("placements", [
        row("C999000000001"),
        row("P7", first="Bram", last="Otterly", dob="2012-02-29"),
        row("C99900000001", first=" ADA ", last="quillFEATHER "),
        row("P8", first="bram", last="OTTERLY", dob="2012-02-29", start="2025-10-01"),
        row("P9", dob="2011-05-05"),
    ]), "one sheet")
    expected = ("2 pupils appear under more than one pupil ID: rows 2, 3, 4 and 5 of this sheet have the "
                "same first name, last name and date of birth as a pupil with another ID, in this sheet. " + WHY +
                f" Withdraw this upload ({r.upload_id}), correct the file and upload it again.")
    assert notices(store, r.upload_id) == [expected]


@pytest.mark.parametrize("rows, why", [
    ([row("P1"), row("P2", dob="2011-05-14")], "same name, another date of birth"),
    ([row("P1"), row("P2", first="Ida")], "same surname and date of birth, another first name"),
    ([row("P1"), row("P1", start="2026-01-05", urn="100002")], "the same ID in two rows: two placements"),
    ([row("P1"), row("P2", first=None)], "a first name missing"),
    ([row("P1"), row("P2", last="  ")], "a last name blank"),
    ([row("P1"), row("P2", dob=None)], "a date of birth missing"),
    ([row("C999000000001"), row("T999444316577", first="Bram", last="Otterly", dob="2012-02-29")],
     "two valid UPNs, two children"),
])
def test_no_notice(store, rows, why):
    r = load(store, sheet("placements", rows), why)
    assert notices(store, r.upload_id) == [], why
    assert store.preview_changes(sheet("placements", rows)).same_pupil is None, why


def test_no_notice_without_name_columns_or_after_the_other_id_is_withdrawn(store):
    first = load(store, AUTUMN, "autumn")
    # a file without names and dates of birth cannot tell
    bare = sheet("placements", [{"pupil_id": "T999444316577", "provider_urn": "100001",
                                 "start_date": "2025-09-01"}])
    assert store.preview_changes(bare).same_pupil is None
    # the mistyped autumn upload withdrawn: only the corrected ID is left
    store.withdraw(first.upload_id)
    assert store.preview_changes(SPRING).same_pupil is None


def test_the_notice_names_rows_only():
    text = same_pupil_notice(3, list(range(2, 14)))
    # twelve rows: the first ten, then "2 more"
    assert text.startswith("3 pupils appear under more than one pupil ID: rows 2, 3, 4, 5, 6, 7, 8, 9, 10, "
                           "11 and 2 more of this sheet have ")
    assert same_pupil_notice(1, [7]).startswith("1 pupil appears under more than one pupil ID: row 7 of "
                                                "this sheet has the same ")


def test_the_stored_notice_shows_no_id_or_name(store):
    load(store, AUTUMN, "autumn")
    spring = load(store, SPRING, "spring")
    [text] = notices(store, spring.upload_id)
    for secret in ("TO99444316577", "T999444316577", "R999000000002", "V999000000004", "Ada",
                   "Quillfeather", "Bram", "Otterly", "2011", "05/04", "04/05"):
        assert secret not in text
    assert not re.search(r"[A-Z][0-9OI]{9,}", text)


def test_a_preview_defaults_to_no_notice():
    assert ChangePreview("placements").same_pupil is None


def test_from_csv_files_both_warnings(store):
    # End to end: the reader's row warning on the mistyped UPN, then the store's notice when a
    # later file spells it right.
    head = "UPN,Forename,Surname,DOB,Provider Name,Provider URN,Start Date\n"
    autumn = (head + "R999000000002,Bram,Otterly,29/02/2012,Oak PRU,100001,01/09/2025\n"
                     "N99941881539,Ada,Quillfeather,04/05/2011,Oak PRU,100001,01/09/2025\n").encode()
    spring = (head + "C999000000001,Ada,Quillfeather,04/05/2011,Oak PRU,100001,01/09/2025\n").encode()
    [a] = store.ingest_file(autumn, "autumn.csv")
    assert a.warnings.to_dict("records") == [{"row_number": 3, "warning": "UPN " + MISTYPED}]
    [s] = store.ingest_file(spring, "spring.csv")
    assert s.warnings["warning"].tolist() == [
        "1 pupil appears under more than one pupil ID: row 2 of this sheet has the same first name, last "
        f"name and date of birth as a pupil with another ID, in upload {a.upload_id} (autumn.csv). " + WHY +
        f" If the ID in upload {a.upload_id} (autumn.csv) is the wrong one, open that pupil's case in the "
        "Pupil view and remove the record under \"Correct this pupil's records\" (the case list names the "
        "upload that brought each ID). If this "
        f"sheet's ID is the wrong one, withdraw this upload ({s.upload_id}), correct the file and upload it again."]
    # the two IDs are two pupils with two open placements: what the notice explains
    assert store.con.execute("SELECT count(DISTINCT pupil_id) FROM placements WHERE end_date IS NULL "
                             "AND last_name = 'Quillfeather'").fetchall() == [(2,)]


# -- 3. the committed sample data raises neither -----------------------------------------------

def test_the_sample_data_has_neither_warning(sample_db):
    con = duckdb.connect(str(sample_db))  # same configuration as the app's Store (see conftest)
    try:
        mistyped = sum(con.execute(f"SELECT count(*) FROM ledger_{d} WHERE warnings LIKE '%not a well-formed UPN%'")
                       .fetchall()[0][0] for d in ("placements", "attendance", "exclusions", "assessments"))
        same, two_open = con.execute(
            "SELECT count(*) FILTER (WHERE w LIKE '%more than one pupil ID%'), "
            "count(*) FILTER (WHERE w LIKE '%two open placements at the same provider%') "
            "FROM uploads, unnest(coalesce(sheet_warnings, [])) AS t(w)").fetchall()[0]
    finally:
        con.close()
    # (nor the notice of a start date corrected: Store._two_open)
    assert (mistyped, same, two_open) == (0, 0, 0)


def test_the_upload_that_brought_an_id_is_its_earliest_live_one(store):
    # oversight.first_uploads: autumn (upload 1) brings TO99444316577 and R999000000002; spring
    # (upload 2) brings T999444316577 and V999000000004 and sends R999000000002 again
    from analytics.oversight import first_uploads

    load(store, AUTUMN, "autumn")
    load(store, SPRING, "spring")
    ids = ["TO99444316577", "T999444316577", "R999000000002", "NOT-STORED"]
    assert first_uploads(store.con, ids) == {"TO99444316577": (1, "autumn.csv"), "T999444316577": (2, "spring.csv"),
                                             "R999000000002": (1, "autumn.csv")}
    store.withdraw(1)   # withdrawn: no longer what brought them
    assert first_uploads(store.con, ids) == {"T999444316577": (2, "spring.csv"), "R999000000002": (2, "spring.csv")}
