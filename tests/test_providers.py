"""Provider scorecard and registration check: expected values worked out by hand.

as_of 14 March 2025 throughout, so the default period is 1 September 2024 – 14 March 2025.
"""
from __future__ import annotations

import math
from datetime import date

import pytest

from analytics.providers import (REGISTRATION_COLUMNS, SCORECARD_COLUMNS, attendance_by_term, registration_check,
                                 scorecard)
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

AS_OF = date(2025, 3, 14)
F = Filters(as_of=AS_OF)


def oak(pupil, start, end=None, **cols):
    cols.setdefault("provider", "Oak PRU")
    return placement(pupil, start, end, provider_urn="100001", **cols)


def hub(pupil, start, end=None, **cols):
    """An unregistered provider known only by name (provider_key 'skills hub')."""
    row = dict(provider="Skills Hub", provider_urn=None, setting_type="other_unregistered",
               registered=False)
    row.update(cols)
    return placement(pupil, start, end, **row)


def _oak_db():
    return make_db(
        placements=[
            # ended in period, to mainstream: days Oct 31 + Nov 30 + Dec 31 + Jan 31 = 123
            oak("P1", "2024-10-01", "2025-01-31", destination="mainstream", cost_per_week=300.0,
                upload_id=1),
            # open, 15 hours: part time
            oak("P2", "2024-11-04", hours_per_week=15.0, upload_id=1),
            # ended in period to another AP: days Feb 3..28 = 26; not in 'ended' (metrics §2)
            oak("P3", "2025-02-03", "2025-02-28", destination="other_ap", cost_per_week=500.0,
                upload_id=1),
            # ended before the period: not counted anywhere
            oak("P4", "2023-09-04", "2024-07-19", destination="neet", cost_per_week=900.0,
                upload_id=1),
            # ends after as_of, so open; no hours, 6 sessions: part time
            oak("P5", "2025-01-06", "2025-06-30", hours_per_week=None, sessions_per_week=6,
                upload_id=1),
            # starts after as_of: ignored
            oak("P6", "2025-04-01", hours_per_week=5.0, upload_id=1),
            # open, 30 hours: full time. Newest upload, so its name is the display name.
            oak("P7", "2025-01-13", hours_per_week=30.0, provider="Oak Pupil Referral Unit",
                upload_id=2),
            # ended in period with no destination (unknown, stays in the denominator):
            # days Sep 2..30 = 29 + Oct 31 + Nov 30 + Dec 1..20 = 20 -> 110
            oak("P8", "2024-09-02", "2024-12-20", destination=None, upload_id=1),
        ],
        attendance=[
            # P1: before the placement (not counted), during (6/10), after it ended (not counted)
            dict(pupil_id="P1", period_start="2024-09-23", possible_sessions=10, attended_sessions=10),
            dict(pupil_id="P1", period_start="2024-10-07", possible_sessions=10, attended_sessions=6),
            dict(pupil_id="P1", period_start="2025-02-03", possible_sessions=10, attended_sessions=0),
            # P2: during (9/10); after as_of (not counted)
            dict(pupil_id="P2", period_start="2024-11-04", possible_sessions=10, attended_sessions=9),
            dict(pupil_id="P2", period_start="2025-03-17", possible_sessions=10, attended_sessions=0),
        ])


def test_scorecard_oak_by_hand():
    df = scorecard(_oak_db(), F, Settings())
    assert list(df.columns) == SCORECARD_COLUMNS
    assert len(df) == 1
    row = df.iloc[0]
    assert row["provider_key"] == "100001"
    assert row["provider"] == "Oak Pupil Referral Unit"       # newest upload's name
    assert row["setting_type"] == "state_ap_school"
    assert row["registered"] is True
    # open at as_of: P2, P5, P7
    assert row["pupils_now"] == 3
    # overlapping the period: P1, P2, P3, P5, P7, P8 (not P4: ended before; not P6: future)
    assert row["placements_in_period"] == 6
    # open hours: 15, (none), 30 -> median 22.5
    assert row["median_hours"] == 22.5
    # part time: P2 (15 < 25), P5 (6 sessions < 10); full time: P7 -> 2/3
    assert row["part_time_share"] == pytest.approx(2 / 3)
    # rows within placements up to as_of: P1 6/10, P2 9/10 -> 15/20
    assert row["attendance_rate"] == 0.75
    # ended in period, less the move to other AP (the 'ended' count beside it, its n): P1 123,
    # P8 110 days -> 116.5 (a commissioning review found 292 days beside "Ended 1" whose one
    # placement ran 327: the median had taken the moves on as well)
    assert row["median_days"] == 116.5
    # ended less other_ap: P1, P8; returned: P1
    assert row["ended"] == 2
    assert row["returned"] == 1
    assert row["return_rate"] == 0.5
    # costs known in the period: 300, 500 -> 400 (P4's 900 is outside it)
    assert row["cost_per_week_median"] == 400
    assert row["needs_registration"] is False or row["needs_registration"] == False  # noqa: E712
    assert row["registration_reason"].startswith("Recorded as registered")


def test_scorecard_nulls_when_nothing_to_measure():
    # One placement ended in period to other_ap, no attendance, no hours, no cost.
    con = make_db(placements=[hub("H1", "2024-10-01", "2024-10-31", destination="other_ap",
                                  hours_per_week=None)])
    row = scorecard(con, F, Settings()).iloc[0]
    assert row["pupils_now"] == 0
    assert row["ended"] == 0 and row["returned"] == 0
    # the move to other AP is not in 'ended', nor in the median days beside it
    for col in ("median_hours", "part_time_share", "attendance_rate", "return_rate",
                "cost_per_week_median", "median_days"):
        assert math.isnan(row[col]), col
    assert row["registered"] is False


def test_scorecard_full_time_setting_changes_part_time_share():
    # Open at 20 and 30 hours. Default 25: one part time (1/2). With full_time_hours 18: none.
    con = make_db(placements=[oak("A", "2025-01-06", hours_per_week=20.0),
                              oak("B", "2025-01-06", hours_per_week=30.0)])
    assert scorecard(con, F, Settings()).iloc[0]["part_time_share"] == 0.5
    assert scorecard(con, F, Settings(full_time_hours=18)).iloc[0]["part_time_share"] == 0.0


def test_scorecard_rows_filters_and_sorting():
    con = make_db(placements=[oak("P1", "2025-01-06"), hub("H1", "2025-01-06"),
                              placement("Z1", "2025-01-06", provider="acorn tutors",
                                        provider_urn=None, registered=None)])
    df = scorecard(con, F, Settings())
    # sorted by name, case-insensitively
    assert df["provider"].tolist() == ["acorn tutors", "Oak PRU", "Skills Hub"]
    assert df["registered"].tolist() == [None, True, False]
    only = scorecard(con, Filters(as_of=AS_OF, provider=("skills hub",)), Settings())
    assert only["provider_key"].tolist() == ["skills hub"]
    empty = scorecard(con, Filters(as_of=AS_OF, provider=("nobody",)), Settings())
    assert list(empty.columns) == SCORECARD_COLUMNS and empty.empty


def test_attendance_row_counted_once_for_overlapping_placements():
    # Two Oak placements for the same pupil both cover the week of 6 January: 8/10 once.
    con = make_db(placements=[oak("P1", "2025-01-06"), oak("P1", "2024-12-02", "2025-01-10")],
                  attendance=[dict(pupil_id="P1", period_start="2025-01-06",
                                   possible_sessions=10, attended_sessions=8)])
    row = scorecard(con, F, Settings()).iloc[0]
    assert row["attendance_rate"] == 0.8
    assert row["pupils_now"] == 1


def _registration_db():
    rows = [
        # Skills Hub: not registered; 18h+ pupils S1 20h, S2 18h (exactly 18 counts), S3 25h,
        # S4 19h -> 4; S5 17.5h below; S6 20h but ended -> not counted; S1 has a second open
        # placement (counted once). 4 < 5 and none CLA/EHCP: below the test.
        hub("S1", "2024-09-02", hours_per_week=20.0), hub("S1", "2025-01-06", hours_per_week=20.0),
        hub("S2", "2024-09-02", hours_per_week=18.0),
        hub("S3", "2024-09-02", hours_per_week=25.0, sex="F"),
        hub("S4", "2024-09-02", hours_per_week=19.0),
        hub("S5", "2024-09-02", hours_per_week=17.5),
        hub("S6", "2024-09-02", "2025-02-14", hours_per_week=20.0),
        # Hill Tutors: not registered; T1 20h with an EHCP -> likely needs registration;
        # T2 looked after but 10h -> not counted.
        placement("T1", "2025-01-06", provider="Hill Tutors", provider_urn=None, registered=False,
                  setting_type="one_to_one_tuition", hours_per_week=20.0, sen_status="E"),
        placement("T2", "2025-01-06", provider="Hill Tutors", provider_urn=None, registered=False,
                  setting_type="one_to_one_tuition", hours_per_week=10.0, cla=True),
        # Five Ways: not registered; five pupils at 25h -> 5 >= 5, likely needs registration.
        *[placement(f"F{i}", "2025-01-06", provider="Five Ways", provider_urn=None,
                    registered=False, setting_type="work_based", hours_per_week=25.0)
          for i in range(1, 6)],
        # Mystery Ltd: status unknown; one looked-after pupil at 18h -> not flagged, but shown
        # as 'registration unknown'.
        placement("M1", "2025-01-06", provider="Mystery Ltd", provider_urn=None, registered=None,
                  setting_type="unknown", hours_per_week=18.0, cla=True),
        # Oak PRU: registered; six pupils at 25h -> never flagged.
        *[oak(f"O{i}", "2025-01-06") for i in range(1, 7)],
    ]
    return make_db(placements=rows)


def test_registration_check_by_hand():
    df = registration_check(_registration_db(), F, Settings())
    assert list(df.columns) == REGISTRATION_COLUMNS
    got = {r.provider: r for r in df.itertuples()}
    assert set(got) == {"Skills Hub", "Hill Tutors", "Five Ways", "Mystery Ltd", "Oak PRU"}

    assert (got["Skills Hub"].pupils_18h_plus, got["Skills Hub"].cla_or_ehcp_18h_plus) == (4, 0)
    assert got["Skills Hub"].likely_needs_registration == False  # noqa: E712
    assert got["Skills Hub"].status == "below_threshold"

    assert (got["Hill Tutors"].pupils_18h_plus, got["Hill Tutors"].cla_or_ehcp_18h_plus) == (1, 1)
    assert got["Hill Tutors"].likely_needs_registration == True  # noqa: E712
    assert "EHC plan" in got["Hill Tutors"].reason

    assert (got["Five Ways"].pupils_18h_plus, got["Five Ways"].cla_or_ehcp_18h_plus) == (5, 0)
    assert got["Five Ways"].likely_needs_registration == True  # noqa: E712
    assert got["Five Ways"].reason.startswith("Not registered, and 5 pupils are timetabled for 18 or more")

    assert got["Mystery Ltd"].registered is None
    assert got["Mystery Ltd"].likely_needs_registration == False  # noqa: E712
    assert got["Mystery Ltd"].status == "registration_unknown"
    assert got["Mystery Ltd"].reason.startswith("Registration status is not recorded")

    assert got["Oak PRU"].pupils_18h_plus == 6
    assert got["Oak PRU"].likely_needs_registration == False  # noqa: E712
    assert got["Oak PRU"].status == "registered"

    # Most urgent first: the two flagged (more pupils first), then the unknown one.
    assert df["provider"].tolist()[:3] == ["Five Ways", "Hill Tutors", "Mystery Ltd"]


def test_registration_counts_a_timetable_recorded_only_in_sessions():
    # A reviewer's unregistered provider had a looked-after child on 10 sessions a week and no
    # hours column: "0 pupils at 18+ hours", not flagged. Sessions count as metrics.md's
    # part_time reads them: 10 sessions are a full week of full_time_hours (25 by default), so
    # 10 sessions = 25 h and 8 = 20 h count; 7 = 17.5 h does not. With 20 full-time hours,
    # 10 sessions are 20 h and 8 sessions 16 h.
    def b(pupil, sessions, **cols):
        return placement(pupil, "2025-01-06", provider="Bright Path", provider_urn=None, registered=False,
                         setting_type="one_to_one_tuition", hours_per_week=None, sessions_per_week=sessions, **cols)
    con = make_db(placements=[b("B1", 10, cla=True), b("B2", 8), b("B3", 7)])
    [row] = registration_check(con, F, Settings()).itertuples()
    assert (row.pupils_18h_plus, row.cla_or_ehcp_18h_plus) == (2, 1)
    assert row.likely_needs_registration == True  # noqa: E712   (a looked-after pupil full time)
    [row] = registration_check(con, F, Settings(full_time_hours=20)).itertuples()
    assert (row.pupils_18h_plus, row.cla_or_ehcp_18h_plus) == (1, 1)


def test_registration_counts_ignore_pupil_filters():
    # Filtering to girls lists only Skills Hub (S3 is the only girl), but the test is about the
    # provider: all 4 of its pupils at 18h+ still count.
    df = registration_check(_registration_db(), Filters(as_of=AS_OF, sex=("F",)), Settings())
    assert df["provider"].tolist() == ["Skills Hub"]
    assert df.iloc[0]["pupils_18h_plus"] == 4


def test_registration_at_an_earlier_as_of():
    # On 1 January 2025 Hill Tutors' and Five Ways' placements (from 6 January) have not
    # started, and Skills Hub has S1..S6: S6 (ended 14 Feb) is open then -> 5 pupils -> flagged.
    df = registration_check(_registration_db(), Filters(as_of=date(2025, 1, 1)), Settings())
    got = {r.provider: r for r in df.itertuples()}
    assert set(got) == {"Skills Hub"}
    assert got["Skills Hub"].pupils_18h_plus == 5
    assert got["Skills Hub"].likely_needs_registration == True  # noqa: E712
    assert "1 January 2025" in got["Skills Hub"].reason


def test_scorecard_carries_the_registration_flag():
    df = scorecard(_registration_db(), F, Settings()).set_index("provider")
    assert df.loc["Five Ways", "needs_registration"] == True  # noqa: E712
    assert df.loc["Hill Tutors", "needs_registration"] == True  # noqa: E712
    assert df.loc["Skills Hub", "needs_registration"] == False  # noqa: E712
    assert df.loc["Mystery Ltd", "needs_registration"] == False  # noqa: E712
    assert df.loc["Five Ways", "registration_reason"].startswith("Not registered")


def test_registration_check_empty_store():
    df = registration_check(make_db(), F, Settings())
    assert df.empty and list(df.columns) == REGISTRATION_COLUMNS


def test_registration_reasons_on_shared_screens_give_no_count_the_table_hides():
    # A reviewer saw 'c' in the count columns beside "4 pupils ..., of whom 2 are looked after".
    # With suppress_below=3 the counts 1 and 2 are hidden in the table (metrics.md §7), so the
    # reason must not give them in figures or in grammar ("attends", "who is"); 0 and 3+ stay.
    df = registration_check(_registration_db(), F, Settings(), suppress_below=3)
    got = {r.provider: r.reason for r in df.itertuples()}
    day = "on 14 March 2025"
    test = ("(registration is needed for 5 or more such pupils, or any such pupil who is looked after "
            "or has an EHC plan)")
    # Hill Tutors: 1 pupil at 18h+, who has an EHC plan: both counts hidden
    assert got["Hill Tutors"] == ("Not registered, and fewer than 3 pupils are timetabled for 18 or more hours a week "
                                  f"{day}, of whom fewer than 3 are looked after or have an EHC plan: likely "
                                  f"to need registration as an independent school {test}.")
    # Mystery Ltd: 1 looked-after pupil at 18h
    assert got["Mystery Ltd"] == ("Registration status is not recorded, and fewer than 3 pupils are timetabled for 18 or "
                                  f"more hours a week {day}, of whom fewer than 3 are looked after or have an "
                                  f"EHC plan: check whether the provider is registered {test}.")
    # Five Ways: 5 pupils, none looked after: nothing to hide, the sentence as before
    assert got["Five Ways"] == ("Not registered, and 5 pupils are timetabled for 18 or more hours a week "
                                f"{day}, none looked after or with an EHC plan: likely to need registration "
                                f"as an independent school {test}.")
    # the exact sentences, for the internal view, still give the counts
    exact = {r.provider: r.reason for r in registration_check(_registration_db(), F, Settings()).itertuples()}
    assert exact["Hill Tutors"].startswith("Not registered, and 1 pupil is timetabled for 18 or more hours a week "
                                           f"{day}, who is looked after or has an EHC plan")
    assert exact["Five Ways"] == got["Five Ways"]
    # the count columns are left exact for the page to suppress
    assert df.set_index("provider").loc["Hill Tutors", "pupils_18h_plus"] == 1


def test_scorecard_attendance_counts_the_period_only():
    # A commissioning review: a placement begun last year brought its rows from before the
    # period into "attendance during placements in the period". Period 2024/25 to as_of.
    db = make_db(
        placements=[oak("P1", "2024-06-03"), oak("P2", "2024-09-02", "2024-12-20", destination="mainstream")],
        attendance=[
            dict(pupil_id="P1", period_start="2024-06-10", possible_sessions=10, attended_sessions=10),  # before
            dict(pupil_id="P1", period_start="2024-07-15", possible_sessions=10, attended_sessions=10),  # before
            dict(pupil_id="P1", period_start="2024-09-09", possible_sessions=10, attended_sessions=4),
            dict(pupil_id="P2", period_start="2024-09-02", possible_sessions=10, attended_sessions=5),
            dict(pupil_id="P2", period_start="2025-01-06", possible_sessions=10, attended_sessions=0),   # after it ended
        ])
    row = scorecard(db, Filters(as_of=AS_OF, period_start=date(2024, 9, 1), period_end=date(2025, 8, 31)),
                    Settings()).iloc[0]
    assert row["attendance_rate"] == (4 + 5) / 20       # not (10 + 10 + 4 + 5) / 40
    # a past period (2023/24 seen from 14 March 2025): nor its rows after the period's end (a
    # second commissioning review: 2,011 sessions of 2024/25 in Ashbeck's 2023/24 rate)
    db = make_db(
        placements=[oak("P1", "2024-01-08")],
        attendance=[dict(pupil_id="P1", period_start="2024-03-04", possible_sessions=10, attended_sessions=6),
                    dict(pupil_id="P1", period_start="2024-09-09", possible_sessions=10, attended_sessions=10)])
    row = scorecard(db, Filters(as_of=AS_OF, period_start=date(2023, 9, 1), period_end=date(2024, 8, 31)),
                    Settings()).iloc[0]
    assert row["attendance_rate"] == 0.6


def test_registration_history_works_the_test_out_on_each_date():
    # Skills Hub (unregistered). By hand, pupils at 18+ hours open on each date:
    #  1 Dec 2024: A, B, C, D (4; none looked after) -> below the test, one short;
    #  20 Dec 2024: A, B, C, D and E (5) -> likely to need registering;
    #  14 Mar 2025: A, B (C and D ended 31 Jan, E on 10 Jan); F is looked after -> likely.
    # G is part-time (10 hours) and never counts; H's 4 sessions make 10 hours at 25 a week.
    from analytics.providers import registration_history
    db = make_db(placements=[
        hub("A", "2024-09-02", hours_per_week=25.0), hub("B", "2024-09-02", hours_per_week=18.0),
        hub("C", "2024-09-02", "2025-01-31", hours_per_week=20.0),
        hub("D", "2024-09-02", "2025-01-31", sessions_per_week=8, hours_per_week=None),   # 8 x 2.5 = 20
        hub("E", "2024-12-02", "2025-01-10", hours_per_week=30.0),
        hub("F", "2025-02-03", hours_per_week=22.0, cla=True),
        hub("G", "2024-09-02", hours_per_week=10.0),
        hub("H", "2024-09-02", sessions_per_week=4, hours_per_week=None)])
    h = registration_history(db, "skills hub", Settings(), [date(2024, 12, 1), date(2024, 12, 20), AS_OF])
    assert h["pupils_18h_plus"].tolist() == [4, 5, 3]
    assert h["cla_or_ehcp_18h_plus"].tolist() == [0, 0, 1]
    assert h["status"].tolist() == ["below_threshold", "likely_needs_registration", "likely_needs_registration"]
    assert h["date"].tolist() == [date(2024, 12, 1), date(2024, 12, 20), AS_OF]


def test_scorecard_adds_up_what_the_open_placements_cost_a_week():
    # A commissioning review: the median cost over the period's placements was all there was; a
    # contract meeting needs the weekly commitment now, and how many have no cost recorded.
    # Open at as_of: A £300, B £450.50, C none; D (£900) ended in February.
    db = make_db(placements=[oak("A", "2024-09-02", cost_per_week=300.0), oak("B", "2025-01-06", cost_per_week=450.5),
                             oak("C", "2025-01-06", cost_per_week=None),
                             oak("D", "2024-09-02", "2025-02-14", destination="mainstream", cost_per_week=900.0)])
    row = scorecard(db, F, Settings()).iloc[0]
    assert row["open_cost_total"] == 750.5
    assert row["open_with_cost"] == 2
    assert row["cost_per_week_median"] == 450.5          # 300, 450.5, 900 in the period


def test_open_cost_per_hour_by_hand():
    # Open on 14 March 2025 at Oak: A £400 for 20 hours (£20 an hour), B £300 for 10 (£30);
    # left out: C (no hours), D (0 hours), E (no cost), F (ended: its £100 an hour is not paid now).
    db = make_db(placements=[
        oak("A", "2025-01-06", cost_per_week=400.0, hours_per_week=20.0),
        oak("B", "2025-01-06", cost_per_week=300.0, hours_per_week=10.0),
        oak("C", "2025-01-06", cost_per_week=500.0, hours_per_week=None, sessions_per_week=8),
        oak("D", "2025-01-06", cost_per_week=100.0, hours_per_week=0.0),
        oak("E", "2025-01-06", cost_per_week=None, hours_per_week=25.0),
        oak("F", "2024-09-02", "2024-12-20", destination="mainstream", cost_per_week=1000.0, hours_per_week=10.0)])
    row = scorecard(db, F, Settings()).iloc[0]
    assert row["open_cost_per_hour_median"] == 25.0     # median of 20 and 30
    assert row["open_with_cost_per_hour"] == 2
    assert row["open_cost_total"] == 400 + 300 + 500 + 100   # every open placement with a cost
    empty = scorecard(make_db(placements=[oak("A", "2025-01-06", cost_per_week=None)]), F, Settings()).iloc[0]
    assert math.isnan(empty["open_cost_per_hour_median"]) and empty["open_with_cost_per_hour"] == 0


def test_attendance_by_term_by_hand():
    # Terms up to 14 March 2025 (Easter 2024 is 31 March, so Summer 2023/24 starts 1 April):
    # Spring 2023/24 1 Jan-31 Mar 2024, Summer 2023/24 1 Apr-31 Aug 2024, Autumn 2024/25
    # 1 Sep-31 Dec 2024, Spring 2024/25 1 Jan 2025 cut at 14 March 2025.
    db = make_db(
        placements=[oak("P4", "2023-09-04", "2024-07-19", destination="neet"),
                    oak("P1", "2024-10-01", "2025-01-31", destination="mainstream"),
                    oak("P2", "2024-11-04"),
                    oak("P5", "2025-04-01"),             # starts after as_of: never placed here
                    hub("P3", "2024-09-02")],            # another provider's pupil
        attendance=[
            dict(pupil_id="P4", period_start="2024-05-06", possible_sessions=10, attended_sessions=8),
            dict(pupil_id="P4", period_start="2024-09-09", possible_sessions=10, attended_sessions=10),  # after it ended
            dict(pupil_id="P1", period_start="2024-09-23", possible_sessions=10, attended_sessions=10),  # before it began
            dict(pupil_id="P1", period_start="2024-10-07", possible_sessions=10, attended_sessions=6),
            dict(pupil_id="P1", period_start="2025-01-06", possible_sessions=10, attended_sessions=5),
            dict(pupil_id="P1", period_start="2025-02-03", possible_sessions=10, attended_sessions=0),   # after it ended
            dict(pupil_id="P2", period_start="2024-11-04", possible_sessions=10, attended_sessions=9),
            dict(pupil_id="P2", period_start="2025-03-10", possible_sessions=10, attended_sessions=7),
            dict(pupil_id="P2", period_start="2025-03-17", possible_sessions=10, attended_sessions=0),   # after as_of
            dict(pupil_id="P3", period_start="2024-10-07", possible_sessions=10, attended_sessions=2),   # at the hub
        ])
    # a Provider filter naming another provider is replaced by the one asked for
    df = attendance_by_term(db, "100001", Filters(as_of=AS_OF, provider=("skills hub",)), Settings(), terms=4)
    assert df["term"].tolist() == ["Spring 2023/24", "Summer 2023/24", "Autumn 2024/25", "Spring 2024/25"]
    assert df["start"].tolist() == [date(2024, 1, 1), date(2024, 4, 1), date(2024, 9, 1), date(2025, 1, 1)]
    assert df["end"].tolist() == [date(2024, 3, 31), date(2024, 8, 31), date(2024, 12, 31), AS_OF]
    assert df["pupils_placed"].tolist() == [1, 1, 2, 2]
    assert df["pupils_with_attendance"].tolist() == [0, 1, 2, 2]
    assert df["possible_sessions"].tolist() == [0, 10, 20, 20]
    assert df["attended_sessions"].tolist() == [0, 8, 6 + 9, 5 + 7]
    assert math.isnan(df["attendance_rate"].iloc[0])
    assert df["attendance_rate"].tolist()[1:] == [0.8, 0.75, 0.6]
    # the other filters apply: girls only leaves nobody (every factory pupil has no sex recorded
    # unless given), so no pupil is placed in any term
    none = attendance_by_term(db, "100001", Filters(as_of=AS_OF, sex=("F",)), Settings(), terms=2)
    assert none["pupils_placed"].tolist() == [0, 0] and none["possible_sessions"].tolist() == [0, 0]


def test_attendance_by_term_agrees_with_the_scorecard_over_one_term():
    # the scorecard's rate for a period that is one term is that term's row (same rule)
    db = _oak_db()
    autumn = Filters(as_of=AS_OF, period_start=date(2024, 9, 1), period_end=date(2024, 12, 31))
    sc = scorecard(db, autumn, Settings()).set_index("provider_key")
    terms = attendance_by_term(db, "100001", Filters(as_of=AS_OF), Settings(), terms=2).set_index("term")
    # by hand (_oak_db): autumn rows while placed are P1 7 Oct (6/10) and P2 4 Nov (9/10)
    assert terms.loc["Autumn 2024/25", "attendance_rate"] == 0.75 == sc.loc["100001", "attendance_rate"]


def test_on_a_shared_screen_the_result_and_reason_never_turn_on_care_status():
    # Presentation mode lists each open placement with its hours, so with one to four pupils at
    # 18+ hours a result or reason that depends on whether one is looked after (or has an EHC
    # plan) tells whose status it is. On a shared screen the answer must be the same whatever that
    # status is: checked for every count, status and small-number rule.
    from analytics.providers import _reason
    for registered in (True, False, None):
        for n18 in range(0, 8):
            for suppress in (None, 3):
                answers = {_reason(registered, n18, v, AS_OF, suppress, shared_screen=True) for v in range(0, n18 + 1)}
                assert len(answers) == 1, (registered, n18, suppress, answers)
    # by hand: one or two pupils at 18+ hours at an unregistered provider: withheld
    likely, reason, status = _reason(False, 1, 1, AS_OF, 3, shared_screen=True)
    assert (likely, status) == (None, "withheld")
    assert reason.startswith("Not registered; fewer than 3 pupils are timetabled for 18 or more hours a week")
    assert "shown at the desk only" in reason
    # five: met on the count alone, said without care status
    likely, reason, status = _reason(False, 5, 2, AS_OF, 3, shared_screen=True)
    assert (likely, status) == (True, "likely_needs_registration") and "of whom" not in reason
    # registered: never withheld
    assert _reason(True, 2, 1, AS_OF, 3, shared_screen=True)[2] == "registered"
    # at the desk nothing changes: one looked-after pupil at 18+ hours makes it likely
    assert _reason(False, 1, 1, AS_OF)[0] is True and _reason(False, 1, 0, AS_OF)[0] is False
