"""Trends: academic terms, the headline figures against a year earlier, and figures per term.

Terms tile the academic year: autumn 1 September–31 December, spring 1 January–Easter Sunday,
summer Easter Monday–31 August (Easter by the anonymous Gregorian algorithm).

>>> [(t.label, t.start.isoformat(), t.end.isoformat()) for t in terms_between(date(2025, 4, 1), date(2025, 4, 30))]
[('Spring 2024/25', '2025-01-01', '2025-04-20'), ('Summer 2024/25', '2025-04-21', '2025-08-31')]
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta

import duckdb
import pandas as pd

from analytics import oversight
from analytics.scope import placements_sql, selected_placements_sql
from analytics.settings import Filters, Settings, academic_year_start, resolve_period
from analytics.time_in_ap import _EPS, num, rate

UNITS = ("term", "academic_year")


@dataclass(frozen=True)
class Term:
    label: str            # 'Autumn 2024/25', or '2024/25' for a whole academic year
    start: date
    end: date
    academic_year: str    # '2024/25'


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm).

    >>> easter_sunday(2024), easter_sunday(2025)
    (datetime.date(2024, 3, 31), datetime.date(2025, 4, 20))
    """
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 (the algorithm's own name)
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    day = (h + l - 7 * m + 33 * month + 19) % 32
    return date(year, month, day)


def academic_year_label(start_year: int) -> str:
    """'2024/25' for the year starting 1 September 2024.

    >>> academic_year_label(1999)
    '1999/00'
    """
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def terms_of_year(start_year: int) -> list[Term]:
    """The three terms of the academic year starting 1 September start_year."""
    ay = academic_year_label(start_year)
    easter = easter_sunday(start_year + 1)
    return [Term(f"Autumn {ay}", date(start_year, 9, 1), date(start_year, 12, 31), ay),
            Term(f"Spring {ay}", date(start_year + 1, 1, 1), easter, ay),
            Term(f"Summer {ay}", easter + timedelta(days=1), date(start_year + 1, 8, 31), ay)]


def term_of(d: date) -> Term:
    """The term containing d.

    >>> term_of(date(2025, 4, 21)).label
    'Summer 2024/25'
    """
    return next(t for t in terms_of_year(academic_year_start(d).year) if t.start <= d <= t.end)


def terms_between(start: date, end: date, unit: str = "term") -> list[Term]:
    """Terms (or whole academic years, unit='academic_year') overlapping [start, end], in order."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}.")
    if start > end:
        return []
    out = []
    for year in range(academic_year_start(start).year, academic_year_start(end).year + 1):
        if unit == "academic_year":
            ay = academic_year_label(year)
            periods = [Term(ay, date(year, 9, 1), date(year + 1, 8, 31), ay)]
        else:
            periods = terms_of_year(year)
        out.extend(t for t in periods if t.start <= end and t.end >= start)
    return out


def year_earlier(d: date) -> date:
    """The same date a year earlier (29 February becomes 28 February).

    >>> year_earlier(date(2024, 2, 29))
    datetime.date(2023, 2, 28)
    """
    try:
        return d.replace(year=d.year - 1)
    except ValueError:
        return d.replace(year=d.year - 1, day=28)


# ---------------------------------------------------------------------------------------------

def _figures_sql(filters: Filters, settings: Settings,
                 windows: list[tuple[date, date, date]]) -> tuple[str, list]:
    """One statement for the headline figures of several (period_start, period_end, as_of)
    windows at once: one row per window (column w, its 0-based position) with pupils_in_ap,
    open_placements, placements_started, placements_ended, km_median_days, open_median_days, ended, returned,
    sustained_eligible, sustained, sixth_eligible, sixth_met, any_flag.

    Each figure is the one population, time_in_ap, outcomes, exclusions and oversight compute
    for that window alone (tests/test_trends.py checks this against those summaries): the
    placements are selected once by the filters and paired with every window they can count
    in (started by its as_of and not ended before its start), and each window's derived
    columns (eff_end, is_open, days, ...) are worked out at its own as_of.
    """
    from analytics.oversight import REGISTERED  # here: oversight imports progress, not trends
    from analytics.schema import DESTINATIONS
    from analytics.schooldays import calendar_end, calendar_sql
    from analytics.exclusions import SIXTH

    fsql, fparams = selected_placements_sql(filters)
    s = settings
    first = min(w[0] for w in windows)
    last_as_of = max(w[2] for w in windows)
    csql, cparams = calendar_sql(first, calendar_end(last_as_of, SIXTH, s.holidays), s.holidays)
    if filters.selects_placements():
        # exclusions of pupils with a selected placement started by the window's as_of
        ex_pupils = ("JOIN (SELECT pupil_id, min(start_date) AS first_start FROM fp GROUP BY pupil_id) fpu "
                     "ON fpu.pupil_id = e.pupil_id AND fpu.first_start <= t.t_asof")
    else:
        ex_pupils = ""
    part_time = """CASE WHEN p.hours_per_week IS NOT NULL THEN p.hours_per_week < ?
                        WHEN p.sessions_per_week IS NOT NULL THEN p.sessions_per_week < 10
                        ELSE false END"""
    sql = f"""
        WITH t AS (SELECT unnest(?::INTEGER[]) AS w, unnest(?::DATE[]) AS t_start,
                          unnest(?::DATE[]) AS t_end, unnest(?::DATE[]) AS t_asof),
        fp AS ({fsql}),
        s AS (
            SELECT t.w, t.t_start, t.t_end, t.t_asof, fp.*,
                   CASE WHEN fp.end_date <= t.t_asof THEN fp.end_date END AS eff_end,
                   (fp.end_date IS NULL OR fp.end_date > t.t_asof) AS is_open,
                   date_diff('day', fp.start_date,
                             LEAST(COALESCE(fp.end_date, t.t_asof), t.t_asof)) + 1 AS days,
                   CASE WHEN fp.end_date IS NOT NULL AND fp.end_date <= t.t_asof
                        THEN COALESCE(fp.destination, 'unknown') END AS eff_destination,
                   CASE WHEN fp.last_review_date <= t.t_asof THEN fp.last_review_date END AS eff_review
            FROM fp JOIN t ON fp.start_date <= t.t_asof
                          AND (fp.end_date IS NULL OR fp.end_date >= t.t_start
                               OR fp.start_date >= t.t_start)),
        pop AS (
            SELECT w, count(DISTINCT pupil_id) FILTER (WHERE is_open) AS pupils_in_ap,
                   count(*) FILTER (WHERE is_open) AS open_placements,
                   count(*) FILTER (WHERE start_date BETWEEN t_start AND t_end) AS placements_started,
                   count(*) FILTER (WHERE eff_end BETWEEN t_start AND t_end) AS placements_ended,
                   -- time_in_ap's open.median_days: unlike the KM median of the term's starts,
                   -- it grows with placements that run on for years
                   median(days) FILTER (WHERE is_open) AS open_median_days
            FROM s GROUP BY w),
        -- Kaplan-Meier as time_in_ap._km_ctes, one curve per window
        km AS (SELECT w, days, count(*) FILTER (WHERE NOT is_open) AS events,
                      count(*) FILTER (WHERE is_open) AS censored
               FROM s WHERE start_date BETWEEN t_start AND t_end GROUP BY w, days),
        risk AS (SELECT *, sum(events + censored) OVER (PARTITION BY w ORDER BY days DESC
                                                        ROWS UNBOUNDED PRECEDING) AS at_risk
                 FROM km),
        surv AS (SELECT *, product(1 - events / at_risk) OVER (PARTITION BY w ORDER BY days
                                                               ROWS UNBOUNDED PRECEDING) AS survival
                 FROM risk),
        kmm AS (SELECT w, min(days) FILTER (WHERE survival <= {0.5 + _EPS!r}) AS km_median_days
                FROM surv GROUP BY w),
        -- return to mainstream as outcomes._ended_sql
        ended AS (
            SELECT w, t_asof, placement_id, pupil_id, eff_end AS end_date,
                   CASE WHEN list_contains(?::VARCHAR[], lower(trim(eff_destination)))
                        THEN lower(trim(eff_destination))
                        WHEN trim(eff_destination) = '' THEN 'unknown'
                        ELSE 'other' END AS destination
            FROM s WHERE eff_end BETWEEN t_start AND t_end),
        returns AS (
            SELECT w, placement_id, pupil_id, end_date,
                   LEAST(end_date + ?::INTEGER, t_asof) AS until,
                   end_date + ?::INTEGER <= t_asof AS eligible
            FROM ended WHERE destination = 'mainstream'),
        later AS (
            SELECT pupil_id, start_date AS at, placement_id FROM placements
            UNION ALL
            SELECT pupil_id, start_date, NULL FROM exclusions
            WHERE lower(trim(category)) = 'permanent'),
        breaks AS (
            SELECT DISTINCT r.w, r.placement_id
            FROM returns r JOIN later l
              ON l.pupil_id = r.pupil_id AND l.at BETWEEN r.end_date AND r.until
             AND (l.placement_id IS NULL OR l.placement_id <> r.placement_id)),
        ret AS (
            SELECT e.w, count(*) FILTER (WHERE e.destination <> 'other_ap') AS ended,
                   count(*) FILTER (WHERE e.destination = 'mainstream') AS returned,
                   count(*) FILTER (WHERE r.eligible) AS sustained_eligible,
                   count(*) FILTER (WHERE r.eligible AND b.placement_id IS NULL) AS sustained
            FROM ended e
            LEFT JOIN returns r ON r.w = e.w AND r.placement_id = e.placement_id
            LEFT JOIN breaks b ON b.w = e.w AND b.placement_id = e.placement_id
            GROUP BY e.w),
        -- the sixth-day duty as exclusions._sixth_day_sql
        cal AS ({csql}),
        pex AS (
            SELECT t.w, t.t_asof, e.pupil_id, e.start_date,
                   any_value(c.school_day_index) AS day_one_index
            FROM exclusions e JOIN t ON e.start_date >= t.t_start AND e.start_date <= t.t_end
            {ex_pupils}
            JOIN cal c ON c.date = e.start_date
            WHERE e.category = 'permanent'
            GROUP BY t.w, t.t_asof, e.pupil_id, e.start_date),
        six AS (
            SELECT pex.*, c.date AS sixth_school_day
            FROM pex JOIN cal c
              ON c.is_school_day AND c.school_day_index = pex.day_one_index + {SIXTH - 1}),
        prov AS (
            SELECT six.w, six.pupil_id, six.start_date,
                   bool_or(pl.start_date <= six.sixth_school_day
                           AND (pl.end_date IS NULL OR pl.end_date >= six.sixth_school_day))
                       AS covered
            FROM six JOIN placements pl
              ON pl.pupil_id = six.pupil_id AND pl.start_date <= six.t_asof
            GROUP BY six.w, six.pupil_id, six.start_date),
        sixth AS (
            SELECT six.w, count(*) FILTER (WHERE six.sixth_school_day <= six.t_asof) AS eligible,
                   count(*) FILTER (WHERE six.sixth_school_day <= six.t_asof
                                    AND COALESCE(prov.covered, false)) AS met
            FROM six LEFT JOIN prov
              ON prov.w = six.w AND prov.pupil_id = six.pupil_id AND prov.start_date = six.start_date
            GROUP BY six.w),
        -- any_flag as oversight.flags_sql: the attendance window is read only for open
        -- placements that no other flag has caught (part_time_over_limit implies part_time)
        op AS (
            SELECT row_number() OVER () AS pk, p.w, p.t_asof, p.pupil_id, p.start_date,
                   (p.planned_end_date IS NULL
                    OR COALESCE(p.planned_end_date < p.t_asof, false)
                    OR COALESCE(trim(p.objectives), '') = ''
                    OR date_diff('day', COALESCE(p.eff_review, p.start_date), p.t_asof) > ?
                    OR {part_time}
                    OR {REGISTERED} IS NOT DISTINCT FROM false
                    OR p.days > ?) AS flagged
            FROM s p WHERE p.is_open),
        low AS (
            SELECT op.pk,
                   SUM(a.possible_sessions) AS during_possible,
                   SUM(a.attended_sessions) AS during_attended
            FROM (SELECT * FROM op WHERE NOT flagged) op
            JOIN attendance a
              ON a.pupil_id = op.pupil_id AND a.period_start >= op.start_date
             AND a.period_start <= op.t_asof
            GROUP BY op.pk),
        flag AS (
            SELECT op.w, count(*) FILTER (WHERE op.flagged OR COALESCE(
                       CASE WHEN low.during_possible > 0
                            THEN low.during_attended / low.during_possible END < ?, false))
                       AS any_flag
            FROM op LEFT JOIN low USING (pk) GROUP BY op.w)
        SELECT t.w, COALESCE(pop.pupils_in_ap, 0), COALESCE(pop.open_placements, 0),
               COALESCE(pop.placements_started, 0), COALESCE(pop.placements_ended, 0),
               kmm.km_median_days, pop.open_median_days, COALESCE(ret.ended, 0), COALESCE(ret.returned, 0),
               COALESCE(ret.sustained_eligible, 0), COALESCE(ret.sustained, 0),
               COALESCE(sixth.eligible, 0), COALESCE(sixth.met, 0), COALESCE(flag.any_flag, 0)
        FROM t
        LEFT JOIN pop USING (w) LEFT JOIN kmm USING (w) LEFT JOIN ret USING (w)
        LEFT JOIN sixth USING (w) LEFT JOIN flag USING (w)
        ORDER BY t.w
    """
    params = ([list(range(len(windows))), [w[0] for w in windows], [w[1] for w in windows],
               [w[2] for w in windows]] + fparams
              + [list(DESTINATIONS), s.sustain_days, s.sustain_days] + cparams
              + [s.review_interval_days, s.full_time_hours, s.long_placement_days, s.low_attendance])
    return sql, params


_FIGURES = ("pupils_in_ap", "open_placements", "placements_started", "placements_ended",
            "km_median_days", "open_median_days", "ended", "returned", "sustained_eligible", "sustained",
            "sixth_eligible", "sixth_met", "any_flag")


def _figures(con, filters: Filters, settings: Settings,
             windows: list[tuple[date, date, date]]) -> list[dict]:
    """The headline figures of each (period_start, period_end, as_of) window, in one statement:
    counts as int, km_median_days as float or None, and the rates as the summaries give them."""
    sql, params = _figures_sql(filters, settings, windows)
    out = []
    for row in con.execute(sql, params).fetchall():
        d = dict(zip(_FIGURES, row[1:]))
        for k in _FIGURES:
            d[k] = num(d[k]) if k in ("km_median_days", "open_median_days") else int(d[k])
        d["return_rate"] = rate(d["returned"], d["ended"])
        d["sustained_rate"] = rate(d["sustained"], d["sustained_eligible"])
        d["sixth_day_rate"] = rate(d["sixth_met"], d["sixth_eligible"])
        out.append(d)
    return out


_HEADLINE = ("pupils_in_ap", "open_placements", "placements_started", "km_median_days", "return_rate",
             "sustained_rate", "sixth_day_rate", "any_flag")


def headline(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
             today: date | None = None) -> dict:
    """Headline figures at as_of and on the same date a year earlier.

    Returns {"current": {...}, "previous": {...}}, each with as_of, period_start, period_end
    (dates) and pupils_in_ap, open_placements, placements_started (the KM median's n), km_median_days, return_rate, sustained_rate,
    sixth_day_rate, any_flag. The earlier figures use the period shifted back a year (by
    default, 1 September to the earlier as_of).
    """
    period = resolve_period(filters, today)
    current = replace(filters, as_of=period.as_of, period_start=period.start, period_end=period.end)
    previous = replace(filters, as_of=year_earlier(period.as_of),
                       period_start=year_earlier(period.start), period_end=year_earlier(period.end))
    pairs = (("current", current), ("previous", previous))
    figures = _figures(con, filters, settings,
                       [(f.period_start, f.period_end, f.as_of) for _, f in pairs])
    return {key: {"as_of": f.as_of, "period_start": f.period_start, "period_end": f.period_end,
                  **{k: fig[k] for k in _HEADLINE}}
            for (key, f), fig in zip(pairs, figures)}


BY_TERM_COLUMNS = ["label", "period_start", "period_end", "as_of", "pupils_in_ap", "open_placements",
                   "placements_started", "placements_ended", "km_median_days", "open_median_days", "return_rate",
                   "returned", "ended", "sustained_rate", "sixth_day_rate", "any_flag"]


def _earliest_start(con, filters: Filters, today: date | None) -> date | None:
    period = resolve_period(filters, today)
    sql, params = placements_sql(filters, period)
    return con.execute(f"SELECT min(start_date) FROM ({sql})", params).fetchone()[0]


def _trend_terms(con, filters: Filters, unit: str, today: date | None,
                 since: date | None) -> tuple[date, list[Term]]:
    """as_of and the terms (or academic years) of a trend: from the term containing ``since``
    (by default the earliest start of a selected placement) to as_of's."""
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}.")
    as_of = resolve_period(filters, today).as_of
    if since is None:
        since = _earliest_start(con, filters, today) or as_of
    return as_of, terms_between(min(since, as_of), as_of, unit)


def by_term(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            unit: str = "term", today: date | None = None, since: date | None = None) -> pd.DataFrame:
    """One row per term (unit='term') or academic year (unit='academic_year') up to as_of.

    Columns: label, period_start, period_end (the term's own dates), as_of (= min(period_end,
    as_of)), pupils_in_ap, open_placements, placements_started, placements_ended,
    km_median_days, open_median_days (time_in_ap's open.median_days), return_rate, returned, ended, sustained_rate, sixth_day_rate, any_flag.
    Each row is the report's figures with the period = the term and as_of = its as_of column.
    The first row is the term containing ``since``: by default the earliest start of a selected
    placement (just as_of's term when nothing is selected). The chosen period does not move it:
    the default "this academic year to date" and the same dates picked as "2024/25" must give
    the same trend, and a trend is history, where the period sets the headline figures.
    """
    as_of, terms = _trend_terms(con, filters, unit, today, since)
    windows = [(t.start, min(t.end, as_of), min(t.end, as_of)) for t in terms]
    rows = [{"label": term.label, "period_start": term.start, "period_end": term.end,
             "as_of": w[2], **{k: fig[k] for k in BY_TERM_COLUMNS[4:]}}
            for term, w, fig in zip(terms, windows, _figures(con, filters, settings, windows))]
    df = pd.DataFrame(rows, columns=BY_TERM_COLUMNS)
    for col in ("km_median_days", "open_median_days", "return_rate", "sustained_rate", "sixth_day_rate"):
        df[col] = df[col].astype("float64")
    return df


FLAGS_BY_TERM_COLUMNS = ["label", "period_start", "period_end", "as_of", *oversight.FLAGS]


def flags_by_term(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                  unit: str = "term", today: date | None = None, since: date | None = None) -> pd.DataFrame:
    """Each oversight flag's count of the placements open at the end of each term (or academic
    year) up to as_of: oversight.summary as of each row's as_of, in one statement.

    Columns: label, period_start, period_end, as_of (as :func:`by_term`), then one count per
    flag of oversight.FLAGS. The terms are by_term's (from the term of the earliest selected
    start, or ``since``). A past date sees each placement's stored fields as they are now
    (metrics.md: "taken as stored"), so a review recorded by then but replaced in a later file
    is not seen there (review_overdue).
    """
    as_of, terms = _trend_terms(con, filters, unit, today, since)
    parts, params = [], []
    counts = ", ".join(f"count(*) FILTER (WHERE {f}) AS {f}" for f in oversight.FLAGS)
    for i, t in enumerate(terms):
        end = min(t.end, as_of)
        f = replace(filters, as_of=end, period_start=t.start, period_end=end)
        sql, p = oversight.flags_sql(f, settings, resolve_period(f, today), baseline=False)
        parts.append(f"SELECT {i} AS i, {counts} FROM ({sql})")
        params += p
    cols = FLAGS_BY_TERM_COLUMNS
    if not parts:
        return pd.DataFrame(columns=cols)
    found = {r[0]: r[1:] for r in con.execute(" UNION ALL ".join(parts), params).fetchall()}
    rows = [{"label": t.label, "period_start": t.start, "period_end": t.end, "as_of": min(t.end, as_of),
             **dict(zip(oversight.FLAGS, (int(v) for v in found[i])))} for i, t in enumerate(terms)]
    return pd.DataFrame(rows, columns=cols)
