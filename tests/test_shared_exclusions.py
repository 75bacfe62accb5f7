"""The exclusions breakdowns protected together (metrics.md §7, analytics/exclusions_shared.py).

A trust's exclusions are its schools' added up, and an academic year's its terms'. Figure by
figure, a school's hidden count came back from its trust's. The hand-made case gives the cells
to hide worked out by hand; the attackers (by subtraction and by linear programming, from
tests/test_shared_outcomes.py) look for any small count on the sample at many dates.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from analytics import exclusions as E
from analytics import exclusions_shared as X
from analytics.settings import Filters, Settings
from analytics.suppression import SUPPRESSED, add_total_row, suppress_table
from tests.test_shared_outcomes import _attack, _bounds_attack, _dates

C = SUPPRESSED
COUNTS = ["suspensions", "permanent", "lunchtime", "pupils_suspended"]


def _frame(groups, suspensions):
    n = len(groups)
    return pd.DataFrame({"group": groups, "suspensions": suspensions, "permanent": [0] * n,
                         "lunchtime": [0] * n, "pupils_suspended": suspensions})


def test_a_school_hidden_beside_its_trust_takes_a_second_school_of_that_trust():
    # Trust T: schools A (1 suspension) and B (5); trust U: school C (4). Ten in all.
    schools, trusts = _frame(["B", "C", "A"], [5, 4, 1]), _frame(["T", "U"], [6, 4])
    cross = pd.DataFrame({"school": ["A", "B", "C"], "trust": ["T", "T", "U"], "suspensions": [1, 5, 4],
                          "permanent": [0, 0, 0], "lunchtime": [0, 0, 0]})
    # Figure by figure the schools hide A's 1 and the next smallest, C's 4; but the trusts show
    # T's 6 and B's 5 is shown: A = 6 - 5 = 1.
    alone = suppress_table(add_total_row(schools, COUNTS, label="Total", label_col="group",
                                         blank=["pupils_suspended"]), COUNTS, threshold=3, total_row_label="Total")
    assert alone["suspensions"].tolist() == [5, C, C, 10]
    summary = {"suspensions": 10, "permanent_exclusions": 0, "lunchtime": 0}
    shared = X.protect(summary, {"school": schools, "trust": trusts}, cross)
    # Together: A, then C (the smallest beside A in the schools' column), then B: T's 6 would
    # give A back while B shows. With A and B hidden, A + B = 6 has many answers. The trusts
    # show nothing small and hide nothing.
    assert shared.cells(("by_group", "school")) == {("A", "suspensions"), ("B", "suspensions"),
                                                    ("C", "suspensions")}
    assert shared.cells(("by_group", "trust")) == set()
    assert shared.withheld == set()


def _figures(con, as_of: date, joint: bool, threshold: int = 3):
    settings, f = Settings(), Filters(as_of=as_of)
    truth, shown, sums = {}, {}, []
    s = E.summary(con, f, settings)
    tiles = {"suspensions": s["suspensions"], "permanent": s["permanent_exclusions"], "lunchtime": s["lunchtime"]}
    for k, v in tiles.items():
        truth[("tile", k)] = v
        if not 0 < v < threshold:
            shown[("tile", k)] = v
    groups = {by: E.by_group(con, f, settings, by) for by in E.GROUPS}
    shared = X.shared_exclusions(con, f, settings) if joint else None
    for by, g in groups.items():
        if not len(g):
            continue
        table = add_total_row(g, COUNTS, label="Total", label_col="group", blank=["pupils_suspended"])
        alone = suppress_table(table, COUNTS, threshold=threshold, total_row_label="Total")
        cells = shared.cells(("by_group", by)) if joint else set()
        for i, label in enumerate(table["group"].astype(str)):
            for col in ("suspensions", "permanent", "lunchtime"):
                key, v = (by, label, col), int(table[col].iloc[i])
                truth[key] = v
                hidden = alone[col].iloc[i] == C or (joint and (cells is None or (label, col) in cells))
                if not hidden:
                    shown[key] = v
        for col in ("suspensions", "permanent", "lunchtime"):
            sums.append(([(by, str(x), col) for x in g["group"]], (by, "Total", col)))
            sums.append(([(by, "Total", col)], ("tile", col)))
    mapping = E.by_school_and_trust(con, f, settings)
    for col in ("suspensions", "permanent", "lunchtime"):
        for trust in mapping["trust"].unique():   # a trust's count: its schools' rows added up
            rows = mapping[mapping["trust"] == trust]
            if len(rows["school"].unique()) == len(rows):   # each school once (the sample's case)
                sums.append(([("school", str(x), col) for x in rows["school"]], ("trust", str(trust), col)))
        for year in groups["academic_year"]["group"].astype(str):
            in_year = [str(t) for t in groups["term"]["group"] if str(t).split()[-1] == year]
            sums.append(([("term", t, col) for t in in_year], ("academic_year", year, col)))
    return truth, shown, sums


def test_figure_by_figure_a_school_comes_back_from_its_trust(sample_db_copy):
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    found = 0
    for as_of in _dates():
        truth, shown, sums = _figures(con, as_of, joint=False)
        small = {k: v for k, v in _attack(truth, shown, sums).items() if 0 < truth[k] < 3}
        assert all(v == truth[k] for k, v in small.items())
        found += bool(small)
    assert found >= 5, found


@pytest.mark.parametrize("threshold", [3])
def test_protected_together_no_small_exclusion_count_can_be_worked_out(sample_db_copy, threshold):
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    hidden_small = 0
    for as_of in _dates():
        truth, shown, sums = _figures(con, as_of, joint=True, threshold=threshold)
        found = _attack(truth, shown, sums)
        assert all(v == truth[k] for k, v in found.items()), as_of
        assert not {k: v for k, v in found.items() if 0 < truth[k] < threshold}, as_of
        assert not _bounds_attack(truth, shown, sums, threshold), as_of
        hidden_small += sum(1 for k, v in truth.items() if k not in shown and 0 < v < threshold)
    assert hidden_small > 100, hidden_small
