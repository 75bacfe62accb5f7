"""The rejected-rows download, fixed and uploaded again, loads as what the sender meant.

A reviewer found that the download's "reason" column (why the row was rejected) was read back as
the placement reason, pushing the real "Placement Reason" column out as a repeat: the fixed rows
were stored with reason 'other' and a warning quoting the rejection. The expected values below
come from the file itself: Finn's reason is PEX (permanent_exclusion), Gus's "Mental health"
(medical_mental_health), per the vocabulary of data-spec §1.
"""
from __future__ import annotations

import io

import pandas as pd
import pytest

from analytics.exports import rejected_rows_table, to_csv_bytes, to_xlsx_bytes
from analytics.ingest.headers import REJECTED_REASON_HEADING, REJECTED_ROW_HEADING
from analytics.store import Store

AUTUMN = (
    "UPN,Forename,Provider Name,Placement Reason,Placement Start,Actual End Date\n"
    "D999123400001,Ann,Oak PRU,Suspension,01/09/2025,\n"
    "T999123400002,Finn,Oak PRU,PEX,31/02/2025,\n"           # row 3: no such date
    "G999123400003,Gus,Kestrel Tuition,Mental health,08/09/2025,01/09/2025\n"   # row 4: ends before it starts
).encode()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "ap.duckdb")
    yield s
    s.close()


def _fixed(download: pd.DataFrame) -> pd.DataFrame:
    """What the sender does: correct the two bad cells, leave everything else as downloaded."""
    out = download.copy()
    out.loc[out["Forename"] == "Finn", "Placement Start"] = "03/09/2025"
    out.loc[out["Forename"] == "Gus", "Actual End Date"] = ""
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_fixed_rejected_rows_download_loads_with_its_own_reasons(store, fmt):
    [first] = store.ingest_file(AUTUMN, "autumn.csv")
    assert (first.accepted, first.rejected) == (1, 2)
    download = rejected_rows_table(store.rejected_rows(first.upload_id))
    assert list(download.columns[:2]) == [REJECTED_ROW_HEADING, REJECTED_REASON_HEADING]
    assert download[REJECTED_ROW_HEADING].tolist() == [3, 4]
    # the row as it was in the file, every heading kept, "Placement Reason" included
    assert list(download.columns[2:]) == ["UPN", "Forename", "Provider Name", "Placement Reason",
                                          "Placement Start", "Actual End Date"]
    assert download["Placement Reason"].tolist() == ["PEX", "Mental health"]

    fixed = _fixed(download)
    data = to_csv_bytes(fixed) if fmt == "csv" else to_xlsx_bytes(fixed)
    [again] = store.ingest_file(data, f"rejected-rows-autumn.{fmt}")
    assert (again.status, again.accepted, again.rejected) == ("loaded", 2, 0)
    rows = store.con.cursor().execute(
        "SELECT first_name, reason, CAST(start_date AS VARCHAR), end_date FROM placements "
        "ORDER BY first_name").fetchall()
    assert rows == [("Ann", "suspension", "2025-09-01", None),
                    ("Finn", "permanent_exclusion", "2025-09-03", None),
                    ("Gus", "medical_mental_health", "2025-09-08", None)]
    # no row carries a warning about the reason; the two skipped columns are said about the sheet
    notes = again.warnings
    assert notes["row_number"].notna().sum() == 0
    assert sorted(notes["warning"]) == [
        f"Column '{REJECTED_ROW_HEADING}' comes from the rejected-rows download, so it was not loaded.",
        f"Column '{REJECTED_REASON_HEADING}' comes from the rejected-rows download, so it was not loaded."]


def test_a_file_with_a_heading_called_reason_keeps_it_in_the_download(store):
    # The download used to drop an original column that shared a name with its own "reason".
    text = ("pupil_id,provider,start_date,reason\n"
            "D999123400001,Oak PRU,31/02/2025,behaviour\n").encode()
    [res] = store.ingest_file(text, "canonical.csv")
    download = rejected_rows_table(store.rejected_rows(res.upload_id))
    assert download["reason"].tolist() == ["behaviour"]
    assert "not a valid date" in download[REJECTED_REASON_HEADING].iloc[0]


def test_a_download_of_a_download_carries_the_new_reason_only(store):
    text = (f"{REJECTED_ROW_HEADING},{REJECTED_REASON_HEADING},UPN,Provider Name,Placement Start\n"
            "3,an old reason,D999123400001,Oak PRU,31/04/2025\n").encode()
    [res] = store.ingest_file(text, "again.csv")
    assert (res.accepted, res.rejected) == (0, 1)
    download = rejected_rows_table(store.rejected_rows(res.upload_id))
    assert download.columns.tolist() == [REJECTED_ROW_HEADING, REJECTED_REASON_HEADING, "UPN",
                                         "Provider Name", "Placement Start"]
    assert download[REJECTED_ROW_HEADING].tolist() == [2]
    assert "'31/04/2025'" in download[REJECTED_REASON_HEADING].iloc[0]
    assert "old reason" not in download.to_csv()


# A reviewer fixed a bad date in the CSV download and uploaded it again: the download had put an
# apostrophe before text Excel would run as a formula (security.md invariant 6), and the store
# then held the provider "'=HYPERLINK(...)" beside "=HYPERLINK(...)", one provider split in two.
HYPERLINK = '=HYPERLINK("http://x","y")'
FORMULA_TEXT = (
    "UPN,Forename,Surname,Provider Name,Placement Start\n"
    'D999123400001,Ann,Smith,"=HYPERLINK(""http://x"",""y"")",01/09/2025\n'
    'T999123400002,Finn,-x,"=HYPERLINK(""http://x"",""y"")",31/02/2025\n'   # row 3: no such date
).encode()


def _as_excel_saves_it(frame: pd.DataFrame) -> bytes:
    """The CSV download opened in Excel and saved as .xlsx: Excel keeps a CSV's leading
    apostrophe as text, so the cells hold "'=HYPERLINK(...)" and "'-x" as plain strings."""
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    ws.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        ws.append(["" if pd.isna(v) else str(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "csv saved as xlsx"])
def test_formula_text_comes_back_as_itself_and_one_provider(store, fmt):
    [first] = store.ingest_file(FORMULA_TEXT, "autumn.csv")
    assert (first.accepted, first.rejected) == (1, 1)
    download = rejected_rows_table(store.rejected_rows(first.upload_id))
    assert download["Provider Name"].tolist() == [HYPERLINK]
    assert download["Surname"].tolist() == ["-x"]
    fixed = download.copy()
    fixed["Placement Start"] = "03/09/2025"

    if fmt == "csv":
        data = to_csv_bytes(fixed)
        # the download itself is neutralised, as invariant 6 asks
        lines = data.decode("utf-8-sig").split("\r\n")
        assert lines[1].endswith(",T999123400002,Finn,'-x,\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\","
                                 "03/09/2025")
        name = "rejected-rows.csv"
    elif fmt == "xlsx":
        data = to_xlsx_bytes(fixed)
        name = "rejected-rows.xlsx"
    else:
        sent_back = pd.read_csv(io.BytesIO(to_csv_bytes(fixed)), dtype=str, encoding="utf-8-sig")
        assert sent_back["Provider Name"].tolist() == ["'" + HYPERLINK]
        data = _as_excel_saves_it(sent_back)
        name = "rejected-rows.xlsx"

    [again] = store.ingest_file(data, name)
    assert (again.status, again.accepted, again.rejected) == ("loaded", 1, 0)
    rows = store.con.cursor().execute(
        "SELECT first_name, last_name, provider, provider_key FROM placements "
        "ORDER BY first_name").fetchall()
    # provider_key of a provider with no URN or UKPRN: its name, lower-cased (store.py)
    key = '=hyperlink("http://x","y")'
    assert rows == [("Ann", "Smith", HYPERLINK, key), ("Finn", "-x", HYPERLINK, key)]
