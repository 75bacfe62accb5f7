"""The outcomes figures protected together on shared screens and in files (metrics.md §7).

metrics.md §7 protects totals "so that a hidden cell cannot be worked out by subtraction". The
outcomes figures show the same counts several times over, so a figure protected on its own gives
another's hidden cells back:

- the headline tiles: placements ended in the period, returns, unknown destinations, returns
  old enough to judge and those sustained;
- the returns by term (every term to as_of, with a Total row); the overview's trend by term
  shows the same counts, and its trend by academic year their sums;
- the returns by provider, reason, commissioner and setting type (Total row = the tiles);
- the destinations of all (Total row = the chart's n), and by term and by each group: a group's
  destinations other than another AP add up to its placements ended in the returns, its
  mainstream cell is its returns and its unknown cell its unknown destinations.

A reviewer set the destinations by term beside the returns by term and worked out a term's
hidden NEET count. Here every cell of every one of those figures is one unknown in one system
of sums, and cells are hidden until none of the small ones can be worked out:

1. small counts are hidden; a tile the headline hides is hidden everywhere it appears;
2. line by line, a second cell is hidden wherever one line gives a hidden cell back
   (suppression.protect_cells; a 0 may be hidden where nothing else is left, so on these
   figures a 'c' can stand for a 0);
3. across lines, Gaussian elimination finds any small hidden count that a combination of sums
   fixes (suppression.pinned_cells), and another cell of one of its lines is hidden;
4. a figure none of that can protect is withheld (the page says so and offers no file).

Every view (all five breakdowns of the destinations, all four of the returns) is in the one
system, whichever the page shows, so switching views gives nothing away. The tiles are shown
as the headline shows them and are never hidden here. Parts no figure shows (a group's
destinations other than mainstream and unknown, say) are unknowns at least 0: a hidden 0
beside a group whose ended equals its returns is known to be 0.

Figures are named ``"tiles"``, ``"by_term"``, ``"years"``, ``("by_group", by)`` and
``("destinations", by)`` (``by`` None for all); cells by (row label, column), the Total row's
label being "Total".
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from analytics import trends
from analytics.outcomes import (DESTINATIONS, GROUP_BY, by_groups, destinations, destinations_by_groups,
                                destinations_wide, summary)
from analytics.settings import Filters, Period, Settings, resolve_period
from analytics.suppression import (SUPPRESSED, TOTAL_LABEL, _is_small, pinned_cells, protect_cells,
                                   suppress_count, suppress_part)

GROUP_COUNTS = ["ended", "returned", "unknown_destination", "sustained_eligible", "sustained"]
GROUP_RATES = {"rate": ("returned", "ended"), "sustained_rate": ("sustained", "sustained_eligible")}
RETURN_RATE = {"return_rate": ("returned", "ended")}
NOT_TO_OTHER_AP = tuple(d for d in DESTINATIONS if d != "other_ap")
TILES = "tiles"


def shared_tiles(summary: dict, threshold: int = 3) -> dict:
    """The headline counts as the tiles show them: ended, returned (shown as "x of ended"),
    unknown_destination, sustained_eligible, sustained (as "x of eligible") and broke_down.

    >>> shared_tiles({"ended": 10, "returned": 8, "unknown_destination": 2,
    ...               "sustained": {"eligible": 8, "sustained": 5}})
    {'ended': 10, 'returned': 'c', 'unknown_destination': 'c', 'sustained_eligible': 8, 'sustained': 5, 'broke_down': 3}
    """
    sus = summary.get("sustained") or {}
    eligible, sustained = sus.get("eligible") or 0, sus.get("sustained") or 0
    return {
        "ended": suppress_count(summary["ended"], threshold),
        "returned": suppress_part(summary["returned"], summary["ended"], threshold),
        "unknown_destination": suppress_count(summary.get("unknown_destination"), threshold),
        "sustained_eligible": suppress_count(eligible, threshold),
        "sustained": suppress_part(sustained, eligible, threshold),
        "broke_down": suppress_part(eligible - sustained, eligible, threshold),
    }


@dataclass
class Shared:
    """What the outcomes figures hide: {figure: {(row label, column)}} and the figures withheld."""
    hidden: dict = field(default_factory=dict)
    withheld: set = field(default_factory=set)

    def cells(self, figure) -> set | None:
        """The cells to hide in ``figure``, or None when it is withheld."""
        return None if figure in self.withheld else self.hidden.get(figure, set())


class _System:
    """Cells (figure, row label, column) with their values, and the sums between them."""

    def __init__(self, threshold: int):
        self.threshold = threshold
        self.values: dict = {}
        self.lines: list = []
        self.fixed: set = set()     # shown whatever happens here (the tiles, a chart's n)
        self.hidden: set = set()    # hidden from the start (a tile the headline hides)
        self.free: set = set()      # parts no figure shows
        self.unshown: set = set()   # counts no figure shows, that must not be worked out
        self.rows: dict = {}        # figure -> its row labels

    def table(self, figure, df: pd.DataFrame, label_col: str, cols) -> None:
        """A figure's body rows, and its Total row (the sum of each column)."""
        labels = [str(v) for v in df[label_col].tolist()]
        self.rows[figure] = labels + [TOTAL_LABEL]
        for col in cols:
            values = [int(v) for v in pd.to_numeric(df[col], errors="coerce").fillna(0)]
            for label, v in zip(labels, values):
                self.values[(figure, label, col)] = v
            self.values[(figure, TOTAL_LABEL, col)] = sum(values)
            self.lines.append([(figure, label, col) for label in labels] + [(figure, TOTAL_LABEL, col)])

    def breakdowns(self, groups: Mapping, cols, totals: Mapping) -> list:
        """Each breakdown ({by: a frame with a "group" column}) as the figure ("by_group", by),
        its Total row showing the same counts as ``totals`` ({column: the tile's cell}).
        Returns the figures added."""
        added = []
        for by, g in groups.items():
            if g is None or not len(g):
                continue
            fig = ("by_group", by)
            self.table(fig, g, "group", cols)
            for col in cols:
                self.same((fig, TOTAL_LABEL, col), totals[col])
            added.append(fig)
        return added

    def same(self, a, b) -> None:
        """Two figures show one count."""
        if a in self.values and b in self.values:
            self.lines.append([a, b])

    def shown_everywhere(self) -> set:
        """The fixed cells and every cell they give away: the other cell of a sum whose cells
        but one are fixed (a count two figures show, a group's ended beside a fixed total)."""
        fixed, changed = set(self.fixed), True
        while changed:
            changed = False
            for line in self.lines:
                rest = [c for c in line if c not in fixed]
                if (len(rest) == 1 and rest[0] not in self.free | self.unshown | self.hidden
                        and not _is_small(self.values[rest[0]], self.threshold)):
                    fixed.add(rest[0])
                    changed = True
        return fixed

    def rest(self, parts, whole, counted: bool = False) -> None:
        """whole = parts + a rest no figure shows (at least 0). ``counted``: the rest is a count
        of pupils in its own right (moves to another AP: a destination the breakdowns show), so
        it is never shown and, when small, must not be worked out either."""
        if whole not in self.values or not all(p in self.values for p in parts):
            return
        key = ("not shown", len(self.lines))
        self.values[key] = self.values[whole] - sum(self.values[p] for p in parts)
        (self.unshown if counted else self.free).add(key)
        self.lines.append([*parts, key, whole])


def years_from_terms(by_term: pd.DataFrame) -> pd.DataFrame:
    """The trend by academic year's counts of placements ended and returns, as the sums of its
    terms (the terms of a year cover it, and no placement ended before the first term shown):
    [label, period_start, as_of, ended, returned, placements_ended].

    >>> terms = pd.DataFrame({"label": ["Summer 2023/24", "Autumn 2024/25", "Spring 2024/25"],
    ...     "period_start": [date(2024, 4, 1), date(2024, 9, 1), date(2025, 1, 1)],
    ...     "as_of": [date(2024, 8, 31), date(2024, 12, 31), date(2025, 3, 1)],
    ...     "ended": [4, 5, 6], "returned": [1, 2, 3], "placements_ended": [5, 5, 7]})
    >>> years_from_terms(terms)[["label", "ended", "returned", "placements_ended"]].to_dict("list")
    {'label': ['2023/24', '2024/25'], 'ended': [4, 11], 'returned': [1, 5], 'placements_ended': [5, 12]}
    """
    cols = [c for c in ("ended", "returned", "placements_ended") if c in by_term.columns]
    d = by_term.assign(label=by_term["label"].astype(str).str.split().str[-1])
    out = d.groupby("label", sort=False).agg(period_start=("period_start", "min"), as_of=("as_of", "max"),
                                            **{c: (c, "sum") for c in cols})
    return out.reset_index()


def _whole_terms(by_term: pd.DataFrame, start: date, end: date) -> list[str]:
    """Labels of the terms (rows of trends.by_term) lying wholly within [start, end]."""
    return [str(r.label) for r in by_term.itertuples()
            if pd.Timestamp(r.period_start).date() >= start and pd.Timestamp(r.as_of).date() <= end]


def protect(summary_: dict, by_term: pd.DataFrame | None, years: pd.DataFrame | None,
            groups: Mapping[str, pd.DataFrame], dests: Mapping, period: Period,
            threshold: int = 3) -> Shared:
    """The cells each outcomes figure hides (module docstring), from the figures' data:
    ``summary_`` (outcomes.summary), ``by_term`` and ``years`` (trends.by_term by term and by
    academic year), ``groups`` ({by: outcomes.by_group}) and ``dests`` ({by: outcomes.destinations},
    by None for all). Any of them may be left out (no figure, no cells)."""
    sys = _System(threshold)
    tiles = shared_tiles(summary_, threshold)
    sus = summary_.get("sustained") or {}
    true_tiles = {"ended": summary_["ended"], "returned": summary_["returned"],
                  "unknown_destination": summary_.get("unknown_destination") or 0,
                  "sustained_eligible": sus.get("eligible") or 0, "sustained": sus.get("sustained") or 0}
    for k, v in true_tiles.items():
        key = (TILES, "All", k)
        sys.values[key] = int(v)
        (sys.hidden if tiles[k] == SUPPRESSED else sys.fixed).add(key)
    tile = {k: (TILES, "All", k) for k in true_tiles}

    period_terms = None   # the terms making up the period exactly, if they do
    if by_term is not None and len(by_term):
        sys.table("by_term", by_term, "label", ["ended", "returned"])
        for label in sys.rows["by_term"]:
            sys.rest([("by_term", label, "returned")], ("by_term", label, "ended"))
        end = min(period.end, period.as_of)
        in_period = _whole_terms(by_term, period.start, period.end)
        starts = [pd.Timestamp(r.period_start).date() for r in by_term.itertuples() if str(r.label) in in_period]
        ends = [pd.Timestamp(r.as_of).date() for r in by_term.itertuples() if str(r.label) in in_period]
        if in_period and min(starts) == period.start and max(ends) == end:
            period_terms = in_period
            for col in ("ended", "returned"):
                sys.lines.append([("by_term", t, col) for t in in_period] + [tile[col]])
        # the overview's trend shows each term's placements ended to any destination too: its
        # ended, and its moves to another AP (a cell of the destinations by term)
        if "placements_ended" in by_term.columns:
            for r in by_term.itertuples():
                key = ("by_term", str(r.label), "placements_ended")
                sys.values[key] = int(r.placements_ended)
                sys.rest([("by_term", str(r.label), "ended")], key, counted=True)
        for y in (years.itertuples() if years is not None else ()):
            label = str(y.label)
            for col in ("ended", "returned", "placements_ended"):
                if col not in by_term.columns or not hasattr(y, col):
                    continue
                sys.values[("years", label, col)] = int(getattr(y, col))
                terms = _whole_terms(by_term, pd.Timestamp(y.period_start).date(), pd.Timestamp(y.as_of).date())
                sys.lines.append([("by_term", t, col) for t in terms] + [("years", label, col)])
            sys.rest([("years", label, "returned")], ("years", label, "ended"))
            sys.rest([("years", label, "ended")], ("years", label, "placements_ended"), counted=True)

    for fig in sys.breakdowns(groups, GROUP_COUNTS, tile):
        for label in sys.rows[fig]:
            c = {col: (fig, label, col) for col in GROUP_COUNTS}
            sys.rest([c["returned"], c["unknown_destination"]], c["ended"])
            sys.rest([c["sustained_eligible"]], c["returned"])
            sys.rest([c["sustained"]], c["sustained_eligible"])

    overall = dests.get(None)
    if overall is not None and len(overall):
        fig = ("destinations", None)
        sys.table(fig, overall, "destination", ["n"])
        # its Total is the chart's n (all placements ended): beside the tile's ended, it gives
        # the moves to another AP, so it is hidden with them (the sums below)
        codes = [str(d) for d in overall["destination"]]
        sys.lines.append([(fig, d, "n") for d in codes if d in NOT_TO_OTHER_AP] + [tile["ended"]])
        sys.same((fig, "mainstream", "n"), tile["returned"])
        sys.same((fig, "unknown", "n"), tile["unknown_destination"])
        if period_terms and ("by_term", period_terms[0], "placements_ended") in sys.values:
            sys.lines.append([("by_term", t, "placements_ended") for t in period_terms] + [(fig, TOTAL_LABEL, "n")])

    for by, long in dests.items():
        if by is None or long is None or not len(long):
            continue
        fig = ("destinations", by)
        wide = destinations_wide(long)
        cols = [c for c in wide.columns if c != "group"]
        sys.table(fig, wide, "group", cols)
        for d in cols:
            sys.same((fig, TOTAL_LABEL, d), (("destinations", None), d, "n"))
        returns = "by_term" if by == "term" else ("by_group", by)
        whole = (set(_whole_terms(by_term, period.start, period.end)) if by == "term" and by_term is not None
                 else None)
        for label in sys.rows[fig][:-1]:
            if whole is not None and label not in whole:
                continue   # a term partly in the period: its returns count other placements too
            ended = (returns, label, "ended")
            if ended in sys.values:
                sys.lines.append([(fig, label, d) for d in cols if d in NOT_TO_OTHER_AP] + [ended])
            if by == "term" and ("by_term", label, "placements_ended") in sys.values:
                sys.lines.append([(fig, label, d) for d in cols] + [("by_term", label, "placements_ended")])
            sys.same((fig, label, "mainstream"), (returns, label, "returned"))
            if by != "term":
                sys.same((fig, label, "unknown"), (returns, label, "unknown_destination"))
    return _solve(sys)


def _cost(cell, lines_of) -> int:
    """What hiding a cell takes from the reader, to hide the cheapest first: the overview's
    placements ended to any destination (0); a breakdown's destination (1); the returns and
    placements ended that the return rates are built on, and any count two figures show (3)."""
    figure, _, column = cell if len(cell) == 3 else (cell[0], None, None)
    if column == "placements_ended":
        return 0
    shown_twice = any(len(line) == 2 for line in lines_of.get(cell, ()))
    if figure in ("by_term", "years") or (isinstance(figure, tuple) and figure[0] == "by_group") or shown_twice:
        return 3
    return 1


def _solve(sys: _System, cost_of=None) -> Shared:
    """Steps 2-4 of the module docstring. A withheld figure's cells become parts no figure
    shows: unknowns to the reader, never hidden to protect another cell. ``cost_of(cell,
    lines_of)``: what hiding a cell takes from the reader (default: the outcomes figures')."""
    withheld: set = set()
    already, free = set(sys.hidden) | sys.unshown, set(sys.free)
    sys.fixed = sys.shown_everywhere()
    lines_of: dict = {}
    for line in sys.lines:
        for cell in line:
            lines_of.setdefault(cell, []).append(line)
    cost = {cell: (cost_of or _cost)(cell, lines_of) for cell in sys.values}

    def candidate(cell, hidden):
        """Another cell to hide: in one of the cell's lines the smallest non-zero, else a 0;
        failing that, in the lines of the hidden cells of those lines, and so on outwards (a
        cell fixed by a combination of sums is freed by hiding a cell of one of them)."""
        seen, frontier = {cell}, [cell]
        while frontier:
            lines = [line for c in frontier for line in lines_of.get(c, ())]
            options = [c for line in lines for c in line
                       if c not in hidden and c not in sys.fixed and c not in free and c not in sys.unshown]
            nonzero = [c for c in options if sys.values[c] != 0]
            if options:
                return min(nonzero or options, key=lambda c: (cost[c], sys.values[c], repr(c)))
            frontier = [c for line in lines for c in line if c in hidden and c not in seen]
            seen |= set(frontier)
        return None

    for _ in range(10_000):
        hidden, left_open = protect_cells(sys.values, sys.lines, sys.threshold, sys.fixed | free, True,
                                          already - free, free, cost)
        hidden |= free
        pins = sorted((c for c in pinned_cells(sys.lines, hidden)
                       if c not in free and _is_small(sys.values[c], sys.threshold)), key=repr)
        if pins and (more := candidate(pins[0], hidden)) is not None:
            already = hidden | {more}
            continue
        trouble = pins[:1] or [c for line in left_open for c in line
                               if c in hidden and c not in free and c not in sys.unshown and c[0] != TILES][:1]
        if not trouble:
            break
        # nothing left to hide in its lines: withhold the figure (or, for a tile, the others)
        figures = {trouble[0][0]} - {TILES, "not shown"} or {
            c[0] for line in lines_of.get(trouble[0], ()) for c in line
            if c not in free and c[0] not in (TILES, "not shown")}
        figures -= withheld
        if not figures:
            break
        withheld |= figures
        free |= {c for c in sys.values if c[0] in figures}
        already = hidden - free
    out = Shared(withheld=withheld)
    for cell in hidden - free - sys.unshown:
        if cell[0] != TILES:
            out.hidden.setdefault(cell[0], set()).add((cell[1], cell[2]))
    return out


def in_order(by_groups_: dict, by_term: pd.DataFrame) -> dict:
    """The destinations as :func:`protect` takes them: all, by term, then each breakdown."""
    return {None: by_groups_[None], "term": by_term, **{by: by_groups_[by] for by in GROUP_BY}}


def shared_outcomes(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                    today: date | None = None) -> Shared:
    """:func:`protect` on the store's figures for these filters and settings."""
    period = resolve_period(filters, today)
    return protect(
        summary(con, filters, settings, today),
        terms := trends.by_term(con, filters, settings, unit="term", today=today),
        years_from_terms(terms),
        by_groups(con, filters, settings, today),
        in_order(destinations_by_groups(con, filters, settings, today),
                  destinations(con, filters, settings, by="term", today=today)),
        period, int(settings.suppress_below))
