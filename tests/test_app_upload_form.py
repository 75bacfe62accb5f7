"""AppTest: the upload page's check and mapping form on a messy export (a title line, a blank
line, headings the importer does not all know, bad dates, a bad UPN check letter).

Every expected value below is worked out by hand from MESSY and data-spec.md §1 and §5:
- the headings are on row 3 (title, blank line, headings);
- recognised on their own (synonyms, case and punctuation ignored): Pupil UPN -> pupil_id,
  first name -> first_name, SURNAME -> last_name, D.O.B. -> date_of_birth, Gender -> sex,
  Provider name -> provider, Provider URN -> provider_urn, Reason for placement -> reason;
  not recognised: Type of setting (the spec has "Setting Type"), Began (no start-date synonym),
  Planned finish, Ended, Contact hrs, Keyworker; so the file lacks a placement start date;
- with Began -> start_date, Ended -> end_date and Type of setting -> setting_type chosen:
  row 5 (31/02/2025) and row 6 ("next week") have no valid start date and row 8 ends before
  it starts: 3 rejected; rows 4, 7, 9 and 10 load (ABC123 is a local ID, not a UPN);
  row 9's UPN J999123400005 has the wrong check letter (K is right: 2*9+3*9+4*9+5*1+6*2+7*3+
  8*4+9*0+10*0+11*0+12*0+13*5 = 216, 216 mod 23 = 9, the tenth of ABCDEFGHJK...) and its setting
  'alternative provision' is not in the vocabulary; row 10's reason 'Anxiety' is not either:
  2 rows with warnings. D999123400001 (164 mod 23 = 3: D), T999123400002, G999123400003,
  W999123400004 and Z999123400006 are valid UPNs, from LA number 999, which no real LA has.
- the columns left unrecognised then are Planned finish, Contact hrs and Keyworker: three
  notices about the sheet, not about any row.
"""
from __future__ import annotations

import json

import pytest

from tests.test_app import assert_healthy, metric_value, open_app

LEAVE_OUT = "(leave this column out)"

MESSY = (
    "Fernshire County Council: AP placements autumn 2025\n"
    "\n"
    "Pupil UPN,first name,SURNAME,D.O.B.,Gender,Provider name,Provider URN,Type of setting,"
    "Reason for placement,Began,Planned finish,Ended,Contact hrs,Keyworker\n"
    "D999123400001,Ann,Example,03/04/2012,F,Oak PRU,100001,PRU,Permanent exclusion,01/09/2025,,,25,Ms X\n"
    "T999123400002,Ben,Sample,19/07/2012,M,BrightPath Tuition,,tuition,Medical,31/02/2025,,,10,Ms X\n"
    "G999123400003,Cara,Test,12/12/2011,F,Lumen Online,,online,Awaiting school place,next week,,,15,Mr Y\n"
    "ABC123,Dan,Bogus,01/01/2011,M,Oak PRU,100001,PRU,Suspension,08/09/2025,,,25,Mr Y\n"
    "W999123400004,Eve,Trial,05/05/2011,F,Riverside Hub,,PRU,Behaviour,15/09/2025,01/12/2025,10/09/2025,12,\n"
    "J999123400005,Finn,Demo,12/12/2011,M,Oakleaf Farm,,alternative provision,Behaviour,22/09/2025,,,6,\n"
    "Z999123400006,Gus,Mock,07/07/2012,M,Kestrel Tuition,,Home tuition,Anxiety,29/09/2025,,,8,\n"
).encode()

RECOGNISED_ON_THEIR_OWN = {
    "Pupil UPN": "pupil_id", "first name": "first_name", "SURNAME": "last_name", "D.O.B.": "date_of_birth",
    "Gender": "sex", "Provider name": "provider", "Provider URN": "provider_urn",
    "Type of setting": LEAVE_OUT, "Reason for placement": "reason", "Began": LEAVE_OUT,
    "Planned finish": LEAVE_OUT, "Ended": LEAVE_OUT, "Contact hrs": LEAVE_OUT, "Keyworker": LEAVE_OUT,
}


def _unescape(label: str) -> str:
    return label.replace("\\", "")


def column_choices(at) -> dict[str, str]:
    """{heading: chosen value} for the mapping form's selectboxes."""
    out = {}
    for sb in at.selectbox:
        label = _unescape(sb.label)
        if label.startswith("Column '") and label.endswith("' is"):
            out[label[len("Column '"):-len("' is")]] = sb.value
    return out


def choice(at, heading: str):
    return next(sb for sb in at.selectbox if _unescape(sb.label) == f"Column '{heading}' is")


def markdown_text(at) -> str:
    return "\n".join(_unescape(m.value) for m in at.markdown)


def apply(at) -> None:
    [button] = [b for b in at.button if b.label == "Apply"]
    button.click().run()
    assert_healthy(at)


@pytest.fixture
def checked(tmp_path, monkeypatch):
    """The upload page with MESSY dropped in (not yet mapped)."""
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    at.file_uploader[0].set_value(("messy_placements.csv", MESSY, "text/csv")).run()
    assert_healthy(at)
    return at


def map_began_ended_setting(at) -> None:
    choice(at, "Began").set_value("start_date")
    choice(at, "Ended").set_value("end_date")
    choice(at, "Type of setting").set_value("setting_type")
    at.run()
    apply(at)


def test_the_form_shows_what_each_heading_is_recognised_as(checked):
    at = checked
    [error] = [e.value for e in at.error]
    assert "row 3" in error and "placement start date" in _unescape(error)
    assert column_choices(at) == RECOGNISED_ON_THEIR_OWN


def test_choices_are_readable_names_and_the_missing_column_is_named_and_marked(checked):
    at = checked
    began = choice(at, "Began")
    assert began.format_func("start_date") == "Start date (placement) — required, missing"
    assert began.format_func("planned_end_date") == "Planned end date (placement)"
    assert began.format_func("pupil_id") == "Pupil ID (UPN or local ID)"
    assert began.format_func("period_start") == "Date or week commencing (attendance)"
    assert began.format_func(LEAVE_OUT) == LEAVE_OUT
    # the missing column comes first, so the choice that fixes the error is at hand
    assert began.options[:2] == [LEAVE_OUT, "Start date (placement) — required, missing"]
    # only the start date is missing: a pupil ID and a provider were recognised
    assert "Still missing (this looks like placements): Start date (placement)." in markdown_text(at).replace("*", "")
    # choosing it (before Apply) says so at once
    began.set_value("start_date").run()
    assert_healthy(at)
    assert choice(at, "Began").value == "start_date", "the stored value is the canonical column"
    assert "Still missing" not in markdown_text(at)
    assert ("Every required placement column is chosen (this looks like placements). Press Apply to check "
            "the file again.") in markdown_text(at).replace("*", "")
    # The browser sends a choice back as its label, so labels stay as they were until Apply.
    assert choice(at, "Began").format_func("start_date") == "Start date (placement) — required, missing"
    apply(at)
    assert choice(at, "Began").value == "start_date"
    assert choice(at, "Began").format_func("start_date") == "Start date (placement)"
    assert ("Every required placement column is chosen (this sheet holds placements)."
            in markdown_text(at).replace("*", ""))


def test_after_apply_the_form_still_shows_every_heading_as_it_is_read(checked):
    at = checked
    map_began_ended_setting(at)
    assert not at.error
    [ok] = [s.value for s in at.success]
    assert "holds **placements** (headings on row 3): 4 rows ready, 3 to be rejected, 2 with warnings" in ok
    assert column_choices(at) == {**RECOGNISED_ON_THEIR_OWN, "Began": "start_date", "Ended": "end_date",
                                  "Type of setting": "setting_type"}
    assert any(e.label.startswith("Columns: 11 read, 3 left out (3 not recognised)") for e in at.expander)


def test_the_check_lists_the_rows_to_be_rejected_and_why_before_load(checked):
    at = checked
    map_began_ended_setting(at)
    text = markdown_text(at)
    assert "3 rows will be rejected" in text
    assert ("- Row 5: Began '31/02/2025' is not a valid date (day/month/year, in the years 1900 to 2100).\n"
            "- Row 6: Began 'next week' is not a valid date (day/month/year, in the years 1900 to 2100).\n"
            "- Row 8: The end date is before the start date.") in text
    assert any(e.label == "2 rows will load with warnings — check them" for e in at.expander)
    warned = next(m.value for m in at.markdown if m.value.startswith("- Row 9"))
    lines = _unescape(warned).splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["- Row 9", "- Row 10"]
    assert "check letter" in lines[0] and "'alternative provision'" in lines[0]
    assert "'Anxiety'" in lines[1]
    assert "J999123400005" not in text, "UPNs are never shown"
    # nothing is stored by the check
    assert not any(m.label == "Rows accepted" for m in at.metric)


def test_the_check_says_how_many_more_rejects_there_are_past_the_first_ten(tmp_path, monkeypatch):
    header = "UPN,Provider Name,Start Date\n"
    body = header + "".join(f"D999123400001,Oak PRU,{d}/02/2025\n" for d in range(30, 30 + 12))
    body += "D999123400001,Oak PRU,01/09/2025\n"
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    at.file_uploader[0].set_value(("feb.csv", body.encode(), "text/csv")).run()
    assert_healthy(at)
    text = markdown_text(at)
    assert "12 rows will be rejected" in text
    listed = [ln for ln in text.splitlines() if ln.startswith("- Row ")]
    assert [ln.split(":")[0] for ln in listed] == [f"- Row {n}" for n in range(2, 12)]
    assert "- … and 2 more" in text


def test_the_result_counts_rows_with_warnings_apart_from_notices_about_the_sheet(checked):
    at = checked
    map_began_ended_setting(at)
    at.button(key="load_files").click().run()
    assert_healthy(at)
    assert metric_value(at, "Rows accepted") == "4"
    assert metric_value(at, "Rows rejected") == "3"
    assert metric_value(at, "Rows with warnings") == "2"
    assert any(e.label == "Warnings on 2 rows — loaded, but check them" for e in at.expander)
    assert ("About the sheet:\n"
            "- Column 'Planned finish' was not recognised and was not loaded.\n"
            "- Column 'Contact hrs' was not recognised and was not loaded.\n"
            "- Column 'Keyworker' was not recognised and was not loaded.") in markdown_text(at).replace("*", "")
    warnings = next(df for df in at.dataframe if "Warning" in df.value.columns)
    assert list(warnings.value["Row"]) == [9, 10]
    # long texts wrap: the text column takes the width, and rows are tall enough to wrap
    widths = {c: v["width"] for c, v in json.loads(warnings.proto.columns).items() if "width" in v}
    assert widths["Warning"] >= 10 * widths["Row"]
    assert warnings.proto.row_height > 64
    rejects = next(df for df in at.dataframe if "Reason" in df.value.columns)
    assert list(rejects.value["Row"]) == [5, 6, 8]


def test_recognised_columns_load_and_only_changed_choices_are_remembered(checked, tmp_path, monkeypatch):
    at_monkeypatch = monkeypatch
    at = checked
    choice(at, "Began").set_value("start_date")
    choice(at, "SURNAME").set_value(LEAVE_OUT)   # a recognised heading can be left out too
    at.run()
    apply(at)
    assert column_choices(at)["SURNAME"] == LEAVE_OUT
    at.button(key="load_files").click().run()
    assert_healthy(at)
    # without Ended, row 8 loads: 5 rows (4, 7, 8, 9, 10) accepted, rows 5 and 6 rejected
    assert metric_value(at, "Rows accepted") == "5"
    assert metric_value(at, "Rows rejected") == "2"
    from views import _state as S
    rows = S.store().con.cursor().execute(
        "SELECT first_name, last_name, date_of_birth, sex, provider_urn FROM placements "
        "ORDER BY start_date").fetchall()
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        ("Ann", None, "F", "100001"), ("Dan", None, "M", "100001"), ("Eve", None, "F", None),
        ("Finn", None, "M", None), ("Gus", None, "M", None)]
    assert str(rows[0][2]) == "2012-04-03"
    # remembered for the next file with these headings: the choices made, not the headings the
    # importer knows anyway. Leaving SURNAME out is a choice too: the next term's file must not
    # bring the surnames back unasked.
    remembered = json.loads((tmp_path / "mappings.json").read_text())
    assert list(remembered.values()) == [{"Began": "start_date", "SURNAME": ""}]
    again = open_app(tmp_path / "ap.duckdb", at_monkeypatch, "views/upload.py")
    again.file_uploader[0].set_value(("next_term.csv", MESSY.replace(b"2025,", b"2026,"), "text/csv")).run()
    assert_healthy(again)
    assert column_choices(again)["SURNAME"] == LEAVE_OUT
    assert column_choices(again)["Began"] == "start_date"


def test_register_marks_keep_their_meaning_when_apply_is_pressed(tmp_path, monkeypatch):
    # AM and PM are read as register marks, which feed attended sessions. The form shows them
    # as such, and pressing Apply without a change must not turn them into counts.
    body = ("UPN,Date,AM,PM,Notes\n"
            "D999123400001,01/09/2025,/,\\,ok\n"
            "D999123400001,02/09/2025,O,/,late bus\n").encode()
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    at.file_uploader[0].set_value(("marks.csv", body, "text/csv")).run()
    assert_healthy(at)
    before = [s.value for s in at.success]
    assert len(before) == 1 and "holds **attendance**" in before[0] and "1 row ready" in before[0]
    assert column_choices(at) == {"UPN": "pupil_id", "Date": "period_start", "AM": "_am", "PM": "_pm",
                                  "Notes": LEAVE_OUT}
    assert choice(at, "AM").format_func("_am") == "AM register mark"
    apply(at)
    assert [s.value for s in at.success] == before
    at.button(key="load_files").click().run()
    assert_healthy(at)
    from views import _state as S
    # one week: 4 possible sessions, 3 attended (/ \ and / present, O absent)
    assert S.store().con.cursor().execute(
        "SELECT possible_sessions, attended_sessions FROM attendance").fetchall() == [(4.0, 3.0)]


# A case-system export none of whose headings the program knows (data-spec: "Anything else is
# offered to the user for mapping"). It was refused with "No header row was found" and no form.
UNKNOWN_HEADINGS = (
    "Case system export\n"
    "Learner No,Organisation,Placement Begun,Finished\n"
    "C999000000001,Oak PRU,01/09/2025,\n"
    "R999000000002,Lumen Online,08/09/2025,19/12/2025\n"
    "F999000000003,Kestrel Farm,15/09/2025,\n").encode()


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_file_whose_headings_are_all_unknown_can_be_mapped(tmp_path, monkeypatch, kind):
    import io

    import openpyxl
    data, name, mime = UNKNOWN_HEADINGS, "export.csv", "text/csv"
    if kind == "xlsx":
        wb = openpyxl.Workbook()
        for line in UNKNOWN_HEADINGS.decode().splitlines():
            wb.active.append(line.split(",") if "," in line else [line])
        buf = io.BytesIO()
        wb.save(buf)
        data, name, mime = buf.getvalue(), "export.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    at.file_uploader[0].set_value((name, data, mime)).run()
    assert_healthy(at)
    # the title line is not taken for the headings; the row below it is, each heading unknown
    assert any("does not know this file's headings" in e.value for e in at.error)
    assert column_choices(at) == {"Learner No": LEAVE_OUT, "Organisation": LEAVE_OUT,
                                  "Placement Begun": LEAVE_OUT, "Finished": LEAVE_OUT}
    for heading, column in (("Learner No", "pupil_id"), ("Organisation", "provider"),
                            ("Placement Begun", "start_date"), ("Finished", "end_date")):
        choice(at, heading).set_value(column)
    at.run()
    apply(at)
    assert any("holds **placements** (headings on row 2): 3 rows ready, 0 to be rejected" in s.value
               for s in at.success), [s.value for s in at.success] + [e.value for e in at.error]
    at.button(key="load_files").click().run()
    assert_healthy(at)
    assert metric_value(at, "Rows accepted") == "3"
    from views import _state as S
    rows = S.store().con.cursor().execute(
        "SELECT provider, start_date, end_date FROM placements ORDER BY start_date").fetchall()
    assert [(r[0], str(r[1]), r[2] and str(r[2])) for r in rows] == [
        ("Oak PRU", "2025-09-01", None), ("Lumen Online", "2025-09-08", "2025-12-19"),
        ("Kestrel Farm", "2025-09-15", None)]


def test_a_withdrawn_files_column_choices_can_be_forgotten_there_or_in_settings(checked, tmp_path, monkeypatch):
    # A reviewer mapped a file's columns wrongly (Ended as the planned end date), loaded it,
    # withdrew it, and the next file with the same headings was read the same wrong way again,
    # with only a small caption to say so.
    at = checked
    choice(at, "Began").set_value("start_date")
    choice(at, "Ended").set_value("planned_end_date")            # the mistake
    at.run()
    apply(at)
    at.button(key="load_files").click().run()
    assert_healthy(at)
    path = tmp_path / "mappings.json"
    assert list(json.loads(path.read_text()).values()) == [{"Began": "start_date", "Ended": "planned_end_date"}]
    # withdraw it (upload 1) from the history
    at.selectbox(key="withdraw_pick").set_value(1).run()
    at.button(key="withdraw_start").click().run()
    at.button(key="withdraw_yes").click().run()
    assert_healthy(at)
    offer = [i.value for i in at.info if "column choices made for upload 1" in i.value]
    assert offer and "still remembered" in offer[0]
    at.button(key="forget_yes").click().run()
    assert_healthy(at)
    assert json.loads(path.read_text()) == {}
    assert [s.value for s in at.success if s.value.startswith("Forgot the column choices of upload 1")]
    # the next file with the same headings is read afresh: Ended is not taken as anything
    again = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    again.file_uploader[0].set_value(("next_term.csv", MESSY.replace(b"2025,", b"2026,"), "text/csv")).run()
    assert_healthy(again)
    assert column_choices(again)["Ended"] == LEAVE_OUT

    # Settings lists what is remembered, and forgets a set
    from analytics import mappings
    mappings.remember(path, ["Began", "Ended", "UPN"], {"Began": "start_date", "Ended": ""})
    settings = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/settings.py")
    assert_healthy(settings)
    [table] = [d.value for d in settings.dataframe if "Heading in the file" in d.value.columns]
    assert table.to_dict("records") == [{"Heading in the file": "Began", "Read as": "Start"},
                                        {"Heading in the file": "Ended", "Read as": "(left out)"}]
    [forget] = [b for b in settings.button if b.label == "Forget these choices"]
    forget.click().run()
    assert_healthy(settings)
    assert json.loads(path.read_text()) == {}
    assert [c.value for c in settings.caption if c.value.startswith("None yet.")]


def test_many_skipped_sheets_make_one_notice_and_nothing_to_map(tmp_path, monkeypatch):
    # A reviewer: a workbook of 120 sheets gave 118 "Sheet 'Junk N' was skipped" boxes before the
    # sheets that load, and a hidden sheet (never loaded) and a header-only file were each offered
    # the "Tell us what the columns are" form, though nothing there could be mapped to any use.
    import io

    import openpyxl
    wb = openpyxl.Workbook()
    wb.active.title = "Placements"
    wb.active.append(["UPN", "Provider", "Start Date"])
    wb.active.append(["D999123400001", "Oak PRU", "01/09/2025"])
    for i in range(1, 6):
        wb.create_sheet(f"Junk {i}").append([f"Notes page {i}"])
    hidden = wb.create_sheet("Lookup")
    hidden.append(["UPN", "Provider", "Start Date"])
    hidden.append(["T999123400002", "Elm", "01/09/2024"])
    hidden.sheet_state = "hidden"
    buf = io.BytesIO()
    wb.save(buf)
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    at.file_uploader[0].set_value(("many.xlsx", buf.getvalue(),
                                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")).run()
    assert_healthy(at)
    skipped = [w.value for w in at.warning if "skipped" in w.value]
    assert skipped == ["6 sheets were skipped, with nothing in them to load or to map."]
    [why] = [e for e in at.expander if e.label == "Why each of the 6 sheets was skipped"]
    assert "Sheet 'Lookup': This sheet is hidden in the workbook" in why.markdown[0].value.replace("\\", "")
    assert not [e for e in at.expander if e.label.startswith("Tell us what the columns")]
    assert any("holds **placements**" in s.value for s in at.success)

    at.file_uploader[0].set_value(("empty.csv", b"UPN,Provider,Start Date\n", "text/csv")).run()
    assert_healthy(at)
    assert any("no rows of data" in e.value for e in at.error)
    assert not [e for e in at.expander if e.label.startswith("Tell us what the columns")]
