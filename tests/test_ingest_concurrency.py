"""Reads share one in-memory DuckDB database, each on its own cursor: concurrent reads of
different files (as Streamlit sessions do) must not see each other's rows."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from analytics.ingest import read_file

PLACEMENTS = (b"UPN,Provider,Start Date\n"
              + b"".join(b"B801200005001,Oak PRU,2025-03-%02d\n" % d for d in range(1, 29)))
EXCLUSIONS = (b"UPN,Category,Start Date,Sessions\n"
              + b"".join(b"B801200005001,suspension,2025-01-%02d,2\n" % d for d in range(1, 11)))


def _read(i: int):
    data, name = (PLACEMENTS, "p.csv") if i % 2 == 0 else (EXCLUSIONS, "e.csv")
    sheet, = read_file(data, name)
    return sheet.dataset, sheet.accepted.num_rows, sheet.rejected.num_rows


def test_concurrent_reads_do_not_mix():
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(_read, range(16)))
    # 28 placement rows (1-28 March), 10 exclusion rows (1-10 January), none rejected
    assert got == [("placements", 28, 0) if i % 2 == 0 else ("exclusions", 10, 0)
                   for i in range(16)]
