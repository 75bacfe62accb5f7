"""Exclusions: suspensions and permanent exclusions by term, school, trust and reason; repeat
suspensions; rates per school; and the path from permanent exclusion to provision (sixth day)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views import _shared as SH
from views import _state as S
from views import _ui as U

GROUPS = {"Term": "term", "Academic year": "academic_year", "School": "school", "Trust": "trust",
          "Reason": "reason"}
COUNTS = ["suspensions", "permanent", "lunchtime", "pupils_suspended"]


def summary() -> None:
    s = S.metric("exclusions", "summary")
    six = s.get("sixth_day") or {}
    c = U.tiles(6)
    c[0].metric("Suspensions", U.fmt_count(S.shared_count(s["suspensions"])), border=True,
                help=U.ABOUT["exclusions_summary"])
    c[1].metric("Pupils suspended", U.fmt_count(S.shared_count(s["pupils_suspended"])), border=True)
    c[2].metric("Repeat (2 or more)", U.fmt_count(S.shared_count(s["repeat_suspended_pupils"])), border=True,
                help=U.ABOUT["repeat_suspensions"])
    c[3].metric("Permanent", U.fmt_count(S.shared_count(s["permanent_exclusions"])), border=True)
    # beside the Permanent tile, "of N whose sixth day has passed" gives the too-recent ones back
    eligible, met = SH.sixth_day_shown(s["permanent_exclusions"], six.get("eligible"), six.get("met"))
    rate = "c" if "c" in (eligible, met) else S.shared_rate(met, eligible, six.get("rate"))
    c[4].metric("Placed by the sixth day", U.fmt_rate(rate), border=True, help=U.ABOUT["sixth_day_rate"])
    c[4].caption(f"{U.fmt_count(met if met == 'c' or eligible == 'c' else S.shared_part(met, eligible))} of "
                 f"{U.fmt_count(S.shared_count(eligible) if eligible != 'c' else eligible)} "
                 "whose sixth school day has passed")
    med = six.get("median_school_days_to_provision")
    c[5].metric("Days to provision", "—" if med is None else f"{med:g}", border=True,
                help="For permanent exclusions followed by a placement: the school-day number (the exclusion "
                     "day is day one) on which the first placement started. 6 or less meets the duty.")
    c[5].caption(f"Lunchtime exclusions (not suspensions): {U.fmt_count(S.shared_count(s['lunchtime']))}")
    U.about("exclusions_summary", U.ABOUT["sixth_day_rate"])


def by_group() -> None:
    label = st.segmented_control("Group by", list(GROUPS), default="Term", key="exc_by")
    by = GROUPS[label or "Term"]
    df = S.metric("exclusions", "by_group", by=by)
    time_axis = by in ("term", "academic_year")

    # from the figures, not the chart's rows (where hidden cells are gaps)
    total = int(pd.to_numeric(df["suspensions"], errors="coerce").fillna(0).sum()
                + pd.to_numeric(df["permanent"], errors="coerce").fillna(0).sum()) if len(df) else 0

    def chart(d):
        x = [U.safe_label(U.value_label(g)) for g in d["group"]]
        fig = go.Figure()
        fig.add_trace(go.Bar(x=x if time_axis else d["suspensions"], y=d["suspensions"] if time_axis else x,
                             orientation="v" if time_axis else "h", name="Suspensions", marker_color=U.OKABE_ITO[0]))
        fig.add_trace(go.Bar(x=x if time_axis else d["permanent"], y=d["permanent"] if time_axis else x,
                             orientation="v" if time_axis else "h", name="Permanent exclusions",
                             marker_color=U.OKABE_ITO[3], marker_pattern_shape="x"))
        # the tiles show each kind's total: n beside a hidden one would give it back (n - the other)
        parts = [S.shared_count(int(pd.to_numeric(df[c], errors="coerce").fillna(0).sum()))
                 for c in ("suspensions", "permanent")] if len(df) else []
        n = "c" if "c" in parts else S.shared_count(total)
        title = f"Suspensions and permanent exclusions by {(label or 'term').lower()} (n = {U.fmt_count(n)})"
        if time_axis:
            fig = U.style(fig, title, label or "Term", "Exclusions")
        else:
            fig = U.style(fig, title, "Exclusions", label or "", height=max(320, 80 + 40 * len(d)))
            fig.update_yaxes(autorange="reversed")
        fig.update_layout(barmode="group")
        return fig

    U.figure(f"Exclusions by {(label or 'term').lower()}", "exc_group", df, "exclusions_by", chart=chart,
             count_cols=COUNTS, file_stem=f"exclusions-by-{by}", total_row=True,
             not_additive=["pupils_suspended"],   # a pupil suspended in two terms is in both rows
             empty="No exclusion started in the period.",
             # the breakdowns share counts (a trust's are its schools'): hidden together
             also_hide=SH.as_exclusions_by(by), level=2)


def repeats() -> None:
    df = S.metric("exclusions", "repeat_suspensions")
    if S.presentation():
        st.header("Pupils suspended twice or more", anchor=False)
        U.about("repeat_suspensions")
        st.metric("Pupils", U.fmt_count(S.shared_count(len(df))))
        st.caption("The list of pupils is hidden in presentation mode.")
        return
    U.figure("Pupils suspended twice or more", "repeat", df, "repeat_suspensions", pupil_level=True,
             table_cols=["case", "suspensions", "sessions", "first_date", "last_date"], file_stem="repeat-suspensions",
             empty="No pupil was suspended twice or more in the period.", level=2)


def rates() -> None:
    st.header("Exclusion rate per school", anchor=False)
    U.about("exclusion_rates")
    schools = S.metric("exclusions", "by_group", by="school")
    names = [g for g in schools["group"].tolist() if g != "unknown"] if len(schools) else []
    if not names:
        st.info("No exclusions with a school recorded in the period.")
        return
    store = S.store()
    rolls = store.school_rolls()
    edit = pd.DataFrame({"school": names, "roll": pd.array([rolls.get(n) for n in names], dtype="Int64")})
    if not S.can_open("data") or S.presentation():
        # the rolls are a saved setting: only the Data group may change them, and not from a
        # shared screen in a meeting, where a stray click would change them for everyone
        st.caption("Numbers on roll are saved settings: the data team can change them."
                   if not S.can_open("data") else
                   "Numbers on roll can be changed here with presentation mode off.")
        _rates_table(edit.dropna(subset=["roll"]))
        return
    edited = st.data_editor(edit, hide_index=True, key="rolls_editor", disabled=["school"], placeholder="",
                            column_config={"school": st.column_config.TextColumn("School"),
                                           "roll": st.column_config.NumberColumn("Pupils on roll", min_value=0,
                                                                                 step=1, format="%d")})
    changed = {r.school: (None if pd.isna(r.roll) else int(r.roll)) for r in edited.itertuples(index=False)
               if (None if pd.isna(r.roll) else int(r.roll)) != rolls.get(r.school)}
    if changed:
        with S.write_lock():
            store.set_school_rolls(changed, user=S.current_user())
        st.toast(f"Saved the number on roll of {len(changed)} school{'s' if len(changed) > 1 else ''}.")
    st.caption("Numbers on roll are saved with the data, for everyone who uses this dashboard.")
    _rates_table(edited.dropna(subset=["roll"]))


def _rates_table(given: pd.DataFrame) -> None:
    if given.empty:
        st.caption("Type a school's number on roll to see its exclusion rate."
                   if S.can_open("data") else "No school's number on roll has been saved yet.")
        return
    df = S.metric("exclusions", "rates_by_school", rolls=given.reset_index(drop=True))
    df = df.dropna(subset=["roll"]) if "roll" in df.columns else df
    view = df.assign(**{"Suspensions per 100 pupils": df["suspension_rate"] * 100,
                        "Permanent exclusions per 100 pupils": df["permanent_rate"] * 100})
    # a rate beside its roll gives its count back (1.0 per 100 of 900 is 9): hidden with it
    rate_cols = {"Suspensions per 100 pupils": ("suspensions", "roll"),
                 "Permanent exclusions per 100 pupils": ("permanent", "roll")}
    shown = S.shared_table(view, ["suspensions", "permanent"], rate_cols)
    if S.presentation():
        shown = SH.as_exclusions_by("school", "school", rate_cols)(shown)
    U.table(shown.drop(columns=["suspension_rate", "permanent_rate"]))
    # the file holds what the screen shows: rates per 100 pupils, not fractions
    U.downloads(view.drop(columns=["suspension_rate", "permanent_rate"]), "exc_rates", "exclusion-rates-by-school", title="Exclusion rate per school",
                count_cols=["suspensions", "permanent"], rate_cols=rate_cols,
                also_hide=SH.as_exclusions_by("school", "school", rate_cols))


def sixth_day() -> None:
    df = S.metric("exclusions", "sixth_day_cases")
    if len(df):
        df = df.assign(outcome=df["met"].map({True: "Provision by day 6", False: "Not by day 6"})
                       .where(df["eligible"].fillna(False).astype(bool), "Sixth day not yet reached"))
    counts = (df.groupby("outcome").size().reset_index(name="n") if len(df)
              else pd.DataFrame(columns=["outcome", "n"]))

    def chart(d):
        dd = d.copy()
        dd["days"] = pd.to_numeric(dd["school_days_to_provision"], errors="coerce")
        dd = dd.dropna(subset=["days"])
        fig = go.Figure(go.Histogram(x=dd["days"], xbins=dict(start=0.5, size=1), marker_color=U.OKABE_ITO[0],
                                     name="Exclusions"))
        fig.add_vline(x=6.5, line_dash="dash", line_color=U.OKABE_ITO[3], annotation_text="day 6")
        return U.style(fig, f"School days from permanent exclusion to first placement (n = "
                            f"{U.fmt_count(S.shared_count(len(dd)))} with a placement)",
                       "School day on which provision started (exclusion day = 1)", "Permanent exclusions")

    if S.presentation():
        U.figure("From permanent exclusion to provision", "sixth", counts, "sixth_day_cases",
                 count_cols=["n"], file_stem="sixth-day-outcomes", total_row=True,
                 empty="No permanent exclusion started in the period.", also_hide=_as_sixth_day_tiles, level=2)
        return
    if len(df):
        # a child with no placement at all since is not a late start: said so, case by case (the
        # Case list lists them under "Permanently excluded, no placement since")
        none_since = (df["outcome"] == "Not by day 6") & df["first_provision_start"].isna()
        df.loc[none_since, "outcome"] = "Not by day 6: no placement since"
        # "placed" is not the duty's full-time education: each placed case says which it was
        def said(met, full) -> str:
            if pd.isna(met) or not bool(met):
                return ""
            return "hours not recorded" if pd.isna(full) else "full time" if bool(full) else "part-time"
        df["on_sixth_day"] = [said(m, f) for m, f in zip(df["met"], df["full_time_on_sixth_day"])]
    U.figure("From permanent exclusion to provision", "sixth", df, "sixth_day_cases", chart=chart, pupil_level=True,
             table_cols=["case", "start_date", "school", "sixth_school_day", "first_provision_start",
                         "school_days_to_provision", "outcome", "on_sixth_day", "hours_on_sixth_day"],
             file_stem="sixth-day-cases", empty="No permanent exclusion started in the period.", level=2)
    part = int((df["on_sixth_day"] == "part-time").sum()) if len(df) else 0
    if part:
        placed = int((df["on_sixth_day"] != "").sum())
        st.caption(f"For {part:,} of the {U.n_of(placed, 'permanent exclusion')} counted as placed by the sixth "
                   f"day, the timetable on the day was part-time (under {S.settings().full_time_hours:g} hours a "
                   "week, or fewer than 10 sessions): the duty is full-time education. The table says which.")


SIXTH_DAY_ROWS = {"Provision by day 6": "met", "Not by day 6": "not_met",
                  "Sixth day not yet reached": "not_reached", U.TOTAL: "permanent"}


def _as_sixth_day_tiles(d: pd.DataFrame) -> pd.DataFrame:
    """The sixth-day outcomes (shared by their own rule) with what the tiles beside them hide
    too: the three rows add up to the Permanent tile, and the first two to "of N"."""
    six = S.metric("exclusions", "summary").get("sixth_day") or {}
    permanent = S.metric("exclusions", "summary")["permanent_exclusions"]
    if six.get("eligible") is None or six.get("met") is None:
        return d
    hidden = S.api("exclusions_shared", "protect_sixth_day")(int(permanent), int(six["eligible"]), int(six["met"]),
                                                            S.threshold())
    label = "outcome" if "outcome" in d.columns else d.columns[0]
    cells = {(row, "n") for row, name in SIXTH_DAY_ROWS.items() if name in hidden}
    return SH.hide_in(d, label, cells)


def main() -> None:
    st.title("Exclusions", anchor=False)
    if S.empty_state("This page shows suspensions and permanent exclusions once exclusions are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    if S.presentation():
        st.caption(f"Small numbers are hidden: {U.c_means()}. The breakdowns share their counts (a trust's are its "
                   "schools', a year's its terms'), so each is hidden with the others in view.")
    for name, fn in (("the summary", summary), ("the exclusions by group", by_group),
                     ("the sixth-day duty", sixth_day), ("the repeat suspensions", repeats),
                     ("the rates per school", rates)):
        with S.section(name):
            fn()
        st.divider()


S.run_page(main)
