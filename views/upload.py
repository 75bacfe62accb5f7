"""Upload: drop termly spreadsheets, check what was recognised, map unknown headings, load,
see what was accepted or rejected and why, and withdraw an upload."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from datetime import date

import pandas as pd
import pyarrow.compute as pc
import streamlit as st

from analytics import mappings
from analytics.errors import APDataError
from analytics.ingest import HIDDEN_SHEET, NO_DATA
from analytics.ingest import headers as H
from analytics.ingest.headers import AM, DATASET_ORDER, DAYS, MARK, PCT, PM, SESSION, normalise_header
from analytics.schema import DATASETS
from views import _state as S
from views import _ui as U

LEAVE_OUT = "(leave this column out)"
PREVIEW_ROWS = 8
HISTORY_ROWS = 16      # upload history rows in view before it scrolls
CHECK_LIST_ROWS = 10   # rejected rows and row warnings listed by the check, before Load

# What the mapping form calls each column (the stored value stays the canonical name).
COLUMN_NAMES = {
    "pupil_id": "Pupil ID (UPN or local ID)", "first_name": "First name", "last_name": "Last name",
    "date_of_birth": "Date of birth", "sex": "Sex", "ethnicity": "Ethnicity", "sen_status": "SEN status",
    "cla": "Child looked after", "fsm": "Free school meals", "nc_year": "NC year group",
    "home_school": "Home school", "home_school_urn": "Home school URN", "trust": "Academy trust",
    "provider": "Provider name", "provider_urn": "Provider URN", "provider_ukprn": "Provider UKPRN",
    "setting_type": "Type of setting", "registered": "Registered provider", "commissioner": "Commissioned by",
    "reason": "Reason", "start_date": "Start date", "planned_end_date": "Planned end date",
    "end_date": "End date", "hours_per_week": "Hours per week", "sessions_per_week": "Sessions per week",
    "objectives": "Objectives", "last_review_date": "Last review date", "destination": "Destination",
    "out_of_area": "Out of area", "cost_per_week": "Cost per week",
    "period_start": "Date or week commencing", "period_end": "Period end",
    "possible_sessions": "Possible sessions", "attended_sessions": "Attended sessions", "setting": "Setting",
    "category": "Exclusion type", "sessions": "Length in sessions", "school": "School", "school_urn": "School URN",
    "measure": "Assessment measure", "date": "Assessment date", "value": "Score",
    "higher_is_better": "Higher is better",
    # headings ingest reads in another shape (register marks, an attendance %, days)
    AM: "AM register mark", PM: "PM register mark", MARK: "Register mark", SESSION: "Session (AM/PM)",
    PCT: "Attendance %", DAYS: "Length in days",
}
DATASET_WORD = {"placements": "placement", "attendance": "attendance", "exclusions": "exclusion",
                "assessments": "assessment"}
DERIVED = {"ethnicity_group"}   # worked out by ingest, never read from a column
# What the change preview calls a dataset's records (one, many).
RECORD_WORDS = {"placements": ("placement", "placements"),
                "attendance": ("attendance record", "attendance records"),
                "exclusions": ("exclusion", "exclusions"),
                "assessments": ("assessment result", "assessment results")}
PREVIEW_EXAMPLES = 5
PERSONAL_VALUES = {"first_name", "last_name", "date_of_birth"}   # a change is named, its values never shown


def _mappings_file():
    return mappings.mappings_path(S.db_path())


@st.cache_data(show_spinner=False, max_entries=20)
def _peek(digest: str, _data: bytes, file_name: str) -> dict:
    return mappings.peek_headers(_data, file_name)


# Parsed sheets held for Load, per browser session: up to this many bytes of Arrow tables
# (AP_UPLOAD_HOLD_MB, default 1024). Past it (a batch of national-scale files, say) Load
# reads those files again instead.
def _hold_bytes() -> int:
    try:
        return max(0, int(os.environ.get("AP_UPLOAD_HOLD_MB", "1024"))) << 20
    except ValueError:
        return 1 << 30


def _sheet_bytes(sheets) -> int:
    return sum(t.nbytes for sh in sheets for t in (sh.accepted, sh.rejected) if t is not None)


def _read(digest: str, data: bytes, file_name: str, mapping_json: str) -> dict:
    """What the check read: {"summaries", "error", "sheets"}. "error" is the sentence when
    the file cannot be read; "sheets" the ParsedSheets, or None when not held.

    Held in this browser session (not in a shared cache, which would copy the tables) while
    the file is in the uploader, so that **Load** stores what the check read instead of
    reading the file a second time: for a large file that halves the wait.
    """
    held = st.session_state.setdefault("_parsed", {})
    key = (digest, mapping_json)
    st.session_state.setdefault("_parsed_used", set()).add(key)
    if key not in held:
        read_file = S.api("ingest", "read_file")
        try:
            sheets = read_file(data, file_name, json.loads(mapping_json) or None)
        except APDataError as e:
            held[key] = {"summaries": None, "error": str(e), "sheets": None}
        else:
            in_use = sum(_sheet_bytes(h["sheets"]) for h in held.values() if h["sheets"])
            keep = in_use + _sheet_bytes(sheets) <= _hold_bytes()
            held[key] = {"summaries": [_summary(sh) for sh in sheets], "error": None,
                         "sheets": sheets if keep else None}
    return held[key]


def _forget_unused_reads() -> None:
    """Drop the sheets of files no longer in the uploader (or read with an old mapping)."""
    for name in ("_parsed", "_previews"):
        used = st.session_state.pop(f"{name}_used", set())
        held = st.session_state.get(name, {})
        for key in [k for k in held if k not in used]:
            del held[key]


def _summary(sh) -> dict:
    preview = sh.accepted.slice(0, PREVIEW_ROWS).to_pandas() if sh.accepted.num_columns else pd.DataFrame()
    rejects = sh.rejected.slice(0, CHECK_LIST_ROWS).select(["row_number", "reason"]).to_pandas()
    warned, row_warnings = 0, pd.DataFrame(columns=["row_number", "warnings"])
    if "warnings" in sh.accepted.column_names:
        warned = sh.accepted.num_rows - sh.accepted["warnings"].null_count
        if warned:
            with_warnings = sh.accepted.filter(pc.is_valid(sh.accepted["warnings"]))
            row_warnings = with_warnings.slice(0, CHECK_LIST_ROWS).select(["row_number", "warnings"]).to_pandas()
    return {"sheet": sh.sheet, "dataset": sh.dataset, "skipped_reason": sh.skipped_reason,
            "header_row": sh.header_row, "mapping": dict(sh.mapping), "unmapped": list(sh.unmapped),
            "accepted": sh.accepted.num_rows, "rejected": sh.rejected.num_rows, "warned": warned,
            "summary_rows": sh.summary_rows, "blank_rows": sh.blank_rows,
            "sheet_warnings": list(sh.sheet_warnings), "preview": preview,
            "rejects": rejects, "row_warnings": row_warnings}


def _row_list(rows: pd.DataFrame, text: str, total: int) -> None:
    """The first rows of a list as 'Row 5: reason' lines (long texts wrap), then how many more."""
    lines = [f"- {f'Row {int(r)}' if pd.notna(r) else 'A row'}: {S.md_escape(S.as_shown(t))}"
             for r, t in zip(rows["row_number"], rows[text])]
    if total > len(rows):
        lines.append(f"- … and {total - len(rows):,} more (all of them are listed, and can be downloaded, "
                     "after **Load**)")
    st.markdown("\n".join(lines))


def _check_rows(sh: dict) -> None:
    """Before Load: the rows that will be rejected, and the rows that will load with warnings."""
    if sh["rejected"]:
        st.markdown(f"**{U.n_of(sh['rejected'], 'row')} will be rejected** (not loaded). Fix them in the file and "
                    "check it again, or load the rest now and send these back to be fixed. Row numbers are "
                    "the file's own (its first line is row 1).")
        _row_list(sh["rejects"], "reason", sh["rejected"])
    if sh["warned"]:
        with st.expander(f"{U.n_of(sh['warned'], 'row')} will load with warnings — check them"):
            _row_list(sh["row_warnings"], "warnings", sh["warned"])


def _text_table(df: pd.DataFrame, text: str, label: str, text_width: int = 600, **kw) -> None:
    """Row numbers and long texts (reasons, warnings): the text column takes the width (it grows
    to fill the table, never past it: `text_width` is its least), and wraps when any text is long
    (the grid wraps only in rows taller than 4rem)."""
    shown = pd.DataFrame({"Row": df["row_number"].astype("Int64"),
                          label: df[text].map(S.mask_upns)})
    longest = int(shown[label].astype(str).str.len().max()) if len(shown) else 0
    if longest > 70:
        kw.setdefault("row_height", 72 if longest <= 220 else 96)
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="",
                 column_config={"Row": st.column_config.NumberColumn("Row", width=60, format="%d"),
                                label: st.column_config.TextColumn(label, width=text_width)}, **kw)


def _preview_table(df: pd.DataFrame) -> pd.DataFrame:
    """The first rows as read, with UPNs masked (never shown) and the bookkeeping columns last."""
    out = df.copy()
    if "pupil_id" in out.columns:
        out["pupil_id"] = out["pupil_id"].map(lambda v: "••••••••" + str(v)[-3:] if v is not None and not pd.isna(v) else v)
        out = out.rename(columns={"pupil_id": "pupil_id (masked)"})
    hidden = ("warnings", "first_name", "last_name", "date_of_birth") if S.presentation() else ("warnings",)
    keep = [c for c in out.columns if c not in hidden and not out[c].isna().all()]
    return out[keep]


def _column_name(col: str, dataset: str | None, missing: set[str] = frozenset()) -> str:
    """A column as the form names it: 'Start date (placement)'; a required column still missing
    is marked."""
    if col == LEAVE_OUT:
        return col
    name = COLUMN_NAMES.get(col, col.replace("_", " ").capitalize())
    held_by = [ds for ds, cols in DATASETS.items() if any(c.name == col for c in cols)]
    if held_by and len(held_by) < len(DATASETS):   # (every dataset has a pupil ID)
        words = [DATASET_WORD[ds] for ds in ([dataset] if dataset in held_by else held_by)]
        name += f" ({', '.join(words)})"
    return name + (" — required, missing" if col in missing else "")


def _targets(dataset: str | None, with_others: bool) -> list[str]:
    """The columns offered: the dataset's own first (in the spec's order), then, when the dataset
    is only a guess, every other dataset's."""
    first = [c.name for c in DATASETS[dataset] if c.name not in DERIVED] if dataset else []
    if not with_others:
        return first
    rest = [c.name for ds in DATASET_ORDER for c in DATASETS[ds] if c.name not in DERIVED]
    return list(dict.fromkeys(first + rest))


def _needs_text(needs: list[tuple[str, ...]], dataset: str | None) -> str:
    return "; ".join(" or ".join(f"**{_column_name(c, dataset)}**" for c in need) for need in needs)


def _mapping_form(key: str, headers: list[str], user_map: dict[str, str], dataset: str | None,
                  guessed: bool) -> dict[str, str | None]:
    """One choice per heading, pre-set to what the check read it as. The required columns still
    missing are named above the choices (as they are chosen, before Apply) and marked, first, in
    them. Returns, per heading, the choice to keep in the mapping: None where it is what the
    heading is recognised as on its own (so remembered choices stay few), "" where a recognised
    heading is left out."""
    current = H.read_as(dataset, headers, user_map)
    automatic = H.read_as(dataset, headers, {})
    # The browser sends back a choice as its label, so labels change only with what the check
    # read (after Apply, when every choice is pre-set afresh): the marks follow the check, and
    # the sentence above follows the choices as they are made.
    read_missing = {c for need in H.missing_required(dataset, {c for c in current if c}) for c in need}
    chosen = [st.session_state.get(f"map_{key}_{i}", cur or LEAVE_OUT) for i, cur in enumerate(current)]
    missing_now = H.missing_required(dataset, {c for c in chosen if c != LEAVE_OUT})
    if dataset is not None:
        what = f"this looks like **{dataset}**" if guessed else f"this sheet holds **{dataset}**"
        if missing_now:
            st.markdown(f"Still missing ({what}): {_needs_text(missing_now, dataset)}. Choose it for "
                        "the column that holds it.")
        else:
            st.markdown(f"Every required {DATASET_WORD[dataset]} column is chosen ({what})"
                        + (". Press **Apply** to check the file again." if read_missing else "."))
    targets = _targets(dataset, with_others=guessed or dataset is None)
    targets = [c for c in targets if c in read_missing] + [c for c in targets if c not in read_missing]
    changes: dict[str, str | None] = {}
    cells = st.columns(2) if len(headers) > 4 else [st.container()]
    for i, h in enumerate(headers):
        options = [LEAVE_OUT] + targets
        for extra in (current[i], automatic[i]):
            if extra and extra not in options:
                options.append(extra)
        default = current[i] or LEAVE_OUT
        v = cells[i % len(cells)].selectbox(
            f"Column '{S.md_escape(h)}' is", options, index=options.index(default), key=f"map_{key}_{i}",
            format_func=lambda c, ds=dataset: _column_name(c, ds, read_missing))
        choice = None if v == LEAVE_OUT else v
        changes[h] = None if choice == automatic[i] else choice or ""
    return changes


def _with_changes(user_map: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    out = dict(user_map)
    for h, c in changes.items():
        for k in [k for k in out if normalise_header(k) == normalise_header(h)]:
            del out[k]
        if c is not None:
            out[h] = c
    return out


def _mappable(sh: dict, headers: list[str]) -> bool:
    """A skipped sheet the person can put right by saying what its columns are: it has headings,
    and it was not skipped for being hidden or for having headings but no rows."""
    reason = str(sh.get("skipped_reason") or "")
    return bool(headers) and not reason.startswith(HIDDEN_SHEET) and reason != NO_DATA


def _skipped_sheet_form(digest: str, n: int, sh: dict, headers: list[str], user_map: dict[str, str]) -> None:
    """A workbook sheet skipped for want of a column gets the form a single-sheet file gets, so it
    can be mapped instead of split out (data-spec: unrecognised headings are offered to the user)."""
    if not _mappable(sh, headers):
        return   # no header row found (a "Read me" sheet, say), hidden, or no rows: nothing to map
    guess = H.closest_dataset(headers, user_map)
    key = f"{digest}_s{n}"
    with st.expander(f"Tell us what the columns of sheet '{S.md_escape(S.as_shown(sh['sheet']))}' are",
                     expanded=guess is not None or st.session_state.get("_upload_form_open") == key):
        st.write("Each heading is set to what it was recognised as; the ones not recognised are left out. "
                 "Change any of them, then press **Apply**. Your choices are remembered for the next file "
                 "with the same headings.")
        changes = _mapping_form(key, headers, user_map, guess, guessed=True)
        if st.button("Apply", key=f"apply_{key}"):
            st.session_state[f"usermap_{digest}"] = _with_changes(user_map, changes)
            st.session_state["_upload_form_open"] = key
            st.rerun()


def _preview_key(digest: str, mapping_json: str, n: int, before=()) -> tuple:
    """What a sheet's change preview depends on: the file, its mapping, the sheet, the stored
    data and the sheets before it in the batch."""
    return digest, mapping_json, n, S.data_version(), tuple(k for *_, k in before)


def _preview_for(parsed, sha256: str, digest: str, mapping_json: str, n: int, before=()):
    """Store.preview_changes for one sheet after the sheets ``before`` it in the batch, kept in
    this browser session until the file, its mapping, the files before it or the stored data
    change (the check is drawn again on every click). ``before``: [(sheet, sha256, key)]."""
    key = _preview_key(digest, mapping_json, n, before)
    held = st.session_state.setdefault("_previews", {})
    st.session_state.setdefault("_previews_used", set()).add(key)
    if key not in held:
        ahead = "" if not before else " after the files above it"
        with st.spinner(f"Working out what loading this would change{ahead}…"):
            held[key] = S.store().preview_changes(parsed, sha256, examples=PREVIEW_EXAMPLES,
                                                  before=[(sh, h) for sh, h, _ in before])
    return held[key]


def _n(count: int, words: tuple[str, str]) -> str:
    return f"{count:,} {words[0] if count == 1 else words[1]}"


def _value_text(v) -> str:
    """A stored value as the preview shows it (text from the file masked and escaped)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return "blank"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, date):
        return v.strftime("%d/%m/%Y")
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if v != int(v) else f"{int(v):,}"
    return S.md_escape(S.mask_upns(U.value_label(v)))


def _change_phrases(pv, most: int = 6) -> list[str]:
    """ChangePreview.change_phrases in the page's column labels."""
    return pv.change_phrases(lambda c: U.lower_label(COLUMN_NAMES.get(c, c.replace("_", " "))), most)


def _example_line(dataset: str, r) -> str:
    """One changed record: its case number (never the UPN or a name), what and when, and how."""
    when = r.when.strftime("%d/%m/%Y") if r.when else "no date"
    what = S.md_escape(S.mask_upns(U.value_label(r.what))) if r.what else None
    label = {"placements": f"{what or 'a provider'}, from {when}",
             "attendance": f"{what + ', ' if what else ''}period from {when}",
             "exclusions": f"{what or 'exclusion'} on {when}",
             "assessments": f"{what or 'assessment'} on {when}"}[dataset]
    how = "; ".join(
        f"{U.lower_label(COLUMN_NAMES.get(c, c.replace('_', ' ')))} changed" if c in PERSONAL_VALUES else
        f"{U.lower_label(COLUMN_NAMES.get(c, c.replace('_', ' ')))} {_value_text(a)} → {_value_text(b)}"
        for c, a, b in r.changes) or "its provider is now identified differently"
    return f"- {S.case_number(r.pupil_id)}, {label}: {how}"


def _change_preview(parsed, sha256: str, digest: str, mapping_json: str, n: int, before=(),
                    unchecked: int = 0, pending: list | None = None) -> None:
    """Before Load: how many stored records this sheet would change, and how (data-spec §6: the
    newest upload wins for every column it carries, blanks included, whatever its dates), once
    the sheets ``before`` it in the batch are loaded. ``unchecked``: files ahead of it that will
    load but could not be applied here (too large to hold). ``pending``: when given and the
    answer is not yet known, a place is kept for it and the sheet put on this list, for
    _fill_previews to work out the whole batch at once after every file is drawn."""
    key = _preview_key(digest, mapping_json, n, before)
    if pending is not None and key not in st.session_state.get("_previews", {}):
        st.session_state.setdefault("_previews_used", set()).add(key)
        slot = st.empty()
        slot.caption("What loading this would change is worked out once every file is checked…")
        pending.append({"slot": slot, "key": key, "args": (parsed, sha256, digest, mapping_json, n, before,
                                                            unchecked)})
        return
    try:
        pv = _preview_for(parsed, sha256, digest, mapping_json, n, before)
    except APDataError as e:
        st.caption(f"What loading this would change could not be worked out: {S.md_escape(e)}")
        return
    words = RECORD_WORDS[pv.dataset]
    if pv.duplicate_of is not None:
        st.info(f"This is already loaded (upload {pv.duplicate_of}): loading it again changes nothing.")
        return
    if pv.repeated:
        # rows of the sheet that are one record: the later row's values replace the earlier's
        st.warning(S.api("store", "repeated_rows_notice")(pv.dataset, list(pv.repeated)))
    if getattr(pv, "same_pupil", None):
        # a mistyped UPN: the same child (name and date of birth) under a second ID
        st.warning(S.md_escape(S.as_shown(pv.same_pupil)))
    if getattr(pv, "two_open", None):
        # a start date corrected: the placement under the old date stays open beside it
        st.warning(S.md_escape(S.as_shown(pv.two_open)))
    if getattr(pv, "other_setting", 0):
        st.warning(f"**{U.n_of(pv.other_setting, 'attendance row')} {'is' if pv.other_setting == 1 else 'are'} for weeks already stored for the same pupil "
                   "under another setting** (or with none). Both will count, so those weeks will have their "
                   "possible sessions twice. If this file sends the same weeks again, give them the setting "
                   "they were stored with.")
    ahead = len({k[0] for *_, k in before if k[0] != digest})
    also = (f" (after the {ahead} file{'s' if ahead != 1 else ''} above it, loaded first)" if ahead else "")
    if unchecked:
        also += (f" (not counting {unchecked} larger file{'s' if unchecked != 1 else ''} above it, too large to "
                 "check ahead)")
    if not pv.changed and not pv.merged:
        if pv.added:
            st.info(f"Loading this will add {_n(pv.added, words)} and change none already stored{also}.")
        else:
            st.info(f"Loading this changes nothing: every row repeats what is already stored{also}.")
        return
    text = (f"**Loading this will change {_n(pv.changed, words)} already stored**: "
            f"{', '.join(_change_phrases(pv)) or 'their provider is identified differently'}.")
    if pv.merged:
        text += (f" {_n(pv.merged, words)} stored now will be merged into another with the same pupil and "
                 "start date.")
    if pv.added:
        text += f" It will also add {_n(pv.added, words)}."
    text += (" A newer upload replaces what is stored for every column it has, blank cells included"
             f"{also}.")
    st.warning(text)
    if pv.older_than_stored:
        rows = list(getattr(pv, "changed_rows", ()))
        listed = ", ".join(str(r) for r in rows[:20]) + (f" and {len(rows) - 20:,} more" if len(rows) > 20 else "")
        st.warning(f"**This file looks older than what it would change.** Its newest date is "
                   f"{pv.newest_in_file:%d/%m/%Y}, but the {words[1]} it would change already hold dates up to "
                   f"{pv.newest_in_changed:%d/%m/%Y}. Loading it puts this file's values back over the newer "
                   "ones (reopening placements whose end date it leaves blank, say). If it is an older "
                   "term's file, delete from it the rows that change what is stored"
                   + (f" (row{'s' if len(rows) != 1 else ''} {listed} of the file, as numbered in the spreadsheet)"
                      if rows else "") +
                   " and upload what is left; or correct the newer file instead.")
        if rows:
            # row numbers only: nothing personal, so offered in presentation mode too
            st.download_button("Download the row numbers to delete", data="\n".join(["Row in the file"] +
                                                                                  [str(r) for r in rows]) + "\n",
                               file_name=f"rows-to-delete-{digest}-{n}.csv", mime="text/csv",
                               key=f"dl_rows_{digest}_{n}", on_click="ignore", icon=":material/download:")
    shown = pv.examples
    if not shown:
        return
    lines = [_example_line(pv.dataset, r) for r in shown]
    if pv.changed > len(shown):
        lines.append(f"- … and {pv.changed - len(shown):,} more")
    which = (f"The {words[1] if len(shown) != 1 else words[0]}" if pv.changed <= len(shown)
             else f"The first {len(shown)}")
    st.markdown(f"{which} it would change (case numbers, not UPNs):\n" + "\n".join(lines))


def _named_dataset(name: str) -> str | None:
    """The one dataset a file or sheet name names ('2024-25 spring attendance.csv'), if any."""
    words = {"placements": ("placement",), "attendance": ("attendance", "register"),
             "exclusions": ("exclusion", "suspension"), "assessments": ("assessment",)}
    low = name.lower()
    found = [d for d, stems in words.items() if any(s in low for s in stems)]
    return found[0] if len(found) == 1 else None


def _sheets_of(steps) -> list:
    """The parsed sheets of files that will load, in load order, as _preview_for's ``before``."""
    return [(sh, sha256, (sha256[:16], json.dumps(mapping, sort_keys=True), i))
            for _, _, mapping, parsed, sha256 in steps if parsed is not None for i, sh in enumerate(parsed)]


def _fill_previews(pending: list[dict], ready: list) -> None:
    """Work out the change previews _change_preview put off, for the whole batch in one pass
    (Store.preview_batch applies each sheet once: a batch of k sheets costs k applications
    instead of one preview per sheet with all the sheets ahead of it applied again), with a
    progress bar in the first file's place; then draw each in its place."""
    if not pending:
        return
    items = _sheets_of(ready)
    keys = [k for *_, k in items]
    wanted = {}
    for p in pending:
        before = p["args"][5]
        i = len(before)
        if i < len(keys) and keys[i] == p["key"][:3] and keys[:i] == [k for *_, k in before]:
            wanted[i] = p
    held = st.session_state.setdefault("_previews", {})
    if wanted:
        words = "Working out what loading these files would change"
        bar = pending[0]["slot"].progress(0.0, text=f"{words}…")
        try:
            found = S.store().preview_batch([(sh, h) for sh, h, _ in items], examples=PREVIEW_EXAMPLES,
                                            wanted=list(wanted),
                                            progress=lambda f, m: bar.progress(min(1.0, f), text=f"{words}: {m[0].lower()}{m[1:]}"))
        except APDataError:
            found = None   # each is worked out on its own below, which says where it fails
        if found is not None:
            for i, p in wanted.items():
                held[p["key"]] = found[i]
    for p in pending:
        parsed = p["args"][0]
        with p["slot"].container(), S.section(f"what loading {S.md_escape(S.as_shown(parsed.file_name))} would change"):
            _change_preview(*p["args"])


def _file_step(f, data: bytes, sha256: str, ahead=(), why_not: dict | None = None, pending: list | None = None
               ) -> tuple[bytes, str, dict, list | None, str] | None:
    """Show what one file holds; return (data, name, mapping, parsed sheets or None, sha256)
    when it can be loaded. ``ahead``: the steps of the files above it that will load first;
    ``why_not``: {file name: reason} gets the reason when it cannot be loaded."""
    why_not = why_not if why_not is not None else {}
    digest = sha256[:16]
    name = f.name
    st.subheader(S.md_escape(S.as_shown(name)), anchor=False)   # h3, under "Before loading" (h2); a name is text
    st.caption(f"{len(data) / 1024:,.0f} KB")
    headers_by_sheet = _peek(digest, data, name)
    all_headers = [h for hs in headers_by_sheet.values() for h in hs]
    remembered = {}
    for hs in headers_by_sheet.values():
        remembered.update(mappings.lookup(_mappings_file(), hs))
    user_map = dict(st.session_state.get(f"usermap_{digest}", remembered))
    with st.spinner(f"Reading {S.md_escape(S.as_shown(name))}…"):
        read = _read(digest, data, name, json.dumps(user_map, sort_keys=True))
    error = read["error"]
    if remembered:
        st.caption(f"Using the column choices remembered from an earlier file with the same headings "
                   f"({len(remembered)} column{'s' if len(remembered) != 1 else ''}).")
    if error:
        known = frozenset(normalise_header(k) for k in user_map)
        if all_headers and all(H.header_score(hs, known) < 2 for hs in headers_by_sheet.values()):
            # headings found, but not two the program knows (a case system's own names)
            error = ("The program does not know this file's headings (such as 'UPN', 'Start Date' or "
                     "'Provider'), so it cannot tell what the file holds.")
            st.error(f"{error} Say below what each column is.")
        else:
            st.error(S.md_escape(error))
        if all_headers and not error.endswith(NO_DATA):   # headings all known, no rows: nothing to map
            with st.expander("Tell us what the columns are", expanded=True):
                st.write("Each heading is set to what it was recognised as; the ones not recognised are "
                         "left out. Change any of them, then press **Apply**. Your choices are remembered "
                         "for the next file with the same headings.")
                changes: dict[str, str | None] = {}
                for n, (sheet, hs) in enumerate(headers_by_sheet.items()):
                    if sheet is not None:
                        st.markdown(f"**Sheet '{S.md_escape(sheet)}'**")
                    guess = H.closest_dataset(hs, user_map)
                    changes.update(_mapping_form(f"{digest}_{n}", hs, user_map, guess, guessed=True))
                if st.button("Apply", key=f"apply_{digest}"):
                    st.session_state[f"usermap_{digest}"] = _with_changes(user_map, changes)
                    st.rerun()
        why_not[name] = error
        return None
    loadable = False
    # sheets skipped with nothing to map (no heading row, empty, hidden): one notice for them all
    # when there are many, not a wall of boxes above the sheets that load
    quiet = [sh for n, sh in enumerate(read["summaries"]) if sh["dataset"] is None
             and not _mappable(sh, headers_by_sheet.get(sh["sheet"], []))]
    if len(quiet) > 3:
        st.warning(f"{len(quiet)} sheets were skipped, with nothing in them to load or to map.")
        with st.expander(f"Why each of the {len(quiet)} sheets was skipped"):
            st.markdown("\n".join(f"- Sheet '{S.md_escape(S.as_shown(sh['sheet']))}': {S.md_escape(sh['skipped_reason'])}"
                                   for sh in quiet))
    for n, sh in enumerate(read["summaries"]):
        label = f"Sheet '{S.md_escape(S.as_shown(sh['sheet']))}'" if sh["sheet"] else "The file"
        if sh["dataset"] is None:
            if len(quiet) > 3 and any(sh is q for q in quiet):
                continue
            st.warning(f"{label} was skipped: {S.md_escape(sh['skipped_reason'])}")
            _skipped_sheet_form(digest, n, sh, headers_by_sheet.get(sh["sheet"], []), user_map)
            continue
        loadable = True
        st.success(f"{label} holds **{sh['dataset']}** (headings on row {sh['header_row']}): "
                   f"{U.n_of(sh['accepted'], 'row')} ready, {sh['rejected']:,} to be rejected"
                   + (f", {sh['warned']:,} with warnings" if sh["warned"] else "")
                   + (f", {U.n_of(sh['summary_rows'], 'total row')} ignored" if sh["summary_rows"] else "")
                   + (f", {U.n_of(sh['blank_rows'], 'blank row')} ignored" if sh["blank_rows"] else "") + ".")
        named = _named_dataset(sh["sheet"] or name)
        if named and named != sh["dataset"]:
            # a file dropped under the wrong name is often the wrong file
            st.warning(f"{label}'s name suggests **{named}**, but its headings are those of **{sh['dataset']}**. "
                       "Check that this is the file you meant to upload.")
        notices = [S.md_escape(S.as_shown(w)) for w in sh["sheet_warnings"]]
        if notices:   # about the sheet as a whole, not any one row
            st.warning(notices[0] if len(notices) == 1 else "\n".join(f"- {w}" for w in notices))
        if read["sheets"] is not None:
            mapping_json = json.dumps(user_map, sort_keys=True)
            before = _sheets_of(ahead) + [(s, sha256, (digest, mapping_json, i)) for i, s in enumerate(read["sheets"][:n])]
            _change_preview(read["sheets"][n], sha256, digest, mapping_json, n, before,
                            unchecked=sum(step[3] is None for step in ahead), pending=pending)
        else:
            st.caption("What loading this would change in the stored data is not worked out for a file "
                       "this large.")
        _check_rows(sh)
        if len(sh["preview"]):
            with st.expander(f"Preview: the first {min(PREVIEW_ROWS, sh['accepted'])} rows as they will be stored "
                             "(UPNs masked)"):
                st.dataframe(_preview_table(sh["preview"]), hide_index=True, width="stretch", placeholder="")
        headers = list(headers_by_sheet.get(sh["sheet"], []))
        headers += [h for h in [*sh["mapping"], *sh["unmapped"]] if h not in headers]
        n_out = sum(c is None for c in H.read_as(sh["dataset"], headers, user_map))
        with st.expander(f"Columns: {len(headers) - n_out} read, {n_out} left out"
                         + (f" ({len(sh['unmapped'])} not recognised)" if sh["unmapped"] else "")
                         + " — check or change what they hold",
                         expanded=st.session_state.get("_upload_form_open") == f"{digest}_s{n}"):
            st.caption("Columns left out are not loaded. Choices are remembered for the next file "
                       "with the same headings.")
            changes = _mapping_form(f"{digest}_s{n}", headers, user_map, sh["dataset"], guessed=False)
            if st.button("Apply", key=f"apply_{digest}_s{n}"):
                st.session_state[f"usermap_{digest}"] = _with_changes(user_map, changes)
                st.session_state["_upload_form_open"] = f"{digest}_s{n}"   # still open after the check
                st.rerun()
    if not loadable:
        why_not[name] = "; ".join(f"{'sheet ' + repr(sh['sheet']) + ': ' if sh['sheet'] else ''}"
                                  f"{str(sh['skipped_reason']).rstrip('.')}" for sh in read["summaries"]) + "."
    return (data, name, user_map, read["sheets"], sha256) if loadable else None


def _same_bytes_step(name: str, first_name: str, first_step: tuple | None):
    """A file with the same bytes as one above it in this batch (a second download, renamed by the
    browser): checked once, above; on Load it is reported as a duplicate (data-spec §6)."""
    st.subheader(S.md_escape(S.as_shown(name)), anchor=False)   # h3, under "Before loading" (h2); a name is text
    st.info(f"This file holds exactly the same bytes as {S.md_escape(S.as_shown(first_name))}, above, so it is checked "
            "there. Loading it again changes nothing: after **Load** it is reported as a duplicate.")
    if first_step is None:
        return None
    data, _, mapping, parsed, sha256 = first_step
    return data, name, mapping, parsed, sha256


def _show_result(r: dict, withdrawn: set[int] = frozenset()) -> None:
    """One sheet's outcome: its sentence, then its rejected rows (to download) and warnings."""
    where = S.as_shown(r["file_name"] + (f", sheet '{r['sheet']}'" if r["sheet"] else ""))
    if r["status"] == "loaded":
        box = st.success if not r["rejected"] else st.warning
    elif r["status"] == "duplicate":
        box = st.info
    else:
        box = st.warning if r["status"] == "skipped" else st.error
    text = S.md_escape(S.as_shown(r["message"]) or f"{where}: {r['status']}")
    if r.get("upload_id") in withdrawn:   # since this result: the history below says so too
        box = st.warning
        text += (f"\n\n**Upload {r['upload_id']} has since been withdrawn**: " +
                 ("its rows are no longer in the stored data." if r["status"] == "loaded" else
                  "the data this file repeats are no longer stored, so loading it again would now load it."))
    box(text)
    rejects: pd.DataFrame = r["rejects"]
    if len(rejects):
        st.markdown(f"**{U.n_of(len(rejects), 'rejected row')}** — not loaded. Download them, fix them and upload "
                    "them again.")
        _text_table(rejects, "reason", "Reason")
        _rejects_downloads(rejects, f"rej_{r['key']}", f"rejected-rows-{_stem(where)}")
    warnings: pd.DataFrame = r["warnings"]
    # notices about the sheet as a whole (a column not recognised) have no row number
    notices = warnings[warnings["row_number"].isna()]
    row_warnings = warnings[warnings["row_number"].notna()]
    if len(notices):
        st.markdown("**About the sheet:**\n" + "\n".join(f"- {S.md_escape(S.as_shown(w))}"
                                                           for w in notices["warning"]))
    if len(row_warnings):
        with st.expander(f"Warnings on {U.n_of(len(row_warnings), 'row')} — loaded, but check them"):
            _text_table(row_warnings, "warning", "Warning")


def _withdrawn_since(results: list[dict]) -> set[int]:
    """The uploads named in these results that have been withdrawn since (here or elsewhere)."""
    named = {int(r["upload_id"]) for r in results if r.get("upload_id") is not None}
    if not named:
        return set()
    ledger = S.store().uploads()
    gone = ledger.loc[ledger["withdrawn_at"].notna(), "upload_id"].astype(int)
    return named & set(gone.tolist())


def _show_results(results: list[dict]) -> None:
    """Totals, one line per sheet, then the details of every sheet that needs a look."""
    st.header("Result of the last upload", anchor=False)
    withdrawn = _withdrawn_since(results)
    if withdrawn:
        ids = sorted(withdrawn)
        st.warning(f"Since this upload, upload{'s' if len(ids) > 1 else ''} "
                   f"{', '.join(str(i) for i in ids)} {'have' if len(ids) > 1 else 'has'} been withdrawn "
                   "(see the upload history below): the rows counted here are no longer all in the stored data.")
    c = U.tiles(4)
    c[0].metric("Rows accepted", f"{sum(r['accepted'] for r in results):,}")
    c[1].metric("Rows rejected", f"{sum(r['rejected'] for r in results):,}")
    c[2].metric("Rows with warnings", f"{sum(r['warned'] for r in results):,}")
    c[3].metric("Sheets not loaded", f"{sum(r['status'] not in ('loaded', 'duplicate') for r in results):,}",
                help="Sheets skipped (no data recognised) and files that could not be read. Files already "
                     "loaded before are counted apart: loading them again changes nothing.")
    duplicates = sum(r["status"] == "duplicate" for r in results)
    if duplicates:
        st.caption(f"{U.n_of(duplicates, 'sheet')} {'was' if duplicates == 1 else 'were'} already loaded, so "
                   "nothing changed for " + ("it." if duplicates == 1 else "them."))
    summary = pd.DataFrame([{"file": S.as_shown(r["file_name"]), "sheet": S.as_shown(r["sheet"]), "dataset": r.get("dataset"),
                             "status": r["status"] + (", since withdrawn" if r.get("upload_id") in withdrawn
                                                      else ""), "accepted": r["accepted"], "rejected": r["rejected"],
                             "warnings": r["warned"], "total_rows_ignored": r["summary_rows"]} for r in results])
    U.table(summary, rename={"File": "File", "Total rows ignored": "'Total' rows ignored"})
    needs_look = [r for r in results if r["status"] != "loaded" or r["rejected"] or r["warned"]
                  or len(r["warnings"]) or r.get("upload_id") in withdrawn]
    for r in needs_look:
        with st.container(border=True):
            _show_result(r, withdrawn)
    if not needs_look:
        st.success("Every sheet loaded with no rejected rows and no warnings.")


def _stem(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")[:60] or "upload"


def _rejects_downloads(rejects: pd.DataFrame, key: str, stem: str) -> None:
    """The rejected rows as they were in the file, to fix and send again: UPNs, names and dates
    of birth included, so not offered in presentation mode (a shared screen)."""
    if S.presentation():
        st.caption("Turn presentation mode off to download these rows: they are the rows as they were "
                   "in the file, UPNs and names included.")
        return
    U.downloads(_rejects_for_download(rejects), key, stem, aggregate=False, codes=True,
                cases=_cases_in(rejects))


def _cases_in(rejects: pd.DataFrame) -> list[str]:
    """The case numbers of the children whose rows these are, for the access log (the file holds
    the rows as they were, UPNs and no case numbers: a QA review found its downloads recorded
    against nobody): every UPN in a row, and any value that is a pupil ID held in the store."""
    upns_in = S.api("privacy", "upns_in")
    known = {str(k).upper(): k for k in S.call("oversight", "pupil_ids")}   # an ID as stored
    ids = set()
    for text in rejects["original"].dropna().astype(str):
        ids |= {known.get(u, u) for u in upns_in(text)}
        try:
            values = json.loads(text).values()
        except (ValueError, AttributeError):
            values = ()
        ids |= {known[v] for v in ("".join(str(x).split()).upper() for x in values if x is not None) if v in known}
    return sorted(set(S.case_numbers(pd.Series(sorted(ids), dtype=object))))


def _rejects_for_download(rejects: pd.DataFrame) -> pd.DataFrame:
    return S.api("exports", "rejected_rows_table")(rejects)


def _load(ready: list[tuple[bytes, str, dict, list | None, str]], not_ready: dict[str, str] | None = None) -> None:
    """Load the files that can be; the result names the others too (``not_ready``: {file name:
    why it cannot be loaded}), so that no file dropped in goes unmentioned."""
    store = S.store()
    results = [{"file_name": name, "sheet": None, "dataset": None, "status": "not loaded", "accepted": 0,
                "rejected": 0, "warned": 0, "summary_rows": 0, "message": f"{name} was not loaded: {why.removeprefix(name + ': ')}",
                "key": f"n{k}", "rejects": pd.DataFrame(columns=["row_number", "reason", "original"]),
                "warnings": pd.DataFrame(columns=["row_number", "warning"])}
               for k, (name, why) in enumerate((not_ready or {}).items())]
    bar = st.progress(0.0, text="Starting…")
    for i, (data, name, mapping, parsed, sha256) in enumerate(ready):
        def progress(fraction: float, message: str, i=i) -> None:
            overall = min(1.0, (i + max(0.0, min(1.0, float(fraction)))) / len(ready))
            bar.progress(overall, text=f"{name}: {message}")

        store = S.store()   # opened again if a write before this one failed fatally (a full disk)
        try:
            with S.write_lock():
                if parsed is not None:   # the sheets the check above read: not read again
                    # (held by content: a same-bytes copy under another name shares them)
                    parsed = [dataclasses.replace(sh, file_name=name) for sh in parsed]
                    out = store.ingest_parsed(parsed, sha256, user=S.current_user(), progress=progress)
                else:
                    out = store.ingest_file(data, name, mapping=mapping or None, user=S.current_user(),
                                            progress=progress)
        except APDataError as e:
            results.append({"file_name": name, "sheet": None, "dataset": None, "status": "failed", "accepted": 0, "rejected": 0,
                            "warned": 0, "summary_rows": 0, "message": str(e), "key": f"{i}",
                            "rejects": pd.DataFrame(columns=["row_number", "reason", "original"]),
                            "warnings": pd.DataFrame(columns=["row_number", "warning"])})
            continue
        if mapping:
            for hs in mappings.peek_headers(data, name).values():
                mappings.remember(_mappings_file(), hs, {h: c for h, c in mapping.items() if h in hs})
        for j, r in enumerate(out):
            results.append({"file_name": r.file_name, "sheet": r.sheet, "dataset": r.dataset, "status": r.status,
                            "accepted": r.accepted, "rejected": r.rejected, "warned": r.warned,
                            "summary_rows": r.summary_rows, "message": r.message, "key": f"{i}_{j}",
                            "upload_id": r.upload_id, "rejects": r.rejects, "warnings": r.warnings})
    bar.progress(1.0, text="Done.")
    st.session_state["upload_results"] = results
    st.session_state.pop("withdrawn_last", None)   # a Load after it: undo that withdrawal from the history
    st.session_state["uploader_generation"] = st.session_state.get("uploader_generation", 0) + 1
    st.rerun()


def _json_dict(text) -> dict:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _offer_to_forget() -> None:
    """After a withdrawal: the column choices the withdrawn file was read with are still
    remembered for the next file with the same headings; if they were the mistake, forget them."""
    held = st.session_state.get("withdraw_forget")
    if not held:
        return
    uid, keys = held
    with st.container(border=True):
        st.info(f"The column choices made for upload {uid}'s file are still remembered, and will be used again for "
                "the next file with the same headings. If the file was withdrawn because its columns were read "
                "wrongly, forget them (Settings lists every remembered choice).")
        c1, c2 = st.columns(2)
        if c1.button("Forget these column choices", key="forget_yes", icon=":material/delete:"):
            n = mappings.forget(_mappings_file(), keys)
            st.session_state.pop("withdraw_forget", None)
            st.session_state["withdraw_message"] = (f"Forgot the column choices of upload {uid}'s file: the next file "
                                                    "with the same headings is read afresh." if n else
                                                    "Those column choices were already forgotten.")
            st.rerun()
        if c2.button("Keep them", key="forget_no"):
            st.session_state.pop("withdraw_forget", None)
            st.rerun()


def _put_back(uid: int) -> None:
    """Undo a withdrawal: the upload is live again in its own place in the history."""
    try:
        with S.write_lock(), st.spinner(f"Putting upload {uid} back…"):
            st.session_state["withdraw_message"] = S.store().put_back(uid, user=S.current_user())
    except APDataError as e:
        st.session_state["withdraw_message"] = f"Not put back: {e}"
    st.session_state.pop("withdrawn_last", None)
    st.rerun()


def _offer_undo() -> None:
    """After a withdrawal here, an Undo button while that upload is still withdrawn (a colleague
    may have put it back); the next withdrawal or Load replaces or ends the offer."""
    undo = st.session_state.get("withdrawn_last")
    if undo is None:
        return
    ledger = S.store().uploads()
    still = ledger.loc[ledger["upload_id"] == undo, "withdrawn_at"].notna()
    if not still.any():
        st.session_state.pop("withdrawn_last", None)
        return
    if st.button(f"Undo: put upload {undo} back", key="put_back_undo", icon=":material/undo:"):
        _put_back(undo)


def _put_back_picker(table: pd.DataFrame, labels: dict[int, str]) -> None:
    """Withdrawn uploads can be put back: a withdrawal made by mistake is undone exactly, where
    loading the file again would make it the newest upload and let it overrule later ones."""
    withdrawn = table.loc[table["status"] == "withdrawn", "upload_id"].astype(int).tolist()
    if not withdrawn:
        return
    with st.expander(f"Put back a withdrawn upload ({len(withdrawn)} withdrawn)"):
        uid = st.selectbox("Withdrawn upload", withdrawn, format_func=lambda u: labels.get(u, str(u)),
                           key="put_back_pick" + ("_present" if S.presentation() else ""))
        st.caption("It becomes live again in its own place in the history: the figures are as if it had never "
                   "been withdrawn, and uploads loaded after it still take precedence over it.")
        if st.button("Put it back", key="put_back_yes", icon=":material/redo:"):
            _put_back(uid)


def _history() -> None:
    st.header("Upload history", anchor=False)
    store = S.store()
    ledger = store.uploads()
    if ledger.empty:
        st.info("Nothing has been uploaded yet.")
        return
    table = ledger.copy()
    table["status"] = table["withdrawn_at"].map(lambda v: "withdrawn" if v is not None and not pd.isna(v) else "live")
    if "put_back_at" in table.columns:   # live again after a withdrawal: the history says so
        back = table["put_back_at"].notna() & (table["status"] == "live")
        table.loc[back, "status"] = table.loc[back, "put_back_at"].map(
            lambda v: f"live (put back {pd.Timestamp(v):%d/%m/%Y %H:%M})")
    # which term a file covers: the span of its rows' dates (a removal by hand has none)
    dates = S.cached(repr((S.db_path(), S.data_version(), "upload_dates")), store.upload_dates, {})
    table = table.merge(dates, on="upload_id", how="left")
    table["dates"] = [f"{a:%d/%m/%Y} – {b:%d/%m/%Y}" if pd.notna(a) and pd.notna(b) else ""
                      for a, b in zip(table["first_date"], table["latest_date"])]
    cols = [c for c in ("upload_id", "uploaded_at", "user_name", "file_name", "sheet", "dataset", "dates", "rows_accepted",
                        "rows_rejected", "rows_warned", "status", "withdrawn_at", "withdrawn_by", "note")
            if c in table.columns]
    shown = table[cols].copy()
    # a CSV has no sheet and a live upload no withdrawal: blank, not a grey "None"
    for c in ("uploaded_at", "withdrawn_at"):
        shown[c] = shown[c].map(lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%d/%m/%Y %H:%M"))
    for c in ("sheet", "user_name", "withdrawn_by", "note"):
        shown[c] = shown[c].map(lambda v: v if isinstance(v, str) else "")
    for c in ("file_name", "sheet", "note"):   # typed text: a file or a reason may name the child
        shown[c] = S.as_shown_each(shown[c])
    # who uploaded and withdrew is known when sign-in is on, and a reason only for records
    # removed by hand; otherwise the columns are empty
    shown = shown.drop(columns=[c for c in ("user_name", "withdrawn_by", "note") if not shown[c].any()
                                or (c == "note" and S.presentation())])   # typed text: a name, a date of birth
    st.dataframe(shown.rename(columns={
        "upload_id": "Upload", "uploaded_at": "Uploaded (UTC)", "file_name": "File", "sheet": "Sheet",
        "dataset": "Dataset", "dates": "Dates in it", "rows_accepted": "Accepted", "rows_rejected": "Rejected",
        "rows_warned": "Warnings", "status": "Status", "withdrawn_at": "Withdrawn (UTC)",
        "user_name": "By", "withdrawn_by": "Withdrawn by", "note": "Why removed"}),
        hide_index=True, width="stretch", placeholder="",
        # a year of termly uploads (four sheets a term) at once, not ten rows in a scroll box
        height=min(len(shown), HISTORY_ROWS) * 35 + 38,
        # sized to be read, not to the first rows (a CSV's blank sheet made the column too narrow)
        column_config={"File": st.column_config.TextColumn(width="medium"),
                       "Sheet": st.column_config.TextColumn(width="small"),
                       "Dates in it": st.column_config.TextColumn(width="medium"),
                       "Status": st.column_config.TextColumn(width="medium")})   # "live (put back …)"

    live = table[table["status"].str.startswith("live")]
    # a CSV has no sheet: the table holds NaN there, which is truthy, so test for text
    labels = {int(r.upload_id): f"{int(r.upload_id)}: {S.as_shown(r.file_name)}"
              + (f" / {S.as_shown(r.sheet)}" if isinstance(r.sheet, str) and r.sheet else "")
              + f" ({r.dataset}, {int(r.rows_accepted):,} row{'' if int(r.rows_accepted) == 1 else 's'})"
              for r in table.itertuples(index=False)}
    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Withdraw an upload", anchor=False)
        if live.empty:
            st.caption("No live upload to withdraw.")
        else:
            # one widget per mode: the labels mask names in presentation mode, and a widget kept
            # across the switch sends back the label it showed, which then matches no upload
            uid = st.selectbox("Upload to withdraw", live["upload_id"].astype(int).tolist(),
                               key="withdraw_pick" + ("_present" if S.presentation() else ""),
                               format_func=lambda u: labels.get(u, str(u)))
            st.caption("Withdrawing removes everything this upload added or changed, as if it had never been "
                       "loaded; withdrawing records removed by hand (on the Pupil view) puts them back. It stays "
                       "in the history.")
            if st.session_state.get("withdraw_confirm") != uid:
                if st.button("Withdraw…", key="withdraw_start", icon=":material/undo:"):
                    st.session_state["withdraw_confirm"] = uid
                    st.rerun()
            else:
                st.warning(f"Withdraw upload {S.md_escape(labels.get(uid, uid))}? Everything it added or changed "
                           "goes, as if it had never been loaded; the uploads after it stay. It can be put back "
                           "afterwards.")
                b1, b2 = st.columns(2)
                if b1.button("Yes, withdraw it", type="primary", key="withdraw_yes"):
                    try:
                        with S.write_lock(), st.spinner(f"Withdrawing upload {uid}…"):
                            message = store.withdraw(uid, user=S.current_user())
                        st.session_state["withdraw_message"] = message
                        st.session_state["withdrawn_last"] = uid   # offered back at once (Undo)
                        # a file withdrawn because its columns were read wrongly would be read the
                        # same way next time: the choices it was read with are offered to forget
                        applied = table.loc[table["upload_id"] == uid, "mapping"]
                        used = mappings.used_by(_mappings_file(), _json_dict(applied.iloc[0] if len(applied) else None))
                        if used:
                            st.session_state["withdraw_forget"] = (uid, used)
                    except APDataError as e:
                        st.session_state["withdraw_message"] = f"Not withdrawn: {e}"
                    st.session_state.pop("withdraw_confirm", None)
                    st.rerun()
                if b2.button("Cancel", key="withdraw_no"):
                    st.session_state.pop("withdraw_confirm", None)
                    st.rerun()
        _put_back_picker(table, labels)
    with c2:
        st.subheader("Rejected rows of an earlier upload", anchor=False)
        # a withdrawn upload's rows are not offered: it may have been withdrawn as the wrong
        # file, other children's rows (a data protection review)
        live = table["withdrawn_at"].isna() if "withdrawn_at" in table.columns else True
        with_rejects = table[(table["rows_rejected"] > 0) & live]
        if with_rejects.empty:
            st.caption("No live upload has rejected rows (a withdrawn upload's are not offered).")
        else:
            uid = st.selectbox("Upload", with_rejects["upload_id"].astype(int).tolist(),
                               key="rejects_pick" + ("_present" if S.presentation() else ""),
                               format_func=lambda u: labels.get(u, str(u)))
            rej = store.rejected_rows(uid)
            _text_table(rej, "reason", "Reason", text_width=300, **({"height": 200} if len(rej) > 5 else {}))
            _rejects_downloads(rej, f"hist_rej_{uid}", f"rejected-rows-upload-{uid}")


def main() -> None:
    st.title("Upload", anchor=False)
    st.write("Drop this term's spreadsheets here: placements, attendance, exclusions and assessments, as CSV "
             "or Excel (.xlsx) files, one dataset per file or one per sheet. Each file is checked first; "
             "nothing is stored until you press **Load**.")
    if msg := st.session_state.pop("withdraw_message", None):
        (st.error if msg.startswith("Not ") else st.success)(S.md_escape(S.as_shown(msg)))
    _offer_undo()
    _offer_to_forget()
    results = st.session_state.get("upload_results")
    if results:
        _show_results(results)
        if st.button("Clear these results", key="clear_results"):
            st.session_state.pop("upload_results", None)
            st.rerun()

    gen = st.session_state.get("uploader_generation", 0)
    files = st.file_uploader("Spreadsheets to upload", type=["csv", "xlsx"], accept_multiple_files=True,
                             key=f"uploader_{gen}",
                             help="CSV or .xlsx. Headings are recognised automatically; unknown ones can be "
                                  "mapped below.")
    if not files:
        st.session_state.pop("_parsed", None)
        st.session_state.pop("_previews", None)
    else:
        st.header("Before loading: what each file holds", anchor=False)
        # the stored data the checks below are worked out on, and the data the person last read
        # them on: Load is refused when the two differ
        version = S.data_version()
        checked_on = st.session_state.get("_upload_checked_on")
        st.session_state["_upload_checked_on"] = version
        ready = []
        why_not: dict[str, str] = {}   # files that cannot be loaded, and why
        checked: dict[str, tuple[str, tuple | None]] = {}   # sha256 -> (first file's name, its step)
        pending: list[dict] = []   # change previews to work out for the batch at once
        for f in files:
            with st.container(border=True), S.section(f"the check of {S.md_escape(S.as_shown(f.name))}"):
                data = f.getvalue()
                sha256 = hashlib.sha256(data).hexdigest()
                if sha256 in checked:
                    step = _same_bytes_step(f.name, *checked[sha256])
                else:
                    checked[sha256] = (f.name, None)   # (its widgets are keyed by content: drawn once)
                    step = _file_step(f, data, sha256, ahead=list(ready), why_not=why_not, pending=pending)
                    checked[sha256] = (f.name, step)
                if step:
                    ready.append(step)
        _fill_previews(pending, ready)
        _forget_unused_reads()
        if ready:
            if st.button(f"Load {len(ready)} file{'s' if len(ready) != 1 else ''}", type="primary",
                         key="load_files", icon=":material/publish:"):
                if checked_on not in (None, version):
                    # what the person read was worked out on data someone else has changed since
                    st.warning("**Nothing was loaded: the stored data changed after these files were checked** "
                               "(someone loaded or withdrew an upload meanwhile). The checks above are now worked "
                               "out on what is stored: read them again, then press **Load**.")
                else:
                    _load(ready, why_not)
        else:
            st.info("Nothing in these files can be loaded yet: see the messages above.")

    st.divider()
    with S.section("the upload history"):
        _history()
    with S.section("the record of who opened named records"):
        _access_log()


def _access_log() -> None:
    """Who opened a pupil view or the case list, or downloaded named rows, and when (the store's
    access log): to answer "who looked at this child's record?" after a complaint or a breach."""
    with st.expander("Who opened or downloaded named records"):
        st.caption("Each pupil view opened (by case number), each case list shown (with the case numbers it "
                   "listed) and each file of named rows downloaded (with the case numbers it held), with who "
                   "and when, newest first. Who is known only when sign-in is on. For one case number: its pupil "
                   "views, and the lists and files that held it.")
        case = st.text_input("Case number", key="access_case", placeholder="C-… (blank for everything)",
                             max_chars=16).strip().upper()
        if case and not re.fullmatch(r"C-[0-9A-Z]{4,12}", case):
            st.info("A case number looks like C-1A2B3C4.")
            return
        log_ = S.store().access_log(case or None, limit=500)
        if log_.empty:
            st.caption("Nothing recorded" + (f" for {case}." if case else " yet."))
            return
        log_["user_name"] = log_["user_name"].map(lambda u: u if isinstance(u, str) and u else "(sign-in off)")
        log_["opened_at"] = pd.to_datetime(log_["opened_at"]).dt.strftime("%d/%m/%Y %H:%M:%S")   # to the second
        headings = {"opened_at": "When (UTC)", "user_name": "Who", "action": "What", "case_number": "Case",
                    "detail": "Detail", "listed": "Cases listed"}
        U.table(log_, rename={U.column_label(k): v for k, v in headings.items()}, key="access_table")


S.run_page(main)
