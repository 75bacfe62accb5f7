"""Generate the synthetic sample files.

    python -m sample_data.generate --out DIR [--pupils N] [--seed S] [--format termly|bench]

termly (default): the termly exports of a synthetic LA (about 600 pupils, 2022/23 to 2024/25)
in the messy shapes real files have; `make sample` writes them to sample_data/files/.

bench: plain canonical-header CSV files for benchmarks, written with numpy and pyarrow (no
per-row Python), plus an .xlsx placements file:
    placements.csv attendance.csv exclusions.csv assessments.csv placements.xlsx
    --pupils N            placements = round(1.25 N), exclusions ~ 0.6 N, assessments ~ 2 per placement
    --placements N        override the placement count
    --attendance-rows N   attendance rows (default 50 per placement at 5,000 placements,
                          falling log-linearly to 20 per placement at 1,000,000)
    --xlsx-rows N         rows in placements.xlsx (default min(placements, 50000); 0 = no file)
    --scale la|national   presets: la = --pupils 4000 (5,000 placements, 250,000 attendance rows);
                          national = --pupils 800000 (1,000,000 placements, 20,000,000 rows)

Both formats print one JSON object on stdout: {"format", "out", "seed", "files": [{"file",
"dataset", "rows"}...], "seconds"}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEFAULT_SEED = 2025
DEFAULT_PUPILS = 600
SCALES = {"la": 4_000, "national": 800_000}  # pupils


def generate_termly(out: Path, seed: int = DEFAULT_SEED, pupils: int = DEFAULT_PUPILS) -> list[dict]:
    """Write the termly files into `out` and return their manifest."""
    from .termly import write_termly
    from .world import simulate

    return write_termly(simulate(seed, pupils), out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sample_data.generate", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    ap.add_argument("--format", choices=("termly", "bench"), default="termly")
    ap.add_argument("--pupils", type=int, default=None)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--scale", choices=sorted(SCALES), help="bench preset")
    ap.add_argument("--placements", type=int, help="bench: number of placements")
    ap.add_argument("--attendance-rows", type=int, help="bench: number of attendance rows")
    ap.add_argument("--xlsx-rows", type=int, help="bench: rows in placements.xlsx (0 = none)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.format == "termly":
        manifest = generate_termly(args.out, args.seed, args.pupils or DEFAULT_PUPILS)
        files = []
        for m in manifest:
            files.append({"file": m["file"], "datasets": m["datasets"]})
    else:
        from .bench import write_bench

        pupils = args.pupils or SCALES.get(args.scale, SCALES["la"])
        files = write_bench(args.out, pupils=pupils, seed=args.seed, placements=args.placements,
                            attendance_rows=args.attendance_rows, xlsx_rows=args.xlsx_rows)
    json.dump({"format": args.format, "out": str(args.out), "seed": args.seed, "files": files,
               "seconds": round(time.perf_counter() - t0, 1)}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
