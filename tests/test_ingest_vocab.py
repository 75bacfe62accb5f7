"""Vocabularies: the AP census ethnicity labels, and a reject in a file without every column.

The labels are every ethnicity_minor value of the AP census placements file
(/work/shared/realdata/ap_placements_ap_census.csv.gz, read with zcat | cut), mapped by hand to
the major groups of dfe-codes.md §4.5 (Chinese in the Asian group, as GSS places it).
"""
from __future__ import annotations

import pytest

from analytics.ingest import read_file
from analytics.ingest.vocab import ETHNICITY_GROUP, vocab_key

W, M, A = "White", "Mixed / Multiple ethnic groups", "Asian / Asian British"
B, O, U = "Black / African / Caribbean / Black British", "Other ethnic group", "Unknown"

AP_CENSUS_LABELS = {
    "Any other ethnic group": O,
    "Asian - Any other Asian background": A,
    "Asian - Bangladeshi": A,
    "Asian - Indian": A,
    "Asian - Pakistani": A,
    "Black - Any other black background": B,
    "Black - Black African": B,
    "Black - Black Caribbean": B,
    "Chinese": A,
    "Mixed - Any other mixed background": M,
    "Mixed - white and Asian": M,
    "Mixed - white and black African": M,
    "Mixed - white and black Caribbean": M,
    "Unclassified": U,
    "White - Any other white background": W,
    "White - Gypsy/Roma": W,
    "White - Irish": W,
    "White - White British": W,
    "White - traveller of Irish heritage": W,
}


@pytest.mark.parametrize("label, group", sorted(AP_CENSUS_LABELS.items()))
def test_ap_census_ethnicity_labels_map_to_their_major_group(label, group):
    assert ETHNICITY_GROUP[vocab_key(label)] == group


def test_ap_census_ethnicity_labels_through_the_importer():
    labels = sorted(AP_CENSUS_LABELS)
    rows = "".join(f"B801200005001,Oak PRU,2025-03-14,{label}\n" for label in labels)
    sheet, = read_file(("UPN,Provider,Start Date,Ethnicity\n" + rows).encode(), "census.csv")
    assert sheet.rejected.num_rows == 0
    got = sheet.accepted.select(["ethnicity", "ethnicity_group"]).to_pylist()
    assert got == [{"ethnicity": label, "ethnicity_group": AP_CENSUS_LABELS[label]}
                   for label in labels]
    # every label is recognised: no "not a recognised ethnicity code" warning
    assert sheet.accepted["warnings"].null_count == len(labels)


def test_rejected_row_in_placements_without_a_registered_column():
    # Regression: a rejected row in a file with no `registered` column once raised
    # ArrowInvalid "Data type null is not supported in join non-key field".
    # Row 2 is accepted; row 3 has no start date, so it is rejected (data-spec §5).
    sheet, = read_file(b"UPN,Provider,Start Date\n"
                       b"B801200005001,Oak PRU,2025-03-14\n"
                       b"B801200005001,Oak PRU,\n", "no_registered.csv")
    assert "registered" not in sheet.mapping.values()
    assert sheet.accepted["row_number"].to_pylist() == [2]
    assert sheet.accepted["registered"].to_pylist() == [None]
    assert sheet.rejected["row_number"].to_pylist() == [3]
    assert "blank, but it is required" in sheet.rejected["reason"][0].as_py()
    assert "Oak PRU" in sheet.rejected["original"][0].as_py()


@pytest.mark.parametrize("cell, kept", [
    ("Oak PRU", "Oak PRU"),
    ("  Oak PRU  ", "Oak PRU"),          # spaces at either end are trimmed
    ("\u3000Oak PRU\u3000", "Oak PRU"),  # so is an ideographic space (non-ASCII path)
    (" Élan Hub", "Élan Hub"),           # non-ASCII text takes the full trim
    ("   ", None),                       # only spaces: blank
])
def test_text_cells_are_trimmed(cell, kept):
    sheet, = read_file(f"UPN,Provider,Start Date\nB801200005001,{cell},2025-03-14\n".encode(),
                       "trim.csv")
    if kept is None:   # no provider at all: rejected (data-spec §5)
        assert sheet.rejected.num_rows == 1
    else:
        assert sheet.accepted["provider"].to_pylist() == [kept]


@pytest.mark.parametrize("label", ["FE college", "Further Education College", "sixth-form college"])
def test_college_destinations_are_post16_without_a_warning(label):
    # A reviewer's "FE college" was stored as 'other' with a warning; data-spec §1 lists FE and
    # college as post-16 destinations, and these are the same places named in full.
    text = ("UPN,Provider,Start Date,End,Exit Destination\n"
            f"D999123400001,Oak PRU,01/09/2024,18/07/2025,{label}\n")
    [sheet] = read_file(text.encode(), "leavers.csv")
    [row] = sheet.accepted.to_pylist()
    assert (row["destination"], row["warnings"]) == ("post16", None)
