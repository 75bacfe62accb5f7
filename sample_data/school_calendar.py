"""The synthetic LA's school calendar, 2021/22 summer term to 2024/25 summer term.

>>> add_school_days(date(2024, 10, 24), 1)   # Thursday before half term -> Friday
datetime.date(2024, 10, 25)
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Term:
    year: str          # "2022-23"
    number: int        # 1 autumn, 2 spring, 3 summer
    name: str          # "autumn"
    start: date
    end: date          # also the date of that term's exports
    half_term: tuple[date, date]

    @property
    def label(self) -> str:
        return f"{self.year}_{self.number}_{self.name}"

    @property
    def title(self) -> str:
        return f"{self.name} term {self.end.year if self.number > 1 else self.start.year}"


D = date
BASELINE_TERM = Term("2021-22", 3, "summer", D(2022, 4, 25), D(2022, 7, 22), (D(2022, 5, 30), D(2022, 6, 3)))
TERMS = (
    Term("2022-23", 1, "autumn", D(2022, 9, 5), D(2022, 12, 20), (D(2022, 10, 24), D(2022, 10, 28))),
    Term("2022-23", 2, "spring", D(2023, 1, 4), D(2023, 3, 31), (D(2023, 2, 13), D(2023, 2, 17))),
    Term("2022-23", 3, "summer", D(2023, 4, 17), D(2023, 7, 21), (D(2023, 5, 29), D(2023, 6, 2))),
    Term("2023-24", 1, "autumn", D(2023, 9, 4), D(2023, 12, 20), (D(2023, 10, 30), D(2023, 11, 3))),
    Term("2023-24", 2, "spring", D(2024, 1, 4), D(2024, 3, 28), (D(2024, 2, 12), D(2024, 2, 16))),
    Term("2023-24", 3, "summer", D(2024, 4, 15), D(2024, 7, 23), (D(2024, 5, 27), D(2024, 5, 31))),
    Term("2024-25", 1, "autumn", D(2024, 9, 3), D(2024, 12, 20), (D(2024, 10, 28), D(2024, 11, 1))),
    Term("2024-25", 2, "spring", D(2025, 1, 6), D(2025, 4, 4), (D(2025, 2, 17), D(2025, 2, 21))),
    Term("2024-25", 3, "summer", D(2025, 4, 22), D(2025, 7, 22), (D(2025, 5, 26), D(2025, 5, 30))),
)
ALL_TERMS = (BASELINE_TERM,) + TERMS
# Spring/summer terms before 2022/23 (no exports): the generator may start a pupil's story there.
EARLY_TERMS = (
    Term("2021-22", 2, "spring", D(2022, 1, 5), D(2022, 4, 8), (D(2022, 2, 21), D(2022, 2, 25))),
    BASELINE_TERM,
)
BANK_HOLIDAYS = frozenset({D(2022, 5, 2), D(2023, 5, 1), D(2023, 5, 8), D(2024, 5, 6), D(2025, 5, 5)})
DATA_START, DATA_END = TERMS[0].start, TERMS[-1].end


def _school_days() -> list[date]:
    days = []
    for term in EARLY_TERMS[:1] + ALL_TERMS:
        d = term.start
        while d <= term.end:
            if d.weekday() < 5 and d not in BANK_HOLIDAYS and not (term.half_term[0] <= d <= term.half_term[1]):
                days.append(d)
            d += timedelta(days=1)
    return days


SCHOOL_DAYS: list[date] = _school_days()
FIRST_DAY, LAST_DAY = SCHOOL_DAYS[0], SCHOOL_DAYS[-1]


def next_school_day(d: date) -> date:
    """d if it is a school day, else the next one (clamped to the last day)."""
    i = bisect.bisect_left(SCHOOL_DAYS, d)
    return SCHOOL_DAYS[min(i, len(SCHOOL_DAYS) - 1)]


def prev_school_day(d: date) -> date:
    i = bisect.bisect_right(SCHOOL_DAYS, d) - 1
    return SCHOOL_DAYS[max(i, 0)]


def add_school_days(d: date, n: int) -> date:
    """The school day n school days after d (d itself a school day); clamps at the ends."""
    i = bisect.bisect_left(SCHOOL_DAYS, d) + n
    return SCHOOL_DAYS[max(0, min(i, len(SCHOOL_DAYS) - 1))]


def school_days_between(a: date, b: date) -> list[date]:
    """School days d with a <= d <= b."""
    return SCHOOL_DAYS[bisect.bisect_left(SCHOOL_DAYS, a):bisect.bisect_right(SCHOOL_DAYS, b)]


def term_of(d: date) -> Term | None:
    for term in ALL_TERMS:
        if term.start <= d <= term.end:
            return term
    return None


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def leaving_date(dob: date) -> date:
    """Last day of the summer term of Year 11 (age 15 on 31 August before it)."""
    year11_start = dob.year + 15 + (1 if (dob.month, dob.day) > (8, 31) else 0)
    return _summer_end(year11_start + 1)


def _summer_end(year: int) -> date:
    for term in ALL_TERMS:
        if term.number == 3 and term.end.year == year:
            return term.end
    return date(year, 7, 22)


def nc_year(dob: date, on: date) -> int:
    """National Curriculum year in the academic year containing `on` (age on 31 Aug before it - 4)."""
    start_year = on.year if on.month >= 9 else on.year - 1
    aug31 = date(start_year, 8, 31)
    age = aug31.year - dob.year - ((aug31.month, aug31.day) < (dob.month, dob.day))
    return age - 4
