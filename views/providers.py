"""Providers: one provider's figures together, a scorecard per provider, their flags and the registration check."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import streamlit as st

from views import _shared as SH
from views import _state as S
from views import _ui as U


def registration() -> None:
    # The reasons quote counts: where the table hides a count as 'c', its reason must not give it
    # (always so for the download, which follows the small-number rule like every aggregate one).
    shared = S.metric("providers", "registration_check", suppress_below=S.threshold())
    # on a shared screen nothing ties a result to a child's care or SEN status (see _reason)
    df = registration_frame(S.filters())
    st.header("Registration check", anchor=False)
    U.about("registration")
    st.caption("The pupils counted here are every pupil placed with the provider on the 'as of' date, whatever "
               "the filters: registration depends on the whole provider. The filters choose which providers "
               "are listed.")
    if df.empty:
        st.info(f"No provider is listed. {S.empty_reason()}")
        return
    likely = df[df["likely_needs_registration"].fillna(False).astype(bool)]
    if len(likely):
        st.error(f"{U.n_of(len(likely), 'provider')} {'is' if len(likely) == 1 else 'are'} likely to need registering as an independent school:")
        for r in likely.itertuples(index=False):
            st.text(f"• {r.provider}: {r.reason}")
    elif S.presentation() and (df["status"] == "withheld").any():
        # not "none meets the test": a withheld result may be one (providers._reason)
        st.info("No unregistered provider is shown as meeting the registration test here: the results marked "
                "\"Shown at the desk only\" turn on whether a pupil is looked after or has an EHC plan.")
    else:
        st.success("No unregistered provider meets the registration test on the 'as of' date.")
    unknown = df[df["status"].astype(str) == "registration_unknown"] if "status" in df.columns else df.iloc[0:0]
    if len(unknown):
        st.warning(f"{U.n_of(len(unknown), 'provider')} would meet the test but their registration status is not recorded: "
                   "add a URN or UKPRN, or a 'Registered' column, to the placements file.")
    shown = _in_words(S.shared_table(df, ["pupils_18h_plus", "cla_or_ehcp_18h_plus"]))
    care = () if S.presentation() else ("cla_or_ehcp_18h_plus",)
    cols = [c for c in ("provider", "setting_type", "registered", "pupils_18h_plus", *care,
                        "likely_needs_registration", "why") if c in shown.columns]
    U.table(shown[cols], pin=("provider",))
    # the file in the screen's words (a reviewer's copy said True/False and below_threshold)
    if S.presentation():
        st.caption("Presentation mode: where one to four pupils are timetabled for 18 or more hours at a provider "
                   "not recorded as registered, the result depends on whether any of them is looked after or has "
                   "an EHC plan, so it is shown at the desk only, as is how many of them are: the case list and the "
                   "one-provider view show each placement's hours.")
    # the file holds what the screen does: on a shared screen, beside lists of placements with
    # their hours, a file with the results in full gave away whose care status (a QA review)
    file_cols = [c for c in ("provider", "setting_type", "registered", "pupils_18h_plus", *care,
                             "likely_needs_registration", "why") if c in shown.columns]
    if S.presentation():
        shared = df
    U.downloads(_in_words(shared.drop(columns=["provider_key"], errors="ignore")), "registration",
                "registration-check", count_cols=["pupils_18h_plus", "cla_or_ehcp_18h_plus"],
                columns=file_cols + ["status"], title="Registration check")


STATUS_WORDS = {"likely_needs_registration": "Likely to need registering", "registration_unknown":
                "Would meet the test; registration not recorded", "registered": "Registered",
                "below_threshold": "Below the test",
                "withheld": "Shown at the desk only"}


def _in_words(df: pd.DataFrame) -> pd.DataFrame:
    """The registration check as the screen says it: statuses and yes/no as words, and the reason
    as "Why" (not the placement reason's heading)."""
    out = df.rename(columns={"reason": "why"})
    if "registered" in out.columns:
        out["registered"] = _registered(out["registered"])
    if "likely_needs_registration" in out.columns:
        out["likely_needs_registration"] = out["likely_needs_registration"].map({True: "Yes", False: "No"})
    if "status" in out.columns:
        out["status"] = out["status"].map(lambda v: STATUS_WORDS.get(v, v))
    return out


def _registered(values: pd.Series) -> pd.Series:
    """As words: a blank status is "Not recorded", not an empty box that reads as "no"."""
    return values.map({True: "Registered", False: "Not registered"}).fillna("Not recorded")


# how the scorecard and the flags by provider hide small numbers: the one-provider view takes its
# rows from the same protection, so that it never shows a cell the tables hide
SCORECARD_RULE = dict(
    count_cols=["pupils_now", "placements_in_period", "ended", "returned"],
    rate_cols={"return_rate": ("returned", "ended")},
    total_row=True,
    not_additive=["pupils_now"],   # a pupil can be at two providers
    # a median or share of a handful of placements is as telling as their count
    stat_cols={"part_time_share": "pupils_now", "median_hours": "pupils_now",
               # the median of the placements that ended (its own n), not of all placements
               "attendance_rate": "placements_in_period", "median_days": "ended",
               "cost_per_week_median": "placements_in_period",
               # the one-provider view's: what is paid a week now, with its n
               "open_cost_total": "pupils_now", "open_cost_median": "pupils_now", "open_with_cost": "pupils_now",
               "open_cost_per_hour_median": "pupils_now", "open_with_cost_per_hour": "pupils_now"},
    # its placements ended and returns are the returns by provider's, protected there
    # together with the other outcomes figures
    also_hide=SH.as_returns_by_provider)


def flags_rule(df: pd.DataFrame) -> dict:
    present = [f for f in U.FLAG_LABELS if f in df.columns]
    return dict(count_cols=["open", *present, "any_flag"], stat_cols={"open_median_days": "open"}, total_row=True)


SCORECARD_COLUMNS = ["provider", "setting_type", "registered", "pupils_now", "placements_in_period", "median_hours",
                     "part_time_share", "attendance_rate", "median_days", "ended", "returned", "return_rate",
                     "cost_per_week_median", "needs_registration"]


def _scorecard_view(df: pd.DataFrame) -> pd.DataFrame:
    """The scorecard as its table shows it (registration as words, rates as floats); the reasons
    are the registration check's, given (with small numbers protected) below it."""
    view = df.drop(columns=["registration_reason"], errors="ignore")
    if len(view):
        view["registered"] = _registered(view["registered"])
        for c in ("part_time_share", "attendance_rate", "return_rate"):
            if c in view.columns:
                view[c] = view[c].astype(float)
    return view


# the one-provider view's rows: (column, label, how shown); the scorecard's, then the flags'
PACK_SCORECARD = [
    ("pupils_now", "Pupils placed there on the 'as of' date", U.fmt_count),
    ("placements_in_period", "Placements in the period", U.fmt_count),
    ("median_hours", "Median hours a week (open placements)", lambda v: _number(v, " hours")),
    ("part_time_share", "Part-time (share of open placements with hours recorded)", U.fmt_rate),
    ("attendance_rate", "Attendance while placed there, in the period", U.fmt_rate),
    ("median_days", "Median days of the placements ended (below)", U.fmt_days),
    ("ended", "Placements ended in the period (not moved to other AP)", U.fmt_count),
    ("returned", "Of those, returned to mainstream", U.fmt_count),
    ("return_rate", "Return rate", U.fmt_rate),
    ("cost_per_week_median", "Median cost per week (placements in the period)", lambda v: _money(v)),
    ("open_cost_total", "Weekly cost of the open placements, added up", lambda v: _money(v)),
    ("open_cost_median", "Median weekly cost of the open placements", lambda v: _money(v)),
    ("open_with_cost", "Open placements with a weekly cost recorded", U.fmt_count),
    ("open_cost_per_hour_median", "Median cost per hour (open placements: weekly cost ÷ hours a week)",
     lambda v: _money(v, pence=True)),
    ("open_with_cost_per_hour", "Open placements with a weekly cost and hours recorded", U.fmt_count),
]
# what the open placements cost a week: counts and money of the placements with a cost, hidden
# together on a shared screen when fewer of them than the threshold (one child's fee otherwise)
OPEN_COST = ("open_cost_total", "open_cost_median", "open_with_cost")
PER_HOUR = ("open_cost_per_hour_median", "open_with_cost_per_hour")   # the same, for the cost an hour
# 'All providers': the LA's weekly commitment, and how many placements each figure is over
SUMMED = ("open_cost_total", "open_with_cost", "open_with_cost_per_hour")
# the one-provider view's figures that its list of open placements shows one by one
LISTED = ("pupils_now", "median_hours", "part_time_share")
PACK_FLAGS = [("open", "Placements open on the 'as of' date", U.fmt_count),
              ("open_median_days", "Median days so far (open placements)", U.fmt_days),
              ("any_flag", "Open placements with any flag", U.fmt_count)]


def _shown(v, fmt) -> str:
    """A figure's cell: 'c' as it is, a blank as "—", text as it is, a number by ``fmt``."""
    if v is None or v == "c":
        return "c" if v == "c" else "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "—" if pd.isna(f) else fmt(f)


def _number(v, unit: str = "", prefix: str = "") -> str:
    return _shown(v, lambda f: f"{prefix}{f:,.0f}{unit}" if f.is_integer() else f"{prefix}{f:,.1f}{unit}")


def _money(v, pence: bool = False) -> str:
    """An amount in pounds: whole pounds when it is whole, else with pence (£1,282.50, not
    £1,282.5); with ``pence`` always (a cost per hour: £21.00 beside £37.25)."""
    return _shown(v, lambda f: f"£{f:,.0f}" if f.is_integer() and not pence else f"£{f:,.2f}")


def one_provider() -> None:
    """One provider's figures together, beside every provider's: a commissioning officer's page
    for a contract meeting or a visit, which otherwise meant reading one row of three tables.
    Every cell comes from those tables' own protection (U.protected with their rules), so it
    hides what they hide."""
    # every provider, with the sidebar's other filters: under a Provider filter the tables below
    # hold that provider alone, and their Total row was the provider again (found printing it)
    f = replace(S.filters(), provider=())
    sc = S.call("providers", "scorecard", f, S.settings())
    st.header("One provider", anchor=False)
    U.about("one_provider")
    if sc.empty:
        st.info(f"No provider has a placement in the period. {S.empty_reason()}")
        return
    names = dict(zip(sc["provider_key"].astype(str), sc["provider"].astype(str)))
    keys = list(names)
    chosen_filter = [str(k) for k in st.session_state.get("f_provider") or []]
    default = keys.index(chosen_filter[0]) if len(chosen_filter) == 1 and chosen_filter[0] in keys else None
    # Streamlit forgets a widget's value on a page that does not draw it: back from a pupil view
    # opened from the list below, the provider was gone. The last one chosen is kept.
    kept = st.session_state.get("_one_provider_kept")
    if kept in keys:
        default = keys.index(kept)
    key = st.selectbox("Provider", keys, index=default, format_func=lambda k: names.get(k, k),
                       placeholder="Choose a provider", key="one_provider")
    st.session_state["_one_provider_kept"] = key
    if key is None:
        st.caption(f"Choose one of the {U.n_of(len(keys), 'provider')} with a placement in the period to see its "
                   "figures together.")
        return
    rule = SCORECARD_RULE
    _, shown = U.protected(_scorecard_view(sc), label_cols=SCORECARD_COLUMNS, **rule)
    this, every = shown[shown["provider_key"].astype(str) == key].iloc[0], shown.iloc[-1]
    fl = S.call("oversight", "by_provider", f, S.settings())
    f_this = f_every = None
    if len(fl):
        frule = flags_rule(fl)
        _, fshown = U.protected(fl, label_cols=["provider"], **frule)
        mine = fshown[fshown["provider_key"].astype(str) == key]
        f_this, f_every = (mine.iloc[0] if len(mine) else None), fshown.iloc[-1]
    raw = sc[sc["provider_key"].astype(str) == key].iloc[0]
    this, every = this.copy(), every.copy()
    if S.presentation():
        # exact, as on the Case list: the open placements listed below show each of these (a
        # 'c' here beside a list of two placements flagged "Long placement" hid nothing)
        for c in LISTED:
            this[c] = raw[c]
        if f_this is not None:
            f_this = fl[fl["provider_key"].astype(str) == key].iloc[0]
    for c in SUMMED:          # what every provider is paid a week now, with its n
        every[c] = sc[c].sum(min_count=1)
    thr = S.threshold()
    for cols, n_col in ((OPEN_COST, "open_with_cost"), (PER_HOUR, "open_with_cost_per_hour")):
        for row, n in ((this, raw[n_col]), (every, every[n_col])):
            if S.presentation() and 0 < n < thr:
                for c in cols:
                    row[c] = "c"
    ids = S.call("providers", "provider_ids", key)
    numbers = [f"{label} {S.md_escape(v)}" for label, v in (("URN", ids.get("urn")), ("UKPRN", ids.get("ukprn"))) if v]
    st.markdown(" · ".join([f"**{S.md_escape(names[key])}**", S.md_escape(U.value_label(this["setting_type"])),
                            str(this["registered"])] + (numbers or ["no URN or UKPRN recorded"])))
    reg = registration_frame(f)
    reg_row = reg[reg["provider_key"].astype(str) == key] if len(reg) else reg
    if len(reg_row):
        r = reg_row.iloc[0]
        words = STATUS_WORDS.get(r["status"], str(r["status"]))
        (st.error if r["status"] == "likely_needs_registration" else
         st.warning if r["status"] == "registration_unknown" else st.caption)(
            f"Registration check: {words}. {S.md_escape(str(r['reason'] or ''))}")
    _registration_history(key, this)
    rows = [(label, fmt(this[c]), fmt(every[c]) if (c not in rule["stat_cols"] or c in SUMMED) and c != "pupils_now"
             else "—") for c, label, fmt in PACK_SCORECARD if c in shown.columns]
    flag_cols = [("open", None), ("open_median_days", None), ("any_flag", None)] + \
        [(f, None) for f in U.FLAG_LABELS if f_every is not None and f in f_every.index]
    labels = {c: (label, fmt) for c, label, fmt in PACK_FLAGS}
    for c, _ in flag_cols:
        label, fmt = labels.get(c, (f"Open placements flagged: {U.FLAG_LABELS.get(c, c)}", U.fmt_count))
        mine = fmt(f_this[c]) if f_this is not None else (fmt(0) if c != "open_median_days" else "—")
        rows.append((label, mine, fmt(f_every[c]) if f_every is not None and c != "open_median_days" else "—"))
    table = pd.DataFrame(rows, columns=["Figure", names[key], "All providers"])
    U.table(table, key="one_provider_table", rename={U.column_label(names[key]): names[key]},   # the name as it is
            height=35 * (len(table) + 1) + 3)   # every row in view (27 of them; ten showed at 1400 px)
    st.caption("All providers: every provider's total, with the sidebar's filters other than Provider (the Total "
               "rows of the tables below when no provider is chosen there), and what every provider is paid a week "
               "now. Medians and shares are not totalled, and a pupil placed with two providers is one pupil, so "
               "those cells are blank."
               + (f" {U.c_means()}. The provider's own pupils, hours, open placements and their flags are exact "
                  "here, as on the Case list: the list of its open placements below shows each of them."
                  if S.presentation() else ""))
    go_cols = st.columns(2)
    targets = [("Open this provider's case list", "views/case_list.py", "panel", ":material/assignment_late:"),
               ("See this provider's trends on the Overview", "views/overview.py", "trends", ":material/dashboard:")]
    for col, (label, page, group, icon) in zip(go_cols, targets):
        if S.can_open(group) and col.button(label, key=f"one_provider_{group}", icon=icon):
            # the sidebar puts a kept filter back when its widget's value is gone (dashboard.py)
            st.session_state["_filters_kept"] = {**st.session_state.get("_filters_kept", {}), "f_provider": [key]}
            st.session_state.pop("f_provider", None)
            st.switch_page(page)
    f_key = replace(f, provider=(key,))
    _open_placements(f_key, names[key])
    _attendance_by_term(key, f, names[key])
    _destinations(f_key, names[key])


# the open placements as the Case list shows them, with what a contract meeting asks of each at
# the desk (a commissioning review): its objectives, SEN, looked-after status, attendance, cost
# short columns first, the long text last: at 1400 px the flags' text had pushed the rest out of view
OPEN_COLUMNS = ("case", "pupil", "age", "nc_year", "start_date", "days", "hours_per_week", "cost_per_week",
                "during_rate", "planned_end_date", "last_review_date", "n_flags", "flags", "sen_status", "cla",
                "objectives", "home_school")
DESK_ONLY = ("cost_per_week", "during_rate", "sen_status", "cla", "objectives", "home_school")


def _open_placements(f_key, name: str) -> None:
    p = S.period()
    rows = S.call("oversight", "flags", f_key, S.settings())
    st.subheader("Open placements", anchor=False)
    if rows.empty:
        filtered = " with the sidebar's filters" if S.filters().selects_placements() else ""
        st.caption(f"No placement is open at {S.md_escape(name)} on the 'as of' date{filtered}.")
        return
    if S.names_care_or_sen():
        st.info(S.CARE_OR_SEN_WITHHELD)
        return
    rows = rows.copy()
    rows["flags"] = rows.apply(U.flag_text, axis=1)
    if "objectives" in rows.columns:   # typed text: no UPN in it
        rows["objectives"] = rows["objectives"].map(S.free_text)
    if "date_of_birth" in rows.columns and "nc_year" in rows.columns:
        rows["nc_year"] = [S.year_group_on(d, p.as_of) or y for d, y in zip(rows["date_of_birth"], rows["nc_year"])]
    shown = S.protect(rows, p.as_of)
    if "sen_status" in shown.columns:
        shown["sen_status"] = shown["sen_status"].map(lambda v: U.SEN_LABELS.get(str(v), v) if isinstance(v, str) else v)
    if "cla" in shown.columns:
        shown["cla"] = shown["cla"].map({True: "Yes", False: "No"}).astype(object).where(shown["cla"].notna(), None)
    # on a shared screen as on the Case list: no SEN, care status, attendance or cost of a child
    cols = [c for c in OPEN_COLUMNS if c in shown.columns and not (S.presentation() and c in DESK_ONLY)]
    shown = shown[cols]
    st.caption(f"{U.n_of(len(shown), 'placement')} open at {S.md_escape(name)} on {p.as_of:%d %B %Y}, most "
               "urgent first, as on the Case list"
               + (". Objectives, SEN, looked-after status, attendance and weekly cost are shown at the desk only "
                  "(presentation mode is on)." if S.presentation() else
                  ", with each placement's objectives, SEN, looked-after status, attendance during the placement "
                  "and weekly cost."))
    S.log_access("one provider: open placements", None,
                 f"{U.n_of(len(shown), 'placement')} listed at {name}, "
                 f"{'presentation mode' if S.presentation() else 'names shown'}; {U.scope_caption(p)}",
                 cases=shown["case"])
    U.table(shown, key="one_provider_open", pin=("case", "pupil"))
    o1, o2 = st.columns([2, 1])
    chosen = o1.selectbox("Open the pupil view for case", shown["case"].drop_duplicates().tolist(),
                          key="one_provider_case", index=None, placeholder="Choose a case number")
    if o2.button("Open pupil view", disabled=chosen is None, icon=":material/person:", key="one_provider_open_case"):
        st.session_state["case"] = chosen
        # the Pupil view is a Panel page, where presentation mode comes on by itself until someone
        # uses the switch: opened from this list, it keeps the mode the list was seen in (a review
        # found names gone, and cost and SEN gone when back here, with nobody touching the switch)
        st.session_state["_present_chosen"] = True
        st.switch_page("views/pupil_view.py")
    U.downloads(U.case_rows_in_words(rows), "one_provider_open", f"open-placements-{_slug(name)}", aggregate=False,
                columns=list(cols), title=f"Open placements at {name}")


def _slug(name: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())[:40] or "provider"


TERM_STATS = {"attendance_rate": "pupils_with_attendance", "possible_sessions": "pupils_with_attendance",
              "attended_sessions": "pupils_with_attendance"}


def _attendance_by_term(key: str, f, name: str) -> None:
    df = S.call("providers", "attendance_by_term", key, f, S.settings())
    if len(df):
        # the term holding the 'as of' date is cut there: said in its name; the dates go (at 1000 px
        # the sessions were out of view)
        df = df.assign(term=[t + (f" (to {e:%d/%m/%Y})" if i == len(df) - 1 else "")
                             for i, (t, e) in enumerate(zip(df["term"], df["end"]))])

    def chart(d):
        d = d.copy()
        d["label"] = [f"{t} (n = {U.fmt_count(n)})" for t, n in zip(d["term"], d["pupils_with_attendance"])]
        d = d[pd.to_numeric(d["attendance_rate"], errors="coerce").notna()]
        d["attendance_rate"] = d["attendance_rate"].astype(float)
        return U.bar(d, "label", "attendance_rate", f"Attendance at {U.safe_label(name)} by term",
                     "Term (n = pupils with attendance recorded)", "Attendance (%)", percent=True)

    U.figure("Attendance term by term", "one_provider_terms", df, "one_provider_terms", chart=chart,
             table_cols=["term", "pupils_placed", "pupils_with_attendance", "possible_sessions",
                         "attended_sessions", "attendance_rate"],
             count_cols=["pupils_placed", "pupils_with_attendance"], stat_cols=TERM_STATS,
             file_stem=f"attendance-by-term-{_slug(name)}", default_view="Table",
             empty="No term to show.", level=3)
    if len(df):
        st.caption("Sessions are those of every attendance row of a pupil dated in the term while placed here, as "
                   "the scorecard counts them: a row naming another setting counts too (a pupil at two providers "
                   "at once brings both), since attendance rows need not name a setting.")


def _destinations(f_key, name: str) -> None:
    st.subheader("Where pupils went when placements ended in the period", anchor=False)
    if S.presentation():
        # one provider's destinations beside its returns and placements ended above would give
        # away the cells the Outcomes page hides when it protects them together
        st.caption("Shown at the desk only (presentation mode is on). On a shared screen, the Outcomes page's "
                   "destinations by provider hide small numbers together with the returns.")
        return
    d = S.call("outcomes", "destinations", f_key, S.settings())
    if d.empty:
        st.caption(f"No placement at {S.md_escape(name)} ended in the period.")
        return
    table = d[["destination", "n"]].rename(columns={"n": "placements_ended"})
    table = pd.concat([table, pd.DataFrame([{"destination": U.TOTAL, "placements_ended": int(table["placements_ended"].sum())}])],
                      ignore_index=True)
    U.table(table, key="one_provider_destinations")
    st.caption("Every placement that ended in the period, a move to another AP too (not counted in \"Placements "
               "ended in the period (not moved to other AP)\" above, as metrics.md counts returns). \"Unknown\": "
               "ended with no destination recorded.")


def _registration_history(key: str, this: pd.Series) -> None:
    """The registration test at the ends of the last six terms and on the 'as of' date: a
    provider meets it one term and not the next, and one pupil short today is worth knowing."""
    as_of = S.period().as_of
    trends = S.api("trends", "terms_between")
    terms = [t for t in trends(date(as_of.year - 3, 9, 1), as_of) if t.end < as_of][-6:]
    labels = {t.end: f"End of {t.label}" for t in terms}
    labels[as_of] = "The 'as of' date"
    hist = S.call("providers", "registration_history", key, S.settings(), sorted(labels),
                  suppress_below=S.threshold() if S.presentation() else None, shared_screen=S.presentation())
    if hist.empty:
        return
    pupils = ["pupils_18h_plus", "cla_or_ehcp_18h_plus"]
    shown = S.shared_table(hist, pupils)
    table = pd.DataFrame({"When": [f"{labels[d]} ({d:%d/%m/%Y})" for d in hist["date"]],
                          "pupils_18h_plus": shown["pupils_18h_plus"],
                          "cla_or_ehcp_18h_plus": shown["cla_or_ehcp_18h_plus"],
                          "Result": [STATUS_WORDS.get(v, v) for v in hist["status"]]})
    if S.presentation():   # care status is not said on a shared screen (providers._reason)
        table = table.drop(columns="cla_or_ehcp_18h_plus")
    now = hist.iloc[-1]
    pupils_needed, hours = S.api("providers", "REGISTRATION_PUPILS"), S.api("providers", "REGISTRATION_HOURS")
    # (not on a shared screen: "none of the four is looked after" is said of children listed below)
    short = (not S.presentation() and now["status"] == "below_threshold" and this["registered"] != "Registered"
             and int(now["pupils_18h_plus"]) == pupils_needed - 1 and int(now["cla_or_ehcp_18h_plus"]) == 0)
    if short and str(shown["pupils_18h_plus"].iloc[-1]) != "c":
        st.warning(f"One pupil short of the registration test on the 'as of' date: {pupils_needed - 1} pupils "
                   f"are timetabled for {hours} or more hours a week, and the test is met at "
                   f"{pupils_needed} (or at one such pupil who is looked after or has an EHC plan).")
    # a withheld result may or may not differ from its neighbours: no change is claimed from one
    known = hist.loc[hist["status"] != "withheld", "status"]
    changed = known.nunique() > 1
    title = "The registration test at recent term ends" + (": it has changed" if changed else "")
    # paper hides every expander (a second commissioning review printed the page without it)
    holder = st.container() if S.print_layout() else st.expander(title, expanded=changed and
                                                                   this["registered"] != "Registered")
    with holder:
        if S.print_layout():
            st.markdown(f"**{title}**")
        U.table(table, key="one_provider_registration")
        st.caption("Each date counts every placement open then at the provider, whatever the filters, as the "
                   "records are held now (a later file may have changed them); a placement ending on a term's "
                   "last day is no longer open at its end.")


def registration_frame(f) -> pd.DataFrame:
    """The registration check for filters ``f`` as the page shows it: its reasons quote counts,
    so in presentation mode they are the shared version's."""
    if S.presentation():
        return S.call("providers", "registration_check", f, S.settings(), suppress_below=S.threshold(),
                      shared_screen=True)
    return S.call("providers", "registration_check", f, S.settings())


def scorecard() -> None:
    df = S.metric("providers", "scorecard")

    def chart(d):
        d = d.copy()
        d["label"] = [U.safe_label(f"{p} (n = {U.fmt_count(n)} ended)") for p, n in zip(d["provider"], d["ended"])]
        return U.bar(d.rename(columns={"return_rate": "rate"}), "label", "rate",
                     "Return-to-mainstream rate by provider", "Provider (n = placements ended in the period)",
                     "Return rate (%)", horizontal=True, percent=True)

    view = _scorecard_view(df)
    if S.presentation() and len(view):
        # as the registration check on a shared screen: a result that turns on a child's care or
        # SEN status is not given (providers._reason)
        reg = registration_frame(S.filters())
        withheld = set(reg.loc[reg["status"] == "withheld", "provider_key"].astype(str)) if len(reg) else set()
        view["needs_registration"] = [None if str(k) in withheld else v
                                      for k, v in zip(view["provider_key"], view["needs_registration"])]
    U.figure("Provider scorecard", "scorecard", view, "scorecard", chart=chart,
             table_cols=SCORECARD_COLUMNS, file_stem="provider-scorecard", default_view="Table",
             empty="No provider has a placement in the period.", level=2, **SCORECARD_RULE,
             # 14 columns: at 1400 px the name went out of view by the attendance (a commissioning review)
             pin=("provider",))
    if len(df):
        st.caption("Cost per week is the median of the recorded weekly costs, blank where none is recorded. "
                   "Hours are the median hours a week. Attendance counts the sessions in the period while the "
                   "pupils were placed there, from every attendance row of theirs (a row naming another setting "
                   "too). Median days are those of the placements ended, as counted beside them.")


def flags() -> None:
    """The oversight flags of each provider's open placements: a contract meeting's agenda, which
    a commissioning officer otherwise drew from the case list one provider at a time."""
    df = S.metric("oversight", "by_provider")
    present = [f for f in U.FLAG_LABELS if f in df.columns]
    U.figure("Open placements and their flags, by provider", "prov_flags", df.drop(columns=["provider_key"]),
             "flags_by_provider", table_cols=["provider", "open", "open_median_days", "any_flag", *present],
             file_stem="flags-by-provider", empty="No placement is open on the 'as of' date.", level=2,
             **flags_rule(df), pin=("provider",))


def main() -> None:
    st.title("Providers", anchor=False)
    if S.empty_state("This page compares providers once placements are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    with S.section("the one-provider view"):
        one_provider()
    st.divider()
    with S.section("the scorecard"):
        scorecard()
    st.divider()
    with S.section("the flags by provider"):
        flags()
    st.divider()
    with S.section("the registration check"):
        registration()


S.run_page(main)
