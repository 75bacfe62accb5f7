"""Property: for any bytes, read_file returns sheets or raises IngestError, nothing else."""
from __future__ import annotations

import datetime as dt
import io

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.errors import IngestError
from analytics.ingest import read_file

VALID_CSV = ("UPN,Provider,Start Date,End,Weekly Cost,LAC\n"
             "B801200005001,Oak,14/03/2025,,\"£1,250.00\",Y\n"
             "P207000016049,Elm,2025-03-15,20/03/2025,300,N\n").encode("utf-8")


def _valid_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["UPN", "Provider", "Start Date", "Hours"])
    ws.append(["B801200005001", "Oak", dt.datetime(2025, 3, 14), 12.5])
    ws.append(["P207000016049", "Elm", "15/03/2025", "x"])
    bio = io.BytesIO()
    wb.save(bio)
    return bio.getvalue()


VALID_XLSX = _valid_xlsx()
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _outcome(data: bytes, name: str) -> None:
    try:
        sheets = read_file(data, name)
    except IngestError as err:
        assert str(err)
        return
    assert sheets
    for s in sheets:
        if s.dataset:
            assert s.accepted.num_rows + s.rejected.num_rows >= 0


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from(["a.csv", "a.xlsx", "a.txt", "a"]))
def test_any_bytes(data, name):
    _outcome(data, name)


@st.composite
def mutated(draw, base: bytes):
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[i:]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=20))
        else:
            del data[i:i + draw(st.integers(1, 50))]
    return bytes(data)


@SETTINGS
@given(mutated(VALID_CSV))
def test_mutated_csv(data):
    _outcome(data, "m.csv")


@SETTINGS
@given(mutated(VALID_XLSX))
def test_mutated_xlsx(data):
    _outcome(data, "m.xlsx")


@SETTINGS
@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=6), max_size=6))
def test_text_cells_under_a_valid_header(rows):
    body = "\n".join(",".join('"' + c.replace('"', '""') + '"' for c in r) for r in rows)
    _outcome(("UPN,Provider,Start Date\n" + body).encode("utf-8"), "t.csv")
