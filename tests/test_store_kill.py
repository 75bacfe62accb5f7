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


FULL_DISK = r"""
import resource, signal, sys
from pathlib import Path
from analytics.store import Store
from analytics.errors import StoreError

db, small, big = sys.argv[1], sys.argv[2], sys.argv[3]
store = Store(db)
store.ingest_file(small)
# the file may grow 20 kB more: writing past that fails as a full disk would (EFBIG, not a signal)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (Path(db).stat().st_size + 20_000, resource.RLIM_INFINITY))
try:
    store.ingest_file(big)
    print("LOADED")
except StoreError as e:
    print("REFUSED", e)
print("BROKEN", store.broken)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
store.close()
with Store(db) as again:   # as the dashboard does when a store is broken (views/_state.store)
    print("UPLOADS", len(again.uploads()))
    print("AFTER", again.ingest_file(big)[0].status)
"""


def test_a_full_disk_during_a_load_says_so_and_leaves_the_store_as_it_was(tmp_path):
    # A reviewer on a 3 MB disk: the page said "Saved", then every page failed until the
    # server was restarted. Here the file may not grow past its size + 20 kB, so the rows
    # DuckDB writes to it during the insert fail as on a full disk.
    rows = 40_000
    small = ROOT / "sample_data" / "files" / "2022-23_1_autumn_placements.csv"
    lines = ["UPN,Week Commencing,Possible Sessions,Attended Sessions,Setting"]
    lines += [f"K{i % 2000:05d},{1 + i // 2000:02d}/09/2025,10,{i % 11},Oak House" for i in range(rows)]
    big = tmp_path / "attendance.csv"
    big.write_text("\n".join(lines) + "\n")
    db = tmp_path / "ap.duckdb"
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(db), str(small), str(big)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    said = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert said["REFUSED"] == ("The database could not be updated, so nothing was changed: the server's disk is "
                               "full. Ask whoever runs the dashboard to free some space, then try again.")
    assert said["BROKEN"] == "False"       # an I/O error: the connection is still usable
    assert said["UPLOADS"] == "1"          # the first file only: nothing of the failed one
    assert said["AFTER"] == "loaded"       # with room again, the same file loads


class _CommitFails:
    """The writer cursor, except that commit fails as DuckDB's checkpoint did on a full disk
    (a FatalException, after which DuckDB refuses every call on the database)."""

    def __init__(self, cursor):
        self._cursor = cursor

    def commit(self):
        import duckdb
        raise duckdb.FatalException('FATAL Error: Failed to create checkpoint because of error: Could not '
                                    'write file "ap.duckdb": No space left on device')

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def test_a_fatal_error_at_commit_is_told_plainly_and_the_store_reopens_as_it_was(tmp_path):
    from analytics.errors import StoreError
    db = tmp_path / "ap.duckdb"
    with Store(db) as s:
        s.ingest_parsed([sheet("exclusions", [{"pupil_id": "P1", "category": "suspension",
                                               "start_date": "2025-01-06"}])], "h1")
        s._w = _CommitFails(s._w)
        with pytest.raises(StoreError) as e:
            s.ingest_parsed([sheet("exclusions", [{"pupil_id": "P2", "category": "suspension",
                                                   "start_date": "2025-01-07"}])], "h2")
        assert str(e.value) == ("The database could not be updated, so nothing was changed: the server's disk "
                                "is full. Ask whoever runs the dashboard to free some space, then try again.")
        assert s.broken
        with pytest.raises(StoreError, match="stopped with an error during an earlier save"):
            s.withdraw(1)          # refused in words, not DuckDB's "database has been invalidated"
        s._w = s._w._cursor
    with Store(db) as again:
        assert one(again, "SELECT pupil_id FROM exclusions") == [("P1",)]
        assert len(again.uploads()) == 1
