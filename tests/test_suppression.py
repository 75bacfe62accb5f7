"""Small-number suppression (metrics.md §7): expected tables worked out by hand."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from analytics.suppression import suppress_count, suppress_rate, suppress_table


@pytest.mark.parametrize("n, expected", [
    (0, 0),        # a zero discloses nothing: shown
    (1, "c"),
    (2, "c"),
    (3, 3),        # threshold 3: 3 and above shown
    (250, 250),
    (None, None),  # no figure stays no figure
])
def test_suppress_count_default_threshold(n, expected):
    assert suppress_count(n) == expected


def test_suppress_count_other_threshold_and_numpy_ints():
    import numpy as np
    # threshold 5 hides 1..4
    assert [suppress_count(n, threshold=5) for n in (0, 1, 4, 5)] == [0, "c", "c", 5]
    assert suppress_count(np.int64(2)) == "c"
    assert suppress_count(np.int64(7)) == 7


def test_suppress_count_nan_stays_missing():
    assert math.isnan(suppress_count(float("nan")))


@pytest.mark.parametrize("num, den, expected", [
    (3, 12, 0.25),     # 3/12
    (0, 5, 0.0),       # 0 of 5: a real zero rate
    (5, 2, "c"),       # denominator 2 < 3
    (0, 1, "c"),       # denominator 1 < 3, even with a zero numerator
    (2, 40, "c"),      # numerator 2 is a hidden count: 2/40 beside 40 would give it back
    (0, 0, None),      # metrics.md: a rate with denominator 0 is null
    (None, None, None),
    (None, 10, None),
])
def test_suppress_rate(num, den, expected):
    assert suppress_rate(num, den) == expected


def test_table_primary_only_without_totals():
    df = pd.DataFrame({"provider": ["A", "B", "C"], "pupils": [1, 0, 7],
                       "returned": [1, 0, 3], "ended": [1, 0, 6], "rate": [1.0, None, 0.5]})
    out = suppress_table(df, ["pupils", "returned", "ended"], {"rate": ("returned", "ended")})
    # No totals: only cells 1..2 hide. A: 1,1,1 -> c; rate 1/1 -> c. B: zeros shown, rate 0/0
    # stays null. C: 7, 3, 6 shown, rate 3/6 = 0.5 shown.
    assert out["pupils"].tolist() == ["c", 0, 7]
    assert out["returned"].tolist() == ["c", 0, 3]
    assert out["ended"].tolist() == ["c", 0, 6]
    assert out["rate"].iloc[0] == "c"
    assert pd.isna(out["rate"].iloc[1])
    assert out["rate"].iloc[2] == 0.5
    # the input is untouched
    assert df["pupils"].tolist() == [1, 0, 7]


def test_table_secondary_in_a_column_with_a_total_row():
    # reason        pupils
    # behaviour         12
    # medical            2   <- primary
    # suspension         5
    # other              9
    # Total             28
    # With only 'medical' hidden, 28 - 12 - 5 - 9 = 2 gives it back, so the next smallest
    # (suspension, 5) is hidden too. Now two cells hide: 2 + 5 = 7 is all one can learn.
    df = pd.DataFrame({"reason": ["behaviour", "medical", "suspension", "other", "Total"],
                       "pupils": [12, 2, 5, 9, 28]})
    out = suppress_table(df, ["pupils"], total_row_label="Total")
    assert out["pupils"].tolist() == [12, "c", "c", 9, 28]


def test_table_total_row_label_in_the_index():
    df = pd.DataFrame({"pupils": [12, 1, 5, 18]}, index=["behaviour", "medical", "other", "Total"])
    out = suppress_table(df, ["pupils"], total_row_label="Total")
    # medical (1) hidden; next smallest is other (5)
    assert out["pupils"].tolist() == [12, "c", "c", 18]


def test_table_zero_is_not_used_to_protect():
    # Column: 1, 0, 6, total 7. Hiding the 0 beside the 1 would still reveal "1 and 0 make 1";
    # the next smallest non-zero cell (6) is hidden instead.
    df = pd.DataFrame({"group": ["a", "b", "c", "Total"], "n": [1, 0, 6, 7]})
    out = suppress_table(df, ["n"], total_row_label="Total")
    assert out["n"].tolist() == ["c", 0, "c", 7]


def test_table_two_primary_cells_need_no_secondary():
    df = pd.DataFrame({"group": ["a", "b", "c", "Total"], "n": [1, 2, 6, 9]})
    out = suppress_table(df, ["n"], total_row_label="Total")
    # 1 and 2 hidden; 9 - 6 = 3 only tells the pair's sum.
    assert out["n"].tolist() == ["c", "c", 6, 9]


def test_table_rows_and_columns_cascade():
    # The docstring's worked example, with a total row and a total column.
    #   provider  a  b  total
    #   X         1  5      6
    #   Y         4  6     10
    #   Total     5 11     16
    # X.a = 1 primary. Row X (1, 5 | 6): one hidden -> hide X.b (5).
    # Column a (1, 4 | 5): one hidden -> hide Y.a (4, smaller than the total 5).
    # Column b (5, 6 | 11): X.b hidden only -> hide Y.b (6).
    # Row Y now has two hidden (4, 6 | 10); totals row and total column have none.
    df = pd.DataFrame({"provider": ["X", "Y", "Total"], "a": [1, 4, 5], "b": [5, 6, 11],
                       "total": [6, 10, 16]})
    out = suppress_table(df, ["a", "b", "total"], total_row_label="Total", total_col="total")
    assert out["a"].tolist() == ["c", "c", 5]
    assert out["b"].tolist() == ["c", "c", 11]
    assert out["total"].tolist() == [6, 10, 16]


def test_table_small_total_spreads_along_the_total_row():
    # Column 'a' holds 0, 2 with total 2: the body 2 and the total 2 are both primary.
    #   group  a   b  total
    #   X      0   7      7
    #   Y      2   8     10
    #   Total  2  15     17
    # Row Y (2, 8 | 10): one hidden -> hide 8. Totals row (2, 15 | 17): one hidden -> hide 15.
    # Column b (7, 8 | 15): 8 and 15 hidden -> fine. Row X (0, 7 | 7): none hidden.
    df = pd.DataFrame({"group": ["X", "Y", "Total"], "a": [0, 2, 2], "b": [7, 8, 15],
                       "total": [7, 10, 17]})
    out = suppress_table(df, ["a", "b", "total"], total_row_label="Total", total_col="total")
    assert out["a"].tolist() == [0, "c", "c"]
    assert out["b"].tolist() == [7, "c", "c"]
    assert out["total"].tolist() == [7, 10, 17]


def test_table_rate_hidden_when_its_count_is_hidden_by_secondary_suppression():
    #   school  returned  ended  rate
    #   A              1      4  0.25  <- returned 1 primary; rate built on it hidden
    #   B              3      5  0.6   <- returned 3 hidden secondarily (next smallest in the
    #                                     column, whose total is 10); 0.6 x 5 would give 3 back
    #   C              6     10  0.6
    #   Total         10     19
    df = pd.DataFrame({"school": ["A", "B", "C", "Total"], "returned": [1, 3, 6, 10],
                       "ended": [4, 5, 10, 19], "rate": [0.25, 0.6, 0.6, 10 / 19]})
    out = suppress_table(df, ["returned", "ended"], {"rate": ("returned", "ended")},
                         total_row_label="Total")
    assert out["returned"].tolist() == ["c", "c", 6, 10]
    assert out["ended"].tolist() == [4, 5, 10, 19]
    assert out["rate"].tolist()[:3] == ["c", "c", 0.6]
    assert out["rate"].iloc[3] == pytest.approx(10 / 19)


def test_table_threshold_and_missing_columns():
    df = pd.DataFrame({"g": ["a", "b"], "n": [4, 9]})
    assert suppress_table(df, ["n"], threshold=5)["n"].tolist() == ["c", 9]
    with pytest.raises(KeyError):
        suppress_table(df, ["nope"])


# --- no hidden cell can be worked out by subtraction (metrics.md §7) ---------------------------

from hypothesis import given, settings as hyp_settings, strategies as st  # noqa: E402

from analytics.suppression import TOTAL_LABEL, add_total_row  # noqa: E402

_small_counts = st.integers(0, 12).map(lambda n: n if n < 9 else n * 3)  # many 0-8, some large


@hyp_settings(max_examples=150, deadline=None)
@given(st.lists(_small_counts, min_size=1, max_size=7), st.integers(2, 6))
def test_parts_of_a_total_never_leave_one_cell_to_subtraction(counts, threshold):
    df = pd.DataFrame({"group": [f"g{i}" for i in range(len(counts))], "n": counts})
    out = suppress_table(add_total_row(df, ["n"]), ["n"], threshold=threshold, total_row_label=TOTAL_LABEL)
    assert out["group"].iloc[-1] == TOTAL_LABEL and len(out) == len(counts) + 1
    cells = out["n"].tolist()
    hidden = [i for i, v in enumerate(cells) if v == "c"]
    # parts and total: sum(parts) - total = 0
    equation = {i: 1 for i in range(len(counts))} | {len(counts): -1}
    assert not _determined_by_hand([equation], hidden), (counts, cells)
    # A hidden cell is at least 1 (0 is shown), so hidden cells adding up to their number are
    # all 1: with the total shown, their sum must exceed their number.
    originals = counts + [sum(counts)]
    if hidden and cells[-1] != "c":
        assert sum(originals[i] for i in hidden) > len(hidden), (counts, cells)
    for i, v in enumerate(cells):       # every small non-zero count is hidden; nothing else changes
        original = counts[i] if i < len(counts) else sum(counts)
        assert v == "c" or v == original
        if 0 < original < threshold:
            assert v == "c"


def _determined_by_hand(equations, unknown) -> set:
    """Independent of analytics.suppression.disclosed: Gaussian elimination in exact fractions;
    an unknown is determined when some combination of the equations isolates it."""
    from fractions import Fraction
    cols = list(unknown)
    rows = [[Fraction(eq.get(u, 0)) for u in cols] for eq in equations]
    pivots, r = [], 0
    for c in range(len(cols)):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        rows[r] = [v / rows[r][c] for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                rows[i] = [a - rows[i][c] * b for a, b in zip(rows[i], rows[r])]
        pivots.append(c)
        r += 1
    # reduced row echelon form: a pivot row with no other non-zero entry pins its unknown
    out = set()
    for i, c in enumerate(pivots):
        if all(v == 0 for j, v in enumerate(rows[i]) if j != c):
            out.add(cols[c])
    return out


def test_a_total_row_worked_by_hand():
    # 1 is hidden (primary); with the total 10 shown, 1 = 10 - 4 - 5, so the next smallest (4) goes too.
    df = pd.DataFrame({"group": ["a", "b", "c"], "n": [1, 4, 5], "ended": [2, 8, 10],
                       "rate": [0.5, 0.5, 0.5]})
    with_total = add_total_row(df, ["n", "ended"], {"rate": ("n", "ended")})
    assert with_total.iloc[-1].tolist() == ["Total", 10, 20, 0.5]
    out = suppress_table(with_total, ["n", "ended"], {"rate": ("n", "ended")}, total_row_label="Total")
    assert out["n"].tolist() == ["c", "c", 5, 10]
    assert out["ended"].tolist() == ["c", "c", 10, 20]   # 2 hidden, then 8 (smaller than 10 and 20)
    assert out["rate"].tolist() == ["c", "c", 0.5, 0.5]


def test_a_statistic_is_hidden_with_the_count_of_its_group():
    # provider X: 2 placements (hidden), so its median cost (the average of two) is hidden too;
    # Y: 9 placements, shown. A blank statistic stays blank.
    df = pd.DataFrame({"provider": ["X", "Y", "Z"], "placements": [2, 9, 0],
                       "median_cost": [1282.5, 300.0, None], "attendance": [0.908, 0.75, None]})
    out = suppress_table(df, ["placements"], threshold=3,
                         stat_cols={"median_cost": "placements", "attendance": "placements"})
    assert out["placements"].tolist() == ["c", 9, 0]
    assert out["median_cost"].tolist()[:2] == ["c", 300.0]
    assert out["attendance"].tolist()[:2] == ["c", 0.75]
    assert pd.isna(out["median_cost"].iloc[2])
