"""Everything the store holds on one pupil, for a subject access request (UK GDPR Art. 15).

A data protection review found that answering one needed SQL against the database: the pupil
view shows only the current state as of a date, not superseded values, withdrawn uploads,
removals by hand, rejected rows (kept as the file's own text, so not findable by pupil ID) or
who opened the child's records.

``gather`` returns one frame per sheet, in this order:
- the current records of each dataset (what the dashboard counts);
- every row any upload brought for the pupil, with the upload's date, who loaded it, its file
  and whether it was later withdrawn (superseded values included), and removals by hand;
- rejected rows whose original text holds the pupil's ID, or their first name, last name and
  date of birth together (a row rejected for a blank UPN is found by the name);
- the access log of the pupil's case number: their pupil views and the case lists that showed them.
Files' names are the council's own, but often name a child: UPNs in them are hidden.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics import schema
from analytics.privacy import mask_upns

DATASETS = ("placements", "attendance", "exclusions", "assessments")


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _identities(con, pupil_ids: list[str]) -> list[tuple[str, str, date]]:
    """(first name, last name, date of birth) the pupil is recorded under, from every upload."""
    rows = con.execute("SELECT DISTINCT first_name, last_name, date_of_birth FROM ledger_placements "
                       "WHERE pupil_id = ANY(?) AND first_name IS NOT NULL AND last_name IS NOT NULL "
                       "AND date_of_birth IS NOT NULL", [pupil_ids]).fetchall()
    return [(str(f), str(la), d) for f, la, d in rows]


def _rejected(con, pupil_ids: list[str], identities) -> pd.DataFrame:
    """Rejected rows holding the ID (spaces ignored, any case) or the name and date of birth."""
    conditions, params = [], []
    for pid in pupil_ids:
        conditions.append("strpos(upper(regexp_replace(r.original, '[ \\t]', '', 'g')), ?) > 0")
        params.append(str(pid).upper())
    for first, last, dob in identities:
        forms = sorted({f"{dob:%d/%m/%Y}", f"{dob:%Y-%m-%d}", f"{dob:%d-%m-%Y}", f"{dob:%d.%m.%Y}",
                        f"{dob.day}/{dob.month}/{dob:%Y}"})
        conditions.append("(strpos(lower(r.original), ?) > 0 AND strpos(lower(r.original), ?) > 0 "
                          "AND list_has_any(?, regexp_extract_all(r.original, '[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}')))")
        params += [first.casefold(), last.casefold(), forms]
    if not conditions:
        return pd.DataFrame(columns=["upload_id", "row_number", "reason", "original"])
    return _frame(con, f"""
        SELECT r.upload_id, r.row_number, u.uploaded_at, u.file_name, r.reason, r.original
        FROM rejected_rows r LEFT JOIN uploads u USING (upload_id)
        WHERE {' OR '.join(conditions)} ORDER BY r.upload_id, r.row_number""", params)


def gather(con: duckdb.DuckDBPyConnection, pupil_ids: list[str], case: str | None = None) -> dict[str, pd.DataFrame]:
    """{sheet name: frame} of everything held on the pupil under these IDs (module docstring).
    ``case``: their case number, for the access log."""
    ids = [str(p) for p in pupil_ids]
    out: dict[str, pd.DataFrame] = {}
    for ds in DATASETS:
        out[f"{ds.capitalize()} now"] = _frame(con, f"SELECT * FROM {ds} WHERE pupil_id = ANY(?) ORDER BY ALL", [ids])
    for ds in DATASETS:
        cols = [c.name for c in schema.DATASETS[ds]]
        out[f"{ds.capitalize()} history"] = _frame(con, f"""
            SELECT l.upload_id, u.uploaded_at, u.user_name AS uploaded_by, u.file_name, u.kind,
                   u.note AS why_removed, u.withdrawn_at, u.withdrawn_by, l.row_number,
                   {', '.join(f'l.{c}' for c in cols)}, l.warnings
            FROM ledger_{ds} l JOIN uploads u USING (upload_id)
            WHERE l.pupil_id = ANY(?) ORDER BY l.upload_id, l.row_number""", [ids])
    out["Rejected rows"] = _rejected(con, ids, _identities(con, ids))
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "access_log" in tables and case:
        out["Who opened the records"] = _frame(con, """
            SELECT opened_at, user_name, action, case_number, detail FROM access_log
            WHERE case_number = ? OR list_contains(cases, ?) ORDER BY opened_at""", [case, case])
    for frame in out.values():
        if "file_name" in frame.columns:
            frame["file_name"] = frame["file_name"].map(mask_upns)
    return out


def counts(sheets: dict[str, pd.DataFrame]) -> list[tuple[str, int]]:
    """(sheet, rows) for the summary the command prints."""
    return [(name, len(frame)) for name, frame in sheets.items()]
