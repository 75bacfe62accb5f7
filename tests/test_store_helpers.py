"""Hand-made ParsedSheet objects for the store tests (no reader involved), and state snapshots.

    sheet("placements", [{"pupil_id": "A1", "provider_urn": "100001", "start_date": "2025-01-06"}])

Rows are dicts of canonical columns; dates may be ISO strings. `carried` defaults to every
column named in any row. Columns left out are null.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

from analytics import schema

_ARROW = {schema.TEXT: pa.string(), schema.DATE: pa.date32(), schema.NUMBER: pa.float64(),
          schema.INTEGER: pa.int32(), schema.BOOL: pa.bool_()}


@dataclass
class FakeSheet:
    """The fields of analytics.ingest.ParsedSheet (docs/architecture.md §1)."""
    file_name: str
    sheet: str | None
    dataset: str | None
    skipped_reason: str | None
    header_row: int | None
    mapping: dict
    unmapped: list
    carried: list
    accepted: pa.Table
    rejected: pa.Table
    summary_rows: int = 0
    blank_rows: int = 0
    sheet_warnings: list = field(default_factory=list)


def _value(col: schema.Column, v):
    if v is None or v == "":
        return None
    if col.type == schema.DATE and isinstance(v, str):
        return date.fromisoformat(v)
    return v


def accepted_table(dataset: str, rows: list[dict], row_numbers: list[int] | None = None) -> pa.Table:
    cols = schema.DATASETS[dataset]
    names = {c.name for c in cols} | {"warnings"}
    for r in rows:
        unknown = set(r) - names
        assert not unknown, f"unknown {dataset} columns in a test row: {unknown}"
    data = {c.name: pa.array([_value(c, r.get(c.name)) for r in rows], type=_ARROW[c.type]) for c in cols}
    data["row_number"] = pa.array(row_numbers or list(range(2, len(rows) + 2)), type=pa.int64())
    data["warnings"] = pa.array([r.get("warnings") for r in rows], type=pa.string())
    return pa.table(data)


def rejected_table(rejects: list[tuple[int, str, str]]) -> pa.Table:
    return pa.table({"row_number": pa.array([r[0] for r in rejects], type=pa.int64()),
                     "reason": pa.array([r[1] for r in rejects], type=pa.string()),
                     "original": pa.array([r[2] for r in rejects], type=pa.string())})


def sheet(dataset: str | None, rows: list[dict] = (), carried: list[str] | None = None,
          rejects: list[tuple[int, str, str]] = (), file_name: str = "file.csv",
          sheet_name: str | None = None, summary_rows: int = 0, skipped_reason: str | None = None,
          row_numbers: list[int] | None = None) -> FakeSheet:
    rows = list(rows)
    if carried is None:
        carried = sorted({k for r in rows for k in r if k != "warnings"})
    accepted = accepted_table(dataset, rows, row_numbers) if dataset else pa.table({})
    return FakeSheet(file_name, sheet_name, dataset, skipped_reason, 1,
                     {c: c for c in carried}, [], list(carried), accepted,
                     rejected_table(list(rejects)), summary_rows)


def state(store, dataset: str, drop: tuple[str, ...] = ()) -> list[dict]:
    """The current-state table as a sorted list of dicts (for exact comparisons)."""
    df = store.con.execute(f"SELECT * FROM {dataset}").df()
    rows = [{k: (None if _isna(v) else v) for k, v in r.items() if k not in drop}
            for r in df.to_dict("records")]
    return sorted(rows, key=lambda r: repr(sorted(r.items(), key=lambda kv: kv[0])))


def _isna(v) -> bool:
    try:
        return v is None or bool(v != v)
    except (TypeError, ValueError):
        return False


def one(store, sql: str, params=()) -> list[tuple]:
    return store.con.execute(sql, list(params)).fetchall()


@contextlib.contextmanager
def held_by_another_process(path):
    """The database file opened read-write by another process (DuckDB then refuses it here)."""
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(60)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        yield
    finally:
        holder.kill()
        holder.wait()
