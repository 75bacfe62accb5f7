"""Store.preview_changes: what loading a sheet would change, worked out by applying it inside a
transaction that is rolled back.

Every expected value is worked out by hand from data-spec §6 (a record is the same when its key
matches; the newest upload wins for every column it carries, blanks included; a column it does
not carry keeps its value; display text and provider identifiers are the newest non-blank) and
from the store's derivations (registered is true with a URN). The reasoning is beside each case.
Pupils are local IDs (P1, P2, ...): no real UPNs.
"""
from __future__ import annotations

import hashlib
import threading
from datetime import date

import pyarrow as pa
import pytest

from analytics.store import ColumnChange, Store
from tests.test_store_helpers import FakeSheet, one, rejected_table, sheet

D = date.fromisoformat
TABLES = ("uploads", "rejected_rows", "ledger_placements", "ledger_attendance", "ledger_exclusions",
          "ledger_assessments", "placements", "attendance", "exclusions", "assessments", "school_rolls",
          "holidays", "measure_directions", "settings_changes", "schema_version", "upload_actions")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ap.duckdb")
    yield s
    s.close()


def load(store, sh, name=None):
    return store.ingest_parsed([sh], hashlib.sha256((name or repr(id(sh))).encode()).hexdigest())


def columns(pv) -> dict[str, tuple[int, int, int]]:
    return {c.column: (c.cleared, c.filled, c.altered) for c in pv.columns}


# Autumn: three open placements, hours and destination carried (destination blank).
AUTUMN = sheet("placements", [
    {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": None,
     "hours_per_week": 25.0, "destination": None, "last_review_date": "2025-10-14"},
    {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-09-08", "end_date": None,
     "hours_per_week": 10.0, "destination": None, "last_review_date": None},
    {"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-09-15", "end_date": None,
     "hours_per_week": 12.0, "destination": None, "last_review_date": None},
], file_name="autumn.csv")


def test_a_later_file_that_clears_end_dates(store):
    # Stored: P1 ended 19/12/2025 (mainstream), P2 ended 05/12/2025 (special), P3 open.
    load(store, AUTUMN, "a")
    load(store, sheet("placements", [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": "2025-12-19",
         "destination": "mainstream"},
        {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-09-08", "end_date": "2025-12-05",
         "destination": "special"},
    ], file_name="december.csv"), "b")
    # The spring file (end_date and destination carried) leaves both blank for P1 and P2: they
    # were ended by mistake. P3 is repeated as it is stored (open, no destination); P4 is new.
    spring = sheet("placements", [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": None,
         "destination": None},
        {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-09-08", "end_date": None,
         "destination": None},
        {"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-09-15", "end_date": None,
         "destination": None},
        {"pupil_id": "P4", "provider_urn": "100001", "start_date": "2026-01-12", "end_date": None,
         "destination": None},
    ], file_name="spring.csv")
    pv = store.preview_changes(spring)
    assert pv.dataset == "placements" and pv.duplicate_of is None
    assert (pv.changed, pv.added, pv.merged) == (2, 1, 0)
    # two end dates and two destinations cleared; hours are not carried, so kept
    assert columns(pv) == {"end_date": (2, 0, 0), "destination": (2, 0, 0)}
    assert [(e.pupil_id, e.when, e.what, e.changes) for e in pv.examples] == [
        ("P1", D("2025-09-01"), None, (("end_date", D("2025-12-19"), None), ("destination", "mainstream", None))),
        ("P2", D("2025-09-08"), None, (("end_date", D("2025-12-05"), None), ("destination", "special", None))),
    ]
    # the file's newest date (P4's start, 12/01/2026) is later than any the changed records hold
    # (P1's end, 19/12/2025): a newer file, so no warning about its age
    assert (pv.newest_in_file, pv.newest_in_changed) == (D("2026-01-12"), D("2025-12-19"))
    assert not pv.older_than_stored


def test_an_older_file_again_reopens_what_a_newer_one_closed_and_says_it_is_older(store):
    load(store, AUTUMN, "a")
    # Spring ends P1 (16/01/2026, mainstream, reviewed 10/01/2026) and P3 (19/12/2025, moved away);
    # it carries hours, and leaves P2's blank.
    load(store, sheet("placements", [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": "2026-01-16",
         "hours_per_week": 25.0, "destination": "moved_away", "last_review_date": "2026-01-10"},
        {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-09-08", "end_date": None,
         "hours_per_week": None, "destination": None, "last_review_date": None},
        {"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-09-15", "end_date": "2025-12-19",
         "hours_per_week": 12.0, "destination": "moved_away", "last_review_date": None},
    ], file_name="spring.csv"), "s")
    # The autumn file again, corrected: P3's hours 15 and a new P5.
    corrected = sheet("placements", AUTUMN_ROWS_CORRECTED, file_name="autumn corrected.csv")
    pv = store.preview_changes(corrected)
    # P1: end date cleared, destination cleared, last review 10/01/2026 -> 14/10/2025;
    # P2: hours blank -> 10 (filled in); P3: end date and destination cleared, hours 12 -> 15.
    assert (pv.changed, pv.added, pv.merged) == (3, 1, 0)
    assert columns(pv) == {"end_date": (2, 0, 0), "destination": (2, 0, 0), "hours_per_week": (0, 1, 1),
                           "last_review_date": (0, 0, 1)}
    assert {e.pupil_id: e.changes for e in pv.examples} == {
        "P1": (("end_date", D("2026-01-16"), None), ("last_review_date", D("2026-01-10"), D("2025-10-14")),
               ("destination", "moved_away", None)),
        "P2": (("hours_per_week", None, 10.0),),
        "P3": (("end_date", D("2025-12-19"), None), ("hours_per_week", 12.0, 15.0),
               ("destination", "moved_away", None)),
    }
    # newest in the file: P5's start, 03/11/2025; in the records it changes: P1's end, 16/01/2026
    assert (pv.newest_in_file, pv.newest_in_changed) == (D("2025-11-03"), D("2026-01-16"))
    assert pv.older_than_stored
    # the rows to delete from it before loading: P1, P2 and P3 are its rows 2, 3 and 4 (headings
    # on row 1); P5 (row 5) only adds
    assert pv.changed_rows == (2, 3, 4)


AUTUMN_ROWS_CORRECTED = [
    {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": None,
     "hours_per_week": 25.0, "destination": None, "last_review_date": "2025-10-14"},
    {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-09-08", "end_date": None,
     "hours_per_week": 10.0, "destination": None, "last_review_date": None},
    {"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-09-15", "end_date": None,
     "hours_per_week": 15.0, "destination": None, "last_review_date": None},
    {"pupil_id": "P5", "provider_urn": "100001", "start_date": "2025-11-03", "end_date": None,
     "hours_per_week": 10.0, "destination": None, "last_review_date": None},
]


def test_a_file_that_only_adds(store):
    load(store, AUTUMN, "a")
    pv = store.preview_changes(sheet("placements", [
        {"pupil_id": "P7", "provider_urn": "100001", "start_date": "2026-01-05", "hours_per_week": 20.0},
        {"pupil_id": "P8", "provider_urn": "100001", "start_date": "2026-01-06", "hours_per_week": 20.0},
        # P1 again, at another provider: another placement (the key differs), so added too
        {"pupil_id": "P1", "provider_urn": "100002", "start_date": "2025-09-01", "hours_per_week": 20.0},
    ]))
    assert (pv.changed, pv.added, pv.merged) == (0, 3, 0)
    assert pv.columns == () and pv.examples == ()
    assert pv.newest_in_changed is None and not pv.older_than_stored


def test_into_an_empty_store_everything_is_added(store):
    pv = store.preview_changes(AUTUMN)
    assert (pv.changed, pv.added, pv.merged) == (0, 3, 0)


def test_a_file_identical_in_content_changes_nothing(store):
    load(store, AUTUMN, "a")
    # the same rows in another file (other bytes, another name, rows in another order)
    again = sheet("placements", list(reversed(AUTUMN_ROWS_CORRECTED[:2])) + [
        {"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-09-15", "end_date": None,
         "hours_per_week": 12.0, "destination": None, "last_review_date": None}], file_name="copy.csv")
    pv = store.preview_changes(again)
    assert (pv.changed, pv.added, pv.merged, pv.columns) == (0, 0, 0, ())
    assert pv.duplicate_of is None


def test_the_same_bytes_again_are_a_duplicate(store):
    file_hash = hashlib.sha256(b"autumn bytes").hexdigest()
    [loaded] = store.ingest_parsed([AUTUMN], file_hash)
    pv = store.preview_changes(AUTUMN, file_hash)
    assert pv.duplicate_of == loaded.upload_id == 1
    assert (pv.changed, pv.added) == (0, 0)


def test_a_dropped_column_changes_nothing_in_it(store):
    load(store, AUTUMN, "a")
    # No hours column: P1..P3's hours (25, 10, 12) stay. The end date is carried: P2 ends.
    pv = store.preview_changes(sheet("placements", [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": None},
        {"pupil_id": "P2", "provider_urn": "100001", "start_date": "2025-09-08", "end_date": "2025-12-12"},
        {"pupil_id": "P3", "provider_urn": "100001", "start_date": "2025-09-15", "end_date": None},
    ]))
    assert (pv.changed, pv.added) == (1, 0)
    assert columns(pv) == {"end_date": (0, 1, 0)}
    # with nothing but the key: nothing changes at all
    pv = store.preview_changes(sheet("placements", [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01"}]))
    assert (pv.changed, pv.added, pv.columns) == (0, 0, ())


def test_a_placement_whose_provider_gets_a_urn_is_changed_not_removed_and_added(store):
    # P1 at "Oak PRU" with no URN: keyed by the name, registered unknown (no URN, no type).
    load(store, sheet("placements", [{"pupil_id": "P1", "provider": "Oak PRU", "start_date": "2025-09-01"}]), "a")
    # A file naming Oak PRU with URN 100001 (for P2) ties the name to the URN: P1's placement is
    # now keyed by 100001, with provider_urn 100001 and registered true; P2 is new.
    pv = store.preview_changes(sheet("placements", [
        {"pupil_id": "P2", "provider": "Oak PRU", "provider_urn": "100001", "start_date": "2025-10-01"}]))
    assert (pv.changed, pv.added, pv.merged) == (1, 1, 0)
    assert columns(pv) == {"provider_urn": (0, 1, 0), "registered": (0, 1, 0)}
    [ex] = pv.examples
    assert (ex.pupil_id, ex.what, ex.changes) == (
        "P1", "Oak PRU", (("provider_urn", None, "100001"), ("registered", None, True)))


def test_two_records_that_become_one_are_reported_as_merged(store):
    # P1 stored twice for one start date: by the name "Oak PRU" (upload 1) and by URN 100001
    # with no name (upload 2): two keys, two records.
    load(store, sheet("placements", [{"pupil_id": "P1", "provider": "Oak PRU", "start_date": "2025-09-01"}]), "a")
    load(store, sheet("placements", [{"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01"}]), "b")
    assert one(store, "SELECT count(*) FROM placements WHERE pupil_id = 'P1'") == [(2,)]
    # Tying Oak PRU to 100001 (through P9's row) folds the name-keyed record into the URN one,
    # which gains the provider name (the newest non-blank, from upload 1). P9 is new.
    pv = store.preview_changes(sheet("placements", [
        {"pupil_id": "P9", "provider": "Oak PRU", "provider_urn": "100001", "start_date": "2025-10-01"}]))
    assert (pv.changed, pv.added, pv.merged) == (1, 1, 1)
    assert columns(pv) == {"provider": (0, 1, 0)}


def test_other_datasets_compare_by_their_own_keys(store):
    load(store, sheet("attendance", [
        {"pupil_id": "P1", "period_start": "2025-09-15", "period_end": "2025-09-19", "possible_sessions": 10.0,
         "attended_sessions": 8.0, "setting": "Oak PRU"},
        {"pupil_id": "P1", "period_start": "2025-09-22", "period_end": "2025-09-26", "possible_sessions": 10.0,
         "attended_sessions": 9.0, "setting": "Oak PRU"}]), "a")
    # week 1 corrected (8 -> 6 attended; the setting's case is display text, the key folds it);
    # week 2 repeated; week 3 new
    pv = store.preview_changes(sheet("attendance", [
        {"pupil_id": "P1", "period_start": "2025-09-15", "period_end": "2025-09-19", "possible_sessions": 10.0,
         "attended_sessions": 6.0, "setting": "Oak PRU"},
        {"pupil_id": "P1", "period_start": "2025-09-22", "period_end": "2025-09-26", "possible_sessions": 10.0,
         "attended_sessions": 9.0, "setting": "oak pru"},
        {"pupil_id": "P1", "period_start": "2025-09-29", "period_end": "2025-10-03", "possible_sessions": 10.0,
         "attended_sessions": 10.0, "setting": "Oak PRU"}]))
    # week 2's setting text becomes "oak pru" (newest non-blank display text): a change too
    assert (pv.changed, pv.added) == (2, 1)
    assert columns(pv) == {"attended_sessions": (0, 0, 1), "setting": (0, 0, 1)}
    assert [(e.when, e.changes) for e in pv.examples] == [
        (D("2025-09-15"), (("attended_sessions", 8.0, 6.0),)),
        (D("2025-09-22"), (("setting", "Oak PRU", "oak pru"),))]


def test_a_skipped_sheet_previews_nothing(store):
    pv = store.preview_changes(sheet(None, skipped_reason="Read me"))
    assert pv.dataset is None and (pv.changed, pv.added) == (0, 0)


# --- nothing left behind -------------------------------------------------------------------


def _everything(store) -> dict[str, list]:
    return {t: sorted(map(repr, one(store, f"SELECT * FROM {t}"))) for t in TABLES}


def _big_attendance(n: int) -> FakeSheet:
    """n weekly attendance rows, built as Arrow directly (more than one DuckDB row group, 122,880
    rows, so that DuckDB would write the rows to the file before commit if let)."""
    weeks = pa.array([date(2020, 1, 6).toordinal() + 7 * (i % 200) for i in range(n)])
    starts = pa.array([date.fromordinal(d) for d in weeks.to_pylist()], type=pa.date32())
    table = pa.table({
        "pupil_id": pa.array([f"P{i // 200}" for i in range(n)]), "period_start": starts,
        "period_end": starts, "possible_sessions": pa.array([10.0] * n), "attended_sessions": pa.array([9.0] * n),
        "setting": pa.array(["Oak PRU"] * n), "row_number": pa.array(range(2, n + 2), type=pa.int64()),
        "warnings": pa.array([None] * n, type=pa.string())})
    carried = ["pupil_id", "period_start", "period_end", "possible_sessions", "attended_sessions", "setting"]
    return FakeSheet("big.csv", None, "attendance", None, 1, {c: c for c in carried}, [], carried, table,
                     rejected_table([(5, "bad", "{}")]))


def test_a_preview_leaves_the_store_row_for_row_and_byte_for_byte_as_it_was(store, tmp_path):
    load(store, AUTUMN, "a")
    load(store, sheet("exclusions", [{"pupil_id": "P1", "category": "suspension", "start_date": "2025-10-01"}],
                      rejects=[(3, "no date", "{}")]), "x")
    store.con.execute("CHECKPOINT")
    path = tmp_path / "ap.duckdb"
    before_rows, before_bytes = _everything(store), path.read_bytes()
    wal = tmp_path / "ap.duckdb.wal"
    wal_before = wal.read_bytes() if wal.exists() else None
    optimistic = one(store, "SELECT current_setting('enable_optimistic_write')")

    store.preview_changes(sheet("placements", AUTUMN_ROWS_CORRECTED, rejects=[(9, "bad date", "{}")]))
    store.preview_changes(_big_attendance(130_000))

    assert _everything(store) == before_rows
    assert one(store, "SELECT count(*) FROM duckdb_tables() WHERE temporary") == [(0,)]
    assert one(store, "SELECT current_setting('enable_optimistic_write')") == optimistic
    assert path.read_bytes() == before_bytes
    assert (wal.read_bytes() if wal.exists() else None) == wal_before
    # and the next load is numbered as if no preview had happened
    [r] = load(store, sheet("placements", AUTUMN_ROWS_CORRECTED), "c")
    assert r.upload_id == 3


def test_a_concurrent_reader_sees_nothing_of_a_preview(store, monkeypatch):
    load(store, AUTUMN, "a")
    committed = (one(store, "SELECT count(*) FROM uploads"), one(store, "SELECT count(*) FROM placements"),
                 one(store, "SELECT hours_per_week FROM placements WHERE pupil_id = 'P3'"))
    assert committed == ([(1,)], [(3,)], [(12.0,)])
    seen = {}
    mid_preview, read_done = threading.Event(), threading.Event()

    def reader():
        mid_preview.wait(30)
        cur = store.con.cursor()   # a connection of its own, as the dashboard's readers use
        try:
            seen["reader"] = tuple(cur.execute(sql).fetchall() for sql in (
                "SELECT count(*) FROM uploads", "SELECT count(*) FROM placements",
                "SELECT hours_per_week FROM placements WHERE pupil_id = 'P3'"))
        finally:
            cur.close()
            read_done.set()

    rebuild = Store._rebuild

    def rebuild_then_wait(self, dataset, upload_id=None):
        rebuild(self, dataset, upload_id)
        # the preview's own transaction sees the upload applied: 2 uploads, P5 added, P3 at 15 hours
        seen["writer"] = tuple(self._w.execute(sql).fetchall() for sql in (
            "SELECT count(*) FROM uploads", "SELECT count(*) FROM placements",
            "SELECT hours_per_week FROM placements WHERE pupil_id = 'P3'"))
        mid_preview.set()
        assert read_done.wait(30)

    monkeypatch.setattr(Store, "_rebuild", rebuild_then_wait)
    t = threading.Thread(target=reader)
    t.start()
    pv = store.preview_changes(sheet("placements", AUTUMN_ROWS_CORRECTED))
    t.join(30)
    assert seen["writer"] == ([(2,)], [(4,)], [(15.0,)])
    assert seen["reader"] == committed
    assert (pv.changed, pv.added) == (1, 1) and columns(pv) == {"hours_per_week": (0, 0, 1)}
    assert (one(store, "SELECT count(*) FROM uploads"), one(store, "SELECT count(*) FROM placements")) == committed[:2]


def test_a_read_only_store_cannot_preview(tmp_path):
    Store(tmp_path / "ap.duckdb").close()
    ro = Store(tmp_path / "ap.duckdb", read_only=True)
    try:
        from analytics.errors import StoreError
        with pytest.raises(StoreError):
            ro.preview_changes(AUTUMN)
    finally:
        ro.close()


def test_column_change_defaults():
    assert ColumnChange("end_date") == ColumnChange("end_date", 0, 0, 0)


SPRING = sheet("placements", [
    {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": "2025-12-19",
     "hours_per_week": 25.0, "destination": "mainstream", "last_review_date": "2025-10-14"},
    {"pupil_id": "P4", "provider_urn": "100001", "start_date": "2026-01-05", "hours_per_week": 25.0},
], file_name="spring.csv")
SUMMER = sheet("placements", [
    {"pupil_id": "P4", "provider_urn": "100001", "start_date": "2026-01-05", "end_date": "2026-07-17",
     "hours_per_week": 25.0, "destination": "special"},
], file_name="summer.csv")
ATTENDANCE = sheet("attendance", [
    {"pupil_id": "P1", "period_start": "2025-09-01", "period_end": "2025-09-05", "possible_sessions": 10,
     "attended_sessions": 9}], file_name="att.csv")


def test_a_preview_after_the_files_ahead_of_it_in_a_batch(store):
    # Autumn and a spring file in one batch on an empty store: spring alone would add both of its
    # placements; after autumn (applied first, then rolled back with it) P1 gains an end date and
    # a destination and P4 is added. An attendance sheet ahead of it cannot change placements.
    spring = SPRING
    attendance = sheet("attendance", [
        {"pupil_id": "P1", "period_start": "2025-09-01", "period_end": "2025-09-05", "possible_sessions": 10,
         "attended_sessions": 9}], file_name="att.csv")
    alone = store.preview_changes(spring)
    assert (alone.changed, alone.added) == (0, 2)
    pv = store.preview_changes(spring, before=[(attendance, None), (AUTUMN, None)])
    assert (pv.changed, pv.added, pv.merged) == (1, 1, 0)
    assert columns(pv) == {"end_date": (0, 1, 0), "destination": (0, 1, 0)}
    assert one(store, "SELECT count(*) FROM uploads") == [(0,)]
    assert one(store, "SELECT count(*) FROM placements") == [(0,)]


def test_an_ethnicity_code_written_as_its_label_is_not_a_change(store):
    # A reviewer's spring file had 'White - White British' where autumn had 'WBRI': "ethnicity
    # changed on 59" buried the 23 end dates it filled in. Only the group is ever shown, and
    # it is the same; a change of group is still a change.
    base = {"provider_urn": "100001", "start_date": "2025-09-01", "hours_per_week": 25.0}
    # (ingest derives the group: vocab.ETHNICITY_GROUP; these sheets carry it as ingest would)
    white, black = "White", "Black / African / Caribbean / Black British"
    load(store, sheet("placements", [{"pupil_id": "P1", "ethnicity": "WBRI", "ethnicity_group": white, **base},
                                     {"pupil_id": "P2", "ethnicity": "WBRI", "ethnicity_group": white, **base}]), "a")
    pv = store.preview_changes(sheet("placements", [
        {"pupil_id": "P1", "ethnicity": "White - White British", "ethnicity_group": white, **base},   # same group
        {"pupil_id": "P2", "ethnicity": "Black - Black African", "ethnicity_group": black, **base}]))  # changed
    assert (pv.changed, pv.added) == (1, 0)
    assert columns(pv) == {"ethnicity_group": (0, 0, 1)}


# -- a whole batch at once (Store.preview_batch) --------------------------------------------------

def test_a_batch_preview_is_each_sheet_after_the_ones_ahead_of_it(store):
    # Worked out by hand on an empty store, in load order:
    # autumn adds P1-P3; the attendance sheet adds its one week; spring, after autumn, closes P1
    # (end date and destination filled in) and adds P4; summer, after spring, closes P4 (end date
    # and destination filled in) and adds nothing.
    items = [(AUTUMN, None), (ATTENDANCE, None), (SPRING, None), (SUMMER, None)]
    pvs = store.preview_batch(items)
    assert [(p.dataset, p.added, p.changed, p.merged) for p in pvs] == [
        ("placements", 3, 0, 0), ("attendance", 1, 0, 0), ("placements", 1, 1, 0), ("placements", 0, 1, 0)]
    assert columns(pvs[2]) == {"end_date": (0, 1, 0), "destination": (0, 1, 0)}
    assert columns(pvs[3]) == {"end_date": (0, 1, 0), "destination": (0, 1, 0)}
    # the same as one preview per sheet with the sheets ahead of it (the definition)
    for i, pv in enumerate(pvs):
        assert pv == store.preview_changes(*items[i], before=items[:i])
    # and nothing stays
    assert one(store, "SELECT count(*) FROM uploads") == [(0,)]
    assert one(store, "SELECT count(*) FROM placements") == [(0,)]


def test_a_batch_applies_each_sheet_once_and_only_as_far_as_it_must(store, monkeypatch):
    # k sheets cost k applications (one preview per sheet with the sheets ahead of it applied
    # again would cost k(k+1)/2 = 10 for four placement sheets); sheets after the last wanted one
    # of their dataset are not applied at all.
    calls = []
    real = Store._write_sheet

    def counting(self, sh, *a, **kw):
        calls.append(sh.file_name)
        return real(self, sh, *a, **kw)

    monkeypatch.setattr(Store, "_write_sheet", counting)
    autumn_again = sheet("placements", [{k: v for k, v in r.items() if k not in ("row_number", "warnings")}
                                          for r in AUTUMN.accepted.to_pylist()], file_name="autumn-copy.csv")
    items = [(AUTUMN, None), (SPRING, None), (SUMMER, None), (autumn_again, None)]
    store.preview_batch(items)
    assert calls == ["autumn.csv", "spring.csv", "summer.csv", "autumn-copy.csv"]
    calls.clear()
    pvs = store.preview_batch(items, wanted=[1])
    assert calls == ["autumn.csv", "spring.csv"]
    assert pvs[0] is None and pvs[2] is None and pvs[3] is None
    assert (pvs[1].added, pvs[1].changed) == (1, 1)


def test_a_batch_reports_its_progress_and_a_duplicate_within_it(store):
    # The same file's bytes twice in one batch: the second is a duplicate of the first (applied
    # ahead of it in the rolled-back transaction), as a load would find.
    seen = []
    h = hashlib.sha256(b"autumn").hexdigest()
    pvs = store.preview_batch([(AUTUMN, h), (SPRING, None), (AUTUMN, h)],
                              progress=lambda f, m: seen.append((round(f, 3), m)))
    assert pvs[2].duplicate_of is not None and pvs[0].duplicate_of is None
    assert seen == [(0.333, "Checked 1 of 3 sheets"), (0.667, "Checked 2 of 3 sheets"),
                    (1.0, "Checked 3 of 3 sheets")]


# -- a start date corrected: two open placements at one provider (Store._two_open) -------------

def test_a_corrected_start_date_says_the_old_placement_stays_open(store):
    # A reviewer re-sent an open placement with its start date a day later: "will add 1
    # placement and change none", and afterwards the pupil had two open placements at Ashbeck.
    # The start date is part of the key (data-spec §6), so the old record stays open.
    load(store, AUTUMN)                                              # P1 from 01/09/2025, open
    moved = sheet("placements", [
        {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-02", "hours_per_week": 25.0},
        {"pupil_id": "P9", "provider_urn": "100001", "start_date": "2025-09-02", "hours_per_week": 25.0},
    ], file_name="autumn fixed.csv")
    pv = store.preview_changes(moved)
    assert (pv.added, pv.changed) == (2, 0)
    assert pv.two_open is not None and pv.two_open.startswith(
        "1 pupil would have two open placements at the same provider: row 2 of this sheet and a placement "
        "already stored.")
    assert "the start date is part of every record" in pv.two_open
    [r] = load(store, moved, "fixed")
    assert r.warnings["warning"].tolist() == [pv.two_open]
    assert one(store, "SELECT count(*) FROM placements WHERE pupil_id = 'P1' AND end_date IS NULL") == [(2,)]


@pytest.mark.parametrize("rows, why", [
    ([{"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-01", "end_date": "2025-09-01"},
      {"pupil_id": "P1", "provider_urn": "100001", "start_date": "2025-09-02"}],
     "the old placement closed in the same file"),
    ([{"pupil_id": "P1", "provider_urn": "100002", "start_date": "2025-09-02"}], "another provider"),
    ([{"pupil_id": "P7", "provider_urn": "100001", "start_date": "2025-09-02"},
      {"pupil_id": "P7", "provider_urn": "100001", "start_date": "2025-10-06"}],
     "two open placements there, both written in this one file"),
])
def test_no_two_open_notice(store, rows, why):
    load(store, AUTUMN)
    assert store.preview_changes(sheet("placements", rows)).two_open is None, why


def test_a_provider_renamed_without_a_urn_says_the_old_placement_stays_open(store):
    # A three-year review: a provider with no URN was renamed between terms; the placement under
    # the old name stayed open for ever and the case list chased a child who had left, while the
    # Upload page said only "will add 64 placements".
    load(store, sheet("placements", [
        {"pupil_id": "P1", "provider": "Riverside Hub", "start_date": "2025-01-06"},
        {"pupil_id": "P2", "provider": "Riverside Hub", "start_date": "2025-01-13", "end_date": "2025-02-28"},
        {"pupil_id": "P3", "provider": "Oak House", "provider_urn": "100001", "start_date": "2025-01-06"},
    ]), "autumn")
    renamed = sheet("placements", [
        {"pupil_id": "P1", "provider": "Riverside Hub Ltd", "start_date": "2025-01-06", "end_date": "2025-03-28"},
        {"pupil_id": "P2", "provider": "Riverside Hub Ltd", "start_date": "2025-01-13", "end_date": "2025-02-28"},
        {"pupil_id": "P3", "provider": "Oak House School", "provider_urn": "100001", "start_date": "2025-01-06"},
    ], file_name="spring.csv")
    pv = store.preview_changes(renamed)
    # by hand: P1's old record is open under "riverside hub" (row 2 here); P2's old one ended;
    # P3 keeps its URN, so the new name is the same record
    assert pv.two_open is not None and pv.two_open.startswith(
        "1 pupil has a placement starting on the same day under another provider, still open: row 2 of this "
        "sheet and placements already stored.")
    [r] = load(store, renamed, "spring")
    assert r.warnings["warning"].tolist() == [pv.two_open]
    assert one(store, "SELECT pupil_id, provider_key, end_date IS NULL FROM placements ORDER BY 1, 2") == [
        ("P1", "riverside hub", True), ("P1", "riverside hub ltd", False), ("P2", "riverside hub", False),
        ("P2", "riverside hub ltd", False), ("P3", "100001", True)]
