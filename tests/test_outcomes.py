"""Return to mainstream (metrics.md §2). Expected values are worked out by hand in comments."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from analytics import outcomes
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

AS_OF = date(2025, 6, 30)           # default period 2024-09-01 .. 2025-06-30
F = Filters(as_of=AS_OF)
S = Settings()                      # sustain_days = 182

# 2024-10-18 + 182 days: 13 (19..31 Oct) + 30 + 31 + 31 + 28 + 31 = 164 at 31 March, + 18 -> 2025-04-18.
WINDOW_END = "2025-04-18"


def _db():
    return make_db(placements=[
        # R1: back to mainstream, nothing afterwards: eligible (18 Apr <= 30 Jun) and sustained.
        placement("P1", "2024-09-02", "2024-10-18", destination="mainstream", sex="F"),
        # R2: a new placement starts on the window's last day (inclusive): broken by a placement.
        placement("P2", "2024-09-02", "2024-10-18", destination="mainstream", sex="M"),
        placement("P2", WINDOW_END, None, provider="Elm Tuition", provider_urn="100009", sex="M"),
        # R3: a permanent exclusion on 10 Jan 2025: broken by the exclusion.
        placement("P3", "2024-09-02", "2024-10-18", destination="mainstream", sex="F"),
        # R4: a suspension in the window does not break a return, nor a placement starting the
        #     day after the window: sustained.
        placement("P4", "2024-09-02", "2024-10-18", destination="mainstream", sex="M"),
        placement("P4", "2025-04-19", None, sex="M"),
        # R5: 1 March + 182 = 30 August > as_of: not yet eligible.
        placement("P5", "2024-09-02", "2025-03-01", destination="mainstream", sex="F"),
        # T: a transfer to another AP provider: not in ended, but in by_destination.
        placement("P6", "2024-09-02", "2024-12-20", destination="other_ap", sex="F"),
        # U: no destination recorded: ended, unknown, and in the denominator.
        placement("P7", "2024-09-02", "2024-12-20", destination=None, sex="M"),
        # Special school.
        placement("P8", "2024-09-02", "2025-02-14", destination="special", sex="M"),
        # Open, ended before the period, and ending after as_of: none of them ended in the period.
        placement("P9", "2024-09-02", None),
        placement("P10", "2024-01-08", "2024-07-19", destination="mainstream"),
        placement("P11", "2024-09-02", "2025-07-18", destination="mainstream"),
    ], exclusions=[
        {"pupil_id": "P3", "category": "permanent", "start_date": "2025-01-10"},
        {"pupil_id": "P4", "category": "suspension", "start_date": "2024-11-05"},
    ])


def test_summary():
    s = outcomes.summary(_db(), F, S)
    # Ended in the period: P1..P5 (mainstream), P6 (other_ap), P7 (blank), P8 (special) = 8;
    # less the transfer: 7. Returned: P1..P5 = 5, rate 5/7. Unknown: P7.
    assert s["ended"] == 7
    assert s["returned"] == 5
    assert s["rate"] == pytest.approx(5 / 7)
    assert s["unknown_destination"] == 1
    assert s["by_destination"] == {"mainstream": 5, "special": 1, "other_ap": 1, "unknown": 1}
    # Eligible: R1..R4 (R5 not yet); sustained R1, R4 -> 2 / 4.
    assert s["sustained"] == {"eligible": 4, "sustained": 2, "rate": 0.5}


def test_filters_change_the_figures():
    s = outcomes.summary(_db(), Filters(as_of=AS_OF, sex=("F",)), S)
    # Girls: P1 (sustained), P3 (broken), P5 (not eligible), P6 (transfer).
    assert (s["ended"], s["returned"], s["unknown_destination"]) == (3, 3, 0)
    assert s["rate"] == 1.0
    assert s["by_destination"] == {"mainstream": 3, "other_ap": 1}
    assert s["sustained"] == {"eligible": 2, "sustained": 1, "rate": 0.5}


def test_a_placement_at_a_filtered_out_provider_still_breaks_a_return():
    # P2's new placement is at Elm Tuition; filtering on Oak PRU keeps the return and its breakdown.
    s = outcomes.summary(_db(), Filters(as_of=AS_OF, provider=("100001",)), S)
    assert s["sustained"] == {"eligible": 4, "sustained": 2, "rate": 0.5}


def test_returns_table():
    df = outcomes.returns(_db(), F, S).set_index("pupil_id")
    assert df.loc[["P1", "P2", "P3", "P4"], "eligible"].tolist() == [True] * 4
    assert not df.loc["P5", "eligible"]
    assert df.loc[["P1", "P2", "P3", "P4"], "sustained"].tolist() == [True, False, False, True]
    assert pd.isna(df.loc["P5", "sustained"])
    by = {k: (v if isinstance(v, str) else None) for k, v in df["broke_down_by"].items()}
    assert by == {"P1": None, "P2": "placement", "P3": "permanent_exclusion",
                            "P4": None, "P5": None}


@pytest.mark.parametrize("offset, sustained", [
    (-1, True),    # a placement starting the day before the return ended is not "after" it
    (0, False),    # starting on the end date itself: inside [end, end + 182]
    (100, False),
    (182, False),  # the window's last day
    (183, True),   # the day after
])
def test_new_placement_window(offset, sustained):
    end = date(2024, 10, 18)
    con = make_db(placements=[
        placement("P1", "2024-09-02", end, destination="mainstream"),
        placement("P1", end + timedelta(days=offset), None, provider="Elm", provider_urn="9"),
    ])
    s = outcomes.summary(con, F, S)["sustained"]
    assert (s["eligible"], s["sustained"]) == (1, int(sustained))


@pytest.mark.parametrize("category, day, sustained", [
    ("permanent", "2025-01-10", False),
    ("permanent", WINDOW_END, False),
    ("permanent", "2025-04-19", True),        # after the window
    ("permanent", "2024-10-17", True),        # before the return
    ("suspension", "2025-01-10", True),
    ("lunchtime", "2025-01-10", True),
])
def test_exclusion_window(category, day, sustained):
    con = make_db(placements=[placement("P1", "2024-09-02", "2024-10-18", destination="mainstream")],
                  exclusions=[{"pupil_id": "P1", "category": category, "start_date": day}])
    assert outcomes.summary(con, F, S)["sustained"]["sustained"] == int(sustained)


def test_sustain_days_setting():
    # With sustain_days = 90: R5 (1 March + 30 + 30 + 30 = 30 May <= 30 June) is eligible and
    # sustained; R2's window ends 18 Oct + 13 + 30 + 31 + 16 = 16 January, so P2's placement of
    # 18 April no longer breaks it, but P3's exclusion of 10 January still does: 4 of 5.
    s = outcomes.summary(_db(), F, Settings(sustain_days=90))["sustained"]
    assert s == {"eligible": 5, "sustained": 4, "rate": 0.8}


def test_rates_are_null_without_a_denominator():
    con = make_db(placements=[placement("P1", "2024-09-02", "2024-12-20", destination="other_ap")])
    s = outcomes.summary(con, F, S)
    assert (s["ended"], s["rate"], s["sustained"]["rate"]) == (0, None, None)
    assert s["by_destination"] == {"other_ap": 1}


def test_by_group():
    con = make_db(placements=[
        placement("A", "2024-09-02", "2024-10-18", destination="mainstream", reason="medical_physical"),
        placement("B", "2024-09-02", "2024-10-18", destination="neet", reason="medical_physical"),
        placement("C", "2024-09-02", "2024-10-18", destination="mainstream", reason="suspension"),
        placement("D", "2024-09-02", "2024-10-18", destination="other_ap", reason=None),
    ])
    df = outcomes.by_group(con, F, S, "reason").set_index("group")
    # medical_physical: 2 ended, 1 returned (rate 0.5), both eligible returns sustained.
    assert df.loc["medical_physical", ["ended", "returned", "sustained_eligible", "sustained"]].tolist() == [2, 1, 1, 1]
    assert df.loc["medical_physical", "rate"] == 0.5
    assert df.loc["suspension", ["ended", "returned"]].tolist() == [1, 1]
    # A blank reason is its own group; a transfer alone means nothing ended: rate blank.
    assert df.loc["unknown", "ended"] == 0 and pd.isna(df.loc["unknown", "rate"])
    assert list(df.reset_index().columns) == ["group", "ended", "returned", "rate", "unknown_destination",
                                              "sustained_eligible", "sustained", "sustained_rate"]


def test_by_trust_and_by_home_school():
    # The thematic review's "crossfire": which trust's (and school's) pupils come back.
    con = make_db(placements=[
        placement("A", "2024-09-02", "2024-10-18", destination="mainstream", trust="Ridge Trust", home_school="Hill High"),
        placement("B", "2024-09-02", "2024-10-18", destination="neet", trust="Ridge Trust", home_school="Vale Academy"),
        placement("C", "2024-09-02", "2024-10-18", destination="special", trust="Ridge Trust", home_school="Vale Academy"),
        placement("D", "2024-09-02", "2024-10-18", destination="mainstream", trust=None, home_school="Brook School"),
        placement("E", "2024-09-02", None, trust="Ridge Trust", home_school="Hill High"),   # still open
    ])
    trust = outcomes.by_group(con, F, S, "trust").set_index("group")
    # Ridge Trust: A, B, C ended, A returned: 1 of 3. No trust recorded: D, 1 of 1.
    assert trust.loc["Ridge Trust", ["ended", "returned"]].tolist() == [3, 1]
    assert trust.loc["Ridge Trust", "rate"] == pytest.approx(1 / 3)
    assert trust.loc["unknown", ["ended", "returned"]].tolist() == [1, 1]
    school = outcomes.by_group(con, F, S, "home_school").set_index("group")
    assert school["ended"].to_dict() == {"Brook School": 1, "Hill High": 1, "Vale Academy": 2}
    assert school["returned"].to_dict() == {"Brook School": 1, "Hill High": 1, "Vale Academy": 0}
    dests = outcomes.destinations(con, F, S, by="home_school")
    assert sorted(zip(dests["group"], dests["destination"], dests["n"])) == [
        ("Brook School", "mainstream", 1), ("Hill High", "mainstream", 1),
        ("Vale Academy", "neet", 1), ("Vale Academy", "special", 1)]


def test_destinations():
    df = outcomes.destinations(_db(), F, S)
    assert set(df["group"]) == {"All"}
    assert dict(zip(df["destination"], df["n"])) == {"mainstream": 5, "special": 1, "other_ap": 1,
                                                     "unknown": 1}



def test_destinations_by_term_follow_the_end_date():
    # Terms: Autumn 2024/25 is 1 Sep-31 Dec 2024; Spring is 1 Jan-Easter Sunday (20 Apr 2025);
    # Summer starts 21 Apr 2025. The placement ending 21 Apr is the first day of Summer.
    con = make_db(placements=[
        placement("A", "2024-09-02", "2024-10-18", destination="mainstream"),
        placement("B", "2024-09-02", "2024-12-31", destination="neet"),
        placement("C", "2024-09-02", "2024-11-01", destination="mainstream"),
        placement("D", "2024-09-02", "2025-04-20", destination="other_ap"),
        placement("E", "2024-09-02", "2025-04-21", destination=None),
        placement("F", "2024-09-02", None),                         # still open: not counted
    ])
    df = outcomes.destinations(con, Filters(as_of=date(2025, 6, 1), period_start=date(2024, 9, 1),
                                            period_end=date(2025, 6, 1)), S, by="term")
    assert list(df.itertuples(index=False, name=None)) == [
        ("Autumn 2024/25", "mainstream", 2), ("Autumn 2024/25", "neet", 1),
        ("Spring 2024/25", "other_ap", 1), ("Summer 2024/25", "unknown", 1)]
    empty = outcomes.destinations(make_db(placements=[placement("F", "2024-09-02", None)]),
                                  Filters(as_of=date(2025, 6, 1)), S, by="term")
    assert empty.empty and list(empty.columns) == ["group", "destination", "n"]

@pytest.mark.parametrize("placement_day, exclusion_day, expected", [
    ("2024-12-02", "2024-12-02", "permanent_exclusion"),   # same day: the exclusion is the cause
    ("2024-12-01", "2024-12-02", "placement"),             # the earlier one
    ("2024-12-03", "2024-12-02", "permanent_exclusion"),
    ("2025-07-01", "2025-07-02", None),                    # after as_of: not seen
])
def test_broke_down_by_names_the_first_breakdown(placement_day, exclusion_day, expected):
    # 18 Oct 2024 + 182 = 18 Apr 2025 (see WINDOW_END); with as_of 1 Feb 2025 the return is not
    # yet eligible, yet a breakdown already seen is reported.
    con = make_db(placements=[placement("P1", "2024-09-02", "2024-10-18", destination="mainstream"),
                              placement("P1", placement_day, None, provider="Elm", provider_urn="9")],
                  exclusions=[{"pupil_id": "P1", "category": "permanent", "start_date": exclusion_day}])
    df = outcomes.returns(con, Filters(as_of=date(2025, 2, 1)), S)
    assert df["eligible"].tolist() == [False]
    assert pd.isna(df["sustained"].iloc[0])
    got = df["broke_down_by"].iloc[0]
    assert (got if isinstance(got, str) else None) == expected


def test_by_provider_keeps_a_renamed_provider_together():
    # Same URN (the provider_key), renamed in 2025: one group, labelled with the latest name.
    con = make_db(placements=[
        placement("A", "2024-09-02", "2024-10-18", destination="mainstream", provider="Oak PRU"),
        placement("B", "2025-01-06", "2025-02-14", destination="neet", provider="Oak Academy"),
        placement("C", "2024-09-02", "2024-10-18", destination="mainstream", provider="Elm", provider_urn="9"),
    ])
    df = outcomes.by_group(con, F, S, "provider").set_index("group")
    assert sorted(df.index) == ["Elm", "Oak Academy"]
    assert df.loc["Oak Academy", ["ended", "returned"]].tolist() == [2, 1]
    assert df.loc["Elm", ["ended", "returned"]].tolist() == [1, 1]


@pytest.mark.parametrize("as_of, extra", [("2025-03-14", {}), ("2024-07-01", {"setting_type": ("online",)}),
                                          ("2025-07-18", {"sex": ("F",)}), ("2023-12-01", {"cla": True})])
def test_every_breakdown_at_once_equals_each_on_its_own(sample_db_copy, as_of, extra):
    # The pages ask for all four breakdowns' returns and all five destinations at once (one
    # GROUPING SETS query each instead of nine); each must equal by_group / destinations, whose
    # definitions are checked against hand-worked cases above.
    import duckdb
    import pandas as pd
    from datetime import date

    from analytics import outcomes
    from analytics.settings import Filters, Settings
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    try:
        f, s = Filters(as_of=date.fromisoformat(as_of), **extra), Settings()
        groups, dests = outcomes.by_groups(con, f, s), outcomes.destinations_by_groups(con, f, s)
        assert set(groups) == set(outcomes.GROUP_BY) and set(dests) == {None, *outcomes.GROUP_BY}
        for by in outcomes.GROUP_BY:
            pd.testing.assert_frame_equal(groups[by], outcomes.by_group(con, f, s, by).reset_index(drop=True),
                                          check_dtype=False)
        for by in (None, *outcomes.GROUP_BY):
            pd.testing.assert_frame_equal(dests[by], outcomes.destinations(con, f, s, by=by).reset_index(drop=True),
                                          check_dtype=False)
        assert sum(len(g) for g in groups.values()) > 4
    finally:
        con.close()
