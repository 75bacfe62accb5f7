"""Progress against baseline: attendance and assessments before and during AP (metrics.md §3).

``summary`` is the report's "progress" section; ``attendance_by_placement`` and
``assessments_by_placement`` are the per-placement rows behind it, for the dashboard.

Attendance windows are chosen by each row's period_start:
baseline [start_date − baseline_days, start_date − 1], during [start_date, min(end_date, as_of)].
Assessments pair the latest value on or before start_date with the latest value in
(start_date, min(end_date, as_of)], per measure_key (trimmed, case-folded by the store).

A measure is lower-is-better when any of its rows dated by as_of says higher_is_better false,
unless the store's measure_directions table says otherwise, unless Settings.measure_directions
says otherwise (settings win).

All work is one SQL statement per function, joined on pupil_id; nothing loops over pupils.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics.scope import placements_sql
from analytics.settings import Filters, Period, Settings, resolve_period


def overlapping_placements_sql(filters: Filters, period: Period) -> tuple[str, list]:
    """Selected placements that overlap the period (started by its end, not ended before its start)."""
    sql, params = placements_sql(filters, period)
    return (f"SELECT * FROM ({sql}) WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ?",
            params + [period.end, period.as_of, period.start])


def attendance_windows_sql(placements: tuple[str, list], settings: Settings, period: Period,
                           baseline: bool = True, carry: tuple[str, ...] = ()) -> tuple[str, list]:
    """Per placement of `placements`: baseline and during possible/attended sessions and rates.

    Columns: placement_id, baseline_possible, baseline_attended, during_possible,
    during_attended, baseline_rate, during_rate (rates null without possible sessions).
    Placements with no attendance row in either window are absent (callers LEFT JOIN).
    With baseline=False only the during window is read (baseline columns null). ``carry``:
    more columns of `placements` (names from code, not values) passed through to the output.
    """
    psql, pparams = placements
    lower = "p.start_date - CAST(? AS INTEGER)" if baseline else "p.start_date"
    lparams = [settings.baseline_days] if baseline else []
    # One hash join on pupil_id with the windows as residual conditions, grouped by an integer
    # row number only (sums, no text): at national scale (20M attendance rows) the string work
    # is most of the cost, so placement_id and the carried columns are joined back afterwards.
    carried = "".join(f", p.{c}" for c in carry)
    sql = f"""
        WITH p AS (SELECT row_number() OVER () AS pk, placement_id, pupil_id, start_date,
                          eff_end{"".join(f", {c}" for c in carry)}
                   FROM ({psql})),
        agg AS (
            SELECT p.pk,
                   SUM(CASE WHEN a.period_start < p.start_date THEN a.possible_sessions END)
                       AS baseline_possible,
                   SUM(CASE WHEN a.period_start < p.start_date THEN a.attended_sessions END)
                       AS baseline_attended,
                   SUM(CASE WHEN a.period_start >= p.start_date THEN a.possible_sessions END)
                       AS during_possible,
                   SUM(CASE WHEN a.period_start >= p.start_date THEN a.attended_sessions END)
                       AS during_attended
            FROM p
            JOIN (SELECT pupil_id, period_start, possible_sessions, attended_sessions
                  FROM attendance WHERE period_start <= ?) a
              ON a.pupil_id = p.pupil_id
             AND a.period_start >= {lower}
             AND a.period_start <= COALESCE(p.eff_end, ?)
            GROUP BY p.pk)
        SELECT p.placement_id{carried},
               baseline_possible, baseline_attended, during_possible, during_attended,
               CASE WHEN baseline_possible > 0 THEN baseline_attended / baseline_possible END
                   AS baseline_rate,
               CASE WHEN during_possible > 0 THEN during_attended / during_possible END
                   AS during_rate
        FROM agg JOIN p USING (pk)
    """
    return sql, pparams + [period.as_of] + lparams + [period.as_of]


def report_windows_sql(filters: Filters, settings: Settings, period: Period) -> tuple[str, list]:
    """The attendance windows of every placement that progress or oversight reads, in one join.

    Rows as attendance_windows_sql (baseline and during windows), for the selected placements
    that overlap the period (``in_period``) or are open at as_of (``is_open``). An open
    placement's during window is oversight's ([start_date, as_of]), so build_report computes
    this once (into a temporary table) and hands it to progress.summary and
    oversight.summary as ``windows``.
    """
    psql, pparams = placements_sql(filters, period)
    placements = (f"""SELECT *, (start_date <= ? AND COALESCE(eff_end, ?) >= ?) AS in_period
                      FROM ({psql}) WHERE is_open OR (start_date <= ? AND COALESCE(eff_end, ?) >= ?)""",
                  [period.end, period.as_of, period.start] + pparams
                  + [period.end, period.as_of, period.start])
    return attendance_windows_sql(placements, settings, period, carry=("in_period", "is_open"))


def attendance_by_placement(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                            today: date | None = None) -> pd.DataFrame:
    """Each placement overlapping the period with its baseline and during attendance.

    Columns: placement_id, pupil_id, provider, start_date, end_date, baseline_possible,
    baseline_attended, baseline_rate, during_possible, during_attended, during_rate, change_pp
    (percentage points, null unless both rates are known). end_date is as stored.
    """
    period = resolve_period(filters, today)
    placements = overlapping_placements_sql(filters, period)
    wsql, wparams = attendance_windows_sql(placements, settings, period)
    psql, pparams = placements
    sql = f"""
        SELECT p.placement_id, p.pupil_id, p.provider, p.start_date, p.end_date,
               w.baseline_possible, w.baseline_attended, w.baseline_rate,
               w.during_possible, w.during_attended, w.during_rate,
               (w.during_rate - w.baseline_rate) * 100 AS change_pp
        FROM ({psql}) p LEFT JOIN ({wsql}) w USING (placement_id)
        ORDER BY p.start_date, p.pupil_id, p.placement_id
    """
    return con.execute(sql, pparams + wparams).df()


def _attendance_summary(con, filters: Filters, settings: Settings, period: Period,
                        windows: tuple[str, list] | None = None) -> dict:
    if windows is None:
        wsql, wparams = attendance_windows_sql(overlapping_placements_sql(filters, period),
                                               settings, period)
        where = ""
    else:  # report_windows_sql's rows: keep those overlapping the period
        (wsql, wparams), where = windows, "in_period AND "
    row = con.execute(f"""
        SELECT COUNT(*), MEDIAN(baseline_rate), MEDIAN(during_rate),
               MEDIAN((during_rate - baseline_rate) * 100),
               COUNT(*) FILTER (WHERE during_rate > baseline_rate)
        FROM ({wsql}) WHERE {where}baseline_possible > 0 AND during_possible > 0
    """, wparams).fetchone()
    n, base, during, change, improved = row
    return {"n": int(n), "baseline_rate_median": _float(base), "during_rate_median": _float(during),
            "median_change_pp": _float(change), "improved": int(improved)}


def _has_table(con, name: str) -> bool:
    return bool(con.execute(
        "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = current_schema()",
        [name]).fetchone()[0])


def directions_sql(con, settings: Settings, as_of: date) -> tuple[str, list]:
    """Every measure_key assessed by as_of, with its display name (newest seen by as_of) and
    direction as applied.

    Direction: Settings.measure_directions, else the store's measure_directions table, else
    lower-is-better when any row of the measure dated by as_of says higher_is_better false
    (a row dated after as_of is not used, so a later file cannot change an earlier report).
    """
    # the store writes its keys folded (Store.set_measure_direction, schema.fold)
    store = ("SELECT measure_key, higher_is_better "
             "FROM measure_directions WHERE higher_is_better IS NOT NULL"
             if _has_table(con, "measure_directions")
             else "SELECT NULL::VARCHAR AS measure_key, NULL::BOOLEAN AS higher_is_better LIMIT 0")
    keys = [k.strip().casefold() for k, _ in settings.measure_directions]
    values = [bool(v) for _, v in settings.measure_directions]
    sql = f"""
        SELECT d.measure_key, d.measure,
               COALESCE(s.higher_is_better, o.higher_is_better, d.higher_is_better) AS higher_is_better
        FROM (SELECT measure_key, arg_max(measure, date) AS measure,
                     NOT bool_or(higher_is_better IS NOT DISTINCT FROM false) AS higher_is_better
              FROM assessments WHERE date <= ? GROUP BY measure_key) d
        LEFT JOIN (SELECT measure_key, bool_and(higher_is_better) AS higher_is_better
                   FROM ({store}) GROUP BY measure_key) o USING (measure_key)
        LEFT JOIN (SELECT unnest(?::VARCHAR[]) AS measure_key,
                          unnest(?::BOOLEAN[]) AS higher_is_better) s USING (measure_key)
    """
    return sql, [as_of, keys, values]


def measure_directions(con, settings: Settings, as_of: date) -> dict[str, bool]:
    """{measure_key: higher_is_better} as applied on as_of (directions_sql): for labelling."""
    sql, params = directions_sql(con, settings, as_of)
    return {k: bool(v) for k, _, v in con.execute(f"SELECT measure_key, measure, higher_is_better FROM ({sql})",
                                                  params).fetchall()}


def data_directions(con, filters: Filters | None = None, settings: Settings | None = None) -> pd.DataFrame:
    """Every measure loaded, with the direction its rows give, before any override: measure_key,
    measure (newest name), higher_is_better (False when any row says higher_is_better false,
    else True). For the settings page, which must say what the data says beside the override.
    ``filters`` and ``settings`` are accepted for the dashboard's calling convention, not used."""
    return con.execute("""
        SELECT measure_key, arg_max(measure, date) AS measure,
               NOT bool_or(higher_is_better IS NOT DISTINCT FROM false) AS higher_is_better
        FROM assessments GROUP BY measure_key ORDER BY lower(arg_max(measure, date)), measure_key
    """).df()


def _assessment_pairs_sql(con, filters: Filters, settings: Settings,
                          period: Period) -> tuple[str, list]:
    psql, pparams = overlapping_placements_sql(filters, period)
    dsql, dparams = directions_sql(con, settings, period.as_of)
    sql = f"""
        WITH p AS (SELECT row_number() OVER () AS pk, placement_id, pupil_id, start_date,
                          COALESCE(eff_end, ?) AS during_end
                   FROM ({psql})),
        pairs AS (
            SELECT any_value(p.placement_id) AS placement_id, any_value(p.pupil_id) AS pupil_id,
                   a.measure_key,
                   -- arg_max skips rows whose ordering key is NULL: CASE picks the window
                   -- (cheaper than FILTER clauses here).
                   MAX(CASE WHEN a.date <= p.start_date THEN a.date END) AS baseline_date,
                   arg_max(a.value, CASE WHEN a.date <= p.start_date THEN a.date END)
                       AS baseline_value,
                   MAX(CASE WHEN a.date > p.start_date THEN a.date END) AS latest_date,
                   arg_max(a.value, CASE WHEN a.date > p.start_date THEN a.date END)
                       AS latest_value
            FROM p JOIN (SELECT pupil_id, measure_key, date, value FROM assessments
                         WHERE date <= ?) a
              ON a.pupil_id = p.pupil_id AND a.date <= p.during_end
            GROUP BY p.pk, a.measure_key
        )
        SELECT pairs.placement_id, pairs.pupil_id, pairs.measure_key, d.measure,
               d.higher_is_better, baseline_date, baseline_value, latest_date, latest_value,
               latest_value - baseline_value AS change,
               CASE WHEN d.higher_is_better THEN latest_value > baseline_value
                    ELSE latest_value < baseline_value END AS improved
        FROM pairs JOIN ({dsql}) d USING (measure_key)
    """
    return sql, [period.as_of] + pparams + [period.as_of] + dparams


def assessments_by_placement(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                             today: date | None = None) -> pd.DataFrame:
    """Each (placement overlapping the period, measure the pupil has) with its baseline and latest.

    Columns: placement_id, pupil_id, measure_key, measure (display text, newest seen),
    higher_is_better (as applied), baseline_date, baseline_value, latest_date, latest_value,
    change (latest − baseline), improved (null unless both values are known). Rows with neither
    a baseline nor a latest value are left out.
    """
    period = resolve_period(filters, today)
    sql, params = _assessment_pairs_sql(con, filters, settings, period)
    return con.execute(f"""
        SELECT * FROM ({sql})
        WHERE baseline_date IS NOT NULL OR latest_date IS NOT NULL
        ORDER BY pupil_id, placement_id, measure_key
    """, params).df()


def _assessments_summary(con, filters: Filters, settings: Settings, period: Period) -> dict:
    sql, params = _assessment_pairs_sql(con, filters, settings, period)
    rows = con.execute(f"""
        SELECT measure_key, COUNT(*), MEDIAN(change), COUNT(*) FILTER (WHERE improved)
        FROM ({sql}) WHERE baseline_date IS NOT NULL AND latest_date IS NOT NULL
        GROUP BY measure_key ORDER BY measure_key
    """, params).fetchall()
    return {key: {"n": int(n), "median_change": _float(med), "improved": int(imp)}
            for key, n, med, imp in rows}


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None, *, windows: tuple[str, list] | None = None) -> dict:
    """The report's "progress" section (metrics.md §3 and §8).

    ``windows``: (sql, params) of report_windows_sql's rows for these same filters, settings and
    dates, when the caller has them already (build_report); else they are worked out here.
    """
    period = resolve_period(filters, today)
    return {"attendance": _attendance_summary(con, filters, settings, period, windows),
            "assessments": _assessments_summary(con, filters, settings, period)}


def _float(x) -> float | None:
    return None if x is None else float(x)
