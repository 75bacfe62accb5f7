"""The headless JSON report (metrics.md §8): ``python -m analytics report --db PATH ...``.

``build_report`` assembles the sections from the same functions the dashboard calls;
``main`` is the command line (wired by analytics/__main__.py with the arguments after 'report').
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import importlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb

from analytics import outcomes, population, progress, schema, time_in_ap
from analytics.errors import APDataError, StoreInUse
from analytics.privacy import mask_upns
from analytics.settings import (BOOL_FILTER_COLUMNS, PLACEMENT_FILTER_COLUMNS, REPORT_SETTINGS, SETTING_LIMITS,
                                Filters, Settings, academic_year_start, check_setting, resolve_period)

# Sections written by other modules, each `summary(con, filters, settings, today=None) -> dict`.
SECTIONS = ("population", "time_in_ap", "return_to_mainstream", "progress", "exclusions", "oversight")
_MODULE = {"population": "population", "time_in_ap": "time_in_ap",
           "return_to_mainstream": "outcomes", "progress": "progress",
           "exclusions": "exclusions", "oversight": "oversight"}


# Sections that read the attendance windows build_report works out once for both.
_WINDOWED = ("progress", "oversight")


def section(name: str, con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None, windows: tuple[str, list] | None = None) -> dict:
    """One report section, by its key in metrics.md §8.

    ``windows``: progress.report_windows_sql's rows for these filters, settings and dates, for
    the sections in _WINDOWED (the others do not read attendance).
    """
    module = importlib.import_module(f"analytics.{_MODULE[name]}")
    if windows is not None and name in _WINDOWED:
        return module.summary(con, filters, settings, today, windows=windows)
    return module.summary(con, filters, settings, today)


def build_report(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                 today: date | None = None) -> dict:
    """The report as a dict with exactly the keys of metrics.md §8 (dates as ISO strings)."""
    period = resolve_period(filters, today)
    # Pin as_of and the period so every section describes the same dates, even across midnight.
    filters = replace(filters, as_of=period.as_of, period_start=period.start, period_end=period.end)
    report = {
        "as_of": period.as_of.isoformat(),
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "settings": settings.report_dict(),
    }
    if filters.selects_placements():
        # beside the contract's keys (metrics.md §8 allows more): a filtered report says so
        report["filters"] = filters_dict(filters)
    # The join of attendance with the placements is the report's dearest step: progress and
    # oversight read the same windows, so they are worked out once, into a temporary table that
    # lives only for this call (its own name; dropped at the end), keyed by nothing but this
    # call's filters, settings and dates. TEMP tables work on a read-only connection too.
    table = f"_report_windows_{uuid.uuid4().hex}"
    wsql, wparams = progress.report_windows_sql(filters, settings, period)
    con.execute(f"CREATE TEMP TABLE {table} AS {wsql}", wparams)
    try:
        windows = (f"SELECT * FROM {table}", [])
        for name in SECTIONS:
            report[name] = section(name, con, filters, settings, today, windows)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    return report


def filters_dict(filters: Filters) -> dict:
    """The filters that choose placements, as the report states them: {name: [values]} and
    {name: true/false}, the ones not in use left out."""
    out: dict = {name: list(getattr(filters, name)) for name in PLACEMENT_FILTER_COLUMNS if getattr(filters, name)}
    out.update({name: bool(getattr(filters, name)) for name in BOOL_FILTER_COLUMNS
                if getattr(filters, name) is not None})
    return out


# ---------------------------------------------------------------------------------------------
# Command line

# The dashboard's sidebar filters (metrics.md: "All figures respect the active filters"), so
# that a scheduled report for one provider or group agrees with the dashboard's for the same.
# Coded ones take their codes (data-spec.md); named ones are matched to the loaded data.
_CODED = {"commissioner": ("commissioner", ("school", "la")),
          "setting_type": ("setting-type", schema.SETTING_TYPES),
          "reason": ("reason", schema.REASONS),
          "sen_status": ("sen-status", schema.SEN_STATUSES),
          "sex": ("sex", schema.SEXES),
          "nc_year": ("year-group", ("R", *map(str, range(1, 15)), "X"))}
_NAMED = {"provider": ("provider", "at a provider, by name or URN"),
          "school": ("home school", "of pupils from a home school"),
          "trust": ("trust", "of pupils from a trust's schools")}
_YES_NO = {"cla": "of pupils looked after (yes) or not (no)",
           "fsm": "of pupils eligible for free school meals (yes) or not (no)",
           "out_of_area": "out of the LA's area (yes) or in it (no)"}

class _UserError(Exception):
    """A mistake in the command line, told to the user as one sentence."""


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a date; write it as YYYY-MM-DD, for example 2025-03-14.") from None


def _setting(name: str):
    """argparse type: the setting within the limits the Settings page and shared links use."""
    def parse(text: str):
        try:
            value = check_setting(name, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        # 18 rather than 18.0 in the report, like the defaults.
        return int(value) if isinstance(value, float) and value.is_integer() else value
    return parse


class _Parser(argparse.ArgumentParser):
    """argparse that states the problem in one sentence instead of the whole usage block."""

    def error(self, message: str):
        message = message.rstrip(".")
        self.exit(2, f"report: {message[0].upper()}{message[1:]}. "
                     "('python -m analytics report --help' lists the options.)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m analytics report",
        description="Print the AP oversight report (docs/metrics.md §8) as one JSON object.")
    parser.add_argument("--db", required=True, metavar="PATH", help="the DuckDB file written by 'ingest'")
    parser.add_argument("--as-of", type=_iso_date, metavar="YYYY-MM-DD",
                        help="the date the figures describe (default today)")
    parser.add_argument("--from", dest="period_start", type=_iso_date, metavar="YYYY-MM-DD",
                        help="start of the reporting period (default 1 September before as-of)")
    parser.add_argument("--to", dest="period_end", type=_iso_date, metavar="YYYY-MM-DD",
                        help="end of the reporting period (default and at most as-of)")
    for name, (_, which) in _NAMED.items():
        parser.add_argument(f"--{name}", action="append", default=[], metavar="NAME",
                            help=f"only placements {which} (repeat for more than one)")
    for name, (flag, codes) in _CODED.items():
        what = "the year group at the placement's start" if name == "nc_year" else f"{flag.replace('-', ' ')}"
        parser.add_argument(f"--{flag}", dest=name, action="append", default=[], choices=codes, metavar="CODE",
                            help=f"only placements with this {what}: {', '.join(codes)} (repeat for more than one)")
    for name, words in _YES_NO.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, choices=("yes", "no"),
                            help=f"only placements {words}")
    defaults = Settings()
    for name in REPORT_SETTINGS:
        lo, hi, _ = SETTING_LIMITS[name]
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=_setting(name),
                            metavar="N", help=f"default {getattr(defaults, name)}, from {lo:g} to {hi:g}")
    return parser


def _settings_from(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> Settings:
    """The command line's settings, with the holiday calendar and measure directions the user
    saved in the database."""
    settings = Settings().with_overrides(**{k: getattr(args, k) for k in REPORT_SETTINGS})
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    holidays = directions = ()
    if "holidays" in tables:
        holidays = tuple(r[0] for r in con.execute(
            "SELECT DISTINCT date FROM holidays WHERE date IS NOT NULL ORDER BY 1").fetchall())
    if "measure_directions" in tables:
        directions = tuple((k, bool(v)) for k, v in con.execute(
            "SELECT measure_key, higher_is_better FROM measure_directions "
            "WHERE higher_is_better IS NOT NULL ORDER BY 1").fetchall())
    return settings.with_overrides(holidays=holidays, measure_directions=directions)


# The stored values a named filter is matched against (the dashboard's URL takes these values
# as they are; a person typing a command gives a name as they know it).
_NAMED_SQL = {
    "provider": "SELECT DISTINCT provider_key, provider, provider_urn FROM placements WHERE provider_key IS NOT NULL",
    "school": "SELECT DISTINCT home_school, home_school, NULL FROM placements WHERE home_school IS NOT NULL",
    "trust": "SELECT DISTINCT trust, trust, NULL FROM placements WHERE trust IS NOT NULL",
}


def _filters_from(con: duckdb.DuckDBPyConnection, args: argparse.Namespace) -> dict:
    """The command line's filters as Filters fields. A name is matched ignoring case and spaces
    at the ends (a provider also by its URN); one that matches nothing loaded is a mistake, said
    with the nearest names, rather than a report of nobody."""
    out: dict = {name: tuple(dict.fromkeys(getattr(args, name))) for name in _CODED if getattr(args, name)}
    out.update({name: getattr(args, name) == "yes" for name in _YES_NO if getattr(args, name) is not None})
    for name in _NAMED:
        wanted = getattr(args, name)
        if not wanted:
            continue
        rows = con.execute(_NAMED_SQL[name]).fetchall()
        keys: list[str] = []
        for text in wanted:
            norm = text.strip().casefold()
            found = [str(k) for k, label, urn in rows
                     if norm in (str(k).strip().casefold(), str(label or "").strip().casefold(),
                                 str(urn or "").strip().casefold())]
            if not found:
                near = difflib.get_close_matches(text, sorted({str(label) for _, label, _ in rows if label}), n=3)
                raise _UserError(f"--{name} '{text}' matches no {_NAMED[name][0]} in the loaded placements"
                                 + (f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else "."))
            keys += found
        out[name] = tuple(dict.fromkeys(keys))
    return out


def _connect(path: str, stack: contextlib.ExitStack) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the database; closed (and any copy removed) with `stack`."""
    if not Path(path).exists():
        raise _UserError(f"There is no database at {path}: run 'python -m analytics ingest "
                         f"--db {path} FILE ...' first, or check the path.")
    try:
        from analytics.store import Store
    except ModuleNotFoundError as e:  # the store module is optional for a plain DuckDB file
        if e.name != "analytics.store":
            raise
        try:
            con = duckdb.connect(path, read_only=True)
        except duckdb.Error as err:
            raise _UserError(f"The database {path} could not be opened: {err}") from None
        stack.callback(con.close)
        return con
    try:
        con = Store(path, read_only=True).con
    except StoreInUse:
        # The dashboard holds the file (DuckDB lets no other process read it meanwhile): a
        # scheduled report reads a copy of its last saved state instead of failing.
        con = Store(_committed_copy(path, stack), read_only=True).con
    stack.callback(con.close)
    return con


_COPY_PREFIX = ".report-copy-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:   # someone else's process: it exists
        return True
    return True


def _clear_stale_copies(where: Path | None) -> None:
    """Remove copies left by a report that was killed (a cron time-out, a reboot): each folder
    is named after the process that made it, and one whose process has gone is a full copy of
    the children's data lying out of sight of any backup or retention plan (a data protection
    review found one after kill -9)."""
    folder = Path(tempfile.gettempdir()) if where is None else where
    for old in folder.glob(f"{_COPY_PREFIX}*"):
        pid = old.name[len(_COPY_PREFIX):].split("-", 1)[0]
        if old.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)


def _committed_copy(path: str, stack: contextlib.ExitStack) -> Path:
    from analytics.store import committed_copy
    folder = None
    for where in (Path(path).resolve().parent, None):   # beside the database, else the system's temp
        try:
            _clear_stale_copies(where)
            folder = Path(tempfile.mkdtemp(prefix=f"{_COPY_PREFIX}{os.getpid()}-", dir=where))
            break
        except OSError:
            continue
    if folder is None:
        raise _UserError(f"The database {path} is open in another program (the dashboard?), and no folder "
                         "could be made for a copy to report from.")
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    copy = folder / Path(path).name
    try:
        whole = committed_copy(path, copy)
    except OSError as e:
        raise _UserError(f"The database {path} is open in another program (the dashboard?), and copying it "
                         f"to report from failed ({e.strerror or e}).") from None
    if not whole:
        raise _UserError(f"The database {path} is open in another program and was being written to "
                         "throughout (an upload?): try again when it has finished.")
    print(f"report: {path} is open in another program (the dashboard?); the report is of a copy of "
          f"everything saved in it at {datetime.now():%H:%M:%S}.", file=sys.stderr)
    return copy


def _json_default(value):
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def main(argv: list[str] | None = None) -> int:
    """Run the report command; returns the exit code (2 for a user's mistake)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed the usage and the problem
        return int(e.code or 0)
    try:
        with contextlib.ExitStack() as stack:
            con = _connect(args.db, stack)
            settings = _settings_from(con, args)
            filters = Filters(as_of=args.as_of, period_start=args.period_start,
                              period_end=args.period_end, **_filters_from(con, args))
            report = build_report(con, filters, settings)
            stale = None if args.as_of is not None else _stale_note(con, resolve_period(filters).as_of)
    except (_UserError, APDataError) as e:
        print(mask_upns(f"report: {e}"), file=sys.stderr)   # it may quote a name the user typed
        return 2
    except duckdb.Error as e:
        print(f"report: the database {args.db} could not be read ({e}). "
              "Is it a database written by 'python -m analytics ingest'?", file=sys.stderr)
        return 1
    if stale:
        print(f"report: {stale}", file=sys.stderr)
    json.dump(report, sys.stdout, default=_json_default)
    sys.stdout.write("\n")
    return 0


def _stale_note(con: duckdb.DuckDBPyConnection, as_of: date) -> str | None:
    """A warning when the report is as of today (metrics.md's default) but the loaded placements
    all lie before this academic year (the dashboard then opens on their last date instead):
    every placement still open in the last file counts as open, long and unreviewed today."""
    try:
        [(last,)] = con.execute("SELECT max(greatest(start_date, end_date)) FROM placements "
                                "WHERE start_date <= ?", [as_of]).fetchall()
    except duckdb.Error:   # a plain DuckDB file without placements: nothing to say
        return None
    if last is None or last >= academic_year_start(as_of):
        return None
    return (f"the report is as of {as_of:%Y-%m-%d} (today), but the newest date in the loaded placements is "
            f"{last:%Y-%m-%d}: nothing is loaded for this academic year, so every placement open then counts as "
            f"still open now. Give --as-of {last:%Y-%m-%d} for the figures as the data stand.")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
