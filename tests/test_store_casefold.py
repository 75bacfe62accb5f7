"""Keys case-folded, as data-spec §6 says ("trimmed, case-folded"), not lower-cased: DuckDB's
lower() leaves 'ß' as it is, so 'Maß' and 'MASS' were two measures (finding F1). Expected keys
are worked out by hand from Unicode's case folding ('ß' → 'ss', 'ς' → 'σ', 'ﬁ' → 'fi')."""
from __future__ import annotations

from datetime import date

import duckdb

from analytics import schema
from analytics.store import Store
from tests.test_store import load
from tests.test_store_helpers import one, sheet

D = date.fromisoformat


def test_the_sql_folds_every_character_as_python_does():
    con = duckdb.connect()
    schema.add_fold_function(con)
    schema.add_fold_function(con)                 # twice on one database is harmless
    samples = ["Maß", "MASS", " Straße ", "ΣΊΣΥΦΟΣ", "ﬁle", "Reading Age", "İstanbul", "Ꭰꭰ", "", "abc 12"]
    chars = [chr(i) for i in range(1, 0x30000) if not 0xD800 <= i <= 0xDFFF]
    got = con.execute(f"SELECT s, {schema.fold_sql('s')} FROM unnest(?::VARCHAR[]) t(s)", [samples + chars]).fetchall()
    assert [s for s, folded in got if folded != s.casefold()] == []
    by_hand = dict(got[:len(samples)])
    assert by_hand["Maß"] == by_hand["MASS"] == "mass" and by_hand[" Straße "] == " strasse "
    assert by_hand["ΣΊΣΥΦΟΣ"] == "σίσυφοσ" and by_hand["ﬁle"] == "file"
    assert con.execute(f"SELECT {schema.fold_sql('NULL::VARCHAR')}").fetchone() == (None,)


def test_measures_settings_and_provider_names_that_fold_together_are_one(tmp_path):
    store = Store(tmp_path / "ap.duckdb")
    try:
        load(store,
             sheet("assessments", [{"pupil_id": "P1", "measure": "Maß", "date": "2025-01-06", "value": 5.0}]),
             sheet("assessments", [{"pupil_id": "P1", "measure": "MASS", "date": "2025-01-06", "value": 7.0}]),
             sheet("attendance", [{"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10",
                                   "setting": "Straße Centre", "possible_sessions": 10, "attended_sessions": 4}]),
             sheet("attendance", [{"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10",
                                   "setting": "STRASSE CENTRE", "possible_sessions": 10, "attended_sessions": 9}]),
             sheet("placements", [{"pupil_id": "P1", "provider": "Straße Tuition", "start_date": "2025-01-06",
                                   "hours_per_week": 10.0}]),
             sheet("placements", [{"pupil_id": "P1", "provider": "STRASSE TUITION ", "start_date": "2025-01-06",
                                   "hours_per_week": 12.0}]))
        # one record each, the newer upload's values and display text
        assert one(store, "SELECT measure, measure_key, value FROM assessments") == [("MASS", "mass", 7.0)]
        assert one(store, "SELECT setting, setting_key, attended_sessions FROM attendance") == [
            ("STRASSE CENTRE", "strasse centre", 9.0)]
        assert one(store, "SELECT provider, provider_key, hours_per_week FROM placements") == [
            ("STRASSE TUITION ", "strasse tuition", 12.0)]
        # a direction set on one spelling is the other's too
        store.set_measure_direction("  MAß", False)
        assert store.measure_directions() == {"mass": False}
    finally:
        store.close()


def test_a_store_keyed_by_lower_case_is_rebuilt_with_folded_keys_when_opened(tmp_path):
    # A store made before the fix (schema 6): its keys lower-cased, so 'Maß' and 'MASS' two
    # records and a direction under 'maß'. Opening it migrates to schema 7 and re-derives the
    # current state from the ledger, which is kept whole.
    path = tmp_path / "ap.duckdb"
    store = Store(path)
    load(store,
         sheet("assessments", [{"pupil_id": "P1", "measure": "Maß", "date": "2025-01-06", "value": 5.0}]),
         sheet("assessments", [{"pupil_id": "P1", "measure": "MASS", "date": "2025-01-06", "value": 7.0},
                               {"pupil_id": "P1", "measure": "Reading Age", "date": "2025-01-06", "value": 9.0}]))
    store.close()
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM assessments")
    con.execute("""INSERT INTO assessments BY NAME
                   SELECT * EXCLUDE (row_number, warnings), lower(trim(measure)) AS measure_key
                   FROM ledger_assessments""")
    con.execute("DELETE FROM schema_version WHERE version = 7")
    con.execute("INSERT INTO measure_directions VALUES ('maß', true), ('mass', false)")
    assert con.execute("SELECT count(*) FROM assessments").fetchone() == (3,)   # as the old rule had it
    con.close()
    store = Store(path)
    try:
        assert store.schema_version() == 7
        assert one(store, "SELECT measure_key, value FROM assessments ORDER BY 1") == [
            ("mass", 7.0), ("reading age", 9.0)]
        assert store.measure_directions() == {"mass": False}          # the newest of the two kept
        assert one(store, "SELECT count(*) FROM ledger_assessments") == [(3,)]
    finally:
        store.close()
