"""School days: Monday to Friday, less the holiday dates the user loaded (metrics.md, common terms).

Two scalar helpers for one date, and a calendar as SQL for applying them to many rows at once.

Day one of a count is the start date when it is a school day, else the next school day:

>>> nth_school_day(date(2025, 1, 3), 6, ())      # Friday 3 Jan 2025: day 6 is Friday 10 Jan
datetime.date(2025, 1, 10)
>>> school_day_number(date(2025, 1, 4), date(2025, 1, 6), ())   # Saturday: day one is Monday
1

The calendar (``calendar_sql``) has one row per date with ``school_day_index``: the number of
school days before that date, plus one. For a school day that is its own running number; for
any other date it is the number of the next school day. So, for exclusion start ``s``:

- the n-th school day counted from ``s`` is the school day whose index is ``index(s) + n - 1``;
- the school-day number of a later date ``d`` is ``index(d) - index(s) + 1`` (a date that is not
  a school day counts as the next school day).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta


def is_school_day(d: date, holidays: Iterable[date]) -> bool:
    """Monday to Friday and not a holiday.

    >>> is_school_day(date(2025, 1, 4), ()), is_school_day(date(2025, 1, 6), (date(2025, 1, 6),))
    (False, False)
    """
    return d.weekday() < 5 and d not in set(holidays)


def _next_school_day(d: date, holidays: frozenset[date]) -> date:
    while d.weekday() >= 5 or d in holidays:
        d += timedelta(days=1)
    return d


def nth_school_day(start: date, n: int, holidays: Iterable[date]) -> date:
    """The n-th school day counting day one as start (or the next school day when start is not one).

    >>> nth_school_day(date(2025, 1, 6), 1, ())
    datetime.date(2025, 1, 6)
    """
    if n < 1:
        raise ValueError("n counts from 1 (day one is the start date or the next school day).")
    hol = frozenset(holidays)
    d = _next_school_day(start, hol)
    for _ in range(n - 1):
        d = _next_school_day(d + timedelta(days=1), hol)
    return d


def school_day_number(day_one_from: date, d: date, holidays: Iterable[date]) -> int:
    """The school-day number of d, counting from day_one_from as in nth_school_day.

    A date that is not a school day counts as the next school day. d must not be before
    day_one_from.

    >>> school_day_number(date(2025, 1, 6), date(2025, 1, 13), ())   # Monday to next Monday
    6
    """
    if d < day_one_from:
        raise ValueError("The date is before the day the count starts from.")
    hol = frozenset(holidays)
    first = _next_school_day(day_one_from, hol)
    target = _next_school_day(d, hol)
    n, cur = 1, first
    while cur < target:
        cur = _next_school_day(cur + timedelta(days=1), hol)
        n += 1
    return n


def calendar_end(last: date, n: int, holidays: Iterable[date]) -> date:
    """A date late enough that the calendar holds the n-th school day counted from any date ≤ last.

    n school days fit in n + 2 * (n // 5 + 2) calendar days of weekdays, and each holiday date
    can push that by one more day.
    """
    return last + timedelta(days=n + 2 * (n // 5 + 2) + len(set(holidays)))


def calendar_sql(first: date, last: date, holidays: Iterable[date]) -> tuple[str, list]:
    """Every date in [first, last] with is_school_day and school_day_index (see the module doc).

    Returns (sql, params) for use as a subquery: columns ``date``, ``is_school_day``,
    ``school_day_index``.
    """
    sql = """
        SELECT d AS date, is_school_day,
               CAST(COALESCE(SUM(CASE WHEN is_school_day THEN 1 ELSE 0 END)
                    OVER (ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) + 1
                    AS BIGINT) AS school_day_index
        FROM (
            SELECT CAST(g.generate_series AS DATE) AS d,
                   (isodow(CAST(g.generate_series AS DATE)) <= 5
                    AND NOT list_contains(?::DATE[], CAST(g.generate_series AS DATE))) AS is_school_day
            FROM generate_series(CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), INTERVAL 1 DAY) g
        )
    """
    return sql, [sorted(set(holidays)), first, last]
