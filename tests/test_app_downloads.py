"""What the dashboard's downloads hold (views/_ui.download_data), page by page.

A reviewer downloading every file found: placement_id (an unkeyed md5 of the UPN, provider and
start date, the other two in the same row) in pupil-level files, from which a UPN can be found
by trying the few thousand an LA issues; the Kaplan–Meier life table giving its hidden counts
back; medians and shares of two placements beside a hidden count; rates with no denominator in
the trend files; exclusion rates as fractions under a 'per 100 pupils' heading; a case-list file
in presentation mode carrying sex, SEN and care status the screen does not show.
"""
from __future__ import annotations

import re

import pytest

from tests.reference_data import copy_db
from tests.test_app import PAGES, _presentation_on, assert_healthy, open_app, open_case


@pytest.fixture
def captured(monkeypatch):
    from views import _ui as U
    frames: dict[str, object] = {}
    original = U.download_data

    def recording(df, *args, **kwargs):
        out = original(df, *args, **kwargs)
        frames[len(frames)] = out
        return out
    monkeypatch.setattr(U, "download_data", recording)
    return frames


def _placement_ids(db) -> set[str]:
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT placement_id FROM placements").fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize("present", [False, True])
def test_no_download_carries_placement_ids(sample_db, sample_db_copy, monkeypatch, captured, present):
    ids = _placement_ids(sample_db_copy)
    for page in PAGES:
        at = open_app(sample_db, monkeypatch, page)
        if present:
            _presentation_on(at, page)
        elif page in ("views/case_list.py", "views/pupil_view.py"):
            at.toggle(key="present_toggle").set_value(False).run()
        assert_healthy(at)
    assert len(captured) >= 10
    for frame in captured.values():
        assert "placement_id" not in frame.columns
        values = {str(v) for c in frame.columns for v in frame[c].tolist()}
        assert not values & ids


def test_the_km_download_is_the_curves_of_groups_large_enough(sample_db, monkeypatch, captured):
    at = open_app(sample_db, monkeypatch, "views/time_in_ap.py")   # presentation mode off
    assert_healthy(at)
    from views._ui import column_label as L
    [km] = [f for f in captured.values() if L("survival") in f.columns]
    assert list(km.columns) == [L(c) for c in ("group", "days", "survival", "placements")]
    assert (km[L("placements")].astype(int) >= 3).all()


def test_a_shared_km_curve_stops_where_fewer_than_the_threshold_are_at_risk(sample_db, sample_db_copy, monkeypatch,
                                                                        captured):
    # Past that point each step is one placement's own length. The life table is worked out
    # here from the store (a read-only copy) for the page's cohort: as of 24 March 2025, this
    # academic year, by reason (the page's default split).
    from datetime import date

    import duckdb

    from analytics import time_in_ap
    from analytics.settings import Filters, Settings
    at = open_app(sample_db, monkeypatch, "views/time_in_ap.py", query={"as_of": "2025-03-24"})
    assert_healthy(at)
    from views._ui import column_label as L
    [km] = [f for f in captured.values() if L("survival") in f.columns]
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    try:
        table = time_in_ap.km_curve(con, Filters(as_of=date(2025, 3, 24)), Settings(), by="reason")
    finally:
        con.close()
    from views._ui import value_label
    table["label"] = table["group"].map(value_label)
    cut = 0
    for group, rows in table.groupby("label"):
        if rows["at_risk"].max() < 3:
            assert group not in set(km[L("group")]), group
            continue
        shown = km[km[L("group")] == group]
        expected = sorted(rows.loc[rows["at_risk"] >= 3, "days"].astype(int))
        assert sorted(shown[L("days")].astype(int)) == expected, group
        cut += int((rows["at_risk"] < 3).sum())
    assert cut > 0, "some curve of the sample runs on with fewer than 3 at risk"


def test_scorecard_statistics_are_hidden_with_the_count_of_their_group(sample_db, monkeypatch, captured):
    at = open_app(sample_db, monkeypatch, "views/providers.py")
    assert_healthy(at)
    from views._ui import column_label as L
    [card] = [f for f in captured.values() if L("median_days") in f.columns]
    small = card[card[L("placements_in_period")].astype(str) == "c"]
    assert len(small), "the sample has providers with one or two placements in the period"
    for col in ("attendance_rate", "cost_per_week_median"):
        assert set(small[L(col)].dropna().astype(str)) <= {"c"}, col
    # the median length of the placements that ended is hidden with their count (a reviewer read
    # one placement's length beside three placements in the period)
    few_ended = card[card[L("ended")].astype(str) == "c"]
    assert len(few_ended), "the sample has providers with one or two placements ended"
    assert set(few_ended[L("median_days")].dropna().astype(str)) <= {"c"}
    few_now = card[card[L("pupils_now")].astype(str) == "c"]
    for col in ("part_time_share", "median_hours"):
        assert set(few_now[L(col)].dropna().astype(str)) <= {"c"}, col


def test_trend_downloads_hold_their_own_columns_and_no_rate_without_its_denominator(sample_db, monkeypatch, captured):
    at = open_app(sample_db, monkeypatch)   # overview, presentation mode off
    assert_healthy(at)
    from views._ui import column_label as L
    trends = [f for f in captured.values() if L("label") in f.columns and L("as_of") in f.columns]
    assert len(trends) == 4   # counts, rates, days and the oversight flags by term
    assert len({tuple(f.columns) for f in trends}) == 4, "each figure downloads its own columns"
    for f in trends:
        assert L("sixth_day_rate") not in f.columns and L("sustained_rate") not in f.columns
    [days] = [f for f in trends if L("km_median_days") in f.columns]
    assert list(days.columns) == [L(c) for c in ("label", "period_start", "as_of", "km_median_days",
                                                 "open_median_days")]


def test_presentation_mode_case_list_download_is_what_the_screen_shows(sample_db, monkeypatch, captured):
    at = open_app(sample_db, monkeypatch, "views/case_list.py")   # presentation mode on by default
    assert_healthy(at)
    [screen] = [df.value for df in at.dataframe if "Flags raised" in df.value.columns]
    from views._ui import column_label as L
    [file] = [f for f in captured.values() if "Flags raised" in f.columns]
    assert list(file.columns) == list(screen.columns)
    for hidden in ("sex", "sen_status", "cla", "fsm", "ethnicity", "first_name", "date_of_birth"):
        assert L(hidden) not in file.columns


def test_rejected_rows_are_not_offered_for_download_in_presentation_mode(tmp_path, monkeypatch):
    body = b"UPN,Provider Name,Start Date\nD999123400001,Oak PRU,31/02/2025\nT999123400002,Oak PRU,01/09/2025\n"
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    at.file_uploader[0].set_value(("bad.csv", body, "text/csv")).run()
    at.button(key="load_files").click().run()
    assert_healthy(at)
    assert any(b.key.startswith("dl_csv_rej_") for b in at.get("download_button"))
    at.toggle(key="present_toggle").set_value(True).run()
    assert_healthy(at)
    assert not any((b.key or "").startswith(("dl_csv_rej_", "dl_csv_hist_rej_")) for b in at.get("download_button"))
    assert any("Turn presentation mode off to download these rows" in c.value for c in at.caption)


def test_the_exclusion_rates_file_holds_rates_per_100_as_the_screen_does(sample_db_copy, tmp_path, monkeypatch,
                                                                          captured):
    from analytics.store import Store
    db = copy_db(sample_db_copy, tmp_path)
    st = Store(db)
    schools = st.con.cursor().execute(
        "SELECT school FROM exclusions WHERE school IS NOT NULL GROUP BY school").fetchall()
    st.set_school_rolls({school: 1000 for (school,) in schools})
    st.close()
    at = open_app(db, monkeypatch, "views/exclusions.py")
    assert_healthy(at)
    [screen] = [df.value for df in at.dataframe if "Suspensions per 100 pupils" in df.value.columns]
    [file] = [f for f in captured.values() if "Suspensions per 100 pupils" in f.columns]
    assert "suspension_rate" not in file.columns and "Suspension rate" not in file.columns
    # the file is shared (small numbers, and what the exclusions by school hide, are 'c'): the
    # schools whose suspensions it shows
    shown = file[file["Suspensions"].astype(str) != "c"]
    assert len(shown) >= 5
    exact = screen.set_index("School")
    for _, row in shown.iterrows():
        n = int(row["Suspensions"])
        # per 100 pupils on a roll of 1,000: the count divided by 10, in the file and on screen
        assert float(row["Suspensions per 100 pupils"]) == pytest.approx(n / 10)
        assert float(exact.loc[row["School"], "Suspensions per 100 pupils"]) == pytest.approx(n / 10)


def test_a_download_is_named_with_its_as_of_date(sample_db, monkeypatch):
    from streamlit.delta_generator import DeltaGenerator
    names = []
    original = DeltaGenerator.download_button

    def recording(self, *args, **kwargs):
        names.append(kwargs.get("file_name"))
        return original(self, *args, **kwargs)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    at = open_app(sample_db, monkeypatch, "views/outcomes.py", query={"as_of": "2025-03-14"})
    assert_healthy(at)
    # the bundled national figures do not depend on the date: their file is named by what it is
    assert "national-figures.csv" in names and "national-figures.xlsx" in names
    dated = [n for n in names if not n.startswith("national-figures.")]
    assert dated and all("-as-of-2025-03-14." in n for n in dated), dated[:3]


def test_the_excel_files_show_rates_as_percentages():
    # Stop 10 left rates in the Excel files as fractions in General format (0.625 under "Return
    # rate"). The headings given to the workbook as percentages are the file's own headings.
    import pandas as pd

    from analytics.exports import to_xlsx_bytes
    from views import _ui as U
    frame = pd.DataFrame({"label": ["Autumn 2024/25"], "ended": [8], "returned": [5], "return_rate": [0.625],
                          "part_time_share": [0.5]})
    headings = U.percent_headings(frame)
    assert headings == ["Return rate", U.column_label("part_time_share")]
    data = U.readable(frame)
    import io

    import openpyxl
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(data, percent=headings)))["Data"]
    cells = {ws.cell(row=1, column=i).value: ws.cell(row=2, column=i) for i in range(1, ws.max_column + 1)}
    assert cells["Return rate"].value == 0.625 and cells["Return rate"].number_format == "0.0%"
    assert cells["Ended"].number_format == "General"


def _excel_files(monkeypatch) -> dict:
    """{file name: the workbook's bytes} for every Excel download a page offers."""
    from streamlit.delta_generator import DeltaGenerator
    files = {}
    original = DeltaGenerator.download_button

    def recording(self, *args, **kwargs):
        name, data = kwargs.get("file_name"), kwargs.get("data")
        if name and name.endswith(".xlsx"):
            files[name] = data
        return original(self, *args, **kwargs)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    return files


def _about(data) -> dict:
    import io

    import openpyxl
    wb = openpyxl.load_workbook(io.BytesIO(data() if callable(data) else data))
    assert wb.sheetnames == ["Data", "About this file"]
    ws = wb["About this file"]
    return {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(2, ws.max_row + 1)}


def test_a_file_says_what_its_figures_were_chosen_by(sample_db, monkeypatch):
    # A lead who downloads the returns of online providers for girls, with long placements
    # set to 100 days, had files named only by their date: the same name as the unfiltered
    # file, and nothing inside to say they were filtered.
    files = _excel_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, "views/outcomes.py",
                  query={"as_of": "2025-03-14", "setting_type": "online", "sex": "F", "s_long_placement_days": "100"})
    assert_healthy(at)
    # the sidebar's words for the two filters: "Setting type" "Online provision", "Sex" "Female"
    name = "returns-by-term-as-of-2025-03-14-setting-type-online-provision-sex-female.xlsx"
    names = [n for n in files if n.startswith("return")]
    assert name in files, names
    about = _about(files[name])
    assert about["Figure"] == "Return to mainstream by term"
    assert about["Figures as of"] == "14/03/2025"
    assert about["Period"] == "01/09/2024 to 14/03/2025"     # this academic year to the 'as of' date
    assert about["Setting type"] == "Online provision" and about["Sex"] == "Female"
    assert about["Long placement (days)"] == "100 (default 182)"
    assert "Filters" not in about and "Review interval (days)" not in about   # only what is on or changed
    assert about["Small numbers"].startswith("In this file 'c' stands for a count from 1 to 2, or for any other "
                                           "figure (0 included) hidden so that such a count cannot be worked out")
    scoped = [n for n in files if n != "national-figures.xlsx"]   # published figures: no filters
    assert all(n.split(".")[0].endswith("-setting-type-online-provision-sex-female") for n in scoped), scoped


def test_an_unfiltered_file_says_so(sample_db, monkeypatch):
    files = _excel_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, "views/outcomes.py", query={"as_of": "2025-03-14", "period": "2023"})
    assert_healthy(at)
    # the period is not this academic year to the 'as of' date: the name says it (a reviewer's
    # 2023/24 file and this-year file had the same name)
    about = _about(files["returns-by-term-as-of-2025-03-14-period-2023-09-01-to-2024-08-31.xlsx"])
    assert about["Filters"] == "None: every placement in the period"
    assert about["Period"] == "01/09/2023 to 31/08/2024"
    assert not [k for k in about if "(days)" in str(k)]


def test_many_filters_make_a_short_name(sample_db, monkeypatch):
    files = _excel_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, "views/outcomes.py",
                  query={"as_of": "2025-03-14", "setting_type": ["online", "one_to_one_tuition", "fe_college"],
                         "reason": ["permanent_exclusion"], "cla": "yes"})
    assert_healthy(at)
    assert "returns-by-term-as-of-2025-03-14-filtered-3-ways.xlsx" in files, list(files)
    about = _about(files["returns-by-term-as-of-2025-03-14-filtered-3-ways.xlsx"])
    assert about["Setting type"] == "Online provision; One-to-one tuition; FE college"
    assert about["Looked after (CLA)"] == "Yes"


def test_the_england_comparison_files_say_what_is_compared_and_where_it_comes_from(sample_db, monkeypatch):
    # A lead pasting the comparison into a paper: the file must say which placements are
    # counted on each side, on what date, England's n, source and licence. Expected counts are
    # worked out here from the store with the AP census's rule (dfe-codes.md §1.1: AP the LA
    # funds, not a PRU or AP academy roll), not through analytics.national.
    import csv
    import io

    import duckdb
    import openpyxl

    files = _all_files(monkeypatch)

    con = duckdb.connect(str(sample_db))   # same configuration as the app's Store (see conftest)
    try:
        [(inside, outside, with_urn)] = con.execute("""
            SELECT count(*) FILTER (WHERE commissioner = 'la' AND setting_type <> 'state_ap_school'),
                   count(*) FILTER (WHERE NOT (commissioner = 'la' AND setting_type <> 'state_ap_school')),
                   count(*) FILTER (WHERE commissioner = 'la' AND setting_type <> 'state_ap_school'
                                    AND trim(COALESCE(provider_urn, '')) <> '')
            FROM placements WHERE start_date <= DATE '2025-07-22'
              AND (end_date IS NULL OR end_date > DATE '2025-07-22')""").fetchall()
    finally:
        con.close()
    assert inside >= 3 and outside >= 3   # the sample has both, so neither is hidden as small

    at = open_app(sample_db, monkeypatch, query={"as_of": "2025-07-22"})
    assert_healthy(at)
    # on the screen, outside the note: what each side counts and how many are left out
    like = next(m.value for m in at.markdown if m.value.startswith("**Like for like:**"))
    assert "placements in LA-funded AP" in like and "other than at a PRU or AP academy" in like
    assert f"{outside} open placements chosen by the filters are left out" in like

    wb = openpyxl.load_workbook(io.BytesIO(files["national-comparison-setting_type-as-of-2025-07-22.xlsx"]))
    ws = wb["About this file"]
    about = {ws.cell(row=r, column=1).value: ws.cell(row=r, column=2).value for r in range(2, ws.max_row + 1)}
    assert about["Period"] == "Counted on 22/07/2025 (the 'as of' date), not over a period"
    assert about["This LA's figures"].startswith("Open placements commissioned by the LA, other than at a PRU")
    assert f"; {outside} left out: placements commissioned by schools" in about["This LA's figures"]
    # 41,319 placements in England's file (spc_ap_setting.csv, National, Total; tests/test_national.py)
    assert about["England's figures"] == "Placements in LA-funded AP, January census, 2022/23, n = 41,319 placements"
    assert "spc_ap_setting.csv" in about["Source of England's figures"]
    assert "Open Government Licence v3.0" in about["Licence"]

    rows = list(csv.DictReader(io.StringIO(files["national-comparison-setting_type-as-of-2025-07-22.csv"]
                                           .decode("utf-8-sig"))))
    by_group = {r["Group"]: r for r in rows}
    assert int(by_group["Education setting with URN"]["This LA: number"]) == with_urn
    assert {r["This LA: total"] for r in rows} == {str(inside)}
    assert {r["England: total"] for r in rows if r["Group"] != "Total"} == {"41,319 placements"}
    assert all("Open Government Licence v3.0" in r["Source of England's figures"] for r in rows)

    # the bundled figures: a licence on every row, an About sheet, and rates as DfE writes them
    rows = list(csv.DictReader(io.StringIO(files["national-figures.csv"].decode("utf-8-sig"))))
    assert all("Open Government Licence v3.0" in r["Licence"] for r in rows)
    perm = [r for r in rows if r["Measure"] == "permanent_exclusion_rate" and r["Time period"] == "2016/17"]
    assert [r["Readable"] for r in perm] == ["0.10 per 100 pupils"]   # SFR35/2017: 0.10 per 100
    wb = openpyxl.load_workbook(io.BytesIO(files["national-figures.xlsx"]))
    assert wb.sheetnames == ["Data", "About this file"]


def test_the_england_comparison_is_withheld_where_its_left_out_count_would_give_a_small_number(
        sample_db, monkeypatch):
    # A reviewer, presentation mode on, filtered to two providers: the tile said 7 open
    # placements, the legend n = 6, and the sentence "fewer than 3 left out": 7 - 6 = 1. The
    # compared total and the number left out add up to the tile, so when either is small the
    # figure is withheld in presentation mode and no file is offered (metrics.md §7).
    import duckdb

    query = {"as_of": "2025-07-22", "provider": ["kestrel home tuition service", "boxing clever community gym"]}
    con = duckdb.connect(str(sample_db))   # same configuration as the app's Store (see conftest)
    try:
        [(inside, outside)] = con.execute("""
            SELECT count(*) FILTER (WHERE commissioner = 'la' AND setting_type <> 'state_ap_school'),
                   count(*) FILTER (WHERE NOT (commissioner = 'la' AND setting_type <> 'state_ap_school'))
            FROM placements WHERE lower(provider) IN ('kestrel home tuition service', 'boxing clever community gym')
              AND start_date <= DATE '2025-07-22' AND (end_date IS NULL OR end_date > DATE '2025-07-22')""").fetchall()
    finally:
        con.close()
    assert inside >= 3 and 0 < outside < 3, (inside, outside)   # the reviewer's case: 6 and 1

    files = _all_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, query=query)
    assert_healthy(at)
    # presentation mode off: the figure is drawn with its exact counts, but no file travels
    assert not [n for n in files if n and n.startswith("national-comparison-setting_type")]
    like = next(m.value for m in at.markdown if m.value.startswith("**Like for like:**"))
    assert f"{outside} open placements chosen by the filters are left out" in like
    at.toggle(key="present_toggle").set_value(True).run()
    assert_healthy(at)
    like = next(m.value for m in at.markdown if m.value.startswith("**Like for like:**"))
    assert "Some open placements chosen by the filters are left out" in like
    assert any(i.value.startswith("Not shown in presentation mode") for i in at.info)
    charts = [n for n in _walk(at._tree) if getattr(n, "type", "") == "plotly_chart"
              and n.proto.id.endswith("chart_national")]
    assert charts == []


def test_the_pupil_file_heads_attendance_as_attendance_and_the_registration_file_has_no_internal_key(
        sample_db, monkeypatch):
    # A reviewer: the pupil's Excel file headed the share of sessions attended "Return rate", and
    # the registration check's files carried the internal provider key as a first column.
    import io

    import openpyxl

    files = _all_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, "views/pupil_view.py", query={"as_of": "2025-03-14"})
    open_case(at)
    assert_healthy(at)
    [pupil] = [v for k, v in files.items() if k and k.startswith("OFFICIAL-SENSITIVE-C-") and k.endswith(".xlsx")]
    ws = openpyxl.load_workbook(io.BytesIO(pupil))["attendance"]
    headings = [c.value for c in ws[1]]
    assert "Share of sessions attended" in headings and "Return rate" not in headings
    files.clear()
    at.switch_page("views/providers.py").run()
    assert_healthy(at)
    [csv_name] = [k for k in files if k and k.startswith("registration-check") and k.endswith(".csv")]
    heading = files[csv_name].decode("utf-8-sig").splitlines()[0]
    assert heading.startswith("Provider,") and "Provider ID" not in heading and "provider_key" not in heading


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _all_files(monkeypatch) -> dict:
    """{file name: bytes} of every download a page offers, made as the button is drawn."""
    return _recorded_downloads(monkeypatch, make=True)


def _recorded_downloads(monkeypatch, make: bool) -> dict:
    """{file name: what a download button was given} for every button a page draws, in a
    container or in the main area (st.download_button is bound to the main area at import, so it
    is patched as well): the file's bytes when ``make`` (deferred data called there and then),
    else the button's data as it is (the browser asks for deferred data on a click)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    files = {}

    def keep(kwargs):
        data = kwargs.get("data")
        files[kwargs.get("file_name")] = data() if make and callable(data) else data

    original, bound = DeltaGenerator.download_button, st.download_button

    def recording(self, *args, **kwargs):
        keep(kwargs)
        return original(self, *args, **kwargs)

    def main_area(*args, **kwargs):
        keep(kwargs)
        return bound(*args, **kwargs)
    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    monkeypatch.setattr(st, "download_button", main_area)
    return files


def test_the_pupil_file_says_whose_records_as_of_when_and_prints_a_page_wide(sample_db, sample_db_copy,
                                                                              monkeypatch):
    # A panel clerk's review: the file had no "About this file" sheet (the README says every
    # Excel file has one), no date in its name, attendance shares as 0.8333 and no print setup.
    import io

    import duckdb
    import openpyxl

    files = _all_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, "views/pupil_view.py", query={"as_of": "2025-07-22"})   # presenting
    open_case(at)
    assert_healthy(at)
    case = at.session_state["case"]
    [(name, data)] = [(n, d) for n, d in files.items() if n.startswith(f"OFFICIAL-SENSITIVE-{case}")]
    assert name == f"OFFICIAL-SENSITIVE-{case}-as-of-2025-07-22.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames[0] == "About this file"
    about = {r[0]: r[1] for r in wb["About this file"].iter_rows(min_row=2, values_only=True)}
    from views import _state as S
    con = duckdb.connect(str(sample_db_copy), read_only=True)
    first, last = con.execute("SELECT first_name, last_name FROM placements WHERE pupil_id = ? LIMIT 1",
                              [S.pupil_for_case(case)]).fetchone()
    con.close()
    assert about["Case"] == case and about["Pupil"] == f"{first[0]}.{last[0]}."       # initials when presenting
    assert about["Records as of"] == "22/07/2025" and about["Presentation mode"].startswith("On")
    assert first not in str(about) and last not in str(about)
    att = wb["attendance"]
    heads = [c.value for c in att[1]]
    share = att.cell(row=2, column=heads.index("Share of sessions attended") + 1)
    assert isinstance(share.value, float) and "%" in share.number_format
    for ws in wb:
        assert ws.print_title_rows == "$1:$1" and ws.sheet_properties.pageSetUpPr.fitToPage
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert wb["placements"].page_setup.orientation == "landscape"


def test_the_case_list_file_is_in_the_screens_words(sample_db, monkeypatch, captured):
    # A clerk's review: the named file had Sex "M", SEN "K", Cla False, ten TRUE/FALSE flag
    # columns and an internal "Provider ID"; the meeting file said False/True for out of area.
    at = open_app(sample_db, monkeypatch, "views/case_list.py", query={"as_of": "2025-07-22"})
    meeting = [f for f in captured.values() if "Flags raised" in f.columns][-1]
    assert set(meeting["Out of area"]) <= {"Yes", "No"}
    at.toggle(key="present_toggle").set_value(False).run()
    assert_healthy(at)
    named = [f for f in captured.values() if "Sex" in f.columns][-1]
    assert set(named["Sex"].dropna()) <= {"Male", "Female", "Unknown"}
    assert set(named["SEN"].dropna()) <= {"EHC plan", "SEN support", "No SEN"}
    assert set(named["Looked after"].dropna()) <= {"Yes", "No"} and set(named["Out of area"].dropna()) <= {"Yes", "No"}
    assert "Flags raised" in named.columns and "Provider ID" not in named.columns
    assert not {"Review overdue", "Long placement", "Part-time"} & set(named.columns)


def test_files_with_a_row_per_child_are_marked_on_every_printed_page(sample_db, monkeypatch):
    # A reviewer found the printed case list marked OFFICIAL-SENSITIVE and its Excel file not.
    # A file of figures carries no marking; one with a row per child carries it on every sheet.
    import io

    import openpyxl
    files = _excel_files(monkeypatch)
    at = open_app(sample_db, monkeypatch, "views/case_list.py", query={"as_of": "2025-03-14"})
    at.toggle(key="present_toggle").set_value(False).run()
    assert_healthy(at)
    # the name says it too, as a CSV has no header or footer (a data protection review)
    [name] = [n for n in files if n.startswith("OFFICIAL-SENSITIVE-case-list")]
    data = files[name]
    wb = openpyxl.load_workbook(io.BytesIO(data() if callable(data) else data))
    for ws in wb:
        assert (ws.oddHeader.center.text, ws.oddFooter.center.text) == ("OFFICIAL-SENSITIVE",) * 2, ws.title
    assert _about(data)["Protective marking"].startswith("OFFICIAL-SENSITIVE: a row per child.")
    files.clear()
    at = open_app(sample_db, monkeypatch, "views/outcomes.py", query={"as_of": "2025-03-14"})
    data = files["returns-by-term-as-of-2025-03-14.xlsx"]
    wb = openpyxl.load_workbook(io.BytesIO(data() if callable(data) else data))
    assert not any(ws.oddHeader.center.text for ws in wb)
    assert "Protective marking" not in _about(data)
    # nor the published national figures (a row each, but no child in them)
    data = files["national-figures.xlsx"]
    wb = openpyxl.load_workbook(io.BytesIO(data() if callable(data) else data))
    assert not any(ws.oddHeader.center.text for ws in wb)
    assert not [n for n in files if n.startswith("OFFICIAL-SENSITIVE") and "national" in n]


def test_provider_files_say_counts_as_whole_numbers_and_statuses_in_words(sample_db, monkeypatch, captured):
    # A reviewer's scorecard CSV said "14.0" pupils, and the registration file True/False and
    # "below_threshold", where the screen says words.
    at = open_app(sample_db, monkeypatch, "views/providers.py", query={"provider": ["990101", "990103"]})
    at.toggle(key="present_toggle").set_value(False).run()
    assert_healthy(at)
    from views._ui import column_label as L
    from analytics.exports import to_csv_bytes
    card = [f for f in captured.values() if L("placements_in_period") in f.columns][-1]   # the last run's
    text = to_csv_bytes(card).decode("utf-8-sig")
    assert not re.search(r",\d+\.0(,|\r)", text), text[:400]
    reg = [f for f in captured.values() if "Likely to need registering" in f.columns][-1]
    assert set(reg["Registered"]) <= {"Registered", "Not registered", "Not recorded"}
    assert set(reg["Likely to need registering"]) <= {"Yes", "No"}
    assert set(reg["Status"]) <= {"Likely to need registering", "Would meet the test; registration not recorded",
                                  "Registered", "Below the test"}
    assert "Why" in reg.columns and "Reason" not in reg.columns


def test_a_withdrawn_uploads_rejected_rows_are_not_offered(tmp_path, monkeypatch):
    # A data protection review downloaded the rejected rows of an upload withdrawn as the wrong
    # file: other children's names and dates of birth, still offered.
    from analytics.store import Store
    db = tmp_path / "ap.duckdb"
    body = "UPN,Provider Name,Start Date\nD999123400001,Oak PRU,31/02/2025\nT999123400002,Oak PRU,01/09/2025\n"
    (tmp_path / "bad.csv").write_text(body, encoding="utf-8")
    with Store(db) as s:
        s.ingest_file(tmp_path / "bad.csv", "bad.csv")
    at = open_app(db, monkeypatch, "views/upload.py")
    at.toggle(key="present_toggle").set_value(False).run()
    assert len(at.selectbox(key="rejects_pick").options) == 1   # offered while the upload is live
    with Store(db) as s:
        s.withdraw(1)
    at = open_app(db, monkeypatch, "views/upload.py")
    at.toggle(key="present_toggle").set_value(False).run()
    assert_healthy(at)
    assert not [w for w in at.selectbox if w.key == "rejects_pick"]
    assert any("a withdrawn upload's are not offered" in c.value for c in at.caption)


def test_a_file_of_named_rows_is_recorded_when_it_is_made_and_a_file_of_figures_is_not(sample_db, tmp_path,
                                                                                       monkeypatch):
    # A data protection review: nobody could tell who had taken a copy of the case list or of a
    # child's records. A file of named rows is now recorded in the access log when the browser
    # asks for it (not when the button is drawn), with the case numbers it held.
    import io

    import duckdb
    import pandas as pd

    from analytics.privacy import case_number, read_case_key

    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM access_log")
    open_ids = [r[0] for r in con.execute("""SELECT DISTINCT pupil_id FROM placements WHERE start_date <= DATE '2025-03-14'
                                             AND (end_date IS NULL OR end_date > DATE '2025-03-14')""").fetchall()]
    [closed] = con.execute("""SELECT pupil_id FROM placements GROUP BY pupil_id
                              HAVING max(coalesce(end_date, DATE '2099-01-01')) <= DATE '2025-03-14' LIMIT 1""").fetchone()
    con.close()

    def downloads(case=""):
        """The access log's downloads as the Upload page shows them (the app holds the file)."""
        at.switch_page("views/upload.py").run()
        at.text_input(key="access_case").input(case).run()
        assert_healthy(at)
        tables = [df.value for df in at.dataframe if "What" in df.value.columns]
        if not tables:
            return []
        t = tables[0]
        return [(c if isinstance(c, str) else "", d, 0 if pd.isna(n) else int(n))
                for w, c, d, n in zip(t["What"], t["Case"], t["Detail"], t["Cases listed"])
                if w == "download"][::-1]                      # oldest first

    made = _recorded_downloads(monkeypatch, make=False)
    at = open_app(db, monkeypatch, "views/case_list.py", query={"as_of": "2025-03-14"})   # presenting
    assert_healthy(at)
    [name] = [n for n in made if n.startswith("OFFICIAL-SENSITIVE-case-list") and n.endswith(".csv")]
    assert downloads() == []                     # drawn, not downloaded
    data = made[name]()
    key = read_case_key(db)
    expected = sorted(case_number(p, key) for p in open_ids)
    assert sorted(set(pd.read_csv(io.BytesIO(data))["Case"])) == expected
    assert downloads() == [("", f"{name}, presentation mode", len(expected))]
    assert downloads(expected[0]) == [("", f"{name}, presentation mode", len(expected))]
    assert downloads(case_number(closed, key)) == []   # a child the file did not hold
    # a file of figures (the overview's) is no copy of anyone's records
    at.switch_page("views/overview.py").run()
    figures = [n for n in made if n and not n.startswith("OFFICIAL-SENSITIVE")]
    assert len(figures) >= 4
    for n in figures:
        made[n]()
    assert len(downloads()) == 1
    # a pupil's records: their case, once per download (each is another copy), in the mode it
    # was drawn in
    at.switch_page("views/pupil_view.py").run()
    at.toggle(key="present_toggle").set_value(False).run()
    case = open_case(at, 1)
    [pupil] = [n for n in made if n.startswith(f"OFFICIAL-SENSITIVE-{case}")]
    made[pupil]()
    made[pupil]()
    assert downloads(case) == [("", f"{name}, presentation mode", len(expected))] * (case in expected) + \
        [(case, f"{pupil}, names shown", 0)] * 2


def test_a_download_of_rejected_rows_is_recorded_against_the_children_in_them(tmp_path, monkeypatch):
    # A QA review: the rejected rows' file (the rows as they were, UPNs and no case numbers) was
    # recorded against nobody, so "who took this child's rows?" found nothing. Two rows rejected
    # for their dates: D999123400001 and T999 1234 00002 (spaced as typed); one row loaded,
    # E999123400003, whose case must not be in the entry.
    from analytics.privacy import case_number, read_case_key
    from analytics.store import Store
    db = tmp_path / "ap.duckdb"
    body = ("UPN,Provider Name,Start Date\nD999123400001,Oak PRU,31/02/2025\n"
            "T999 1234 00002,Oak PRU,not a date\nE999123400003,Oak PRU,01/09/2024\n")
    (tmp_path / "bad.csv").write_text(body, encoding="utf-8")
    with Store(db) as s:
        s.ingest_file(tmp_path / "bad.csv", "bad.csv")
    made = _recorded_downloads(monkeypatch, make=False)
    at = open_app(db, monkeypatch, "views/upload.py")
    at.toggle(key="present_toggle").set_value(False).run()
    at.selectbox(key="rejects_pick").set_value(at.selectbox(key="rejects_pick").options[0]).run()
    assert_healthy(at)
    [name] = [n for n in made if n and n.startswith("OFFICIAL-SENSITIVE-rejected-rows") and n.endswith(".csv")]
    data = made[name]().decode("utf-8-sig")
    assert "D999123400001" in data and "T999 1234 00002" in data and "E999123400003" not in data
    key = read_case_key(db)
    at.text_input(key="access_case").input(case_number("T999123400002", key)).run()
    [table] = [df.value for df in at.dataframe if "What" in df.value.columns]
    assert table["What"].tolist() == ["download"] and table["Cases listed"].tolist() == [2]
    at.text_input(key="access_case").input(case_number("E999123400003", key)).run()
    assert not [df for df in at.dataframe if "What" in df.value.columns]
