"""The DuckDB store: schema version, append-only uploads ledger, current-state tables, withdraw.

Everything a user uploaded is kept: `uploads` (one row per uploaded sheet), one ledger table per
dataset (`ledger_placements`, ...) holding every accepted row as typed, and `rejected_rows`.
Nothing is ever deleted; withdrawing an upload marks it. The current-state tables
(`placements`, `attendance`, `exclusions`, `assessments`) are a pure function of the live
(non-withdrawn) ledger, rebuilt with set-based SQL inside the same transaction as the upload or
withdrawal that changed them. Being a pure function of the live uploads is what makes a
withdrawal restore the state before the upload exactly (data-spec §6, security invariant 4).

Rules of the current state (data-spec §6), per dataset key:

- uploads are ordered by `upload_id` (the order they were stored); within an upload, rows by
  `row_number`. For every column, the newest row *whose upload carries that column* wins,
  blank cells included; a column no live upload carries is blank.
- Display text is the newest non-blank seen: `provider`, `measure`, `setting`. The provider
  identifiers `provider_urn` / `provider_ukprn` are the newest non-blank too, as resolved for
  the provider key (they are the record's identity: a file that names the provider without a
  URN must not wipe it, and a placement named by a provider whose URN is known gets that URN,
  so `registered` derives true for it).
- Provider key (placements), worked out on the live ledger:
  1. `provider_urn` when given;
  2. else `provider_ukprn`, replaced by the URN seen with that UKPRN on another live row when
     there is one (so URN+UKPRN in autumn and UKPRN alone in spring are one provider);
  3. else the identifier (1 or 2) of the newest live row with the same provider name
     (trimmed, case-folded: schema.fold_sql);
  4. else the provider name, trimmed and case-folded.
  Identifiers are trimmed; the key carries no prefix (a 6-digit URN, an 8-digit UKPRN or a
  name), like tests/factories.py.
- `registered` when blank: true with a URN or UKPRN, false for an unregistered setting type,
  else null; `nc_year` when blank: from date_of_birth and start_date (age on 31 August before
  the academic year of the start: 4 -> R, 5 -> 1, ... 18 -> 14; other ages stay blank).
- `placement_id`: the first 16 hex digits of md5("pupil_id|provider_key|start_date").
- `setting_key` / `measure_key`: trimmed, case-folded (Python's str.casefold: 'Maß' is 'mass');
  a blank setting has setting_key ''.

Duplicates: each sheet is recorded under sha256(f"{sha256 of the file's bytes}\0{sheet name}")
(sheet name '' for a CSV); a sheet whose hash is already live is reported as a duplicate.
Uploads are re-derived in part: only the records an upload can touch (see Store._rebuild);
`rebuild_all()` re-derives everything (use it after a migration that changes the rules).

Before a load, `preview_changes(sheet)` says what it would change: it applies the sheet with the
code a load uses, inside a transaction that is always rolled back, and compares the current
state before and after by key (so an older file loaded after a newer one, which the rules
above let overwrite it, can be caught before **Load**).

>>> sorted(_key_sql("exclusions"))
['category', 'pupil_id', 'start_date']
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics import schema
from analytics.errors import IngestError, StoreError, StoreInUse

Progress = Callable[[float, str], None]

DEFAULT_PATH = "data/ap.duckdb"

# A row's place in history: newer upload first, then later row in the same upload.
_SEQ = "(CAST(upload_id AS BIGINT) * 4294967296 + row_number)"

# Columns whose current value is the newest non-blank one rather than "newest carried".
_NEWEST_NON_BLANK = {
    "placements": ("provider", "provider_urn", "provider_ukprn"),
    "attendance": ("setting",),
    "exclusions": (),
    "assessments": ("measure",),
}

# A provider name as a key: trimmed and case-folded (data-spec §6)
_NAME_KEY = schema.fold_sql("trim(provider)")

# Columns ingest derives from another carried column: carried whenever their source is.
_DERIVED_FROM = {"ethnicity_group": "ethnicity"}


@dataclass
class UploadResult:
    upload_id: int | None
    file_name: str
    sheet: str | None
    dataset: str | None
    status: str                      # "loaded" | "duplicate" | "skipped"
    accepted: int = 0
    rejected: int = 0
    warned: int = 0
    summary_rows: int = 0
    message: str = ""
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"row_number": pd.Series(dtype="Int64"), "reason": pd.Series(dtype=object),
         "original": pd.Series(dtype=object)}))
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"row_number": pd.Series(dtype="Int64"), "warning": pd.Series(dtype=object)}))


@dataclass(frozen=True)
class ColumnChange:
    """How one column of the records an upload would change changes: `cleared` (a stored value
    made blank), `filled` (a blank given a value) and `altered` (one value replaced by another)."""
    column: str
    cleared: int = 0
    filled: int = 0
    altered: int = 0


@dataclass(frozen=True)
class RecordChange:
    """One stored record an upload would change: its pupil, date and provider (or setting,
    category, measure), and (column, stored value, value after the upload) for each change."""
    pupil_id: str
    when: date | None
    what: str | None
    changes: tuple[tuple[str, object, object], ...]


@dataclass(frozen=True)
class ChangePreview:
    """What loading one sheet would do to the current state (Store.preview_changes).

    `added`: records not stored before. `changed`: records already stored whose values would
    change (a placement whose provider identity changes, say from a name to a URN, counts once
    here). `merged`: records that would stop existing on their own, folded into another record
    (a placement stored under a provider name that the upload ties to a URN already stored).
    `newest_in_file` is the newest event date among the file's rows; `newest_in_changed` the
    newest among the stored values of the records it would change (placements: start, end and
    last review dates; attendance: period dates; exclusions: start date; assessments: date).
    """
    dataset: str | None
    duplicate_of: int | None = None
    added: int = 0
    changed: int = 0
    merged: int = 0
    columns: tuple[ColumnChange, ...] = ()
    examples: tuple[RecordChange, ...] = ()
    newest_in_file: date | None = None
    newest_in_changed: date | None = None
    # (row, the earlier row it repeats) for rows of the sheet that are the same record as an
    # earlier row of it: only the later row's values are kept (Store._repeated_rows)
    repeated: tuple[tuple[int, int], ...] = ()
    # attendance: records it would add for a pupil's period already stored under another
    # setting (or none): both count, so that period's possible sessions add up twice
    other_setting: int = 0
    # placements: same_pupil_notice() when pupils of the sheet share a first name, last name and
    # date of birth with a different pupil ID in the state after the load (Store._same_pupil)
    same_pupil: str | None = None
    # the sheet's rows (row numbers as in the file) whose records change stored values: what to
    # delete from an older file before loading it (placements matched by pupil and start date)
    changed_rows: tuple[int, ...] = ()
    # placements: two_open_notice() when a pupil of the sheet would have two open placements at
    # one provider, one of them stored before (a start date corrected: Store._two_open)
    two_open: str | None = None

    def change_phrases(self, name: Callable[[str], str] = lambda c: c.replace("_", " "),
                       most: int = 6) -> list[str]:
        """'end date cleared on 3', ...: values lost first, then values replaced, then blanks
        filled in, the most records first within each; past `most`, how many more. `name` turns
        a column into the words shown (the pages pass their labels)."""
        phrases = []
        for c in self.columns:
            for rank, count, verb in ((0, c.cleared, "cleared"), (1, c.altered, "changed"), (2, c.filled, "filled in")):
                if count:
                    phrases.append((rank, -count, f"{name(c.column)} {verb} on {count:,}"))
        phrases.sort(key=lambda p: p[:2])
        if len(phrases) <= most + 3:   # a few more are named, not counted ("and 1 more change" hid which)
            return [p[2] for p in phrases]
        rest = phrases[most:]
        return [p[2] for p in phrases[:most]] + [
            f"and {len(rest)} more change{'s' if len(rest) != 1 else ''} to other columns"
            + (" (blanks filled in)" if all(p[0] == 2 for p in rest) else "")]

    @property
    def older_than_stored(self) -> bool:
        """The records it would change already hold a later date than any in the file."""
        return (self.newest_in_file is not None and self.newest_in_changed is not None
                and self.newest_in_file < self.newest_in_changed)


# Dates that record something that happened (not a plan), per dataset: what makes one file
# newer than another.
_EVENT_DATES = {
    "placements": ("start_date", "end_date", "last_review_date"),
    "attendance": ("period_start", "period_end"),
    "exclusions": ("start_date",),
    "assessments": ("date",),
}
# What makes two rows the same record, in words (data-spec §6), for the repeated-rows notice.
_SAME_RECORD = {
    "placements": ("placement", "pupil, provider and start date"),
    "attendance": ("attendance period", "pupil, dates and setting"),
    "exclusions": ("exclusion", "pupil, start date and type"),
    "assessments": ("assessment", "pupil, measure and date"),
}


def repeated_rows_notice(dataset: str, pairs: Sequence[tuple[int, int]], shown: int = 10) -> str:
    """A sentence about rows of one sheet that repeat an earlier row's record (pairs: (later row,
    earlier row)).

    >>> repeated_rows_notice("placements", [(3, 2)])
    'Row 3 repeats the placement in row 2 (the same pupil, provider and start date): only row 3, the later, is kept.'
    >>> repeated_rows_notice("placements", [(3, 2), (9, 4)])
    '2 rows repeat placements given earlier in this sheet (the same pupil, provider and start date): row 3 repeats row 2 and row 9 repeats row 4. Only the later row of each pair is kept.'
    """
    thing, words = _SAME_RECORD[dataset]
    if len(pairs) == 1:
        [(later, first)] = pairs
        return (f"Row {later} repeats the {thing} in row {first} (the same {words}): only row {later}, the later, "
                "is kept.")
    items = [f"row {r} repeats row {f}" for r, f in pairs[:shown]]
    if len(pairs) > shown:
        items.append(f"{len(pairs) - shown} more")
    listed = f"{', '.join(items[:-1])} and {items[-1]}"
    return (f"{len(pairs)} rows repeat {thing}s given earlier in this sheet (the same {words}): {listed}. "
            "Only the later row of each pair is kept.")


def same_pupil_notice(pupils: int, rows: Sequence[int], shown: int = 10, in_sheet: bool = True,
                      stored: Sequence[str] = (), in_batch: Sequence[str] = (),
                      loaded_as: int | None = None) -> str:
    """A sentence about pupils of a placements sheet who appear under more than one pupil ID,
    and what puts it right.

    It names rows of the sheet and uploads only, never a name or an ID (UPNs are never shown).
    ``in_sheet``: the other IDs include rows of this sheet; ``stored``: the uploads holding the
    others ('upload 12 (autumn.csv)'); ``in_batch``: files ahead of this one in a batch being
    checked; ``loaded_as``: this sheet's upload number once loaded (None: being checked). A file
    with the ID put right cannot replace the record under the wrong one, since the ID is part
    of every record's key (data-spec §6): the remedy is to remove the record under the wrong ID
    by hand (the Pupil view's "Correct this pupil's records", Store.remove_records), or to
    correct this file before it is loaded.

    >>> same_pupil_notice(1, [4, 9])
    '1 pupil appears under more than one pupil ID: rows 4 and 9 of this sheet have the same first name, last name and date of birth as a pupil with another ID, in this sheet. If it is the same child, one ID is mistyped, and the child counts as two pupils until the record under the wrong ID goes: a later file with the ID put right adds a record beside it, not in its place, since the ID is part of every record. Correct the wrong ID in this file before loading.'
    >>> print(same_pupil_notice(1, [2], in_sheet=False, stored=["upload 12 (autumn.csv)"], loaded_as=15)
    ...       .split("every record. ")[1])
    If the ID in upload 12 (autumn.csv) is the wrong one, open that pupil's case in the Pupil view and remove the record under "Correct this pupil's records" (the case list names the upload that brought each ID). If this sheet's ID is the wrong one, withdraw this upload (15), correct the file and upload it again.
    """
    items = [str(r) for r in rows[:shown]]
    if len(rows) > shown:
        items.append(f"{len(rows) - shown} more")
    listed = _and(items)
    where = _and((["this sheet"] if in_sheet else []) + list(stored) + [f"{f}, above it" for f in in_batch])
    fix_this = ("correct the wrong ID in this file before loading" if loaded_as is None else
                f"withdraw this upload ({loaded_as}), correct the file and upload it again")
    text = (f"{_plural(pupils, 'pupil')} appear{'s' if pupils == 1 else ''} under more than one pupil ID: "
            f"row{'s' if len(rows) > 1 else ''} {listed} of this sheet "
            f"{'has' if len(rows) == 1 else 'have'} the same first name, last name and date of birth "
            f"as a pupil with another ID, in {where}. If it is the same child, one ID is mistyped, and the "
            "child counts as two pupils until the record under the wrong ID goes: a later file with the ID "
            "put right adds a record beside it, not in its place, since the ID is part of every record.")
    if not stored and not in_batch:
        return f"{text} {fix_this[0].upper()}{fix_this[1:]}."
    if stored:
        text += (f" If the ID in {_and(list(stored))} is the wrong one, open that pupil's case in the Pupil view "
                 "and remove the record under \"Correct this pupil's records\" (the case list names the upload "
                 "that brought each ID).")
    if in_batch:
        text += f" If the ID in {_and(list(in_batch))} is the wrong one, correct it there before loading."
    return f"{text} If this sheet's ID is the wrong one, {fix_this}."


def two_open_notice(pupils: int, rows: Sequence[int], shown: int = 10) -> str:
    """A sentence about rows of a placements sheet after which a pupil has two open placements
    at one provider: most often a start date corrected in a later file, which adds a record
    beside the one under the old date instead of replacing it (the start date is part of the
    key, data-spec §6). Rows only, never a name or an ID.

    >>> two_open_notice(1, [3])[:112]
    '1 pupil would have two open placements at the same provider: row 3 of this sheet and a placement already stored.'
    """
    items = [str(r) for r in rows[:shown]] + ([f"{len(rows) - shown} more"] if len(rows) > shown else [])
    return (f"{_plural(pupils, 'pupil')} would have two open placements at the same provider: "
            f"row{'s' if len(rows) > 1 else ''} {_and(items)} of this sheet and a placement already stored. "
            "If a start date was mistyped, the placement under the wrong date stays open: a file with the date "
            "put right adds a record beside it, not in its place, since the start date is part of every record. "
            "Correct the date in this file before loading it; if the wrong date came in an earlier upload, "
            "open the pupil's case in the Pupil view and remove the placement under the wrong date there, under "
            "\"Correct this pupil's records\". If the pupil really has two placements there, nothing needs doing.")


def other_provider_notice(pupils: int, rows: Sequence[int], shown: int = 10) -> str:
    """A sentence about rows of a placements sheet whose pupil and start date are those of an
    open placement stored under another provider: most often a provider renamed, or its name
    typed differently, with no URN (the name is then part of the key, data-spec §6), which
    leaves the placement under the old name open for ever. Rows only, never a name or an ID.

    >>> other_provider_notice(2, [4, 9])[:118]
    '2 pupils have a placement starting on the same day under another provider, still open: rows 4 and 9 of this sheet and '
    """
    items = [str(r) for r in rows[:shown]] + ([f"{len(rows) - shown} more"] if len(rows) > shown else [])
    return (f"{_plural(pupils, 'pupil')} {'has' if pupils == 1 else 'have'} a placement starting on the same day "
            f"under another provider, still open: row{'s' if len(rows) > 1 else ''} {_and(items)} of this sheet "
            "and placements already stored. If the provider was renamed, or its name is written differently, "
            "the placement under the old name stays open for ever (with no URN, the provider's name is part "
            "of every placement). Write the name as before, or give the provider's URN in this file, before "
            "loading it; if the old name was the mistake, remove those placements in the Pupil view, under "
            "\"Correct this pupil's records\". If the pupil really started two placements that day, nothing "
            "needs doing.")


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# How a record is named beside its pupil in a preview: (its date, its text).
_RECORD_LABEL = {
    "placements": ("start_date", "provider"),
    "attendance": ("period_start", "setting"),
    "exclusions": ("start_date", "category"),
    "assessments": ("date", "measure"),
}


def _file_state(path: Path) -> tuple | None:
    """What changes when a file is written: size and modification and change times."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def committed_copy(path: Path | str, dest: Path | str, tries: int = 20, wait: float = 0.5) -> bool:
    """Copy a database file that another process holds open (the dashboard), as of its last
    saved change: True when the copy is whole, False when it was being written at every try.

    The Store writes every commit into the file itself at once (Store._checkpoint), so between
    writes the file alone holds every committed change and `<file>.wal` is gone. A copy is kept
    only when no WAL was there and the file was not touched from before the copy to after it;
    otherwise it waits `wait` seconds and tries again. A load in progress that has not committed
    has not changed what the file's header points to, and a write during the copy changes the
    file's times, so the copy is retried."""
    path, dest = Path(path), Path(dest)
    wal = path.with_name(path.name + ".wal")
    for attempt in range(tries):
        if attempt:
            time.sleep(wait)
        before = (_file_state(path), _file_state(wal))
        if before[0] is None:
            raise StoreError(f"There is no database at {path}.")
        if before[1] is not None and before[1][0] > 0:   # a commit not yet written into the file
            continue
        shutil.copyfile(path, dest)
        if (_file_state(path), _file_state(wal)) == before:
            return True
    dest.unlink(missing_ok=True)
    return False


# ---------------------------------------------------------------------------------------------
# Schema and migrations


def _ddl_type(col: schema.Column) -> str:
    return schema.DUCKDB_TYPE[col.type]


def _current_columns(dataset: str) -> tuple[schema.Column, ...]:
    return tuple(schema.DATASETS[dataset]) + tuple(schema.CURRENT_EXTRA[dataset])


def _migration_1(con: duckdb.DuckDBPyConnection) -> None:
    """The first schema: ledger, rejects, current state, settings tables."""
    con.execute("""
        CREATE TABLE uploads (
            upload_id INTEGER NOT NULL, uploaded_at TIMESTAMP NOT NULL, user_name VARCHAR,
            file_name VARCHAR NOT NULL, sheet VARCHAR, dataset VARCHAR NOT NULL,
            content_hash VARCHAR NOT NULL, carried VARCHAR[] NOT NULL,
            rows_accepted INTEGER NOT NULL, rows_rejected INTEGER NOT NULL,
            rows_warned INTEGER NOT NULL, summary_rows INTEGER NOT NULL, blank_rows INTEGER,
            header_row INTEGER, mapping VARCHAR, sheet_warnings VARCHAR[],
            withdrawn_at TIMESTAMP, withdrawn_by VARCHAR)""")
    con.execute("""
        CREATE TABLE rejected_rows (upload_id INTEGER NOT NULL, row_number INTEGER,
                                    reason VARCHAR, original VARCHAR)""")
    for dataset, cols in schema.DATASETS.items():
        body = ", ".join(f"{c.name} {_ddl_type(c)}" for c in cols)
        con.execute(f"CREATE TABLE ledger_{dataset} (upload_id INTEGER NOT NULL, "
                    f"row_number INTEGER NOT NULL, {body}, warnings VARCHAR)")
        body = ", ".join(f"{c.name} {_ddl_type(c)}" for c in _current_columns(dataset))
        con.execute(f"CREATE TABLE {dataset} ({body})")
    con.execute("CREATE TABLE holidays (date DATE)")
    con.execute("CREATE TABLE measure_directions (measure_key VARCHAR, higher_is_better BOOLEAN)")


def _migration_2(con: duckdb.DuckDBPyConnection) -> None:
    """Pupils on roll per school, typed in on the Exclusions page for exclusion rates."""
    con.execute("CREATE TABLE school_rolls (school VARCHAR NOT NULL, pupils INTEGER NOT NULL)")


def _migration_3(con: duckdb.DuckDBPyConnection) -> None:
    """Who changed a saved setting (holidays, measure directions, school rolls), when, and how:
    they change every figure that uses them, so each change is kept."""
    con.execute("CREATE TABLE settings_changes (changed_at TIMESTAMP NOT NULL, user_name VARCHAR, "
                "setting VARCHAR NOT NULL, detail VARCHAR)")


def _migration_4(con: duckdb.DuckDBPyConnection) -> None:
    """Records removed by hand: an entry in the uploads ledger of kind 'removal', with the
    reason as its note, whose ledger rows name the records it removes (see remove_records)."""
    con.execute("ALTER TABLE uploads ADD COLUMN kind VARCHAR DEFAULT 'file'")
    con.execute("ALTER TABLE uploads ADD COLUMN note VARCHAR")


def _migration_5(con: duckdb.DuckDBPyConnection) -> None:
    """Withdrawals can be undone: every withdrawal and putting back, who and when. The uploads
    table's withdrawn_at / withdrawn_by stay the current status; this log keeps each step."""
    con.execute("CREATE TABLE upload_actions (upload_id INTEGER NOT NULL, action VARCHAR NOT NULL, "
                "acted_at TIMESTAMP NOT NULL, user_name VARCHAR)")
    con.execute("INSERT INTO upload_actions SELECT upload_id, 'withdrawn', withdrawn_at, withdrawn_by "
                "FROM uploads WHERE withdrawn_at IS NOT NULL ORDER BY withdrawn_at")


def _migration_6(con: duckdb.DuckDBPyConnection) -> None:
    """Who opened which named records: a data protection review could not answer "who looked at
    this child's record?". Case numbers only, never a UPN."""
    con.execute("CREATE TABLE access_log (opened_at TIMESTAMP NOT NULL, user_name VARCHAR, "
                "action VARCHAR NOT NULL, case_number VARCHAR, detail VARCHAR, cases VARCHAR[])")


def _migration_7(con: duckdb.DuckDBPyConnection) -> None:
    """Keys case-folded as data-spec §6 says, not lower-cased ('Maß' and 'MASS' are one measure):
    the measure directions set by hand are re-keyed here (a direction set on two spellings that
    now fold together keeps the newest); Store._migrate then rebuilds the current state, whose
    keys are a function of the ledger."""
    con.execute(f"""CREATE TEMP TABLE _directions AS
                    SELECT {schema.FOLD_FUNCTION}(trim(measure_key)) AS measure_key,
                           last(higher_is_better ORDER BY rowid) AS higher_is_better
                    FROM measure_directions GROUP BY 1""")
    con.execute("DELETE FROM measure_directions")
    con.execute("INSERT INTO measure_directions SELECT * FROM _directions")
    con.execute("DROP TABLE _directions")


# Applied in order; a released migration is never edited, only followed by a new one.
MIGRATIONS: list[tuple[int, str, Callable[[duckdb.DuckDBPyConnection], None]]] = [
    (1, "ledger, rejected rows, current state, holidays, measure directions", _migration_1),
    (2, "school rolls", _migration_2),
    (3, "settings changes", _migration_3),
    (4, "records removed by hand", _migration_4),
    (5, "withdrawals undoable: a log of withdrawals and puttings back", _migration_5),
    (6, "a log of who opened which named records", _migration_6),
    (7, "keys case-folded, not lower-cased (data-spec §6)", _migration_7),
]
# The migrations after which the current state is rebuilt from the ledger (its rules changed)
_REBUILD_AFTER = {7}

# The columns a removal's ledger row copies: those a key is worked out from (placements: from
# each of the record's own rows, whose URN, UKPRN and name give its provider key; the other
# datasets: from the record, whose key is its own columns).
_REMOVAL_COLUMNS = {
    "placements": ("pupil_id", "provider_urn", "provider_ukprn", "provider", "start_date"),
    "attendance": ("pupil_id", "period_start", "period_end", "setting"),
    "exclusions": ("pupil_id", "start_date", "category"),
    "assessments": ("pupil_id", "measure", "date"),
}


def record_id_sql(dataset: str) -> str:
    """A current-state record's identity as SQL over its table: placements' placement_id, else
    the first 16 hex digits of the md5 of its key parts (the key is its identity, data-spec §6)."""
    if dataset == "placements":
        return "placement_id"
    parts = " || '|' || ".join(f"coalesce(CAST({k} AS VARCHAR), '')" for k in schema.KEYS[dataset])
    return f"substr(md5({parts}), 1, 16)"


# ---------------------------------------------------------------------------------------------
# Current state: set-based SQL, identifiers from schema.py only


def _key_sql(dataset: str, q: str = "") -> dict[str, str]:
    """Key part -> SQL expression over a ledger row, columns qualified by `q` (e.g. "lx.").

    Placements' provider_key is worked out in current_state_sql.
    """
    if dataset == "placements":
        return {"pupil_id": f"{q}pupil_id", "provider_key": "provider_key", "start_date": f"{q}start_date"}
    if dataset == "attendance":
        return {"pupil_id": f"{q}pupil_id", "period_start": f"{q}period_start", "period_end": f"{q}period_end",
                "setting_key": f"coalesce({schema.fold_sql(f'trim({q}setting)')}, '')"}
    if dataset == "exclusions":
        return {"pupil_id": f"{q}pupil_id", "start_date": f"{q}start_date", "category": f"{q}category"}
    if dataset == "assessments":
        return {"pupil_id": f"{q}pupil_id", "measure_key": schema.fold_sql(f"trim({q}measure)"), "date": f"{q}date"}
    raise KeyError(dataset)


def current_state_sql(dataset: str, scoped: bool = False,
                      single_upload: int | None = None, removals: bool = False,
                      keyed_rows: bool = False) -> tuple[str, list]:
    """The SELECT that derives a dataset's current-state table from the live ledger.

    Returns (sql, params); the select lists the current-state columns in table order.
    With `scoped`, only the records named in the temporary table `_affected` are derived:
    placements by pupil_id, the other datasets by their whole key (see Store._rebuild).
    The restriction is applied to the ledger scan itself; placements' URN maps still read
    every live row.

    With `single_upload`, the rows are that upload's alone and no two of them share a key, so
    each record is one row: the same values come from per-row expressions (a group of one row),
    with no grouping. Store._rebuild checks those conditions (for placements, after the insert:
    their provider key is only known then). For placements the upload must also be the only
    live one, since the URN maps read every live row.

    With `removals` (some live upload is a removal, Store.remove_records), a record's rows up
    to its newest live removal row are left out, and so is a record with no row after it: the
    record is gone until a later file sends it again. Removal rows never count towards the URN
    maps (they copy identifiers a file row already gave).

    With `keyed_rows`, the SELECT gives the live ledger rows themselves, each with its key
    columns (placements: provider_key as worked out now) and `removal`, not the records.
    """
    single = single_upload is not None
    cols = schema.DATASETS[dataset]
    names = [c.name for c in cols]
    keys = _key_sql(dataset)
    params: list = []

    carried_flags = ", ".join(f"list_contains(carried, ?) AS c_{n}" for n in names)
    params.extend(names)
    live = (f"SELECT upload_id AS live_id, coalesce(kind, 'file') = 'removal' AS removal, {carried_flags} FROM uploads "
            f"WHERE dataset = ? AND withdrawn_at IS NULL")
    params.append(dataset)
    rows_from = f"ledger_{dataset}"
    if single:
        rows_from = f"(SELECT * FROM ledger_{dataset} WHERE upload_id = ?)"
        params.append(single_upload)
    elif scoped and dataset == "placements":
        rows_from = "(SELECT * FROM ledger_placements WHERE pupil_id IN (SELECT pupil_id FROM _affected))"
    elif scoped:
        on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM {expr}" for k, expr in _key_sql(dataset, "lx.").items())
        rows_from = f"(SELECT lx.* FROM ledger_{dataset} lx SEMI JOIN _affected a ON {on})"
    src = (f"SELECT l.*, f.* EXCLUDE (live_id), {_SEQ} AS seq "
           f"FROM {rows_from} l JOIN live f ON l.upload_id = f.live_id")

    ctes = [f"live AS ({live})", f"src AS ({src})"]
    if dataset == "placements":
        ctes += [
            # every live row's identifiers, for the URN known for a UKPRN and for a name
            f"allp AS (SELECT {_SEQ} AS seq, nullif(trim(provider_urn), '') AS urn, "
            f"nullif(trim(provider_ukprn), '') AS ukprn, nullif({_NAME_KEY}, '') AS name_key "
            "FROM ledger_placements l JOIN live f ON l.upload_id = f.live_id WHERE NOT f.removal)",
            "ukprn_urn AS (SELECT ukprn, arg_max(urn, seq) AS urn FROM allp "
            "WHERE urn IS NOT NULL AND ukprn IS NOT NULL GROUP BY 1)",
            # the newest identified row of each name (every arg_max below picks that same row)
            "named AS (SELECT a.name_key AS n_key, arg_max(coalesce(a.urn, u.urn, a.ukprn), seq) AS n_ident, "
            "arg_max_null(coalesce(a.urn, u.urn), seq) AS n_urn, arg_max_null(a.ukprn, seq) AS n_ukprn "
            "FROM allp a LEFT JOIN ukprn_urn u ON u.ukprn = a.ukprn "
            "WHERE a.name_key IS NOT NULL AND coalesce(a.urn, a.ukprn) IS NOT NULL GROUP BY 1)",
            "ided AS (SELECT src.*, coalesce(nullif(trim(provider_urn), ''), u.urn, "
            "nullif(trim(provider_ukprn), '')) AS ident, "
            "coalesce(nullif(trim(provider_urn), ''), u.urn) AS own_urn, "
            "nullif(trim(provider_ukprn), '') AS own_ukprn, "
            f"nullif({_NAME_KEY}, '') AS name_key "
            "FROM src LEFT JOIN ukprn_urn u ON u.ukprn = nullif(trim(src.provider_ukprn), ''))",
            "keyed AS (SELECT ided.*, coalesce(ident, n_ident, name_key) AS provider_key, "
            "CASE WHEN ident IS NOT NULL THEN own_urn ELSE n_urn END AS res_urn, "
            "CASE WHEN ident IS NOT NULL THEN own_ukprn ELSE n_ukprn END AS res_ukprn "
            "FROM ided LEFT JOIN named ON named.n_key = ided.name_key)",
        ]
    else:
        key_exprs = ", ".join(f"{expr} AS k_{k}" for k, expr in keys.items() if expr != k)
        ctes.append(f"keyed AS (SELECT src.*{', ' + key_exprs if key_exprs else ''} FROM src)")
    base = "keyed"
    if keyed_rows:
        return f"WITH {', '.join(ctes)} SELECT * FROM keyed", params

    group_cols = [k if keys[k] == k else f"k_{k}" for k in keys]
    if removals and not single:
        cut_cols = ", ".join(f"{g} AS r_{g}" for g in group_cols)
        on = " AND ".join(f"keyed.{g} IS NOT DISTINCT FROM cut.r_{g}" for g in group_cols)
        ctes += [f"cut AS (SELECT {cut_cols}, max(seq) AS cut_seq FROM keyed WHERE removal GROUP BY ALL)",
                 f"kept AS (SELECT keyed.* FROM keyed LEFT JOIN cut ON {on} "
                 "WHERE NOT keyed.removal AND (cut.cut_seq IS NULL OR keyed.seq > cut.cut_seq))"]
        base = "kept"
    aggs: list[str] = []
    for n in names:
        if n in keys and keys[n] == n:
            aggs.append(n)                                   # a key part: the group's value
        elif n in ("provider_urn", "provider_ukprn"):    # as resolved for the provider key
            res = "res_urn" if n == "provider_urn" else "res_ukprn"
            aggs.append(f"{res} AS {n}" if single else
                        f"arg_max({res}, seq) FILTER (WHERE {res} IS NOT NULL) AS {n}")
        elif n in _NEWEST_NON_BLANK[dataset]:
            aggs.append(f"CASE WHEN nullif(trim({n}), '') IS NOT NULL THEN {n} END AS {n}" if single else
                        f"arg_max({n}, seq) FILTER (WHERE nullif(trim({n}), '') IS NOT NULL) AS {n}")
        else:
            aggs.append(f"CASE WHEN c_{n} THEN {n} END AS {n}" if single else
                        f"arg_max_null({n}, seq) FILTER (WHERE c_{n}) AS {n}")
    for k in keys:
        if keys[k] != k:
            aggs.append(f"k_{k} AS {k}")
        elif k not in names:
            aggs.append(k)
    if single:
        aggs.append("upload_id")
        ctes.append(f"merged AS (SELECT {', '.join(aggs)} FROM {base})")
    else:
        aggs.append("max(upload_id) AS upload_id")
        ctes.append(f"merged AS (SELECT {', '.join(aggs)} FROM {base} GROUP BY {', '.join(group_cols)})")

    out: list[str] = []
    if dataset == "placements":
        unregistered = ", ".join("?" for _ in schema.UNREGISTERED_SETTING_TYPES)
        age = ("(year(start_date) - CASE WHEN month(start_date) >= 9 THEN 0 ELSE 1 END"
               " - year(date_of_birth) - CASE WHEN month(date_of_birth) >= 9 THEN 1 ELSE 0 END)")
        for n in names:
            if n == "registered":
                out.append("coalesce(registered, CASE WHEN provider_urn IS NOT NULL "
                           "OR provider_ukprn IS NOT NULL THEN true "
                           f"WHEN setting_type IN ({unregistered}) THEN false END) AS registered")
                params.extend(schema.UNREGISTERED_SETTING_TYPES)
            elif n == "nc_year":
                out.append(f"coalesce(nc_year, CASE WHEN {age} = 4 THEN 'R' "
                           f"WHEN {age} BETWEEN 5 AND 18 THEN CAST({age} - 4 AS VARCHAR) END) AS nc_year")
            else:
                out.append(n)
        out.append("substr(md5(pupil_id || '|' || provider_key || '|' || strftime(start_date, '%Y-%m-%d')), "
                   "1, 16) AS placement_id")
        out.append("provider_key")
    else:
        out.extend(names)
        out.extend(c.name for c in schema.CURRENT_EXTRA[dataset] if c.name != "upload_id")
    out.append("upload_id")
    expected = [c.name for c in _current_columns(dataset)]
    got = [o.rsplit(" AS ", 1)[-1] for o in out]
    assert got == expected, (got, expected)
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(out)} FROM merged"
    return sql, params


# ---------------------------------------------------------------------------------------------


def _failure_text(failure: str, e: duckdb.Error) -> str:
    """What a person is told when the database refused a write (nothing was stored)."""
    text = str(e)
    if "No space left on device" in text or "File too large" in text:
        return (f"{failure}: the server's disk is full. Ask whoever runs the dashboard to free some "
                "space, then try again.")
    if isinstance(e, duckdb.FatalException):
        return (f"{failure}: the database stopped with an error while saving, and is opened again as "
                f"it was before. ({text.splitlines()[0][:200]})")
    return f"{failure}: {text}"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def sheet_hash(file_hash: str, sheet: str | None) -> str:
    """The content hash of one sheet of a file: sha256 of the file's sha256 and the sheet name."""
    return hashlib.sha256(f"{file_hash}\0{sheet or ''}".encode("utf-8")).hexdigest()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _where(file_name: str, sheet: str | None) -> str:
    return f"{file_name}, sheet '{sheet}'" if sheet else file_name


class Store:
    """One DuckDB file holding the ledger and the current state.

    `con` is for analytics (read-only use). Writes go through a separate cursor, one
    transaction per uploaded sheet or withdrawal, serialised by a lock.
    """

    def __init__(self, path: str | os.PathLike | None = None, read_only: bool = False):
        self.path = Path(path) if path is not None else self.default_path()
        self.read_only = read_only
        self._lock = threading.RLock()
        self._keys_distinct: bool | None = None   # set by _rebuild when it learns it
        self.last_repeated: list[tuple[int, int]] = []   # of the last sheet written (under the lock)
        self.last_same_pupil: str | None = None   # same_pupil_notice of the last sheet written
        self.last_same_pupil_found: tuple | None = None   # its arguments (Store._same_pupil)
        self.last_two_open: str | None = None   # two_open_notice of the last sheet written
        self._preview_ids: set[int] = set()   # uploads written in a preview's rolled-back transaction
        self.broken = False   # DuckDB hit a fatal error (a full disk at commit): reopen before use
        if read_only and not self.path.exists():
            raise StoreError(f"There is no database at {self.path} yet: load some data first.")
        new = not read_only and not self.path.exists()
        if not read_only:
            try:
                # the children's records: a new folder and file only their owner can read (a data
                # protection review found both readable by every account on the server)
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"The folder for the database {self.path} could not be created "
                                 f"({e.strerror or e}).") from None
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
            schema.add_fold_function(self.con)
            if new:
                with contextlib.suppress(OSError):
                    os.chmod(self.path, 0o600)
        except duckdb.Error as e:
            text = str(e)
            if "lock" in text.lower():
                raise StoreInUse(f"The database file {self.path} is in use by another program "
                                 "(perhaps the dashboard or another import). Close it and try again.") from None
            raise StoreError(f"The database file {self.path} could not be opened: {text}") from None
        try:
            self._w = self.con.cursor()
            self._migrate()
        except BaseException:
            self.con.close()
            raise

    @staticmethod
    def default_path() -> Path:
        return Path(os.environ.get("AP_DB") or DEFAULT_PATH)

    # -- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            try:
                self._w.close()
            finally:
                self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = self._read(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
            "AND table_schema = 'main'")[0][0]
        if not exists:
            return 0
        return self._read("SELECT coalesce(max(version), 0) FROM schema_version")[0][0]

    def _migrate(self) -> None:
        latest = MIGRATIONS[-1][0]
        current = self.schema_version()
        if current > latest:
            raise StoreError(f"The database file {self.path} was made by a newer version of this "
                             f"program (schema {current}; this one knows up to {latest}). Update the program.")
        if current == latest:
            return
        if self.read_only:
            raise StoreError(f"The database file {self.path} was made by an older version of this program "
                             f"and needs upgrading (schema {current} to {latest}). Open the dashboard on it once, "
                             f"or run: python -m analytics uploads --db {self.path} (keep a copy first if you "
                             "may go back to the older version).")
        w = self._w
        if current == 0:
            w.execute("CREATE TABLE IF NOT EXISTS schema_version "
                      "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL, description VARCHAR)")
        for version, description, apply in MIGRATIONS:
            if version <= current:
                continue
            w.begin()
            try:
                apply(w)
                if version in _REBUILD_AFTER and current > 0:   # a new file has nothing to rebuild
                    for dataset in schema.DATASETS:
                        self._rebuild(dataset)
                w.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [version, _now(), description])
                w.commit()
            except BaseException:
                w.rollback()
                raise
            self._checkpoint()

    # -- reading ----------------------------------------------------------------------------

    def _read(self, sql: str, params: list | None = None, df: bool = False):
        """Run a query on a cursor of its own (safe beside other threads' reads)."""
        cur = self.con.cursor()
        try:
            result = cur.execute(sql, params or [])
            return result.df() if df else result.fetchall()
        except duckdb.FatalException as e:
            self.broken = True
            raise StoreError(_failure_text("The database could not be read", e)) from None
        finally:
            cur.close()

    def ledger_version(self) -> str:
        """A short text that changes with every upload and withdrawal (one small query: the
        dashboard asks for it on every figure to key its caches)."""
        row = self._read("SELECT count(*), max(upload_id), count(withdrawn_at), max(withdrawn_at), "
                         "sum(rows_accepted), (SELECT count(*) FROM upload_actions) FROM uploads")[0]
        return "|".join("" if v is None else str(v) for v in row)

    def uploads(self) -> pd.DataFrame:
        """The ledger, newest first; `put_back_at`: when a live upload was last put back after a
        withdrawal (else blank)."""
        return self._read("SELECT u.*, CASE WHEN u.withdrawn_at IS NULL THEN a.put_back_at END AS put_back_at "
                          "FROM uploads u LEFT JOIN (SELECT upload_id, max(acted_at) AS put_back_at FROM upload_actions "
                          "WHERE action = 'put back' GROUP BY upload_id) a USING (upload_id) "
                          "ORDER BY upload_id DESC", df=True)

    def upload_dates(self) -> pd.DataFrame:
        """For each file loaded (not removals by hand): upload_id, first_date and latest_date, the
        earliest and latest of its rows' event dates (_EVENT_DATES: what happened, not plans), so
        the history can say which term a file covers. Withdrawn files keep theirs."""
        parts = []
        for dataset, cols in _EVENT_DATES.items():
            spread = ", ".join(cols)
            parts.append(f"SELECT upload_id, min(least({spread})) AS first_date, "
                         f"max(greatest({spread})) AS latest_date FROM ledger_{dataset} GROUP BY upload_id")
        return self._read(f"SELECT d.* FROM ({' UNION ALL '.join(parts)}) d JOIN uploads u USING (upload_id) "
                          "WHERE coalesce(u.kind, 'file') = 'file' ORDER BY upload_id DESC", df=True)

    def _upload(self, upload_id: int) -> dict:
        try:
            upload_id = int(upload_id)
        except (TypeError, ValueError):
            raise StoreError(f"'{upload_id}' is not an upload number.") from None
        cur = self.con.cursor()
        try:
            rows = cur.execute("SELECT * FROM uploads WHERE upload_id = ?", [upload_id]).fetchall()
            row = rows[0] if rows else None
            if row is None:
                raise StoreError(f"There is no upload number {upload_id}.")
            return dict(zip([d[0] for d in cur.description], row))
        finally:
            cur.close()

    def rejected_rows(self, upload_id: int) -> pd.DataFrame:
        """Rejected rows of one upload: row_number, reason, original (JSON of header -> cell)."""
        upload = self._upload(upload_id)
        return self._read("SELECT row_number, reason, original FROM rejected_rows WHERE upload_id = ? "
                          "ORDER BY row_number", [upload["upload_id"]], df=True)

    def is_empty(self) -> bool:
        """True when no upload is live (none loaded, or all withdrawn)."""
        return not self._read("SELECT count(*) FROM uploads WHERE withdrawn_at IS NULL")[0][0]

    def holidays(self) -> list[date]:
        return [r[0] for r in self._read("SELECT DISTINCT date FROM holidays ORDER BY 1")]

    def measure_directions(self) -> dict[str, bool]:
        return dict(self._read("SELECT measure_key, higher_is_better FROM measure_directions ORDER BY 1"))

    def school_rolls(self) -> dict[str, int]:
        """Pupils on roll by school name, as last saved."""
        return dict(self._read("SELECT school, pupils FROM school_rolls ORDER BY school"))

    # -- settings ---------------------------------------------------------------------------

    def settings_changes(self) -> pd.DataFrame:
        """Every change to a saved setting, newest first: changed_at, user_name, setting, detail."""
        return self._read("SELECT changed_at, user_name, setting, detail FROM settings_changes "
                          "ORDER BY changed_at DESC, rowid DESC", df=True)

    def log_access(self, action: str, case_number: str | None = None, detail: str | None = None,
                   user: str | None = None, cases=()) -> None:
        """Record that someone opened named records: ``action`` (e.g. 'pupil view'), the case
        number of one pupil's records, ``cases`` those a list showed (never a UPN), and
        ``detail`` (the mode, the filters, how many were listed)."""
        with self._transaction(failure="The record of who opened this could not be saved"):
            self._w.execute("INSERT INTO access_log VALUES (?, ?, ?, ?, ?, ?)",
                            [_now(), user, action, case_number, detail, list(cases) or None])

    def access_log(self, case_number: str | None = None, limit: int = 1000) -> pd.DataFrame:
        """Who opened named records, newest first: opened_at, user_name, action, case_number,
        detail, listed (how many cases a list showed); one case's entries (its own views and
        the lists that showed it) when given."""
        where, params = "", []
        if case_number:
            where, params = "WHERE case_number = ? OR list_contains(cases, ?)", [case_number, case_number]
        return self._read("SELECT opened_at, user_name, action, case_number, detail, len(cases) AS listed "
                          f"FROM access_log {where} ORDER BY opened_at DESC, rowid DESC LIMIT ?",
                          params + [int(limit)], df=True)

    def _log_setting(self, setting: str, detail: str, user: str | None) -> None:
        """Inside a setter's transaction, so a change and its record are saved together."""
        self._w.execute("INSERT INTO settings_changes VALUES (?, ?, ?, ?)", [_now(), user, setting, detail])

    def set_school_rolls(self, rolls: dict[str, int | None], user: str | None = None) -> None:
        """Save the rolls of the schools named (None or a blank removes one); others are kept."""
        names = sorted({str(k).strip() for k in rolls if str(k).strip()})
        keep = []
        for name, pupils in rolls.items():
            name = str(name).strip()
            if not name or pupils is None or pd.isna(pupils):
                continue
            n = int(pupils)
            if n < 0 or n != pupils:
                raise StoreError(f"The number on roll for {name} must be a whole number of pupils, "
                                 f"not {pupils}.")
            keep.append([name, n])
        kept = dict(keep)
        detail = "; ".join(f"{name}: {kept[name]:,}" if name in kept else f"{name}: removed" for name in names)
        with self._transaction():
            self._w.execute("DELETE FROM school_rolls WHERE list_contains(?::VARCHAR[], school)", [names])
            if keep:
                self._w.executemany("INSERT INTO school_rolls VALUES (?, ?)", keep)
            if names:
                self._log_setting("school rolls", detail, user)

    def set_holidays(self, dates: Iterable[date], user: str | None = None) -> None:
        rows = sorted({d if isinstance(d, date) else date.fromisoformat(str(d)) for d in dates})
        detail = (f"{len(rows):,} date{'s' if len(rows) != 1 else ''}, {rows[0]:%d/%m/%Y} to {rows[-1]:%d/%m/%Y}"
                  if rows else "cleared")
        with self._transaction():
            self._w.execute("DELETE FROM holidays")
            if rows:
                self._w.executemany("INSERT INTO holidays VALUES (?)", [[d] for d in rows])
            self._log_setting("holidays", detail, user)

    def set_measure_direction(self, measure_key: str, higher_is_better: bool | None,
                              user: str | None = None) -> None:
        key = schema.fold(measure_key)
        way = {True: "higher is better", False: "lower is better", None: "the default"}[
            None if higher_is_better is None else bool(higher_is_better)]
        with self._transaction():
            self._w.execute("DELETE FROM measure_directions WHERE measure_key = ?", [key])
            if higher_is_better is not None:
                self._w.execute("INSERT INTO measure_directions VALUES (?, ?)", [key, bool(higher_is_better)])
            self._log_setting("measure direction", f"{key}: {way}", user)

    # -- writing ----------------------------------------------------------------------------

    def _transaction(self, keep: bool = True,
                     failure: str = "The database could not be updated, so nothing was changed"):
        """One transaction on the writer cursor, under the lock. It commits on success, unless
        `keep` is False: then it is always rolled back (a preview)."""
        store = self

        class _Tx:
            def __enter__(self_):
                if store.read_only:
                    raise StoreError(f"The database {store.path} was opened read-only.")
                store._lock.acquire()
                try:
                    if store.broken:
                        raise StoreError("The database stopped with an error during an earlier save, so nothing "
                                         "was changed: try again (the dashboard reopens it).")
                    store._w.begin()
                except duckdb.Error as e:
                    store._lock.release()
                    store.broken = store.broken or isinstance(e, duckdb.FatalException)
                    raise StoreError(_failure_text(failure, e)) from None
                except BaseException:
                    store._lock.release()
                    raise

            def __exit__(self_, exc_type, exc, tb):
                ended = None   # the commit's or rollback's own failure (a full disk shows here)
                try:
                    if exc_type is None and keep:
                        store._w.commit()
                        store._checkpoint()
                    else:
                        store._w.rollback()
                except duckdb.Error as e:
                    ended = e
                    with contextlib.suppress(duckdb.Error):
                        store._w.rollback()
                finally:
                    store._lock.release()
                for e in (exc, ended):
                    if isinstance(e, duckdb.FatalException):
                        # DuckDB refuses every later call on this file: the app reopens it
                        store.broken = True
                problem = exc if isinstance(exc, duckdb.Error) else ended if exc is None else None
                if problem is not None:
                    raise StoreError(_failure_text(failure, problem)) from None
                return False

        return _Tx()

    def _checkpoint(self) -> None:
        """Write a committed change into the database file itself. Until a checkpoint DuckDB
        keeps it in `<file>.wal`, and only checkpoints by itself when that passes 16 MB or the
        file is closed: a copy of the file taken while the dashboard ran then silently lacked
        the latest uploads. The commit is already durable in the WAL, so a failed checkpoint
        loses nothing and is not the user's failure; a fatal one makes the app reopen the file."""
        try:
            self._w.execute("CHECKPOINT")
        except duckdb.Error as e:
            self.broken = self.broken or isinstance(e, duckdb.FatalException)

    def _rebuild(self, dataset: str, upload_id: int | None = None, put_back: bool = False) -> None:
        """Re-derive the current state of a dataset: all of it, or what one upload can touch.

        The records one upload can change are those sharing a key with its rows (placements:
        every record of a pupil in it, and of pupils whose provider key depends on a provider
        name or UKPRN in it). Re-deriving just those gives the same table as a full rebuild,
        because each record is a function of its own ledger rows and of the name/UKPRN maps.
        `put_back`: the upload is live again in its old place, so uploads after it (a removal
        among them) may outrank its rows: never the one-row paths, which assume it is newest.
        """
        w = self._w
        removals = bool(w.execute("SELECT count(*) FROM uploads WHERE dataset = ? AND withdrawn_at IS NULL "
                                  "AND kind = 'removal'", [dataset]).fetchall()[0][0])
        # a removal's rows are never records themselves, so it never takes the one-row paths
        by_hand = put_back or upload_id is not None and w.execute(
            "SELECT kind = 'removal' FROM uploads WHERE upload_id = ?", [upload_id]).fetchall()[0][0]
        sql, params = current_state_sql(dataset, scoped=upload_id is not None, removals=removals)
        cols = ", ".join(c.name for c in _current_columns(dataset))
        if upload_id is None:
            w.execute(f"DELETE FROM {dataset}")
            w.execute(f"INSERT INTO {dataset} ({cols}) {sql}", params)
            return
        keys = _key_sql(dataset)
        w.execute("DROP TABLE IF EXISTS _affected")
        if dataset == "placements" and not by_hand and self._first_placements(upload_id, cols):
            return
        if dataset == "placements":
            # Pupils in the upload, and pupils with a row whose provider key can differ with
            # and without it: a UKPRN or provider name whose known URN changes.
            w.execute("""
                CREATE TEMP TABLE _affected AS
                WITH src AS (
                    SELECT l.upload_id, l.pupil_id, """ + _SEQ.replace("upload_id", "l.upload_id").replace(
                        "row_number", "l.row_number") + """ AS seq,
                           nullif(trim(l.provider_urn), '') AS urn, nullif(trim(l.provider_ukprn), '') AS ukprn,
                           nullif(""" + schema.fold_sql("trim(l.provider)") + """, '') AS name_key
                    FROM ledger_placements l JOIN uploads u ON u.upload_id = l.upload_id
                    WHERE u.dataset = 'placements' AND (u.withdrawn_at IS NULL OR u.upload_id = $1)
                      AND (u.kind = 'file' OR u.upload_id = $1)),
                uk AS (
                    SELECT ukprn, arg_max(urn, seq) AS urn_with,
                           arg_max(urn, seq) FILTER (WHERE upload_id <> $1) AS urn_without
                    FROM src WHERE urn IS NOT NULL AND ukprn IS NOT NULL GROUP BY ukprn),
                ided AS (
                    SELECT src.*, coalesce(urn, uk.urn_with, src.ukprn) AS ident_with,
                           coalesce(urn, uk.urn_without, src.ukprn) AS ident_without,
                           coalesce(urn, uk.urn_with) AS urn_w, coalesce(urn, uk.urn_without) AS urn_wo
                    FROM src LEFT JOIN uk ON uk.ukprn = src.ukprn),
                nm AS (
                    SELECT name_key,
                           arg_max({'i': ident_with, 'u': urn_w, 'k': ukprn}, seq)
                               FILTER (WHERE ident_with IS NOT NULL) AS with_,
                           arg_max({'i': ident_without, 'u': urn_wo, 'k': ukprn}, seq)
                               FILTER (WHERE ident_without IS NOT NULL AND upload_id <> $1) AS without_
                    FROM ided WHERE name_key IS NOT NULL GROUP BY name_key)
                SELECT pupil_id FROM src WHERE upload_id = $1
                UNION
                SELECT pupil_id FROM src
                WHERE ukprn IN (SELECT ukprn FROM uk WHERE urn_with IS DISTINCT FROM urn_without)
                   OR name_key IN (SELECT name_key FROM nm WHERE with_ IS DISTINCT FROM without_)""",
                      [upload_id])
            w.execute("DELETE FROM placements WHERE pupil_id IN (SELECT pupil_id FROM _affected)")
        else:
            if not by_hand and not w.execute(f"SELECT count(*) FROM {dataset}").fetchall()[0][0]:
                # Nothing live yet (a first upload, or all withdrawn): no record to replace,
                # and if the upload's keys are all distinct (their hashes all differ, which
                # proves it; a hash collision only costs the slower grouped path) each of its
                # rows is a record as it is.
                key_hash = f"hash({', '.join(keys.values())})"
                n_rows, n_hashes = w.execute(
                    f"SELECT count(*), count(DISTINCT {key_hash}) FROM ledger_{dataset} "
                    "WHERE upload_id = ?", [upload_id]).fetchall()[0]
                if n_rows == n_hashes:
                    self._keys_distinct = True
                    sql, params = current_state_sql(dataset, single_upload=upload_id)
                    w.execute(f"INSERT INTO {dataset} ({cols}) {sql}", params)
                    return
            w.execute(f"CREATE TEMP TABLE _affected AS SELECT DISTINCT "
                      f"{', '.join(f'{expr} AS {k}' for k, expr in keys.items())} "
                      f"FROM ledger_{dataset} WHERE upload_id = ?", [upload_id])
            on = " AND ".join(f"a.{k} IS NOT DISTINCT FROM {dataset}.{k}" for k in keys)
            deleted = w.execute(f"DELETE FROM {dataset} WHERE EXISTS (SELECT 1 FROM _affected a "
                                f"WHERE {on})").fetchall()[0][0]
            n_rows, n_keys = w.execute(
                f"SELECT (SELECT count(*) FROM ledger_{dataset} WHERE upload_id = ?), "
                "(SELECT count(*) FROM _affected)", [upload_id]).fetchall()[0]
            self._keys_distinct = n_rows == n_keys
            if deleted == 0 and not by_hand:
                # No live record shares a key with the upload (each live row has a record),
                # so if its keys are all distinct every record is one of its rows, as it is.
                if n_rows == n_keys:
                    sql, params = current_state_sql(dataset, single_upload=upload_id)
        w.execute(f"INSERT INTO {dataset} ({cols}) {sql}", params)
        w.execute("DROP TABLE _affected")

    def _repeated_rows(self, dataset: str, upload_id: int) -> list[tuple[int, int]]:
        """(row, the first row of its record) for each row of an upload after the first of its
        record: the store keeps only the later row's values (data-spec §6), which a user should
        be told. Other datasets use the store's own key; placements' provider key depends on
        other uploads (a name can stand for a URN), so within the sheet it is the URN, else the
        UKPRN, else the name (trimmed, case-folded): a pair joined only through another file's
        URN goes unreported rather than a distinct pair being reported."""
        if dataset == "placements":
            parts = ["pupil_id", "coalesce(nullif(trim(provider_urn), ''), nullif(trim(provider_ukprn), ''), "
                                 f"{_NAME_KEY})", "start_date"]
        else:
            parts = list(_key_sql(dataset).values())
        by = ", ".join(parts)
        return [tuple(r) for r in self._w.execute(f"""
            SELECT row_number, first_row FROM (
                SELECT row_number, min(row_number) OVER (PARTITION BY {by}) AS first_row,
                       count(*) OVER (PARTITION BY {by}) AS n
                FROM ledger_{dataset} WHERE upload_id = ?)
            WHERE n > 1 AND row_number <> first_row ORDER BY row_number""", [upload_id]).fetchall()]

    def _same_pupil(self, upload_id: int, accepted: pa.Table) -> tuple | None:
        """For the rows of a placements upload whose first name, last name and date of birth (all
        given; names trimmed, case-folded) are those of a placement under a different pupil ID
        in the current state (already re-derived with the upload, so other rows of it count
        too): same_pupil_notice's arguments but ``loaded_as``, as (pupils, rows, {keywords});
        None when there are none. Uploads written in a preview's rolled-back transaction
        (``self._preview_ids``) are files ahead in the batch, not stored uploads.

        A mistyped UPN otherwise makes the same child a second pupil with a second open
        placement, and nothing on screen says why: UPNs are never shown.
        """
        if any(c not in accepted.column_names or accepted[c].null_count == accepted.num_rows
               for c in ("first_name", "last_name", "date_of_birth")):
            return None
        fold = schema.fold_sql
        pupils, rows, others = self._w.execute(f"""
            WITH s AS (
                SELECT row_number, pupil_id, {fold("trim(first_name)")} AS f, {fold("trim(last_name)")} AS l,
                       date_of_birth AS d
                FROM ledger_placements
                WHERE upload_id = ? AND date_of_birth IS NOT NULL
                  AND trim(first_name) <> '' AND trim(last_name) <> ''),
            m AS (
                SELECT s.*, p.upload_id AS other FROM s JOIN placements p
                  ON p.date_of_birth = s.d AND {fold("trim(p.first_name)")} = s.f
                 AND {fold("trim(p.last_name)")} = s.l AND p.pupil_id <> s.pupil_id)
            SELECT count(DISTINCT (f, l, d)), list_sort(list_distinct(list(row_number))),
                   list_sort(list_distinct(list(other))) FROM m""", [upload_id]).fetchall()[0]
        if not pupils:
            return None
        elsewhere = [u for u in others if u != upload_id]
        names = dict(((u, _where(f, s)) for u, f, s in self._w.execute(
            "SELECT upload_id, file_name, sheet FROM uploads WHERE upload_id = ANY(?)", [elsewhere]).fetchall())
                     if elsewhere else {})
        previews = self._preview_ids
        return pupils, rows, {"in_sheet": upload_id in others,
                              "stored": [f"upload {u} ({names.get(u, 'a file')})" for u in elsewhere
                                         if u not in previews],
                              "in_batch": [names.get(u, "a file") for u in elsewhere if u in previews]}

    def _two_open(self, upload_id: int) -> str | None:
        """two_open_notice() for the rows of a placements upload whose pupil, once it is applied,
        has two or more open placements at one provider, at least one of them not from this
        upload (two open ones in one file are two rows the person wrote); None when none."""
        pupils, rows = self._w.execute("""
            WITH mine AS (SELECT DISTINCT pupil_id FROM ledger_placements WHERE upload_id = ?),
            twice AS (
                SELECT pupil_id, provider_key FROM placements
                WHERE end_date IS NULL AND pupil_id IN (SELECT pupil_id FROM mine)
                GROUP BY ALL HAVING count(*) > 1 AND bool_or(upload_id <> ?) AND bool_or(upload_id = ?))
            SELECT count(DISTINCT t.pupil_id), list_sort(list_distinct(list(l.row_number)))
            FROM twice t JOIN placements p ON p.pupil_id = t.pupil_id AND p.provider_key = t.provider_key
                 AND p.end_date IS NULL AND p.upload_id = ?
            JOIN ledger_placements l ON l.upload_id = p.upload_id AND l.pupil_id = p.pupil_id
                 AND l.start_date = p.start_date AND l.end_date IS NULL""",
                                       [upload_id, upload_id, upload_id, upload_id]).fetchall()[0]
        notices = [two_open_notice(pupils, rows)] if pupils else []
        # the same pupil and start date open under another provider key: a provider renamed (or
        # its name typed differently) with no URN, which leaves the old record open for ever
        pupils, rows = self._w.execute("""
            SELECT count(DISTINCT p.pupil_id), list_sort(list_distinct(list(l.row_number)))
            FROM placements p
            JOIN placements o ON o.pupil_id = p.pupil_id AND o.start_date = p.start_date
                 AND o.provider_key IS DISTINCT FROM p.provider_key AND o.end_date IS NULL AND o.upload_id <> ?
            JOIN ledger_placements l ON l.upload_id = p.upload_id AND l.pupil_id = p.pupil_id
                 AND l.start_date = p.start_date
            WHERE p.upload_id = ?""", [upload_id, upload_id]).fetchall()[0]
        if pupils:
            notices.append(other_provider_notice(pupils, rows))
        return " ".join(notices) or None

    def _first_placements(self, upload_id: int, cols: str) -> bool:
        """An upload into an empty placements table: its rows go in one per record, unless two
        of them turn out to share a key, when nothing is kept and False is returned.

        Only when no placement is live (an empty current state means no live rows) and the
        upload is being added, not withdrawn: then it is the only live placements upload.
        """
        w = self._w
        adding = w.execute("SELECT withdrawn_at IS NULL FROM uploads WHERE upload_id = ?",
                           [upload_id]).fetchall()
        if not (adding and adding[0][0]) or w.execute("SELECT count(*) FROM placements").fetchall()[0][0]:
            return False
        sql, params = current_state_sql("placements", single_upload=upload_id)
        w.execute(f"INSERT INTO placements ({cols}) {sql}", params)
        n_rows, n_keys = w.execute(
            "SELECT count(*), count(DISTINCT (pupil_id, provider_key, start_date)) FROM placements"
        ).fetchall()[0]
        if n_rows == n_keys:
            return True
        w.execute("DELETE FROM placements")
        return False

    def rebuild_all(self) -> None:
        """Rebuild every current-state table from the live ledger (after a migration, say)."""
        with self._transaction():
            for dataset in schema.DATASETS:
                self._rebuild(dataset)

    def ingest_file(self, source: Path | str | bytes, file_name: str | None = None,
                    mapping: dict[str, str] | None = None, user: str | None = None,
                    progress: Progress | None = None) -> list[UploadResult]:
        """Read a file with analytics.ingest and store each sheet as one upload.

        Raises IngestError (nothing stored) when the file cannot be read or recognised.
        """
        sheets, content_hash = self.read_source(source, file_name, mapping, progress)
        return self.ingest_parsed(sheets, content_hash, user=user, progress=progress)

    @staticmethod
    def read_source(source: Path | str | bytes, file_name: str | None = None,
                    mapping: dict[str, str] | None = None, progress: Progress | None = None) -> tuple[list, str]:
        """A file's parsed sheets (analytics.ingest.read_file) and the sha256 of its bytes, as
        ingest_file reads them. Raises IngestError when it cannot be read or recognised."""
        from analytics.ingest import MAX_FILE_BYTES, read_file  # lazy: the store works without the reader

        path = None
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            file_name = file_name or path.name
            try:
                if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
                    read_file(path, file_name, mapping)  # raises the reader's "too large" error unread
                data = path.read_bytes()
            except FileNotFoundError:
                raise IngestError("The file was not found.", file=file_name) from None
            except OSError as e:
                raise IngestError(f"The file could not be opened ({e.strerror or e}).", file=file_name) from None
        else:
            data = bytes(source)
            file_name = file_name or "upload"
        if progress:
            progress(0.0, f"Reading {file_name}")
        sheets = (read_file(path, file_name, mapping, data=data) if path is not None
                  else read_file(data, file_name, mapping))
        return sheets, hashlib.sha256(data).hexdigest()

    def ingest_parsed(self, sheets: Sequence, content_hash: str, user: str | None = None,
                      progress: Progress | None = None) -> list[UploadResult]:
        """Store parsed sheets (analytics.ingest.ParsedSheet) of one file, one transaction each.

        `content_hash` is the sha256 of the file's bytes; each sheet is recorded under
        sheet_hash(content_hash, sheet), and a sheet already live under that hash is a duplicate.
        """
        results = []
        n = max(len(sheets), 1)
        for i, sheet in enumerate(sheets):
            def step(fraction: float, message: str, _i=i) -> None:
                if progress:
                    progress(min(1.0, (_i + fraction) / n), message)
            results.append(self._ingest_sheet(sheet, content_hash, user, step))
        if progress:
            progress(1.0, "Done")
        return results

    def preview_changes(self, sheet, file_hash: str | None = None, examples: int = 5,
                        before: Sequence = ()) -> ChangePreview:
        """What loading `sheet` (a ParsedSheet) now would change in the current state.

        The upload is applied by the same code a load uses, inside a transaction that is always
        rolled back, so the answer follows the store's own rules (data-spec §6) exactly and
        nothing is left behind; readers on other cursors never see the uncommitted rows. The
        current-state rows before and after are compared by key. With `file_hash` (the sha256
        of the file's bytes), a sheet already live under that content is reported as a
        duplicate (`duplicate_of`), as a load would. `before`: (sheet, file_hash) pairs that will
        be loaded first (the files ahead of this one in a batch, in load order): they are applied
        first in the same rolled-back transaction, so the answer is what this sheet changes after
        them. Only sheets of the same dataset are applied (the others cannot change it).

        >>> Store(":memory:").preview_changes(type("S", (), {"dataset": None})()).changed
        0
        """
        items = [(b, h) for b, h in before if getattr(b, "dataset", None) == sheet.dataset]
        return self.preview_batch(items + [(sheet, file_hash)], examples, wanted=[len(items)])[-1]

    def preview_batch(self, items: Sequence, examples: int = 5, wanted: Iterable[int] | None = None,
                      progress: Progress | None = None) -> list[ChangePreview | None]:
        """preview_changes for a batch: for each i in `wanted` (default: all), what loading
        items[i] (a (sheet, file_hash) pair) would change once items[:i] are loaded, that is
        preview_changes(*items[i], before=items[:i]). Each sheet is applied once, in one
        rolled-back transaction per dataset, so a batch of k sheets costs k applications, not
        k²/2. Items after the last wanted one of their dataset are not applied; the list holds
        None for the items not wanted. `progress(fraction, message)` is called as it goes."""
        wanted = set(range(len(items))) if wanted is None else set(wanted)
        results: list[ChangePreview | None] = [None] * len(items)
        by_dataset: dict[str, list[int]] = {}
        for i, (sh, _) in enumerate(items):
            dataset = getattr(sh, "dataset", None)
            if dataset is None:
                if i in wanted:
                    results[i] = ChangePreview(None)
                continue
            if dataset not in schema.DATASETS:
                raise StoreError(f"'{dataset}' is not a dataset this program knows.")
            by_dataset.setdefault(dataset, []).append(i)
        todo = [(d, [i for i in idx if i <= max(wanted & set(idx))])
                for d, idx in by_dataset.items() if wanted & set(idx)]
        total, done = sum(len(idx) for _, idx in todo), 0
        w = self._w
        with self._lock:
            # A large append is otherwise written to the database file before commit, and a
            # rollback only frees those blocks: the file would keep the uploaded rows in them.
            # The setting is global, so it is put back (the lock keeps loads out meanwhile).
            optimistic = w.execute("SELECT current_setting('enable_optimistic_write')").fetchall()[0][0]
            w.execute("SET enable_optimistic_write = false")
            try:
                for dataset, idx in todo:
                    with self._transaction(keep=False,
                                           failure="The changes this file would make could not be worked out"):
                        for i in idx:
                            sh, file_hash = items[i]
                            content_hash = (sheet_hash(file_hash, sh.sheet) if file_hash
                                            else f"preview (never stored) {i}")
                            if i in wanted:
                                results[i] = self._preview_step(sh, dataset, content_hash, examples)
                            else:
                                written = self._write_sheet(sh, content_hash, None, with_rejects=False)
                                if not isinstance(written, tuple):
                                    self._preview_ids.add(written)
                            done += 1
                            if progress:
                                progress(done / total, f"Checked {done} of {total} sheets")
            finally:
                self._preview_ids.clear()   # rolled back: their numbers may be a later upload's
                w.execute(f"SET enable_optimistic_write = {'true' if optimistic else 'false'}")
        return results

    def _preview_step(self, sheet, dataset: str, content_hash: str, examples: int) -> ChangePreview:
        """Inside a rolled-back transaction: apply `sheet` and say what it changed. It stays
        applied, for the sheets after it in a batch."""
        keys = list(schema.KEYS[dataset])
        # a column whose text is never shown and whose derived column is compared instead
        # (ethnicity: 'WBRI' and 'White - White British' are one group) is left out, so that
        # a code written as a label does not count as a change
        compared = [c.name for c in _current_columns(dataset)
                    if c.name not in keys and c.name not in ("upload_id", "placement_id")
                    and c.name not in _DERIVED_FROM.values()]
        cols = ", ".join(keys + compared)
        on = " AND ".join(f"o.{k} IS NOT DISTINCT FROM n.{k}" for k in keys)
        w = self._w
        for t in ("_pv_before", "_pv_old", "_pv_new", "_pv_pairs"):
            w.execute(f"DROP TABLE IF EXISTS {t}")
        w.execute(f"CREATE TEMP TABLE _pv_before AS SELECT {cols} FROM {dataset}")
        written = self._write_sheet(sheet, content_hash, None, with_rejects=False)
        if isinstance(written, tuple):
            return ChangePreview(dataset, duplicate_of=written[0])
        upload_id = written
        self._preview_ids.add(upload_id)
        found = self.last_same_pupil_found   # worded for a file being checked, not loaded
        repeated, two_open = tuple(self.last_repeated), self.last_two_open
        same_pupil = same_pupil_notice(found[0], found[1], **found[2]) if found else None
        # each side's rows that the other lacks: the stored versions of records that change
        # or go, and the new versions of records that change or are added
        w.execute(f"CREATE TEMP TABLE _pv_old AS SELECT *, row_number() OVER () AS _id FROM "
                  f"(SELECT {cols} FROM _pv_before EXCEPT SELECT {cols} FROM {dataset})")
        w.execute(f"CREATE TEMP TABLE _pv_new AS SELECT *, row_number() OVER () AS _id FROM "
                  f"(SELECT {cols} FROM {dataset} EXCEPT SELECT {cols} FROM _pv_before)")
        w.execute(f"CREATE TEMP TABLE _pv_pairs AS SELECT o._id AS oid, n._id AS nid "
                  f"FROM _pv_old o JOIN _pv_new n ON {on}")
        if dataset == "placements":
            # A placement whose provider key changes (a name now tied to a URN) goes from
            # one key to another: the same pupil and start date, one record on each side.
            w.execute("""
                INSERT INTO _pv_pairs
                WITH gone AS (SELECT * FROM _pv_old WHERE _id NOT IN (SELECT oid FROM _pv_pairs)),
                     fresh AS (SELECT * FROM _pv_new WHERE _id NOT IN (SELECT nid FROM _pv_pairs)),
                     m AS (SELECT g._id AS oid, f._id AS nid,
                                  count(*) OVER (PARTITION BY g._id) AS n_o,
                                  count(*) OVER (PARTITION BY f._id) AS n_n
                           FROM gone g JOIN fresh f ON g.pupil_id = f.pupil_id AND g.start_date = f.start_date)
                SELECT oid, nid FROM m WHERE n_o = 1 AND n_n = 1""")
        counts = ", ".join(
            f"count(*) FILTER (WHERE o.{c} IS NOT NULL AND n.{c} IS NULL), "
            f"count(*) FILTER (WHERE o.{c} IS NULL AND n.{c} IS NOT NULL), "
            f"count(*) FILTER (WHERE o.{c} IS NOT NULL AND n.{c} IS NOT NULL AND o.{c} <> n.{c})"
            for c in compared)
        events = _EVENT_DATES[dataset]
        newest_old = ", ".join(f"max(o.{c})" for c in events)
        row = w.execute(
            f"SELECT (SELECT count(*) FROM _pv_old), (SELECT count(*) FROM _pv_new), count(*), "
            f"{newest_old}, {counts} FROM _pv_pairs p JOIN _pv_old o ON o._id = p.oid "
            "JOIN _pv_new n ON n._id = p.nid").fetchall()[0]
        n_old, n_new, n_pairs = row[:3]
        newest_in_changed = max((d for d in row[3:3 + len(events)] if d is not None), default=None)
        flat = row[3 + len(events):]
        columns = tuple(ColumnChange(c, *flat[3 * i:3 * i + 3]) for i, c in enumerate(compared)
                        if any(flat[3 * i:3 * i + 3]))
        other_setting = 0
        if dataset == "attendance":
            other_setting = w.execute("""
                SELECT count(*) FROM _pv_new n
                WHERE n._id NOT IN (SELECT nid FROM _pv_pairs)
                  AND EXISTS (SELECT 1 FROM _pv_before b WHERE b.pupil_id = n.pupil_id
                              AND b.period_start = n.period_start
                              AND b.period_end IS NOT DISTINCT FROM n.period_end
                              AND b.setting_key IS DISTINCT FROM n.setting_key)""").fetchall()[0][0]
        ks = _key_sql(dataset, "l.")
        match = " AND ".join(f"{ks[k]} IS NOT DISTINCT FROM n.{k}" for k in keys if k != "provider_key")
        changed_rows = w.execute(
            f"SELECT list_sort(list_distinct(list(l.row_number))) FROM ledger_{dataset} l "
            f"JOIN (SELECT n.* FROM _pv_new n SEMI JOIN _pv_pairs p ON p.nid = n._id) n ON {match} "
            "WHERE l.upload_id = ?", [upload_id]).fetchall()[0][0] or []
        file_dates = w.execute(f"SELECT {', '.join(f'max({c})' for c in events)} FROM ledger_{dataset} "
                               "WHERE upload_id = ?", [upload_id]).fetchall()[0]
        newest_in_file = max((d for d in file_dates if d is not None), default=None)
        when, what = _RECORD_LABEL[dataset]
        names = keys + compared
        cur = w.execute(
            f"SELECT {', '.join('o.' + c for c in names)}, {', '.join('n.' + c for c in names)} "
            f"FROM _pv_pairs p JOIN _pv_old o ON o._id = p.oid JOIN _pv_new n ON n._id = p.nid "
            f"ORDER BY n.pupil_id, n.{when}, n.{what}, p.nid LIMIT ?", [int(examples)])
        shown = []
        for r in cur.fetchall():
            before, after = dict(zip(names, r[:len(names)])), dict(zip(names, r[len(names):]))
            shown.append(RecordChange(
                after["pupil_id"], after[when], after[what],
                tuple((c, before[c], after[c]) for c in compared if before[c] != after[c])))
        return ChangePreview(dataset, None, added=n_new - n_pairs, changed=n_pairs, merged=n_old - n_pairs,
                             columns=columns, examples=tuple(shown), newest_in_file=newest_in_file,
                             newest_in_changed=newest_in_changed, repeated=repeated,
                             other_setting=other_setting, same_pupil=same_pupil,
                             changed_rows=tuple(int(r) for r in changed_rows), two_open=two_open)

    def _ingest_sheet(self, sheet, file_hash: str, user: str | None, step: Progress) -> UploadResult:
        where = _where(sheet.file_name, sheet.sheet)
        if sheet.dataset is None:
            reason = sheet.skipped_reason or "it does not look like any of the four datasets"
            return UploadResult(None, sheet.file_name, sheet.sheet, None, "skipped",
                                message=f"{where}: skipped (nothing stored). {reason}")
        if sheet.dataset not in schema.DATASETS:
            raise StoreError(f"{where}: '{sheet.dataset}' is not a dataset this program knows.")
        dataset = sheet.dataset
        content_hash = sheet_hash(file_hash, sheet.sheet)
        accepted: pa.Table = sheet.accepted
        rejected: pa.Table | None = sheet.rejected
        n_acc = accepted.num_rows
        n_rej = rejected.num_rows if rejected is not None else 0
        has_warn = "warnings" in accepted.column_names
        n_warn = n_acc - accepted["warnings"].null_count if has_warn else 0
        rejects_df = (rejected.select(["row_number", "reason", "original"]).to_pandas()
                      if n_rej else UploadResult.__dataclass_fields__["rejects"].default_factory())
        warnings_df = self._warnings_frame(sheet, accepted if has_warn else None)

        with self._transaction():
            written = self._write_sheet(sheet, content_hash, user, step)
            if isinstance(written, tuple):
                dup_id, dup_at = written
                return UploadResult(dup_id, sheet.file_name, sheet.sheet, dataset, "duplicate",
                                    message=f"{where}: already loaded as upload {dup_id} on "
                                            f"{dup_at:%d %b %Y %H:%M} UTC, so nothing was changed.")
            upload_id = written
            repeats = len(self.last_repeated)
            notices = [repeated_rows_notice(dataset, self.last_repeated)] if self.last_repeated else []
            if self.last_same_pupil:
                notices.append(self.last_same_pupil)
            if self.last_two_open:
                notices.append(self.last_two_open)
            if notices:
                notice = pd.DataFrame({"row_number": pd.array([None] * len(notices), dtype="Int64"),
                                       "warning": notices})
                warnings_df = pd.concat([notice, warnings_df], ignore_index=True)

        parts = [f"{_plural(n_acc, 'row')} accepted"]
        if repeats:   # the rows accepted are more than the records they make
            parts[0] += (f" ({repeats} repeating an earlier row's {_SAME_RECORD[dataset][0]}, so "
                         f"{_plural(n_acc - repeats, _SAME_RECORD[dataset][0])} stored)")
        if n_rej:
            parts.append(f"{n_rej} rejected")
        if n_warn:
            parts.append(f"{n_warn} with warnings")
        if sheet.summary_rows:
            parts.append(f"{_plural(int(sheet.summary_rows), 'total row')} ignored")
        if getattr(sheet, "blank_rows", 0):
            parts.append(f"{_plural(int(sheet.blank_rows), 'blank row')} ignored")
        message = (f"{where}: loaded as {dataset} (upload {upload_id}), "
                   f"{', '.join(parts)}.")
        return UploadResult(upload_id, sheet.file_name, sheet.sheet, dataset, "loaded", n_acc, n_rej, n_warn,
                            int(sheet.summary_rows or 0), message, rejects_df, warnings_df)

    def _write_sheet(self, sheet, content_hash: str, user: str | None, step: Progress | None = None,
                     with_rejects: bool = True) -> int | tuple[int, datetime]:
        """Inside a transaction: record one parsed sheet as an upload and re-derive its dataset.

        Returns the new upload_id, or (upload_id, uploaded_at) of the live upload already holding
        `content_hash` (a duplicate: nothing written). Loading and previewing both come here, so
        a preview applies exactly the rules a load does.
        """
        step = step or (lambda fraction, message: None)
        where = _where(sheet.file_name, sheet.sheet)
        dataset = sheet.dataset
        accepted: pa.Table = sheet.accepted
        rejected: pa.Table | None = sheet.rejected
        n_acc = accepted.num_rows
        n_rej = rejected.num_rows if rejected is not None else 0
        n_warn = n_acc - accepted["warnings"].null_count if "warnings" in accepted.column_names else 0
        dup = self._w.execute(
            "SELECT upload_id, uploaded_at FROM uploads WHERE content_hash = ? AND withdrawn_at IS NULL "
            "ORDER BY upload_id LIMIT 1", [content_hash]).fetchall()
        if dup:
            return dup[0][0], dup[0][1]
        upload_id = self._w.execute("SELECT coalesce(max(upload_id), 0) + 1 FROM uploads").fetchall()[0][0]
        carried = self._carried(dataset, sheet.carried, accepted)
        step(0.1, f"Saving {_plural(n_acc, 'row')} of {where}")
        self._w.execute(
            "INSERT INTO uploads (upload_id, uploaded_at, user_name, file_name, sheet, dataset, "
            "content_hash, carried, rows_accepted, rows_rejected, rows_warned, summary_rows, blank_rows, "
            "header_row, mapping, sheet_warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [upload_id, _now(), user, sheet.file_name, sheet.sheet, dataset, content_hash, carried,
             n_acc, n_rej, n_warn, int(sheet.summary_rows or 0), int(getattr(sheet, "blank_rows", 0) or 0),
             sheet.header_row, json.dumps(dict(sheet.mapping or {}), ensure_ascii=False),
             list(getattr(sheet, "sheet_warnings", None) or [])])
        if n_acc:
            self._insert_ledger(dataset, upload_id, accepted)
        if n_rej and with_rejects:
            self._w.register("_incoming_rejects", rejected)
            try:
                self._w.execute(
                    "INSERT INTO rejected_rows SELECT ?, CAST(row_number AS INTEGER), CAST(reason AS VARCHAR), "
                    "CAST(original AS VARCHAR) FROM _incoming_rejects", [upload_id])
            finally:
                self._w.unregister("_incoming_rejects")
        step(0.5, f"Updating the current {dataset}")
        self._keys_distinct = None
        self._rebuild(dataset, upload_id)
        # rows of the sheet that are one record: the rebuild has usually counted its distinct
        # keys already (free); placements, and an unknown answer, are looked at directly
        self.last_repeated = ([] if self._keys_distinct and dataset != "placements"
                              else self._repeated_rows(dataset, upload_id) if n_acc > 1 else [])
        if self.last_repeated:
            self._w.execute("UPDATE uploads SET sheet_warnings = list_append(coalesce(sheet_warnings, []), ?) "
                            "WHERE upload_id = ?", [repeated_rows_notice(dataset, self.last_repeated), upload_id])
        found = self._same_pupil(upload_id, accepted) if dataset == "placements" and n_acc else None
        self.last_same_pupil_found = found
        self.last_same_pupil = (same_pupil_notice(found[0], found[1], **found[2], loaded_as=upload_id)
                                if found else None)
        if self.last_same_pupil:
            self._w.execute("UPDATE uploads SET sheet_warnings = list_append(coalesce(sheet_warnings, []), ?) "
                            "WHERE upload_id = ?", [self.last_same_pupil, upload_id])
        self.last_two_open = self._two_open(upload_id) if dataset == "placements" and n_acc else None
        if self.last_two_open:
            self._w.execute("UPDATE uploads SET sheet_warnings = list_append(coalesce(sheet_warnings, []), ?) "
                            "WHERE upload_id = ?", [self.last_two_open, upload_id])
        step(1.0, f"Writing {where} to disk")   # "saved" only once committed: the page says so
        return upload_id

    @staticmethod
    def _warnings_frame(sheet, accepted: pa.Table | None) -> pd.DataFrame:
        rows: list[tuple] = [(None, w) for w in (getattr(sheet, "sheet_warnings", None) or [])]
        if accepted is not None and accepted.num_rows:
            mask = pc.is_valid(accepted["warnings"])
            sub = accepted.filter(mask).select(["row_number", "warnings"])
            rows.extend(zip(sub["row_number"].to_pylist(), sub["warnings"].to_pylist()))
        return pd.DataFrame({"row_number": pd.array([r[0] for r in rows], dtype="Int64"),
                             "warning": pd.Series([r[1] for r in rows], dtype=object)})

    @staticmethod
    def _carried(dataset: str, declared: Iterable[str], accepted: pa.Table) -> list[str]:
        """Columns this upload speaks for: declared by ingest, required, key parts, any column
        holding a value, and columns ingest derives from a carried one."""
        declared = set(declared or ())
        out = []
        keys = set(schema.KEYS[dataset])
        for col in schema.DATASETS[dataset]:
            n = col.name
            holds = n in accepted.column_names and accepted[n].null_count < accepted.num_rows
            if (n in declared or col.required or n in keys or holds
                    or _DERIVED_FROM.get(n) in declared):
                out.append(n)
        if dataset == "attendance":
            out = sorted(set(out) | {"period_end"}, key=[c.name for c in schema.ATTENDANCE].index)
        return out

    def _insert_ledger(self, dataset: str, upload_id: int, accepted: pa.Table) -> None:
        if "row_number" not in accepted.column_names:
            raise StoreError("The rows to store have no row numbers (a fault in the reader).")
        present = set(accepted.column_names)
        select = []
        for col in schema.DATASETS[dataset]:
            typ = _ddl_type(col)
            select.append(f"CAST({col.name} AS {typ})" if col.name in present else f"CAST(NULL AS {typ})")
        warnings = "CAST(warnings AS VARCHAR)" if "warnings" in present else "CAST(NULL AS VARCHAR)"
        names = ", ".join(c.name for c in schema.DATASETS[dataset])
        self._w.register("_incoming_rows", accepted)
        try:
            self._w.execute(
                f"INSERT INTO ledger_{dataset} (upload_id, row_number, {names}, warnings) "
                f"SELECT ?, CAST(row_number AS INTEGER), {', '.join(select)}, {warnings} FROM _incoming_rows",
                [upload_id])
        finally:
            self._w.unregister("_incoming_rows")

    def records_of(self, pupil_id: str) -> dict[str, pd.DataFrame]:
        """One pupil's current records in each dataset, each with its `record_id` (for
        remove_records), oldest first."""
        order = {"placements": "start_date", "attendance": "period_start", "exclusions": "start_date",
                 "assessments": "date"}
        return {d: self._read(f"SELECT {record_id_sql(d)} AS record_id, * FROM {d} WHERE pupil_id = ? "
                              f"ORDER BY {order[d]}, 1", [str(pupil_id)], df=True)
                for d in schema.DATASETS}

    def remove_records(self, dataset: str, record_ids: Iterable[str], reason: str,
                       user: str | None = None) -> tuple[int, str]:
        """Remove current records by hand (a mistyped UPN or start date made a second record
        that no later file will put right), keeping why: (upload number, message).

        The removal is an entry in the uploads ledger of kind 'removal', its note the reason,
        with one ledger row per record naming its key. The record's rows up to that row no
        longer count (current_state_sql), so a later file that sends the record again brings
        it back, and withdrawing the removal, like any upload, restores the state before it.
        """
        if dataset not in schema.DATASETS:
            raise StoreError(f"'{dataset}' is not a dataset this program knows.")
        reason = " ".join(str(reason or "").split())
        if not reason:
            raise StoreError("Say why the records are being removed: the reason is kept with the removal.")
        ids = list(dict.fromkeys(str(i) for i in record_ids))
        if not ids:
            raise StoreError("No record was chosen, so nothing was removed.")
        what = _SAME_RECORD[dataset][0]
        copy = ", ".join(_REMOVAL_COLUMNS[dataset])
        with self._transaction(failure="The records could not be removed, so nothing was changed"):
            w = self._w
            found = w.execute(f"SELECT count(*) FROM {dataset} WHERE {record_id_sql(dataset)} = ANY(?)",
                              [ids]).fetchall()[0][0]
            if found < len(ids):
                raise StoreError(f"{_plural(len(ids) - found, what)} chosen {'is' if len(ids) - found == 1 else 'are'} "
                                 "no longer stored (the data changed since the list was drawn), so nothing "
                                 "was removed. Look at the list again.")
            upload_id = w.execute("SELECT coalesce(max(upload_id), 0) + 1 FROM uploads").fetchall()[0][0]
            now = _now()
            digest = hashlib.sha256(f"removal\0{upload_id}\0{now.isoformat()}\0{dataset}\0{'|'.join(ids)}"
                                    .encode()).hexdigest()
            w.execute("INSERT INTO uploads (upload_id, uploaded_at, user_name, file_name, sheet, dataset, "
                      "content_hash, carried, rows_accepted, rows_rejected, rows_warned, summary_rows, "
                      "blank_rows, kind, note) VALUES (?, ?, ?, ?, NULL, ?, ?, [], ?, 0, 0, 0, 0, 'removal', ?)",
                      [upload_id, now, user, f"{_plural(found, what)} removed by hand", dataset, digest,
                       found, reason])
            if dataset == "placements":
                # one removal row for each way the record's own rows name their provider, as
                # they name it: a record keyed by a URN that another upload taught (a name or a
                # UKPRN seen with it) moves when that upload goes or another URN is taught, and
                # its removal rows move with it
                w.execute("DROP TABLE IF EXISTS _affected")
                w.execute("CREATE TEMP TABLE _affected AS SELECT DISTINCT pupil_id FROM placements "
                          "WHERE placement_id = ANY(?)", [ids])
                rows_sql, rows_params = current_state_sql(dataset, scoped=True, keyed_rows=True)
                source = (f"SELECT DISTINCT {', '.join('k.' + c for c in _REMOVAL_COLUMNS[dataset])} "
                          f"FROM ({rows_sql}) k JOIN placements p ON p.pupil_id = k.pupil_id "
                          "AND p.provider_key = k.provider_key AND p.start_date = k.start_date "
                          "WHERE p.placement_id = ANY(?) AND NOT k.removal")
                params = rows_params + [ids]
            else:
                source = f"SELECT {copy} FROM {dataset} WHERE {record_id_sql(dataset)} = ANY(?)"
                params = [ids]
            w.execute(f"INSERT INTO ledger_{dataset} (upload_id, row_number, {copy}) "
                      f"SELECT ?, CAST(row_number() OVER (ORDER BY {copy}) AS INTEGER), {copy} "
                      f"FROM ({source})", [upload_id] + params)
            self._rebuild(dataset, upload_id)
            left = w.execute(f"SELECT count(*) FROM {dataset} WHERE {record_id_sql(dataset)} = ANY(?)",
                             [ids]).fetchall()[0][0]
            if left:   # a key that the removal row does not reproduce: a fault, so undo it all
                raise StoreError(f"{_plural(left, what)} could not be removed, so nothing was changed.")
        return upload_id, (f"{_plural(found, what).capitalize()} removed (upload {upload_id}). To undo "
                           "it, withdraw upload {0} on the Upload page.".format(upload_id))

    def withdraw(self, upload_id: int, user: str | None = None) -> str:
        """Mark an upload withdrawn and rebuild its dataset: the state before it, exactly."""
        upload = self._upload(upload_id)
        with self._transaction():
            # checked inside the transaction: another thread may have just withdrawn it
            done = self._w.execute("SELECT withdrawn_at FROM uploads WHERE upload_id = ?",
                                   [upload["upload_id"]]).fetchall()[0][0]
            if done is not None:
                raise StoreError(f"Upload {upload['upload_id']} was already withdrawn on "
                                 f"{done:%d %b %Y %H:%M} UTC.")
            now = _now()
            self._w.execute("UPDATE uploads SET withdrawn_at = ?, withdrawn_by = ? WHERE upload_id = ?",
                            [now, user, upload["upload_id"]])
            self._w.execute("INSERT INTO upload_actions VALUES (?, 'withdrawn', ?, ?)",
                            [upload["upload_id"], now, user])
            self._rebuild(upload["dataset"], upload["upload_id"])
        if upload.get("kind") == "removal":   # the reason is typed text: not put where a screen may show it
            return (f"Upload {upload['upload_id']} ({upload['file_name']}) was withdrawn, so the records it "
                    "removed are back.")
        where = _where(upload["file_name"], upload["sheet"])
        return f"Upload {upload['upload_id']} ({where}, {upload['dataset']}) was withdrawn."

    def put_back(self, upload_id: int, user: str | None = None) -> str:
        """Undo a withdrawal: the upload is live again in its own place in the history, so the
        state is exactly what it would be had it never been withdrawn (the current state is a
        function of the live uploads). Refused when the same sheet was loaded again since (that
        later upload already holds its rows) or the upload is live."""
        upload = self._upload(upload_id)
        uid = upload["upload_id"]
        with self._transaction(failure="The upload could not be put back, so nothing was changed"):
            # checked inside the transaction: another session may have just put it back
            done, content_hash = self._w.execute("SELECT withdrawn_at, content_hash FROM uploads "
                                                 "WHERE upload_id = ?", [uid]).fetchall()[0]
            if done is None:
                raise StoreError(f"Upload {uid} is live: it has not been withdrawn.")
            again = self._w.execute("SELECT min(upload_id) FROM uploads WHERE content_hash = ? "
                                    "AND withdrawn_at IS NULL AND upload_id <> ?", [content_hash, uid]).fetchall()[0][0]
            if again is not None:
                raise StoreError(f"Upload {uid} was not put back: the same file was loaded again as upload "
                                 f"{again}, which is live and already holds its rows.")
            self._w.execute("UPDATE uploads SET withdrawn_at = NULL, withdrawn_by = NULL WHERE upload_id = ?", [uid])
            self._w.execute("INSERT INTO upload_actions VALUES (?, 'put back', ?, ?)", [uid, _now(), user])
            self._rebuild(upload["dataset"], uid, put_back=True)
        if upload.get("kind") == "removal":   # the reason is typed text: not put where a screen may show it
            return (f"Upload {uid} ({upload['file_name']}) was put back, so the records it removed are "
                    "removed again.")
        where = _where(upload["file_name"], upload["sheet"])
        return (f"Upload {uid} ({where}, {upload['dataset']}) was put back: the figures are as if it had never "
                "been withdrawn.")
