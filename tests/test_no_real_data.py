"""A guard against committing real pupils' data or copies of the published DfE files.

Every UPN in the repository (code, tests, docs, the committed sample files) must be one a
real pupil cannot have: from LA number 999 (the sample generator's; no LA has it: post-1999
LA codes end at 938, dfe-codes.md §4.1), with a check letter that does not match (a made-up
bad UPN), one of the worked examples printed in dfe-codes.md, or a listed made-up one. And no file from
../shared/realdata may be committed, by name or by content.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

ROOT = Path(__file__).resolve().parent.parent
REALDATA = Path(os.environ.get("AP_REALDATA", ROOT.parent / "shared" / "realdata"))
UPN = re.compile(r"(?<![A-Za-z0-9])[A-Z][0-9]{11}[0-9A-Z](?![A-Za-z0-9])")
ALPHABET = "ABCDEFGHJKLMNPQRTUVWXYZ"        # dfe-codes.md §4.1: no I, O or S
DOCUMENTED = {"B801200005001", "P207000016049"}   # the valid worked examples in dfe-codes.md
MADE_UP = {"X12345678901A"}   # a temporary UPN of the digits 1 to 9 in order (test_ingest_csv)


def check_letter_matches(upn: str) -> bool:
    """dfe-codes.md §4.1, written out here apart from the importer's SQL."""
    total = 0
    for position, ch in enumerate(upn[1:], start=2):
        if ch.isdigit():
            value = int(ch)
        elif ch in ALPHABET and position == 13:
            value = ALPHABET.index(ch)
        else:
            return False
        total += position * value
    return ALPHABET[total % 23] == upn[0]


def could_be_a_real_pupil(upn: str) -> bool:
    return check_letter_matches(upn) and upn[1:4] != "999" and upn not in DOCUMENTED | MADE_UP


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


def texts(path: Path):
    """The text a file holds: its cells for a workbook, else its bytes as UTF-8."""
    if path.suffix.lower() == ".xlsx":
        wb = CalamineWorkbook.from_path(str(path))
        for name in wb.sheet_names:
            for row in wb.get_sheet_by_name(name).to_python():
                yield " ".join(str(c) for c in row)
    else:
        yield path.read_bytes().decode("utf-8", errors="replace")


@pytest.mark.parametrize("upn, expected", [
    ("B801200005001", True),     # dfe-codes.md's valid example
    ("P207000016049", True),     # its corrected Arbor example (weighted sum 266, 266 mod 23 = 13 -> P)
    ("Q207000016049", False),    # the example as Arbor printed it: the wrong letter
    ("A12345678901A", False),
])
def test_the_check_letter_rule(upn, expected):
    assert check_letter_matches(upn) is expected


def test_the_guard_sees_a_pupil_it_should_refuse():
    # a valid UPN from a real LA number (801) that is not a documented example
    body = "801200005002"
    total = sum(pos * int(ch) for pos, ch in enumerate(body, start=2))
    upn = ALPHABET[total % 23] + body
    assert could_be_a_real_pupil(upn)
    assert not could_be_a_real_pupil("B801200005001")


def test_no_committed_upn_could_belong_to_a_real_pupil():
    files = tracked_files()
    assert any(p.suffix == ".xlsx" for p in files) and any(p.suffix == ".csv" for p in files)
    found = {}
    seen = 0
    for path in files:
        for text in texts(path):
            for upn in UPN.findall(text):
                seen += 1
                if could_be_a_real_pupil(upn):
                    found.setdefault(str(path.relative_to(ROOT)), set()).add(upn)
    assert seen > 1000, "the committed sample files hold thousands of synthetic UPNs"
    assert not found, f"UPNs a real pupil could have: {found}"


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is not beside the project")
def test_no_published_file_is_committed():
    published = {}
    for p in REALDATA.iterdir():
        if p.is_file() and p.suffix in (".csv", ".gz"):
            data = p.read_bytes()
            published[hashlib.sha256(data).hexdigest()] = p.name
            if p.suffix == ".gz":
                published[hashlib.sha256(gzip.decompress(data)).hexdigest()] = p.name
    names = {n.removesuffix(".gz") for n in published.values()}
    assert names, "the realdata folder holds the published CSVs"
    for path in tracked_files():
        assert path.name.removesuffix(".gz") not in names, f"{path} has a published file's name"
        assert hashlib.sha256(path.read_bytes()).hexdigest() not in published, f"{path} is a published file"
