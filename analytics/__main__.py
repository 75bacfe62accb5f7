"""Command line: python -m analytics ingest|uploads|withdraw|load-sample|report (metrics.md §8).

    python -m analytics ingest --db data/ap.duckdb --map "Learner=pupil_id" autumn.csv spring.xlsx
    python -m analytics uploads --db data/ap.duckdb
    python -m analytics withdraw --db data/ap.duckdb 3
    python -m analytics load-sample --db data/ap.duckdb --if-empty
    python -m analytics report --db data/ap.duckdb --as-of 2025-07-18

Exit codes: 0 when everything asked for was done (rejected rows, skipped sheets and files
already loaded included); 1 when a file could not be read or recognised (nothing from it is
stored; the other files still load) or the store refused; 2 for a mistake in the command.
Problems are printed as sentences on standard error, never as a traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analytics.errors import APDataError

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data" / "files"
MAX_LISTED = 20  # rejected rows / warnings printed per sheet; the rest are counted


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # a sentence and the usage, exit 2 (no traceback)
        self.print_usage(sys.stderr)
        print(f"{self.prog}: {message[0].upper()}{message[1:]}.", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m analytics", description="AP oversight data: load, list, withdraw, report.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def db(sp):
        sp.add_argument("--db", help="the DuckDB file (default: $AP_DB or data/ap.duckdb)")

    ing = sub.add_parser("ingest", help="load files (each sheet is one upload)")
    db(ing)
    ing.add_argument("--map", action="append", default=[], metavar='"Header=column"',
                     help="treat a header as a canonical column (repeatable)")
    ing.add_argument("--user", help="who is loading (recorded in the ledger)")
    ing.add_argument("files", nargs="+", metavar="FILE")

    up = sub.add_parser("uploads", help="list the uploads, newest first")
    db(up)

    wd = sub.add_parser("withdraw", help="withdraw an upload (the data return to the state before it)")
    db(wd)
    wd.add_argument("--user", help="who is withdrawing (recorded in the ledger)")
    wd.add_argument("upload_id", metavar="UPLOAD_ID")

    ls = sub.add_parser("load-sample", help="load the bundled synthetic sample files")
    db(ls)
    ls.add_argument("--if-empty", action="store_true", help="only when the database holds no live upload")
    ls.add_argument("--dir", type=Path, default=SAMPLE_DIR, help=argparse.SUPPRESS)

    sub.add_parser("report", help="print the JSON report (options: python -m analytics report --help)",
                   add_help=False)
    return p


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _mapping(pairs: list[str]) -> dict[str, str]:
    from analytics import schema

    known = {c.name for cols in schema.DATASETS.values() for c in cols}
    out = {}
    for pair in pairs:
        header, sep, column = pair.rpartition("=")
        header, column = header.strip(), column.strip()
        if not sep or not header or not column:
            raise APDataError(f'--map "{pair}" is not of the form "Header=column".')
        if column not in known:
            raise APDataError(f'--map "{pair}": "{column}" is not a column this program knows '
                              f"(for example pupil_id, start_date, provider).")
        out[header] = column
    return out


def _open(db: str | None):
    from analytics.store import Store

    return Store(db) if db else Store()


def _print_result(r) -> None:
    import pandas as pd

    print(r.message)
    if r.status != "loaded":
        return
    for label, frame, col in (("rejected", r.rejects, "reason"), ("warning", r.warnings, "warning")):
        if frame is None or frame.empty:
            continue
        for row in frame.head(MAX_LISTED).itertuples(index=False):
            number = getattr(row, "row_number")
            where = "sheet" if pd.isna(number) else f"row {int(number)}"
            print(f"  {where} {label}: {getattr(row, col)}")
        if len(frame) > MAX_LISTED:
            print(f"  ... and {len(frame) - MAX_LISTED} more {label} lines.")


def _ingest_files(store, files: list[Path], mapping: dict, user: str | None) -> int:
    failed = 0
    for path in files:
        try:
            results = store.ingest_file(path, path.name, mapping=mapping or None, user=user)
        except APDataError as e:
            failed += 1
            _err(f"Not loaded: {e}")
            continue
        except Exception as e:  # a fault, not a user's file: still a sentence, and go on
            failed += 1
            _err(f"Not loaded: {path.name}: an unexpected problem stopped this file ({type(e).__name__}: {e}).")
            continue
        for r in results:
            _print_result(r)
    return 1 if failed else 0


def _cmd_ingest(args) -> int:
    mapping = _mapping(args.map)
    with _open(args.db) as store:
        return _ingest_files(store, [Path(f) for f in args.files], mapping, args.user)


def _cmd_uploads(args) -> int:
    with _open(args.db) as store:
        ledger = store.uploads()
    if ledger.empty:
        print("No uploads yet.")
        return 0
    ledger = ledger.assign(
        status=ledger["withdrawn_at"].map(lambda v: "live" if v is None or v != v else f"withdrawn {v:%Y-%m-%d}"),
        uploaded=ledger["uploaded_at"].map(lambda v: f"{v:%Y-%m-%d %H:%M}"),
        sheet=ledger["sheet"].fillna(""), user_name=ledger["user_name"].fillna(""),
        note=ledger["note"].fillna("") if "note" in ledger.columns else "")
    cols = {"upload_id": "upload", "uploaded": "uploaded (UTC)", "user_name": "user", "file_name": "file",
            "sheet": "sheet", "dataset": "dataset", "rows_accepted": "accepted", "rows_rejected": "rejected",
            "rows_warned": "warned", "status": "status"}
    if ledger["note"].astype(bool).any():   # records removed by hand (Pupil view) say why
        cols["note"] = "why removed"
    print(ledger[list(cols)].rename(columns=cols).to_string(index=False))
    return 0


def _cmd_withdraw(args) -> int:
    with _open(args.db) as store:
        print(store.withdraw(args.upload_id, user=args.user))
    return 0


def _cmd_load_sample(args) -> int:
    folder: Path = args.dir
    files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    if not files:
        _err(f"There are no sample files in {folder}.")
        return 1
    with _open(args.db) as store:
        if args.if_empty and not store.is_empty():
            print("The database already holds data, so the sample was not loaded.")
            return 0
        return _ingest_files(store, files, {}, "sample")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "report":
        try:
            from analytics import report
        except ImportError as e:
            _err(f"The report is not available in this installation ({e}).")
            return 1
        return int(report.main(argv[1:]) or 0)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    commands = {"ingest": _cmd_ingest, "uploads": _cmd_uploads, "withdraw": _cmd_withdraw,
                "load-sample": _cmd_load_sample}
    try:
        return commands[args.command](args)
    except APDataError as e:
        _err(str(e))
        return 2 if args.command == "ingest" and "--map" in str(e) else 1
    except KeyboardInterrupt:
        _err("Stopped. The upload in progress, if any, was not stored.")
        return 130
    except Exception as e:  # never a traceback on the screen
        _err(f"An unexpected problem stopped the command ({type(e).__name__}: {e}).")
        return 1


if __name__ == "__main__":
    sys.exit(main())
