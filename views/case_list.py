"""Case list (panel): open placements with their oversight flags, most urgent first."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from views import _state as S
from views import _ui as U

FLAG_ORDER = list(U.FLAG_LABELS)


def main() -> None:
    st.title("Case list", anchor=False)
    st.caption("Every placement open on the 'as of' date, most urgent first (the most flags first). Select a row "
               "to open the pupil view.")
    if S.empty_state("The case list shows every open placement and its flags once placements are loaded."):
        return
    p = S.period()
    # the filters on the page as on every other (a commissioning review opened a provider's list
    # and saw its filter only as a cut-off chip in the sidebar)
    st.caption(U.scope_caption(p))
    flags = S.metric("oversight", "flags")
    U.about("case_list", f"Figures as of {p.as_of:%d %B %Y}.")
    if flags.empty:
        st.info(f"No placement is open on the 'as of' date. {S.empty_reason()}")
        _waiting(p)
        return

    present = [f for f in FLAG_ORDER if f in flags.columns]
    counts = {f: int(flags[f].fillna(False).astype(bool).sum()) for f in present}
    any_flag = int((flags["n_flags"] > 0).sum()) if "n_flags" in flags.columns else None
    # Exact counts even in presentation mode: the list below shows each of these placements,
    # so a 'c' here would hide nothing and only make the panel count rows by hand.
    # ...unless no list is drawn (a SEN or looked-after filter on a shared screen): then small
    # numbers are hidden as on every other page
    n = S.shared_count if S.names_care_or_sen() else (lambda v: v)
    c = U.tiles(7)
    c[0].metric("Open placements", U.fmt_count(n(len(flags))), border=True,
                help="Placements open on the 'as of' date, with the filters in the sidebar.")
    c[1].metric("Flagged", U.fmt_count(n(any_flag)), border=True,
                help=U.ABOUT["any_flag"])
    # the thematic review's lead finding first: no exit plan, no success criteria
    short = {"no_planned_end": "No planned end date", "no_objectives": "No objectives recorded",
             "review_overdue": "Review overdue", "part_time_over_limit": "Part-time beyond the limit",
             "unregistered": "Unregistered provider"}
    unknown = int(flags["registered"].map(U.unknown).sum()) if "registered" in flags.columns else 0
    for col, f in zip(c[2:], short):
        if f in counts:
            col.metric(short[f], U.fmt_count(n(counts[f])), border=True,
                       help=U.FLAG_LABELS[f] + ": see 'About this figure' above.")
            if f == "unregistered" and unknown and not S.names_care_or_sen():
                col.caption(f"and {U.n_of(unknown, 'placement')} at providers whose registration is not "
                            "recorded (marked in the list)")
    if S.presentation() and not S.names_care_or_sen():   # the sidebar says small numbers show as c
        st.caption("These counts are exact in presentation mode too: the list below shows each of these "
                   "placements (by case number and initials), so a 'c' would hide nothing.")
    last = S.last_data_date()
    if last is not None and p.as_of < last and counts.get("review_overdue"):
        # data-spec keeps each placement's newest review date: a review recorded by then but
        # replaced by a later one is not seen (two reviewers measured the difference)
        st.caption(f"At a date before the latest loaded data ({last:%d/%m/%Y}), \"review overdue\" is judged on "
                   "each placement's newest review date, which counts as no review when it is after the 'as of' "
                   "date: a review recorded by then but replaced in a later file is not seen, so more placements "
                   "may show as overdue than did at the time.")
    # the other ID's placement may have ended (a one-term typo leaves the wrong one open), so
    # every placement's names count; a group is shown when one of its IDs is in the list
    listed_ids = set(flags["pupil_id"].astype(str))
    twins = [g for g in S.api("oversight", "same_child")(S.call("oversight", "identities"))
             if listed_ids & set(g)]
    if twins:
        # a mistyped UPN makes one child two pupils, each with an open placement (UPNs are never
        # shown, so only the name and date of birth give it away); case numbers only here
        brought = S.call("oversight", "first_uploads", tuple(p for g in twins for p in g))

        def named(p):   # a case number and the upload that brought its ID (never the ID itself)
            u = brought.get(p)
            return S.case_number(p) + (f" (upload {u[0]}, {S.md_escape(S.as_shown(u[1]))})" if u else "")
        listed = "; ".join(" and ".join(named(p) for p in sorted(g, key=S.case_number)) for g in twins)
        st.warning(f"**Possibly one child under two pupil IDs:** {listed} have the same name and date of birth. "
                   "Most likely a UPN was mistyped in one upload. A later file with the ID put right cannot "
                   "replace the record under the wrong one (the ID is part of every record): open the case under "
                   "the wrong ID in the Pupil view and remove its records under \"Correct this pupil's records\", "
                   "saying why. The removal can be undone.",
                   icon=":material/content_copy:")
    # the same pupil and start date open at two provider keys: a provider renamed with no URN
    # leaves the placement under the old name open for ever (a three-year review)
    same_day = flags[flags.duplicated(["pupil_id", "start_date"], keep=False)]
    same_day = same_day.groupby(["pupil_id", "start_date"]).filter(lambda g: g["provider_key"].nunique() > 1)
    if len(same_day):
        cases = sorted({S.case_number(p) for p in same_day["pupil_id"]})
        st.warning(f"**{U.n_of(len(cases), 'case')} {'has' if len(cases) == 1 else 'have'} two open placements "
                   f"that started on the same day at differently named providers:** {', '.join(cases)}. If a "
                   "provider was renamed (with no URN, its name is part of every placement), the placement under "
                   "the old name stays open for ever: remove it in the Pupil view under \"Correct this pupil's "
                   "records\", saying why. If the pupil really started two placements that day, nothing needs "
                   "doing.", icon=":material/content_copy:")
    with st.expander("How many placements carry each flag"):
        table = pd.DataFrame({"flag": [U.FLAG_LABELS[f] for f in present],
                              "placements": [counts[f] for f in present]})
        U.table(table)

    # Streamlit forgets a widget's value on a page that does not draw it: coming back from a
    # pupil view showed all 73 placements again, the flag choice gone. A copy puts it back.
    ss = st.session_state
    for k, v in ss.get("_case_choice", {}).items():
        if k not in ss:
            ss[k] = [f for f in v if f in present] if k == "case_flags" else v
    f1, f2, f3 = st.columns([3, 1, 1])
    wanted = f1.multiselect("Show placements with these flags", present, key="case_flags",
                            format_func=lambda f: U.FLAG_LABELS[f], placeholder="All open placements")
    # "open-ended with no exit plan" is two flags at once: long and no planned end date
    match = f2.radio("Placements with", ["any", "all"], key="case_flags_match", horizontal=True,
                     format_func=lambda m: {"any": "any of them", "all": "all of them"}[m])
    only_flagged = f3.toggle("Only flagged placements", key="case_only_flagged")
    ss["_case_choice"] = {k: ss[k] for k in ("case_flags", "case_flags_match", "case_only_flagged") if k in ss}
    rows = flags.copy()
    if wanted:
        held = rows[wanted].fillna(False).astype(bool)
        rows = rows[held.all(axis=1) if match == "all" else held.any(axis=1)]
    if only_flagged and "n_flags" in rows.columns:
        rows = rows[rows["n_flags"] > 0]

    rows["flags"] = rows.apply(U.flag_text, axis=1)
    if "objectives" in rows.columns:   # typed text goes into the desk's file: no UPN in it
        rows["objectives"] = rows["objectives"].map(S.free_text)
    if {"baseline_rate", "during_rate"} <= set(rows.columns):
        # no flag (metrics.md §5 flags attendance below a fixed line), but a fall from the child's
        # own attendance before the placement is what the thematic review asks panels to see
        rows.insert(rows.columns.get_loc("during_rate") + 1, "change_pp",
                    (pd.to_numeric(rows["during_rate"]) - pd.to_numeric(rows["baseline_rate"])) * 100)
    if "date_of_birth" in rows.columns and "nc_year" in rows.columns:
        # the year group on the 'as of' date, beside the age on it (the stored one is the year
        # at the placement's start: "Age 15, Year 9")
        rows["nc_year"] = [S.year_group_on(d, p.as_of) or y for d, y in zip(rows["date_of_birth"], rows["nc_year"])]
    if S.names_care_or_sen():
        st.info(S.CARE_OR_SEN_WITHHELD)
        _waiting(p)
        return
    shown = S.protect(rows, p.as_of)
    if "out_of_area" in shown.columns:   # the review: oversight is weaker when AP is out of area
        shown["out_of_area"] = shown["out_of_area"].map({True: "Yes", False: "No"}).fillna("")
    # who must act: the commissioner and the pupil's home school
    # attendance at the desk only: on a shared screen each child's attendance is not shown (as
    # on the Progress page), and the meeting's file holds what the screen does
    attendance = () if S.presentation() else ("baseline_rate", "during_rate", "change_pp")
    cols = [c for c in ("case", "pupil", "age", "nc_year", "n_flags", "flags", "provider", "setting_type",
                        "start_date", "days", "planned_end_date", "last_review_date", "hours_per_week",
                        *attendance, "commissioner", "home_school", "out_of_area")
            if c in shown.columns]
    shown = shown[cols]
    # the choice is said in words: on paper the boxes above are left off
    chose = (f" with {'all' if match == 'all' else 'any'} of these flags: "
             + "; ".join(U.FLAG_LABELS[f] for f in wanted) if wanted else "")
    chose += (" (flagged placements only)" if only_flagged else "")
    if shown.empty:
        st.info(f"No open placement{chose or ' is listed'}. Clear the choice above to see them all.")
    else:
        st.caption(f"{U.n_of(len(shown), 'placement')} listed{chose}." + (
            "" if S.print_layout() else " Click a column heading to sort. Click a row to open its pupil view (with "
            "the keyboard: Shift+Space on a row), or pick a case number below."))
    # who saw the list (a data protection review): its size, mode, filters and case numbers
    S.log_access("case list", None, f"{U.n_of(len(shown), 'placement')} listed, "
                 f"{'presentation mode' if S.presentation() else 'names shown'}; {U.scope_caption(p)}{chose}",
                 cases=shown["case"])
    # the order the person saw: a click is a row position in the table as drawn, and someone
    # else's upload or withdrawal since would shift a list worked out again (another child)
    seen = st.session_state.get("_case_list_seen")
    st.session_state["_case_list_seen"] = shown["case"].tolist()
    # the case number and initials stay in view while the wide list scrolls sideways (a
    # projector is narrower than the list)
    event = U.table(shown, key="case_table", on_select="rerun", selection_mode="single-row", height=520,
                    pin=("case", "pupil"))
    selected = getattr(getattr(event, "selection", None), "rows", None) or []
    if selected:
        case = U.clicked_case(selected[0], seen, shown["case"].tolist())
        if case is None:
            st.warning("The case you clicked is no longer in the list: the data changed after it was drawn "
                       "(an upload or a withdrawal). Check the list again and pick the case below.")
        else:
            st.session_state["case"] = case
            st.switch_page("views/pupil_view.py")

    cases = shown["case"].drop_duplicates().tolist()
    o1, o2 = st.columns([3, 1])
    chosen = o1.selectbox("Open the pupil view for case", cases, key="case_pick", index=None,
                          placeholder="Choose a case number")
    if o2.button("Open pupil view", disabled=chosen is None, icon=":material/person:"):
        st.session_state["case"] = chosen
        st.switch_page("views/pupil_view.py")

    # in a meeting the file holds what the screen does (no sex, SEN, care status or attendance);
    # at a desk, every column, in the screen's words (a reviewer found "M", "K" and TRUE/FALSE)
    U.downloads(U.case_rows_in_words(rows), "case_list", "case-list", aggregate=False,
                columns=cols if S.presentation() else None, title="Case list: open placements")
    st.caption("The download lists case numbers, never UPNs"
               + (", and initials and ages (presentation mode is on)." if S.presentation() else "."))
    _waiting(p)


def _waiting(p) -> None:
    """Children permanently excluded with no placement since: no open placement, so not in the
    list above, and the ones the sixth-day duty exists for."""
    st.header("Permanently excluded, no placement since", anchor=False)
    waiting = S.metric("exclusions", "without_provision")
    if waiting.empty:
        st.caption(f"Every pupil permanently excluded by {p.as_of:%d %B %Y} has had a placement since "
                   "(or was in one when excluded), as far as the loaded data show.")
        return
    if S.filters().selects_placements():
        # the filters choose placements, which these children do not have; and a paper filtered
        # to one provider or group must not carry other children (a reviewer's printed
        # provider pack listed all five)
        st.caption(f"{U.fmt_count(S.shared_count(len(waiting)))} permanently excluded "
                   f"{'child has' if len(waiting) == 1 else 'children have'} had no placement recorded since, as of "
                   f"{p.as_of:%d %B %Y}. They are not listed while the sidebar's filters are on: the filters "
                   "choose placements, which these children do not have, and a list for one provider or group "
                   "should not name other children. Clear the filters to see them.")
        return
    shown = S.protect(waiting, p.as_of)[["case", "excluded_on", "school", "days_since"]]
    S.log_access("case list: permanently excluded, no placement since", None,
                 f"{U.n_of(len(shown), 'pupil')} listed, {'presentation mode' if S.presentation() else 'names shown'}; "
                 f"as of {p.as_of:%d %B %Y}", cases=shown["case"])
    shown["school"] = S.as_shown_each(shown["school"]).map(lambda v: v if isinstance(v, str) else "")
    st.caption(f"{U.n_of(len(shown), 'pupil')} permanently excluded with no placement recorded since, as of "
               f"{p.as_of:%d %B %Y}, longest wait first: each pupil's latest permanent exclusion, from any date, "
               "not only the period's. The loaded data do not show a child starting at a new school or moving "
               "away, so a child listed here may have done either: the exclusions officer will know.")
    U.table(shown, key="waiting_table")
    o1, o2 = st.columns([3, 1])
    chosen = o1.selectbox("Open the pupil view for case", shown["case"].tolist(), key="waiting_pick", index=None,
                          placeholder="Choose a case number")
    if o2.button("Open pupil view", disabled=chosen is None, icon=":material/person:", key="waiting_open"):
        st.session_state["case"] = chosen
        st.switch_page("views/pupil_view.py")


S.run_page(main)
