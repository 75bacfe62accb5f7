"""Pupil view (panel): one pupil's placements, exclusions, attendance and assessments on one page."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.errors import APDataError
from analytics.settings import Filters
from views import _state as S
from views import _ui as U

# What each dataset's records are called when they are corrected by hand.
_RECORDS = {"placements": "Placements", "attendance": "Attendance", "exclusions": "Exclusions",
            "assessments": "Assessments"}


def _first(df: pd.DataFrame, col: str):
    if col not in df.columns:
        return None
    vals = df[col].dropna()
    return vals.iloc[-1] if len(vals) else None


def _header(case: str, pl: pd.DataFrame, as_of) -> None:
    st.header(f"Case {case}", anchor=False)
    if pl.empty:   # a child excluded with no placement since: the names come with placements
        st.text("No placement is recorded for this pupil, so their name, age and year group are not known here.")
        return
    who, facts = _facts(pl, as_of)
    st.text(who)
    st.text(" · ".join(text for _, text in facts))


def _facts(pl: pd.DataFrame, as_of) -> tuple[str, list[tuple[str, str]]]:
    """Who (initials in presentation mode) and the facts line: [(label, text)], for the page's
    header and the Excel file's About sheet."""
    first, last, dob = _first(pl, "first_name"), _first(pl, "last_name"), _first(pl, "date_of_birth")
    # the year group on the 'as of' date when the date of birth is known (the stored one is the
    # year at the placement's start, which beside today's age read "Age 15, Year 9")
    year = S.year_group_on(dob, as_of) or _first(pl, "nc_year")
    age = S.age_on(dob, as_of)
    if S.presentation():
        who = S.initials(first, last)
    else:
        who = " ".join(str(x) for x in (first, last) if x) or "Name not recorded"
    facts = []
    if age is not None:
        facts.append(("Age", f"Age {age}"))
    if year is not None:
        facts.append(("Year group", f"Year {year}" if str(year) not in ("R", "X")
                      else {"R": "Reception", "X": "No year group"}[str(year)]))
    if dob is not None and not S.presentation():
        facts.append(("Date of birth", f"Born {pd.Timestamp(dob):%d %b %Y}"))
    sen = _first(pl, "sen_status")
    if sen is not None:
        facts.append(("SEN", U.SEN_LABELS.get(str(sen), str(sen))))
    for col, label in (("cla", "Looked after"), ("fsm", "FSM")):
        v = _first(pl, col)
        if v is not None:
            facts.append((label, f"{label}: {'yes' if bool(v) else 'no'}"))
    school = _first(pl, "home_school")
    if school:
        facts.append(("Home school", f"Home school: {school}"))
    return who, facts


def _timeline(view: dict, as_of) -> go.Figure:
    pl, ex, ass = view["placements"], view["exclusions"], view["assessments"]
    fig = go.Figure()
    for i, r in enumerate(pl.itertuples(index=False)):
        start = pd.Timestamp(r.start_date)
        end = pd.Timestamp(r.eff_end) if getattr(r, "eff_end", None) is not None and not pd.isna(r.eff_end) \
            else pd.Timestamp(as_of)
        label = U.safe_label(f"{r.provider or 'Provider not recorded'}")
        open_ = bool(getattr(r, "is_open", False))
        fig.add_trace(go.Scatter(
            x=[start, end], y=[label, label], mode="lines+markers",
            line=dict(color=U.OKABE_ITO[0] if open_ else U.OKABE_ITO[4], width=14),
            marker=dict(size=10, symbol=["circle", "circle-open" if open_ else "circle"]),
            name="Placement (open)" if open_ else "Placement (ended)", legendgroup="open" if open_ else "ended",
            showlegend=i == 0 or open_,
            hovertemplate=f"{label}<br>%{{x|%d %b %Y}}<extra></extra>"))
        if getattr(r, "last_review_date", None) is not None and not pd.isna(r.last_review_date):
            fig.add_trace(go.Scatter(x=[pd.Timestamp(r.last_review_date)], y=[label], mode="markers",
                                     marker=dict(symbol="diamond", size=14, color=U.OKABE_ITO[2]),
                                     name="Last review", showlegend=True,
                                     hovertemplate="Last review %{x|%d %b %Y}<extra></extra>"))
        if getattr(r, "planned_end_date", None) is not None and not pd.isna(r.planned_end_date):
            fig.add_trace(go.Scatter(x=[pd.Timestamp(r.planned_end_date)], y=[label], mode="markers",
                                     marker=dict(symbol="line-ns-open", size=18, color=U.OKABE_ITO[3],
                                                 line=dict(width=3)),
                                     name="Planned end", showlegend=True,
                                     hovertemplate="Planned end %{x|%d %b %Y}<extra></extra>"))
    if len(ex):
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(ex["start_date"]), y=["Exclusions"] * len(ex), mode="markers",
            marker=dict(symbol="x", size=13, color=U.OKABE_ITO[3]),
            text=[U.value_label(c) for c in ex["category"]], name="Exclusion",
            hovertemplate="%{text} %{x|%d %b %Y}<extra></extra>"))
    if len(ass):
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(ass["date"]), y=["Assessments"] * len(ass), mode="markers",
            marker=dict(symbol="star", size=12, color=U.OKABE_ITO[1]),
            text=[U.safe_label(m) for m in ass["measure"]], name="Assessment",
            hovertemplate="%{text} %{x|%d %b %Y}<extra></extra>"))
    # Deduplicate legend entries.
    seen = set()
    for t in fig.data:
        if t.name in seen:
            t.showlegend = False
        seen.add(t.name)
    fig.add_vline(x=pd.Timestamp(as_of), line_dash="dot", line_color="#555")
    n = len(pl)
    return U.style(fig, f"Timeline up to {as_of:%d %b %Y} (n = {n} placement{'s' if n != 1 else ''}, "
                        f"{len(ex)} exclusion{'s' if len(ex) != 1 else ''})", "Date", "",
                   height=max(300, 160 + 50 * (n + 2)))


def _attendance_chart(att: pd.DataFrame, pl: pd.DataFrame) -> go.Figure:
    # One line per setting: a week at school and the same week at the AP provider are two
    # records, and joined into one line they would draw a spike between them.
    fig = go.Figure()
    key = "setting_key" if "setting_key" in att.columns else None
    groups = list(att.groupby(key, sort=False, dropna=False)) if key else [(None, att)]
    for i, (_, d) in enumerate(groups):
        d = U.with_gaps(d)
        setting = d["setting"].dropna().iloc[-1] if "setting" in d.columns and d["setting"].notna().any() else None
        name = U.safe_label(f"Attendance at {setting}" if setting and len(groups) > 1 else
                            "Attendance" if len(groups) == 1 else "Attendance (setting not recorded)")
        fig.add_trace(go.Scatter(x=pd.to_datetime(d["period_start"]), y=d["rate"], mode="lines+markers",
                                 connectgaps=False,
                                 # solid lines in blue, green, ...: dashed orange is a placement start
                                 line=dict(color=U.OKABE_ITO[(2 * i) % 8], width=2),
                                 marker=dict(symbol=["circle", "square", "diamond", "triangle-up"][i % 4]),
                                 name=name, showlegend=len(groups) > 1,
                                 hovertemplate="%{x|%d %b %Y}: %{y:.0%}<extra></extra>"))
    for r in pl.itertuples(index=False):
        fig.add_vline(x=pd.Timestamp(r.start_date), line_dash="dash", line_color=U.OKABE_ITO[1])
    fig = U.style(fig, f"Attendance by period (n = {len(att)} periods)",
                  "Period starting", "Attendance (% of possible sessions)")
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    return fig


def _day(v) -> str:
    return "" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%d/%m/%Y")


def _record_label(dataset: str, r) -> str:
    """A stored record as a person recognises it (uploaded text through as_shown), with the
    upload that last changed it."""
    if dataset == "placements":
        text = (f"{r.provider or 'a provider'}, from {_day(r.start_date)}"
                + (f" to {_day(r.end_date)}" if _day(r.end_date) else ", open"))
    elif dataset == "attendance":
        text = (f"{r.setting or 'no setting'}, {_day(r.period_start)} to {_day(r.period_end)}: "
                f"{U.fmt_count(r.attended_sessions)} of {U.fmt_count(r.possible_sessions)} sessions")
    elif dataset == "exclusions":
        text = f"{r.category or 'exclusion'} from {_day(r.start_date)}"
    else:
        text = f"{r.measure} on {_day(r.date)}: {r.value:g}" if pd.notna(r.value) else f"{r.measure} on {_day(r.date)}"
    return f"{S.as_shown(text)} (upload {int(r.upload_id)})"


def _removal_done() -> None:
    """The last removal's result, with a button that undoes it (a withdrawal of the removal)."""
    done = st.session_state.get("fix_done")
    if not done:
        return
    upload_id, message = done
    (st.error if message.startswith("Not ") else st.success)(S.md_escape(S.as_shown(message)))
    if upload_id is not None and not S.presentation() and st.button("Undo this removal", key="fix_undo",
                                                                    icon=":material/undo:"):
        try:
            with S.write_lock():
                text = S.store().withdraw(upload_id, user=S.current_user())
            st.session_state["fix_done"] = (None, text)
        except APDataError as e:
            st.session_state["fix_done"] = (None, f"Not undone: {e}")
        st.rerun()


def _correct(pupil_id: str, case: str) -> None:
    """Remove records that no file will put right (a mistyped UPN or start date), for people
    who may upload; never in presentation mode. Kept in the Upload history, undoable there."""
    if S.presentation() or not S.can_open("data"):
        return
    ss = st.session_state
    with st.expander("Correct this pupil's records"):
        st.write("A mistyped UPN or start date makes a second record that no later file will replace, since "
                 "both are part of the record's key: a file with them put right adds a record beside the wrong "
                 "one. Remove the wrong record here. The removal is kept in the Upload history with your "
                 "reason, and withdrawing it there (or **Undo** here) puts the record back. A later file that "
                 "sends the record again brings it back too.")
        records = S.store().records_of(pupil_id)
        pending = ss.get("fix_confirm")
        if pending and not set(pending[1]) <= set(records[pending[0]]["record_id"]):
            # someone else removed (or withdrew) them while this confirmation was on the screen
            st.warning("The records you chose are no longer stored: someone else removed them, or withdrew the "
                       "upload that brought them, after you chose them. Nothing was removed.")
            ss.pop("fix_confirm", None)
        kinds = [d for d in _RECORDS if len(records[d])]
        if not kinds:
            st.caption("No record of this pupil is stored.")
            return
        dataset = st.radio("Records of", kinds, horizontal=True, key="fix_dataset",
                           format_func=lambda d: f"{_RECORDS[d]} ({len(records[d])})")
        table = records[dataset]
        labels = {r.record_id: _record_label(dataset, r) for r in table.itertuples(index=False)}
        chosen = st.multiselect("Records to remove", list(labels), format_func=lambda i: labels.get(i, i),
                                key=f"fix_pick_{dataset}", placeholder="Choose the wrong records")
        reason = st.text_input("Why they are wrong (kept with the removal)", key="fix_reason", max_chars=200,
                               placeholder="For example: UPN mistyped in the autumn file")
        pending = ss.get("fix_confirm")
        if pending != (dataset, tuple(chosen), reason.strip()):
            if st.button("Remove…", key="fix_start", icon=":material/delete:", disabled=not chosen):
                if not reason.strip():
                    st.error("Say why the records are wrong: the reason is kept with the removal.")
                else:
                    ss["fix_confirm"] = (dataset, tuple(chosen), reason.strip())
                    st.rerun()
            return
        what = U.n_of(len(chosen), _RECORDS[dataset].lower().rstrip("s") if dataset != "attendance"
                      else "attendance period")
        st.warning(f"Remove {what} of case {S.md_escape(case)}? They stop counting in every figure at once.")
        b1, b2 = st.columns(2)
        if b1.button("Yes, remove", type="primary", key="fix_yes"):
            try:
                with S.write_lock():
                    ss["fix_done"] = S.store().remove_records(dataset, chosen, reason, user=S.current_user())
                ss.pop(f"fix_pick_{dataset}", None)
                ss.pop("fix_reason", None)
            except APDataError as e:
                ss["fix_done"] = (None, f"Not removed: {e}")
            ss.pop("fix_confirm", None)
            st.rerun()
        if b2.button("Cancel", key="fix_no"):
            ss.pop("fix_confirm", None)
            st.rerun()


def main() -> None:
    st.title("Pupil view", anchor=False)
    _removal_done()
    if S.empty_state("The pupil view shows one pupil's placements, exclusions, attendance and assessments."):
        return
    p = S.period()
    ss = st.session_state
    if S.names_care_or_sen():
        # the cases to choose from would be the filter's children, by initials: every open case
        from dataclasses import replace
        flags = S.call("oversight", "flags", replace(S.filters(), sen_status=(), cla=None), S.settings())
    else:
        flags = S.metric("oversight", "flags")
    listed = S.protect(flags, p.as_of)
    options = listed["case"].drop_duplicates().tolist() if len(listed) else []
    current = ss["case"] = S.case_in(ss.get("case")) if ss.get("case") else None
    if current and current not in options:
        options = [current] + options
    if not options:
        st.info(f"No placement is open on the 'as of' date, so there is no case to show. {S.empty_reason()}")
        return
    # a case's label stays what it was when it drops out of the list (its last open placement
    # removed or ended): a changed label is sent back by the browser as the value (see below)
    mode = "present" if S.presentation() else "named"
    labels = ss.setdefault("_case_labels", {}).setdefault(mode, {})
    if len(listed):
        for r in listed.drop_duplicates("case").itertuples(index=False):
            labels[r.case] = f"{r.case} — {getattr(r, 'pupil', '')}".rstrip(" —")
    if ss.get("case") not in options:
        # nobody has chosen a case yet (the page opened from the menu): none is shown, and none is
        # recorded as opened. Showing the first case put a child nobody asked for on a shared
        # screen, and into the access log as looked at (a QA review)
        ss["case"] = None

    # The labels are initials in presentation mode and names otherwise. The browser sends back
    # the label it shows, so a widget kept across a switch of mode sent "C-… — T.Q." where the
    # options now read "C-… — Tamsin Quarrel", and that text became the case: one widget per mode.
    pick_key = "case_view_pick" if S.presentation() else "case_view_pick_named"

    def _pick() -> None:
        chosen = S.case_in(ss[pick_key])
        if chosen != ss.get("case"):
            ss.pop("fix_done", None)   # a removal's result and its Undo belong to the case it was made on
        ss["case"] = chosen

    # the same stale label when the chosen case's own label changes (its last open placement
    # removed, say): a widget holding a value that is no longer an option starts again
    if pick_key in ss and ss[pick_key] not in options:
        del ss[pick_key]

    # The chosen case lives in ss["case"], not in the widget: Streamlit forgets a widget's value
    # on a page that does not draw it, and going to the Case list and back showed the first case.
    st.selectbox("Case", options, index=options.index(ss["case"]) if ss["case"] else None, key=pick_key,
                 on_change=_pick, format_func=lambda c: labels.get(c, c), placeholder="Choose a case")
    if not ss["case"]:
        st.query_params.pop("case", None)
        st.info(f"Choose a case to see their placements, attendance, exclusions and assessments: "
                f"{U.n_of(len(options), 'case')} with a placement open on the 'as of' date, as the Case list "
                "shows them. Each case opened is recorded in the access log.", icon=":material/person_search:")
        return
    st.query_params["case"] = ss["case"]
    pupil_id = S.pupil_for_case(ss["case"])
    if pupil_id is None:
        st.warning(f"Case {S.md_escape(ss['case'])} has no records in the loaded data (they may have been "
                   "withdrawn, or removed by hand).")
        return
    view = S.call("oversight", "pupil_view", pupil_id, S.settings(), p.as_of)
    pl = view["placements"]
    S.log_access("pupil view", ss["case"], "presentation mode" if S.presentation() else "names shown")
    _header(ss["case"], pl, p.as_of)
    # whatever the sidebar's filters: this pupil's own records
    waiting = S.call("exclusions", "without_provision", Filters(as_of=p.as_of), S.settings())
    mine = waiting[waiting["pupil_id"] == pupil_id]
    if len(mine):
        w = mine.iloc[0]
        school = f" from {S.as_shown(w['school'])}" if isinstance(w["school"], str) and w["school"] else ""
        st.warning(S.md_escape(f"Permanently excluded{school} on {pd.Timestamp(w['excluded_on']):%d/%m/%Y}, with no "
                               f"placement recorded since: {int(w['days_since']):,} days by the 'as of' date."),
                   icon=":material/warning:")

    with S.section("the timeline"):
        U.plot(_timeline(view, p.as_of), "pupil_timeline", personal=True)
        st.caption("Bars are placements (to the end date, or to the 'as of' date while open); diamonds are "
                   "last reviews, ticks planned end dates, crosses exclusions, stars assessments.")

    with S.section("the placements"):
        st.subheader("Placements, objectives and reviews", anchor=False)
        settings = S.settings()
        rows = pl.copy()
        if len(rows):
            base = pd.to_datetime(rows["last_review_date"]).fillna(pd.to_datetime(rows["start_date"]))
            rows["next_review_due"] = (base + timedelta(days=settings.review_interval_days)).dt.date
            rows.loc[~rows["is_open"].fillna(False).astype(bool), "next_review_due"] = None
            rows["flags"] = rows.apply(lambda r: "; ".join(
                [U.FLAG_LABELS[f] for f in U.FLAG_LABELS if f in r and r[f] is True]
                + ([U.NO_ATTENDANCE] if r.get("missing_attendance") is True else [])
                + ([U.NO_REGISTRATION] if r.get("is_open") is True and pd.isna(r.get("registered")) else [])), axis=1)
            # a destination belongs to an ended placement: blank while open, not "Unknown"
            if "destination" in rows.columns:
                open_ = rows["is_open"].fillna(False).astype(bool)
                rows["destination"] = rows["destination"].astype(object).where(~open_, "")
            if "objectives" in rows.columns:
                # free text: a UPN typed into it is hidden always; in a meeting a name, a date
                # (of birth), a phone number or an address's postcode too
                own = [v for c in ("first_name", "last_name") if c in pl.columns for v in pl[c].dropna().unique()]
                rows["objectives"] = rows["objectives"].map(lambda t: S.free_text(t, own))
        # the flags first, where a panel looks: wide text columns last
        placement_cols = [c for c in ("provider", "setting_type", "start_date", "end_date", "days", "flags",
                                      "hours_per_week", "sessions_per_week", "planned_end_date", "last_review_date",
                                      "next_review_due", "reason", "destination", "objectives") if c in rows.columns]
        if rows.empty:
            st.info("No placement is recorded for this pupil by the 'as of' date.")
        else:
            U.table(rows[placement_cols])
        hours = pd.to_numeric(rows.loc[rows["is_open"].fillna(False).astype(bool), "hours_per_week"],
                              errors="coerce").dropna() if len(rows) else pd.Series(dtype=float)
        if len(hours) > 1:
            st.caption(f"The {len(hours)} open placements add up to {hours.sum():g} hours a week "
                       f"(full time is {settings.full_time_hours:g}); each is flagged on its own hours.")
        U.about("case_list")

    # side by side on screen; one under the other on paper, where each chart takes the width
    c1, c2 = (st.container(), st.container()) if S.print_layout() else st.columns(2)
    with c1, S.section("attendance"):
        st.subheader("Attendance", anchor=False)
        att = view["attendance"]
        if att.empty:
            st.info("No attendance is recorded for this pupil." + (
                " Upload attendance for the placement's provider." if len(pl) else ""))
        else:
            U.plot(_attendance_chart(att, pl), "pupil_att", personal=True)
            st.caption("Share of possible sessions attended in each period; dashed lines mark placement starts.")
            with st.expander("The attendance as a table"):   # the chart's words for a screen reader
                U.table(att.rename(columns={"rate": "share_attended"})[
                    [c for c in ("period_start", "period_end", "setting", "possible_sessions", "attended_sessions",
                                 "share_attended") if c in att.columns or c == "share_attended"]])
    with c2, S.section("assessments"):
        st.subheader("Assessments", anchor=False)
        ass = view["assessments"]
        if ass.empty:
            st.info("No assessments are recorded for this pupil. Upload baselines and later scores.")
        else:
            directions = S.call("progress", "measure_directions", S.settings(), p.as_of)
            U.plot(U.assessment_chart(ass, directions), "pupil_ass", personal=True)
            with st.expander("The assessments as a table"):
                U.table(ass[[c for c in ("date", "measure", "value") if c in ass.columns]])

    with S.section("exclusions"):
        st.subheader("Exclusions", anchor=False)
        ex = view["exclusions"]
        if ex.empty:
            st.info("No exclusions are recorded for this pupil up to the 'as of' date.")
        else:
            cols = [c for c in ("start_date", "category", "sessions", "reason", "school") if c in ex.columns]
            U.table(ex[cols])

    with S.section("the downloads"):
        # the attendance sheet's rate is the share of sessions attended, not the "Return rate"
        # that the generic heading of a rate column says
        bundle = U.pupil_file({**view, "placements": rows}, placement_cols, p.as_of)
        if "attendance" in bundle:
            bundle["attendance"] = bundle["attendance"].rename(columns={U.column_label("rate"): "Share of sessions attended"})
        # a file that has left the meeting still says whose records, as of when, and in which mode
        who, facts = _facts(pl, p.as_of)
        bundle = {"About this file": U.pupil_about(ss["case"], who, facts, p.as_of), **bundle}
        try:
            to_xlsx = S.api("exports", "to_xlsx_bytes")
            name = f"{U.MARKING}-{ss['case']}-as-of-{p.as_of:%Y-%m-%d}.xlsx"
            st.download_button("Download this pupil's records (Excel)",
                               data=S.logged_download(lambda: to_xlsx(bundle, percent=["Share of sessions attended"],
                                                                      marking=U.MARKING), name, case=ss["case"]),
                               file_name=name,
                               on_click="ignore",
                               icon=":material/download:",
                               mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               key="pupil_dl")
        except S.NotAvailable:
            st.caption("Downloads are not available yet.")

    _correct(pupil_id, ss["case"])


S.run_page(main)
