"""Security invariant 3 with a real kill: a process SIGKILLed mid-upload leaves the store as before."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.store import Store
from tests.test_store_helpers import one, sheet, state

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys
import numpy as np
import pyarrow as pa
from analytics import schema
from analytics.store import Store
from tests.test_store_helpers import FakeSheet, rejected_table

db, marker = sys.argv[1], sys.argv[2]
n = 2_000_000
i = np.arange(n)
table = pa.table({
    "pupil_id": pa.array(np.char.add("K", (i % 40_000).astype(str))),
    "period_start": pa.array((20_000 + 7 * (i // 40_000)).astype("int32"), type=pa.int32()).cast(pa.date32()),
    "period_end": pa.array((20_004 + 7 * (i // 40_000)).astype("int32"), type=pa.int32()).cast(pa.date32()),
    "possible_sessions": pa.array(np.full(n, 10.0)),
    "attended_sessions": pa.array((i % 11).astype("float64")),
    "setting": pa.array(np.where(i % 2 == 0, "Oak House", "Elm Centre")),
    "row_number": pa.array(i + 2),
    "warnings": pa.nulls(n, pa.string()),
})
carried = ["pupil_id", "period_start", "period_end", "possible_sessions", "attended_sessions", "setting"]
big = FakeSheet("big.csv", None, "attendance", None, 1, {}, [], carried, table, rejected_table([(5, "x", "{}")]))

def progress(fraction, message):
    if message.startswith(marker):
        print("marker", flush=True)

store = Store(db)
store.ingest_parsed([big], "big", progress=progress)
print("committed", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("marker", ["Saving", "Updating"])  # during the ledger insert / the rebuild
def test_sigkill_mid_upload_leaves_the_previous_state(tmp_path, marker):
    db = tmp_path / "ap.duckdb"
    with Store(db) as s:
        s.ingest_parsed([sheet("attendance", [
            {"pupil_id": "K1", "period_start": "2024-10-07", "period_end": "2024-10-11",
             "possible_sessions": 10, "attended_sessions": 4, "setting": "Oak House"}])], "small")
        before = {t: one(s, f"SELECT * FROM {t} ORDER BY ALL")
                  for t in ("uploads", "rejected_rows", "ledger_attendance")}
        before_state = state(s, "attendance")

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), marker], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
        assert line == "marker", (line, child.stderr.read() if child.poll() is not None else "")
        time.sleep(0.3)
        assert child.poll() is None, "the upload finished before it could be killed; make it bigger"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        rest = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL and "committed" not in rest

    with Store(db) as s:
        assert {t: one(s, f"SELECT * FROM {t} ORDER BY ALL")
                for t in ("uploads", "rejected_rows", "ledger_attendance")} == before
        assert state(s, "attendance") == before_state
        # And the store still takes uploads.
        res = s.ingest_parsed([sheet("attendance", [
            {"pupil_id": "K1", "period_start": "2024-10-07", "period_end": "2024-10-11",
             "possible_sessions": 10, "attended_sessions": 9, "setting": "oak house"}])], "next")
        assert res[0].upload_id == 2
        assert one(s, "SELECT attended_sessions, upload_id FROM attendance") == [(9.0, 2)]
