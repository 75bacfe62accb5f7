"""Oversight flags (metrics.md §5), each turned on and off by hand-picked values.

as_of = Mon 31 Mar 2025. The base placement raises no flag: started Sat 1 Mar 2025
(days = 30 + 1 = 31), planned end 18 Jul 2025, reviewed 20 Mar (11 days ago), 25 hours,
registered, objectives recorded, attendance 9/10 in the week of Mon 3 Mar.
"""
from datetime import date

import pandas as pd
import pytest

from analytics import oversight
from analytics.oversight import FLAGS
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

AS_OF = date(2025, 3, 31)
F = Filters(as_of=AS_OF)
BASE = dict(planned_end_date="2025-07-18", last_review_date="2025-03-20", objectives="Reintegrate",
            hours_per_week=25.0, registered=True, placement_id="PL1")
GOOD_ATTENDANCE = [{"pupil_id": "P1", "period_start": "2025-03-03", "possible_sessions": 10,
                    "attended_sessions": 9}]


def att(start, possible, attended):
    return {"pupil_id": "P1", "period_start": start, "possible_sessions": possible,
            "attended_sessions": attended}


def one(overrides=None, attendance=None, settings=Settings()):
    cols = {**BASE, **(overrides or {})}
    start = cols.pop("start_date", "2025-03-01")
    con = make_db(placements=[placement("P1", start, **cols)],
                  attendance=GOOD_ATTENDANCE if attendance is None else attendance)
    df = oversight.flags(con, F, settings)
    assert len(df) == 1
    return df.iloc[0]


def test_base_placement_has_no_flag():
    row = one()
    assert row.n_flags == 0 and not row.missing_attendance
    assert row.days == 31 and row.days_since_review == 11
    assert row.during_rate == pytest.approx(0.9)


@pytest.mark.parametrize("overrides, attendance, flag, expected", [
    ({"planned_end_date": None}, None, "no_planned_end", True),
    ({}, None, "no_planned_end", False),
    ({"planned_end_date": "2025-03-30"}, None, "planned_end_passed", True),
    ({"planned_end_date": "2025-03-31"}, None, "planned_end_passed", False),   # not before as_of
    ({"objectives": None}, None, "no_objectives", True),
    ({"objectives": "   "}, None, "no_objectives", True),
    ({}, None, "no_objectives", False),
    # Reviewed 16 Feb: 12 + 31 = 43 days before 31 Mar > 42; 17 Feb is 42, not over.
    ({"start_date": "2025-01-06", "last_review_date": "2025-02-16"}, None, "review_overdue", True),
    ({"start_date": "2025-01-06", "last_review_date": "2025-02-17"}, None, "review_overdue", False),
    # Never reviewed: counted from start_date (16 Feb -> 43 days; 17 Feb -> 42).
    ({"start_date": "2025-02-16", "last_review_date": None}, None, "review_overdue", True),
    ({"start_date": "2025-02-17", "last_review_date": None}, None, "review_overdue", False),
    # A review dated after as_of counts as none: from 6 Jan, 84 days.
    ({"start_date": "2025-01-06", "last_review_date": "2025-04-02"}, None, "review_overdue", True),
    ({"hours_per_week": 24.5}, None, "part_time", True),
    ({"hours_per_week": 25.0}, None, "part_time", False),
    ({"hours_per_week": None, "sessions_per_week": 9}, None, "part_time", True),
    ({"hours_per_week": None, "sessions_per_week": 10}, None, "part_time", False),
    ({"hours_per_week": None, "sessions_per_week": None}, None, "part_time", False),  # unknown
    ({"hours_per_week": 30.0, "sessions_per_week": 4}, None, "part_time", False),   # hours win
    # Part time for 43 days (17 Feb .. 31 Mar = 42 + 1) > 42; from 18 Feb it is 42 days.
    ({"hours_per_week": 20.0, "start_date": "2025-02-17"}, None, "part_time_over_limit", True),
    ({"hours_per_week": 20.0, "start_date": "2025-02-18"}, None, "part_time_over_limit", False),
    ({"hours_per_week": 25.0, "start_date": "2025-02-17"}, None, "part_time_over_limit", False),
    ({"hours_per_week": None, "sessions_per_week": 6, "start_date": "2025-02-17"}, None,
     "part_time_over_limit", True),
    ({"registered": False}, None, "unregistered", True),
    ({"registered": None, "provider_urn": None, "setting_type": "state_ap_school"}, None,
     "unregistered", False),                                        # unknown: not flagged
    # Derived when blank (data-spec §1): online without a URN/UKPRN is unregistered...
    ({"registered": None, "provider_urn": None, "setting_type": "online"}, None,
     "unregistered", True),
    # ...but a URN means registered.
    ({"registered": None, "provider_urn": "100001", "setting_type": "online"}, None,
     "unregistered", False),
    # 30 Sep 2024 -> 31 Mar 2025 is 31+30+31+31+28+31 = 182 days, so 183 placement days.
    ({"start_date": "2024-09-30"}, None, "long_placement", True),
    ({"start_date": "2024-10-01"}, None, "long_placement", False),
    ({}, [att("2025-03-03", 10, 4)], "low_attendance", True),          # 0.4 < 0.5
    ({}, [att("2025-03-03", 10, 5)], "low_attendance", False),         # 0.5 is not below
    ({}, [], "low_attendance", False),                                 # nothing recorded
    ({}, [att("2025-03-03", 0, 0)], "low_attendance", False),          # no possible sessions
    ({}, [att("2025-02-24", 10, 0), att("2025-03-03", 10, 9)], "low_attendance", False),  # before start
    ({}, [att("2025-03-03", 10, 9), att("2025-04-07", 10, 0)], "low_attendance", False),  # after as_of
    ({}, [att("2025-03-03", 10, 9), att("2025-03-10", 10, 0)], "low_attendance", True),   # 9/20
])
def test_flag(overrides, attendance, flag, expected):
    row = one(overrides, attendance)
    assert bool(row[flag]) is expected
    # The flag under test is the only one in these cases (unless its companion part_time).
    companions = {"part_time_over_limit": {"part_time"}}
    others = [f for f in FLAGS if f != flag and f not in companions.get(flag, set()) and row[f]]
    if flag not in ("review_overdue", "long_placement"):
        assert others == []
    assert row.n_flags == sum(bool(row[f]) for f in FLAGS)


@pytest.mark.parametrize("attendance, missing", [
    ([], True), ([att("2025-03-03", 0, 0)], True), (GOOD_ATTENDANCE, False)])
def test_missing_attendance_is_not_a_flag(attendance, missing):
    con = make_db(placements=[placement("P1", "2025-03-01", **BASE)], attendance=attendance)
    row = oversight.flags(con, F, Settings()).iloc[0]
    assert bool(row.missing_attendance) is missing and row.n_flags == 0
    assert oversight.summary(con, F, Settings())["any_flag"] == 0


def test_only_open_placements_are_listed():
    con = make_db(placements=[
        placement("P1", "2025-01-06", "2025-03-15", **{**BASE, "placement_id": "ENDED"}),
        placement("P2", "2025-01-06", "2025-04-30", **{**BASE, "placement_id": "ENDS_LATER"}),
        placement("P3", "2025-04-01", **{**BASE, "placement_id": "NOT_STARTED"}),
        placement("P4", "2025-03-31", **{**BASE, "placement_id": "STARTS_TODAY"}),
    ])
    assert set(oversight.flags(con, F, Settings()).placement_id) == {"ENDS_LATER", "STARTS_TODAY"}


def test_summary_counts_and_order():
    con = make_db(placements=[
        # A: no planned end, no objectives -> 2 flags.
        placement("A", "2025-03-01", **{**BASE, "placement_id": "A", "planned_end_date": None,
                                        "objectives": None}),
        # B: unregistered, no planned end -> 2 flags; unregistered weighs more, so B before A.
        placement("B", "2025-03-01", **{**BASE, "placement_id": "B", "registered": False,
                                        "planned_end_date": None}),
        # C: part time 20 h for 31 days (not over the limit) -> 1 flag.
        placement("C", "2025-03-01", **{**BASE, "placement_id": "C", "hours_per_week": 20.0}),
        # D: nothing.
        placement("D", "2025-03-01", **{**BASE, "placement_id": "D"}),
        # E: 183 days, never reviewed (as_of − start = 182 > 42), no planned end -> 3 flags.
        placement("E", "2024-09-30", **{**BASE, "placement_id": "E", "last_review_date": None,
                                        "planned_end_date": None}),
    ], attendance=[{"pupil_id": p, "period_start": "2025-03-03", "possible_sessions": 10,
                    "attended_sessions": 9} for p in "ABCDE"])
    df = oversight.flags(con, F, Settings())
    assert df.placement_id.tolist() == ["E", "B", "A", "C", "D"]
    assert oversight.summary(con, F, Settings()) == {
        "no_planned_end": 3, "planned_end_passed": 0, "no_objectives": 1, "review_overdue": 1,
        "part_time": 1, "part_time_over_limit": 0, "unregistered": 1, "long_placement": 1,
        "low_attendance": 0, "any_flag": 4}
    # Filters narrow the placements: provider of B only.
    con.execute("UPDATE placements SET provider_key = 'elm' WHERE pupil_id = 'B'")
    narrowed = oversight.summary(con, Filters(as_of=AS_OF, provider=("elm",)), Settings())
    assert (narrowed["unregistered"], narrowed["no_planned_end"], narrowed["any_flag"]) == (1, 1, 1)
    assert list(oversight.flags(con, F, Settings()).columns) == list(oversight.COLUMNS)


def test_flags_by_provider():
    # Oak PRU: A (no planned end, no objectives; 31 days) and D (nothing; 31 days) and E (183
    # days, never reviewed, no planned end). Elm Tuition: B (unregistered, no planned end; 31
    # days) and C (part time; 31 days), and F ended before as_of (not open, not counted).
    elm = {"provider": "Elm Tuition", "provider_urn": "100009"}
    con = make_db(placements=[
        placement("A", "2025-03-01", **{**BASE, "placement_id": "A", "planned_end_date": None, "objectives": None}),
        placement("D", "2025-03-01", **{**BASE, "placement_id": "D"}),
        placement("E", "2024-09-30", **{**BASE, "placement_id": "E", "last_review_date": None,
                                        "planned_end_date": None}),
        placement("B", "2025-03-01", **{**BASE, **elm, "placement_id": "B", "registered": False,
                                        "planned_end_date": None}),
        placement("C", "2025-03-01", **{**BASE, **elm, "placement_id": "C", "hours_per_week": 20.0}),
        placement("F", "2025-01-06", "2025-03-28", **{**BASE, **elm, "placement_id": "F"}),
    ], attendance=[{"pupil_id": p, "period_start": "2025-03-03", "possible_sessions": 10,
                    "attended_sessions": 9} for p in "ABCDE"])
    df = oversight.by_provider(con, F, Settings()).set_index("provider")
    assert df.index.tolist() == ["Oak PRU", "Elm Tuition"]   # most open first
    oak, elm_ = df.loc["Oak PRU"], df.loc["Elm Tuition"]
    assert (oak["open"], oak["open_median_days"], oak["no_planned_end"], oak["no_objectives"],
            oak["review_overdue"], oak["long_placement"], oak["any_flag"]) == (3, 31, 2, 1, 1, 1, 2)
    assert (elm_["open"], elm_["open_median_days"], elm_["unregistered"], elm_["part_time"],
            elm_["no_planned_end"], elm_["any_flag"]) == (2, 31, 1, 1, 1, 2)
    # each flag's counts over the providers add up to the LA's (oversight.summary)
    total = oversight.summary(con, F, Settings())
    assert {f: int(df[f].sum()) for f in FLAGS} == {f: total[f] for f in FLAGS}


def test_settings_change_the_thresholds():
    # 20 hours: part time at 25, not at 18.
    assert one({"hours_per_week": 20.0}).part_time
    assert not one({"hours_per_week": 20.0}, settings=Settings(full_time_hours=18)).part_time


def test_pupil_view():
    con = make_db(
        placements=[placement("P1", "2024-09-02", "2025-01-31", **{**BASE, "placement_id": "OLD"}),
                    placement("P1", "2025-03-01", **{**BASE, "placement_id": "NOW",
                                                     "objectives": None}),
                    placement("P1", "2025-04-14", **{**BASE, "placement_id": "FUTURE"}),
                    placement("P2", "2025-03-01", **{**BASE, "placement_id": "OTHER"})],
        exclusions=[{"pupil_id": "P1", "category": "permanent", "start_date": "2024-07-01"},
                    {"pupil_id": "P1", "category": "suspension", "start_date": "2025-04-02"}],
        attendance=[att("2025-03-03", 10, 9), att("2025-04-07", 10, 9)],
        assessments=[{"pupil_id": "P1", "measure": "Maths", "date": "2025-01-01", "value": 3}])
    view = oversight.pupil_view(con, "P1", Settings(), AS_OF)
    p = view["placements"].set_index("placement_id")
    assert p.index.tolist() == ["OLD", "NOW"]                 # the future one is not shown
    assert bool(p.loc["NOW", "no_objectives"]) and p.loc["NOW", "n_flags"] == 1
    assert pd.isna(p.loc["OLD", "n_flags"])                   # ended: no flags
    assert view["exclusions"].start_date.dt.date.tolist() == [date(2024, 7, 1)]
    assert view["attendance"].period_start.dt.date.tolist() == [date(2025, 3, 3)]
    assert len(view["assessments"]) == 1


def test_pupil_view_shows_nothing_dated_after_as_of():
    # As of 31 March 2025 the placement is open: its end on 30 June, the destination that goes
    # with it and a review on 2 April have not happened yet, so none of them is shown.
    con = make_db(placements=[placement("P1", "2025-01-06", "2025-06-30", destination="mainstream",
                                        last_review_date="2025-04-02")])
    row = oversight.pupil_view(con, "P1", Settings(), date(2025, 3, 31))["placements"].iloc[0]
    assert pd.isna(row["end_date"]) and pd.isna(row["destination"]) and pd.isna(row["last_review_date"])
    assert bool(row["is_open"]) and row["days"] == 85        # 6 Jan to 31 Mar, both counted
    later = oversight.pupil_view(con, "P1", Settings(), date(2025, 7, 1))["placements"].iloc[0]
    assert later["end_date"].date() == date(2025, 6, 30) and later["destination"] == "mainstream"
    assert later["last_review_date"].date() == date(2025, 4, 2)
