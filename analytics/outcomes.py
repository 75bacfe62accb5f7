"""Return to mainstream (metrics.md §2): ended placements, returns, destinations and whether
a return was sustained.

``summary`` is the report's "return_to_mainstream" section. For the dashboard: ``by_group``,
``destinations`` and ``returns`` (one row per return, with what broke it down).

A return is broken down by any other placement of the same pupil, or a permanent exclusion of
the pupil, starting in [end_date, end_date + sustain_days]; both look at all of the pupil's
records, not only the filtered placements (a return from provider A broken by a placement at
provider B is still broken). Nothing after as_of is looked at.

>>> from tests.factories import make_db, placement
>>> con = make_db(placements=[placement("P1", "2024-09-02", "2024-10-18", destination="mainstream")])
>>> s = summary(con, Filters(as_of=date(2025, 6, 1)), Settings())
>>> s["ended"], s["returned"], s["rate"], s["sustained"]
(1, 1, 1.0, {'eligible': 1, 'sustained': 1, 'rate': 1.0})
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics.schema import DESTINATIONS
from analytics.settings import Filters, Period, Settings
from analytics.time_in_ap import group_sql, rate, scope

# trust and home school: which schools' pupils come back (the thematic review's "crossfire")
GROUP_BY = ("provider", "reason", "commissioner", "setting_type", "trust", "home_school")


def _ended_sql(sql: str, params: list, period: Period, settings: Settings,
               by: str | None = None, all_groups: bool = False) -> tuple[str, list]:
    """One row per placement ended in the period: its group, canonical destination and, for
    returns to mainstream, whether it is eligible, the first breakdown and what caused it.
    ``all_groups``: each breakdown's group too, as grp_<by> (for one query of them all)."""
    a = period.as_of
    every = "".join(f"{group_sql(b, GROUP_BY)} AS grp_{b}, " for b in GROUP_BY) if all_groups else ""
    query = f"""
        WITH s AS ({sql}),
        ended AS (
            SELECT placement_id, pupil_id, provider, provider_key, eff_end AS end_date,
                   {every}{group_sql(by, GROUP_BY)} AS grp,
                   CASE WHEN list_contains(?::VARCHAR[], lower(trim(eff_destination)))
                        THEN lower(trim(eff_destination))
                        WHEN trim(eff_destination) = '' THEN 'unknown'
                        ELSE 'other' END AS destination
            FROM s WHERE eff_end BETWEEN ? AND ?),
        returns AS (
            SELECT placement_id, pupil_id, end_date,
                   LEAST(end_date + ?::INTEGER, ?::DATE) AS until,
                   end_date + ?::INTEGER <= ?::DATE AS eligible
            FROM ended WHERE destination = 'mainstream'),
        later AS (
            SELECT pupil_id, start_date AS at, placement_id, 0 AS kind FROM placements
            UNION ALL
            SELECT pupil_id, start_date, NULL, 1 FROM exclusions
            WHERE lower(trim(category)) = 'permanent'),
        -- The first breakdown in [end_date, min(end_date + sustain_days, as_of)]; on the same
        -- day an exclusion (kind 1) wins over a placement (kind 0).
        breaks AS (
            SELECT r.placement_id, arg_min(l.kind, (l.at, -l.kind)) AS kind
            FROM returns r JOIN later l
              ON l.pupil_id = r.pupil_id AND l.at BETWEEN r.end_date AND r.until
             AND (l.placement_id IS NULL OR l.placement_id <> r.placement_id)
            GROUP BY r.placement_id)
        SELECT e.*, r.eligible,
               CASE b.kind WHEN 1 THEN 'permanent_exclusion' WHEN 0 THEN 'placement' END AS broke_down_by
        FROM ended e
        LEFT JOIN returns r USING (placement_id)
        LEFT JOIN breaks b USING (placement_id)
    """
    return query, params + [list(DESTINATIONS), period.start, period.end,
                            settings.sustain_days, a, settings.sustain_days, a]


_AGGREGATES = """
    count(*) FILTER (WHERE destination <> 'other_ap') AS ended,
    count(*) FILTER (WHERE destination = 'mainstream') AS returned,
    count(*) FILTER (WHERE destination = 'unknown') AS unknown_destination,
    count(*) FILTER (WHERE eligible) AS sustained_eligible,
    count(*) FILTER (WHERE eligible AND broke_down_by IS NULL) AS sustained
"""


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None) -> dict:
    """The report's "return_to_mainstream" section (metrics.md §2, §8)."""
    period, sql, params = scope(filters, settings, today)
    ended_sql, ended_params = _ended_sql(sql, params, period, settings)
    rows = con.execute(f"""
        WITH e AS ({ended_sql})
        SELECT destination, {_AGGREGATES}, count(*) AS n FROM e GROUP BY destination
    """, ended_params).fetchall()
    ended = returned = unknown = eligible = sustained = 0
    by_destination = {}
    for destination, e, r, u, el, su, n in rows:
        ended, returned, unknown = ended + e, returned + r, unknown + u
        eligible, sustained = eligible + el, sustained + su
        by_destination[destination] = int(n)
    return {
        "ended": ended, "returned": returned, "rate": rate(returned, ended),
        "unknown_destination": unknown,
        "by_destination": {d: by_destination[d] for d in DESTINATIONS if d in by_destination},
        "sustained": {"eligible": eligible, "sustained": sustained, "rate": rate(sustained, eligible)},
    }


def by_group(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, by: str,
             today: date | None = None) -> pd.DataFrame:
    """The summary per group: [group, ended, returned, rate, unknown_destination,
    sustained_eligible, sustained, sustained_rate]; ``by`` is 'provider', 'reason',
    'commissioner' or 'setting_type'. Groups with only other_ap endings show ended 0."""
    if by is None:
        raise ValueError("by_group needs a breakdown; use summary() for the total.")
    period, sql, params = scope(filters, settings, today)
    ended_sql, ended_params = _ended_sql(sql, params, period, settings, by)
    return con.execute(f"""
        WITH e AS ({ended_sql}),
        g AS (SELECT grp AS "group", {_AGGREGATES} FROM e GROUP BY grp)
        SELECT "group", ended, returned,
               CASE WHEN ended > 0 THEN returned / ended END AS rate,
               unknown_destination, sustained_eligible, sustained,
               CASE WHEN sustained_eligible > 0 THEN sustained / sustained_eligible END AS sustained_rate
        FROM g ORDER BY ended DESC, "group"
    """, ended_params).df()


def _grouping_sets(con, ended_sql: str, ended_params: list, select: str, extra: tuple[str, ...] = (),
                   whole: bool = False) -> dict[str | None, pd.DataFrame]:
    """``select`` (aggregates) for every breakdown of GROUP_BY at once (one scan of the ended
    placements, GROUPING SETS), each with ``extra`` columns grouped too; ``whole``: the set of
    ``extra`` alone as well (key None, group 'All'). {by: frame with a "group" column}."""
    keys = ", ".join(extra)
    sets = [f"(grp_{b}{', ' + keys if keys else ''})" for b in GROUP_BY] + ([f"({keys})"] if whole else [])
    flags = ", ".join(f"GROUPING(grp_{b}) AS _g_{b}" for b in GROUP_BY)
    df = con.execute(f"""
        WITH e AS ({ended_sql})
        SELECT {flags}, COALESCE({', '.join(f'grp_{b}' for b in GROUP_BY)}, 'All') AS "group"
               {', ' + keys if keys else ''}, {select}
        FROM e GROUP BY GROUPING SETS ({', '.join(sets)})
    """, ended_params).df()
    out: dict[str | None, pd.DataFrame] = {}
    for b in GROUP_BY + ((None,) if whole else ()):
        mask = pd.Series(True, index=df.index)
        for other in GROUP_BY:
            mask &= df[f"_g_{other}"] == (0 if other == b else 1)
        out[b] = df[mask].drop(columns=[f"_g_{o}" for o in GROUP_BY]).reset_index(drop=True)
    return out


def by_groups(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
              today: date | None = None) -> dict[str, pd.DataFrame]:
    """:func:`by_group` for every breakdown of GROUP_BY, from one query: {by: frame}."""
    period, sql, params = scope(filters, settings, today)
    ended_sql, ended_params = _ended_sql(sql, params, period, settings, all_groups=True)
    out = {}
    for by, g in _grouping_sets(con, ended_sql, ended_params, _AGGREGATES).items():
        g = g.astype({c: "int64" for c in ("ended", "returned", "unknown_destination", "sustained_eligible",
                                           "sustained")})
        # as the SQL of by_group gives them: a float, NaN where the denominator is 0
        g["rate"] = (g["returned"] / g["ended"]).where(g["ended"] > 0)
        g["sustained_rate"] = (g["sustained"] / g["sustained_eligible"]).where(g["sustained_eligible"] > 0)
        out[by] = (g.sort_values(["ended", "group"], ascending=[False, True])
                   [["group", "ended", "returned", "rate", "unknown_destination", "sustained_eligible", "sustained",
                     "sustained_rate"]].reset_index(drop=True))
    return out


def destinations_by_groups(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                           today: date | None = None) -> dict[str | None, pd.DataFrame]:
    """:func:`destinations` for all (None) and every breakdown of GROUP_BY, from one query
    (the terms stay with :func:`destinations`): {by: [group, destination, n]}."""
    period, sql, params = scope(filters, settings, today)
    ended_sql, ended_params = _ended_sql(sql, params, period, settings, all_groups=True)
    order = {d: i for i, d in enumerate(DESTINATIONS)}
    out = {}
    for by, g in _grouping_sets(con, ended_sql, ended_params, "count(*) AS n", ("destination",), whole=True).items():
        g = g.astype({"n": "int64"}).assign(_o=g["destination"].map(order))
        out[by] = g.sort_values(["group", "_o"])[["group", "destination", "n"]].reset_index(drop=True)
    return out


def destinations(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                 by: str | None = None, today: date | None = None) -> pd.DataFrame:
    """Counts of every placement ended in the period by destination (other_ap included):
    [group, destination, n]; group is 'All' when ``by`` is None, and the term of the end date
    ('Autumn 2024/25') when ``by`` is 'term' (terms in date order). Zero counts are left out."""
    period, sql, params = scope(filters, settings, today)
    per_term = by == "term"
    ended_sql, ended_params = _ended_sql(sql, params, period, settings, None if per_term else by)
    order = "CASE destination " + " ".join(
        f"WHEN '{d}' THEN {i}" for i, d in enumerate(DESTINATIONS)) + " END"  # constants from schema
    if not per_term:
        return con.execute(f"""
            WITH e AS ({ended_sql})
            SELECT "group", destination, n FROM (
                SELECT grp AS "group", destination, count(*) AS n FROM e GROUP BY grp, destination)
            ORDER BY "group", {order}
        """, ended_params).df()
    # by term: counts per end date (a few hundred rows at most), then each date's term
    from analytics.trends import term_of   # trends imports time_in_ap, as this module does
    daily = con.execute(f"""
        WITH e AS ({ended_sql})
        SELECT end_date, destination, {order} AS _o, count(*) AS n FROM e
        GROUP BY end_date, destination
    """, ended_params).df()
    if daily.empty:
        return pd.DataFrame({"group": pd.Series(dtype=object), "destination": pd.Series(dtype=object),
                             "n": pd.Series(dtype="int64")})
    terms = {d: term_of(d) for d in {pd.Timestamp(x).date() for x in daily["end_date"]}}
    daily["group"] = [terms[pd.Timestamp(x).date()].label for x in daily["end_date"]]
    daily["_start"] = [terms[pd.Timestamp(x).date()].start for x in daily["end_date"]]
    out = (daily.groupby(["_start", "group", "_o", "destination"], as_index=False)["n"].sum()
           .sort_values(["_start", "_o"]))
    return out[["group", "destination", "n"]].astype({"n": "int64"}).reset_index(drop=True)


def returns(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None) -> pd.DataFrame:
    """Each return to mainstream in the period: [placement_id, pupil_id, provider, end_date,
    eligible, sustained, broke_down_by]. sustained is blank until the return is eligible;
    broke_down_by ('placement' | 'permanent_exclusion' | None) is filled as soon as a breakdown
    happens by as_of (the earlier of the two; an exclusion on the same day as a placement wins)."""
    period, sql, params = scope(filters, settings, today)
    ended_sql, ended_params = _ended_sql(sql, params, period, settings)
    return con.execute(f"""
        WITH e AS ({ended_sql})
        SELECT placement_id, pupil_id, provider, end_date, eligible,
               CASE WHEN eligible THEN broke_down_by IS NULL END AS sustained,
               broke_down_by
        FROM e WHERE destination = 'mainstream'
        ORDER BY end_date, placement_id
    """, ended_params).df()


def destinations_wide(long: pd.DataFrame) -> pd.DataFrame:
    """destinations(by=...) as one row per group and one column per destination (zeros filled),
    groups in their order, destinations in the order of DESTINATIONS.

    >>> long = pd.DataFrame({"group": ["A", "A", "B"], "destination": ["neet", "mainstream", "neet"],
    ...                      "n": [1, 4, 2]})
    >>> destinations_wide(long).to_dict("list")
    {'group': ['A', 'B'], 'mainstream': [4, 0], 'neet': [1, 2]}
    """
    present = set(long["destination"])
    order = [d for d in DESTINATIONS if d in present]
    groups = list(dict.fromkeys(long["group"]))
    counts: dict = {}
    for g, d, n in zip(long["group"], long["destination"], long["n"]):
        counts[(g, d)] = counts.get((g, d), 0) + int(n)
    return pd.DataFrame({"group": groups, **{d: pd.array([counts.get((g, d), 0) for g in groups], dtype="int64")
                                             for d in order}})
