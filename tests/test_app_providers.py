"""The Providers page's one-provider view: one provider's row of the scorecard, the flags by
provider and the registration check, beside every provider's totals, for a contract meeting.
Expected values are counted here with SQL from metrics.md's definitions, not read from the
product's own functions."""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from tests.reference_data import copy_db
from tests.test_app import assert_healthy, open_app, page_text

AS_OF = date(2025, 3, 14)
START = date(2024, 9, 1)       # the default period: this academic year to date
ASHBECK = "990101"             # the sample's largest provider, a registered PRU


def _expected(db, key: str) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        def one(sql, params=()):
            return con.execute(sql, list(params)).fetchone()[0]
        is_open = "start_date <= ? AND (end_date IS NULL OR end_date > ?)"
        in_period = "start_date <= ? AND (end_date IS NULL OR end_date >= ?)"
        ended = "end_date BETWEEN ? AND ? AND destination IS DISTINCT FROM 'other_ap'"
        return {
            "pupils_now": one(f"SELECT count(DISTINCT pupil_id) FROM placements WHERE provider_key = ? AND {is_open}",
                              [key, AS_OF, AS_OF]),
            "open": one(f"SELECT count(*) FROM placements WHERE provider_key = ? AND {is_open}", [key, AS_OF, AS_OF]),
            "open_all": one(f"SELECT count(*) FROM placements WHERE {is_open}", [AS_OF, AS_OF]),
            "in_period": one(f"SELECT count(*) FROM placements WHERE provider_key = ? AND {in_period}",
                             [key, AS_OF, START]),
            "in_period_all": one(f"SELECT count(*) FROM placements WHERE {in_period}", [AS_OF, START]),
            "ended": one(f"SELECT count(*) FROM placements WHERE provider_key = ? AND {ended}", [key, START, AS_OF]),
            "returned": one(f"SELECT count(*) FROM placements WHERE provider_key = ? AND {ended} "
                            "AND destination = 'mainstream'", [key, START, AS_OF]),
            "ended_all": one(f"SELECT count(*) FROM placements WHERE {ended}", [START, AS_OF]),
            "returned_all": one(f"SELECT count(*) FROM placements WHERE {ended} AND destination = 'mainstream'",
                                [START, AS_OF]),
            # metrics.md §5: as_of − (last review, or the start when there is none, or when the
            # newest review is after as_of) > 42 days
            "review_overdue": one(f"""SELECT count(*) FROM placements WHERE provider_key = ? AND {is_open}
                                      AND date_diff('day', CASE WHEN last_review_date <= ? THEN last_review_date
                                                                ELSE start_date END, ?) > 42""",
                                  [key, AS_OF, AS_OF, AS_OF, AS_OF]),
            "no_planned_end": one(f"SELECT count(*) FROM placements WHERE provider_key = ? AND {is_open} "
                                  "AND planned_end_date IS NULL", [key, AS_OF, AS_OF]),
            "open_cost": one(f"SELECT sum(cost_per_week) FROM placements WHERE provider_key = ? AND {is_open}",
                             [key, AS_OF, AS_OF]),
            "open_with_cost": one(f"SELECT count(cost_per_week) FROM placements WHERE provider_key = ? AND {is_open}",
                                  [key, AS_OF, AS_OF]),
            "no_objectives": one(f"SELECT count(*) FROM placements WHERE provider_key = ? AND {is_open} "
                                 "AND coalesce(trim(objectives), '') = ''", [key, AS_OF, AS_OF]),
        }
    finally:
        con.close()


def _pack(at) -> pd.DataFrame:
    [table] = [df.value for df in at.dataframe if "Figure" in df.value.columns]
    return table.set_index("Figure")


def test_one_providers_figures_are_its_own_counted_from_the_stored_placements(sample_db, tmp_path, monkeypatch):
    db = copy_db(sample_db, tmp_path)
    want = _expected(db, ASHBECK)
    assert want["open"] >= 10 and want["ended"] >= 5          # a provider worth a meeting
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    assert_healthy(at)
    assert at.selectbox(key="one_provider").value is None       # nothing until a provider is chosen
    assert not [df for df in at.dataframe if "Figure" in df.value.columns]
    at.selectbox(key="one_provider").set_value(ASHBECK).run()
    assert_healthy(at)
    pack = _pack(at)
    assert list(pack.columns) == ["Ashbeck Learning Centre", "All providers"]
    mine, every = pack["Ashbeck Learning Centre"], pack["All providers"]
    assert mine["Pupils placed there on the 'as of' date"] == f"{want['pupils_now']}"
    assert mine["Placements in the period"] == f"{want['in_period']}"
    assert every["Placements in the period"] == f"{want['in_period_all']}"
    assert mine["Placements ended in the period (not moved to other AP)"] == f"{want['ended']}"
    assert mine["Of those, returned to mainstream"] == f"{want['returned']}"
    assert mine["Return rate"] == f"{100 * want['returned'] / want['ended']:.0f}%"
    assert every["Return rate"] == f"{100 * want['returned_all'] / want['ended_all']:.0f}%"
    assert mine["Placements open on the 'as of' date"] == f"{want['open']}"
    assert every["Placements open on the 'as of' date"] == f"{want['open_all']}"
    assert mine["Open placements flagged: Review overdue"] == f"{want['review_overdue']}"
    assert mine["Open placements flagged: No planned end date"] == f"{want['no_planned_end']}"
    assert mine["Open placements flagged: No objectives recorded"] == f"{want['no_objectives']}"
    assert mine["Open placements flagged: Unregistered provider"] == "0"      # a registered PRU
    assert want["open_cost"] is None and want["open_with_cost"] == 0        # the sample records no cost here
    assert mine["Weekly cost of the open placements, added up"] == "—"
    assert mine["Open placements with a weekly cost recorded"] == "0"
    # medians and shares are not totalled, nor distinct pupils (one may be at two providers)
    assert every["Pupils placed there on the 'as of' date"] == every["Median hours a week (open placements)"] == "—"
    assert any("Registered" in m.value for m in at.markdown)


def test_in_presentation_mode_it_hides_what_the_tables_below_hide_but_what_its_list_shows(sample_db, tmp_path,
                                                                                          monkeypatch):
    # Each figure comes from the scorecard's and the flags table's own protection: a 'c' there is
    # a 'c' here, and nothing they show is hidden here. But the provider's open placements, their
    # pupils, hours and flags are listed one by one below the figures in presentation mode too (as
    # on the Case list), so those counts are exact: a review found 'c' for "Long placement" beside
    # a list of two placements flagged so.
    db = copy_db(sample_db, tmp_path)
    want = _expected(db, ASHBECK)
    assert 0 < want["no_objectives"] < 3          # a small count, hidden as 'c' by the default rule
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat(), "present": "yes"})
    at.selectbox(key="one_provider").set_value(ASHBECK).run()
    assert_healthy(at)
    mine = _pack(at)["Ashbeck Learning Centre"]
    tables = [df.value for df in at.dataframe if "Provider" in df.value.columns]
    [flags] = [t for t in tables if "Review overdue" in t.columns]
    [score] = [t for t in tables if "Return rate" in t.columns]
    frow = flags[flags["Provider"] == "Ashbeck Learning Centre"].iloc[0]
    srow = score[score["Provider"] == "Ashbeck Learning Centre"].iloc[0]
    assert frow["No objectives recorded"] == "c"                                  # hidden in the table...
    assert mine["Open placements flagged: No objectives recorded"] == f"{want['no_objectives']}"  # ...listed here
    assert mine["Open placements flagged: Review overdue"] == f"{want['review_overdue']}"
    assert mine["Placements open on the 'as of' date"] == f"{want['open']}"
    assert mine["Pupils placed there on the 'as of' date"] == f"{want['pupils_now']}"
    [listed] = [df.value for df in at.dataframe if "Case" in df.value.columns and "Flags raised" in df.value.columns]
    assert len(listed) == want["open"]
    assert (listed["Flags raised"].str.contains("No objectives recorded")).sum() == want["no_objectives"]
    # what the list does not show keeps the scorecard's protection
    assert mine["Placements ended in the period (not moved to other AP)"] == str(srow["Ended"])
    assert mine["Of those, returned to mainstream"] == str(srow["Returned to mainstream"])
    rate = srow["Return rate"]         # the same rate, to two places there
    rate = float(rate.rstrip("%")) / 100 if isinstance(rate, str) else rate
    assert mine["Return rate"] == f"{100 * rate:.0f}%" == f"{100 * want['returned'] / want['ended']:.0f}%"


def test_its_buttons_open_the_case_list_and_overview_for_that_provider_alone(sample_db, tmp_path, monkeypatch):
    db = copy_db(sample_db, tmp_path)
    want, ashbeck = _expected(db, "brightpath tuition"), _expected(db, ASHBECK)
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value("brightpath tuition").run()
    # what it is paid a week now (the commissioning review's £5,565 for 18 open placements)
    mine = _pack(at)["BrightPath Tuition"]
    assert want["open_with_cost"] > 0 and float(want["open_cost"]).is_integer()
    assert mine["Weekly cost of the open placements, added up"] == f"£{want['open_cost']:,.0f}"
    assert mine["Open placements with a weekly cost recorded"] == f"{want['open_with_cost']}"
    next(b for b in at.button if b.label == "Open this provider's case list").click().run()
    assert_healthy(at)
    assert [t.value for t in at.title] == ["Case list"]
    assert at.session_state["f_provider"] == ["brightpath tuition"]
    assert any(f"{want['open']} placements listed" in c.value for c in at.caption)
    assert any("filtered by Provider: BrightPath Tuition" in c.value for c in at.caption)   # said on the page
    # back on the Providers page, the sidebar's one provider is the one shown, still beside every
    # provider's totals (printed under the filter, 'All providers' had said the provider's own)
    at.switch_page("views/providers.py").run()
    assert at.selectbox(key="one_provider").value == "brightpath tuition"
    every = _pack(at)["All providers"]
    assert every["Placements in the period"] == f"{want['in_period_all']}"
    assert every["Placements open on the 'as of' date"] == f"{want['open_all']}"
    at.selectbox(key="one_provider").set_value(ASHBECK).run()     # another provider, under the same filter
    assert _pack(at)["Ashbeck Learning Centre"]["Placements in the period"] == f"{ashbeck['in_period']}"
    next(b for b in at.button if b.label == "See this provider's trends on the Overview").click().run()
    assert_healthy(at)
    assert [t.value for t in at.title] == ["Overview"]
    assert at.session_state["f_provider"] == [ASHBECK]         # the provider chosen there now


def test_an_unregistered_provider_shows_its_test_at_term_ends_and_one_pupil_short(sample_db, tmp_path, monkeypatch):
    # A commissioning review: Riverside (unregistered) met the test in December, not in March,
    # and again in July; the page gave one date at a time and no warning at one pupil short.
    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db), read_only=True)

    def at_date(d):
        return con.execute("""SELECT count(DISTINCT pupil_id) FILTER (WHERE h >= 18),
                                     count(DISTINCT pupil_id) FILTER (WHERE h >= 18 AND (cla OR sen_status = 'E'))
                              FROM (SELECT *, coalesce(hours_per_week, sessions_per_week * 2.5) AS h FROM placements)
                              WHERE provider_key = 'riverside re-engagement hub' AND start_date <= ?
                                    AND (end_date IS NULL OR end_date > ?)""", [d, d]).fetchone()
    now, december = at_date(AS_OF), at_date(date(2024, 12, 31))
    con.close()
    assert now == (4, 0) and december[0] == 4 and december[1] > 0      # the sample's case, as the review found
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value("riverside re-engagement hub").run()
    assert_healthy(at)
    assert any(w.value.startswith("One pupil short of the registration test") for w in at.warning)
    [hist] = [df.value for df in at.dataframe if "When" in df.value.columns]
    last, autumn = hist.iloc[-1], hist[hist["When"].str.startswith("End of Autumn 2024/25")].iloc[0]
    assert last["When"] == "The 'as of' date (14/03/2025)" and last["Result"] == "Below the test"
    assert (int(last.iloc[1]), int(last.iloc[2])) == now
    assert (int(autumn.iloc[1]), int(autumn.iloc[2])) == december and autumn["Result"] == "Likely to need registering"
    assert len(hist) == 7                                                  # six term ends and the date
    # a registered provider gets no warning
    at.selectbox(key="one_provider").set_value(ASHBECK).run()
    assert not any(w.value.startswith("One pupil short") for w in at.warning)


def test_the_wide_provider_tables_keep_the_name_in_view_and_costs_in_pounds(sample_db, monkeypatch):
    # A commissioning review at 1400 px: the scorecard showed 7 of its 14 columns, the provider's
    # name scrolled away with the rest; and its costs had lost their £ (a Total row's blank
    # made the column text).
    import json
    at = open_app(sample_db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    assert_healthy(at)
    configs = {}
    for df in at.dataframe:
        if "Provider" in df.value.columns:
            configs[tuple(df.value.columns)] = json.loads(df.proto.columns)
    assert len(configs) == 3                    # the scorecard, the flags by provider, the registration check
    assert all(c["Provider"].get("pinned") is True for c in configs.values())
    [score] = [c for cols, c in configs.items() if "Return rate" in cols]
    assert score["Cost per week median"]["label"] == "Cost per week median (£)"
    assert score["Cost per week median"]["type_config"]["format"] == "£%.0f"


def test_the_header_money_and_print_a_visit_needs(sample_db, tmp_path, monkeypatch):
    # A second commissioning review: no URN or UKPRN in the header; the median weekly cost now,
    # and every provider's weekly total, were missing; a count of 1 with its fee showed on a
    # shared screen; and the registration history, in an expander, did not print.
    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db))
    is_open = "start_date <= DATE '2025-03-14' AND (end_date IS NULL OR end_date > DATE '2025-03-14')"
    median_now, = con.execute(f"SELECT median(cost_per_week) FROM placements WHERE provider_key = 'brightpath tuition' "
                              f"AND {is_open}").fetchone()
    # Lumen: every open placement's cost blanked but one
    [(keep,)] = con.execute(f"SELECT min(placement_id) FROM placements WHERE provider_key = 'lumen online academy' "
                            f"AND {is_open} AND cost_per_week IS NOT NULL").fetchall()
    con.execute(f"UPDATE placements SET cost_per_week = NULL WHERE provider_key = 'lumen online academy' AND {is_open} "
                "AND placement_id <> ?", [keep])
    every_total, every_n = con.execute(f"SELECT sum(cost_per_week), count(cost_per_week) FROM placements "
                                       f"WHERE {is_open}").fetchone()
    lumen_open, = con.execute(f"SELECT count(*) FROM placements WHERE provider_key = 'lumen online academy' "
                              f"AND {is_open}").fetchone()
    con.close()
    assert lumen_open >= 3
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value(ASHBECK).run()
    assert any("URN 990101" in m.value for m in at.markdown)
    at.selectbox(key="one_provider").set_value("brightpath tuition").run()
    assert any("no URN or UKPRN recorded" in m.value for m in at.markdown)
    pack = _pack(at)
    assert pack.loc["Median weekly cost of the open placements", "BrightPath Tuition"] == f"£{median_now:,.0f}"
    assert pack.loc["Weekly cost of the open placements, added up", "All providers"] == f"£{every_total:,.0f}"
    assert pack.loc["Open placements with a weekly cost recorded", "All providers"] == f"{every_n}"
    # one placement with a cost: its fee is one child's, hidden on a shared screen with its count
    at.selectbox(key="one_provider").set_value("lumen online academy").run()
    assert _pack(at).loc["Open placements with a weekly cost recorded", "Lumen Online Academy"] == "1"
    at.toggle(key="present_toggle").set_value(True).run()
    lumen = _pack(at)["Lumen Online Academy"]
    assert lumen["Open placements with a weekly cost recorded"] == "c"
    assert lumen["Weekly cost of the open placements, added up"] == "c"
    assert lumen["Median weekly cost of the open placements"] == "c"
    assert lumen["Placements open on the 'as of' date"] == f"{lumen_open}"        # the rest as before
    # printed, the registration history is on the paper, not in a closed expander
    at.selectbox(key="one_provider").set_value("riverside re-engagement hub").run()
    at.toggle(key="print_toggle").set_value(True).run()
    assert_healthy(at)
    assert any("When" in t.value.columns and len(t.value) == 7 for t in at.table)


def test_the_printed_scorecard_says_pounds_and_yes_or_no(sample_db, monkeypatch):
    # A second commissioning review's print: costs as "545.0" with no £, and "Needs
    # registration" as True/False (the screen's tick boxes).
    at = open_app(sample_db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.toggle(key="print_toggle").set_value(True).run()
    assert_healthy(at)
    [score] = [t.value for t in at.table if "Return rate" in t.value.columns and "Provider" in t.value.columns]
    row = score[score["Provider"] == "BrightPath Tuition"].iloc[0]
    assert row["Cost per week median"] == "£345"           # the median of the period's costs, as on screen
    assert set(score["Needs registration"]) <= {"Yes", "No", ""} and "Yes" in set(score["Needs registration"])


BRIGHTPATH = "brightpath tuition"
IS_OPEN = "start_date <= DATE '2025-03-14' AND (end_date IS NULL OR end_date > DATE '2025-03-14')"
SEN_WORDS = {"E": "EHC plan", "K": "SEN support", "N": "No SEN"}


def _open_rows(db, key: str) -> pd.DataFrame:
    """Each open placement at the provider with its attendance during the placement (metrics.md
    §5: rows with period_start in [start_date, as_of]), counted here from the stored tables."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"""
            SELECT p.pupil_id, p.first_name, p.last_name, p.cost_per_week, p.sen_status, p.cla, p.objectives,
                   p.hours_per_week,
                   (SELECT sum(attended_sessions) / sum(possible_sessions) FROM attendance a
                    WHERE a.pupil_id = p.pupil_id AND a.period_start BETWEEN p.start_date AND DATE '2025-03-14'
                   ) AS during
            FROM placements p WHERE provider_key = ? AND {IS_OPEN}""", [key]).df()
    finally:
        con.close()


def test_the_open_placements_a_contract_meeting_asks_for(sample_db, tmp_path, monkeypatch):
    # A commissioning review's second priority: a row per current placement with its objectives,
    # SEN and looked-after status, attendance and weekly cost. At the desk the view gives them;
    # on a shared screen, as the Case list does there, initials and no more.
    from tests.test_app_panel import _with_empty_access_log
    from views import _state as S
    db, _ = _with_empty_access_log(sample_db, tmp_path)
    want = _open_rows(db, BRIGHTPATH)
    assert len(want) >= 10 and want["cost_per_week"].notna().all() and want["sen_status"].nunique() >= 2
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value(BRIGHTPATH).run()
    assert_healthy(at)
    [table] = [df.value for df in at.dataframe if "Case" in df.value.columns and "Objectives" in df.value.columns]
    assert len(table) == len(want)
    got = table.set_index("Case")
    for r in want.itertuples():
        row = got.loc[S.case_number(r.pupil_id)]
        assert row["Pupil"] == f"{r.first_name} {r.last_name}"
        assert row["Cost per week"] == r.cost_per_week
        assert row["SEN"] == SEN_WORDS[r.sen_status]
        assert row["Looked after"] == ("Yes" if r.cla else "No")
        assert row["Hours a week"] == r.hours_per_week
        assert (row["Objectives"] or None) == (r.objectives if isinstance(r.objectives, str) and r.objectives.strip()
                                               else None) or pd.isna(row["Objectives"])
        assert abs(row["Attendance during the placement"] - r.during) < 1e-9
    # the cost per hour beside them: the median of weekly cost ÷ hours over these placements
    per_hour = (want["cost_per_week"] / want["hours_per_week"]).median()
    pack = _pack(at)["BrightPath Tuition"]
    assert pack["Median cost per hour (open placements: weekly cost ÷ hours a week)"] == f"£{per_hour:,.2f}"
    assert pack["Open placements with a weekly cost and hours recorded"] == f"{len(want)}"
    # who saw the list is recorded, by case number
    at.switch_page("views/upload.py").run()
    [log] = [df.value for df in at.dataframe if "What" in df.value.columns]
    seen = log[log["What"] == "one provider: open placements"]
    assert len(seen) == 1 and seen["Cases listed"].iloc[0] == want["pupil_id"].nunique()
    assert seen["Detail"].iloc[0].startswith(f"{len(want)} placements listed at BrightPath Tuition, names shown")
    # on a shared screen: initials, and no SEN, care status, attendance, cost or objectives
    at.switch_page("views/providers.py").run()
    assert at.selectbox(key="one_provider").value == BRIGHTPATH     # kept while away from the page
    at.toggle(key="present_toggle").set_value(True).run()
    assert_healthy(at)
    [table] = [df.value for df in at.dataframe if "Case" in df.value.columns and "Flags raised" in df.value.columns]
    assert len(table) == len(want)
    assert not {"Objectives", "SEN", "Looked after", "Cost per week", "Attendance during the placement",
                "Home school"} & set(table.columns)
    initials = {S.case_number(r.pupil_id): f"{r.first_name[0]}.{r.last_name[0]}." for r in want.itertuples()}
    assert dict(zip(table["Case"], table["Pupil"])) == initials
    # a case opens from the list, and back on the page the provider is still the one chosen
    case = table["Case"].iloc[0]
    at.selectbox(key="one_provider_case").set_value(case).run()
    next(b for b in at.button if b.key == "one_provider_open_case").click().run()
    assert_healthy(at)
    assert at.session_state["case"] == case and any(h.value == f"Case {case}" for h in at.header)
    at.switch_page("views/providers.py").run()
    assert at.selectbox(key="one_provider").value == BRIGHTPATH


def test_the_open_placements_file_is_marked_and_recorded(sample_db, tmp_path, monkeypatch):
    from tests.test_app_downloads import _recorded_downloads
    from tests.test_app_panel import _with_empty_access_log
    db, _ = _with_empty_access_log(sample_db, tmp_path)
    want = _open_rows(db, BRIGHTPATH)
    files = _recorded_downloads(monkeypatch, make=True)
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value(BRIGHTPATH).run()
    assert_healthy(at)
    [name] = [n for n in files if "open-placements-brightpath-tuition" in n and n.endswith(".csv")]
    assert name.startswith("OFFICIAL-SENSITIVE")
    text = files[name].decode("utf-8-sig")
    assert len(text.strip().splitlines()) == 1 + len(want)      # a heading and a row per placement
    assert "Objectives" in text and "Cost per week" in text
    for pupil in want["pupil_id"]:
        assert pupil not in text                                 # case numbers, never UPNs
    at.switch_page("views/upload.py").run()
    [log] = [df.value for df in at.dataframe if "What" in df.value.columns]
    downloads = log[log["What"] == "download"]
    assert any(name in d for d in downloads["Detail"])


def test_attendance_term_by_term_counted_from_the_stored_rows(sample_db, tmp_path, monkeypatch):
    # Spring 2024/25 (1 January 2025, cut at 14 March) at BrightPath, by the scorecard's rule:
    # rows dated in the term while placed there, each row once.
    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    placed, with_rows, possible, attended = con.execute("""
        WITH p AS (SELECT * FROM placements WHERE provider_key = 'brightpath tuition'
                   AND start_date <= DATE '2025-03-14'),
             r AS (SELECT DISTINCT a.pupil_id, a.period_start, a.period_end, a.setting_key, a.possible_sessions,
                          a.attended_sessions
                   FROM attendance a JOIN p ON a.pupil_id = p.pupil_id
                    AND a.period_start BETWEEN p.start_date
                        AND coalesce(CASE WHEN p.end_date <= DATE '2025-03-14' THEN p.end_date END, DATE '2025-03-14')
                   WHERE a.period_start BETWEEN DATE '2025-01-01' AND DATE '2025-03-14')
        SELECT (SELECT count(DISTINCT pupil_id) FROM p WHERE start_date <= DATE '2025-03-14'
                AND (end_date IS NULL OR end_date >= DATE '2025-01-01')),
               (SELECT count(DISTINCT pupil_id) FROM r), (SELECT sum(possible_sessions) FROM r),
               (SELECT sum(attended_sessions) FROM r)""").fetchone()
    con.close()
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value(BRIGHTPATH).run()
    assert_healthy(at)
    [terms] = [df.value for df in at.dataframe if "Term" in df.value.columns and "Possible sessions" in df.value.columns]
    assert len(terms) == 6 and terms["Term"].iloc[-1] == "Spring 2024/25 (to 14/03/2025)"   # cut at 'as of'
    last = terms.iloc[-1]
    assert (last["Pupils placed"], last["Pupils with attendance"]) == (placed, with_rows)
    assert (last["Possible sessions"], last["Attended sessions"]) == (possible, attended)
    assert abs(last["Attendance rate"] - attended / possible) < 1e-9


def test_destinations_at_the_desk_and_where_to_find_them_on_a_shared_screen(sample_db, tmp_path, monkeypatch):
    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    want = dict(con.execute("""SELECT coalesce(destination, 'unknown'), count(*) FROM placements
                               WHERE provider_key = 'brightpath tuition'
                                 AND end_date BETWEEN DATE '2024-09-01' AND DATE '2025-03-14'
                               GROUP BY ALL""").fetchall())
    con.close()
    assert sum(want.values()) >= 5 and "other_ap" in want      # moves to another AP listed here too
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value(BRIGHTPATH).run()
    [dest] = [df.value for df in at.dataframe if "Destination" in df.value.columns]
    words = {"mainstream": "Mainstream school", "other_ap": "Another AP placement"}
    assert dict(zip(dest["Destination"], dest["Ended (all destinations)"])) == {
        **{words.get(k, k): v for k, v in want.items()}, "Total": sum(want.values())}
    at.toggle(key="present_toggle").set_value(True).run()
    assert_healthy(at)
    assert not [df for df in at.dataframe if "Destination" in df.value.columns]
    assert any(c.value.startswith("Shown at the desk only") for c in at.caption)


def test_on_a_shared_screen_no_registration_result_tells_a_childs_care_status(sample_db, tmp_path, monkeypatch):
    # A commissioning review, presentation mode: Ironside (not registered) "likely to need
    # registering" with fewer than 3 pupils at 18+ hours "of whom fewer than 3 are looked after",
    # and its two open placements listed with their hours (15 and 25): the one at 25 hours had to
    # be looked after or have an EHC plan. Counted here: one pupil at 18+ hours, looked after.
    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    at18 = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE cla OR sen_status = 'E') FROM placements
                           WHERE provider_key = 'ironside motor works training' AND {IS_OPEN}
                             AND coalesce(hours_per_week, sessions_per_week * 2.5) >= 18""").fetchone()
    con.close()
    assert at18 == (1, 1)
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value("ironside motor works training").run()
    assert any(e.value.startswith("Registration check: Likely to need registering") for e in at.error)   # the desk
    at.toggle(key="present_toggle").set_value(True).run()
    assert_healthy(at)
    text = " ".join([e.value for e in at.error] + [w.value for w in at.warning] + [c.value for c in at.caption]
                    + [m.value for m in at.markdown])
    assert "Registration check: Shown at the desk only" in text
    assert "of whom" not in text and "Likely to need registering" not in text.split("Registration check")[1][:200]
    tables = [df.value for df in at.dataframe]
    for t in tables:   # no count of looked-after or EHC plan pupils anywhere on the page
        assert not [c for c in t.columns if "Looked-after or EHCP" in c]
    [reg] = [t for t in tables if "Why" in t.columns]
    row = reg[reg["Provider"] == "Ironside Motor Works Training"].iloc[0]
    assert "looked after or has an EHC plan, shown at the desk only" in row["Why"]
    [score] = [t for t in tables if "Return rate" in t.columns and "Needs registration" in t.columns]
    srow = score[score["Provider"] == "Ironside Motor Works Training"].iloc[0]
    assert srow["Needs registration"] is None or pd.isna(srow["Needs registration"])
    assert not any("Ironside" in e.value for e in at.error)     # not in the list of likely providers either
    assert not any(x.value.startswith("No unregistered provider meets") for x in at.success)   # nor "none does"
    # the registration file offered on the shared screen holds what the screen does (a QA review's
    # file gave Ironside "Likely" and the looked-after counts, "3 of 3" at Collingmere)
    from tests.test_app_downloads import _recorded_downloads
    files = _recorded_downloads(monkeypatch, make=True)
    at.run()
    [name] = [n for n in files if n.startswith("registration-check") and n.endswith(".csv")]
    text = files[name].decode("utf-8-sig")
    assert "Looked-after or EHCP" not in text and "of whom" not in text
    ironside = [line for line in text.splitlines() if line.startswith("Ironside")]
    assert len(ironside) == 1 and "Shown at the desk only" in ironside[0] and "Likely" not in ironside[0]
    # and the printed scorecard's costs keep their pounds beside a 'c' (a review's print said 1517.5)
    assert any(isinstance(v, str) and v.startswith("£") for v in score["Cost per week median"])


def test_a_pupil_view_opened_from_the_desk_list_stays_at_the_desk(sample_db, tmp_path, monkeypatch):
    # A review at the desk opened a case from the list: the Pupil view (a Panel page) switched
    # presentation mode on by itself, and back on Providers cost, SEN and objectives were gone.
    from views import _state as S
    db = copy_db(sample_db, tmp_path)
    want = _open_rows(db, "riverside re-engagement hub")
    at = open_app(db, monkeypatch, "views/providers.py", query={"as_of": AS_OF.isoformat()})
    at.selectbox(key="one_provider").set_value("riverside re-engagement hub").run()
    first = want.iloc[0]
    case = S.case_number(first["pupil_id"])
    at.selectbox(key="one_provider_case").set_value(case).run()
    next(b for b in at.button if b.key == "one_provider_open_case").click().run()
    assert_healthy(at)
    assert at.toggle(key="present_toggle").value is False
    assert f"{first['first_name']} {first['last_name']}" in page_text(at)     # the name, not initials
    at.switch_page("views/providers.py").run()
    [table] = [df.value for df in at.dataframe if "Case" in df.value.columns and "Flags raised" in df.value.columns]
    assert {"Cost per week", "SEN", "Objectives"} <= set(table.columns)


def test_no_list_of_children_under_a_care_or_sen_filter_on_a_shared_screen(sample_db, tmp_path, monkeypatch):
    # A QA review, presentation mode with "Looked after: Yes": the Case list listed five children
    # by initials, the one-provider view Ironside's one looked-after child, and the Pupil view's
    # choice the same children. One filter, one screen: each child's status beside their initials.
    db = copy_db(sample_db, tmp_path)
    con = duckdb.connect(str(db), read_only=True)
    [(open_all,)] = con.execute(f"SELECT count(DISTINCT pupil_id) FROM placements WHERE {IS_OPEN}").fetchall()
    con.close()
    at = open_app(db, monkeypatch, "views/case_list.py", query={"as_of": AS_OF.isoformat(), "cla": "yes"})
    assert_healthy(at)
    assert at.toggle(key="present_toggle").value is True
    assert not [df for df in at.dataframe if "Case" in df.value.columns]
    assert any(i.value.startswith("Not listed in presentation mode while a SEN status or looked-after filter")
               for i in at.info)
    # with no list beside them the counts are small-number protected again (the sample has 5 open
    # placements of looked-after children: review overdue on 1 of them is hidden)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Review overdue"] == "c"
    at.switch_page("views/providers.py").run()
    at.selectbox(key="one_provider").set_value("ironside motor works training").run()
    assert_healthy(at)
    assert not [df for df in at.dataframe if "Flags raised" in df.value.columns]
    at.switch_page("views/pupil_view.py").run()
    assert len(at.selectbox(key="case_view_pick").options) == open_all     # every open case, not the filter's
    # at the desk the filtered list is there
    at.switch_page("views/case_list.py").run()
    at.toggle(key="present_toggle").set_value(False).run()
    assert [df for df in at.dataframe if "Case" in df.value.columns and "Flags raised" in df.value.columns]
