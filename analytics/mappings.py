"""Remembered header mappings: what a user mapped once is offered again for the same headers.

A mapping is keyed by the set of a sheet's headers (normalised and sorted), so the next termly
export from the same system, whatever its row order or file name, gets the same mapping.
The file is small JSON kept beside the database; a damaged file is treated as empty.

>>> header_key(["UPN", " Start "]) == header_key(["start", "upn"])
True
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from analytics.schema import DATASETS


def _normalise(header: str) -> str:
    return re.sub(r"\s+", " ", str(header)).strip().casefold()


def header_key(headers) -> str:
    """A stable key for a set of headers (case, spacing and order ignored)."""
    joined = "\n".join(sorted({_normalise(h) for h in headers if str(h).strip()}))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:24]


def mappings_path(db_path: str | os.PathLike) -> Path:
    """Where the remembered mappings for a database live: mappings.json beside it."""
    return Path(db_path).resolve().parent / "mappings.json"


def load_all(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: {str(h): str(c) for h, c in v.items()} for k, v in data.items() if isinstance(v, dict)}


def _valid_columns() -> set[str]:
    return {c.name for cols in DATASETS.values() for c in cols}


def lookup(path: str | os.PathLike, headers) -> dict[str, str]:
    """The mapping remembered for exactly these headers ({} when none).

    Only canonical column names survive, so a hand-edited file cannot smuggle anything in, and
    "" (a heading the user chose to leave out, recognised or not: not loaded next time either).
    """
    valid = _valid_columns() | {""}
    return {h: c for h, c in load_all(path).get(header_key(headers), {}).items() if c in valid}


def remember(path: str | os.PathLike, headers, mapping: dict[str, str]) -> None:
    """Store the user's mapping for these headers (replacing an earlier one); atomic write.
    A heading mapped to "" was left out on purpose (names a panel does not need, say): kept, so
    the next file with these headings leaves it out too."""
    valid = _valid_columns() | {""}
    clean = {str(h): c for h, c in mapping.items() if c in valid}
    data = load_all(path)
    key = header_key(headers)
    if clean:
        data[key] = clean
    else:
        data.pop(key, None)
    _write(path, data)


def entries(path: str | os.PathLike) -> list[tuple[str, dict[str, str]]]:
    """Every remembered mapping as (key, {heading: column or "" for left out}), canonical
    columns only (as lookup), in a stable order."""
    valid = _valid_columns() | {""}
    out = []
    for key, mapping in sorted(load_all(path).items()):
        clean = {h: c for h, c in mapping.items() if c in valid}
        if clean:
            out.append((key, clean))
    return out


def used_by(path: str | os.PathLike, applied: dict[str, str]) -> list[str]:
    """Keys of the remembered mappings an upload read with: every choice in them agrees with
    ``applied`` (the upload's heading -> column; a heading left out is absent from it).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> remember(p, ["Exp End", "Leave Dt", "UPN"], {"Exp End": "end_date", "Leave Dt": ""})
    >>> used_by(p, {"UPN": "pupil_id", "exp end": "end_date"}) == [header_key(["Exp End", "Leave Dt", "UPN"])]
    True
    >>> used_by(p, {"UPN": "pupil_id", "Exp End": "planned_end_date"})
    []
    """
    got = {_normalise(h): c for h, c in applied.items()}
    return [key for key, mapping in entries(path)
            if all((got.get(_normalise(h)) == c) if c else (_normalise(h) not in got) for h, c in mapping.items())]


def forget(path: str | os.PathLike, keys) -> int:
    """Forget the remembered mappings with these keys (atomic write); how many were forgotten."""
    data = load_all(path)
    gone = [k for k in keys if data.pop(k, None) is not None]
    if gone:
        _write(path, data)
    return len(gone)


def _write(path: str | os.PathLike, data: dict) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".mappings-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
    os.replace(tmp, target)


_NOT_A_HEADING = re.compile(r"[-+]?[\d.,/: %£]*")   # a number, a date, a blank


def candidate_headings(rows: list[list[str]]) -> list[str]:
    """When no row of ``rows`` holds two headings the program knows: the first row, among the
    first 30, that looks like a row of headings of unknown names, so that the user can say what
    they are (data-spec: anything else is offered for mapping). It has at least three distinct
    cells, none a number or a date, and the row after it holds at least two cells (data below a
    heading row, not a title or a note). [] when there is none.

    >>> candidate_headings([["Placements, autumn term"], ["Learner No", "Organisation", "Placement Begun"],
    ...                     ["P1", "Oak PRU", "03/09/2024"]])
    ['Learner No', 'Organisation', 'Placement Begun']
    >>> candidate_headings([["Read me"], ["This file holds the placements of the autumn term."]])
    []
    """
    for i, row in enumerate(rows[:30]):
        cells = [str(c).strip() for c in row if c is not None and str(c).strip()]
        if len(cells) < 3 or len(set(cells)) < len(cells):
            continue
        if any(_NOT_A_HEADING.fullmatch(c) for c in cells):
            continue
        below = rows[i + 1] if i + 1 < len(rows) else []
        if sum(1 for c in below if c is not None and str(c).strip()) >= 2:
            return cells
    return []


def peek_headers(data: bytes, file_name: str) -> dict[str | None, list[str]]:
    """The header row of each sheet (None for a CSV) as ingest finds it, or {} when none is found.
    Where no row holds two known headings, a row that looks like headings of unknown names
    (:func:`candidate_headings`) stands in, so that they can be mapped.

    Used to offer a mapping for a file that ingest could not recognise, and to look up a
    remembered mapping before reading. Never raises.
    """
    import io

    from analytics.ingest import readers
    from analytics.ingest.containers import check_workbook, kind_of
    from analytics.ingest.headers import find_header_row

    try:
        if kind_of(data, file_name) == "csv":
            text, _ = readers.decode(data, file_name)
            try:
                _, _, headers, _, _ = readers.sniff_csv(text, frozenset(), file_name)
            except readers.IngestError:
                # the delimiter whose heading-like row is widest
                found = [candidate_headings(readers.head_records(text, d)) for d in readers.DELIMITERS]
                headers = max(found, key=len)
                return {None: headers} if headers else {}
            return {None: [h for h in headers if h]}
        check_workbook(data, file_name)
        import python_calamine as cal

        wb = cal.CalamineWorkbook.from_filelike(io.BytesIO(data))
        out: dict[str | None, list[str]] = {}
        for name in wb.sheet_names:
            rows = wb.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=30)
            head = [[readers.cell_text(c) or "" for c in r] for r in rows[:30]]
            idx, score = find_header_row(head, frozenset())
            if score >= 2:
                out[name] = [h.strip() for h in head[idx] if h and h.strip()]
            elif (candidate := candidate_headings(head)):
                out[name] = candidate
        return out
    except Exception:  # noqa: BLE001 - a peek: no headers is an acceptable answer
        return {}
