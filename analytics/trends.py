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

from analytics import outcomes, population
from analytics.scope import placements_sql
from analytics.settings import Filters, Settings, academic_year_start, resolve_period
from analytics.time_in_ap import km_median_days

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

def _sixth_day_rate(con, filters: Filters, settings: Settings) -> float | None:
    from analytics import exclusions  # imported here: exclusions imports this module for terms
    return exclusions.summary(con, filters, settings)["sixth_day"]["rate"]


def _any_flag(con, filters: Filters, settings: Settings) -> int:
    from analytics import oversight
    return oversight.summary(con, filters, settings)["any_flag"]


def _headline_figures(con, filters: Filters, settings: Settings) -> dict:
    pop = population.summary(con, filters, settings)
    ret = outcomes.summary(con, filters, settings)
    return {
        "pupils_in_ap": pop["pupils_in_ap"],
        "open_placements": pop["open_placements"],
        "km_median_days": km_median_days(con, filters, settings),
        "return_rate": ret["rate"],
        "sustained_rate": ret["sustained"]["rate"],
        "sixth_day_rate": _sixth_day_rate(con, filters, settings),
        "any_flag": _any_flag(con, filters, settings),
    }


def headline(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
             today: date | None = None) -> dict:
    """Headline figures at as_of and on the same date a year earlier.

    Returns {"current": {...}, "previous": {...}}, each with as_of, period_start, period_end
    (dates) and pupils_in_ap, open_placements, km_median_days, return_rate, sustained_rate,
    sixth_day_rate, any_flag. The earlier figures use the period shifted back a year (by
    default, 1 September to the earlier as_of).
    """
    period = resolve_period(filters, today)
    current = replace(filters, as_of=period.as_of, period_start=period.start, period_end=period.end)
    previous = replace(filters, as_of=year_earlier(period.as_of),
                       period_start=year_earlier(period.start), period_end=year_earlier(period.end))
    out = {}
    for key, f in (("current", current), ("previous", previous)):
        out[key] = {"as_of": f.as_of, "period_start": f.period_start, "period_end": f.period_end,
                    **_headline_figures(con, f, settings)}
    return out


BY_TERM_COLUMNS = ["label", "period_start", "period_end", "as_of", "pupils_in_ap", "open_placements",
                   "placements_started", "placements_ended", "km_median_days", "return_rate",
                   "returned", "ended", "sustained_rate", "sixth_day_rate", "any_flag"]


def _earliest_start(con, filters: Filters, today: date | None) -> date | None:
    period = resolve_period(filters, today)
    sql, params = placements_sql(filters, period)
    return con.execute(f"SELECT min(start_date) FROM ({sql})", params).fetchone()[0]


def by_term(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            unit: str = "term", today: date | None = None, since: date | None = None) -> pd.DataFrame:
    """One row per term (unit='term') or academic year (unit='academic_year') up to as_of.

    Columns: label, period_start, period_end (the term's own dates), as_of (= min(period_end,
    as_of)), pupils_in_ap, open_placements, placements_started, placements_ended,
    km_median_days, return_rate, returned, ended, sustained_rate, sixth_day_rate, any_flag.
    Each row is the report's figures with the period = the term and as_of = its as_of column.
    The first row is the term containing ``since``; by default the filters' period start when
    one was chosen, else (and never before) the earliest start of a selected placement; just as_of's term
    when nothing is selected.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}.")
    as_of = resolve_period(filters, today).as_of
    if since is None:
        earliest = _earliest_start(con, filters, today) or as_of
        # Not before the first placement: an "all time" period from 1900 is centuries of rows.
        since = max(filters.period_start or earliest, earliest)
    rows = []
    for term in terms_between(min(since, as_of), as_of, unit):
        row_as_of = min(term.end, as_of)
        f = replace(filters, as_of=row_as_of, period_start=term.start, period_end=row_as_of)
        pop = population.summary(con, f, settings)
        ret = outcomes.summary(con, f, settings)
        rows.append({
            "label": term.label, "period_start": term.start, "period_end": term.end,
            "as_of": row_as_of,
            "pupils_in_ap": pop["pupils_in_ap"], "open_placements": pop["open_placements"],
            "placements_started": pop["placements_started"],
            "placements_ended": pop["placements_ended"],
            "km_median_days": km_median_days(con, f, settings),
            "return_rate": ret["rate"], "returned": ret["returned"], "ended": ret["ended"],
            "sustained_rate": ret["sustained"]["rate"],
            "sixth_day_rate": _sixth_day_rate(con, f, settings),
            "any_flag": _any_flag(con, f, settings),
        })
    df = pd.DataFrame(rows, columns=BY_TERM_COLUMNS)
    for col in ("km_median_days", "return_rate", "sustained_rate", "sixth_day_rate"):
        df[col] = df[col].astype("float64")
    return df
