"""The outcome breakdowns, nine queries against two (BENCHMARKS.md, "The outcome breakdowns in
one query each"), alternating on the same store:

    python -m bench.outcome_groups [STORE] [ROUNDS]     (default bench/out/national/store.duckdb, 5)
"""
from __future__ import annotations

import statistics
import sys
import time
from datetime import date

import duckdb

from analytics import outcomes
from analytics.settings import Filters, Settings


def main(path: str = "bench/out/national/store.duckdb", rounds: int = 5) -> None:
    con = duckdb.connect(path, read_only=True)
    f, s = Filters(as_of=date(2025, 7, 18)), Settings()

    def nine():
        for by in outcomes.GROUP_BY:
            outcomes.by_group(con, f, s, by)
        for by in (None, *outcomes.GROUP_BY):
            outcomes.destinations(con, f, s, by=by)

    def two():
        outcomes.by_groups(con, f, s)
        outcomes.destinations_by_groups(con, f, s)

    nine(), two()   # warm-up
    a, b = [], []
    for _ in range(rounds):
        for fn, out in ((nine, a), (two, b)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    print("nine queries:", ", ".join(f"{x:.2f}" for x in a), f"s; median {statistics.median(a):.2f} s")
    print("two queries: ", ", ".join(f"{x:.2f}" for x in b), f"s; median {statistics.median(b):.2f} s")
    print(f"ratio of medians: {statistics.median(a) / statistics.median(b):.1f}")


if __name__ == "__main__":
    main(*(sys.argv[1:2] or []), *(int(x) for x in sys.argv[2:3]))
