"""National comparison figures: the committed table agrees with DfE's published files.

The published files are read from ../shared/realdata (never copied into the repository) with
the csv module, independently of analytics.national's own extraction.
"""
from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import pytest

from analytics import national

REALDATA = Path(os.environ.get("AP_REALDATA",
                               Path(__file__).resolve().parents[2] / "shared" / "realdata"))


def needs_realdata(test):
    """The DfE files sit in ../shared/realdata beside the project (never committed here). A missing
    folder fails the test, so a run without them cannot pass by skipping."""
    def wrapper(*args, **kwargs):
        assert (REALDATA / "spc_ap_setting.csv").exists(), (
            f"DfE published files not found in {REALDATA}: clone the project beside shared/, "
            "or point AP_REALDATA at them")
        return test(*args, **kwargs)
    import functools
    return functools.wraps(test)(wrapper)


@pytest.fixture(scope="module")
def table():
    return national.figures()


def _value(table, measure, breakdown, time_period):
    rows = table[(table.measure == measure) & (table.breakdown == breakdown)
                 & (table.time_period == time_period)]
    assert len(rows) == 1, (measure, breakdown, time_period)
    return rows.iloc[0]["value"]


def _csv(name):
    opener = gzip.open if name.endswith(".gz") else open
    with opener(REALDATA / name, "rt", encoding="utf-8-sig", newline="") as f:
        yield from csv.DictReader(f)


def test_committed_table_shape(table):
    assert list(table.columns) == national.COLUMNS
    # a small derived table, not a copy of the data files
    assert 20 <= len(table) <= 200
    assert set(table.unit) == {"count", "fraction"}
    fractions = table[table.unit == "fraction"].value.dropna()
    assert ((fractions >= 0) & (fractions <= 1)).all()
    assert table.source.str.contains(r"\.csv").all()
    assert table.time_period.str.fullmatch(r"\d{4}/\d{2}").all()
    assert "Open Government Licence v3.0" in national.ATTRIBUTION


@needs_realdata
def test_setting_type_share_matches_published_file(table):
    placements = {r["setting_type"]: int(r["placements"]) for r in _csv("spc_ap_setting.csv")
                  if r["geographic_level"] == "National"}
    # 2,557 of 41,319 placements were with other unregistered providers (about 6.2%)
    share = placements["Other unregistered provider"] / placements["Total"]
    assert _value(table, "la_funded_ap_placements_share_by_setting_type",
                  "Other unregistered provider", "2022/23") == pytest.approx(share, abs=1e-9)
    assert _value(table, "la_funded_ap_placements", "Total", "2022/23") == placements["Total"]
    # the setting types add up to the total
    assert sum(v for k, v in placements.items() if k != "Total") == placements["Total"]


@needs_realdata
def test_the_setting_type_file_counts_la_funded_ap_not_school_arranged_ap():
    # Why the setting-type figures are labelled LA-funded AP (the AP census's population), not
    # school-arranged AP (the school census's): worked out from the published files alone.
    def total(rows, value):
        return {r["new_la_code"]: r[value] for r in rows}
    setting = [r for r in _csv("spc_ap_setting.csv") if r["setting_type"] == "Total"]
    census = [r for r in _csv("ap_placements_ap_census.csv.gz") if r["time_period"] == "202223"
              and all(r[c] == "Total" for c in ("gender", "age", "ethnicity_minor", "fsm"))]
    school = [r for r in _csv("spc_school_ap_placement.csv") if r["pupil_characteristic"] == "Total"
              and r["setting_type"] == "Total"]
    by_la = [r for r in setting if r["geographic_level"] == "Local authority"]
    placements = total(by_la, "placements")
    ap_census = total([r for r in census if r["geographic_level"] == "Local authority"], "number_of_pupils")
    school_arranged = total([r for r in school if r["geographic_level"] == "Local authority"], "pupils")
    both = [la for la in placements if la in ap_census and la in school_arranged]
    assert len(both) == 149
    # each LA's placements equal its pupils in the AP census in 130 of 149 LAs (a pupil has
    # one placement there as a rule), and its pupils in school-arranged AP in almost none
    assert sum(placements[la] == ap_census[la] for la in both) == 130
    assert sum(placements[la] == school_arranged[la] for la in both) <= 5
    # nationally, fewer placements with other unregistered providers (2,557) than the school
    # census's pupils in school-arranged AP there (6,449): not a count of those pupils' placements
    nat = {r["setting_type"]: int(r["placements"]) for r in _csv("spc_ap_setting.csv")
           if r["geographic_level"] == "National"}
    pupils = {r["setting_type"]: int(r["pupils"]) for r in _csv("spc_school_ap_placement.csv")
              if r["geographic_level"] == "National" and r["pupil_characteristic"] == "Total"}
    assert (nat["Other unregistered provider"], pupils["Other unregistered provider"]) == (2557, 6449)
    assert "LA-funded AP" in national.SOURCES["spc_ap_setting.csv"]


@needs_realdata
def test_placement_reason_share_matches_published_file(table):
    rows = [r for r in _csv("spc_school_ap_placement.csv")
            if r["geographic_level"] == "National" and r["setting_type"] == "Total"]
    total = next(int(r["pupils"]) for r in rows if r["characteristic_grouping"] == "Total")
    behaviour = next(int(r["pupils"]) for r in rows
                     if r["pupil_characteristic"] == "Off-site placement for behavioural support")
    assert _value(table, "school_arranged_ap_pupils_share_by_reason",
                  "Off-site placement for behavioural support", "2022/23") == \
        pytest.approx(behaviour / total, abs=1e-9)


@needs_realdata
def test_ap_census_totals_match_published_file(table):
    totals = {r["time_period"]: int(r["number_of_pupils"]) for r in _csv("ap_placements_ap_census.csv.gz")
              if r["geographic_level"] == "National" and r["gender"] == "Total"
              and r["age"] == "Total" and r["ethnicity_minor"] == "Total" and r["fsm"] == "Total"}
    assert len(totals) == 6
    for code, n in totals.items():
        assert _value(table, "ap_census_pupils", "Total", f"{code[:4]}/{code[4:]}") == n


@needs_realdata
def test_exclusion_rates_are_fractions_of_the_published_per_100(table):
    row = next(r for r in _csv("exclusions_la_rates_sfr35_2017.csv")
               if r["level"] == "National" and r["year"] == "201617" and r["school_type"] == "Total")
    # published 0.1 per 100 pupils -> 0.001; 4.76 per 100 -> 0.0476
    breakdown = "State-funded primary, secondary and special schools"
    assert _value(table, "permanent_exclusion_rate", breakdown, "2016/17") == \
        pytest.approx(float(row["perm_excl_rate"]) / 100)
    assert _value(table, "fixed_period_exclusion_rate", breakdown, "2016/17") == \
        pytest.approx(float(row["fixed_excl_rate"]) / 100)
    # and the published rate agrees with its own counts, to its 2 decimal places
    assert float(row["perm_excl_rate"]) == pytest.approx(
        100 * int(row["perm_excl"]) / int(row["headcount"]), abs=0.005)


@needs_realdata
def test_pru_absence_matches_published_file(table):
    row = next(r for r in _csv("absence_2term_pru.csv")
               if r["geographic_level"] == "National" and r["time_period"] == "202223")
    # overall absence is sessions missed / possible sessions
    assert _value(table, "pru_overall_absence_rate", "Pupil referral units", "2022/23") == \
        pytest.approx(int(row["sess_overall"]) / int(row["sess_possible"]), abs=1e-6)


@needs_realdata
def test_extraction_reproduces_the_committed_table(table, tmp_path):
    out = tmp_path / "figures.csv"
    assert national.main(["--extract", str(REALDATA), "--out", str(out)]) == 0
    fresh = national.figures(out)
    assert fresh.drop(columns="value").equals(table.drop(columns="value"))
    assert fresh.value.fillna(-1).tolist() == pytest.approx(table.value.fillna(-1).tolist())


@pytest.mark.parametrize("text", ["c", "x", "z", ".", "low", ":", "~", "k", "u", "", "  ", " C "])
def test_symbols_are_null_never_zero(text):
    assert national.parse_value(text) is None


@pytest.mark.parametrize("text, expected", [("0", 0.0), ("41319", 41319.0), ("1,245", 1245.0),
                                            ("0.1", 0.1), ("-2.5", -2.5)])
def test_numbers_parse(text, expected):
    assert national.parse_value(text) == expected


def test_unknown_text_is_an_error_not_a_zero():
    with pytest.raises(ValueError):
        national.parse_value("n/a")


def test_suppressed_cells_give_null_figures(tmp_path):
    # A hand-made file in the published layout: one setting type suppressed ('c'), the
    # total given. Shares: 30/40 = 0.75 for URN, null for tuition, never 0.
    header = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
              "region_name,new_la_code,la_name,old_la_code,setting_type,placements\n")
    body = ("202223,Academic year,National,E92000001,England,,,,,,Education setting with URN,30\n"
            "202223,Academic year,National,E92000001,England,,,,,,One on one tuition,c\n"
            "202223,Academic year,National,E92000001,England,,,,,,Total,40\n"
            "202223,Academic year,Local authority,E92000001,England,X,X,X,X,1,Total,7\n")
    (tmp_path / "spc_ap_setting.csv").write_text("\ufeff" + header + body, encoding="utf-8")
    rows = {(r["measure"], r["breakdown"]): r["value"]
            for r in national.extract_setting_types(tmp_path)}
    assert rows[("la_funded_ap_placements", "Total")] == 40
    assert rows[("la_funded_ap_placements_share_by_setting_type",
                 "Education setting with URN")] == 0.75
    assert rows[("la_funded_ap_placements_share_by_setting_type",
                 "One on one tuition")] is None


def test_suppressed_total_makes_every_share_null(tmp_path):
    header = ("time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
              "region_name,new_la_code,la_name,old_la_code,setting_type,placements\n")
    body = ("202223,Academic year,National,E92000001,England,,,,,,Work based placement,4\n"
            "202223,Academic year,National,E92000001,England,,,,,,Total,x\n")
    (tmp_path / "spc_ap_setting.csv").write_text(header + body, encoding="utf-8")
    values = [r["value"] for r in national.extract_setting_types(tmp_path)]
    assert values == [None, None]


def test_committed_csv_writes_nulls_as_blank(tmp_path):
    import pandas as pd
    df = pd.DataFrame([{"measure": "m", "breakdown": "b", "value": None, "unit": "fraction",
                        "time_period": "2022/23", "source": "s (f.csv)", "note": ""}])
    path = tmp_path / "f.csv"
    national.write(df, path)
    assert path.read_text().splitlines()[1] == "m,b,,fraction,2022/23,s (f.csv),"
    assert national.figures(path).value.isna().all()


# -- local figures beside the national ones ----------------------------------------------------

def test_open_placements_by_setting_type_beside_the_national_shares(tmp_path):
    from datetime import date

    from analytics.settings import Filters, Settings
    from tests.factories import make_db, placement

    # Open at 1 June 2025 and commissioned by the LA (the factory's default): A (URN given, so a
    # URN setting whatever its type), B (UKPRN only), C and D (tuition), E (online: "other
    # unregistered"), F (no type: unknown). G ended before as_of and is not counted. 6 open
    # placements in the AP census's population. Open but outside it: H at a PRU (on its roll,
    # so in the school census), I commissioned by a school, J with no commissioner: 3.
    con = make_db(placements=[
        placement("A", "2024-09-02", setting_type="one_to_one_tuition", provider_urn="100001"),
        placement("B", "2024-09-02", setting_type="fe_college", provider_ukprn="10000001",
                  provider_urn=None),
        placement("C", "2024-09-02", setting_type="one_to_one_tuition", provider_urn=None),
        placement("D", "2025-01-06", setting_type="one_to_one_tuition", provider_urn=None),
        placement("E", "2024-09-02", setting_type="online", provider_urn=None),
        placement("F", "2024-09-02", setting_type=None, provider_urn=None),
        placement("G", "2024-09-02", "2024-12-20", setting_type="work_based", provider_urn=None),
        placement("H", "2024-09-02", setting_type="state_ap_school", provider_urn="100002"),
        placement("I", "2024-09-02", setting_type="one_to_one_tuition", provider_urn=None,
                  commissioner="school"),
        placement("J", "2024-09-02", setting_type="one_to_one_tuition", provider_urn=None,
                  commissioner=None),
    ])
    nat = tmp_path / "national.csv"
    nat.write_text(
        "measure,breakdown,value,unit,time_period,source,note\n"
        "la_funded_ap_placements_share_by_setting_type,One on one tuition,0.5,fraction,2021/22,s,\n"
        "la_funded_ap_placements_share_by_setting_type,One on one tuition,0.1,fraction,2022/23,s,\n"
        "la_funded_ap_placements_share_by_setting_type,Work based placement,,fraction,2022/23,s,\n"
        "la_funded_ap_placements,Total,41319,count,2022/23,s,\n"
        "la_funded_ap_placements,Total,40000,count,2021/22,s,\n")
    df = national.compare(con, Filters(as_of=date(2025, 6, 1)), Settings(), "setting_type",
                          path=nat).set_index("group")
    assert list(df.index) == list(national.DFE_SETTING_TYPES)
    assert df["local_n"].to_dict() == {
        "Education setting with URN": 1, "Registered provider with UKPRN": 1,
        "Non-maintained further education college": 0, "One on one tuition": 2,
        "Work based placement": 0, "Other unregistered provider": 1, "Unknown": 1}
    assert set(df["local_total"]) == {6}
    assert set(df["local_outside"]) == {3}
    assert df.loc["One on one tuition", "local_share"] == pytest.approx(2 / 6)
    # the latest published year only; a suppressed or absent figure is blank, never 0
    assert df.loc["One on one tuition", "national_share"] == 0.1
    assert df["national_share"].isna().sum() == 6
    assert set(df["national_period"]) == {"2022/23"}
    assert set(df["national_total"]) == {41319}
    # filtered to placements commissioned by schools, nothing is comparable: all 1 is outside
    only_schools = national.compare(con, Filters(as_of=date(2025, 6, 1), commissioner=("school",)), Settings(),
                                    "setting_type", path=nat)
    assert set(only_schools["local_total"]) == {0} and set(only_schools["local_outside"]) == {1}
    assert only_schools["local_share"].isna().all()


def test_pupils_in_ap_by_reason_count_each_pupil_once_by_the_latest_open_placement(tmp_path):
    from datetime import date

    from analytics.settings import Filters, Settings
    from tests.factories import make_db, placement

    # Commissioned by schools (the school census's population): P1 has two open placements, the
    # later one (medical_mental_health) decides; P2 awaiting a school place -> DfE "Other"; P3 no
    # reason -> "Other". P4's later open placement is the LA's (permanent exclusion, not
    # school-arranged), so its school placement (suspension) decides. P5 has only an LA
    # placement and P6 one with no commissioner: outside, 2 pupils. 4 pupils inside.
    con = make_db(placements=[
        placement("P1", "2024-09-02", reason="suspension", commissioner="school"),
        placement("P1", "2025-01-06", reason="medical_mental_health", provider="Elm",
                  provider_urn="9", commissioner="school"),
        placement("P2", "2024-09-02", reason="awaiting_school_place", commissioner="school"),
        placement("P3", "2024-09-02", reason=None, commissioner="school"),
        placement("P4", "2024-09-02", reason="suspension", commissioner="school"),
        placement("P4", "2025-02-03", reason="permanent_exclusion", provider="Elm", provider_urn="9"),
        placement("P5", "2024-09-02", reason="permanent_exclusion"),
        placement("P6", "2024-09-02", reason="behaviour_support", commissioner=None),
    ])
    df = national.compare(con, Filters(as_of=date(2025, 6, 1)), Settings(), "reason").set_index("group")
    assert df["local_n"].to_dict() == {
        "Permanent exclusion (where still going through the review process)": 0, "Suspension": 1,
        "Off-site placement for behavioural support": 0, "Medical condition (physical health need)": 0,
        "Medical condition (mental health need)": 1, "Other": 2}
    assert set(df["local_total"]) == {4} and set(df["local_outside"]) == {2}
    assert df.loc["Other", "local_share"] == pytest.approx(2 / 4)
    # the committed table: 18.2% of pupils in school-arranged AP were there for mental health,
    # of 24,577 pupils in 2022/23
    assert df.loc["Medical condition (mental health need)", "national_share"] == pytest.approx(0.1824, abs=1e-4)
    assert set(df["national_total"]) == {24577}
    with pytest.raises(ValueError):
        national.compare(con, Filters(as_of=date(2025, 6, 1)), Settings(), "sex")
