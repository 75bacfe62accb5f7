"""Time in AP (metrics.md §1): completed and open durations, the Kaplan–Meier median, pupils'
total days in AP and long open placements.

``summary`` is the report's "time_in_ap" section. For the dashboard: ``durations`` (one row per
placement overlapping the period), ``km_curve`` (Kaplan–Meier steps, optionally by reason,
setting type, commissioner or provider) and ``long_open``.

Everything is one DuckDB statement over the filtered placements of ``scope.placements_sql``:
the Kaplan–Meier product and the union of each pupil's placements are window functions.
pupil_total_days_median selects pupils by the filters, then counts all of their placements
(a pupil placed at the filtered provider has also spent their days elsewhere in AP).

>>> from tests.factories import make_db, placement
>>> con = make_db(placements=[placement("P1", "2024-09-02", "2024-09-11")])
>>> summary(con, Filters(as_of=date(2024, 12, 1)), Settings())["completed"]
{'n': 1, 'mean_days': 10.0, 'median_days': 10.0}
"""
from __future__ import annotations

import math
from datetime import date

import duckdb
import pandas as pd

from analytics.scope import placements_sql
from analytics.settings import Filters, Period, Settings, resolve_period

# Breakdowns the dashboard offers: placements columns (the allow-list for group_sql).
GROUP_BY = ("reason", "setting_type", "commissioner", "provider", "trust", "home_school")

# Survival is a product of floats: 3/4 * 2/3 must count as reaching 0.5.
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

    A provider is labelled with the name on the latest placement of its provider_key (so a
    renamed provider stays one group); a blank value is its own group, 'unknown'.

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
    value = float(value)  # also Decimal, numpy and integer results
    return None if math.isnan(value) else value


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when the denominator is 0 (metrics.md: rate)."""
    return numerator / denominator if denominator else None


# ---------------------------------------------------------------------------------------------
# Kaplan–Meier and pupils' total days, as CTEs over the scope CTE ``s``

def _km_ctes(by: str | None) -> str:
    """CTEs ending in ``surv``: one row per group and distinct duration of the cohort that
    started in the period (two parameters: period start, period end), with events (ended),
    censored (open), at_risk and survival.

    At a duration t, at_risk counts every placement lasting t days or more, so placements
    censored at t are still at risk when the endings at t happen (endings before censorings).
    """
    return f"""
        cohort AS (SELECT {group_sql(by)} AS grp, days, is_open FROM s WHERE start_date BETWEEN ? AND ?),
        km AS (SELECT grp, days, count(*) FILTER (WHERE NOT is_open) AS events,
                      count(*) FILTER (WHERE is_open) AS censored
               FROM cohort GROUP BY grp, days),
        risk AS (SELECT *, sum(events + censored) OVER (PARTITION BY grp ORDER BY days DESC
                                                        ROWS UNBOUNDED PRECEDING) AS at_risk
                 FROM km),
        surv AS (SELECT *, product(1 - events / at_risk) OVER (PARTITION BY grp ORDER BY days
                                                               ROWS UNBOUNDED PRECEDING) AS survival
                 FROM risk)"""


_KM_MEDIAN = f"(SELECT min(days) FILTER (WHERE survival <= {0.5 + _EPS!r}) FROM surv)"


def _pupil_total_ctes() -> str:
    """CTEs ending in ``per_pupil`` (pupil_id, total): for pupils with a selected placement
    overlapping the period, their distinct days in AP up to as_of over all of their placements.

    Parameters: period end, as_of, period start, as_of, as_of, as_of. Sorted by start, each
    placement adds the days it runs beyond the latest end of the pupil's earlier placements
    (zero when it lies inside them), so overlaps count once.
    """
    return """
        pupils AS (SELECT DISTINCT pupil_id FROM s
                   WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ?),
        iv AS (SELECT p.pupil_id, p.start_date AS s,
                      LEAST(COALESCE(p.end_date, ?::DATE), ?::DATE) AS e
               FROM placements p SEMI JOIN pupils USING (pupil_id)
               WHERE p.start_date <= ?),
        prev AS (SELECT pupil_id, s, e,
                        max(e) OVER (PARTITION BY pupil_id ORDER BY s, e
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_e
                 FROM iv WHERE e >= s),
        per_pupil AS (SELECT pupil_id,
                             sum(GREATEST(date_diff('day', GREATEST(COALESCE(prev_e, s - 1), s - 1), e), 0))
                                 AS total
                      FROM prev GROUP BY pupil_id)"""


def km_median_days(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                   today: date | None = None) -> float | None:
    """Kaplan–Meier median duration (days) of placements that started in the period, or None
    when the estimated share still in AP never falls to 0.5."""
    period, sql, params = scope(filters, settings, today)
    row = con.execute(f"WITH s AS ({sql}), {_km_ctes(None)} SELECT {_KM_MEDIAN}",
                      params + [period.start, period.end]).fetchone()
    return num(row[0])


def km_curve(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
             by: str | None = None, today: date | None = None) -> pd.DataFrame:
    """The Kaplan–Meier step points, per group: [group, days, at_risk, events, censored, survival].

    Same cohort as km_median_days. Each group starts with a row at days 0 (survival 1.0, no
    events) so a curve can be drawn from the top; then one row per distinct duration.
    ``by``: None (group 'All'), 'reason', 'setting_type', 'commissioner' or 'provider'.
    """
    period, sql, params = scope(filters, settings, today)
    df = con.execute(f"""
        WITH s AS ({sql}), {_km_ctes(by)}
        SELECT grp AS "group", days, at_risk, events, censored, survival FROM surv
        UNION ALL
        SELECT grp, 0, sum(events + censored), 0, 0, 1.0 FROM km GROUP BY grp
        ORDER BY 1, 2
    """, params + [period.start, period.end]).df()
    return df.astype({"days": "int64", "at_risk": "int64", "events": "int64", "censored": "int64",
                      "survival": "float64"})


# ---------------------------------------------------------------------------------------------
# Summary and dashboard tables

# The columns summary reads: s is referenced several times, so DuckDB materialises it, and
# SELECT * would copy every placements column (a third of the section's time nationally).
_SUMMARY_COLUMNS = "pupil_id, start_date, eff_end, is_open, days"


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None) -> dict:
    """The report's "time_in_ap" section (metrics.md §1, §8), in one statement."""
    period, sql, params = scope(filters, settings, today)
    a = period.as_of
    row = con.execute(f"""
        WITH s AS (SELECT {_SUMMARY_COLUMNS} FROM ({sql})), {_km_ctes(None)}, {_pupil_total_ctes()}
        SELECT count(*) FILTER (WHERE eff_end BETWEEN ? AND ?),
               avg(days) FILTER (WHERE eff_end BETWEEN ? AND ?),
               median(days) FILTER (WHERE eff_end BETWEEN ? AND ?),
               count(*) FILTER (WHERE is_open),
               median(days) FILTER (WHERE is_open),
               count(*) FILTER (WHERE is_open AND days > ?),
               {_KM_MEDIAN},
               (SELECT median(total) FROM per_pupil)
        FROM s
    """, params + [period.start, period.end]
         + [period.end, a, period.start, a, a, a]
         + [period.start, period.end] * 3 + [settings.long_placement_days]).fetchone()
    return {
        "completed": {"n": int(row[0]), "mean_days": num(row[1]), "median_days": num(row[2])},
        "open": {"n": int(row[3]), "median_days": num(row[4])},
        "km_median_days": num(row[6]),
        "pupil_total_days_median": num(row[7]),
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


PER_PUPIL_BANDS = ("1", "2", "3", "4 or more")


def placements_per_pupil(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                         today: date | None = None) -> pd.DataFrame:
    """Pupils by how many of their selected placements overlap the period: [placements, pupils],
    one row per band of PER_PUPIL_BANDS (zeros kept); the pupils add up to population's
    pupils_in_period. The thematic review's churn: children moved from one AP to another (a move
    between providers ends one placement and starts the next)."""
    period, sql, params = scope(filters, settings, today)
    rows = con.execute(f"""
        WITH s AS ({sql}),
        per AS (SELECT pupil_id, count(*) AS n FROM s
                WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ?
                GROUP BY pupil_id)
        SELECT CASE WHEN n >= 4 THEN '4 or more' ELSE CAST(n AS VARCHAR) END AS band, count(*)
        FROM per GROUP BY band
    """, params + [period.end, period.as_of, period.start]).fetchall()
    found = dict(rows)
    return pd.DataFrame({"placements": list(PER_PUPIL_BANDS),
                         "pupils": [int(found.get(b, 0)) for b in PER_PUPIL_BANDS]})
