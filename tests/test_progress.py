"""Progress against baseline (metrics.md §3), with every expected value worked out by hand.

as_of = Mon 31 Mar 2025; period = 1 Sep 2024 .. 31 Mar 2025 (the default).
P1 starts Mon 6 Jan 2025, open. Baseline window = [6 Jan − 91, 5 Jan] = [7 Oct 2024, 5 Jan 2025]
(Oct 7 -> Jan 6 is 24 + 30 + 31 + 6 = 91 days).
"""
from datetime import date

import pytest

from analytics import progress
from analytics.settings import Filters, Settings
from tests.factories import insert, make_db, placement

AS_OF = date(2025, 3, 31)
F = Filters(as_of=AS_OF)


def att(pupil, start, possible, attended):
    return {"pupil_id": pupil, "period_start": start, "possible_sessions": possible,
            "attended_sessions": attended}


def ass(pupil, measure, d, value, hib=None):
    return {"pupil_id": pupil, "measure": measure, "date": d, "value": value,
            "higher_is_better": hib}


@pytest.fixture
def con():
    return make_db(
        placements=[
            placement("P1", "2025-01-06", sex="M", placement_id="PL1"),
            placement("P2", "2025-02-03", "2025-02-28", sex="F", placement_id="PL2"),
            placement("P3", "2025-01-06", sex="M", placement_id="PL3"),      # baseline only
            placement("P4", "2024-03-04", "2024-06-30", sex="M", placement_id="PL4"),  # before period
        ],
        attendance=[
            att("P1", "2024-10-06", 10, 0),    # start − 92: outside the baseline
            att("P1", "2024-10-07", 10, 4),    # start − 91: inside
            att("P1", "2025-01-03", 10, 6),    # inside          -> baseline 10/20 = 0.5
            att("P1", "2025-01-06", 10, 9),    # on start_date: during
            att("P1", "2025-03-24", 10, 7),    # during          -> during 16/20 = 0.8
            att("P1", "2025-04-07", 10, 0),    # after as_of: ignored
            att("P2", "2025-01-13", 10, 8),    # baseline 0.8
            att("P2", "2025-02-03", 10, 4),    # during 0.4
            att("P2", "2025-03-03", 10, 10),   # after the end: ignored
            att("P3", "2024-12-02", 10, 5),    # baseline only: not counted
            att("P4", "2024-02-05", 10, 2), att("P4", "2024-03-04", 10, 9),  # not in period
        ],
        assessments=[
            ass("P1", "Reading age", "2024-12-01", 9.0),
            ass("P1", "Reading age", "2025-01-06", 9.5),   # on start_date: the baseline
            ass("P1", "Reading age", "2025-02-01", 10.0),
            ass("P1", "Reading age", "2025-03-01", 10.5),  # latest by as_of
            ass("P1", "Reading age", "2025-04-15", 20.0),  # after as_of: ignored
            ass("P1", "SDQ Total", "2025-01-02", 20, hib=False),  # one row says lower is better
            ass("P1", "sdq total ", "2025-03-10", 15),
            ass("P2", "SDQ total", "2025-01-20", 18),
            ass("P2", "SDQ total", "2025-02-20", 18),
            ass("P2", "SDQ total", "2025-03-05", 10),       # after P2 ended: ignored
        ])


def test_attendance_summary(con):
    # P1: 0.5 -> 0.8 (+30 pp, improved); P2: 0.8 -> 0.4 (−40 pp); P3 no during; P4 outside.
    # Medians of two: baseline (0.5+0.8)/2 = 0.65, during (0.8+0.4)/2 = 0.6, change (30−40)/2 = −5.
    got = progress.summary(con, F, Settings())["attendance"]
    assert got["n"] == 2 and got["improved"] == 1
    assert got["baseline_rate_median"] == pytest.approx(0.65)
    assert got["during_rate_median"] == pytest.approx(0.6)
    assert got["median_change_pp"] == pytest.approx(-5.0)


def test_attendance_by_placement_windows(con):
    df = progress.attendance_by_placement(con, F, Settings()).set_index("placement_id")
    assert set(df.index) == {"PL1", "PL2", "PL3"}          # PL4 does not overlap the period
    p1 = df.loc["PL1"]
    assert (p1.baseline_possible, p1.baseline_attended) == (20, 10)
    assert (p1.during_possible, p1.during_attended) == (20, 16)
    assert p1.change_pp == pytest.approx(30.0)
    assert df.loc["PL3"].baseline_rate == pytest.approx(0.5)
    assert df.loc["PL3"].during_rate != df.loc["PL3"].during_rate   # NaN: no during rows


def test_attendance_filters_narrow_the_pupils(con):
    got = progress.summary(con, Filters(as_of=AS_OF, sex=("F",)), Settings())["attendance"]
    assert got == {"n": 1, "baseline_rate_median": pytest.approx(0.8),
                   "during_rate_median": pytest.approx(0.4),
                   "median_change_pp": pytest.approx(-40.0), "improved": 0}


def test_attendance_empty_is_null():
    got = progress.summary(make_db(), F, Settings())["attendance"]
    assert got == {"n": 0, "baseline_rate_median": None, "during_rate_median": None,
                   "median_change_pp": None, "improved": 0}


def test_assessments_default_directions(con):
    # Reading age (higher is better): P1 9.5 -> 10.5, +1.0, improved.
    # SDQ total (one row says false -> lower is better): P1 20 -> 15 = −5 improved;
    # P2 18 -> 18 = 0, not improved. median (−5 + 0)/2 = −2.5.
    got = progress.summary(con, F, Settings())["assessments"]
    assert got == {"reading age": {"n": 1, "median_change": 1.0, "improved": 1},
                   "sdq total": {"n": 2, "median_change": -2.5, "improved": 1}}


def test_assessments_settings_override_direction(con):
    # Now SDQ total is higher-is-better: −5 is worse, 0 is no change -> improved 0.
    s = Settings(measure_directions=((" SDQ Total", True),))
    assert progress.summary(con, F, s)["assessments"]["sdq total"]["improved"] == 0


def test_assessments_store_override_and_settings_win(con):
    con.execute("INSERT INTO measure_directions VALUES ('reading age', false)")
    # The store says reading age is lower-is-better: +1.0 is no longer an improvement.
    assert progress.summary(con, F, Settings())["assessments"]["reading age"]["improved"] == 0
    s = Settings(measure_directions=(("reading age", True),))
    assert progress.summary(con, F, s)["assessments"]["reading age"]["improved"] == 1


def test_assessments_by_placement_pairs(con):
    df = progress.assessments_by_placement(con, F, Settings())
    r = df[(df.placement_id == "PL1") & (df.measure_key == "reading age")].iloc[0]
    assert (r.baseline_date.date(), r.baseline_value) == (date(2025, 1, 6), 9.5)
    assert (r.latest_date.date(), r.latest_value) == (date(2025, 3, 1), 10.5)
    assert r.change == pytest.approx(1.0) and bool(r.improved)
    s = df[(df.placement_id == "PL1") & (df.measure_key == "sdq total")].iloc[0]
    assert not s.higher_is_better and s.measure == "sdq total "   # newest seen display text


def test_assessment_without_baseline_is_not_a_pair():
    con = make_db(placements=[placement("P1", "2025-01-06")],
                  assessments=[ass("P1", "Maths", "2025-02-01", 3), ass("P1", "Maths", "2025-03-01", 4)])
    assert progress.summary(con, F, Settings())["assessments"] == {}
    insert(con, "assessments", [ass("P1", "Maths", "2025-01-05", 2)])
    # Baseline 2 (5 Jan), latest 4 (1 Mar): change +2.
    assert progress.summary(con, F, Settings())["assessments"] == {
        "maths": {"n": 1, "median_change": 2.0, "improved": 1}}
