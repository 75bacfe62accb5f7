"""The outcomes figures protected together (metrics.md §7: "totals are protected so that a
hidden cell cannot be worked out by subtraction", whichever figure shows the total).

The headline tiles, the returns by term and by group and the destinations show the same
counts. Each hand-made case below gives the cells to hide, worked out by hand from the rule;
the last test is an attacker that, from every outcomes figure as shared, works out whatever
subtraction gives, on the sample data at many dates.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from analytics import outcomes as O
from analytics import outcomes_shared as S
from analytics import trends
from analytics.settings import Filters, Period, Settings, resolve_period
from analytics.suppression import SUPPRESSED, add_total_row, suppress_table

C = SUPPRESSED


def _with_total(df, counts, label_col, rates=None):
    return add_total_row(df, counts, rates, label="Total", label_col=label_col)


def _hidden(table, label_col, cols):
    """{(label, column)} of the 'c' cells."""
    return {(label, col) for col in cols for label, v in zip(table[label_col], table[col]) if v == C}


# Two terms of one period: Autumn (ended 10: 6 back to mainstream, 1 NEET, 3 moved away) and
# Spring (ended 11: 5, 2, 4). Nothing went to another AP or unknown.
AUTUMN, SPRING = "Autumn 2024/25", "Spring 2024/25"
PERIOD = Period(as_of=date(2025, 3, 31), start=date(2024, 9, 1), end=date(2025, 3, 31))
DEST_BY_TERM = pd.DataFrame({
    "group": [AUTUMN] * 3 + [SPRING] * 3,
    "destination": ["mainstream", "neet", "moved_away"] * 2,
    "n": [6, 1, 3, 5, 2, 4]})
RETURNS_BY_TERM = pd.DataFrame({
    "label": [AUTUMN, SPRING],
    "period_start": [date(2024, 9, 1), date(2025, 1, 1)],
    "as_of": [date(2024, 12, 31), date(2025, 3, 31)],
    "ended": [10, 11], "returned": [6, 5], "return_rate": [0.6, 5 / 11]})
SUMMARY = {"ended": 21, "returned": 11, "unknown_destination": 0,
           "sustained": {"eligible": 0, "sustained": 0}}


def _protect_terms():
    overall = DEST_BY_TERM.groupby("destination", sort=False, as_index=False)["n"].sum()
    return S.protect(SUMMARY, RETURNS_BY_TERM, None, {}, {None: overall, "term": DEST_BY_TERM}, PERIOD)


def test_figure_by_figure_a_hidden_destination_is_found_from_the_returns_by_term():
    # What the pages did before: destinations by term on their own, one Total row. The two NEET
    # cells (1 and 2) are hidden, two in the column, so nothing more is hidden...
    long = _with_total(DEST_BY_TERM, ["n"], "group")
    alone = suppress_table(long, ["n"], total_row_label="Total")
    assert alone["n"].tolist() == [6, C, 3, 5, C, 4, 21]
    # ...but the returns by term show Autumn's 10 ended and 6 returned: NEET = 10 - 6 - 3 = 1.
    assert 10 - 6 - 3 == 1


def test_beside_the_returns_by_term_a_second_cell_is_hidden_in_each_term():
    shared = _protect_terms()
    assert shared.withheld == set()
    # The returns by term and all destinations hide nothing (every count 3 or more; the tiles'
    # 11 returns of 21 leave 10, and no placement went to another AP).
    assert shared.cells("by_term") == set()
    assert shared.cells(("destinations", None)) == set()
    # Autumn: NEET 1 is hidden. Autumn's ended (10) and the column totals are shown, so a second
    # cell of the row goes: the smallest, moved away (3), not mainstream (6) or ended (10).
    # Spring likewise: NEET 2, then moved away 4 (smaller than mainstream 5).
    assert shared.cells(("destinations", "term")) == {
        (AUTUMN, "neet"), (AUTUMN, "moved_away"), (SPRING, "neet"), (SPRING, "moved_away")}
    # The reader has NEET + moved away = 4 in Autumn and 6 in Spring, NEET 3 and moved away 7 in
    # all: Autumn's NEET can be 1 (3 moved away) or 2 (2 moved away, Spring 1 and 5).
    for a_neet in (1, 2):
        s_neet, a_moved = 3 - a_neet, 4 - a_neet
        assert 6 - s_neet + a_moved == 7


def test_a_zero_is_hidden_rather_than_a_count_two_figures_show():
    # Provider P: 6 ended, 5 back to mainstream, 1 NEET, 0 moved away. Q: 10 ended, 4, 3 NEET,
    # 3 moved away. P's NEET is hidden, so a second cell of P's row must go. P's mainstream (5)
    # is P's returns in the returns by provider: hiding it would hide a return rate too. P's
    # moved away is a 0 no other figure shows, so it goes instead ('c' can be a 0 here). The
    # moved-away column then has one hidden cell beside its total 3 (shown by the destinations
    # of all): Q's 3 goes, and Q's row, beside its shown 10 ended, loses its NEET 3 as well.
    long = pd.DataFrame({"group": ["P", "P", "Q", "Q", "Q"],
                         "destination": ["mainstream", "neet", "mainstream", "neet", "moved_away"],
                         "n": [5, 1, 4, 3, 3]})
    by_group = pd.DataFrame({"group": ["P", "Q"], "ended": [6, 10], "returned": [5, 4], "rate": [5 / 6, 0.4],
                             "unknown_destination": [0, 0], "sustained_eligible": [0, 0], "sustained": [0, 0],
                             "sustained_rate": [None, None]})
    summary = {"ended": 16, "returned": 9, "unknown_destination": 0, "sustained": {"eligible": 0, "sustained": 0}}
    overall = pd.DataFrame({"destination": ["mainstream", "neet", "moved_away"], "n": [9, 4, 3]})
    shared = S.protect(summary, None, None, {"provider": by_group}, {None: overall, "provider": long}, PERIOD)
    dest, returns = shared.cells(("destinations", "provider")), shared.cells(("by_group", "provider"))
    all_dest = shared.cells(("destinations", None))
    assert dest == {("P", "neet"), ("P", "moved_away"), ("Q", "moved_away"), ("Q", "neet")}
    assert returns == set() and all_dest == set()
    # P's NEET a: P moved away 1 - a, Q NEET 4 - a, Q moved away 2 + a: a = 0 or 1 both fit.
    for a in (0, 1):
        assert (1 - a) + (2 + a) == 3 and a + (4 - a) == 4
    # What a reader sees, and every sum between the figures: no small count has one value left.
    truth = {("F", g, d): n for g, d, n in zip(long["group"], long["destination"], long["n"])}
    truth |= {("F", "P", "moved_away"): 0}
    truth |= {("C", g, c): v for g, e, r in zip(by_group["group"], by_group["ended"], by_group["returned"])
              for c, v in (("ended", e), ("returned", r))}
    truth |= {("D", d): n for d, n in zip(overall["destination"], overall["n"])} | {("D", "Total"): 16}
    truth |= {("tile", "ended"): 16, ("tile", "returned"): 9}
    hidden = {("F", g, d) for g, d in dest if g != "Total"} | {("C", g, c) for g, c in returns} | \
        {("D", d) for d, _ in all_dest}
    shown = {k: v for k, v in truth.items() if k not in hidden}
    sums = [([("F", g, d) for d in ("mainstream", "neet", "moved_away")], ("C", g, "ended")) for g in "PQ"]
    sums += [([("F", g, d) for g in "PQ"], ("D", d)) for d in ("mainstream", "neet", "moved_away")]
    sums += [([("F", g, "mainstream")], ("C", g, "returned")) for g in "PQ"]
    sums += [([("C", g, c) for g in "PQ"], ("tile", c)) for c in ("ended", "returned")]
    sums += [([("D", d) for d in ("mainstream", "neet", "moved_away")], ("D", "Total")),
             ([("D", "mainstream")], ("tile", "returned"))]
    assert _bounds_attack(truth, shown, sums) == {}


def test_a_figure_whose_small_count_only_shown_counts_fix_is_withheld():
    # F shows a = 1 beside b = 5, and the tiles show b and their sum 6: a = 6 - 5 whatever F
    # hides, and nothing in F's line can be hidden instead. F is withheld.
    system = S._System(3)
    a, b, t = ("F", "row", "a"), (S.TILES, "All", "b"), (S.TILES, "All", "t")
    system.values = {a: 1, b: 5, t: 6}
    system.fixed = {b, t}
    system.lines = [[a, b, t]]
    shared = S._solve(system)
    assert shared.withheld == {"F"} and shared.cells("F") is None


def test_a_combination_of_sums_is_caught():
    # Spring's row gives NEET + moved away, Summer's special + moved away, the moved-away
    # column the two moved-away cells: no one sum has a single unknown, together they can.
    from analytics.suppression import pinned_cells
    lines = [["neet", "moved_s", "t1"], ["special", "moved_u", "t2"], ["moved_s", "moved_u", "t3"]]
    # NEET + moved_s = 4, special + moved_u = 3, moved_s + moved_u = 2: four unknowns, three
    # sums: any of them can still move
    assert pinned_cells(lines, {"neet", "special", "moved_s", "moved_u"}) == set()
    # with NEET shown, moved_s = 4 - NEET, then moved_u = 2 - moved_s and special = 3 - moved_u
    assert pinned_cells(lines, {"special", "moved_s", "moved_u"}) == {"special", "moved_s", "moved_u"}


# ---------------------------------------------------------------------------------------------
# An attacker over every outcomes figure as shared, on the sample data.

def _figures(con, as_of: date, joint: bool, threshold: int = 3, **narrow):
    """What the outcomes page (and the overview's trend by term) show, as {key: shown value},
    with the true values and the sums that hold between them. ``joint`` False: each figure on
    its own (the pages before figures were protected together)."""
    settings, f = Settings(), Filters(as_of=as_of, **narrow)
    p = resolve_period(f)
    truth, shown, sums, withheld = {}, {}, [], []

    def put(key, true, value):
        truth[key] = true
        if value != C and value is not None and value == value:
            shown[key] = value

    def alone(table, counts, label_col, rates=None):
        return suppress_table(_with_total(table, counts, label_col, rates), counts, rates, threshold,
                              total_row_label="Total")

    shared = S.shared_outcomes(con, f, settings) if joint else None

    def joint_shown(figure, table, label_col, cols):
        """The table as the joint protection shows it."""
        cells = shared.cells(figure)
        out = table.astype(object).copy()
        for i, label in enumerate(table[label_col]):
            for col in cols:
                if cells is None or (str(label), col) in cells:
                    out.loc[out.index[i], col] = C
        if cells is None:
            withheld.append(figure)
        return out

    s = O.summary(con, f, settings)
    tiles = S.shared_tiles(s, threshold)
    for k in ("ended", "returned", "unknown_destination"):
        put(("period", k), s[k], tiles[k])

    terms = trends.by_term(con, f, settings, unit="term")
    years = trends.by_term(con, f, settings, unit="academic_year")
    b = _with_total(terms[["label", "period_start", "as_of", "ended", "returned", "return_rate"]],
                    ["ended", "returned"], "label", {"return_rate": ("returned", "ended")})
    b_shown = (joint_shown("by_term", b, "label", ["ended", "returned"]) if joint else
               suppress_table(b, ["ended", "returned"], {"return_rate": ("returned", "ended")}, threshold,
                              total_row_label="Total"))
    for i, row in b.iterrows():
        for k in ("ended", "returned"):
            put(("term", row["label"], k), row[k], b_shown[k].iloc[i])
    # the overview's trend by term: placements ended to any destination, small counts hidden
    pe_shown = joint_shown("by_term", terms, "label", ["placements_ended"]) if joint else None
    for i, row in terms.iterrows():
        v = row["placements_ended"]
        put(("term", row["label"], "placements_ended"), v,
            pe_shown["placements_ended"].iloc[i] if joint else C if 0 < v < threshold else v)
        # beside its ended (not to another AP): the term's moves to another AP, never shown
        put(("term", row["label"], "other_ap"), v - row["ended"], C)
        sums.append(([("term", row["label"], "ended"), ("term", row["label"], "other_ap")],
                     ("term", row["label"], "placements_ended")))
    for k in ("ended", "returned"):
        sums.append(([("term", t, k) for t in terms["label"]], ("term", "Total", k)))
        in_period = [t.label for t in terms.itertuples() if t.period_start >= p.start and t.as_of <= p.end]
        sums.append(([("term", t, k) for t in in_period], ("period", k)))
    y_shown = joint_shown("years", years, "label", ["ended", "returned", "placements_ended"]) if joint else None
    for i, y in enumerate(years.itertuples()):   # the overview's trend by academic year
        in_year = [t.label for t in terms.itertuples() if t.period_start >= y.period_start and t.as_of <= y.as_of]
        for k in ("ended", "returned", "placements_ended"):
            v = getattr(y, k)
            put(("year", y.label, k), v, y_shown[k].iloc[i] if joint else C if 0 < v < threshold else v)
            sums.append(([("term", t, k) for t in in_year], ("year", y.label, k)))

    overall = O.destinations(con, f, settings, by=None)[["destination", "n"]]
    if overall.empty:
        return truth, shown, sums, withheld
    d = _with_total(overall, ["n"], "destination")
    d_shown = (joint_shown(("destinations", None), d, "destination", ["n"]) if joint else
               alone(overall, ["n"], "destination"))
    for i, row in d.iterrows():
        put(("dest", row["destination"]), row["n"], d_shown["n"].iloc[i])
    dests = overall["destination"].tolist()
    in_period = [t.label for t in terms.itertuples() if t.period_start >= p.start and t.as_of <= p.end]
    sums.append(([("term", t, "placements_ended") for t in in_period], ("dest", "Total")))
    sums += [([("dest", x) for x in dests], ("dest", "Total")),
             ([("dest", x) for x in dests if x != "other_ap"], ("period", "ended")),
             ([("dest", "mainstream")], ("period", "returned")),
             ([("dest", "unknown")], ("period", "unknown_destination"))]

    for by in ("term", *O.GROUP_BY):
        if by == "term":
            returns, returns_shown, label = b, b_shown, "label"
        else:
            g = O.by_group(con, f, settings, by)
            returns, label = _with_total(g, S.GROUP_COUNTS, "group", S.GROUP_RATES), "group"
            returns_shown = (joint_shown(("by_group", by), returns, "group", S.GROUP_COUNTS) if joint else
                             alone(g, S.GROUP_COUNTS, "group", S.GROUP_RATES))
            for i, row in returns.iterrows():
                for k in ("ended", "returned", "unknown_destination"):
                    put(("group", by, row["group"], k), row[k], returns_shown[k].iloc[i])
            for k in ("ended", "returned", "unknown_destination"):
                sums.append(([("group", by, x, k) for x in g["group"]], ("period", k)))
        long = O.destinations(con, f, settings, by=by)
        wide = O.destinations_wide(long)
        cols = [c for c in wide.columns if c != "group"]
        if joint:
            w_shown = joint_shown(("destinations", by), wide, "group", cols)
        else:   # as the pages drew it: one long table with one Total row
            long_shown = alone(long, ["n"], "group")
            cells = dict(zip(zip(long["group"], long["destination"]), long_shown["n"]))
            w_shown = wide.astype(object).copy()
            for i, grp in enumerate(wide["group"]):
                for c in cols:
                    w_shown.loc[i, c] = cells.get((grp, c), 0)
        for i, row in wide.iterrows():
            for c in cols:
                put((by, row["group"], c), row[c], w_shown[c].iloc[i])
        for c in cols:
            sums.append(([(by, x, c) for x in wide["group"]], ("dest", c)))
        for row in returns.itertuples():
            grp = getattr(row, label)
            if grp == "Total" or grp not in set(wide["group"]):
                continue
            if by == "term" and not (row.period_start >= p.start and row.as_of <= p.end):
                continue   # a term partly in the period: its returns are not these placements
            key = ("term", grp) if by == "term" else ("group", by, grp)
            sums.append(([(by, grp, c) for c in cols if c != "other_ap"], key + ("ended",)))
            if by == "term":
                sums.append(([(by, grp, c) for c in cols], ("term", grp, "placements_ended")))
            if "mainstream" in cols:
                sums.append(([(by, grp, "mainstream")], key + ("returned",)))
            if by != "term" and "unknown" in cols:
                sums.append(([(by, grp, "unknown")], key + ("unknown_destination",)))
    return truth, shown, sums, withheld


def _attack(truth, shown, sums):
    """Every value subtraction gives: a sum with one unknown term, and hidden cells adding up
    to 0. (On these figures a 'c' can stand for a 0, so k hidden cells adding up to k need not
    be 1s.) Returns {key: value found} for keys not shown."""
    known = dict(shown)

    def value(k):
        return known[k] if k in known else (0 if k not in truth else None)   # absent: a 0 nobody hides

    changed = True
    while changed:
        changed = False
        for parts, total in sums:
            unknown = [k for k in [*parts, total] if value(k) is None]
            if len(unknown) == 1:
                k = unknown[0]
                rest = sum(value(x) for x in parts if x != k)
                known[k] = rest if k == total else value(total) - rest
                changed = True
            elif unknown and total not in unknown and value(total) == sum(
                    value(x) for x in parts if x not in unknown):
                for k in unknown:
                    known[k] = 0
                changed = True
    return {k: v for k, v in known.items() if k not in shown}


def _bounds_attack(truth, shown, sums, threshold: int = 3) -> dict:
    """The linear-programming version: each hidden small count's least and greatest value
    given every sum and every hidden cell at least 0 (scipy's linprog). Returns {key: value}
    for those pinned to one value, whatever the route to it."""
    import numpy as np
    from scipy.optimize import linprog

    unknown = sorted({k for parts, total in sums for k in [*parts, total] if k in truth and k not in shown},
                     key=repr)
    index = {k: i for i, k in enumerate(unknown)}
    rows, rhs = [], []
    for parts, total in sums:
        row, constant = np.zeros(len(unknown)), 0.0
        for k, sign in [*((p, 1.0) for p in parts), (total, -1.0)]:
            if k in index:
                row[index[k]] += sign
            elif k in shown:
                constant += sign * shown[k]
        if row.any():
            rows.append(row)
            rhs.append(-constant)
    pinned = {}
    for k in unknown:
        if not 0 < truth[k] < threshold:
            continue
        c = np.zeros(len(unknown))
        c[index[k]] = 1.0
        low = linprog(c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(0, None), method="highs")
        high = linprog(-c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(0, None), method="highs")
        assert low.status == 0 and high.status in (0, 3), k   # the true values are a solution
        if high.status == 0 and -high.fun - low.fun < 1e-6:   # (3: no greatest value)
            pinned[k] = round(low.fun)
    return pinned


def _dates():
    d, out = date(2023, 10, 31), []
    while d < date(2025, 9, 1):
        out.append(d)
        d += timedelta(days=45)
    return out


def test_figure_by_figure_the_sample_gives_hidden_counts_away(sample_db_copy):
    # The attacker is not toothless: against the figures each protected on its own, it finds
    # small counts on most of these dates.
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    found = 0
    for as_of in _dates():
        truth, shown, sums, _ = _figures(con, as_of, joint=False)
        found_here = {k: v for k, v in _attack(truth, shown, sums).items() if 0 < truth[k] < 3}
        assert all(v == truth[k] for k, v in found_here.items())
        found += bool(found_here)
    assert found >= len(_dates()) // 2, found


def test_protected_together_no_small_count_can_be_worked_out(sample_db_copy):
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    hidden_small = withheld = 0
    for as_of in _dates():
        truth, shown, sums, withheld_here = _figures(con, as_of, joint=True)
        found = _attack(truth, shown, sums)
        assert all(v == truth[k] for k, v in found.items()), as_of   # the attacker is sound
        leaks = {k: v for k, v in found.items() if 0 < truth[k] < 3}
        assert not leaks, (as_of, leaks)
        assert not _bounds_attack(truth, shown, sums), as_of
        hidden_small += sum(1 for k, v in truth.items() if k not in shown and 0 < v < 3)
        withheld += len(withheld_here)
    assert hidden_small > 100, hidden_small
    # a breakdown is withheld only where nothing else protects it, rarely on the sample
    assert withheld <= len(_dates()), withheld


@pytest.mark.parametrize("narrow", [{"setting_type": ("online",)}, {"sex": ("F",), "cla": True},
                                    {"reason": ("permanent_exclusion",)}])
def test_protected_together_under_filters_that_leave_few(sample_db_copy, narrow):
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    for as_of in (date(2024, 7, 20), date(2025, 3, 24)):
        truth, shown, sums, _ = _figures(con, as_of, joint=True, **narrow)
        found = _attack(truth, shown, sums)
        assert all(v == truth[k] for k, v in found.items()), as_of
        assert not {k: v for k, v in found.items() if 0 < truth[k] < 3}, (as_of, narrow)
        assert not _bounds_attack(truth, shown, sums), (as_of, narrow)


@pytest.mark.parametrize("narrow", [{}, {"setting_type": ("online",)}, {"sex": ("F",)}])
def test_the_years_in_the_protection_are_the_trend_by_academic_year(sample_db_copy, narrow):
    # The protection sums the terms instead of asking for the trend by academic year again; the
    # trend's own query must give the same counts.
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    for as_of in (date(2024, 7, 20), date(2025, 3, 24)):
        f = Filters(as_of=as_of, **narrow)
        years = trends.by_term(con, f, Settings(), unit="academic_year")
        summed = S.years_from_terms(trends.by_term(con, f, Settings(), unit="term"))
        cols = ["label", "ended", "returned", "placements_ended"]
        assert years[cols].values.tolist() == summed[cols].values.tolist()
