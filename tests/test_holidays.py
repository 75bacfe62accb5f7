"""Holiday calendars from users' files (analytics/holidays.py), and the Settings page using them.

A reviewer found ISO dates read year-day-month ("2025-02-03" as 2 March) and Excel date cells
("2024-12-23 00:00:00") turned into a calendar of 71 days from 23 December to 1 March; an
impossible date, a reversed range and a range of years were dropped or shortened unsaid. Every
expected list below is counted by hand from the calendar.
"""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from analytics.holidays import holiday_dates, read_calendar
from tests.reference_data import copy_db

D = dt.date


def days(a: D, b: D) -> list[D]:
    return [a + dt.timedelta(days=k) for k in range((b - a).days + 1)]


def csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype=str, header=None)


def test_iso_dates_are_year_month_day():
    got = holiday_dates(csv("Date\n2025-02-03\n2025-02-04\n2025-02-05\n2025-02-17\n"))
    assert got.dates == [D(2025, 2, 3), D(2025, 2, 4), D(2025, 2, 5), D(2025, 2, 17)]
    assert got.problems == []


def test_excel_date_cells_in_from_to_ranges():
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Holiday", "From", "To"])
    ws.append(["Half term", dt.datetime(2024, 10, 28), dt.datetime(2024, 11, 1)])     # 5 days
    ws.append(["Training", dt.datetime(2024, 11, 5), dt.datetime(2024, 11, 6)])       # 2 days
    ws.append(["Christmas", dt.datetime(2024, 12, 23), dt.datetime(2025, 1, 3)])      # 12 days
    ws.append(["Half term", dt.datetime(2025, 2, 17), dt.datetime(2025, 2, 21)])      # 5 days
    bio = io.BytesIO()
    wb.save(bio)
    got = read_calendar(bio.getvalue(), "calendar.xlsx")
    assert got.dates == (days(D(2024, 10, 28), D(2024, 11, 1)) + days(D(2024, 11, 5), D(2024, 11, 6))
                         + days(D(2024, 12, 23), D(2025, 1, 3)) + days(D(2025, 2, 17), D(2025, 2, 21)))
    assert len(got.dates) == 24 and got.problems == []


def test_uk_day_first_without_a_header_is_not_split_at_its_slashes():
    got = read_calendar(b"17/02/2025\n18/2/25\n", "inset.csv")
    assert got.dates == [D(2025, 2, 17), D(2025, 2, 18)]


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_separators(sep):
    got = read_calendar(f"Name{sep}From{sep}To\nHalf term{sep}17/02/2025{sep}21/02/2025\n".encode(), "t.csv")
    assert got.dates == days(D(2025, 2, 17), D(2025, 2, 21))


def test_rows_that_cannot_be_used_are_each_reported_and_left_out():
    got = holiday_dates(csv("From,To\n"
                            "17/02/2025,18/02/2025\n"     # row 2: two days
                            "31/02/2025,\n"               # row 3: no such day
                            "21/02/2025,17/02/2025\n"     # row 4: reversed
                            "01/09/2024,31/08/2026\n"     # row 5: two years
                            "02/14/2025,\n"               # row 6: month-first
                            "24/12/2025,\n"))             # row 7: one day
    assert got.dates == [D(2025, 2, 17), D(2025, 2, 18), D(2025, 12, 24)]
    assert got.problems == [
        "Row 3: '31/02/2025' is not a date (day/month/year), so the row was left out.",
        "Row 4: the last day (17/02/2025) is before the first (21/02/2025), so the row was left out. "
        "Swap them if the dates are right.",
        "Row 5: 01/09/2024 to 31/08/2026 is more than a year, so the row was left out. Check the years.",
        "Row 6: '02/14/2025' is not a date (day/month/year), so the row was left out.",
    ]


def test_a_file_without_dates_gives_none():
    assert holiday_dates(csv("Name,Notes\nHalf term,week off\n")).dates == []


AS_OF = "2025-03-14"
NOVEMBER = "Date\n05/11/2024\n06/11/2024\n"
LATER = "Date\n10/03/2025\n11/03/2025\n"


def _save_calendar(at, text: str) -> None:
    at.file_uploader(key="holiday_file").set_value(("calendar.csv", text.encode(), "text/csv")).run()
    at.button(key="holiday_save").click().run()


def _sixth_day_caption(at) -> str:
    return next(c.value for c in at.caption if "whose sixth school day has passed" in c.value)


def _expected(sample_db_copy, calendar: list[D]) -> str:
    """The headless report's sixth-day counts with that calendar, as the page words them."""
    import duckdb

    from analytics.report import build_report
    from analytics.settings import Filters, Settings
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    try:
        six = build_report(con, Filters(as_of=D.fromisoformat(AS_OF)),
                           Settings().with_overrides(holidays=tuple(calendar)))["exclusions"]["sixth_day"]
    finally:
        con.close()
    return f"{six['met']} of {six['eligible']} whose sixth school day has passed"


def test_a_calendar_saved_in_one_session_is_the_one_every_session_uses(sample_db_copy, tmp_path, monkeypatch):
    # Each session counted its own saves, so two sessions could share a cache key: B, having
    # saved its calendar, was shown figures worked out with A's.
    from tests.test_app import assert_healthy, open_app
    db = copy_db(sample_db_copy, tmp_path)   # a calendar is saved: not in the shared sample store
    a = open_app(db, monkeypatch, "views/settings.py", query={"as_of": AS_OF})
    b = open_app(db, monkeypatch, "views/settings.py", query={"as_of": AS_OF})
    _save_calendar(a, NOVEMBER)
    a.switch_page("views/exclusions.py").run()   # A's figures, cached under A's calendar
    assert_healthy(a)
    _save_calendar(b, LATER)
    b.switch_page("views/exclusions.py").run()
    assert_healthy(b)
    later = _expected(sample_db_copy, [D(2025, 3, 10), D(2025, 3, 11)])
    november = _expected(sample_db_copy, [D(2024, 11, 5), D(2024, 11, 6)])
    none = _expected(sample_db_copy, [])
    assert len({later, november, none}) == 3, "the calendars give different figures on this date"
    assert later in _sixth_day_caption(b)
    a.run()
    assert later in _sixth_day_caption(a), "the calendar saved last is everyone's"


def test_the_settings_page_says_what_the_data_says_beside_an_override(sample_db_copy, tmp_path, monkeypatch):
    # The caption under each measure read the direction in force, so after choosing "Higher is
    # better" for SDQ total it said "(the data: higher is better)", though 487 of its rows in the
    # sample say higher_is_better = false; reading age, whose rows say true, read "see the upload".
    from tests.test_app import assert_healthy, open_app
    db = copy_db(sample_db_copy, tmp_path)
    at = open_app(db, monkeypatch, "views/settings.py")
    at.radio(key="dir_sdq total").set_value("Higher is better").run()
    at.radio(key="dir_reading age").set_value("Lower is better").run()
    assert_healthy(at)
    fresh = open_app(db, monkeypatch, "views/settings.py")
    assert fresh.radio(key="dir_sdq total").value == "Higher is better"
    assert fresh.radio(key="dir_sdq total").proto.captions[0] == "(the data: lower is better)"
    assert fresh.radio(key="dir_reading age").value == "Lower is better"
    assert fresh.radio(key="dir_reading age").proto.captions[0] == "(the data: higher is better)"
