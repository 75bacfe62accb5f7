"""The store: ledger, current state by data-spec §6, duplicates, withdrawal, transactions.

Expected states are worked out by hand in the comments beside each case.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
from dataclasses import replace
from datetime import date

import duckdb
import pytest

from analytics.errors import StoreError
from analytics.store import Store
from tests.test_store_helpers import one, rejected_table, sheet, state

D = date.fromisoformat


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db" / "ap.duckdb")
    yield s
    s.close()


_LOADS = itertools.count()
_HASHES: dict[int, tuple[object, str]] = {}   # id -> (the sheet, kept alive; its hash)


def _hash_of(sheet) -> str:
    """One content hash per sheet object: the same sheet loaded again is the same file. The
    sheet is kept alive here, because Python reuses the id of a freed object: a new sheet could
    otherwise get an old one's hash and be reported as a duplicate (a flaky test)."""
    if id(sheet) not in _HASHES:
        _HASHES[id(sheet)] = (sheet, hashlib.sha256(f"load {next(_LOADS)}".encode()).hexdigest())
    return _HASHES[id(sheet)][1]


def load(store, *sheets, h=None):
    """Load each sheet as its own file (content hash per sheet object unless given)."""
    out = []
    for sh in sheets:
        out.extend(store.ingest_parsed([sh], h or _hash_of(sh)))
    return out


def placements(store, cols="pupil_id, first_name, end_date, hours_per_week, destination, upload_id"):
    return one(store, f"SELECT {cols} FROM placements ORDER BY pupil_id, start_date")


# --- the overwrite rule --------------------------------------------------------------------

A = sheet("placements", [
    {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06", "first_name": "Ann",
     "end_date": None, "hours_per_week": 10.0, "destination": None},
    {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-02-03", "first_name": "Bob",
     "end_date": "2025-03-01", "hours_per_week": 15.0, "destination": None},
], file_name="autumn.csv")
# B carries end_date and destination, not first_name or hours_per_week.
B = sheet("placements", [
    {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06", "end_date": "2025-03-28",
     "destination": "mainstream"},
    {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-02-03", "end_date": None,
     "destination": None},
], file_name="spring.csv")
# C carries first_name only (besides the key), blank for P1.
C = sheet("placements", [
    {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06", "first_name": None},
], file_name="summer.csv")
X = sheet("exclusions", [{"pupil_id": "P9", "category": "suspension", "start_date": "2025-01-07"}],
          file_name="excl.csv")


def test_newer_upload_wins_for_carried_columns_blank_included(store):
    load(store, A, B, C)
    assert placements(store) == [
        # first_name cleared by C's blank; end_date and destination from B; hours kept from A.
        ("P1", None, D("2025-03-28"), 10.0, "mainstream", 3),
        # B's blank end_date clears A's 2025-03-01; first_name and hours kept from A.
        ("P2", "Bob", None, 15.0, None, 2),
    ]


def test_state_after_two_uploads(store):
    load(store, A, B)
    assert placements(store) == [
        ("P1", "Ann", D("2025-03-28"), 10.0, "mainstream", 2),
        ("P2", "Bob", None, 15.0, None, 2),
    ]


def test_within_one_upload_the_later_row_wins(store):
    rows = [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06", "hours_per_week": 7.0},
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06", "hours_per_week": 5.0},
    ]
    # Row 9 comes first in the table but is the later row of the file.
    load(store, sheet("placements", rows, row_numbers=[9, 4]))
    assert one(store, "SELECT hours_per_week FROM placements") == [(7.0,)]
    assert one(store, "SELECT count(*) FROM ledger_placements") == [(2,)]


def test_columns_no_upload_carries_are_blank(store):
    load(store, A)
    assert one(store, "SELECT count(*) FROM placements WHERE cost_per_week IS NULL AND trust IS NULL") == [(2,)]


# --- provider key -----------------------------------------------------------------------------

def test_provider_key_from_a_urn_known_for_the_name(store):
    first = sheet("placements", [
        {"pupil_id": "P1", "provider": "Oak House", "provider_urn": "100001", "start_date": "2025-01-06"},
        {"pupil_id": "P2", "provider": "Elm Tuition", "start_date": "2025-01-06"},
    ], file_name="autumn.csv")
    later = sheet("placements", [  # no URN column at all
        {"pupil_id": "P1", "provider": "OAK HOUSE", "start_date": "2025-01-06", "end_date": "2025-03-01"},
        {"pupil_id": "P2", "provider": " elm tuition ", "start_date": "2025-01-06", "end_date": "2025-02-01"},
        {"pupil_id": "P3", "provider": "Birch Centre", "start_date": "2025-02-02"},
        {"pupil_id": "P4", "provider": "Oak House", "start_date": "2025-02-03"},   # new, by name only
    ], file_name="spring.csv")
    load(store, first, later)
    cols = "pupil_id, provider, provider_key, provider_urn, registered, end_date, placement_id"
    pid = lambda key: hashlib.md5(key.encode()).hexdigest()[:16]  # noqa: E731
    assert placements(store, cols) == [
        ("P1", "OAK HOUSE", "100001", "100001", True, D("2025-03-01"), pid("P1|100001|2025-01-06")),
        ("P2", " elm tuition ", "elm tuition", None, None, D("2025-02-01"), pid("P2|elm tuition|2025-01-06")),
        ("P3", "Birch Centre", "birch centre", None, None, None, pid("P3|birch centre|2025-02-02")),
        # Oak House's URN is known, so the new placement gets it, and with it registered = true.
        ("P4", "Oak House", "100001", "100001", True, None, pid("P4|100001|2025-02-03")),
    ]
    # Without the autumn file nothing knows Oak House's URN: the name is the key.
    store.withdraw(1)
    assert one(store, "SELECT pupil_id, provider_key, provider_urn, registered FROM placements "
                      "WHERE pupil_id IN ('P1', 'P4') ORDER BY 1") == [
        ("P1", "oak house", None, None), ("P4", "oak house", None, None)]


def test_name_only_file_first_then_urn_file_is_one_record(store):
    load(store,
         sheet("placements", [{"pupil_id": "P1", "provider": "Oak House", "start_date": "2025-01-06",
                               "hours_per_week": 12.0}]),
         sheet("placements", [{"pupil_id": "P1", "provider": "Oak House", "provider_urn": "100001",
                               "start_date": "2025-01-06", "end_date": "2025-02-01"}]))
    assert placements(store, "provider_key, hours_per_week, end_date, upload_id") == [
        ("100001", 12.0, D("2025-02-01"), 2)]


def test_ukprn_alone_joins_the_record_known_by_urn(store):
    load(store,
         sheet("placements", [{"pupil_id": "P1", "provider": "Oak House", "provider_urn": "100001",
                               "provider_ukprn": "10000001", "start_date": "2025-01-06"}]),
         sheet("placements", [{"pupil_id": "P1", "provider": "Oak House Annexe", "provider_ukprn": "10000001",
                               "start_date": "2025-01-06", "end_date": "2025-02-01"}]),
         sheet("placements", [{"pupil_id": "P2", "provider_ukprn": "10000002", "start_date": "2025-01-06"}]))
    assert placements(store, "pupil_id, provider, provider_key, provider_urn, end_date") == [
        ("P1", "Oak House Annexe", "100001", "100001", D("2025-02-01")),
        ("P2", None, "10000002", None, None),
    ]


# --- derived columns ---------------------------------------------------------------------------

def test_registered_derivation_and_a_stated_value_kept(store):
    load(store, sheet("placements", [
        {"pupil_id": "R1", "provider_urn": "100001", "start_date": "2025-01-06"},             # URN -> true
        {"pupil_id": "R2", "provider": "Tutor Ltd", "setting_type": "one_to_one_tuition",
         "start_date": "2025-01-06"},                                                         # -> false
        {"pupil_id": "R3", "provider": "Some PRU", "setting_type": "state_ap_school",
         "start_date": "2025-01-06"},                                                         # -> unknown
        {"pupil_id": "R4", "provider_urn": "100002", "registered": False,
         "start_date": "2025-01-06"},                                                         # stated
    ], carried=["pupil_id", "provider", "provider_urn", "setting_type", "registered", "start_date"]))
    reg = lambda: one(store, "SELECT pupil_id, registered FROM placements ORDER BY 1")  # noqa: E731
    assert reg() == [("R1", True), ("R2", False), ("R3", None), ("R4", False)]
    # A later file without the column keeps R4's stated false.
    load(store, sheet("placements", [{"pupil_id": "R4", "provider_urn": "100002", "start_date": "2025-01-06",
                                      "end_date": "2025-02-01"}]))
    assert reg()[3] == ("R4", False)
    # A later file carrying the column with a blank clears it, and the URN derives true.
    load(store, sheet("placements", [{"pupil_id": "R4", "provider_urn": "100002", "start_date": "2025-01-06"}],
                      carried=["pupil_id", "provider_urn", "start_date", "registered"]))
    assert reg()[3] == ("R4", True)


@pytest.mark.parametrize("dob, start, expected", [
    ("2010-09-01", "2025-09-01", "10"),   # 14 on 31 Aug 2025
    ("2010-08-31", "2025-09-01", "11"),   # 15 on 31 Aug 2025
    ("2010-09-01", "2026-07-20", "10"),   # same academic year 2025/26
    ("2010-09-01", "2025-08-31", "9"),    # 31 Aug 2024: 13
    ("2021-01-01", "2025-10-01", "R"),    # 4
    ("2021-12-01", "2025-10-01", None),   # 3: no year group
    ("2007-01-01", "2025-10-01", "14"),   # 18
    (None, "2025-10-01", None),
])
def test_nc_year_derived_from_date_of_birth(store, dob, start, expected):
    load(store, sheet("placements", [{"pupil_id": "N1", "provider_urn": "100001", "date_of_birth": dob,
                                      "start_date": start}], carried=["pupil_id", "provider_urn",
                                                                      "date_of_birth", "start_date"]))
    assert one(store, "SELECT nc_year FROM placements") == [(expected,)]


def test_stated_nc_year_is_kept(store):
    load(store, sheet("placements", [{"pupil_id": "N1", "provider_urn": "100001", "date_of_birth": "2010-09-01",
                                      "start_date": "2025-09-01", "nc_year": "9"}]))
    assert one(store, "SELECT nc_year FROM placements") == [("9",)]


# --- other datasets' keys --------------------------------------------------------------------

def test_attendance_key_setting_trimmed_and_case_folded(store):
    load(store,
         sheet("attendance", [
             {"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10", "setting": "Oak House",
              "possible_sessions": 10, "attended_sessions": 8},
             {"pupil_id": "P1", "period_start": "2025-01-13", "period_end": "2025-01-17",
              "possible_sessions": 10, "attended_sessions": 6}]),
         sheet("attendance", [
             {"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10", "setting": " oak HOUSE",
              "possible_sessions": 10, "attended_sessions": 9}]))
    assert one(store, "SELECT period_start, setting, setting_key, attended_sessions, upload_id FROM attendance "
                      "ORDER BY 1") == [
        (D("2025-01-06"), " oak HOUSE", "oak house", 9.0, 2),
        (D("2025-01-13"), None, "", 6.0, 1),
    ]


def test_first_attendance_upload_into_an_empty_store(store):
    # Nothing is live, so each row of the upload is a record as it is, unless two rows share a
    # key: rows 2 and 3 are one pupil-week at one setting (" Oak" and "OAK" fold to "oak"), so
    # they are one record and the later row (3: 7 attended) wins.
    load(store, sheet("attendance", [
        {"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10", "setting": " Oak",
         "possible_sessions": 10, "attended_sessions": 4},
        {"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10", "setting": "OAK",
         "possible_sessions": 10, "attended_sessions": 7},
        {"pupil_id": "P2", "period_start": "2025-01-06", "period_end": "2025-01-10",
         "possible_sessions": 8, "attended_sessions": 8}]))
    assert one(store, "SELECT pupil_id, setting, setting_key, attended_sessions FROM attendance "
                      "ORDER BY 1") == [("P1", "OAK", "oak", 7.0), ("P2", None, "", 8.0)]
    # all distinct: three records, as they came
    load(store, sheet("exclusions", [
        {"pupil_id": "P1", "category": "suspension", "start_date": "2025-01-07", "sessions": 2},
        {"pupil_id": "P1", "category": "suspension", "start_date": "2025-02-07", "sessions": 1},
        {"pupil_id": "P2", "category": "permanent", "start_date": "2025-01-07"}]))
    assert one(store, "SELECT pupil_id, category, start_date, sessions FROM exclusions ORDER BY 1, 3") == [
        ("P1", "suspension", D("2025-01-07"), 2.0), ("P1", "suspension", D("2025-02-07"), 1.0),
        ("P2", "permanent", D("2025-01-07"), None)]


def test_first_placements_upload_rows_sharing_a_key_through_the_provider_name(store):
    # Into an empty store. Row 2 names Oak with URN 100001; row 3 names only 'oak ', whose URN is
    # therefore 100001 too: one pupil, one provider, one start date, so one record, and the later
    # row (3) wins for the columns it carries (hours 10), the URN resolved from the name.
    load(store, sheet("placements", [
        {"pupil_id": "P1", "provider": "Oak", "provider_urn": "100001", "start_date": "2025-01-06",
         "hours_per_week": 5.0},
        {"pupil_id": "P1", "provider": "oak ", "provider_urn": None, "start_date": "2025-01-06",
         "hours_per_week": 10.0},
        {"pupil_id": "P2", "provider": "Elm", "provider_urn": None, "start_date": "2025-01-06",
         "hours_per_week": 3.0}]))
    assert one(store, "SELECT pupil_id, provider_key, provider_urn, hours_per_week FROM placements "
                      "ORDER BY 1") == [("P1", "100001", "100001", 10.0), ("P2", "elm", None, 3.0)]
    partial = state(store, "placements")
    store.rebuild_all()
    assert state(store, "placements") == partial


def test_assessment_measure_newest_display_and_exclusion_key(store):
    load(store,
         sheet("assessments", [{"pupil_id": "P1", "measure": "Reading Age", "date": "2025-01-06", "value": 8.5},
                               {"pupil_id": "P1", "measure": "SDQ", "date": "2025-01-06", "value": 20,
                                "higher_is_better": False}]),
         sheet("assessments", [{"pupil_id": "P1", "measure": "reading age ", "date": "2025-01-06", "value": 9.0}]),
         sheet("exclusions", [{"pupil_id": "P1", "category": "suspension", "start_date": "2025-01-06", "sessions": 2},
                              {"pupil_id": "P1", "category": "lunchtime", "start_date": "2025-01-06", "sessions": 1}]),
         sheet("exclusions", [{"pupil_id": "P1", "category": "suspension", "start_date": "2025-01-06", "sessions": 4}]))
    assert one(store, "SELECT measure, measure_key, value, higher_is_better FROM assessments ORDER BY 2") == [
        ("reading age ", "reading age", 9.0, None), ("SDQ", "sdq", 20.0, False)]
    assert one(store, "SELECT category, sessions, upload_id FROM exclusions ORDER BY 1") == [
        ("lunchtime", 1.0, 3), ("suspension", 4.0, 4)]


# --- duplicates ------------------------------------------------------------------------------

def test_same_bytes_again_is_a_duplicate_and_changes_nothing(store):
    first = store.ingest_parsed([A], "hash-a")
    before = (store.uploads(), state(store, "placements"))
    again = store.ingest_parsed([A], "hash-a")
    assert [r.status for r in first] == ["loaded"] and again[0].status == "duplicate"
    assert again[0].upload_id == 1 and "already loaded as upload 1" in again[0].message
    assert "nothing was changed" in again[0].message
    assert len(store.uploads()) == 1 and state(store, "placements") == before[1]
    assert one(store, "SELECT count(*) FROM ledger_placements") == [(2,)]
    # Another sheet of the same file is a different upload.
    other = store.ingest_parsed([sheet("placements", A.accepted.to_pylist()[:0], sheet_name="Second")], "hash-a")
    assert other[0].status == "loaded"
    # Once withdrawn, the same bytes load again as a new upload.
    store.withdraw(1)
    assert store.ingest_parsed([A], "hash-a")[0].upload_id == 3


def test_skipped_sheet_stores_nothing(store):
    res = store.ingest_parsed([sheet(None, skipped_reason="No column matched a dataset.", sheet_name="Read me",
                                     file_name="book.xlsx"), A], "h")
    assert [r.status for r in res] == ["skipped", "loaded"]
    assert res[0].upload_id is None and "Read me" in res[0].message
    assert len(store.uploads()) == 1


# --- withdrawal --------------------------------------------------------------------------------

ATT = [sheet("attendance", [{"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10",
                             "possible_sessions": 10, "attended_sessions": a}]) for a in (4, 6, 8)]


def test_withdrawing_the_last_upload_restores_the_state_before_it(tmp_path):
    with Store(tmp_path / "abc.duckdb") as s1, Store(tmp_path / "ab.duckdb") as s2:
        load(s1, A, B, C)
        load(s2, A, B)
        assert state(s1, "placements") != state(s2, "placements")
        msg = s1.withdraw(3, user="tester")
        assert "Upload 3" in msg and "summer.csv" in msg
        assert state(s1, "placements") == state(s2, "placements")
        up = s1.uploads()
        assert list(up["upload_id"]) == [3, 2, 1]
        assert up.loc[0, "withdrawn_by"] == "tester" and up["withdrawn_at"].notna().tolist() == [True, False, False]
        # The withdrawn rows are still in the ledger.
        assert one(s1, "SELECT count(*) FROM ledger_placements WHERE upload_id = 3") == [(1,)]


@pytest.mark.parametrize("dataset_sheets", [(A, B, C), tuple(ATT)])
def test_withdrawing_a_middle_upload_is_as_if_never_uploaded(tmp_path, dataset_sheets):
    first, middle, last = dataset_sheets
    dataset = first.dataset
    with Store(tmp_path / "abc.duckdb") as s1, Store(tmp_path / "ac.duckdb") as s2:
        load(s1, first, middle, last)
        load(s2, first, X, last)  # X (another dataset) keeps upload ids aligned
        s1.withdraw(2)
        assert state(s1, dataset) == state(s2, dataset)
    if dataset == "placements":
        # By hand: P1 first_name blank (C), end_date none (A, B withdrawn), hours 10; P2 as A.
        with Store(tmp_path / "abc.duckdb", read_only=True) as s:
            assert placements(s) == [("P1", None, None, 10.0, None, 3), ("P2", "Bob", D("2025-03-01"), 15.0, None, 1)]


def test_withdraw_errors(store):
    load(store, A)
    with pytest.raises(StoreError, match="no upload number 7"):
        store.withdraw(7)
    with pytest.raises(StoreError, match="not an upload number"):
        store.withdraw("seven")
    store.withdraw(1)
    with pytest.raises(StoreError, match="already withdrawn"):
        store.withdraw(1)
    assert store.is_empty()


# --- transactions --------------------------------------------------------------------------

def _snapshot(store):
    tables = ["uploads", "rejected_rows", "holidays"] + [f"ledger_{d}" for d in
                                                         ("placements", "attendance", "exclusions", "assessments")]
    return ({t: one(store, f"SELECT * FROM {t} ORDER BY ALL") for t in tables},
            {d: state(store, d) for d in ("placements", "attendance", "exclusions", "assessments")})


@pytest.mark.parametrize("error", [RuntimeError("disk full"), duckdb.IOException("No space left on device")])
def test_failure_midway_rolls_back_the_whole_upload(store, monkeypatch, error):
    load(store, A, ATT[0])
    before = _snapshot(store)
    real = Store._rebuild

    def failing(self, dataset, upload_id=None):
        real(self, dataset, upload_id)        # ledger rows inserted, current state rebuilt ...
        raise error                  # ... then the fault

    monkeypatch.setattr(Store, "_rebuild", failing)
    with pytest.raises((RuntimeError, StoreError)) as info:
        store.ingest_parsed([replace(B, rejected=rejected_table([(7, "Bad date.", "{}")]))], "b")
    if isinstance(error, duckdb.Error):
        assert isinstance(info.value, StoreError) and "nothing was changed" in str(info.value)
    with pytest.raises((RuntimeError, StoreError)):
        store.withdraw(1)
    assert _snapshot(store) == before
    monkeypatch.setattr(Store, "_rebuild", real)
    # The store still works, and the upload id is reused (the failed one never existed).
    assert store.ingest_parsed([B], "b")[0].upload_id == 3


# --- ledger contents ----------------------------------------------------------------------------

def test_rejected_rows_and_warnings_are_kept(store):
    original = json.dumps({"UPN": "P5", "Start": "31/02/2025"})
    sh = sheet("placements", [{"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06",
                               "warnings": "The sex 'Q' was not recognised."},
                              {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-01-06"}],
               rejects=[(4, "The start date '31/02/2025' is not a valid date.", original),
                        (6, "The pupil ID is missing.", "{}")], summary_rows=1, file_name="t.xlsx",
               sheet_name="Placements")
    res = store.ingest_parsed([sh], "h")[0]
    assert (res.status, res.accepted, res.rejected, res.warned, res.summary_rows) == ("loaded", 2, 2, 1, 1)
    assert res.message == ("t.xlsx, sheet 'Placements': loaded as placements (upload 1), 2 rows accepted, "
                           "2 rejected, 1 with warnings, 1 total row ignored.")
    assert res.rejects["row_number"].tolist() == [4, 6]
    assert res.warnings.to_dict("records") == [{"row_number": 2, "warning": "The sex 'Q' was not recognised."}]
    rej = store.rejected_rows(1)
    assert rej.to_dict("records") == [
        {"row_number": 4, "reason": "The start date '31/02/2025' is not a valid date.", "original": original},
        {"row_number": 6, "reason": "The pupil ID is missing.", "original": "{}"}]
    up = store.uploads().iloc[0]
    assert (up.rows_accepted, up.rows_rejected, up.rows_warned, up.summary_rows, up.sheet, up.dataset) == (
        2, 2, 1, 1, "Placements", "placements")
    assert up.content_hash == hashlib.sha256("h\0Placements".encode()).hexdigest()
    assert one(store, "SELECT warnings FROM ledger_placements ORDER BY row_number") == [
        ("The sex 'Q' was not recognised.",), (None,)]
    with pytest.raises(StoreError, match="no upload number 2"):
        store.rejected_rows(2)


def test_carried_columns_are_recorded(store):
    load(store, sheet("placements", [{"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-01-06",
                                      "ethnicity": "WBRI"}], carried=["pupil_id", "provider_urn", "ethnicity"]))
    carried = list(store.uploads().iloc[0]["carried"])
    # Required and key columns, declared ones, and ethnicity_group (derived from ethnicity).
    assert carried == ["pupil_id", "ethnicity", "ethnicity_group", "provider_urn", "start_date"]


# --- settings, emptiness ---------------------------------------------------------------------

def test_holidays_and_measure_directions(store):
    assert store.holidays() == [] and store.measure_directions() == {}
    store.set_holidays([D("2025-12-25"), "2025-12-24", D("2025-12-25")])
    assert store.holidays() == [D("2025-12-24"), D("2025-12-25")]
    store.set_holidays([D("2026-01-01")])
    assert store.holidays() == [D("2026-01-01")]
    store.set_measure_direction(" SDQ Total ", False)
    store.set_measure_direction("reading age", True)
    assert store.measure_directions() == {"reading age": True, "sdq total": False}
    store.set_measure_direction("sdq total", None)
    assert store.measure_directions() == {"reading age": True}


def test_is_empty(store):
    assert store.is_empty()
    load(store, A)
    assert not store.is_empty()


# --- the partial rebuild equals the full one ------------------------------------------------

def _random_sheet(rng, dataset):
    pupils = [f"P{i}" for i in range(6)]
    dates = ["2025-01-06", "2025-01-13", "2025-02-03"]
    rows = []
    for _ in range(rng.randint(1, 6)):
        if dataset == "placements":
            urn, ukprn = rng.choice([("100001", "10000001"), ("100001", None), (None, "10000001"),
                                     ("100002", None), (None, "10000003"), (None, None)])
            rows.append({"pupil_id": rng.choice(pupils), "start_date": rng.choice(dates),
                         "provider": rng.choice(["Oak", "oak ", "Elm", "Ash", None]) if (urn or ukprn)
                         else rng.choice(["Oak", "Elm", "Ash"]),
                         "provider_urn": urn, "provider_ukprn": ukprn,
                         "hours_per_week": rng.choice([None, 5.0, 10.0]), "end_date": rng.choice([None, "2025-03-01"]),
                         "setting_type": rng.choice([None, "online", "state_ap_school"]),
                         "registered": rng.choice([None, True, False])})
        else:
            rows.append({"pupil_id": rng.choice(pupils), "period_start": rng.choice(dates),
                         "period_end": rng.choice(dates), "setting": rng.choice([None, "Oak", " OAK", "Elm"]),
                         "possible_sessions": 10, "attended_sessions": rng.choice([None, 3, 7])})
    if dataset == "attendance":
        return sheet(dataset, rows)
    optional = ["provider", "provider_urn", "provider_ukprn", "hours_per_week", "end_date", "setting_type",
                "registered"]
    carried = ["pupil_id", "start_date"] + rng.sample(optional, rng.randint(0, len(optional)))
    rows = [{k: v for k, v in r.items() if k in carried} for r in rows]
    return sheet(dataset, rows, carried=carried)


@pytest.mark.parametrize("seed", range(int(os.environ.get("STORE_SEEDS", "6"))))  # more: STORE_SEEDS=40
def test_partial_rebuild_matches_full_rebuild(store, seed):
    import random
    rng = random.Random(seed)
    live = []
    for step in range(10):
        if live and rng.random() < 0.3:
            upload_id = live.pop(rng.randrange(len(live)))
            store.withdraw(upload_id)
        else:
            dataset = rng.choice(["placements", "attendance"])
            live.append(store.ingest_parsed([_random_sheet(rng, dataset)], f"{seed}-{step}")[0].upload_id)
        partial = {d: state(store, d) for d in ("placements", "attendance")}
        store.rebuild_all()
        assert {d: state(store, d) for d in ("placements", "attendance")} == partial, step


def test_two_threads_uploading_at_once_are_serialised(store):
    import threading

    sheets = [sheet("exclusions", [{"pupil_id": f"T{i}", "category": "suspension", "start_date": "2025-01-06"}])
              for i in range(6)]
    errors = []

    def go(i):
        try:
            store.ingest_parsed([sheets[i]], f"thread-{i}")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(store.uploads()["upload_id"]) == [1, 2, 3, 4, 5, 6]
    assert one(store, "SELECT count(*) FROM exclusions") == [(6,)]


def test_the_ledger_version_changes_with_every_upload_and_withdrawal(tmp_path):
    # The dashboard keys its caches on it: a duplicate upload changes nothing, so neither may it.
    with Store(tmp_path / "v.duckdb") as s:
        seen = [s.ledger_version()]
        load(s, A)
        seen.append(s.ledger_version())
        load(s, A)                       # the same sheet again: nothing stored
        assert s.ledger_version() == seen[-1]
        load(s, B)
        seen.append(s.ledger_version())
        s.withdraw(2)
        seen.append(s.ledger_version())
        load(s, B)                       # B again after its withdrawal: a new upload
        seen.append(s.ledger_version())
        assert len(set(seen)) == 5, seen


def test_upload_dates_span_each_files_event_dates_not_its_plans(store):
    # Which term a file covers, for the upload history. Worked out from the sheets above:
    # A: starts 06/01 and 03/02, P2 ended 01/03 -> 06/01..01/03. B: ends 28/03 -> 06/01..28/03.
    # A planned end date is a plan, not something that happened: D's 31/08 is not counted.
    D_ = sheet("placements", [{"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-04-22",
                               "planned_end_date": "2025-08-31", "last_review_date": "2025-05-19"}],
               file_name="d.csv")
    att = sheet("attendance", [{"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10",
                                "possible_sessions": 10, "attended_sessions": 8},
                               {"pupil_id": "P1", "period_start": "2025-01-13", "period_end": "2025-01-17",
                                "possible_sessions": 10, "attended_sessions": 9}], file_name="att.csv")
    load(store, A, B, X, D_, att)
    store.remove_records("placements", store.records_of("P3")["placements"]["record_id"], "Sent in error")
    store.withdraw(2)
    got = {r.upload_id: (r.first_date.date(), r.latest_date.date()) for r in store.upload_dates().itertuples()}
    assert got == {1: (D("2025-01-06"), D("2025-03-01")),
                   2: (D("2025-01-06"), D("2025-03-28")),   # withdrawn: still says what it held
                   3: (D("2025-01-07"), D("2025-01-07")),
                   4: (D("2025-04-22"), D("2025-05-19")),
                   5: (D("2025-01-06"), D("2025-01-17"))}   # upload 6, the removal, has none


def test_a_new_database_and_its_case_key_are_readable_by_their_owner_only(tmp_path, monkeypatch):
    # A data protection review found ap.duckdb and case_key readable by every account on the
    # server; with case_key, case numbers can be turned back into UPNs.
    import stat

    from views import _state as S
    db = tmp_path / "data" / "ap.duckdb"
    Store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    monkeypatch.setenv("AP_DB", str(db))
    key = S._case_key()
    assert (db.parent / "case_key").read_bytes() == key and len(key) == 32
    assert stat.S_IMODE((db.parent / "case_key").stat().st_mode) == 0o600
    assert S._case_key() == key   # read back, not made again
