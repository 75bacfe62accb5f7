"""Stores for the differential tests (tests/test_reference_*.py): files loaded through the
app's own ingest, bench data at a seed, and private copies to change settings in."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

from analytics.store import Store

DATASETS = ("placements", "attendance", "exclusions", "assessments")


def load_files(db: Path, files) -> Path:
    """A new store at `db` with each file loaded, in order, as an upload would."""
    with Store(db) as store:
        for f in files:
            store.ingest_file(f)
    return db


def bench_store(root: Path, seed: int, pupils: int = 300) -> Path:
    """The benchmark generator's four CSVs at `seed` (sample_data.bench), loaded into a store."""
    from sample_data.bench import write_bench

    write_bench(root / "files", pupils=pupils, seed=seed, xlsx_rows=0)
    return load_files(root / "bench.duckdb", [root / "files" / f"{d}.csv" for d in DATASETS])


def copy_db(src: Path, dst_dir: Path) -> Path:
    """A private copy of a store (with its write-ahead log, if any), to change settings in."""
    dst = dst_dir / "copy.duckdb"
    shutil.copyfile(src, dst)
    wal = Path(f"{src}.wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{dst}.wal"))
    return dst


def write_csvs(folder: Path, tables: dict[str, tuple[list[str], list]]) -> list[Path]:
    """{name: (header, rows)} -> folder/name.csv each, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, (header, rows) in tables.items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        files.append(path)
    return files
