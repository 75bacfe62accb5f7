"""What kind of file this is, and whether it is safe to open (before any parsing).

>>> kind_of(b"UPN,Start Date\\n", "autumn.csv")
'csv'
"""
from __future__ import annotations

import html
import io
import re
import zipfile
import zlib
from pathlib import PurePath

from analytics.errors import IngestError

MAX_FILE_BYTES = 200 * 1024 * 1024            # refuse bigger uploads outright
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024    # an .xlsx's declared uncompressed total
MAX_RATIO = 100                               # per member, for members over RATIO_FLOOR
RATIO_FLOOR = 20 * 1024 * 1024

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SAVE_AS = "Open it in Excel and use Save As to save it as an Excel Workbook (.xlsx) or CSV, " \
           "then upload that."


def kind_of(data: bytes, file_name: str) -> str:
    """'csv' or 'xlsx'; anything else raises IngestError with a sentence saying what to do."""
    ext = PurePath(file_name or "").suffix.lower()
    head = data[:2048]
    if not data:
        raise IngestError("The file is empty.", file=file_name)
    if head.startswith(_OLE):
        if ext in (".xlsx", ".xlsm", ".xlsb"):
            raise IngestError("This workbook is password-protected (encrypted), so it cannot "
                              "be read. Remove the password in Excel (File > Info > Protect "
                              "Workbook), save it and upload it again.", file=file_name)
        raise IngestError("This is an old-style Excel 97-2003 (.xls) file, which is not "
                          "supported. " + _SAVE_AS, file=file_name)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "xlsx"
    if head.startswith(b"%PDF"):
        raise IngestError("This is a PDF document, not a spreadsheet. Upload the spreadsheet "
                          "itself (.xlsx or .csv).", file=file_name)
    if head.startswith(b"MZ") or head.startswith(b"\x7fELF"):
        raise IngestError("This is a program file, not a spreadsheet, so it was not opened.",
                          file=file_name)
    low = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if low.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<table")):
        raise IngestError("This is a web page (HTML/XML), not a spreadsheet. " + _SAVE_AS,
                          file=file_name)
    if ext in (".xls", ".xlsx", ".xlsm", ".xlsb", ".ods", ".numbers"):
        raise IngestError(f"This file is named {ext} but is not a readable Excel workbook; it "
                          "may be damaged or renamed. " + _SAVE_AS, file=file_name)
    return "csv"


PROLOG_LIMIT = 1024 * 1024   # bytes of comments before an XML part's first element: more is refused


def _prolog_has_dtd(fh) -> bool:
    """Whether an XML part declares a document type (where entity bombs live) before its first
    element. A DOCTYPE can only come there, but after any number of comments and processing
    instructions, so those are skipped rather than only the first 4 kB looked at (a reviewer's
    DOCTYPE after a 5,000-byte comment got past that). A prolog over PROLOG_LIMIT counts as one.

    >>> import io
    >>> _prolog_has_dtd(io.BytesIO(b'<?xml version="1.0"?><!--' + b"x" * 5000 + b'--><!DOCTYPE a [<!ENTITY b "c">]><a/>'))
    True
    >>> _prolog_has_dtd(io.BytesIO(b'<?xml version="1.0"?><!-- <!DOCTYPE in a comment --><worksheet/>'))
    False
    """
    buf, pos = b"", 0
    while True:
        while pos < len(buf) and buf[pos:pos + 1] in b" \t\r\n":
            pos += 1
        if buf.startswith(b"\xef\xbb\xbf", pos):
            pos += 3
            continue
        ends = {b"<?": b"?>", b"<!--": b"-->"}
        opener = next((o for o in ends if buf.startswith(o, pos)), None)
        end = buf.find(ends[opener], pos + len(opener)) if opener else -1
        if opener and end >= 0:
            pos = end + len(ends[opener])
            continue
        if buf.startswith(b"<!", pos) and not buf.startswith(b"<!-", pos):
            return True            # <!DOCTYPE (or <!ENTITY) before the first element
        if len(buf) - pos >= 4 and not opener:
            return False           # the first element: no document type declared
        chunk = fh.read(65536)
        if not chunk:
            return False
        if len(buf) + len(chunk) > PROLOG_LIMIT:
            return True
        buf += chunk


def check_workbook(data: bytes, file_name: str) -> None:
    """Refuse zip containers that are not .xlsx, are damaged, or would inflate too far."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
        names = {i.filename for i in infos}
        if "mimetype" in names:
            mime = zf.read("mimetype")[:100]
            if b"opendocument" in mime:
                raise IngestError("This is an OpenDocument spreadsheet (.ods), which is not "
                                  "supported. " + _SAVE_AS, file=file_name)
        if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
            raise IngestError("This zip file is not an Excel workbook. Upload an .xlsx or CSV "
                              "file.", file=file_name)
        if "xl/workbook.bin" in names:
            raise IngestError("This is a binary Excel workbook (.xlsb), which is not "
                              "supported. " + _SAVE_AS, file=file_name)
        if "xl/vbaProject.bin" in names:
            raise IngestError("This workbook contains macros (.xlsm), which are not accepted. "
                              + _SAVE_AS, file=file_name)
        total = 0
        for i in infos:
            total += i.file_size
            if i.file_size > RATIO_FLOOR and i.file_size > MAX_RATIO * max(i.compress_size, 1):
                raise IngestError("This workbook expands to far more data than its size "
                                  "suggests (a possible 'zip bomb'), so it was not opened.",
                                  file=file_name)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise IngestError(f"This workbook holds more than "
                              f"{MAX_UNCOMPRESSED_BYTES // 2**20} MB of data once unpacked, "
                              "which is over the limit. Split it into smaller files.",
                              file=file_name)
        # XML entity expansion ("billion laughs"): no part of an .xlsx needs a DTD.
        for i in infos:
            if i.filename.endswith((".xml", ".rels")):
                with zf.open(i) as fh:
                    has_dtd = _prolog_has_dtd(fh)
                if has_dtd:
                    raise IngestError("This workbook contains XML features that are not "
                                      "allowed (a document type definition), so it was not "
                                      "opened.", file=file_name)
    except IngestError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, KeyError, RuntimeError):
        raise IngestError("The workbook is damaged or incomplete (it may have been cut short "
                          "while copying). Save it again from Excel and upload the new copy.",
                          file=file_name) from None


_SHEET = re.compile(rb'<sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"')
_REL = re.compile(rb'<Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"')
_REL_REV = re.compile(rb'<Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"')
_NO_VALUE = re.compile(rb"</f>\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>|<f\b[^>]*/>\s*(?:<v\s*/>)?\s*</c>")
FORMULA_SCAN_LIMIT = 50 * 1024 * 1024


_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.DOTALL)
_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_VALUE = re.compile(rb"<v>\s*[^<\s]")


def _formula_cells(xml: bytes) -> list[tuple[str, int]]:
    """(column letters, row number) of each formula cell saved with no result."""
    out = []
    for attrs, body in _CELL.findall(xml):
        if body and b"<f" in body and not _VALUE.search(body):
            ref = _REF.search(attrs)
            if ref:
                out.append((ref.group(1).decode("ascii"), int(ref.group(2))))
    return out


def column_index(letters: str) -> int:
    """0-based index of an Excel column: 'A' -> 0, 'Z' -> 25, 'AA' -> 26.

    >>> column_index("A"), column_index("T"), column_index("AA")
    (0, 19, 26)
    """
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - ord("A") + 1
    return n - 1


def formulas_without_values(data: bytes) -> dict[str, list[tuple[str, int]]]:
    """Per sheet name: formula cells saved with no result (read as blank by any reader), as
    (column letters, row number)."""
    out: dict[str, list[tuple[str, int]]] = {}
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        rels = zf.read("xl/_rels/workbook.xml.rels")
        targets = {i: t for i, t in _REL.findall(rels)}
        targets.update({i: t for t, i in _REL_REV.findall(rels)})
        for name, rid in _SHEET.findall(zf.read("xl/workbook.xml")):
            target = targets.get(rid, b"").decode("utf-8", "replace").lstrip("/")
            part = target if target.startswith("xl/") else f"xl/{target}"
            info = zf.getinfo(part)
            if info.file_size > FORMULA_SCAN_LIMIT:
                continue
            xml = zf.read(part)
            if _NO_VALUE.search(xml):   # the quick test first; the cells only when there are some
                cells = _formula_cells(xml)
                if cells:
                    out[html.unescape(name.decode("utf-8", "replace"))] = cells
    except Exception:  # noqa: BLE001 - a best-effort warning, never a failure
        return out
    return out
