"""Time in AP (metrics.md §1): completed and open durations, the Kaplan–Meier median, pupils'
total days in AP and long open placements.

Everything is computed in DuckDB over the filtered placements of ``scope.placements_sql``; only
the Kaplan–Meier product runs in numpy, over one row per distinct duration (never per pupil).

>>> from tests.factories import make_db, placement
>>> con = make_db(placements=[placement("P1", "2024-09-02", "2024-09-11")])
>>> summary(con, Filters(as_of=date(2024, 12, 1)), Settings())["completed"]
{'n': 1, 'mean_days': 10.0, 'median_days': 10.0}
"""
from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from analytics.scope import placements_sql
from analytics.settings import Filters, Period, Settings, resolve_period

# Breakdowns the dashboard offers, mapped to the column that defines the group (allow-list).
GROUP_BY = ("reason", "setting_type", "commissioner", "provider")

# Survival products are floats: 3/4 * 2/3 must count as reaching 0.5.
_EPS = 1e-9


# ---------------------------------------------------------------------------------------------
# Helpers shared by the metric modules (outcomes, population, trends import these).

def scope(filters: Filters, settings: Settings, today: date | None = None) -> tuple[Period, str, list]:
    """The resolved period and the filtered placements as (sql, params), ready for a CTE."""
    period = resolve_period(filters, today)
    sql, params = placements_sql(filters, period)
    return period, sql, params


def group_sql(by: str | None, allowed: tuple[str, ...] = GROUP_BY) -> str:
    """The SQL expression of a breakdown's group label over the scope's columns.

    Providers are grouped by provider_key and labelled with the name on their latest placement;
    a blank value is its own group, 'unknown'.

    >>> group_sql(None)
    "'All'"
    """
    if by is None:
        return "'All'"
    if by not in allowed:
        raise ValueError(f"Cannot break figures down by {by!r}; choose one of {', '.join(allowed)}.")
    if by == "provider":
        return ("COALESCE(max_by(provider, start_date) OVER (PARTITION BY provider_key), "
                "provider_key, 'unknown')")
    return f"COALESCE(CAST({by} AS VARCHAR), 'unknown')"


def num(value) -> float | None:
    """A float for JSON, or None for a missing or NaN value."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        value = float(value)
    value = float(value)
    return None if math.isnan(value) else value


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when the denominator is 0 (metrics.md: rate)."""
    return numerator / denominator if denominator else None


# ---------------------------------------------------------------------------------------------
# Kaplan–Meier

def _km_counts(con, filters: Filters, settings: Settings, by: str | None, today) -> pd.DataFrame:
    """One row per group and distinct duration: events (ended) and censored (open) placements
    of the cohort that started in the period."""
    period, sql, params = scope(filters, settings, today)
    return con.execute(f"""
        WITH s AS ({sql}),
        g AS (SELECT {group_sql(by)} AS grp, days, is_open FROM s WHERE start_date BETWEEN ? AND ?)
        SELECT grp AS "group", days,
               count(*) FILTER (WHERE NOT is_open) AS events,
               count(*) FILTER (WHERE is_open) AS censored
        FROM g GROUP BY ALL ORDER BY 1, 2
    """, params + [period.start, period.end]).df()


def _km_steps(counts: pd.DataFrame) -> pd.DataFrame:
    """Add at_risk and survival to one group's per-duration counts (sorted by days).

    At a duration t, at_risk counts every placement lasting t days or more, so placements
    censored at t are still at risk when the endings at t happen (endings before censorings).
    """
    events = counts["events"].to_numpy(dtype=float)
    censored = counts["censored"].to_numpy(dtype=float)
    leaving = events + censored
    at_risk = leaving[::-1].cumsum()[::-1]
    survival = np.cumprod(1.0 - events / at_risk)
    out = counts.copy()
    out["at_risk"] = at_risk.astype("int64")
    out["survival"] = survival
    return out


def _km_median(steps: pd.DataFrame) -> float | None:
    reached = steps.loc[steps["survival"] <= 0.5 + _EPS, "days"]
    return float(reached.iloc[0]) if len(reached) else None


def km_median_days(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                   today: date | None = None) -> float | None:
    """Kaplan–Meier median duration (days) of placements that started in the period, or None
    when the estimated share still in AP never falls to 0.5."""
    counts = _km_counts(con, filters, settings, None, today)
    if counts.empty:
        return None
    return _km_median(_km_steps(counts))


def km_curve(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
             by: str | None = None, today: date | None = None) -> pd.DataFrame:
    """The Kaplan–Meier step points, per group: [group, days, at_risk, events, censored, survival].

    Same cohort as km_median_days. Each group starts with a row at days 0 (survival 1.0, no
    events) so a curve can be drawn from the top; then one row per distinct duration.
    ``by``: None (group 'All'), 'reason', 'setting_type', 'commissioner' or 'provider'.
    """
    group_sql(by)  # validate before querying
    counts = _km_counts(con, filters, settings, by, today)
    columns = ["group", "days", "at_risk", "events", "censored", "survival"]
    parts = []
    for group, rows in counts.groupby("group", sort=True):
        steps = _km_steps(rows.reset_index(drop=True))
        start = pd.DataFrame({"group": [group], "days": [0], "at_risk": [int(steps["at_risk"].iloc[0])],
                              "events": [0], "censored": [0], "survival": [1.0]})
        parts.append(pd.concat([start, steps[columns]], ignore_index=True))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            columns, ["object", "int64", "int64", "int64", "int64", "float64"])})
    out = pd.concat(parts, ignore_index=True)[columns]
    return out.astype({"days": "int64", "at_risk": "int64", "events": "int64", "censored": "int64"})


# ---------------------------------------------------------------------------------------------
# Summary and dashboard tables

def _pupil_total_days_median(con, sql: str, params: list, period: Period) -> float | None:
    """Median over pupils with a selected placement overlapping the period of their distinct
    days in AP up to as_of, over all of their placements (the union of intervals, computed as
    gaps and islands: a new island starts when a placement starts after every earlier one
    has ended)."""
    a = period.as_of
    row = con.execute(f"""
        WITH s AS ({sql}),
        pupils AS (
            SELECT DISTINCT pupil_id FROM s
            WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ?),
        iv AS (
            SELECT p.pupil_id, p.start_date AS s,
                   LEAST(COALESCE(p.end_date, ?::DATE), ?::DATE) AS e
            FROM placements p SEMI JOIN pupils USING (pupil_id)
            WHERE p.start_date <= ?),
        prev AS (
            SELECT *, max(e) OVER (PARTITION BY pupil_id ORDER BY s, e
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
            FROM iv WHERE e >= s),
        isl AS (
            SELECT *, sum(CASE WHEN prev_e IS NULL OR s > prev_e THEN 1 ELSE 0 END)
                      OVER (PARTITION BY pupil_id ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS island
            FROM prev),
        per_island AS (
            SELECT pupil_id, date_diff('day', min(s), max(e)) + 1 AS d FROM isl GROUP BY pupil_id, island),
        per_pupil AS (SELECT pupil_id, sum(d) AS total FROM per_island GROUP BY pupil_id)
        SELECT median(total) FROM per_pupil
    """, params + [period.end, a, period.start, a, a, a]).fetchone()
    return num(row[0])


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None) -> dict:
    """The report's "time_in_ap" section (metrics.md §1, §8)."""
    period, sql, params = scope(filters, settings, today)
    row = con.execute(f"""
        WITH s AS ({sql})
        SELECT count(*) FILTER (WHERE eff_end BETWEEN ? AND ?),
               avg(days) FILTER (WHERE eff_end BETWEEN ? AND ?),
               median(days) FILTER (WHERE eff_end BETWEEN ? AND ?),
               count(*) FILTER (WHERE is_open),
               median(days) FILTER (WHERE is_open),
               count(*) FILTER (WHERE is_open AND days > ?)
        FROM s
    """, params + [period.start, period.end] * 3 + [settings.long_placement_days]).fetchone()
    return {
        "completed": {"n": int(row[0]), "mean_days": num(row[1]), "median_days": num(row[2])},
        "open": {"n": int(row[3]), "median_days": num(row[4])},
        "km_median_days": km_median_days(con, filters, settings, today),
        "pupil_total_days_median": _pupil_total_days_median(con, sql, params, period),
        "long_open": int(row[5]),
    }


_DURATION_COLUMNS = """placement_id, pupil_id, provider, provider_key, setting_type, reason,
                       commissioner, start_date, eff_end AS end_date, days, is_open"""


def durations(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
              today: date | None = None) -> pd.DataFrame:
    """Placements overlapping the period: [placement_id, pupil_id, provider, provider_key,
    setting_type, reason, commissioner, start_date, end_date (blank while open at as_of), days,
    is_open], by start_date."""
    period, sql, params = scope(filters, settings, today)
    return con.execute(f"""
        WITH s AS ({sql})
        SELECT {_DURATION_COLUMNS} FROM s
        WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ?
        ORDER BY start_date, placement_id
    """, params + [period.end, period.as_of, period.start]).df()


def long_open(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
              today: date | None = None) -> pd.DataFrame:
    """Open placements longer than long_placement_days, longest first: the durations() columns
    plus planned_end_date."""
    period, sql, params = scope(filters, settings, today)
    return con.execute(f"""
        WITH s AS ({sql})
        SELECT {_DURATION_COLUMNS}, planned_end_date FROM s
        WHERE is_open AND days > ?
        ORDER BY days DESC, placement_id
    """, params + [settings.long_placement_days]).df()
