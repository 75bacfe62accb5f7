"""The upload page's remembered header mappings (analytics/mappings.py)."""
from __future__ import annotations

import pytest

from analytics import mappings


@pytest.mark.parametrize("a, b, same", [
    (["UPN", "Start Date"], ["start date", "upn"], True),          # order and case ignored
    (["UPN", " Start  Date "], ["UPN", "Start Date"], True),       # spacing ignored
    (["UPN", "Start Date"], ["UPN", "Start Date", "Hours"], False),  # a different set of headings
])
def test_header_key(a, b, same):
    assert (mappings.header_key(a) == mappings.header_key(b)) is same


def test_remember_then_lookup_round_trip(tmp_path):
    path = mappings.mappings_path(tmp_path / "ap.duckdb")
    headers = ["Learner Ref", "Placement Start", "Provider Name"]
    assert mappings.lookup(path, headers) == {}
    mappings.remember(path, headers, {"Learner Ref": "pupil_id"})
    assert mappings.lookup(path, list(reversed(headers))) == {"Learner Ref": "pupil_id"}
    assert mappings.lookup(path, headers + ["Extra"]) == {}


def test_only_canonical_columns_are_kept(tmp_path):
    path = tmp_path / "mappings.json"
    mappings.remember(path, ["A", "B"], {"A": "pupil_id", "B": "x; DROP TABLE placements"})
    assert mappings.lookup(path, ["A", "B"]) == {"A": "pupil_id"}
    path.write_text('{"%s": {"A": "not_a_column"}}' % mappings.header_key(["A", "B"]))
    assert mappings.lookup(path, ["A", "B"]) == {}


def test_a_damaged_file_counts_as_empty(tmp_path):
    path = tmp_path / "mappings.json"
    path.write_text("{not json")
    assert mappings.lookup(path, ["A"]) == {}
    mappings.remember(path, ["A", "B"], {"A": "pupil_id"})
    assert mappings.lookup(path, ["B", "A"]) == {"A": "pupil_id"}


def test_peek_headers_never_raises():
    assert mappings.peek_headers(b"", "empty.csv") == {}
    assert mappings.peek_headers(b"%PDF-1.4 ...", "x.pdf") == {}
    assert mappings.peek_headers(b"UPN,Start Date,Provider\nA1,01/09/2024,Oak\n", "p.csv") == {
        None: ["UPN", "Start Date", "Provider"]}


def test_a_heading_left_out_on_purpose_is_remembered_as_left_out(tmp_path):
    path = tmp_path / "mappings.json"
    mappings.remember(path, ["UPN", "Surname", "Began"], {"Surname": "", "Began": "start_date"})
    assert mappings.lookup(path, ["Began", "UPN", "Surname"]) == {"Surname": "", "Began": "start_date"}
