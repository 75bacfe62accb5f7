"""Settings (metrics.md defaults) and Filters, the two objects every metric accepts.

Both are frozen dataclasses, so they are hashable and can key a cache.

>>> resolve_period(Filters(as_of=date(2025, 3, 14)))
Period(as_of=datetime.date(2025, 3, 14), start=datetime.date(2024, 9, 1), end=datetime.date(2025, 3, 14))
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import date

from analytics.errors import PeriodError

REPORT_SETTINGS = ("full_time_hours", "review_interval_days", "long_placement_days",
                   "baseline_days", "sustain_days", "part_time_limit_days",
                   "low_attendance", "suppress_below")


# The range and step each setting may take, wherever it is set: the Settings page, a shared
# link, the command line. (lowest, highest, step); a step of 1 means a whole number.
SETTING_LIMITS: dict[str, tuple[float, float, float]] = {
    "full_time_hours": (1.0, 40.0, 0.5),
    "review_interval_days": (7, 365, 1),
    "long_placement_days": (14, 1000, 1),
    "part_time_limit_days": (1, 365, 1),
    "low_attendance": (0.05, 1.0, 0.05),
    "baseline_days": (7, 365, 1),
    "sustain_days": (28, 730, 1),
    "suppress_below": (1, 20, 1),
}


def check_setting(name: str, value) -> float | int:
    """The value as the setting's type when it is within SETTING_LIMITS, else ValueError with a
    sentence. Whole-number settings take whole numbers only; nothing infinite or not a number.

    >>> check_setting("full_time_hours", "25.5"), check_setting("sustain_days", "91")
    (25.5, 91)
    >>> check_setting("review_interval_days", "-5")
    Traceback (most recent call last):
    ...
    ValueError: review interval days must be from 7 to 365, not -5.
    """
    lo, hi, step = SETTING_LIMITS[name]
    words = name.replace("_", " ")
    whole = step == 1
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{words} must be {'a whole number' if whole else 'a number'}, "
                         f"not '{value}'.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{words} must be a number, not '{value}'.")
    if whole and not number.is_integer():
        raise ValueError(f"{words} must be a whole number, not {value}.")
    if not lo <= number <= hi:
        extra = " (a fraction: 0.5 means 50%)" if name == "low_attendance" else ""
        shown = int(number) if number.is_integer() else number
        raise ValueError(f"{words} must be from {lo:g} to {hi:g}{extra}, not {shown}.")
    if whole:
        return int(number)
    return int(number) if number.is_integer() and isinstance(getattr(Settings(), name), int) else number


@dataclass(frozen=True)
class Settings:
    full_time_hours: float = 25
    review_interval_days: int = 42
    long_placement_days: int = 182
    baseline_days: int = 91
    sustain_days: int = 182
    part_time_limit_days: int = 42
    low_attendance: float = 0.5
    suppress_below: int = 3
    holidays: tuple[date, ...] = ()
    # Overrides of a measure's direction: (measure_key, higher_is_better).
    measure_directions: tuple[tuple[str, bool], ...] = ()

    def report_dict(self) -> dict:
        """The eight numeric settings, as the report states them."""
        return {k: getattr(self, k) for k in REPORT_SETTINGS}

    def with_overrides(self, **values) -> "Settings":
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in values.items() if k in known and v is not None})


# Filter fields that select placements by a column of the placements table (allow-list).
PLACEMENT_FILTER_COLUMNS = {
    "provider": "provider_key",
    "commissioner": "commissioner",
    "school": "home_school",
    "trust": "trust",
    "setting_type": "setting_type",
    "reason": "reason",
    "sen_status": "sen_status",
    "sex": "sex",
    "nc_year": "nc_year",
}

# Yes/no filters: each the placements column of its name ("out of area": the review found
# oversight weaker when AP is out of area).
BOOL_FILTER_COLUMNS = ("cla", "fsm", "out_of_area")


@dataclass(frozen=True)
class Filters:
    as_of: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    provider: tuple[str, ...] = ()
    commissioner: tuple[str, ...] = ()
    school: tuple[str, ...] = ()
    trust: tuple[str, ...] = ()
    setting_type: tuple[str, ...] = ()
    reason: tuple[str, ...] = ()
    sen_status: tuple[str, ...] = ()
    cla: bool | None = None
    fsm: bool | None = None
    out_of_area: bool | None = None
    sex: tuple[str, ...] = ()
    nc_year: tuple[str, ...] = ()

    def selects_placements(self) -> bool:
        """True when any filter narrows the placements (and so the pupils) counted."""
        return (any(getattr(self, f) for f in PLACEMENT_FILTER_COLUMNS)
                or any(getattr(self, f) is not None for f in BOOL_FILTER_COLUMNS))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Period:
    as_of: date
    start: date
    end: date


def academic_year_start(d: date) -> date:
    """1 September of the academic year containing d.

    >>> academic_year_start(date(2025, 8, 31)), academic_year_start(date(2025, 9, 1))
    (datetime.date(2024, 9, 1), datetime.date(2025, 9, 1))
    """
    return date(d.year if d.month >= 9 else d.year - 1, 9, 1)


def resolve_period(filters: Filters, today: date | None = None) -> Period:
    """as_of (default today), and the period capped at as_of (metrics.md, common terms)."""
    as_of = filters.as_of or today or date.today()
    start = filters.period_start or academic_year_start(as_of)
    end = min(filters.period_end or as_of, as_of)
    if start > end:
        raise PeriodError(
            f"The period starts on {start:%d %B %Y}, after it ends on {end:%d %B %Y} "
            f"(the end is capped at the 'as of' date, {as_of:%d %B %Y}). "
            "Choose an earlier start or a later 'as of' date.")
    return Period(as_of, start, end)
