"""Exclusions in the period and the sixth-day duty (metrics.md §4).

``summary`` is the report's "exclusions" section. For the dashboard: ``by_group``,
``repeat_suspensions``, ``sixth_day_cases`` and ``rates_by_school``.

Exclusions count when their start_date falls in the period (whose end is capped at as_of).
When a filter narrows the placements, only the exclusions of those placements' pupils count
(scope.pupils_sql). The sixth-day check looks at every placement the pupil has that started by
as_of, whatever the filters: the duty is met by any provision, not only the filtered one.

School days come from schooldays.calendar_sql, joined, so the sixth-day work is one statement.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics.schooldays import calendar_end, calendar_sql
from analytics.scope import pupils_sql
from analytics.settings import Filters, Period, Settings, resolve_period

SIXTH = 6

GROUPS = ("term", "school", "trust", "reason", "academic_year")


def exclusions_sql(filters: Filters, period: Period) -> tuple[str, list]:
    """Exclusions starting in the period, of the pupils the filters select."""
    sql = "SELECT * FROM exclusions WHERE start_date >= ? AND start_date <= ?"
    params: list = [period.start, period.end]
    pupils = pupils_sql(filters, period)
    if pupils is not None:
        sql += f" AND pupil_id IN ({pupils[0]})"
        params += pupils[1]
    return sql, params


def _sixth_day_sql(filters: Filters, settings: Settings, period: Period) -> tuple[str, list]:
    """One row per permanent exclusion in the period with its sixth-day columns."""
    esql, eparams = exclusions_sql(filters, period)
    csql, cparams = calendar_sql(period.start, calendar_end(period.as_of, SIXTH, settings.holidays),
                                 settings.holidays)
    sql = f"""
        WITH cal AS ({csql}),
        pex AS (
            SELECT e.pupil_id, e.start_date, any_value(e.school) AS school,
                   any_value(c.school_day_index) AS day_one_index
            FROM ({esql}) e JOIN cal c ON c.date = e.start_date
            WHERE e.category = 'permanent'
            GROUP BY e.pupil_id, e.start_date
        ),
        six AS (
            SELECT pex.*, c.date AS sixth_school_day
            FROM pex JOIN cal c
              ON c.is_school_day AND c.school_day_index = pex.day_one_index + {SIXTH - 1}
        ),
        prov AS (
            SELECT six.pupil_id, six.start_date,
                   bool_or(pl.start_date <= six.sixth_school_day
                           AND (pl.end_date IS NULL OR pl.end_date >= six.sixth_school_day))
                       AS covered,
                   MIN(pl.start_date) FILTER (WHERE pl.start_date >= six.start_date)
                       AS first_provision_start,
                   -- the weekly hours (else sessions) of the placements in place on day 6,
                   -- together: "met" asks for a placement, the duty for full-time education
                   SUM(pl.hours_per_week) FILTER (WHERE pl.start_date <= six.sixth_school_day
                       AND (pl.end_date IS NULL OR pl.end_date >= six.sixth_school_day)) AS hours,
                   SUM(pl.sessions_per_week) FILTER (WHERE pl.start_date <= six.sixth_school_day
                       AND (pl.end_date IS NULL OR pl.end_date >= six.sixth_school_day)) AS sessions
            FROM six JOIN (SELECT pupil_id, start_date, end_date, hours_per_week, sessions_per_week
                           FROM placements WHERE start_date <= ?) pl ON pl.pupil_id = six.pupil_id
            GROUP BY six.pupil_id, six.start_date
        )
        SELECT six.pupil_id, six.start_date, six.school, six.sixth_school_day,
               six.sixth_school_day <= ? AS eligible,
               prov.first_provision_start,
               CAST(c.school_day_index - six.day_one_index + 1 AS BIGINT) AS school_days_to_provision,
               CASE WHEN six.sixth_school_day <= ? THEN COALESCE(prov.covered, false) END AS met,
               CASE WHEN prov.covered THEN prov.hours END AS hours_on_sixth_day,
               CASE WHEN prov.covered THEN
                   CASE WHEN prov.hours IS NOT NULL THEN prov.hours >= ?
                        WHEN prov.sessions IS NOT NULL THEN prov.sessions >= 10 END
               END AS full_time_on_sixth_day
        FROM six
        LEFT JOIN prov ON prov.pupil_id = six.pupil_id AND prov.start_date = six.start_date
        LEFT JOIN cal c ON c.date = prov.first_provision_start
    """
    return sql, cparams + eparams + [period.as_of, period.as_of, period.as_of, settings.full_time_hours]


def sixth_day_cases(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                    today: date | None = None) -> pd.DataFrame:
    """Each permanent exclusion in the period and whether provision was in place by its sixth day.

    Columns: pupil_id, start_date, school, sixth_school_day, eligible (sixth day ≤ as_of),
    first_provision_start (earliest placement starting on or after the exclusion, by as_of),
    school_days_to_provision (its school-day number), met (null while not yet eligible);
    hours_on_sixth_day (the weekly hours of the placements in place that day, together) and
    full_time_on_sixth_day (those hours ≥ full_time_hours, or with no hours, sessions ≥ 10, as
    metrics.md §5's part_time; null when neither is recorded or nothing was in place): "met"
    asks only for a placement, the duty for full-time education.
    """
    period = resolve_period(filters, today)
    sql, params = _sixth_day_sql(filters, settings, period)
    return con.execute(f"SELECT * FROM ({sql}) ORDER BY start_date, pupil_id", params).df()


def without_provision(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                      today: date | None = None) -> pd.DataFrame:
    """Pupils permanently excluded by as_of with no provision recorded since: for each pupil,
    their latest permanent exclusion on or before as_of, kept when no placement covers its
    start_date (started by then, not ended before it) and none started on or after it by as_of.
    Not a metric of metrics.md: the children the sixth-day figure counts as "not met" who have
    no placement at all, and so no open placement on the case list. Any date, not only the
    period's: a child excluded last year with nothing since is still waiting.

    The filters' selections are not applied: they select placements (a pupil counts through a
    matching placement, scope.pupils_sql), and these children have none, so any filter would
    hide every one of them while the list said no child was waiting. Only as_of applies.

    Columns: pupil_id, excluded_on, school, days_since (calendar days from the exclusion to
    as_of). Longest wait first.
    """
    period = resolve_period(filters, today)
    everything = Period(period.as_of, date(1900, 1, 1), period.as_of)
    esql, eparams = exclusions_sql(Filters(as_of=period.as_of), everything)
    last = con.execute(f"""
        WITH latest AS (
            SELECT pupil_id, max(start_date) AS excluded_on, arg_max(school, start_date) AS school
            FROM ({esql}) e WHERE category = 'permanent' GROUP BY pupil_id)
        SELECT l.pupil_id, l.excluded_on, l.school, date_diff('day', l.excluded_on, ?) AS days_since
        FROM latest l
        WHERE NOT EXISTS (
            SELECT 1 FROM placements p
            WHERE p.pupil_id = l.pupil_id AND p.start_date <= ?
              AND (p.start_date >= l.excluded_on OR p.end_date IS NULL OR p.end_date >= l.excluded_on))
        ORDER BY days_since DESC, pupil_id""", eparams + [period.as_of, period.as_of]).df()
    return last


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None) -> dict:
    """The report's "exclusions" section (metrics.md §4 and §8)."""
    period = resolve_period(filters, today)
    esql, eparams = exclusions_sql(filters, period)
    counts = con.execute(f"""
        WITH e AS ({esql}),
        per_pupil AS (SELECT pupil_id, COUNT(*) AS n FROM e WHERE category = 'suspension'
                      GROUP BY pupil_id)
        SELECT (SELECT COUNT(*) FROM e WHERE category = 'suspension'),
               (SELECT COUNT(*) FROM per_pupil),
               (SELECT COUNT(*) FROM per_pupil WHERE n >= 2),
               (SELECT COUNT(*) FROM e WHERE category = 'lunchtime'),
               (SELECT COUNT(*) FROM e WHERE category = 'permanent')
    """, eparams).fetchone()
    ssql, sparams = _sixth_day_sql(filters, settings, period)
    eligible, met, median_days = con.execute(f"""
        SELECT COUNT(*) FILTER (WHERE eligible), COUNT(*) FILTER (WHERE eligible AND met),
               MEDIAN(school_days_to_provision) FILTER (WHERE eligible)
        FROM ({ssql})
    """, sparams).fetchone()
    suspensions, pupils, repeat, lunchtime, permanent = (int(x) for x in counts)
    return {
        "suspensions": suspensions, "pupils_suspended": pupils,
        "repeat_suspended_pupils": repeat, "lunchtime": lunchtime,
        "permanent_exclusions": permanent,
        "sixth_day": {"eligible": int(eligible), "met": int(met),
                      "rate": met / eligible if eligible else None,
                      "median_school_days_to_provision":
                          None if median_days is None else float(median_days)},
    }


def _academic_year_sql(col: str) -> str:
    """'2024/25' for a date column: the academic year starting 1 September."""
    y = f"(year({col}) - CASE WHEN month({col}) >= 9 THEN 0 ELSE 1 END)"
    return f"(CAST({y} AS VARCHAR) || '/' || lpad(CAST(({y} + 1) % 100 AS VARCHAR), 2, '0'))"


def _term_join_sql(period: Period) -> tuple[str, list]:
    """The academic terms overlapping the period (analytics.trends' terms) as a table to join."""
    from analytics import trends  # here, not at the top: trends imports this module

    terms = trends.terms_between(period.start, period.end, "term")
    return ("SELECT unnest(?::VARCHAR[]) AS term, unnest(?::DATE[]) AS term_start, "
            "unnest(?::DATE[]) AS term_end",
            [[t.label for t in terms], [t.start for t in terms], [t.end for t in terms]])


def by_group(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings, by: str,
             today: date | None = None) -> pd.DataFrame:
    """Exclusion counts in the period by term, school, trust, reason or academic_year.

    Columns: group, suspensions, permanent, lunchtime, pupils_suspended. Terms and academic
    years are labelled as analytics.trends labels them ('Autumn 2024/25', '2024/25'). Blank
    schools, trusts and reasons group as 'unknown'. Rows in time order (term, academic_year),
    else by suspensions.
    """
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}, not {by!r}.")
    period = resolve_period(filters, today)
    esql, eparams = exclusions_sql(filters, period)
    source, params = f"({esql})", eparams
    if by == "term":
        tsql, tparams = _term_join_sql(period)
        source = f"({esql}) e JOIN ({tsql}) t ON e.start_date BETWEEN t.term_start AND t.term_end"
        params = eparams + tparams
        gexpr = "term"
    elif by == "academic_year":
        gexpr = _academic_year_sql("start_date")
    else:  # a column name from GROUPS, the allow-list
        gexpr = f"COALESCE({by}, 'unknown')"
    order = ("MIN(start_date)" if by in ("term", "academic_year")
             else "COUNT(*) FILTER (WHERE category = 'suspension') DESC, \"group\"")
    return con.execute(f"""
        SELECT {gexpr} AS "group",
               COUNT(*) FILTER (WHERE category = 'suspension') AS suspensions,
               COUNT(*) FILTER (WHERE category = 'permanent') AS permanent,
               COUNT(*) FILTER (WHERE category = 'lunchtime') AS lunchtime,
               COUNT(DISTINCT pupil_id) FILTER (WHERE category = 'suspension') AS pupils_suspended
        FROM {source} GROUP BY 1 ORDER BY {order}
    """, params).df()


def by_school_and_trust(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                        today: date | None = None) -> pd.DataFrame:
    """Exclusion counts in the period by school and trust together (labels as by_group's):
    [school, trust, suspensions, permanent, lunchtime]. A trust's counts are the sums of its
    rows here, and so are a school's: the figures by school and by trust are protected together
    with them (analytics/exclusions_shared.py)."""
    period = resolve_period(filters, today)
    esql, eparams = exclusions_sql(filters, period)
    return con.execute(f"""
        SELECT COALESCE(school, 'unknown') AS school, COALESCE(trust, 'unknown') AS trust,
               COUNT(*) FILTER (WHERE category = 'suspension') AS suspensions,
               COUNT(*) FILTER (WHERE category = 'permanent') AS permanent,
               COUNT(*) FILTER (WHERE category = 'lunchtime') AS lunchtime
        FROM ({esql}) GROUP BY 1, 2 ORDER BY 1, 2
    """, eparams).df()


def repeat_suspensions(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                       today: date | None = None) -> pd.DataFrame:
    """Pupils with two or more suspensions in the period, most first.

    Columns: pupil_id, suspensions, sessions (sum of known sessions), first_date, last_date.
    """
    period = resolve_period(filters, today)
    esql, eparams = exclusions_sql(filters, period)
    return con.execute(f"""
        SELECT pupil_id, COUNT(*) AS suspensions, SUM(sessions) AS sessions,
               MIN(start_date) AS first_date, MAX(start_date) AS last_date
        FROM ({esql}) WHERE category = 'suspension'
        GROUP BY pupil_id HAVING COUNT(*) >= 2
        ORDER BY suspensions DESC, sessions DESC NULLS LAST, pupil_id
    """, eparams).df()


def rates_by_school(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                    rolls: pd.DataFrame | None, today: date | None = None) -> pd.DataFrame:
    """Suspensions and permanent exclusions in the period per school, as rates of the school roll.

    rolls: columns school, roll (matched on the school name, trimmed and case-folded). Rates
    are fractions (suspensions / roll); null without a roll (or a roll of 0).
    Columns: school, suspensions, permanent, roll, suspension_rate, permanent_rate.
    """
    period = resolve_period(filters, today)
    esql, eparams = exclusions_sql(filters, period)
    counts = con.execute(f"""
        SELECT COALESCE(school, 'unknown') AS school,
               COUNT(*) FILTER (WHERE category = 'suspension') AS suspensions,
               COUNT(*) FILTER (WHERE category = 'permanent') AS permanent
        FROM ({esql}) GROUP BY 1
    """, eparams).df()
    counts["_key"] = counts["school"].str.strip().str.casefold()
    if rolls is not None and len(rolls):
        r = pd.DataFrame({"_key": rolls["school"].astype(str).str.strip().str.casefold(),
                          "roll": pd.to_numeric(rolls["roll"], errors="coerce")})
        r = r.dropna(subset=["roll"]).drop_duplicates("_key", keep="last")
        counts = counts.merge(r, on="_key", how="left")
    else:
        counts["roll"] = float("nan")
    roll = counts["roll"].where(counts["roll"] > 0)
    counts["suspension_rate"] = counts["suspensions"] / roll
    counts["permanent_rate"] = counts["permanent"] / roll
    counts = counts.sort_values(["suspensions", "school"], ascending=[False, True])
    return counts[["school", "suspensions", "permanent", "roll", "suspension_rate",
                   "permanent_rate"]].reset_index(drop=True)
