"""Records removed by hand (Store.remove_records): what goes, what comes back, and undo.

A mistyped UPN or start date makes a second record that no later file puts right, since the key
is the pupil, provider and start date. Each case is small and its expected tables are written out.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analytics.errors import StoreError
from analytics.store import Store
from tests.test_store_helpers import one, sheet, state

OAK = {"provider": "Oak Tuition", "provider_urn": "100001"}


def pl(pupil, start, end=None, **cols):
    row = {"pupil_id": pupil, "start_date": start, "end_date": end, **OAK, "setting_type": "one_to_one_tuition"}
    row.update(cols)
    return row


def open_placements(s) -> list[tuple]:
    return one(s, "SELECT pupil_id, provider_key, start_date FROM placements WHERE end_date IS NULL ORDER BY 1, 3")


def ids(s, pupil, dataset="placements") -> list[str]:
    return s.records_of(pupil)[dataset]["record_id"].tolist()


@pytest.fixture
def s(tmp_path):
    with Store(tmp_path / "ap.duckdb") as store:
        yield store


def test_a_mistyped_upn_record_is_removed_and_the_removal_undone_exactly(s):
    # autumn: the child under a mistyped UPN; spring: the same placement under the right one
    s.ingest_parsed([sheet("placements", [pl("A00000000001Z", "2025-01-06", hours_per_week=10.0)],
                           file_name="autumn.csv")], "h1")
    s.ingest_parsed([sheet("placements", [pl("A00000000002Z", "2025-01-06", hours_per_week=10.0)],
                           file_name="spring.csv")], "h2")
    assert open_placements(s) == [("A00000000001Z", "100001", date(2025, 1, 6)),
                                  ("A00000000002Z", "100001", date(2025, 1, 6))]
    before = state(s, "placements")

    upload_id, message = s.remove_records("placements", ids(s, "A00000000001Z"), "Mistyped UPN", user="officer")
    assert upload_id == 3 and message.startswith("1 placement removed (upload 3)")
    assert open_placements(s) == [("A00000000002Z", "100001", date(2025, 1, 6))]
    assert s.records_of("A00000000001Z")["placements"].empty
    # kept as an entry of the uploads ledger, with who and why
    assert one(s, "SELECT kind, note, user_name, file_name, rows_accepted FROM uploads WHERE upload_id = 3") == [
        ("removal", "Mistyped UPN", "officer", "1 placement removed by hand", 1)]

    assert "records it removed are back" in s.withdraw(3)
    assert state(s, "placements") == before


def test_a_corrected_start_date_leaves_one_open_placement_once_the_old_is_removed(s):
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")])], "h1")
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-13")])], "h2")   # the date put right
    assert len(open_placements(s)) == 2
    old = s.records_of("P1")["placements"]
    s.remove_records("placements", old.loc[pd.to_datetime(old["start_date"]) == "2025-01-06", "record_id"], "Wrong start date")
    assert open_placements(s) == [("P1", "100001", date(2025, 1, 13))]


def test_a_later_file_sending_the_record_again_brings_it_back_from_that_row_alone(s):
    # the first file says 10 hours; after the removal, a file without an hours column sends it
    # again: the record comes back with no hours, since rows before the removal no longer count
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06", hours_per_week=10.0, reason="medical")])], "h1")
    s.remove_records("placements", ids(s, "P1"), "Sent in error")
    assert open_placements(s) == []
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06", "2025-03-28")])], "h3")
    assert one(s, "SELECT start_date, end_date, hours_per_week, reason, upload_id FROM placements") == [
        (date(2025, 1, 6), date(2025, 3, 28), None, None, 3)]
    # and a full rebuild from the ledger agrees with the incremental one
    incremental = state(s, "placements")
    s.rebuild_all()
    assert state(s, "placements") == incremental


def test_a_removed_record_stays_removed_when_a_later_file_gives_its_provider_a_urn(s):
    # removed while its provider was known by name only; a later file gives the name a URN, so
    # the record's rows would now be keyed by the URN: the removal row moves with them
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P1", "start_date": "2025-01-06", "provider": "Elm Tutors",
                                           "setting_type": "one_to_one_tuition"}])], "h1")
    assert one(s, "SELECT provider_key FROM placements") == [("elm tutors",)]
    s.remove_records("placements", ids(s, "P1"), "Duplicate of another pupil")
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P2", "start_date": "2025-02-03", "provider": "Elm Tutors",
                                           "provider_urn": "200002", "setting_type": "one_to_one_tuition"}])], "h3")
    assert open_placements(s) == [("P2", "200002", date(2025, 2, 3))]
    s.rebuild_all()
    assert open_placements(s) == [("P2", "200002", date(2025, 2, 3))]


def test_other_datasets_records_are_removed_and_restored(s):
    s.ingest_parsed([sheet("attendance", [
        {"pupil_id": "P1", "period_start": "2025-01-06", "period_end": "2025-01-10", "setting": "Oak",
         "possible_sessions": 10, "attended_sessions": 8},
        {"pupil_id": "P1", "period_start": "2025-01-13", "period_end": "2025-01-17", "setting": "Oak",
         "possible_sessions": 10, "attended_sessions": 2}])], "ha")
    s.ingest_parsed([sheet("exclusions", [{"pupil_id": "P1", "start_date": "2025-01-20", "category": "suspension",
                                           "sessions": 2}])], "he")
    s.ingest_parsed([sheet("assessments", [{"pupil_id": "P1", "measure": "Reading age", "date": "2025-01-06",
                                            "value": 9.5}])], "hs")
    att = s.records_of("P1")["attendance"]
    s.remove_records("attendance", att.loc[att["attended_sessions"] == 2, "record_id"], "Another pupil's week")
    assert one(s, "SELECT period_start, attended_sessions FROM attendance") == [(date(2025, 1, 6), 8)]
    # the only exclusion and the only assessment: their tables are empty after, and full after undo
    ex_removal, _ = s.remove_records("exclusions", ids(s, "P1", "exclusions"), "Recorded twice")
    as_removal, _ = s.remove_records("assessments", ids(s, "P1", "assessments"), "Wrong pupil")
    assert one(s, "SELECT count(*) FROM exclusions") == [(0,)] and one(s, "SELECT count(*) FROM assessments") == [(0,)]
    s.withdraw(ex_removal)
    s.withdraw(as_removal)
    assert one(s, "SELECT pupil_id, start_date, category, sessions FROM exclusions") == [
        ("P1", date(2025, 1, 20), "suspension", 2)]
    assert one(s, "SELECT measure, date, value FROM assessments") == [("Reading age", date(2025, 1, 6), 9.5)]


def test_a_removal_then_the_file_withdrawn_then_the_removal_undone(s):
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06"), pl("P2", "2025-01-06")])], "h1")
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06", "2025-02-14")])], "h2")
    s.remove_records("placements", ids(s, "P1"), "Mistyped")
    s.withdraw(2)                      # P1 stays removed: the removal is newer than upload 1's row
    assert open_placements(s) == [("P2", "100001", date(2025, 1, 6))]
    s.withdraw(3)                      # the removal undone: P1 as upload 1 alone left it, open
    assert open_placements(s) == [("P1", "100001", date(2025, 1, 6)), ("P2", "100001", date(2025, 1, 6))]
    incremental = state(s, "placements")
    s.rebuild_all()
    assert state(s, "placements") == incremental


def test_every_placement_removed_then_a_new_first_file(s):
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06", hours_per_week=10.0)])], "h1")
    s.remove_records("placements", ids(s, "P1"), "Test file loaded by mistake")
    assert one(s, "SELECT count(*) FROM placements") == [(0,)]
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06"), pl("P3", "2025-02-03")])], "h3")
    assert open_placements(s) == [("P1", "100001", date(2025, 1, 6)), ("P3", "100001", date(2025, 2, 3))]
    assert one(s, "SELECT hours_per_week FROM placements WHERE pupil_id = 'P1'") == [(None,)]
    incremental = state(s, "placements")
    s.rebuild_all()
    assert state(s, "placements") == incremental


def test_a_removal_needs_a_reason_and_records_still_stored(s):
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")])], "h1")
    before = state(s, "placements")
    with pytest.raises(StoreError, match="Say why"):
        s.remove_records("placements", ids(s, "P1"), "   ")
    with pytest.raises(StoreError, match="No record was chosen"):
        s.remove_records("placements", [], "Mistyped")
    with pytest.raises(StoreError, match="1 placement chosen is no longer stored"):
        s.remove_records("placements", ids(s, "P1") + ["0123456789abcdef"], "Mistyped")
    assert state(s, "placements") == before
    assert one(s, "SELECT count(*) FROM uploads") == [(1,)]


def test_the_same_removal_twice_is_refused_the_second_time(s):
    s.ingest_parsed([sheet("placements", [pl("P1", "2025-01-06")])], "h1")
    record = ids(s, "P1")
    s.remove_records("placements", record, "Mistyped")
    with pytest.raises(StoreError, match="no longer stored"):
        s.remove_records("placements", record, "Mistyped")
    assert one(s, "SELECT count(*) FROM uploads WHERE kind = 'removal'") == [(1,)]


def test_a_removed_record_stays_removed_when_the_upload_that_taught_its_urn_is_withdrawn(s):
    # A reviewer: P1's row names its provider by UKPRN only; another upload (P2's) gives that
    # UKPRN a URN, so P1's record is keyed by the URN when it is removed. Withdrawing P2's
    # upload keys P1's rows by the UKPRN again: a removal row copying the URN stayed behind.
    college = {"provider": "Test College", "setting_type": "fe_college"}
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P1", "start_date": "2025-01-06", "provider_ukprn": "10099999",
                                           **college}])], "h1")
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P2", "start_date": "2025-01-13", "provider_ukprn": "10099999",
                                           "provider_urn": "990299", **college}])], "h2")
    assert one(s, "SELECT provider_key FROM placements WHERE pupil_id = 'P1'") == [("990299",)]
    s.remove_records("placements", ids(s, "P1"), "Mistyped UPN")
    s.withdraw(2)
    assert open_placements(s) == []            # P2's upload gone, P1 still removed
    s.rebuild_all()
    assert open_placements(s) == []


def test_a_removed_record_stays_removed_when_a_later_file_gives_its_provider_another_urn(s):
    # The reviewer's second way: the name was taught URN 990298, then a later file about another
    # pupil teaches it 990297; P1's name-only row moves to the new URN, and its removal with it.
    barn = {"provider": "Hilltop Study Barn", "setting_type": "other_unregistered"}
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P1", "start_date": "2025-01-06", **barn}])], "h1")
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P2", "start_date": "2025-01-13", "provider_urn": "990298",
                                           **barn}])], "h2")
    s.remove_records("placements", ids(s, "P1"), "Mistyped UPN")
    s.ingest_parsed([sheet("placements", [{"pupil_id": "P3", "start_date": "2025-02-03", "provider_urn": "990297",
                                           **barn}])], "h4")
    assert [r[0] for r in open_placements(s)] == ["P2", "P3"]
    s.rebuild_all()
    assert [r[0] for r in open_placements(s)] == ["P2", "P3"]
