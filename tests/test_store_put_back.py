"""Undoing a withdrawal (Store.put_back), and the store as a backup copy would see it.

A withdrawal made by mistake used to be undoable only by loading the file again, which made it
the newest upload: a spring file put back after the summer one then overruled summer's end
dates. Putting back keeps the upload in its own place in the history, so the state is the one
before the withdrawal, table for table.
"""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from analytics import store as store_mod
from analytics.errors import StoreError
from analytics.store import MIGRATIONS, Store
from tests.test_store_helpers import one, sheet, state

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "files"
OAK = {"provider": "Oak Tuition", "provider_urn": "100001", "setting_type": "one_to_one_tuition"}
DATASETS = ("placements", "attendance", "exclusions", "assessments")


def pl(pupil, start, end=None, **cols):
    return {"pupil_id": pupil, "start_date": start, "end_date": end, **OAK, **cols}


def everything(s) -> dict:
    return {d: state(s, d) for d in DATASETS}


@pytest.fixture
def s(tmp_path):
    with Store(tmp_path / "ap.duckdb") as store:
        yield store


def test_an_older_upload_put_back_keeps_its_place_so_the_newer_file_still_wins(s):
    # spring says open; summer (newer) ends it. Withdraw spring by mistake and put it back:
    # the placement is ended again (summer outranks spring), not reopened as a re-load would.
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06"), pl("P2", "2025-02-03")],
                           file_name="spring.csv")], "spring")
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06", "2025-07-18")], file_name="summer.csv")], "summer")
    before = state(s, "placements")
    assert one(s, "SELECT pupil_id, end_date FROM placements ORDER BY 1") == [
        ("P1", date(2025, 7, 18)), ("P2", None)]

    s.withdraw(1, user="officer")
    assert one(s, "SELECT pupil_id, end_date FROM placements ORDER BY 1") == [("P1", date(2025, 7, 18))]
    message = s.put_back(1, user="officer")
    assert message == ("Upload 1 (spring.csv, placements) was put back: the figures are as if it had never "
                       "been withdrawn.")
    assert state(s, "placements") == before
    # the log keeps both steps; the ledger shows it live, put back
    assert one(s, "SELECT upload_id, action, user_name FROM upload_actions ORDER BY acted_at") == [
        (1, "withdrawn", "officer"), (1, "put back", "officer")]
    ledger = s.uploads().set_index("upload_id")
    assert ledger.loc[1, "withdrawn_at"] is None or ledger.loc[1, "withdrawn_at"] != ledger.loc[1, "withdrawn_at"]
    assert ledger.loc[1, "put_back_at"] is not None and ledger.loc[2, "put_back_at"] != ledger.loc[2, "put_back_at"]


def test_a_put_back_file_does_not_bring_back_records_removed_by_hand_after_it(s):
    # the file sent a mistyped record; it was removed by hand; the file was then withdrawn and
    # put back. The removal came after the file, so the record stays removed.
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06"), pl("P9", "2025-01-06")])], "autumn")
    rid = s.records_of("P9")["placements"]["record_id"].tolist()
    s.remove_records("placements", rid, "Mistyped UPN")
    assert one(s, "SELECT pupil_id FROM placements") == [("P1",)]
    s.withdraw(1)
    assert one(s, "SELECT count(*) FROM placements") == [(0,)]
    s.put_back(1)
    assert one(s, "SELECT pupil_id FROM placements") == [("P1",)]
    # and the removal itself can be withdrawn and put back like any upload
    s.withdraw(2)
    assert one(s, "SELECT pupil_id FROM placements ORDER BY 1") == [("P1",), ("P9",)]
    assert "removed again" in s.put_back(2)
    assert one(s, "SELECT pupil_id FROM placements") == [("P1",)]


def test_the_whole_sample_comes_back_table_for_table_and_agrees_with_a_full_rebuild(tmp_path):
    with Store(tmp_path / "ap.duckdb") as s:
        for f in sorted(SAMPLE.glob("*.csv")):
            s.ingest_file(f)
        before = everything(s)
        ledger = s.uploads()
        # one upload of each dataset from the middle of the history (not the newest)
        middle = [int(ledger.loc[ledger["dataset"] == d, "upload_id"].iloc[2]) for d in DATASETS]
        for uid in middle:
            s.withdraw(uid)
        assert everything(s) != before
        for uid in reversed(middle):
            s.put_back(uid)
        assert everything(s) == before
        s.rebuild_all()
        assert everything(s) == before


def test_putting_back_is_refused_when_live_or_when_the_same_file_was_loaded_again(s):
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")], file_name="spring.csv")], "spring")
    with pytest.raises(StoreError, match="Upload 1 is live: it has not been withdrawn"):
        s.put_back(1)
    s.withdraw(1)
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")], file_name="spring.csv")], "spring")
    with pytest.raises(StoreError, match="the same file was loaded again as upload 2, which is live"):
        s.put_back(1)
    with pytest.raises(StoreError, match="There is no upload number 7"):
        s.put_back(7)
    assert one(s, "SELECT upload_id, withdrawn_at IS NULL FROM uploads ORDER BY 1") == [(1, False), (2, True)]


def test_a_schema_4_file_keeps_its_withdrawals_in_the_new_log(tmp_path, monkeypatch):
    path = tmp_path / "ap.duckdb"
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS[:4])
    with Store(path) as s:
        s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")])], "a")
        s.ingest_parsed([sheet("placements", [pl("P2", "2025-01-06")])], "b")
        s.con.execute("UPDATE uploads SET withdrawn_at = TIMESTAMP '2025-03-01 10:00', withdrawn_by = 'officer' "
                      "WHERE upload_id = 1")
        s.rebuild_all()
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    with Store(path) as s:
        assert s.schema_version() == MIGRATIONS[-1][0]
        assert one(s, "SELECT upload_id, action, acted_at, user_name FROM upload_actions") == [
            (1, "withdrawn", __import__("datetime").datetime(2025, 3, 1, 10, 0), "officer")]
        s.put_back(1)
        assert one(s, "SELECT pupil_id FROM placements ORDER BY 1") == [("P1",), ("P2",)]


def test_a_copy_of_the_file_taken_while_the_store_is_open_holds_the_last_upload(tmp_path):
    # An LA's backup copied ap.duckdb while the dashboard ran: DuckDB kept the last uploads in
    # ap.duckdb.wal, so the copy silently lacked them. Each change is now written into the file.
    path = tmp_path / "ap.duckdb"
    with Store(path) as s:
        s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")])], "a")
        s.ingest_parsed([sheet("placements", [pl("P2", "2025-01-06")])], "b")
        s.withdraw(1)
        copy = tmp_path / "backup.duckdb"
        shutil.copyfile(path, copy)          # the .wal is not copied, as a plain backup would not
        with Store(copy) as b:
            assert one(b, "SELECT upload_id, withdrawn_at IS NULL FROM uploads ORDER BY 1") == [(1, False), (2, True)]
            assert one(b, "SELECT pupil_id FROM placements") == [("P2",)]
