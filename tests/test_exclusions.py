"""Exclusions and the sixth-day duty (metrics.md §4), expected values worked out by hand.

as_of = Mon 31 Mar 2025; period 1 Sep 2024 .. 31 Mar 2025. Calendar facts used:
Thu 9 Jan, Sat 4 Jan, Sun 12 Jan, Mon 20 Jan, Mon 10 Feb, Mon 3 Mar, Tue 25 Mar 2025;
February half term loaded as holidays Mon 17 – Fri 21 Feb 2025.
"""
from datetime import date, timedelta

import pandas as pd
import pytest

from analytics import exclusions
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

AS_OF = date(2025, 3, 31)
F = Filters(as_of=AS_OF)
HALF_TERM = tuple(date(2025, 2, 17) + timedelta(days=i) for i in range(5))
S = Settings(holidays=HALF_TERM)


def exc(pupil, category, start, **cols):
    return {"pupil_id": pupil, "category": category, "start_date": start, **cols}


@pytest.fixture
def con():
    return make_db(
        exclusions=[
            exc("A", "suspension", "2024-06-01", school="Hill High"),   # before the period
            exc("A", "suspension", "2024-10-01", school="Hill High", sessions=2, reason="PP"),
            exc("A", "suspension", "2024-11-05", school="Hill High", sessions=4, reason="VP"),
            exc("B", "suspension", "2025-01-10", school="Vale", sessions=1, reason="PP"),
            exc("B", "suspension", "2025-04-02", school="Vale"),        # after as_of
            exc("C", "lunchtime", "2025-01-15", school="Vale"),
            exc("C", "lunchtime", "2025-01-16", school="Vale"),
            # Permanent exclusions; sixth school day worked out in each comment.
            exc("X", "permanent", "2025-01-09", school="Hill High"),  # Thu: 9,10,13,14,15,16 -> 16 Jan
            exc("Y", "permanent", "2025-02-10", school="Vale"),       # 10..14, half term, 24 Feb
            exc("Z", "permanent", "2025-01-04", school="Vale"),       # Sat: Mon 6..10, Mon 13
            exc("W", "permanent", "2025-03-25", school="Vale"),       # 25,26,27,28,31 Mar, 1 Apr
            exc("V", "permanent", "2025-03-03", school="Vale"),       # 3..7, Mon 10 Mar
            exc("U", "permanent", "2025-01-08", school="Vale"),       # 8,9,10,13,14,15 Jan
            exc("T", "permanent", "2025-01-20", school="Vale"),       # 20..24, Mon 27 Jan
        ],
        placements=[
            placement("X", "2025-01-16"),                              # starts on day 6: met
            placement("Y", "2025-02-25"),                              # day after day 6: not met
            placement("Z", "2024-11-01", "2025-01-10", sex="F"),       # ended before day 6
            placement("Z", "2025-01-12", sex="F", provider_urn="100002"),  # Sunday -> Mon 13, day 6
            placement("W", "2025-03-26"),
            placement("U", "2025-04-10"),                              # after as_of: ignored
            placement("T", "2024-12-01"),                              # already in AP: covers day 6
        ])


def test_counts(con):
    # Suspensions in the period: A 1 Oct, A 5 Nov, B 10 Jan = 3 (A's June one is before the
    # period, B's April one after as_of); pupils A and B; A has two -> 1 repeat pupil.
    # Lunchtime: C twice, not suspensions. Permanent: X, Y, Z, W, V, U, T = 7.
    got = exclusions.summary(con, F, S)
    assert {k: got[k] for k in ("suspensions", "pupils_suspended", "repeat_suspended_pupils",
                                "lunchtime", "permanent_exclusions")} == {
        "suspensions": 3, "pupils_suspended": 2, "repeat_suspended_pupils": 1,
        "lunchtime": 2, "permanent_exclusions": 7}


def test_sixth_day_summary(con):
    # Eligible (day 6 by 31 Mar): X, Y, Z, V, U, T = 6 (W's day 6 is 1 Apr: not yet).
    # Met: X (starts on day 6), Z (starts Sun 12 Jan <= Mon 13 Jan and is open),
    # T (open since December) = 3. Y starts a day late; V none; U after as_of.
    # Days to provision (earliest start on/after the exclusion): X 16 Jan = day 6;
    # Y 25 Feb = 10..14 (1-5), 24 (6), 25 (7); Z Sun 12 Jan -> Mon 13 = day 6. T's placement
    # started before the exclusion, V and U have none by as_of. Median of (6, 7, 6) = 6.
    assert exclusions.summary(con, F, S)["sixth_day"] == {
        "eligible": 6, "met": 3, "rate": 0.5, "median_school_days_to_provision": 6.0}


def test_sixth_day_cases(con):
    df = exclusions.sixth_day_cases(con, F, S).set_index("pupil_id")
    expect = {  # pupil: (sixth school day, eligible, first provision, days, met)
        "X": ("2025-01-16", True, "2025-01-16", 6, True),
        "Y": ("2025-02-24", True, "2025-02-25", 7, False),
        "Z": ("2025-01-13", True, "2025-01-12", 6, True),
        "W": ("2025-04-01", False, "2025-03-26", 2, None),   # Tue 25 = day 1, Wed 26 = day 2
        "V": ("2025-03-10", True, None, None, False),
        "U": ("2025-01-15", True, None, None, False),
        "T": ("2025-01-27", True, None, None, True),
    }
    assert set(df.index) == set(expect)
    for pupil, (sixth, eligible, first, days, met) in expect.items():
        r = df.loc[pupil]
        assert r.sixth_school_day.date() == date.fromisoformat(sixth), pupil
        assert bool(r.eligible) is eligible, pupil
        if first is None:
            assert pd.isna(r.first_provision_start) and pd.isna(r.school_days_to_provision), pupil
        else:
            assert r.first_provision_start.date() == date.fromisoformat(first), pupil
            assert r.school_days_to_provision == days, pupil
        assert (None if pd.isna(r.met) else bool(r.met)) is met, pupil


def test_sixth_day_without_the_holiday(con):
    # Without half term, Y's day 6 is Mon 17 Feb and 25 Feb is day 12 (10..14, 17..21, 24, 25).
    r = exclusions.sixth_day_cases(con, F, Settings()).set_index("pupil_id").loc["Y"]
    assert r.sixth_school_day.date() == date(2025, 2, 17)
    assert r.school_days_to_provision == 12 and not r.met


def test_not_yet_eligible():
    # Excluded Tue 25 Mar; day 6 is Tue 1 Apr; as_of 31 Mar -> nothing eligible, rate null.
    con = make_db(exclusions=[exc("W", "permanent", "2025-03-25")],
                  placements=[placement("W", "2025-03-26")])
    assert exclusions.summary(con, F, S)["sixth_day"] == {
        "eligible": 0, "met": 0, "rate": None, "median_school_days_to_provision": None}
    # One day later it is eligible and met (placement from 26 Mar covers 1 Apr), day 2.
    later = exclusions.summary(con, Filters(as_of=date(2025, 4, 1)), S)["sixth_day"]
    assert later == {"eligible": 1, "met": 1, "rate": 1.0, "median_school_days_to_provision": 2.0}


def test_filters_narrow_the_pupils(con):
    # Only Z has a placement with sex F: one permanent exclusion, eligible and met.
    got = exclusions.summary(con, Filters(as_of=AS_OF, sex=("F",)), S)
    assert (got["suspensions"], got["lunchtime"], got["permanent_exclusions"]) == (0, 0, 1)
    assert got["sixth_day"]["eligible"] == 1 and got["sixth_day"]["met"] == 1
    # Filtering on Z's second provider still meets the duty: any placement the pupil has counts.
    got = exclusions.summary(con, Filters(as_of=AS_OF, provider=("100002",)), S)
    assert got["sixth_day"]["met"] == 1


def test_repeat_suspensions(con):
    df = exclusions.repeat_suspensions(con, F, S)
    assert df.to_dict("records") == [{"pupil_id": "A", "suspensions": 2, "sessions": 6.0,
                                      "first_date": pd.Timestamp("2024-10-01"),
                                      "last_date": pd.Timestamp("2024-11-05")}]


def test_by_school_and_reason(con):
    df = exclusions.by_group(con, F, S, "school").set_index("group")
    # Hill High: A's two suspensions, X's permanent. Vale: B's suspension, 6 permanent, 2 lunchtime.
    assert df.loc["Hill High"].tolist() == [2, 1, 0, 1]
    assert df.loc["Vale"].tolist() == [1, 6, 2, 1]
    reasons = exclusions.by_group(con, F, S, "reason").set_index("group")
    assert reasons.loc["PP", "suspensions"] == 2 and reasons.loc["VP", "suspensions"] == 1
    assert reasons.loc["unknown", "permanent"] == 7


def test_by_term_boundaries():
    # Easter Sunday 2025 is 20 April: it ends spring; Easter Monday 21 April starts summer.
    con = make_db(exclusions=[exc("A", "suspension", d) for d in
                              ("2024-12-31", "2025-01-01", "2025-04-20", "2025-04-21")])
    df = exclusions.by_group(con, Filters(as_of=date(2025, 8, 31)), S, "term")
    assert df[["group", "suspensions"]].values.tolist() == [
        ["Autumn 2024/25", 1], ["Spring 2024/25", 2], ["Summer 2024/25", 1]]
    years = exclusions.by_group(con, Filters(as_of=date(2025, 8, 31)), S, "academic_year")
    assert years[["group", "suspensions", "pupils_suspended"]].values.tolist() == [["2024/25", 4, 1]]


def test_by_group_rejects_other_columns(con):
    with pytest.raises(ValueError):
        exclusions.by_group(con, F, S, "pupil_id; DROP TABLE exclusions")


def test_rates_by_school(con):
    rolls = pd.DataFrame({"school": ["hill high "], "roll": [400]})
    df = exclusions.rates_by_school(con, F, S, rolls).set_index("school")
    # Hill High: 2 suspensions / 400 = 0.005; 1 permanent / 400 = 0.0025. Vale: no roll -> null.
    assert df.loc["Hill High", "suspension_rate"] == pytest.approx(0.005)
    assert df.loc["Hill High", "permanent_rate"] == pytest.approx(0.0025)
    assert pd.isna(df.loc["Vale", "suspension_rate"]) and pd.isna(df.loc["Vale", "roll"])
    assert pd.isna(exclusions.rates_by_school(con, F, S, None)["suspension_rate"]).all()


def test_children_permanently_excluded_with_no_provision_since():
    # A reviewer: a child permanently excluded in September with nothing since was on no case
    # list (no open placement) and counted like a two-day delay. As of Fri 14 Mar 2025:
    as_of = date(2025, 3, 14)
    con = make_db(
        exclusions=[
            exc("P1", "permanent", "2025-01-06", school="Hill High"),   # nothing at all: listed
            exc("P2", "permanent", "2025-01-06"),   # a placement since, ended: provision was made
            exc("P3", "permanent", "2025-01-06"),   # a placement open across the exclusion
            exc("P4", "permanent", "2025-01-06", school="Vale"),   # only a placement ended before it: listed
            exc("P5", "permanent", "2025-04-01"),   # after as_of
            exc("P6", "permanent", "2024-10-01"),   # provided for after the first ...
            exc("P6", "permanent", "2025-02-03", school="Vale"),   # ... not after the second: listed
            exc("P7", "permanent", "2025-01-06"),   # a placement starting after as_of: listed
            exc("P8", "suspension", "2025-01-06"),  # not permanent
        ],
        placements=[
            placement("P2", "2025-01-13", "2025-02-01"),
            placement("P3", "2024-11-01"),
            placement("P4", "2024-09-01", "2024-12-20"),
            placement("P6", "2024-10-08", "2024-12-01"),
            placement("P7", "2025-03-20"),
        ])
    got = exclusions.without_provision(con, Filters(as_of=as_of), Settings())
    # 6 Jan to 14 Mar 2025: 25 + 28 + 14 = 67 days; 3 Feb to 14 Mar: 25 + 14 = 39
    got = got.assign(excluded_on=got["excluded_on"].dt.date, school=got["school"].astype(object).where(got["school"].notna(), None))
    assert got.to_dict("records") == [
        {"pupil_id": "P1", "excluded_on": date(2025, 1, 6), "school": "Hill High", "days_since": 67},
        {"pupil_id": "P4", "excluded_on": date(2025, 1, 6), "school": "Vale", "days_since": 67},
        {"pupil_id": "P7", "excluded_on": date(2025, 1, 6), "school": None, "days_since": 67},
        {"pupil_id": "P6", "excluded_on": date(2025, 2, 3), "school": "Vale", "days_since": 39},
    ]
    # the period does not narrow it: a child waiting since last year is still waiting
    last_term = Filters(as_of=as_of, period_start=date(2025, 2, 1), period_end=date(2025, 3, 14))
    assert exclusions.without_provision(con, last_term, Settings())["pupil_id"].tolist() == ["P1", "P4", "P7", "P6"]
    # nor do the filters, which choose placements: these children have none (P7's starts after
    # as_of), so a provider or looked-after filter would otherwise hide them all
    for narrowed in (Filters(as_of=as_of, provider=("100001",)), Filters(as_of=as_of, cla=True, sex=("F",))):
        assert exclusions.without_provision(con, narrowed, Settings())["pupil_id"].tolist() == ["P1", "P4", "P7", "P6"]


def test_sixth_day_cases_say_the_hours_in_place_on_the_day():
    # "met" asks for a placement in place on day 6; the duty is full-time education. Each pupil
    # is excluded Thu 9 Jan 2025, so day 6 is Thu 16 Jan (no holidays). Full time is 25 hours a
    # week (the default), or 10 sessions when no hours are recorded (metrics.md §5's part_time).
    excluded = [exc(p, "permanent", "2025-01-09") for p in ("P1", "P2", "P3", "P4", "P5", "P6")]
    con = make_db(exclusions=excluded, placements=[
        placement("P1", "2025-01-16", hours_per_week=15.0),                    # part-time
        placement("P2", "2025-01-13", hours_per_week=10.0),                    # two at once:
        placement("P2", "2025-01-14", hours_per_week=15.0, provider_urn="100002"),  # 25 together
        placement("P3", "2025-01-10", hours_per_week=None, sessions_per_week=10),  # no hours: sessions
        placement("P4", "2025-01-10", hours_per_week=None),                    # neither recorded
        placement("P5", "2025-01-17", hours_per_week=30.0),                    # a day late
        placement("P6", "2025-01-10", "2025-01-15", hours_per_week=30.0),      # ended the day before
    ])
    df = exclusions.sixth_day_cases(con, F, Settings()).set_index("pupil_id")
    got = {p: (bool(r.met), None if pd.isna(r.hours_on_sixth_day) else float(r.hours_on_sixth_day),
               None if pd.isna(r.full_time_on_sixth_day) else bool(r.full_time_on_sixth_day))
           for p, r in df.iterrows()}
    assert got == {"P1": (True, 15.0, False), "P2": (True, 25.0, True), "P3": (True, None, True),
                   "P4": (True, None, None), "P5": (False, None, None), "P6": (False, None, None)}
    # at 15 hours a full-time threshold, P1 is full time too
    df = exclusions.sixth_day_cases(con, F, Settings(full_time_hours=15)).set_index("pupil_id")
    assert bool(df.loc["P1", "full_time_on_sixth_day"]) is True
