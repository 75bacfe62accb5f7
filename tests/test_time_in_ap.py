"""Time in AP (metrics.md §1). Every expected value is worked out by hand in the comments."""
from __future__ import annotations

from datetime import date

import pytest

from analytics import time_in_ap
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

AS_OF = date(2025, 3, 14)          # a Friday; the default period is 2024-09-01 .. 2025-03-14
F = Filters(as_of=AS_OF)
S = Settings()


@pytest.mark.parametrize("start, end, days, is_open", [
    ("2025-03-14", "2025-03-14", 1, False),    # one day: both ends count
    ("2025-03-10", "2025-03-14", 5, False),    # Mon..Fri = 5
    ("2024-02-28", "2024-03-01", 3, False),    # 28, 29 (leap day), 1 March
    ("2025-03-01", None, 14, True),            # open: 1..14 March
    ("2025-03-01", "2025-03-15", 14, True),    # ends the day after as_of: still open, counted to as_of
    ("2025-03-01", "2025-09-01", 14, True),
])
def test_placement_days_are_inclusive_and_stop_at_as_of(start, end, days, is_open):
    con = make_db(placements=[placement("P1", start, end)])
    row = time_in_ap.durations(con, Filters(as_of=AS_OF, period_start=date(2024, 1, 1)), S)
    assert row["days"].tolist() == [days]
    assert row["is_open"].tolist() == [is_open]
    assert row["end_date"].isna().tolist() == [is_open]


def _mixed_db():
    return make_db(placements=[
        # A: 2..11 September = 10 days, ended in the period.
        placement("A", "2024-09-02", "2024-09-11", sex="F"),
        # B: 1..31 October = 31 days, ended in the period.
        placement("B", "2024-10-01", "2024-10-31", sex="M"),
        # C: ends after as_of, so open: 4..30 Nov (27) + Dec 31 + Jan 31 + Feb 28 + 1..14 Mar (14)
        #    = 131 days so far; not long (131 <= 182).
        placement("C", "2024-11-04", "2025-06-30", sex="F"),
        # D: open since 8 January 2024: 2024 is a leap year, 8 Jan..31 Dec = 366 - 7 = 359,
        #    + 31 + 28 + 14 = 432 days so far; long.
        placement("D", "2024-01-08", None, sex="M"),
        # E: ended before the period: in neither completed nor open.
        placement("E", "2024-06-03", "2024-07-19", sex="F"),
        # G: starts after as_of: ignored altogether.
        placement("G", "2025-03-17", None, sex="F"),
    ])


def test_summary_completed_open_and_long():
    s = time_in_ap.summary(_mixed_db(), F, S)
    # completed: A (10) and B (31): mean = median = (10 + 31) / 2 = 20.5
    assert s["completed"] == {"n": 2, "mean_days": 20.5, "median_days": 20.5}
    # open: C (131) and D (432): median = (131 + 432) / 2 = 281.5
    assert s["open"] == {"n": 2, "median_days": 281.5}
    assert s["long_open"] == 1          # D only


def test_filters_change_the_figures():
    s = time_in_ap.summary(_mixed_db(), Filters(as_of=AS_OF, sex=("F",)), S)
    # Girls: A completed (10 days); C open (131 days, not long).
    assert s["completed"] == {"n": 1, "mean_days": 10.0, "median_days": 10.0}
    assert s["open"] == {"n": 1, "median_days": 131.0}
    assert s["long_open"] == 0


def test_long_open_setting_and_order():
    df = time_in_ap.long_open(_mixed_db(), F, Settings(long_placement_days=100))
    # With the threshold at 100 days both open placements qualify, longest (D, 432) first.
    assert df["pupil_id"].tolist() == ["D", "C"]
    assert df["days"].tolist() == [432, 131]
    # A placement of exactly long_placement_days is not long (> not >=).
    assert time_in_ap.summary(_mixed_db(), F, Settings(long_placement_days=131))["long_open"] == 1


def test_durations_lists_placements_overlapping_the_period():
    df = time_in_ap.durations(_mixed_db(), F, S)
    # E ended before 1 September 2024 and G starts after as_of.
    assert sorted(df["pupil_id"]) == ["A", "B", "C", "D"]
    assert list(df.columns) == ["placement_id", "pupil_id", "provider", "provider_key", "setting_type",
                                "reason", "commissioner", "start_date", "end_date", "days", "is_open"]


# --- Kaplan–Meier ------------------------------------------------------------------------------

def _km_db():
    return make_db(placements=[
        placement("K1", "2024-09-02", "2024-09-11", reason="permanent_exclusion"),  # 10 days, ended
        placement("K2", "2024-10-01", "2024-10-20", reason="permanent_exclusion"),  # 20 days, ended
        # 23..28 Feb (6) + 1..14 Mar (14) = 20 days, open: censored at 20 (a tie with K2).
        placement("K3", "2025-02-23", None, reason="medical_mental_health"),
        placement("K4", "2025-02-23", "2025-04-30", reason="medical_mental_health"),  # ends after as_of: censored at 20
        placement("K5", "2024-11-01", "2024-11-30", reason="medical_mental_health"),  # 30 days, ended
        # Started before the period: not in the cohort.
        placement("K6", "2024-08-01", "2024-09-20", reason="permanent_exclusion"),
    ])


def test_km_median_with_censoring_and_a_tie():
    # Cohort (started in the period): 10 ended, 20 ended, 20 censored x2, 30 ended; n = 5.
    # t=10: at risk 5, 1 ends          -> S = 4/5 = 0.8
    # t=20: at risk 4 (the two censored at 20 are still at risk when K2 ends: endings first),
    #       1 ends                      -> S = 0.8 * 3/4 = 0.6   (> 0.5)
    #       (censorings first would give at risk 2 and S = 0.4, a median of 20: wrong)
    # t=30: at risk 1, 1 ends          -> S = 0
    # The median is the first t with S <= 0.5: 30.
    assert time_in_ap.summary(_km_db(), F, S)["km_median_days"] == 30.0


def test_km_curve_steps():
    df = time_in_ap.km_curve(_km_db(), F, S)
    assert df["group"].unique().tolist() == ["All"]
    assert df["days"].tolist() == [0, 10, 20, 30]
    assert df["at_risk"].tolist() == [5, 5, 4, 1]
    assert df["events"].tolist() == [0, 1, 1, 1]
    assert df["censored"].tolist() == [0, 0, 2, 0]
    assert df["survival"].tolist() == pytest.approx([1.0, 0.8, 0.6, 0.0])


def test_km_curve_by_reason():
    df = time_in_ap.km_curve(_km_db(), F, S, by="reason")
    pe = df[df["group"] == "permanent_exclusion"]
    # K1 (10, ended), K2 (20, ended): S(10) = 1/2, S(20) = 0.
    assert pe["days"].tolist() == [0, 10, 20]
    assert pe["survival"].tolist() == pytest.approx([1.0, 0.5, 0.0])
    mh = df[df["group"] == "medical_mental_health"]
    # K3, K4 censored at 20, K5 ended at 30: at 20 nothing ends (S = 1), at 30 at risk 1 -> 0.
    assert mh["days"].tolist() == [0, 20, 30]
    assert mh["at_risk"].tolist() == [3, 3, 1]
    assert mh["survival"].tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_km_curve_by_trust_and_home_school():
    # The review's "crossfire": one trust's excluded pupils staying in AP. K1 (10, ended) and K3
    # (20, censored) from Fern Trust's Elm Academy; K2 (20, ended) from a school in no trust.
    con = make_db(placements=[
        placement("K1", "2024-09-02", "2024-09-11", trust="Fern Trust", home_school="Elm Academy"),
        placement("K3", "2025-02-23", None, trust="Fern Trust", home_school="Elm Academy"),
        placement("K2", "2024-10-01", "2024-10-20", trust=None, home_school="Vale School"),
    ])
    df = time_in_ap.km_curve(con, F, S, by="trust")
    fern = df[df["group"] == "Fern Trust"]
    # at 10: 2 at risk, K1 ends -> 1/2; at 20: K3 censored -> stays 1/2
    assert fern["days"].tolist() == [0, 10, 20] and fern["survival"].tolist() == pytest.approx([1.0, 0.5, 0.5])
    none = df[df["group"] == "unknown"]
    assert none["days"].tolist() == [0, 20] and none["survival"].tolist() == pytest.approx([1.0, 0.0])
    by_school = time_in_ap.km_curve(con, F, S, by="home_school")
    assert set(by_school["group"]) == {"Elm Academy", "Vale School"}


def test_km_median_is_null_when_the_curve_never_reaches_half():
    con = make_db(placements=[
        placement("N1", "2024-09-02", "2024-09-11"),   # 10 days, ended
        placement("N2", "2025-02-23", None),           # 20 days, censored
        placement("N3", "2025-02-13", None),           # 13..28 Feb (16) + 14 = 30 days, censored
    ])
    # t=10: at risk 3, 1 ends -> S = 2/3; nothing else ends, so S never falls to 0.5.
    assert time_in_ap.summary(con, F, S)["km_median_days"] is None


def test_km_median_exactly_half():
    con = make_db(placements=[
        placement("H1", "2024-09-02", "2024-09-11"),   # 10 days, ended
        placement("H2", "2024-09-02", "2024-09-21"),   # 20 days, ended
        placement("H3", "2024-09-02", "2024-10-01"),   # 30 days, ended
        placement("H4", "2025-02-13", None),           # 30 days, censored
    ])
    # t=10: 3/4; t=20: 3/4 * 2/3 = 1/2 -> S reaches 0.5 (a float product just below or at 0.5).
    assert time_in_ap.summary(con, F, S)["km_median_days"] == 20.0


def test_km_by_rejects_an_unknown_breakdown():
    with pytest.raises(ValueError):
        time_in_ap.km_curve(_km_db(), F, S, by="pupil_id; DROP TABLE placements")


# --- pupils' total days ------------------------------------------------------------------------

def test_pupil_total_days_counts_overlaps_once():
    con = make_db(placements=[
        # A: 2..30 Sep, 3..5 Sep (inside the first), 16 Sep..15 Oct (overlapping), 1..10 Nov.
        #    Union: 2 Sep..15 Oct = 29 + 15 = 44 days, plus 10 = 54.
        placement("A", "2024-09-02", "2024-09-30"),
        placement("A", "2024-09-03", "2024-09-05", provider="Elm Tuition", provider_urn=None),
        placement("A", "2024-09-16", "2024-10-15", provider="Ash College", provider_urn="100002"),
        placement("A", "2024-11-01", "2024-11-10"),
        # B: open from 1 March: 14 days.
        placement("B", "2025-03-01", None),
        # C: only before the period: not counted.
        placement("C", "2024-05-01", "2024-07-31"),
        # D: May..July 2024 (31 + 30 + 31 = 92, before the period but still days in AP)
        #    and 6..10 January 2025 (5): 97.
        placement("D", "2024-05-01", "2024-07-31"),
        placement("D", "2025-01-06", "2025-01-10"),
    ])
    # Pupils A 54, B 14, D 97 -> median 54.
    assert time_in_ap.summary(con, F, S)["pupil_total_days_median"] == 54.0


def test_empty_store_gives_zeros_and_nulls():
    s = time_in_ap.summary(make_db(), F, S)
    assert s == {"completed": {"n": 0, "mean_days": None, "median_days": None},
                 "open": {"n": 0, "median_days": None}, "km_median_days": None,
                 "pupil_total_days_median": None, "long_open": 0}
    assert time_in_ap.km_curve(make_db(), F, S).empty


# --- against independent, brute-force computations --------------------------------------------

from datetime import timedelta  # noqa: E402
from fractions import Fraction  # noqa: E402

from hypothesis import given, settings as hyp_settings, strategies as st  # noqa: E402

_DAY0 = date(2024, 8, 1)
_placements = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 250),
              st.one_of(st.none(), st.integers(0, 120))),
    min_size=1, max_size=8)


def _rows(spec):
    return [placement(p, _DAY0 + timedelta(days=s), None if n is None else _DAY0 + timedelta(days=s + n))
            for p, s, n in spec]


def _median(values):
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return float(values[mid]) if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


@hyp_settings(max_examples=40, deadline=None)
@given(_placements)
def test_pupil_total_days_matches_a_set_of_dates(spec):
    as_of, start = date(2025, 1, 31), date(2024, 9, 1)
    days_in_ap, overlapping = {}, set()
    for p, s, n in spec:
        first = _DAY0 + timedelta(days=s)
        if first > as_of:
            continue
        last = as_of if n is None else min(first + timedelta(days=n), as_of)
        ended = n is not None and first + timedelta(days=n) <= as_of
        if not ended or last >= start:
            overlapping.add(p)
        days_in_ap.setdefault(p, set()).update(first + timedelta(days=i) for i in range((last - first).days + 1))
    expected = _median([len(days_in_ap[p]) for p in overlapping])
    got = time_in_ap.summary(make_db(placements=_rows(spec)), Filters(as_of=as_of), S)["pupil_total_days_median"]
    assert got == expected


@hyp_settings(max_examples=40, deadline=None)
@given(_placements)
def test_km_median_matches_a_step_by_step_estimate(spec):
    as_of, start = date(2025, 1, 31), date(2024, 9, 1)
    cohort = []                       # (duration, ended)
    for _, s, n in spec:
        first = _DAY0 + timedelta(days=s)
        if not start <= first <= as_of:
            continue
        ended = n is not None and first + timedelta(days=n) <= as_of
        cohort.append(((n + 1) if ended else (as_of - first).days + 1, ended))
    # Walk placement by placement, endings before censorings at a tie, exact fractions.
    survival, expected = Fraction(1), None
    at_risk = len(cohort)
    for duration, ended in sorted(cohort, key=lambda c: (c[0], not c[1])):
        if ended:                     # d endings among n at risk: (n-1)/n * ... = (n-d)/n
            survival *= Fraction(at_risk - 1, at_risk)
        at_risk -= 1
        if expected is None and survival <= Fraction(1, 2):
            expected = float(duration)
    got = time_in_ap.summary(make_db(placements=_rows(spec)), Filters(as_of=as_of), S)["km_median_days"]
    assert got == expected


def test_placements_per_pupil_counts_each_pupils_placements_in_the_period():
    # Period 1 Sep 2024 to 30 Jun 2025.
    con = make_db(placements=[
        # A: one placement ending in the period, one before it (left out): 1.
        placement("A", "2023-09-04", "2024-07-19"),
        placement("A", "2024-09-02", "2024-12-20", destination="mainstream"),
        # B: moved twice (Oak -> Elm -> Ash): 3 placements in the period.
        placement("B", "2024-09-02", "2024-10-31", destination="other_ap"),
        placement("B", "2024-11-01", "2025-01-31", provider="Elm", provider_urn="100002", destination="other_ap"),
        placement("B", "2025-02-03", None, provider="Ash", provider_urn="100003"),
        # C: two at once (part-time each), and one starting after as_of (left out): 2.
        placement("C", "2025-01-06", None, hours_per_week=12.0),
        placement("C", "2025-01-06", None, provider="Elm", provider_urn="100002", hours_per_week=12.0),
        placement("C", "2025-07-07", None, provider="Ash", provider_urn="100003"),
        # D: five short placements: 4 or more. E: open since 2022, still open: 1.
        *[placement("D", f"2024-{m:02d}-01", f"2024-{m:02d}-20", provider=f"P{m}", provider_urn=f"2000{m}")
          for m in (9, 10, 11, 12)],
        placement("D", "2025-01-06", "2025-01-24", provider="P13", provider_urn="200013"),
        placement("E", "2022-01-10", None),
    ])
    df = time_in_ap.placements_per_pupil(con, Filters(as_of=date(2025, 6, 30)), Settings())
    assert df.to_dict("list") == {"placements": ["1", "2", "3", "4 or more"], "pupils": [2, 1, 1, 1]}
    # a filter counts the selected placements only: at Elm, B and C have one each
    elm = time_in_ap.placements_per_pupil(con, Filters(as_of=date(2025, 6, 30), provider=("100002",)), Settings())
    assert elm["pupils"].tolist() == [2, 0, 0, 0]
