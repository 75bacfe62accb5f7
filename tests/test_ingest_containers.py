"""Workbooks and bad containers (data-spec §5, security.md "Bad inputs"). Invented pupils."""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest

from analytics.errors import IngestError
from analytics.ingest import read_file
from analytics.ingest import containers

D = dt.date


def xlsx_bytes(wb: openpyxl.Workbook) -> bytes:
    bio = io.BytesIO()
    wb.save(bio)
    return bio.getvalue()


@pytest.fixture
def workbook() -> bytes:
    wb = openpyxl.Workbook()
    readme = wb.active
    readme.title = "Read me"
    readme["A1"] = "Termly AP return. Do not edit the headings."
    ws = wb.create_sheet("Placements")
    ws["A1"] = "Autumn placements"
    ws.append([])
    ws.append(["UPN", "Provider", "Start Date", "End", "Hours", "Sessions per Week"])   # row 3
    ws.append(["B801200005001", "Oak PRU", dt.datetime(2025, 3, 14), 45800, 12.5, 6])   # row 4
    ws.append(["P207000016049", "Elm", "14/03/2025", None, "lots", None])              # row 5
    ws.append(["Total", None, None, None, None, None])                                 # row 6
    ws.append(["B801200005001", "Ash", dt.datetime(2025, 3, 14), "03/31/2025", 3, 11])  # row 7
    ex = wb.create_sheet("Exclusions")
    ex.append(["UPN", "Type", "Start Date", "Sessions"])
    ex.append(["P207000016049", "PERM", dt.date(2024, 10, 1), None])
    return xlsx_bytes(wb)


def test_workbook_sheets(workbook):
    readme, placements, exclusions = read_file(workbook, "autumn.xlsx")
    assert readme.dataset is None and readme.skipped_reason
    assert placements.sheet == "Placements" and placements.header_row == 3
    rows = placements.accepted.to_pylist()
    # 45800 is an Excel serial: 45658 = 1 Jan 2025, + 142 days = 23 May 2025
    assert [(r["row_number"], r["provider"], r["start_date"], r["end_date"], r["hours_per_week"],
             r["sessions_per_week"]) for r in rows] == [
        (4, "Oak PRU", D(2025, 3, 14), D(2025, 5, 23), 12.5, 6),
        (5, "Elm", D(2025, 3, 14), None, None, None),
    ]
    assert "'lots'" in rows[1]["warnings"]
    assert placements.summary_rows == 1
    [rej] = placements.rejected.to_pylist()
    assert rej["row_number"] == 7 and "03/31/2025" in rej["reason"]
    assert exclusions.dataset == "exclusions"
    assert exclusions.accepted["category"].to_pylist() == ["permanent"]


def test_workbook_with_no_matching_sheet():
    wb = openpyxl.Workbook()
    wb.active["A1"] = "nothing here"
    with pytest.raises(IngestError, match="No sheet") as e:
        read_file(xlsx_bytes(wb), "empty.xlsx")
    # each sheet's reason once, without its own full stop before the list's '; ' (it read "rows.;")
    assert str(e.value).endswith("(sheet 'Sheet': No header row was found in its first 30 rows).")


def test_million_blank_formatted_rows_do_not_hang(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["UPN", "Provider", "Start Date"])
    ws.append(["B801200005001", "Oak", "14/03/2025"])
    data = xlsx_bytes(wb)
    # append a million formatted, empty rows to the sheet XML
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                blank = "".join(f'<row r="{r}" s="1" customFormat="1"/>'
                                for r in range(3, 1_000_003))
                body = body.replace(b"</sheetData>", blank.encode() + b"</sheetData>")
                body = body.replace(b'<dimension ref="A1:C2"/>', b'<dimension ref="A1:C1000002"/>')
            dst.writestr(item, body)
    [sheet] = read_file(out.getvalue(), "big.xlsx")
    assert sheet.accepted.num_rows == 1


@pytest.mark.parametrize("data, name, words", [
    (b"", "x.csv", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "locked.xlsx", "password"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xls", ".xls"),
    (b"MZ\x90\x00\x03" + b"\0" * 100, "data.csv", "program"),
    (b"%PDF-1.7\n", "data.xlsx", "PDF"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "data.csv", "web page"),
    (b"UPN,Provider\n", "data.ods", "not a readable Excel"),
])
def test_bad_containers(data, name, words):
    with pytest.raises(IngestError, match=words):
        read_file(data, name)


def test_truncated_workbook(workbook):
    with pytest.raises(IngestError) as err:
        read_file(workbook[: len(workbook) // 2], "cut.xlsx")
    assert "cut.xlsx" in str(err.value)


def test_ods_and_xlsm_refused():
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("content.xml", "<x/>")
    with pytest.raises(IngestError, match="OpenDocument"):
        read_file(bio.getvalue(), "sheet.ods")
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        z.writestr("xl/workbook.xml", "<x/>")
        z.writestr("xl/vbaProject.bin", "macro")
    with pytest.raises(IngestError, match="macros"):
        read_file(bio.getvalue(), "sheet.xlsm")


def test_zip_bomb_refused_from_declared_sizes():
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        # 30 MB of zeros compresses ~1000:1
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (30 * 1024 * 1024))
    with pytest.raises(IngestError, match="zip bomb"):
        read_file(bio.getvalue(), "bomb.xlsx")


@pytest.mark.parametrize("padding", [0, 5000, 200_000])
def test_xml_entities_refused(padding):
    # A reviewer put the DOCTYPE after a 5,000-byte comment, past the 4 kB that were looked at
    comment = f"<!--{'x' * padding}-->" if padding else ""
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w") as z:
        z.writestr("xl/workbook.xml", f'<?xml version="1.0"?>{comment}<!DOCTYPE x [<!ENTITY a "aaaa">]><x/>')
    with pytest.raises(IngestError, match="document type"):
        read_file(bio.getvalue(), "laugh.xlsx")


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("analytics.ingest.MAX_FILE_BYTES", 10)
    p = tmp_path / "big.csv"
    p.write_text("UPN,Provider,Start Date\nB801200005001,Oak,14/03/2025\n")
    with pytest.raises(IngestError, match="limit"):
        read_file(p, "big.csv")
    assert containers.MAX_FILE_BYTES == 200 * 1024 * 1024


def test_the_browser_upload_limit_is_the_importers():
    # The uploader once stopped files at 100 MB while the importer, the README and the
    # benchmark's file parts all said 200 MB: a 150 MB export was refused in the browser.
    import tomllib
    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == containers.MAX_FILE_BYTES


def test_path_source(tmp_path):
    p = tmp_path / "p.csv"
    p.write_bytes(b"UPN,Provider,Start Date\r\nB801200005001,Oak,14/03/2025\r\n")
    [sheet] = read_file(p, "p.csv")
    assert sheet.accepted["row_number"].to_pylist() == [2]


def test_formula_without_cached_value_is_blank_with_warning():
    # openpyxl saves formulas without a computed result, as a script-made file would
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Placements"
    ws.append(["UPN", "Provider", "Start Date", "Hours"])
    ws.append(["B801200005001", "Oak", "14/03/2025", "=2+3"])
    ws.append(["=A2", "Elm", "15/03/2025", 10])        # row 3: the ID a formula, read as blank
    [sheet] = read_file(xlsx_bytes(wb), "formulas.xlsx")
    assert sheet.accepted["hours_per_week"].to_pylist() == [None]
    # A reviewer: the notice gave a count only, and row 3's reason said the ID "is blank" when
    # the cell holds a formula: each cell is named, with its heading, on the sheet and the row
    assert sheet.sheet_warnings == [
        "2 cells hold a formula with no saved result, so they were read as blank: D2 (Hours), A3 (UPN). "
        "Open the file in Excel, let it calculate, save it and upload it again."]
    assert sheet.accepted["warnings"].to_pylist()[0].startswith(
        "D2 (Hours) holds a formula with no saved result, read as blank")
    [rejected] = sheet.rejected.to_pylist()
    assert rejected["row_number"] == 3
    assert rejected["reason"].startswith("A3 (UPN) holds a formula with no saved result, read as blank; ")


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_is_reported_and_not_loaded(state):
    # A reviewer's workbook had a hidden "Lookup" sheet of 2024 placements, which loaded like any
    # other sheet: data the user never sees in Excel changed the figures unseen.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Placements"
    ws.append(["UPN", "Provider", "Start Date"])
    ws.append(["D999123400001", "Oak PRU", "01/09/2025"])
    lookup = wb.create_sheet("Lookup")
    lookup.append(["UPN", "Provider", "Start Date"])
    lookup.append(["T999123400002", "Elm", "01/09/2024"])
    lookup.sheet_state = state
    sheets = {s.sheet: s for s in read_file(xlsx_bytes(wb), "return.xlsx")}
    assert list(sheets) == ["Placements", "Lookup"]
    assert sheets["Placements"].dataset == "placements"
    assert sheets["Placements"].accepted["pupil_id"].to_pylist() == ["D999123400001"]
    assert sheets["Lookup"].dataset is None
    assert sheets["Lookup"].skipped_reason.startswith("This sheet is hidden in the workbook, so it was not loaded.")


def test_a_workbook_whose_only_data_is_hidden_says_so():
    wb = openpyxl.Workbook()
    wb.active.title = "Read me"
    wb.active["A1"] = "See the other sheet."
    data = wb.create_sheet("Placements")
    data.append(["UPN", "Provider", "Start Date"])
    data.append(["D999123400001", "Oak PRU", "01/09/2025"])
    data.sheet_state = "hidden"
    with pytest.raises(IngestError, match="sheet 'Placements': This sheet is hidden"):
        read_file(xlsx_bytes(wb), "return.xlsx")
