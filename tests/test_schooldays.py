"""School days: Mon–Fri less loaded holidays. Calendar facts used below (January 2025):

    Mon  6  Tue  7  Wed  8  Thu  9  Fri 10  Sat 11  Sun 12
    Mon 13  Tue 14  Wed 15  Thu 16  Fri 17
and Fri 3 Jan, Sat 4 Jan, Sun 5 Jan 2025.
"""
from datetime import date, timedelta

import duckdb
import pytest

from analytics.schooldays import (calendar_end, calendar_sql, is_school_day, nth_school_day,
                                  school_day_number)

D = date.fromisoformat
WED_8 = (D("2025-01-08"),)


@pytest.mark.parametrize("start, n, holidays, expected", [
    # Monday is day one; days 1-5 are Mon 6..Fri 10, the weekend is skipped, day 6 is Mon 13.
    ("2025-01-06", 6, (), "2025-01-13"),
    ("2025-01-06", 1, (), "2025-01-06"),
    # Thursday: Thu 9, Fri 10, Mon 13, Tue 14, Wed 15, Thu 16 -> across a weekend.
    ("2025-01-09", 6, (), "2025-01-16"),
    # Holiday on Wed 8: Mon 6, Tue 7, Thu 9, Fri 10, Mon 13, Tue 14.
    ("2025-01-06", 6, WED_8, "2025-01-14"),
    # Saturday 4 Jan: day one is Monday 6, so day 6 is Monday 13.
    ("2025-01-04", 6, (), "2025-01-13"),
    ("2025-01-04", 1, (), "2025-01-06"),
    # The start itself a holiday (Mon 6): day one is Tue 7; 7,8,9,10,13,14.
    ("2025-01-06", 6, (D("2025-01-06"),), "2025-01-14"),
])
def test_nth_school_day(start, n, holidays, expected):
    assert nth_school_day(D(start), n, holidays) == D(expected)


@pytest.mark.parametrize("day_one_from, d, holidays, expected", [
    ("2025-01-06", "2025-01-06", (), 1),
    ("2025-01-06", "2025-01-10", (), 5),
    # Saturday 11 counts as the next school day, Monday 13, which is day 6.
    ("2025-01-06", "2025-01-11", (), 6),
    ("2025-01-04", "2025-01-06", (), 1),        # a Saturday start: Monday is day one
    ("2025-01-04", "2025-01-05", (), 1),        # Sunday -> Monday, still day one
    ("2025-01-06", "2025-01-09", WED_8, 3),     # Mon 1, Tue 2, (Wed off), Thu 3
    ("2025-01-06", "2025-01-08", WED_8, 3),     # a holiday counts as the next school day
])
def test_school_day_number(day_one_from, d, holidays, expected):
    assert school_day_number(D(day_one_from), D(d), holidays) == expected


def test_is_school_day():
    assert is_school_day(D("2025-01-06"), ())
    assert not is_school_day(D("2025-01-05"), ())
    assert not is_school_day(D("2025-01-08"), WED_8)


def _calendar(first, last, holidays):
    sql, params = calendar_sql(D(first), D(last), holidays)
    return {r[0]: (r[1], r[2]) for r in duckdb.connect().execute(sql, params).fetchall()}


def test_calendar_sql_indexes_by_hand():
    # From Fri 3 Jan with Wed 8 off: Fri 3 -> 1; Sat 4, Sun 5 -> next school day (Mon 6) = 2;
    # Mon 6 = 2, Tue 7 = 3, Wed 8 (holiday) -> 4 = Thu 9, Fri 10 = 5, Mon 13 = 6.
    cal = _calendar("2025-01-03", "2025-01-13", WED_8)
    assert {d.isoformat(): i for d, (_, i) in cal.items()} == {
        "2025-01-03": 1, "2025-01-04": 2, "2025-01-05": 2, "2025-01-06": 2, "2025-01-07": 3,
        "2025-01-08": 4, "2025-01-09": 4, "2025-01-10": 5, "2025-01-11": 6, "2025-01-12": 6,
        "2025-01-13": 6}
    assert [d.isoformat() for d, (school, _) in cal.items() if not school] == [
        "2025-01-04", "2025-01-05", "2025-01-08", "2025-01-11", "2025-01-12"]


def test_calendar_sql_agrees_with_the_scalar_functions():
    # Christmas 2024 fortnight as a holiday: the two implementations must agree everywhere.
    holidays = tuple(D("2024-12-23") + timedelta(days=i) for i in range(12))
    first, last = D("2024-12-01"), D("2025-02-28")
    cal = _calendar(first.isoformat(), calendar_end(last, 6, holidays).isoformat(), holidays)
    by_index = {i: d for d, (school, i) in cal.items() if school}
    for offset in range((last - first).days + 1):
        s = first + timedelta(days=offset)
        assert by_index[cal[s][1] + 5] == nth_school_day(s, 6, holidays)
        later = s + timedelta(days=9)
        assert cal[later][1] - cal[s][1] + 1 == school_day_number(s, later, holidays)
