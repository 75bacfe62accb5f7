"""The exclusions figures protected together on shared screens and in files (metrics.md §7),
as the outcomes figures are (analytics/outcomes_shared.py, whose engine this uses).

The exclusions page shows the same counts several times over: the tiles (suspensions, permanent
and lunchtime exclusions in the period) are the Total row of every breakdown; the terms add up
to the academic years; and each trust's counts are the sums of its schools'. Figure by figure,
a school's hidden count came back from its trust's on 9 of 15 dates tested on the sample. Here
every cell of every breakdown (term, academic year, school, trust, reason) is one unknown in one
system of sums, with the counts by school and trust together as unknowns no figure shows
(through them, a trust's count is the sum of its schools', even for a school that changed
trust in the period).
Pupils suspended do not add up across rows (a pupil can be in two) and keep their own rule.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import duckdb
import pandas as pd

from analytics.exclusions import GROUPS, by_group, by_school_and_trust, summary
from analytics.outcomes_shared import TILES, Shared, _solve, _System
from analytics.settings import Filters, Settings
from analytics.suppression import SUPPRESSED, suppress_count

COUNTS = ["suspensions", "permanent", "lunchtime"]
_TILE_KEYS = {"suspensions": "suspensions", "permanent": "permanent_exclusions", "lunchtime": "lunchtime"}


def _same_cost(cell, lines_of) -> int:
    return 1


def protect(summary_: dict, groups: Mapping[str, pd.DataFrame], school_trust: pd.DataFrame | None,
            threshold: int = 3) -> Shared:
    """The cells each exclusions breakdown hides (module docstring): ``summary_``
    (exclusions.summary), ``groups`` ({by: exclusions.by_group}) and ``school_trust``
    (exclusions.by_school_and_trust). Figures are named ("by_group", by)."""
    sys = _System(threshold)
    for col, key in _TILE_KEYS.items():
        cell = (TILES, "All", col)
        sys.values[cell] = int(summary_.get(key) or 0)
        (sys.hidden if suppress_count(sys.values[cell], threshold) == SUPPRESSED else sys.fixed).add(cell)
    sys.breakdowns(groups, COUNTS, {col: (TILES, "All", col) for col in COUNTS})
    terms, years = groups.get("term"), groups.get("academic_year")
    if terms is not None and years is not None and len(terms) and len(years):
        for year in years["group"].astype(str):
            in_year = [str(t) for t in terms["group"] if str(t).split()[-1] == year]
            for col in COUNTS:
                sys.lines.append([(("by_group", "term"), t, col) for t in in_year]
                                 + [(("by_group", "academic_year"), year, col)])
    if school_trust is not None and len(school_trust):
        for r in school_trust.itertuples():
            for col in COUNTS:
                sys.values[("by school and trust", f"{r.school}\n{r.trust}", col)] = int(getattr(r, col))
        # no figure shows them, and what is sensitive in them is the schools' and trusts' own
        # counts: unknowns to the reader, through which a trust's count gives a school's back
        sys.free |= {c for c in sys.values if c[0] == "by school and trust"}
        for by in ("school", "trust"):
            fig = ("by_group", by)
            if fig not in sys.rows:
                continue
            for label in sys.rows[fig][:-1]:
                for col in COUNTS:
                    cells = [("by school and trust", f"{r.school}\n{r.trust}", col) for r in school_trust.itertuples()
                             if str(getattr(r, by)) == label]
                    sys.lines.append(cells + [(fig, label, col)])
    return _solve(sys, _same_cost)


def shared_exclusions(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                      today: date | None = None) -> Shared:
    """:func:`protect` on the store's figures for these filters and settings."""
    return protect(summary(con, filters, settings, today),
                   {by: by_group(con, filters, settings, by, today) for by in GROUPS},
                   by_school_and_trust(con, filters, settings, today), int(settings.suppress_below))


SIXTH_DAY = ("met", "not_met", "not_reached", "eligible", "permanent")


def protect_sixth_day(permanent: int, eligible: int, met: int, threshold: int = 3) -> set:
    """Which of the sixth-day counts to hide, wherever they are shown: the Permanent tile
    (``permanent``), "met of eligible whose sixth school day has passed" (and the overview's
    sixth-day n), and the outcomes table (met, not met, not yet reached, Total = permanent).
    met + not met = eligible and eligible + not yet reached = permanent, so a Permanent tile
    beside "of 26" gives 2 exclusions too recent to judge back. Names from SIXTH_DAY.

    >>> sorted(protect_sixth_day(28, 26, 18))   # 2 not yet reached: 26 and then 8 not met go
    ['eligible', 'not_met', 'not_reached']
    >>> protect_sixth_day(28, 20, 14)
    set()
    """
    sys = _System(threshold)
    values = {"met": met, "not_met": eligible - met, "not_reached": permanent - eligible,
              "eligible": eligible, "permanent": permanent}

    def cell(name):
        return ("sixth day", "All", name)
    for name, v in values.items():
        sys.values[cell(name)] = int(v)
    if suppress_count(permanent, threshold) != SUPPRESSED:
        sys.fixed.add(cell("permanent"))   # the Permanent tile, every breakdown's Total
    sys.lines += [[cell("met"), cell("not_met"), cell("eligible")],
                  [cell("eligible"), cell("not_reached"), cell("permanent")]]
    shared = _solve(sys, _same_cost)
    hidden = shared.cells("sixth day")
    return set(SIXTH_DAY) if hidden is None else {name for _, name in hidden}
