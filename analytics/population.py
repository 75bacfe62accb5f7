"""Population (metrics.md §6): who is in AP at as_of and how many placements started and ended.

``summary`` is the report's "population" section; ``breakdown`` splits pupils_in_ap by a pupil
attribute for the dashboard.

>>> from tests.factories import make_db, placement
>>> con = make_db(placements=[placement("P1", "2024-09-02"), placement("P1", "2024-10-01")])
>>> summary(con, Filters(as_of=date(2024, 12, 1)), Settings())["pupils_in_ap"]
1
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics.settings import Filters, Settings
from analytics.time_in_ap import scope

# Breakdowns of pupils_in_ap (allow-list of placements columns).
BREAKDOWNS = ("sen_status", "cla", "fsm", "sex", "nc_year", "ethnicity_group")
_BOOLEANS = ("cla", "fsm")


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None) -> dict:
    """The report's "population" section (metrics.md §6, §8)."""
    period, sql, params = scope(filters, settings, today)
    # Distinct pupils through GROUP BY: DuckDB runs it in parallel, unlike count(DISTINCT).
    # Only the columns used: s is referenced three times, so DuckDB materialises it.
    row = con.execute(f"""
        WITH s AS (SELECT pupil_id, start_date, eff_end, is_open FROM ({sql})),
        in_ap AS (SELECT count(*) AS n FROM (SELECT pupil_id FROM s WHERE is_open GROUP BY pupil_id)),
        in_period AS (SELECT count(*) AS n FROM (
            SELECT pupil_id FROM s WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ? GROUP BY pupil_id)),
        counts AS (SELECT count(*) FILTER (WHERE is_open) AS open,
                          count(*) FILTER (WHERE start_date BETWEEN ? AND ?) AS started,
                          count(*) FILTER (WHERE eff_end BETWEEN ? AND ?) AS ended
                   FROM s)
        SELECT in_ap.n, counts.open, counts.started, counts.ended, in_period.n
        FROM in_ap, counts, in_period
    """, params + [period.end, period.as_of, period.start,
                   period.start, period.end, period.start, period.end]).fetchone()
    keys = ("pupils_in_ap", "open_placements", "placements_started", "placements_ended",
            "pupils_in_period")
    return {k: int(v) for k, v in zip(keys, row)}


def breakdown(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, by: str,
              today: date | None = None) -> pd.DataFrame:
    """pupils_in_ap by a pupil attribute: [group, pupils], largest first.

    ``by``: 'sen_status', 'cla', 'fsm', 'sex', 'nc_year' or 'ethnicity_group'. A pupil with
    several open placements counts once, with the attributes of the latest-starting one.
    Blank values are the group 'unknown'; cla and fsm show as 'yes' / 'no' / 'unknown'.
    """
    if by not in BREAKDOWNS:
        raise ValueError(f"Cannot break pupils down by {by!r}; choose one of {', '.join(BREAKDOWNS)}.")
    if by in _BOOLEANS:
        label = f"CASE WHEN {by} THEN 'yes' WHEN NOT {by} THEN 'no' ELSE 'unknown' END"
    else:
        label = f"COALESCE(NULLIF(trim({by}), ''), 'unknown')"
    period, sql, params = scope(filters, settings, today)
    return con.execute(f"""
        WITH s AS ({sql}),
        latest AS (
            SELECT pupil_id, arg_max({label}, (start_date, placement_id)) AS grp
            FROM s WHERE is_open GROUP BY pupil_id)
        SELECT grp AS "group", count(*) AS pupils FROM latest
        GROUP BY grp ORDER BY pupils DESC, "group"
    """, params).df()
