"""Settings: the thresholds of metrics.md, each assessment measure's direction, and the holiday
calendar used to count school days."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from analytics import mappings
from analytics.errors import APDataError
from analytics.settings import SETTING_LIMITS, Settings
from views import _state as S
from views import _ui as U

DEFAULTS = Settings()
THRESHOLDS = U.THRESHOLDS


def _keep(name: str) -> None:
    st.session_state[f"s_{name}"] = st.session_state[f"w_s_{name}"]


def _reset() -> None:
    for name, *_ in THRESHOLDS:
        st.session_state.pop(f"s_{name}", None)
        st.session_state.pop(f"w_s_{name}", None)


def thresholds() -> None:
    st.header("Thresholds", anchor=False)
    st.write("These decide the oversight flags and some figures (see 'About this figure' on each page). Changes "
             "apply to every page for you, and are kept in the page address so a shared link uses them too.")
    cols = st.columns(2)
    for i, (name, label, help_text) in enumerate(THRESHOLDS):
        default = getattr(DEFAULTS, name)
        lo, hi, step = SETTING_LIMITS[name]
        current = st.session_state.get(f"s_{name}", default)
        kind = float if isinstance(default, float) or isinstance(step, float) else int
        if not lo <= current <= hi:   # never from the page; guard so Reset is always drawn
            current = default
        cols[i % 2].number_input(f"{label} (default {default})", min_value=kind(lo), max_value=kind(hi),
                                 value=kind(current), step=kind(step), key=f"w_s_{name}", help=help_text,
                                 on_change=_keep, args=(name,))
    st.button("Reset to the defaults", on_click=_reset, icon=":material/restart_alt:")


def directions() -> None:
    st.header("Assessment measures: which way is better", anchor=False)
    st.write("For most measures a higher score is better. For some (for example a wellbeing scale where a "
             "higher score means more difficulty) lower is better. The data can say so in a 'higher_is_better' "
             "column; you can override it here.")
    if S.is_empty():
        st.info("No assessments are loaded yet. Upload assessments to set their directions.")
        return
    measures = S.call("progress", "data_directions", S._all_time(), Settings())
    if measures.empty:
        st.info("No assessments are loaded yet. Upload assessments to set their directions.")
        return
    store = S.store()
    overrides = store.measure_directions()
    choices = ["As the data says", "Higher is better", "Lower is better"]
    for r in measures.itertuples(index=False):
        key = r.measure_key
        current = overrides.get(key)
        index = 0 if current is None else (1 if current else 2)
        # what the loaded rows say, whatever is chosen here (a row saying "no" makes it lower)
        said = "higher is better" if bool(r.higher_is_better) else "lower is better"
        c1, c2 = st.columns([2, 3])
        c1.text(str(r.measure))
        choice = c2.radio(f"Direction for {S.md_escape(r.measure)}", choices, index=index, horizontal=True,
                          key=f"dir_{key}", label_visibility="collapsed",
                          captions=[f"(the data: {said})", "", ""])
        wanted = None if choice == choices[0] else choice == choices[1]
        if wanted != current:
            try:
                with S.write_lock():
                    store.set_measure_direction(key, wanted, user=S.current_user())
                st.toast(f"Saved: {S.md_escape(r.measure)} — {choice.lower()}.")
            except APDataError as e:
                st.error(str(e))


def holidays() -> None:
    st.header("Holiday calendar", anchor=False)
    st.write("School days are Monday to Friday, less the holidays you load here (term breaks, bank holidays, "
             "training days). They are used for the sixth-day duty. Upload a CSV or Excel file with one date per "
             "row, or a 'from' and a 'to' date per row.")
    store = S.store()
    current = store.holidays()
    if current:
        st.success(f"{U.n_of(len(current), 'holiday date')} {'is' if len(current) == 1 else 'are'} loaded, from {min(current):%d %b %Y} to {max(current):%d %b %Y}.")
    else:
        st.info("No holiday calendar is loaded: every Monday to Friday counts as a school day.")
    f = st.file_uploader("Holiday calendar", type=["csv", "xlsx"], key="holiday_file")
    if f is not None:
        try:
            data = f.getvalue()
            found = S.api("holidays", "read_calendar")(data, f.name)
            dates, problems = found.dates, found.problems
        except APDataError as e:
            st.error(str(e))
            dates, problems = [], []
        except Exception:  # noqa: BLE001 - any unreadable file is one sentence
            S.log.exception("reading a holiday calendar")
            dates, problems = [], []
        if problems:
            st.warning(f"{U.n_of(len(problems), 'row')} of {S.md_escape(f.name)} {'was' if len(problems) == 1 else 'were'} left out:\n\n"
                       + "\n".join(f"- {S.md_escape(p)}" for p in problems[:20])
                       + (f"\n- … and {len(problems) - 20} more" if len(problems) > 20 else ""))
        if not dates:
            st.error(f"{S.md_escape(f.name)}: no dates were found. The file needs a column of dates (dd/mm/yyyy), or two "
                     "columns giving each holiday's first and last day.")
        else:
            weekdays = [d for d in dates if d.weekday() < 5]
            st.write(f"{U.n_of(len(dates), 'date')} found ({len(weekdays)} on weekdays), from {dates[0]:%d %b %Y} "
                     f"to {dates[-1]:%d %b %Y}.")
            if st.button("Use this calendar (replaces the current one)", type="primary", key="holiday_save"):
                with S.write_lock():
                    store.set_holidays(dates, user=S.current_user())
                st.success("Saved. School days now leave out these dates.")
    if current and st.button("Remove the holiday calendar", key="holiday_clear"):
        with S.write_lock():
            store.set_holidays([], user=S.current_user())
        st.rerun()
    if current:
        with st.expander("Loaded holiday dates"):
            st.dataframe(pd.DataFrame({"Date": current}), hide_index=True, height=240, placeholder="")


def main() -> None:
    st.title("Settings", anchor=False)
    with S.section("the thresholds"):
        thresholds()
    st.divider()
    with S.section("the measure directions"):
        directions()
    st.divider()
    with S.section("the holiday calendar"):
        holidays()
    st.divider()
    with S.section("the remembered column choices"):
        column_choices()
    st.divider()
    with S.section("the record of changes"):
        changes()


def column_choices() -> None:
    """What the Upload page remembers of the headings people mapped, with a way to forget a
    choice that was wrong (it would otherwise be used for every later file with those headings)."""
    st.header("Remembered column choices", anchor=False)
    path = mappings.mappings_path(S.db_path())
    remembered = mappings.entries(path)
    if not remembered:
        st.caption("None yet. When a file's headings are mapped on the Upload page, the choices are remembered "
                   "here and used for the next file with the same headings.")
        return
    st.caption("Used automatically for the next file with the same set of headings. Forget a set when its "
               "columns were read wrongly: the next such file is then read afresh, and you can map it again.")
    for n, (key, choice) in enumerate(remembered):
        shown = pd.DataFrame({"Heading in the file": list(choice),
                              "Read as": [U.column_label(c) if c else "(left out)" for c in choice.values()]})
        with st.expander(f"Set {n + 1}: {S.md_escape(', '.join(list(choice)[:3]))}{' …' if len(choice) > 3 else ''}"):
            st.dataframe(shown, hide_index=True, width="stretch", placeholder="")
            if st.button("Forget these choices", key=f"forget_{key}", icon=":material/delete:"):
                mappings.forget(path, [key])
                st.rerun()


def changes() -> None:
    """Saved settings change every figure that uses them, so each change is listed."""
    st.header("Changes to saved settings", anchor=False)
    log = S.store().settings_changes()
    if log.empty:
        st.caption("No saved setting (measure directions, holidays, school rolls) has been changed yet.")
        return
    shown = pd.DataFrame({
        "When (UTC)": log["changed_at"].map(lambda v: pd.Timestamp(v).strftime("%d/%m/%Y %H:%M")),
        "By": log["user_name"].map(lambda v: v if isinstance(v, str) else ""),
        "Setting": log["setting"], "Change": log["detail"]})
    if not shown["By"].any():
        shown = shown.drop(columns=["By"])   # sign-in is off: nobody is known
    st.dataframe(shown, hide_index=True, width="stretch", placeholder="")


S.run_page(main)
