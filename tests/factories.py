"""Hand-made current-state tables for metric tests, without going through ingest.

    con = make_db(placements=[placement("P1", "2025-01-06", "2025-02-14", destination="mainstream")])

Rows are dicts of canonical columns (schema.py); anything left out is NULL, dates may be ISO
strings. The extra current-state columns (placement_id, provider_key, setting_key, measure_key)
are filled the way the store fills them when a test does not give them.
"""
from __future__ import annotations

from datetime import date

import duckdb

from analytics.schema import CURRENT_EXTRA, DATASETS, DUCKDB_TYPE


def _columns(dataset: str):
    return list(DATASETS[dataset]) + list(CURRENT_EXTRA[dataset])


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for dataset in DATASETS:
        cols = ", ".join(f"{c.name} {DUCKDB_TYPE[c.type]}" for c in _columns(dataset))
        con.execute(f"CREATE TABLE IF NOT EXISTS {dataset} ({cols})")
    con.execute("CREATE TABLE IF NOT EXISTS holidays (date DATE)")
    con.execute("CREATE TABLE IF NOT EXISTS measure_directions (measure_key VARCHAR, higher_is_better BOOLEAN)")


def _fill(dataset: str, row: dict, i: int) -> dict:
    row = dict(row)
    if dataset == "placements":
        row.setdefault("provider_key", (row.get("provider_urn") or row.get("provider_ukprn")
                                        or (row.get("provider") or "").strip().casefold()))
        row.setdefault("placement_id", f"PL{i:04d}")
    elif dataset == "attendance":
        row.setdefault("setting_key", (row.get("setting") or "").strip().casefold())
        row.setdefault("period_end", row.get("period_start"))
    elif dataset == "assessments":
        row.setdefault("measure_key", (row.get("measure") or "").strip().casefold())
    return row


def insert(con: duckdb.DuckDBPyConnection, dataset: str, rows: list[dict]) -> None:
    cols = [c.name for c in _columns(dataset)]
    names = set(cols)
    for i, row in enumerate(rows, start=1):
        row = _fill(dataset, row, i)
        unknown = set(row) - names
        assert not unknown, f"unknown {dataset} columns in a test row: {unknown}"
        con.execute(f"INSERT INTO {dataset} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [row.get(c) for c in cols])


def make_db(**datasets: list[dict]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the current-state tables holding the given rows."""
    con = duckdb.connect()
    create_tables(con)
    for dataset, rows in datasets.items():
        if dataset == "holidays":
            con.executemany("INSERT INTO holidays VALUES (?)", [[d] for d in rows])
        else:
            insert(con, dataset, rows)
    return con


def placement(pupil_id: str, start: str | date, end: str | date | None = None, **cols) -> dict:
    """A placement row with sensible defaults for the columns a test does not care about."""
    row = {"pupil_id": pupil_id, "start_date": start, "end_date": end, "provider": "Oak PRU",
           "provider_urn": "100001", "setting_type": "state_ap_school", "registered": True,
           "commissioner": "la", "reason": "permanent_exclusion", "hours_per_week": 25.0,
           "planned_end_date": None, "objectives": "Return to school", "last_review_date": None}
    row.update(cols)
    return row
