"""Upload: drop termly spreadsheets, check what was recognised, map unknown headings, load,
see what was accepted or rejected and why, and withdraw an upload."""
from __future__ import annotations

import hashlib
import json
import os

import pandas as pd
import streamlit as st

from analytics import mappings
from analytics.errors import APDataError
from analytics.schema import DATASETS
from pages import _state as S
from pages import _ui as U

LEAVE_OUT = "(leave this column out)"
ALL_COLUMNS = sorted({c.name for cols in DATASETS.values() for c in cols})
PREVIEW_ROWS = 8


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
    used = st.session_state.pop("_parsed_used", set())
    held = st.session_state.get("_parsed", {})
    for key in [k for k in held if k not in used]:
        del held[key]


def _summary(sh) -> dict:
    preview = sh.accepted.slice(0, PREVIEW_ROWS).to_pandas() if sh.accepted.num_columns else pd.DataFrame()
    return {"sheet": sh.sheet, "dataset": sh.dataset, "skipped_reason": sh.skipped_reason,
            "header_row": sh.header_row, "mapping": dict(sh.mapping), "unmapped": list(sh.unmapped),
            "accepted": sh.accepted.num_rows, "rejected": sh.rejected.num_rows,
            "summary_rows": sh.summary_rows, "blank_rows": sh.blank_rows,
            "sheet_warnings": list(sh.sheet_warnings), "preview": preview}


def _preview_table(df: pd.DataFrame) -> pd.DataFrame:
    """The first rows as read, with UPNs masked (never shown) and the bookkeeping columns last."""
    out = df.copy()
    if "pupil_id" in out.columns:
        out["pupil_id"] = out["pupil_id"].map(lambda v: "••••••••" + str(v)[-3:] if v is not None and not pd.isna(v) else v)
        out = out.rename(columns={"pupil_id": "pupil_id (masked)"})
    hidden = ("warnings", "first_name", "last_name", "date_of_birth") if S.presentation() else ("warnings",)
    keep = [c for c in out.columns if c not in hidden and not out[c].isna().all()]
    return out[keep]


def _mapping_widgets(digest: str, headers: list[str], remembered: dict[str, str], targets: list[str]) -> dict:
    """One choice per unrecognised heading; the remembered choice is the default."""
    chosen = {}
    for i, h in enumerate(headers):
        options = [LEAVE_OUT] + targets
        default = remembered.get(h)
        index = options.index(default) if default in options else 0
        v = st.selectbox(f"Column '{S.md_escape(h)}' is", options, index=index, key=f"map_{digest}_{i}")
        if v != LEAVE_OUT:
            chosen[h] = v
    return chosen


def _file_step(f) -> tuple[bytes, str, dict, list | None, str] | None:
    """Show what one file holds; return (data, name, mapping, parsed sheets or None, sha256)
    when it can be loaded."""
    data = f.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    digest = sha256[:16]
    name = f.name
    st.markdown(f"#### {U.md_escape(name)}")
    st.caption(f"{len(data) / 1024:,.0f} KB")
    headers_by_sheet = _peek(digest, data, name)
    all_headers = [h for hs in headers_by_sheet.values() for h in hs]
    remembered = {}
    for hs in headers_by_sheet.values():
        remembered.update(mappings.lookup(_mappings_file(), hs))
    user_map = dict(st.session_state.get(f"usermap_{digest}", remembered))
    with st.spinner(f"Reading {name}…"):
        read = _read(digest, data, name, json.dumps(user_map, sort_keys=True))
    error = read["error"]
    if remembered:
        st.caption(f"Using the column choices remembered from an earlier file with the same headings "
                   f"({len(remembered)} column{'s' if len(remembered) != 1 else ''}).")
    if error:
        st.error(S.md_escape(error))
        if all_headers:
            with st.expander("Tell us what the columns are", expanded=True):
                st.write("Some headings were not recognised. Choose what each column holds, then press "
                         "**Apply**. Your choices are remembered for the next file with the same headings.")
                chosen = _mapping_widgets(digest, all_headers, user_map, ALL_COLUMNS)
                if st.button("Apply", key=f"apply_{digest}"):
                    st.session_state[f"usermap_{digest}"] = chosen
                    st.rerun()
        return None
    loadable = False
    for sh in read["summaries"]:
        label = f"Sheet '{S.md_escape(sh['sheet'])}'" if sh["sheet"] else "The file"
        if sh["dataset"] is None:
            st.warning(f"{label} was skipped: {S.md_escape(sh['skipped_reason'])}")
            continue
        loadable = True
        st.success(f"{label} holds **{sh['dataset']}** (headings on row {sh['header_row']}): "
                   f"{sh['accepted']:,} row(s) ready, {sh['rejected']:,} to be rejected"
                   + (f", {sh['summary_rows']} total row(s) ignored" if sh["summary_rows"] else "")
                   + (f", {sh['blank_rows']} blank row(s) ignored" if sh["blank_rows"] else "") + ".")
        for w in sh["sheet_warnings"]:
            st.warning(S.md_escape(S.mask_upns(w)))
        if len(sh["preview"]):
            with st.expander(f"Preview: the first {min(PREVIEW_ROWS, sh['accepted'])} rows as they will be stored "
                             "(UPNs masked)"):
                st.dataframe(_preview_table(sh["preview"]), hide_index=True, width="stretch", placeholder="")
        if sh["unmapped"]:
            mapped = set(sh["mapping"].values())
            targets = [c.name for c in DATASETS[sh["dataset"]] if c.name not in mapped]
            with st.expander(f"{len(sh['unmapped'])} heading(s) not recognised — choose what they hold"):
                st.caption("Columns left out are not loaded. Choices are remembered for the next file "
                           "with the same headings.")
                chosen = _mapping_widgets(f"{digest}_{sh['sheet']}", sh["unmapped"], user_map, targets)
                if st.button("Apply", key=f"apply_{digest}_{sh['sheet']}"):
                    st.session_state[f"usermap_{digest}"] = {**user_map, **chosen}
                    st.rerun()
    return (data, name, user_map, read["sheets"], sha256) if loadable else None


def _show_result(r: dict) -> None:
    """One sheet's outcome: its sentence, then its rejected rows (to download) and warnings."""
    where = r["file_name"] + (f", sheet '{r['sheet']}'" if r["sheet"] else "")
    if r["status"] == "loaded":
        box = st.success if not r["rejected"] else st.warning
    elif r["status"] == "duplicate":
        box = st.info
    else:
        box = st.warning if r["status"] == "skipped" else st.error
    box(S.md_escape(S.mask_upns(r["message"]) or f"{where}: {r['status']}"))
    rejects: pd.DataFrame = r["rejects"]
    if len(rejects):
        st.markdown(f"**{len(rejects):,} rejected row(s)** — not loaded. Download them, fix them and upload "
                    "them again.")
        shown = rejects[["row_number", "reason"]].copy()
        shown["reason"] = shown["reason"].map(S.mask_upns)
        U.table(shown)
        U.downloads(_rejects_for_download(rejects), f"rej_{r['key']}", f"rejected-rows-{_stem(where)}",
                    aggregate=False)
    warnings: pd.DataFrame = r["warnings"]
    if len(warnings):
        with st.expander(f"Warnings on {len(warnings):,} row(s) — loaded, but check them"):
            shown = warnings.copy()
            shown["warning"] = shown["warning"].map(S.mask_upns)
            U.table(shown)


def _show_results(results: list[dict]) -> None:
    """Totals, one line per sheet, then the details of every sheet that needs a look."""
    st.header("Result of the last upload")
    c = st.columns(4)
    c[0].metric("Rows accepted", f"{sum(r['accepted'] for r in results):,}")
    c[1].metric("Rows rejected", f"{sum(r['rejected'] for r in results):,}")
    c[2].metric("Rows with warnings", f"{sum(r['warned'] for r in results):,}")
    c[3].metric("Sheets not loaded", f"{sum(r['status'] != 'loaded' for r in results):,}",
                help="Sheets skipped (no data recognised), files that could not be read, and files already "
                     "loaded before (duplicates change nothing).")
    summary = pd.DataFrame([{"file": r["file_name"], "sheet": r["sheet"], "dataset": r.get("dataset"),
                             "status": r["status"], "accepted": r["accepted"], "rejected": r["rejected"],
                             "warnings": r["warned"], "total_rows_ignored": r["summary_rows"]} for r in results])
    U.table(summary, rename={"File": "File", "Total rows ignored": "'Total' rows ignored"})
    needs_look = [r for r in results if r["status"] != "loaded" or r["rejected"] or r["warned"]]
    for r in needs_look:
        with st.container(border=True):
            _show_result(r)
    if not needs_look:
        st.success("Every sheet loaded with no rejected rows and no warnings.")


def _stem(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")[:60] or "upload"


def _rejects_for_download(rejects: pd.DataFrame) -> pd.DataFrame:
    """Row number and reason, then the row as it was in the file (to send back and fix)."""
    originals = []
    for text in rejects["original"]:
        try:
            originals.append(json.loads(text) if isinstance(text, str) else {})
        except ValueError:
            originals.append({"original": text})
    wide = pd.DataFrame(originals, index=rejects.index)
    base = rejects[["row_number", "reason"]]
    return pd.concat([base, wide.drop(columns=[c for c in wide.columns if c in base.columns])], axis=1)


def _load(ready: list[tuple[bytes, str, dict, list | None, str]]) -> None:
    store = S.store()
    results = []
    bar = st.progress(0.0, text="Starting…")
    for i, (data, name, mapping, parsed, sha256) in enumerate(ready):
        def progress(fraction: float, message: str, i=i) -> None:
            overall = min(1.0, (i + max(0.0, min(1.0, float(fraction)))) / len(ready))
            bar.progress(overall, text=f"{name}: {message}")

        try:
            with S.write_lock():
                if parsed is not None:   # the sheets the check above read: not read again
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
    st.session_state["uploader_generation"] = st.session_state.get("uploader_generation", 0) + 1
    st.rerun()


def _history() -> None:
    st.header("Upload history")
    store = S.store()
    ledger = store.uploads()
    if ledger.empty:
        st.info("Nothing has been uploaded yet.")
        return
    table = ledger.copy()
    table["status"] = table["withdrawn_at"].map(lambda v: "withdrawn" if v is not None and not pd.isna(v) else "live")
    cols = [c for c in ("upload_id", "uploaded_at", "user_name", "file_name", "sheet", "dataset", "rows_accepted",
                        "rows_rejected", "rows_warned", "status", "withdrawn_at", "withdrawn_by")
            if c in table.columns]
    shown = table[cols].copy()
    # a CSV has no sheet and a live upload no withdrawal: blank, not a grey "None"
    for c in ("uploaded_at", "withdrawn_at"):
        shown[c] = shown[c].map(lambda v: "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%d/%m/%Y %H:%M"))
    for c in ("sheet", "user_name", "withdrawn_by"):
        shown[c] = shown[c].map(lambda v: v if isinstance(v, str) else "")
    # who uploaded and withdrew is known when sign-in is on; otherwise the columns are empty
    shown = shown.drop(columns=[c for c in ("user_name", "withdrawn_by") if not shown[c].any()])
    st.dataframe(shown.rename(columns={
        "upload_id": "Upload", "uploaded_at": "Uploaded (UTC)", "file_name": "File", "sheet": "Sheet",
        "dataset": "Dataset", "rows_accepted": "Accepted", "rows_rejected": "Rejected",
        "rows_warned": "Warnings", "status": "Status", "withdrawn_at": "Withdrawn (UTC)",
        "user_name": "By", "withdrawn_by": "Withdrawn by"}),
        hide_index=True, width="stretch", placeholder="")

    live = table[table["status"] == "live"]
    # a CSV has no sheet: the table holds NaN there, which is truthy, so test for text
    labels = {int(r.upload_id): f"{int(r.upload_id)}: {r.file_name}"
              + (f" / {r.sheet}" if isinstance(r.sheet, str) and r.sheet else "")
              + f" ({r.dataset}, {int(r.rows_accepted):,} row{'' if int(r.rows_accepted) == 1 else 's'})"
              for r in table.itertuples(index=False)}
    c1, c2 = st.columns(2)
    with c1:
        st.subheader("Withdraw an upload")
        if live.empty:
            st.caption("No live upload to withdraw.")
        else:
            uid = st.selectbox("Upload to withdraw", live["upload_id"].astype(int).tolist(), key="withdraw_pick",
                               format_func=lambda u: labels.get(u, str(u)))
            st.caption("Withdrawing removes everything this upload added or changed, as if it had never been "
                       "loaded. It stays in the history.")
            if st.session_state.get("withdraw_confirm") != uid:
                if st.button("Withdraw…", key="withdraw_start", icon=":material/undo:"):
                    st.session_state["withdraw_confirm"] = uid
                    st.rerun()
            else:
                st.warning(f"Withdraw upload {S.md_escape(labels.get(uid, uid))}? Figures will go back to how they were "
                           "before it was loaded.")
                b1, b2 = st.columns(2)
                if b1.button("Yes, withdraw it", type="primary", key="withdraw_yes"):
                    try:
                        with S.write_lock():
                            message = store.withdraw(uid, user=S.current_user())
                        st.session_state["withdraw_message"] = message
                    except APDataError as e:
                        st.session_state["withdraw_message"] = f"Not withdrawn: {e}"
                    st.session_state.pop("withdraw_confirm", None)
                    st.rerun()
                if b2.button("Cancel", key="withdraw_no"):
                    st.session_state.pop("withdraw_confirm", None)
                    st.rerun()
    with c2:
        st.subheader("Rejected rows of an earlier upload")
        with_rejects = table[table["rows_rejected"] > 0]
        if with_rejects.empty:
            st.caption("No upload has rejected rows.")
        else:
            uid = st.selectbox("Upload", with_rejects["upload_id"].astype(int).tolist(), key="rejects_pick",
                               format_func=lambda u: labels.get(u, str(u)))
            rej = store.rejected_rows(uid)
            shown = rej[["row_number", "reason"]].copy()
            shown["reason"] = shown["reason"].map(S.mask_upns)
            U.table(shown, height=200)
            U.downloads(_rejects_for_download(rej), f"hist_rej_{uid}", f"rejected-rows-upload-{uid}",
                        aggregate=False)


def main() -> None:
    st.title("Upload")
    st.write("Drop this term's spreadsheets here: placements, attendance, exclusions and assessments, as CSV "
             "or Excel (.xlsx) files, one dataset per file or one per sheet. Each file is checked first; "
             "nothing is stored until you press **Load**.")
    if msg := st.session_state.pop("withdraw_message", None):
        (st.error if msg.startswith("Not withdrawn") else st.success)(msg)
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
    else:
        ready = []
        for f in files:
            with st.container(border=True), S.section(f"the check of {f.name}"):
                step = _file_step(f)
                if step:
                    ready.append(step)
        _forget_unused_reads()
        if ready:
            if st.button(f"Load {len(ready)} file{'s' if len(ready) != 1 else ''}", type="primary",
                         key="load_files", icon=":material/publish:"):
                _load(ready)
        else:
            st.info("Nothing in these files can be loaded yet: see the messages above.")

    st.divider()
    with S.section("the upload history"):
        _history()


S.run_page(main)
