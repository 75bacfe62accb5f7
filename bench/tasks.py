"""One benchmark task, run in its own process so its peak memory can be read.

    python -m bench.tasks TASK JSON_ARGS   ->  prints {"seconds": [...], "peak_mb": N, ...}

Tasks: read_csv (plain DuckDB reader), store_floor (DuckDB's reader into a database file),
parse_csv (our reader alone), ingest_csv, read_xlsx (plain python-calamine),
ingest_xlsx, report, report_filtered, pages, flags_by_term, log_access.
"""
from __future__ import annotations

import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def read_csv(path: str, repeat: int) -> dict:
    import duckdb

    def run():
        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, all_varchar = true)", [path])
        return con.execute("SELECT count(*) FROM t").fetchone()[0]
    rows = run()
    return {"seconds": _timed(run, repeat), "rows": rows}


def store_floor(path: str, repeat: int) -> dict:
    """What storing costs DuckDB itself: its own read_csv (types sniffed, nothing checked)
    into a table in a new database file, committed; then a second copy of that table, as
    the store keeps an append-only ledger and a current state. Seconds are for both copies;
    "one_copy" for the first alone."""
    import duckdb
    one, both, rows = [], [], 0
    for i in range(repeat + 1):   # the first run warms up: untimed
        tmp = Path(tempfile.mkdtemp(prefix="apbench-"))
        try:
            con = duckdb.connect(str(tmp / "f.duckdb"))
            t0 = time.perf_counter()
            con.execute("CREATE TABLE ledger AS SELECT * FROM read_csv(?)", [path])
            con.execute("CHECKPOINT")
            one.append(time.perf_counter() - t0)
            con.execute("CREATE TABLE current AS SELECT * FROM ledger")
            con.execute("CHECKPOINT")
            if i:
                both.append(time.perf_counter() - t0)
            else:
                one.pop()
            rows = con.execute("SELECT count(*) FROM ledger").fetchone()[0]
            con.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": both, "one_copy": one, "rows": rows}


def read_xlsx(path: str, repeat: int) -> dict:
    from python_calamine import CalamineWorkbook

    def run():
        wb = CalamineWorkbook.from_path(path)
        return len(wb.get_sheet_by_index(0).to_python()) - 1
    rows = run()
    return {"seconds": _timed(run, repeat), "rows": rows}


def _ingest(path: str, repeat: int) -> dict:
    from analytics.store import Store
    seconds, accepted = [], None
    for i in range(repeat + 1):   # the first run warms up (imports, the reader's macros): untimed
        tmp = Path(tempfile.mkdtemp(prefix="apbench-"))
        try:
            store = Store(tmp / "b.duckdb")
            t0 = time.perf_counter()
            results = store.ingest_file(Path(path), Path(path).name)
            if i:
                seconds.append(time.perf_counter() - t0)
            accepted = sum(r.accepted for r in results)
            store.close() if hasattr(store, "close") else None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"seconds": seconds, "rows": accepted}


ingest_csv = ingest_xlsx = _ingest


def parse_csv(path: str, repeat: int) -> dict:
    """The reader alone (analytics.ingest.read_file: parse, map, validate), nothing stored."""
    from analytics.ingest import read_file
    rows = sum(s.accepted.num_rows for s in read_file(Path(path), Path(path).name))
    return {"seconds": _timed(lambda: read_file(Path(path), Path(path).name), repeat), "rows": rows}


def build_db(files: list[str], db: str) -> dict:
    from analytics.store import Store
    store = Store(db)
    t0, rows = time.perf_counter(), 0
    for f in files:
        rows += sum(r.accepted for r in store.ingest_file(Path(f), Path(f).name))
    return {"seconds": [time.perf_counter() - t0], "rows": rows}


def _report(db: str, repeat: int, as_of: str, filtered: bool) -> dict:
    from analytics.report import build_report
    from analytics.settings import Filters, Settings
    from analytics.store import Store
    con = Store(db, read_only=True).con
    filters = Filters(as_of=date.fromisoformat(as_of))
    if filtered:
        filters = Filters(as_of=filters.as_of, setting_type=("one_to_one_tuition", "online"), sex=("F",))
    settings = Settings()
    build_report(con, filters, settings)  # warm-up: first query plans and caches
    report = {}

    def run():
        nonlocal report
        report = build_report(con, filters, settings)
    return {"seconds": _timed(run, repeat), "open_placements": report["population"]["open_placements"]}


def report(db: str, repeat: int, as_of: str) -> dict:
    return _report(db, repeat, as_of, False)


def report_filtered(db: str, repeat: int, as_of: str) -> dict:
    return _report(db, repeat, as_of, True)


def pages(db: str, repeat: int) -> dict:
    """Server time to render each page with Streamlit's AppTest on this store.

    Each page is measured "cold" (Streamlit's data caches cleared first, as after an upload)
    and "warm" (a re-run, as when a user changes a widget that does not touch the data).
    """
    import os
    os.environ["AP_DB"] = db
    import streamlit as st
    from streamlit.testing.v1 import AppTest
    root = Path(__file__).resolve().parent.parent
    out = {}
    for page in sorted(p.name for p in (root / "views").glob("*.py") if not p.name.startswith("_")):
        at = AppTest.from_file(str(root / "dashboard.py"), default_timeout=300)
        at.run()

        def run(page=page):
            at.switch_page(f"views/{page}").run()
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].value}")
        def cold(page=page):
            st.cache_data.clear()  # every analytics call recomputed, as after an upload
            run(page)
        run()
        out[page] = {"cold": _timed(cold, repeat), "warm": _timed(run, repeat)}
    return {"pages": out, "seconds": [sum(v["cold"][i] for v in out.values()) for i in range(repeat)]}


def flags_by_term(db: str, repeat: int, as_of: str) -> dict:
    """The Overview's oversight flags by term (trends.flags_by_term), after a warm-up."""
    from analytics import trends
    from analytics.settings import Filters, Settings
    from analytics.store import Store
    con = Store(db, read_only=True).con
    filters, settings = Filters(as_of=date.fromisoformat(as_of)), Settings()
    terms = len(trends.flags_by_term(con, filters, settings))
    return {"seconds": _timed(lambda: trends.flags_by_term(con, filters, settings), repeat), "terms": terms}


def log_access(db: str, repeat: int) -> dict:
    """One access-log write (a pupil view opened), on a copy of the store: a commit and its
    checkpoint."""
    from analytics.store import Store
    folder = Path(tempfile.mkdtemp())
    try:
        copy = folder / "ap.duckdb"
        shutil.copy(db, copy)
        with Store(copy) as store:
            store.log_access("pupil view", "C-0000000", "names shown")   # warm-up
            seconds = _timed(lambda: store.log_access("pupil view", "C-0000000", "names shown"), repeat)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"seconds": seconds}


TASKS = {f.__name__: f for f in (read_csv, store_floor, read_xlsx, parse_csv, ingest_csv, ingest_xlsx, build_db, report,
                                  report_filtered, pages, flags_by_term, log_access)}
TASKS.update(ingest_csv=_ingest, ingest_xlsx=_ingest)

if __name__ == "__main__":
    name, args = sys.argv[1], json.loads(sys.argv[2])
    result = TASKS[name](**args)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))
