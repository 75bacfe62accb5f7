"""Schema version and migrations; opening errors (locked, read-only, newer file); ingest_file end to end."""
from __future__ import annotations

import duckdb
import pytest

from analytics import store as store_mod
from analytics.errors import IngestError, StoreError
from analytics.store import MIGRATIONS, Store
from tests.test_store_helpers import held_by_another_process, one, sheet

TABLES = {"schema_version", "uploads", "rejected_rows", "holidays", "measure_directions", "school_rolls",
          "settings_changes", "upload_actions", "access_log",
          "placements", "attendance", "exclusions", "assessments",
          "ledger_placements", "ledger_attendance", "ledger_exclusions", "ledger_assessments"}


def tables(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'main'").fetchall()}


def test_new_file_gets_the_latest_schema_and_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "ap.duckdb"
    with Store(path) as s:
        assert s.schema_version() == MIGRATIONS[-1][0] == 7
        assert tables(s.con) == TABLES
        assert one(s, "SELECT version FROM schema_version ORDER BY 1") == [(v,) for v in range(1, 8)]
    assert path.exists()


def test_an_existing_empty_file_is_migrated(tmp_path):
    path = tmp_path / "ap.duckdb"
    duckdb.connect(str(path)).close()
    with Store(path) as s:
        assert s.schema_version() == 7 and TABLES <= tables(s.con)


def test_a_later_migration_runs_once_on_an_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "ap.duckdb"
    with Store(path) as s:
        s.ingest_parsed([sheet("exclusions", [{"pupil_id": "P1", "category": "suspension",
                                               "start_date": "2025-01-06"}])], "h")
    calls = []

    def add_notes(con):
        calls.append(1)
        con.execute("CREATE TABLE notes (upload_id INTEGER, note VARCHAR)")

    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS + [(8, "notes", add_notes)])
    with Store(path) as s:
        assert s.schema_version() == 8 and "notes" in tables(s.con)
        assert one(s, "SELECT version FROM schema_version ORDER BY 1") == [(v,) for v in range(1, 9)]
        assert one(s, "SELECT pupil_id FROM exclusions") == [("P1",)]
    with Store(path) as s:
        assert calls == [1]


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "ap.duckdb"
    Store(path).close()

    def broken(con):
        con.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS + [(8, "broken", broken)])
    with pytest.raises(RuntimeError):
        Store(path)
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    with Store(path) as s:
        assert s.schema_version() == 7 and "half" not in tables(s.con)


def test_a_schema_1_file_is_upgraded_and_keeps_its_data(tmp_path, monkeypatch):
    # A file written by the first release (schema 1, no school_rolls table).
    path = tmp_path / "ap.duckdb"
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS[:1])
    with Store(path) as s:
        # what the first release wrote for one exclusions upload (its code did not know `kind`)
        s.con.execute("INSERT INTO uploads (upload_id, uploaded_at, file_name, dataset, content_hash, carried, "
                      "rows_accepted, rows_rejected, rows_warned, summary_rows) VALUES (1, now(), 'x.csv', "
                      "'exclusions', 'h', ['pupil_id', 'start_date', 'category'], 1, 0, 0, 0)")
        s.con.execute("INSERT INTO ledger_exclusions (upload_id, row_number, pupil_id, start_date, category) "
                      "VALUES (1, 2, 'P1', DATE '2025-01-06', 'suspension')")
        s.con.execute("INSERT INTO exclusions (pupil_id, start_date, category, upload_id) "
                      "VALUES ('P1', DATE '2025-01-06', 'suspension', 1)")
        assert s.schema_version() == 1 and "school_rolls" not in tables(s.con)
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    with Store(path) as s:
        assert s.schema_version() == 7 and s.school_rolls() == {} and s.access_log().empty
        assert one(s, "SELECT kind, note FROM uploads") == [("file", None)]   # an old upload is a file
        assert s.settings_changes().empty
        assert one(s, "SELECT pupil_id FROM exclusions") == [("P1",)]
        assert len(s.uploads()) == 1


def test_school_rolls_are_saved_updated_and_removed(tmp_path):
    with Store(tmp_path / "ap.duckdb") as s:
        s.set_school_rolls({"Oak Academy": 900, " Elm School ": 450.0, "Ash": None})
        assert s.school_rolls() == {"Elm School": 450, "Oak Academy": 900}
        s.set_school_rolls({"Oak Academy": 950})            # Elm is not named: kept
        assert s.school_rolls() == {"Elm School": 450, "Oak Academy": 950}
        s.set_school_rolls({"Elm School": None})            # blanked: removed
        assert s.school_rolls() == {"Oak Academy": 950}
        with pytest.raises(StoreError):
            s.set_school_rolls({"Oak Academy": -1})
        with pytest.raises(StoreError):
            s.set_school_rolls({"Oak Academy": 12.5})
        assert s.school_rolls() == {"Oak Academy": 950}, "a refused save changes nothing"
    with Store(tmp_path / "ap.duckdb") as s:
        assert s.school_rolls() == {"Oak Academy": 950}, "kept when the file is opened again"


def test_every_change_to_a_saved_setting_is_recorded_with_who_and_what(tmp_path):
    from datetime import date
    with Store(tmp_path / "ap.duckdb") as s:
        s.set_school_rolls({"Oak Academy": 1200, "Ash": None}, user="data.team@council.gov.uk")
        s.set_holidays([date(2025, 10, 27), "2025-10-28", date(2025, 10, 27)], user="data.team@council.gov.uk")
        s.set_measure_direction(" Reading_Age ", False)
        s.set_measure_direction("reading_age", None, user="chair@council.gov.uk")
        s.set_holidays([])
        with pytest.raises(StoreError):
            s.set_school_rolls({"Oak Academy": -1}, user="someone@council.gov.uk")
        log = s.settings_changes()
        # newest first; the refused save recorded nothing
        who = [u if isinstance(u, str) else None for u in log["user_name"]]
        assert list(zip(log["setting"], log["detail"], who)) == [
            ("holidays", "cleared", None),
            ("measure direction", "reading_age: the default", "chair@council.gov.uk"),
            ("measure direction", "reading_age: lower is better", None),
            ("holidays", "2 dates, 27/10/2025 to 28/10/2025", "data.team@council.gov.uk"),
            ("school rolls", "Ash: removed; Oak Academy: 1,200", "data.team@council.gov.uk"),
        ]
        assert log["changed_at"].is_monotonic_decreasing


def test_a_file_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "ap.duckdb"
    with Store(path) as s:
        s.con.execute("INSERT INTO schema_version VALUES (99, now(), 'future')")
    with pytest.raises(StoreError, match="newer version of this program"):
        Store(path)


def test_read_only(tmp_path):
    with pytest.raises(StoreError, match="There is no database at"):
        Store(tmp_path / "missing.duckdb", read_only=True)
    path = tmp_path / "ap.duckdb"
    Store(path).close()
    with Store(path, read_only=True) as s:
        assert s.is_empty()
        with pytest.raises(StoreError, match="read-only"):
            s.set_holidays([])


def test_default_path_from_ap_db(tmp_path, monkeypatch):
    monkeypatch.setenv("AP_DB", str(tmp_path / "x" / "env.duckdb"))
    with Store() as s:
        assert s.path == tmp_path / "x" / "env.duckdb"
    monkeypatch.delenv("AP_DB")
    assert str(Store.default_path()) == "data/ap.duckdb"


def test_a_locked_file_is_a_plain_sentence(tmp_path):
    path = tmp_path / "ap.duckdb"
    Store(path).close()
    with held_by_another_process(path):
        with pytest.raises(StoreError) as info:
            Store(path)
        assert str(info.value) == (f"The database file {path} is in use by another program (perhaps the "
                                   "dashboard or another import). Close it and try again.")


CSV = ("UPN,Assessment,Date,Score\n"
       "A1,Reading Age,06/01/2025,8.5\n"
       "A1,Reading Age,06/04/2025,9.25\n"
       "A2,Maths,31/02/2025,3\n")


def test_ingest_file_end_to_end(tmp_path):
    steps = []
    with Store(tmp_path / "ap.duckdb") as s:
        res = s.ingest_file(CSV.encode(), "assess.csv", user="jo", progress=lambda f, m: steps.append(f))
        assert [(r.status, r.dataset, r.accepted, r.rejected) for r in res] == [("loaded", "assessments", 2, 1)]
        assert one(s, "SELECT measure_key, date::VARCHAR, value FROM assessments ORDER BY 2") == [
            ("reading age", "2025-01-06", 8.5), ("reading age", "2025-04-06", 9.25)]
        assert steps[-1] == 1.0 and steps == sorted(steps)
        # The same bytes from a path: a duplicate; the hash is of the bytes, not the name.
        (tmp_path / "again.csv").write_bytes(CSV.encode())
        assert s.ingest_file(tmp_path / "again.csv")[0].status == "duplicate"
        with pytest.raises(IngestError, match="not found"):
            s.ingest_file(tmp_path / "nope.csv")
        with pytest.raises(IngestError):
            s.ingest_file(b"", "empty.csv")
        assert len(s.uploads()) == 1
