"""Terms, headline and per-term figures. Expected values are worked out by hand in comments."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from analytics import trends
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

S = Settings()


@pytest.mark.parametrize("year, easter", [
    (1818, date(1818, 3, 22)),   # the earliest possible date
    (2000, date(2000, 4, 23)),
    (2008, date(2008, 3, 23)),
    (2011, date(2011, 4, 24)),
    (2019, date(2019, 4, 21)),
    (2024, date(2024, 3, 31)),
    (2025, date(2025, 4, 20)),
    (2026, date(2026, 4, 5)),
    (2038, date(2038, 4, 25)),   # the latest possible date
])
def test_easter_sunday(year, easter):
    assert trends.easter_sunday(year) == easter


@pytest.mark.parametrize("day, label", [
    (date(2024, 9, 1), "Autumn 2024/25"),
    (date(2024, 12, 31), "Autumn 2024/25"),
    (date(2025, 1, 1), "Spring 2024/25"),
    (date(2025, 4, 20), "Spring 2024/25"),     # Easter Sunday ends spring
    (date(2025, 4, 21), "Summer 2024/25"),     # Easter Monday starts summer
    (date(2025, 8, 31), "Summer 2024/25"),
    (date(2024, 3, 31), "Spring 2023/24"),     # Easter 2024
    (date(2024, 4, 1), "Summer 2023/24"),
    (date(2000, 1, 15), "Spring 1999/00"),
])
def test_term_of(day, label):
    assert trends.term_of(day).label == label


def test_terms_tile_the_year():
    terms = trends.terms_between(date(2023, 9, 1), date(2026, 8, 31))
    assert len(terms) == 9
    assert terms[0].start == date(2023, 9, 1) and terms[-1].end == date(2026, 8, 31)
    for before, after in zip(terms, terms[1:]):
        assert (after.start - before.end).days == 1      # no gap, no overlap


def test_terms_between():
    got = [(t.label, t.start, t.end) for t in trends.terms_between(date(2024, 12, 31), date(2025, 4, 21))]
    assert got == [("Autumn 2024/25", date(2024, 9, 1), date(2024, 12, 31)),
                   ("Spring 2024/25", date(2025, 1, 1), date(2025, 4, 20)),
                   ("Summer 2024/25", date(2025, 4, 21), date(2025, 8, 31))]
    years = trends.terms_between(date(2024, 8, 31), date(2024, 9, 1), unit="academic_year")
    assert [(t.label, t.start, t.end) for t in years] == [
        ("2023/24", date(2023, 9, 1), date(2024, 8, 31)), ("2024/25", date(2024, 9, 1), date(2025, 8, 31))]
    assert trends.terms_between(date(2025, 1, 2), date(2025, 1, 1)) == []


@pytest.mark.parametrize("day, earlier", [
    (date(2025, 5, 1), date(2024, 5, 1)),
    (date(2024, 2, 29), date(2023, 2, 28)),
])
def test_year_earlier(day, earlier):
    assert trends.year_earlier(day) == earlier


def _db():
    return make_db(placements=[
        # No placement has a planned end date, so every open placement carries a flag (any_flag).
        # A: 2 Sep..18 Oct 2024 = 29 + 18 = 47 days, back to mainstream (18 Oct + 182 = 18 Apr 2025).
        placement("A", "2024-09-02", "2024-10-18", destination="mainstream"),
        # B: open since 4 Nov 2024.
        placement("B", "2024-11-04", None),
        # C: 6 Jan..22 Apr 2025 (ends in the summer term) = 26 + 28 + 31 + 22 = 107 days, NEET.
        placement("C", "2025-01-06", "2025-04-22", destination="neet"),
        # D: starts on Easter Sunday, ends on Easter Monday: 2 days, a transfer.
        placement("D", "2025-04-20", "2025-04-21", destination="other_ap"),
        # A year earlier: E 2 Oct 2023..28 Mar 2024 = 30 + 30 + 31 + 31 + 29 + 28 = 179 days;
        # F from 5 Feb 2024, ending after 1 May 2024.
        placement("E", "2023-10-02", "2024-03-28", destination="mainstream"),
        placement("F", "2024-02-05", "2024-07-19", destination="special"),
    ])


def test_by_term():
    df = trends.by_term(_db(), Filters(as_of=date(2025, 5, 1)), S, since=date(2024, 9, 1))
    assert list(df.columns) == trends.BY_TERM_COLUMNS
    assert df["label"].tolist() == ["Autumn 2024/25", "Spring 2024/25", "Summer 2024/25"]
    assert df["as_of"].tolist() == [date(2024, 12, 31), date(2025, 4, 20), date(2025, 5, 1)]
    # Autumn (as_of 31 Dec): B open; A, B started; A ended and returned (rate 1); A not yet
    # eligible for sustained. KM: A 47 ended, B 58 censored -> S(47) = 1/2 -> 47.
    # Spring (as_of Easter Sunday): B, C, D open (D ends after it); C, D started; none ended.
    #   KM: C and D both censored -> none.
    # Summer (as_of 1 May): B open; nothing started; C (neet) and D (other_ap) ended: ended 1,
    #   returned 0, rate 0.
    assert df["pupils_in_ap"].tolist() == [1, 3, 1]
    assert df["open_placements"].tolist() == [1, 3, 1]
    assert df["placements_started"].tolist() == [2, 2, 0]
    assert df["placements_ended"].tolist() == [1, 0, 2]
    assert df["ended"].tolist() == [1, 0, 1]
    assert df["returned"].tolist() == [1, 0, 0]
    assert df["return_rate"].tolist()[0] == 1.0 and df["return_rate"].isna().tolist()[1] \
        and df["return_rate"].tolist()[2] == 0.0
    assert df["km_median_days"].tolist()[0] == 47.0 and df["km_median_days"].isna().tolist()[1:] == [True, True]
    # Open placements' median days so far, which grows with a placement that runs on, where the
    # KM median of each term's starts cannot: Autumn B 4 Nov..31 Dec = 27 + 31 = 58; Spring (to
    # 20 Apr) B 58 + 31 + 28 + 31 + 20 = 168, C 26 + 28 + 31 + 20 = 105, D 1 -> 105; Summer B 179.
    assert df["open_median_days"].tolist() == [58.0, 105.0, 179.0]
    assert df["sustained_rate"].isna().all()
    assert df["sixth_day_rate"].isna().all()          # no exclusions
    assert df["any_flag"].tolist() == [1, 3, 1]       # every open placement lacks a planned end


def test_by_academic_year_starts_at_the_earliest_placement():
    df = trends.by_term(_db(), Filters(as_of=date(2025, 5, 1)), S, unit="academic_year")
    # E started in October 2023: 2023/24 and 2024/25.
    assert df["label"].tolist() == ["2023/24", "2024/25"]
    assert df["as_of"].tolist() == [date(2024, 8, 31), date(2025, 5, 1)]
    # 2024/25 to 1 May: started A, B, C, D = 4; ended A, C, D = 3 (ended less transfers: 2).
    assert df["placements_started"].tolist()[1] == 4
    assert (df["placements_ended"].tolist()[1], df["ended"].tolist()[1]) == (3, 2)


def test_headline_against_a_year_earlier():
    h = trends.headline(_db(), Filters(as_of=date(2025, 5, 1)), S)
    now, before = h["current"], h["previous"]
    assert (now["as_of"], now["period_start"]) == (date(2025, 5, 1), date(2024, 9, 1))
    assert (before["as_of"], before["period_start"]) == (date(2024, 5, 1), date(2023, 9, 1))
    # Now: B open. Ended in the period: A (mainstream), C (neet), D (transfer): rate 1/2.
    # A is eligible (18 Apr <= 1 May) and nobody else placed A: sustained 1/1.
    # KM cohort: D 2 ended, A 47 ended, C 107 ended, B 179 censored (4 Nov..1 May):
    #   S(2) = 3/4, S(47) = 3/4 * 2/3 = 1/2 -> 47.
    assert (now["pupils_in_ap"], now["open_placements"]) == (1, 1)
    assert now["return_rate"] == 0.5 and now["sustained_rate"] == 1.0
    assert now["km_median_days"] == 47.0
    assert now["any_flag"] == 1 and now["sixth_day_rate"] is None
    # A year earlier (1 May 2024): F open. E ended (mainstream): rate 1, not yet eligible
    # (28 Mar + 182 > 1 May). KM: F censored at 87 (25 + 31 + 30 + 1), E ended at 179 with
    # 1 at risk -> S = 0 -> 179.
    assert (before["pupils_in_ap"], before["open_placements"]) == (1, 1)
    assert before["return_rate"] == 1.0 and before["sustained_rate"] is None
    assert before["km_median_days"] == 179.0


def test_filters_change_the_trend():
    df = trends.by_term(_db(), Filters(as_of=date(2025, 5, 1), reason=("medical_physical",)), S,
                        since=date(2024, 9, 1))
    assert df["pupils_in_ap"].tolist() == [0, 0, 0]


def test_sixth_day_rate_per_term():
    # Permanent exclusion on Monday 4 Nov 2024: school days 4, 5, 6, 7, 8, 11 Nov -> the sixth is
    # Monday 11 Nov. X's placement starts that day: met. Y's (excluded Mon 2 Dec, sixth day
    # Mon 9 Dec) starts 10 Dec: not met. Autumn: 1 of 2. Spring: no exclusions -> no rate.
    con = make_db(placements=[placement("X", "2024-11-11", None), placement("Y", "2024-12-10", None)],
                  exclusions=[{"pupil_id": "X", "category": "permanent", "start_date": "2024-11-04"},
                              {"pupil_id": "Y", "category": "permanent", "start_date": "2024-12-02"}])
    df = trends.by_term(con, Filters(as_of=date(2025, 1, 31)), S, since=date(2024, 9, 1))
    assert df["label"].tolist() == ["Autumn 2024/25", "Spring 2024/25"]
    assert df["sixth_day_rate"].tolist()[0] == 0.5 and pd.isna(df["sixth_day_rate"].tolist()[1])
    assert trends.headline(con, Filters(as_of=date(2025, 1, 31)), S)["current"]["sixth_day_rate"] == 0.5


def test_by_term_never_starts_before_the_first_placement():
    # An "all time" period from 1900: rows start with E's term (Autumn 2023/24), not in 1900.
    df = trends.by_term(_db(), Filters(as_of=date(2025, 5, 1), period_start=date(1900, 1, 1)), S)
    assert df["label"].tolist()[0] == "Autumn 2023/24" and len(df) == 6
    assert trends.by_term(make_db(), Filters(as_of=date(2025, 5, 1)), S)["label"].tolist() == ["Summer 2024/25"]


@pytest.mark.parametrize("start, end", [(None, None), (date(2024, 9, 1), date(2025, 8, 31)),
                                        (date(2024, 10, 1), date(2025, 2, 1))])
def test_the_chosen_period_does_not_move_the_start_of_the_trend(start, end):
    # A reviewer found that the default period (this academic year to date) gave six terms and
    # the same dates picked as "2024/25" gave three, with different totals under one caption.
    # The trend runs from the first placement's term (Autumn 2023/24, E) to as_of's (Summer
    # 2024/25) whatever the period: six terms.
    df = trends.by_term(_db(), Filters(as_of=date(2025, 5, 1), period_start=start, period_end=end), S)
    assert df["label"].tolist() == ["Autumn 2023/24", "Spring 2023/24", "Summer 2023/24",
                                    "Autumn 2024/25", "Spring 2024/25", "Summer 2024/25"]


# ---------------------------------------------------------------------------------------------
# by_term and headline compute every window in one statement (trends._figures); these tests hold
# them to the summaries that define each figure, computed window by window.

def _reference(con, filters: Filters, settings: Settings, start: date, end: date, as_of: date) -> dict:
    from dataclasses import replace

    from analytics import exclusions, outcomes, oversight, population
    from analytics import time_in_ap
    from analytics.time_in_ap import km_median_days
    f = replace(filters, as_of=as_of, period_start=start, period_end=end)
    pop = population.summary(con, f, settings)
    ret = outcomes.summary(con, f, settings)
    return {"pupils_in_ap": pop["pupils_in_ap"], "open_placements": pop["open_placements"],
            "placements_started": pop["placements_started"],
            "placements_ended": pop["placements_ended"],
            "km_median_days": km_median_days(con, f, settings),
            "open_median_days": time_in_ap.summary(con, f, settings)["open"]["median_days"],
            "return_rate": ret["rate"], "returned": ret["returned"], "ended": ret["ended"],
            "sustained_rate": ret["sustained"]["rate"],
            "sixth_day_rate": exclusions.summary(con, f, settings)["sixth_day"]["rate"],
            "any_flag": oversight.summary(con, f, settings)["any_flag"]}


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and pd.isna(a)) or (isinstance(b, float) and pd.isna(b)):
        return (a is None or pd.isna(a)) and (b is None or pd.isna(b))
    return a == pytest.approx(b, rel=1e-12)


def _check_by_term(con, filters: Filters, settings: Settings, unit: str = "term", since=None):
    df = trends.by_term(con, filters, settings, unit=unit, since=since)
    assert len(df) >= 1
    for row in df.to_dict("records"):
        want = _reference(con, filters, settings, row["period_start"], row["as_of"], row["as_of"])
        for k, v in want.items():
            assert _same(row[k], v), (row["label"], k, row[k], v)
    h = trends.headline(con, filters, settings)
    for key in ("current", "previous"):
        got = h[key]
        want = _reference(con, filters, settings, got["period_start"], got["period_end"], got["as_of"])
        for k in trends._HEADLINE:
            assert _same(got[k], want[k]), (key, k, got[k], want[k])


def test_by_term_matches_the_summaries_on_the_hand_made_db():
    _check_by_term(_db(), Filters(as_of=date(2025, 5, 1)), S, since=date(2023, 9, 1))
    _check_by_term(_db(), Filters(as_of=date(2025, 5, 1)), S, unit="academic_year")
    _check_by_term(_db(), Filters(as_of=date(2025, 5, 1), period_start=date(2024, 10, 1),
                                  period_end=date(2025, 2, 1)), S)


def _random_db(seed: int):
    import random

    from tests.factories import make_db
    rng = random.Random(seed)
    day0 = date(2022, 9, 1)

    def d(lo: int, hi: int) -> date:
        from datetime import timedelta
        return day0 + timedelta(days=rng.randint(lo, hi))

    from datetime import timedelta
    pupils = [f"U{i}" for i in range(40)]
    providers = [("Oak PRU", "100001", None, "state_ap_school", None),
                 ("Tutors Ltd", None, None, "one_to_one_tuition", None),
                 ("Web School", None, None, "online", False),
                 ("FE College", None, "10099901", "fe_college", None),
                 ("Mystery", None, None, "unknown", None)]
    placements, attendance, exclusions = [], [], []
    for p in pupils:
        for _ in range(rng.randint(0, 3)):
            start = d(0, 1000)
            end = None if rng.random() < 0.3 else start + timedelta(days=rng.randint(0, 300))
            name, urn, ukprn, stype, reg = rng.choice(providers)
            hours = rng.choice([None, 10.0, 25.0, 30.0, 24.5])
            if rng.random() < 0.4:  # no flag but (perhaps) low attendance, given lenient settings
                placements.append(placement(p, start, end, hours_per_week=rng.choice([25.0, 30.0]),
                                            planned_end_date=start + timedelta(days=2000),
                                            destination=rng.choice(["mainstream", None])))
                continue
            placements.append(placement(
                p, start, end, provider=name, provider_urn=urn, provider_ukprn=ukprn, setting_type=stype,
                registered=reg, hours_per_week=hours,
                sessions_per_week=rng.choice([None, 6, 10]) if hours is None else None,
                destination=rng.choice(["mainstream", "mainstream", "other_ap", "neet", "", None, "special"]),
                planned_end_date=None if rng.random() < 0.3 else start + timedelta(days=rng.randint(20, 400)),
                objectives=rng.choice(["Return", "", "  ", None, "Re-engage"]),
                last_review_date=None if rng.random() < 0.4 else start + timedelta(days=rng.randint(0, 200)),
                reason=rng.choice(["permanent_exclusion", "medical_physical", "other"]),
                sex=rng.choice(["F", "M"]), cla=rng.choice([True, False, None])))
        for week in range(rng.randint(0, 120)):
            ps = day0 + timedelta(days=7 * rng.randint(0, 150))
            possible = rng.choice([0, 4, 10, 10])
            attendance.append({"pupil_id": p, "period_start": ps, "possible_sessions": possible,
                               "attended_sessions": rng.randint(0, possible), "setting": f"S{week % 2}"})
        for _ in range(rng.randint(0, 3)):
            exclusions.append({"pupil_id": p, "start_date": d(0, 1000),
                               "category": rng.choice(["permanent", "suspension", "lunchtime", "Permanent "])})
    # unique attendance keys, as the store keeps them
    seen, att = set(), []
    for a in attendance:
        key = (a["pupil_id"], a["period_start"], a["setting"])
        if key not in seen:
            seen.add(key)
            att.append(a)
    holidays = sorted({d(0, 1100) for _ in range(40)})
    return make_db(placements=placements, attendance=att, exclusions=exclusions, holidays=holidays), holidays


@pytest.mark.parametrize("seed", range(6))
def test_by_term_matches_the_summaries_on_random_data(seed):
    con, holidays = _random_db(seed)
    settings = Settings(holidays=tuple(holidays)) if seed % 2 else S
    if seed % 3 == 1:
        settings = Settings(review_interval_days=5000, long_placement_days=5000, holidays=settings.holidays)
    if seed % 3 == 2:
        settings = Settings(sustain_days=60, review_interval_days=20, long_placement_days=90,
                            full_time_hours=20, low_attendance=0.7, holidays=settings.holidays)
    filters = [Filters(as_of=date(2025, 3, 14)),
               Filters(as_of=date(2024, 11, 30), sex=("F",)),
               Filters(as_of=date(2025, 8, 10), cla=True, setting_type=("one_to_one_tuition", "online", "unknown")),
               Filters(as_of=date(2025, 1, 1), period_start=date(2024, 10, 1), period_end=date(2024, 12, 1))]
    _check_by_term(con, filters[seed % 4], settings, since=date(2022, 9, 1))
    _check_by_term(con, filters[(seed + 1) % 4], settings, unit="academic_year")


def test_flags_by_term_worked_by_hand():
    # Terms 2024/25: autumn 1 Sep–31 Dec, spring 1 Jan–20 Apr (Easter 2025), summer to as_of.
    con = make_db(placements=[
        # A: no planned end, 25 hours, open 2 Sep 2024 to 14 Feb 2025. At 31 Dec: 121 days, no
        #    planned end, review overdue (no review: 120 days since the start > 42). Not open at
        #    20 Apr.
        placement("A", "2024-09-02", "2025-02-14"),
        # B: part-time (15 h), planned end 31 Mar 2025, reviewed 10 Apr 2025, open from 6 Jan.
        #    At 20 Apr: part-time, 105 days > 42 so part_time_over_limit, planned end passed,
        #    review 10 days before: not overdue. At 30 Jun: as at 20 Apr, but the review is
        #    81 days old: overdue.
        placement("B", "2025-01-06", None, provider="Elm", provider_urn="100002", hours_per_week=15.0,
                  planned_end_date="2025-03-31", last_review_date="2025-04-10"),
    ])
    df = trends.flags_by_term(con, Filters(as_of=date(2025, 6, 30)), Settings()).set_index("label")
    assert list(df.index) == ["Autumn 2024/25", "Spring 2024/25", "Summer 2024/25"]
    assert df.loc["Summer 2024/25", "as_of"] == date(2025, 6, 30)
    autumn, spring, summer = (df.loc[t] for t in df.index)
    assert (autumn["no_planned_end"], autumn["review_overdue"], autumn["part_time"]) == (1, 1, 0)
    assert (spring["no_planned_end"], spring["part_time"], spring["part_time_over_limit"],
            spring["planned_end_passed"], spring["review_overdue"]) == (0, 1, 1, 1, 0)
    assert (summer["part_time_over_limit"], summer["planned_end_passed"], summer["review_overdue"]) == (1, 1, 1)
    assert summer["long_placement"] == 0 and autumn["unregistered"] == 0


def test_flags_by_term_are_the_summaries_at_each_terms_end(sample_db_copy):
    import duckdb

    from analytics import oversight
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    as_of, s = date(2025, 7, 18), Settings()
    df = trends.flags_by_term(con, Filters(as_of=as_of, sen_status=("E", "K")), s)
    assert len(df) >= 6
    for row in df.itertuples(index=False):
        want = oversight.summary(con, Filters(as_of=row.as_of, sen_status=("E", "K")), s)
        assert {f: getattr(row, f) for f in oversight.FLAGS} == {f: want[f] for f in oversight.FLAGS}, row.label
