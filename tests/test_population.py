"""Population (metrics.md §6). Expected values are worked out by hand in comments."""
from __future__ import annotations

from datetime import date

import pytest

from analytics import population
from analytics.settings import Filters, Settings
from tests.factories import make_db, placement

AS_OF = date(2025, 3, 14)           # default period 2024-09-01 .. 2025-03-14
F = Filters(as_of=AS_OF)
S = Settings()


def _db():
    return make_db(placements=[
        # P1: two open placements (counted once); the later one's attributes win.
        placement("P1", "2024-09-02", None, sen_status="K", sex="M", cla=False, nc_year="9"),
        placement("P1", "2024-11-04", None, sen_status="E", sex="M", cla=True, nc_year="10",
                  provider="Elm", provider_urn="100002"),
        # P2: open, started before the period.
        placement("P2", "2024-06-03", None, sen_status="N", sex="F", cla=None, nc_year="10"),
        # P3: ended in the period.
        placement("P3", "2024-09-02", "2024-12-20", sen_status="N", sex="F", nc_year="11"),
        # P4: only before the period.
        placement("P4", "2024-01-08", "2024-07-19", sen_status="K", sex="F"),
        # P5: starts after as_of: ignored.
        placement("P5", "2025-04-21", None, sen_status="K", sex="F"),
        # P6: its end date is after as_of, so open; started in the period.
        placement("P6", "2025-01-06", "2025-07-18", sen_status=None, sex="F", nc_year="11"),
    ])


def test_summary():
    # In AP at as_of: P1, P2, P6 = 3 pupils; open placements P1 x2, P2, P6 = 4.
    # Started in the period: P1 x2, P3, P6 = 4. Ended in the period: P3 = 1.
    # Pupils with a placement overlapping the period: P1, P2, P3, P6 = 4.
    assert population.summary(_db(), F, S) == {
        "pupils_in_ap": 3, "open_placements": 4, "placements_started": 4,
        "placements_ended": 1, "pupils_in_period": 4}


def test_filters_change_the_figures():
    # Girls: P2, P6 open; P6 and P3 started in the period; P3 ended; P2, P3, P6 in the period.
    assert population.summary(_db(), Filters(as_of=AS_OF, sex=("F",)), S) == {
        "pupils_in_ap": 2, "open_placements": 2, "placements_started": 2,
        "placements_ended": 1, "pupils_in_period": 3}


def test_period_filter():
    # Period 1 Jan .. 14 Mar 2025: started P6; nothing ended; overlapping P1, P2, P6.
    s = population.summary(_db(), Filters(as_of=AS_OF, period_start=date(2025, 1, 1)), S)
    assert (s["placements_started"], s["placements_ended"], s["pupils_in_period"]) == (1, 0, 3)


@pytest.mark.parametrize("by, expected", [
    # P1 takes its latest placement (E, Y10, looked after); P2 N; P6 blank.
    ("sen_status", {"E": 1, "N": 1, "unknown": 1}),
    ("sex", {"M": 1, "F": 2}),
    ("cla", {"yes": 1, "unknown": 2, "no": 0}),   # P1 yes (latest); P2, P6 blank
    ("nc_year", {"10": 2, "11": 1}),
    ("ethnicity_group", {"unknown": 3}),
])
def test_breakdown_counts_each_pupil_once(by, expected):
    df = population.breakdown(_db(), F, S, by)
    got = dict(zip(df["group"], df["pupils"]))
    assert got == {k: v for k, v in expected.items() if v}
    assert df["pupils"].sum() == 3          # = pupils_in_ap


def test_breakdown_rejects_other_columns():
    with pytest.raises(ValueError):
        population.breakdown(_db(), F, S, "first_name")
