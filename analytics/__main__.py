"""Command line: python -m analytics ingest|uploads|access-log|subject-access|withdraw|put-back|load-sample|report
(metrics.md §8).

    python -m analytics ingest --db data/ap.duckdb --map "Learner=pupil_id" autumn.csv spring.xlsx
    python -m analytics ingest --db data/ap.duckdb --check spring.csv   # what it would change; nothing stored
    python -m analytics uploads --db data/ap.duckdb
    python -m analytics access-log --db data/ap.duckdb --case C-1A2B3C4    # who opened that child's records
    python -m analytics subject-access --db data/ap.duckdb --case C-1A2B3C4 --out sar.xlsx
    python -m analytics withdraw --db data/ap.duckdb 3
    python -m analytics put-back --db data/ap.duckdb 3                  # undo that withdrawal
    python -m analytics load-sample --db data/ap.duckdb --if-empty
    python -m analytics report --db data/ap.duckdb --as-of 2025-07-18

`ingest` says, for each sheet, how many stored records it changed and how (the Upload page's
check). The newer upload wins (data-spec §6), so a sheet that looks older than the records it
changes (its newest date before theirs: an old term's file, which puts its values back over newer
ones) is loaded with a warning that says how to withdraw it; with --refuse-older it is held back
instead (the other sheets and files still load).

Exit codes (metrics.md §8): 0 when every file was read (rejected rows, skipped sheets, files
already loaded and older sheets loaded with a warning included); 1 when a file could not be read
or recognised, or the store refused, or with --refuse-older a sheet was held back (nothing from
it is stored; the other files still load); 2 for a mistake in the command.
Problems are printed as sentences on standard error, never as a traceback.
"""
from __future__ import annotations

import argparse
import builtins
import contextlib
import os
import sys
from pathlib import Path

from analytics.errors import APDataError
from analytics.privacy import mask_upns


def print(*args, **kwargs) -> None:  # noqa: A001 - every line this module writes, UPNs hidden
    """builtins.print with UPNs hidden: file names (often a child's) and messages quoting them
    (security.md invariant 9: UPNs are never shown anywhere by default)."""
    builtins.print(*(mask_upns(a) if isinstance(a, str) else a for a in args), **kwargs)

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
    ing.add_argument("--check", action="store_true",
                     help="say what each file would change, and store nothing")
    older = ing.add_mutually_exclusive_group()
    older.add_argument("--refuse-older", action="store_true",
                       help="hold back a sheet that looks older than the records it would change (exit 1)")
    older.add_argument("--allow-older", action="store_true",
                       help="load such a sheet with a warning: the default (metrics.md §8), kept for scripts")
    ing.add_argument("files", nargs="+", metavar="FILE")

    up = sub.add_parser("uploads", help="list the uploads, newest first")
    db(up)

    wd = sub.add_parser("withdraw", help="withdraw an upload (the data return to the state before it)")
    db(wd)
    wd.add_argument("--user", help="who is withdrawing (recorded in the ledger)")
    wd.add_argument("upload_id", metavar="UPLOAD_ID")

    pb = sub.add_parser("put-back", help="undo a withdrawal (the upload is live again in its own place)")
    db(pb)
    pb.add_argument("--user", help="who is putting it back (recorded in the ledger)")
    pb.add_argument("upload_id", metavar="UPLOAD_ID")

    al = sub.add_parser("access-log", help="who opened or downloaded which named records (pupil views, case lists, "
                                           "files of named rows), newest first")
    db(al)
    al.add_argument("--case", help="one case number's pupil views, and the case lists and files that held it")

    sa = sub.add_parser("subject-access", help="everything held on one pupil, as an Excel file (a subject "
                                               "access request)")
    db(sa)
    who = sa.add_mutually_exclusive_group(required=True)
    who.add_argument("--case", help="the pupil's case number (C-...)")
    who.add_argument("--pupil-id", help="the pupil's UPN or local ID, as loaded")
    sa.add_argument("--out", required=True, type=Path, metavar="FILE.xlsx", help="the workbook to write")
    sa.add_argument("--user", help="who is making it (recorded in the access log; else this computer's login)")

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


def _open(db: str | None, must_exist: bool = False):
    """The store; `must_exist` for commands that only read or change what is there, so a
    mistyped --db is said, not answered from a new empty database made at that path."""
    from analytics.errors import StoreError
    from analytics.store import Store

    path = Path(db) if db else Store.default_path()
    if must_exist and not path.exists():
        raise StoreError(f"There is no database at {path}: check the --db path (or AP_DB).")
    return Store(path)


@contextlib.contextmanager
def _open_to_read(db: str | None):
    """The store read-only; while another program holds the file (the dashboard), a copy of
    everything saved in it, as `report` reads (a DPO answering a request need not stop the
    dashboard)."""
    from analytics.errors import StoreError, StoreInUse
    from analytics.report import _committed_copy, _UserError
    from analytics.store import Store

    path = Path(db) if db else Store.default_path()
    if not path.exists():
        raise StoreError(f"There is no database at {path}: check the --db path (or AP_DB).")
    with contextlib.ExitStack() as stack:
        try:
            store = Store(path, read_only=True)
        except StoreInUse:
            try:
                store = Store(_committed_copy(str(path), stack), read_only=True)
            except _UserError as e:   # written to throughout, or no folder for a copy
                raise StoreError(str(e)) from None
        stack.callback(store.close)
        yield store


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


def _changes(pv, done: bool) -> str:
    """What a sheet changed (`done`) or would change, in one sentence: the Upload page's check."""
    if pv.duplicate_of is not None:
        return f"is already loaded as upload {pv.duplicate_of}, so it {'changed' if done else 'would change'} nothing"
    change, add, merge = ("changed", "added", "merged") if done else ("would change", "would add", "would merge")
    kind = {"placements": "placement", "attendance": "attendance period", "exclusions": "exclusion",
            "assessments": "assessment"}[pv.dataset]

    def n(count: int) -> str:
        return f"{count:,} {kind}{'s' if count != 1 else ''}"

    if not pv.changed and not pv.merged:
        return f"{add} {n(pv.added)} and {'changed' if done else 'change'} none already stored"
    text = (f"{change} {n(pv.changed)} already stored ("
            + (", ".join(pv.change_phrases()) or "their provider is identified differently") + ")")
    if pv.merged:
        text += f", {merge} {n(pv.merged)} into another with the same pupil and start date"
    return text + (f" and {add} {n(pv.added)}" if pv.added else "")


def _older(pv, where: str, lead: str = "Not loaded", upload_id: int | None = None, db: str = "PATH") -> str:
    """The older-sheet warning: before a load (``lead``: "Would ..." with --check, "Not loaded"
    with --refuse-older) or after one (``upload_id``: how to take it back)."""
    rows = list(pv.changed_rows)
    listed = ", ".join(str(r) for r in rows[:20]) + (f" and {len(rows) - 20:,} more" if len(rows) > 20 else "")
    rows_text = f" ({'row' if len(rows) == 1 else 'rows'} {listed})" if rows else ""
    if upload_id is not None:
        return (f"Warning: {where} looks older than what it changed: its newest date is "
                f"{pv.newest_in_file:%d/%m/%Y}, but the records it changed held dates up to "
                f"{pv.newest_in_changed:%d/%m/%Y}. As the newer upload, it replaced their values (an end date it "
                f"leaves blank reopens a placement){' in ' + rows_text.strip()[1:-1] if rows else ''}. If it is "
                f"an older term's file, undo it with: python -m analytics withdraw --db {db} {upload_id}")
    return (f"{lead}: {where} looks older than what it would change: its newest date is "
            f"{pv.newest_in_file:%d/%m/%Y}, but the records it would change hold dates up to "
            f"{pv.newest_in_changed:%d/%m/%Y}. Loading it would put its values back over the newer ones "
            "(reopening placements whose end date it leaves blank, say). If it is an older term's file, delete "
            "the rows that change what is stored" + rows_text
            + " and load the rest" + ("; without --refuse-older it is loaded as it is, with a warning."
                                     if lead == "Not loaded" else "; ingest loads it as it is (add "
                                     "--refuse-older to hold it back)."))


def _check_then_load(store, path: Path, mapping: dict, user: str | None, check: bool,
                     refuse_older: bool, db: str = "PATH") -> int:
    """ingest: each sheet's changes worked out first (a rolled-back load, Store.preview_changes),
    then stored unless --check; one that looks older than what it changes is stored with a
    warning, or held back with --refuse-older. 1 when any sheet was held back."""
    from analytics.store import Store, _where

    sheets, digest = Store.read_source(path, path.name, mapping or None)
    held = 0
    for sheet in sheets:
        where = _where(sheet.file_name, sheet.sheet)
        if sheet.dataset is None:
            if check:
                print(f"{where}: would be skipped. {sheet.skipped_reason or 'It does not look like any dataset.'}")
            else:
                for r in store.ingest_parsed([sheet], digest, user=user):
                    _print_result(r)
            continue
        pv = store.preview_changes(sheet, digest)
        if check:
            print(f"{where} ({sheet.dataset}): {_changes(pv, done=False)}.")
            for notice in (pv.same_pupil, pv.two_open):   # one child under two IDs; a record left open
                if notice:
                    print(f"  {notice}")
            if pv.older_than_stored:
                print("  " + _older(pv, where, lead="Would load with a warning"))
            continue
        if pv.older_than_stored and refuse_older:
            _err(_older(pv, where))
            held += 1
            continue
        for r in store.ingest_parsed([sheet], digest, user=user):
            _print_result(r)
            if r.status == "loaded":
                print(f"  It {_changes(pv, done=True)}.")
                if pv.older_than_stored:
                    _err(_older(pv, where, upload_id=r.upload_id, db=db))
    return 1 if held else 0


def _ingest_files(store, files: list[Path], mapping: dict, user: str | None, checked: bool = False,
                  check: bool = False, refuse_older: bool = False, db: str = "PATH") -> int:
    """Each file in turn. `checked`: say what each sheet changes, and warn of (or with
    `refuse_older` hold back) one that looks older than what it changes (ingest); load-sample
    loads without (its files are in order)."""
    failed = 0
    for path in files:
        try:
            if checked:
                failed += _check_then_load(store, path, mapping, user, check, refuse_older, db)
                continue
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
    with _open(args.db, must_exist=args.check) as store:
        return _ingest_files(store, [Path(f) for f in args.files], mapping, args.user, checked=True,
                             check=args.check, refuse_older=args.refuse_older, db=str(store.path))


def _cmd_uploads(args) -> int:
    with _open(args.db, must_exist=True) as store:
        ledger = store.uploads()
        dates = store.upload_dates()
    if ledger.empty:
        print("No uploads yet.")
        return 0
    ledger = ledger.merge(dates, on="upload_id", how="left")
    ledger = ledger.assign(
        dates=[f"{a:%Y-%m-%d}..{b:%Y-%m-%d}" if a == a and b == b else ""   # NaT: a removal by hand
               for a, b in zip(ledger["first_date"], ledger["latest_date"])],
        status=[("live" if b is None or b != b else f"live, put back {b:%Y-%m-%d}") if w is None or w != w
                else f"withdrawn {w:%Y-%m-%d}" for w, b in zip(ledger["withdrawn_at"], ledger["put_back_at"])],
        uploaded=ledger["uploaded_at"].map(lambda v: f"{v:%Y-%m-%d %H:%M}"),
        sheet=ledger["sheet"].fillna(""), user_name=ledger["user_name"].fillna(""),
        note=ledger["note"].fillna("") if "note" in ledger.columns else "")
    cols = {"upload_id": "upload", "uploaded": "uploaded (UTC)", "user_name": "user", "file_name": "file",
            "sheet": "sheet", "dataset": "dataset", "dates": "dates in it", "rows_accepted": "accepted", "rows_rejected": "rejected",
            "rows_warned": "warned", "status": "status"}
    if ledger["note"].astype(bool).any():   # records removed by hand (Pupil view) say why
        cols["note"] = "why removed"
    print(ledger[list(cols)].rename(columns=cols).to_string(index=False))
    return 0


def _cmd_access_log(args) -> int:
    import pandas as pd

    case = (args.case or "").strip().upper() or None
    with _open_to_read(args.db) as store:
        log = store.access_log(case, limit=100_000)
    if log.empty:
        print("Nothing recorded" + (f" for {case}." if case else " yet."))
        return 0
    log = log.assign(opened_at=log["opened_at"].map(lambda v: f"{v:%Y-%m-%d %H:%M:%S}"),
                     user_name=log["user_name"].map(lambda u: u if isinstance(u, str) and u else "(sign-in off)"),
                     case_number=log["case_number"].fillna(""), detail=log["detail"].fillna(""),
                     listed=log["listed"].map(lambda n: "" if pd.isna(n) else f"{int(n):,}"))
    # the screen's "Cases listed" too: how many children a list or a file held
    cols = {"opened_at": "when (UTC)", "user_name": "who", "action": "what", "case_number": "case",
            "listed": "cases listed", "detail": "detail"}
    print(log[list(cols)].rename(columns=cols).to_string(index=False))
    return 0


def _cmd_subject_access(args) -> int:
    from datetime import datetime

    import pandas as pd

    from analytics import exports, privacy, subject_access
    from analytics.store import Store

    if args.out.suffix.lower() != ".xlsx":
        _err("--out must name an .xlsx file.")
        return 2
    path = Path(args.db) if args.db else Store.default_path()
    key = privacy.read_case_key(path)
    with _open_to_read(args.db) as store:
        con = store.con.cursor()
        known = [r[0] for r in con.execute(" UNION ".join(
            f"SELECT DISTINCT pupil_id FROM ledger_{ds}" for ds in subject_access.DATASETS)).fetchall()]
        if args.case:
            case = args.case.strip().upper()
            if key is None:
                _err(f"There is no case_key beside {path}, so case numbers cannot be looked up: give --pupil-id.")
                return 2
            ids = [p for p in known if privacy.case_number(p, key) == case]
        else:
            wanted = args.pupil_id.strip().upper()
            ids = [p for p in known if str(p).upper() == wanted]
            case = privacy.case_number(ids[0], key) if ids and key else None
        if not ids:
            _err(f"No pupil {'with case number ' + case if args.case else 'with that ID'} is in the database "
                 "(nor in any withdrawn upload).")
            return 1
        sheets = subject_access.gather(con, ids, case)
    about = pd.DataFrame([
        ("What this is", "Everything the AP oversight store holds on one pupil, for a subject access request: "
                         "the current records, every row any upload brought (superseded and withdrawn ones "
                         "included) and removals by hand, rejected rows holding their ID or their name and date "
                         "of birth, and who opened their records."),
        ("Case number", case or "(no case_key: not known)"),
        ("Made", f"{datetime.now():%d/%m/%Y %H:%M}"),
        ("Protective marking", "OFFICIAL-SENSITIVE: personal data about a child. Check it for other "
                               "people's data before it is sent."),
        *[(name, f"{n:,} rows") for name, n in subject_access.counts(sheets)]], columns=["About this file", ""])
    data = exports.to_xlsx_bytes({"About this file": about, **sheets}, marking="OFFICIAL-SENSITIVE")
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    print(f"Wrote {args.out.name} for {case or 'the pupil'}: "
          + "; ".join(f"{name} {n:,}" for name, n in subject_access.counts(sheets)) + ".")
    _record_subject_access(args, case)
    return 0


def _record_subject_access(args, case: str | None) -> None:
    """The file is a copy of everything held on a child: recorded in the access log, as the
    dashboard's downloads are, when the database can be written (not while the dashboard holds
    it: then said, so that it can be noted by hand)."""
    import getpass

    from analytics import privacy
    from analytics.errors import APDataError, StoreInUse

    user = args.user or f"{getpass.getuser()} (command line)"
    try:
        with _open(args.db, must_exist=True) as store:
            store.log_access("subject access", case, privacy.mask_upns(args.out.name), user=user,
                             cases=[case] if case else ())
    except StoreInUse:
        print("Not recorded in the access log: the dashboard holds the database. Note who made this file "
              "and when, or run the command again once the dashboard is stopped.")
    except APDataError as e:
        print(f"Not recorded in the access log: {e}")


def _cmd_withdraw(args) -> int:
    with _open(args.db, must_exist=True) as store:
        print(store.withdraw(args.upload_id, user=args.user))
    return 0


def _cmd_put_back(args) -> int:
    with _open(args.db, must_exist=True) as store:
        print(store.put_back(args.upload_id, user=args.user))
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
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # the reader of a pipe stopped early (`... | head`): not a problem to report. Python's
        # own recipe: point stdout at devnull so the flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
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
    commands = {"ingest": _cmd_ingest, "uploads": _cmd_uploads, "access-log": _cmd_access_log,
                "subject-access": _cmd_subject_access,
                "withdraw": _cmd_withdraw,
                "put-back": _cmd_put_back, "load-sample": _cmd_load_sample}
    try:
        return commands[args.command](args)
    except APDataError as e:
        _err(str(e))
        return 2 if args.command == "ingest" and "--map" in str(e) else 1
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        _err("Stopped. The upload in progress, if any, was not stored.")
        return 130
    except Exception as e:  # never a traceback on the screen
        _err(f"An unexpected problem stopped the command ({type(e).__name__}: {e}).")
        return 1


if __name__ == "__main__":
    sys.exit(main())
