"""Overview: the headline figures against the same point last year, and their trends by term."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views import _shared as SH
from views import _state as S
from views import _ui as U


def _denominators(filters) -> dict:
    """Numerators and denominators behind the headline rates (for n and the small-number rule)."""
    s = S.settings()
    out = S.call("outcomes", "summary", filters, s)
    sus = out.get("sustained") or {}
    dens = {"return_rate": (out.get("returned"), out.get("ended")),
            "sustained_rate": (sus.get("sustained"), sus.get("eligible")),
            "sixth_day_rate": (None, None)}
    try:
        ex = S.call("exclusions", "summary", filters, s)
        sixth = ex.get("sixth_day") or {}
        # as the exclusions page shows them beside its Permanent tile
        eligible, met = SH.sixth_day_shown(ex.get("permanent_exclusions"), sixth.get("eligible"), sixth.get("met"))
        dens["sixth_day_rate"] = (met, eligible)
    except S.NotAvailable:
        pass
    return dens


def _headline_values(figures: dict, dens: dict) -> dict:
    out = {}
    for key, _, _, _ in HEADLINES:
        num, den = dens.get(key, (None, None))
        if key == "any_flag":
            den = figures.get("open_placements")
        elif key == "km_median":   # the placements its curve is drawn from
            den = figures.get("placements_started")
        out[key] = (figures.get("km_median_days" if key == "km_median" else key), num, den)
    return out


HEADLINES = [  # key, label, kind, delta colour
    ("pupils_in_ap", "Pupils in AP now", "count", "off"),
    ("open_placements", "Open placements", "count", "off"),
    ("km_median", "Median time in AP", "days", "off"),
    ("return_rate", "Return-to-mainstream rate", "rate", "normal"),
    ("sustained_rate", "Sustained returns", "rate", "normal"),
    ("sixth_day_rate", "Placed by the sixth day", "rate", "normal"),
    ("any_flag", "Placements with flags", "count", "inverse"),
]


def _shown(kind: str, value, num, den):
    if kind == "count":
        return S.shared_count(value)
    if kind == "days":   # a median of one or two placements is their own length
        return S.shared_stat(value, den)
    if kind == "rate" and S.presentation() and den is not None:
        if "c" in (num, den):   # hidden beside another figure (views/_shared.py)
            return "c"
        return S.shared_rate(num, den, value)
    return value


def _text(kind: str, v) -> str:
    return {"count": U.fmt_count, "rate": U.fmt_rate, "days": U.fmt_days}[kind](v)


def _delta(kind: str, now, before) -> str | None:
    if now is None or before is None or now == "c" or before == "c":
        return None
    if kind == "rate":
        return f"{100 * (now - before):+.0f} pp on last year"
    if kind == "days":
        change = now - before
        return f"{change:+.0f} days on last year" if float(change).is_integer() else f"{change:+.1f} days on last year"
    return f"{int(now) - int(before):+,} on last year"


def headline() -> None:
    f = S.filters()
    p = S.period()
    h = S.metric("trends", "headline")
    figures = {}
    for when in ("current", "previous"):
        d = h[when]
        at = replace(f, as_of=d["as_of"], period_start=d["period_start"], period_end=d["period_end"])
        figures[when] = _headline_values(d, _denominators(at))
    now, before = figures["current"], figures["previous"]
    spark = {}
    if not S.presentation():  # a sparkline of counts could show a small number
        with S.section("the sparklines"):
            terms = S.metric("trends", "by_term", unit="term")  # same cache key as the trends
            for key, *_ in HEADLINES:
                col = "km_median_days" if key == "km_median" else key
                if col in terms.columns:
                    values = [float(v) for v in terms[col].tolist() if v is not None and v == v]
                    if len(values) >= 2:
                        spark[key] = values
    cols = U.tiles(8)
    for col, (key, label, kind, colour) in zip(cols, HEADLINES):
        value, num, den = now[key]
        pvalue, pnum, pden = before[key]
        shown, pshown = _shown(kind, value, num, den), _shown(kind, pvalue, pnum, pden)
        n = ""
        if kind == "rate":
            n = f"n = {U.fmt_count(S.shared_count(den))}"
        elif key == "km_median":
            started = h["current"].get("placements_started")
            n = ("Kaplan–Meier, placements started in the period" if value is not None else
                 "no placement started in the period" if not started else
                 "not reached: fewer than half of the placements started in the period have ended")
        help_text = U.ABOUT.get(key, "") + " " + U.ABOUT["change"]
        delta = _delta(kind, shown, pshown)
        same = delta is not None and delta.lstrip("+").startswith("0 ")
        judged = ""
        last = _text(kind, pshown)
        if key == "any_flag":
            # fewer flagged placements with fewer placements open is not better: judged on the
            # share of open placements flagged (77 of 84 then, 69 of 73 now, is worse)
            delta, colour, judged, n, last = U.flag_share(shown, den, pshown, pden, same)
            same = same or delta is not None and delta.startswith("no change")
        elif delta is not None and not same and colour in ("normal", "inverse"):
            # the colour's judgement in words too (WCAG 1.4.1)
            judged = " · better" if (not delta.startswith("-")) == (colour == "normal") else " · worse"
        col.metric(label, _text(kind, shown), "no change on last year" if same else delta,
                   delta_color="off" if same else colour, delta_arrow="off" if same else "auto",
                   help=help_text + (" The small line is the figure term by term." if key in spark else ""),
                   border=True, chart_data=spark.get(key), chart_type="line")
        col.caption(f"{n}{' · ' if n else ''}last year: {last}{judged}")
    by_placement = [S.MULTI_FILTERS[n].lower() for n in ("provider", "setting_type", "commissioner", "reason")
                    if getattr(f, n)]
    if by_placement:
        # a commissioning review read "Placed by the sixth day 100%" as the provider's
        st.caption(f"With a filter on {' and '.join(by_placement)}, the excluded pupils counted in 'Placed by the "
                   "sixth day' are only those with a placement chosen by it, so all of them were placed at some "
                   "point: the rate says how quickly they were, not how any provider is doing.")
    note = S.history_note(h["previous"]["period_start"], "last year's figures")
    if note:
        st.info(note, icon=":material/history:")
    with cols[7]:
        prev = h["previous"]
        st.markdown(f"**Period** {p.start:%d %b %Y} – {p.end:%d %b %Y}  \n"
                    f"**As of** {p.as_of:%d %b %Y}  \n"
                    f"**Compared with** {prev['period_start']:%d %b %Y} – {prev['period_end']:%d %b %Y}")
    U.about("change", "Hover over the ⓘ beside each figure for its definition. Rates are shown as "
                      "percentages; changes in rates are in percentage points (pp).")


TREND_SERIES = {
    "counts": ("Pupils and placements", [("pupils_in_ap", "Pupils in AP"), ("open_placements", "Open placements"),
                                         ("placements_started", "Started"), ("placements_ended", "Ended"),
                                         ("any_flag", "Placements with flags")], "Number"),
    "rates": ("Rates", [("return_rate", "Return to mainstream"), ("sustained_rate", "Sustained returns"),
                        ("sixth_day_rate", "Placed by the sixth day")], "Rate (%)"),
    # the KM median of a term's starts cannot pass the term's length: the open placements'
    # median days so far shows placements that run on for years (a reviewer's finding)
    "days": ("Median time in AP", [("km_median_days", "Placements started in the term (Kaplan–Meier)"),
                                   ("open_median_days", "Placements open at its end: days so far")], "Days"),
}


def trends() -> None:
    unit = st.segmented_control("Trend by", ["Term", "Academic year"], default="Term", key="trend_unit")
    df = S.metric("trends", "by_term", unit="academic_year" if unit == "Academic year" else "term")
    st.caption(f"Every {(unit or 'term').lower()} from the first placement to the 'as of' date, whatever the "
               "period in the sidebar (which sets the headline figures above).")
    if len(df):
        first = S.history_note(pd.to_datetime(df["period_start"]).min().date(),
                               f"the {(unit or 'term').lower()}s before then")
        if first:
            st.info(first, icon=":material/history:")
    if S.presentation():
        # Their denominators are not in the table, so the small-number rule cannot be checked.
        df = df.drop(columns=[c for c in ("sustained_rate", "sixth_day_rate") if c in df.columns])
        st.caption("Presentation mode: sustained and sixth-day rates by term are left out (their small numbers "
                   "cannot be checked here); see the headline figures above.")
    count_cols = [c for c in ("pupils_in_ap", "open_placements", "placements_started", "placements_ended",
                              "returned", "ended", "any_flag") if c in df.columns]
    rate_cols = {"return_rate": ("returned", "ended")} if {"returned", "ended"} <= set(df.columns) else {}
    if "sustained_rate" in df.columns and len(df) and df["sustained_rate"].isna().all():
        # Each point is worked out at its term's end, and a return is judged sustain_days after
        # it: a term's own returns are never old enough by then, so the line would be empty.
        df = df.drop(columns=["sustained_rate"])
        st.caption(f"Sustained returns are not drawn by {(unit or 'term').lower()}: a return is judged "
                   f"{S.settings().sustain_days} days after it, so no {(unit or 'term').lower()}'s returns can be "
                   "judged by its end. The headline above gives the rate for returns old enough to judge.")
    # no placement ever matched the filters: a sentence, not empty axes over one term
    nothing = not len(df) or not df[[c for c in ("open_placements", "placements_started", "placements_ended")
                                     if c in df.columns]].to_numpy().any()
    for key, (title, series, y_title) in TREND_SERIES.items():
        present = [(c, name) for c, name in series if c in df.columns]

        def chart(d, present=present, title=title, y_title=y_title, key=key):
            fig = go.Figure()
            for i, (c, name) in enumerate(present):
                y = d[c] if key != "rates" else d[c]
                fig.add_trace(go.Scatter(x=d["label"], y=y, name=name, mode="lines+markers",
                                         line=dict(color=U.OKABE_ITO[i % 8], width=3),
                                         marker=dict(symbol=["circle", "square", "diamond", "triangle-up",
                                                             "x"][i % 5], size=9)))
            fig = U.style(fig, f"{title} by {(unit or 'Term').lower()} (n = {U.n_of(len(d), (unit or 'term').lower())})",
                          "Term" if unit != "Academic year" else "Academic year", y_title)
            if key == "rates":
                fig.update_yaxes(tickformat=".0%", range=[0, 1])
            else:
                fig.update_yaxes(rangemode="tozero")
            return fig

        U.figure(f"{title} by {(unit or 'term').lower()}", f"trend_{key}", df.iloc[0:0] if nothing else df, "trend",
                 chart=chart, empty="No placement matches the filters in any term.",
                 count_cols=count_cols, rate_cols=rate_cols,
                 stat_cols={"km_median_days": "placements_started", "open_median_days": "open_placements"},
                 # hidden with the outcomes figures showing the same counts (views/_shared.py)
                 suppress=SH.trend_shared("year" if unit == "Academic year" else "term", count_cols, rate_cols,
                                          {"km_median_days": "placements_started"}) if key != "days" else None,
                 # a file travels: like presentation mode, no rate whose denominator is not in it
                 download_df=df.drop(columns=[c for c in ("sustained_rate", "sixth_day_rate") if c in df.columns]),
                 # "To" is the date the row's figures are as of: the term's end, or the 'as of'
                 # date for a term still running
                 table_cols=["label", "period_start", "as_of"] + [c for c, _ in present]
                 + (["returned", "ended"] if key == "rates" else []),
                 file_stem=f"trend-{key}")


# the thematic review's concerns first: part-time timetables, unregistered AP, open-ended placements
FLAG_TREND_DEFAULT = ["part_time_over_limit", "unregistered", "no_planned_end", "long_placement"]


def flag_trends() -> None:
    unit = st.session_state.get("trend_unit") or "Term"
    df = S.metric("trends", "flags_by_term", unit="academic_year" if unit == "Academic year" else "term")
    flags = [f for f in U.FLAG_LABELS if f in df.columns]
    chosen = st.multiselect("Flags to draw", flags, default=[f for f in FLAG_TREND_DEFAULT if f in flags],
                            key="trend_flags", format_func=lambda f: U.FLAG_LABELS[f],
                            placeholder="Choose flags to draw")
    chosen = [f for f in flags if f in chosen]   # in the case list's order, whatever the order chosen
    word = unit.lower()
    if not chosen:
        st.info("Choose one or more flags above to draw them.")
        return
    if "review_overdue" in chosen and len(df) > 1:
        st.caption("\"Review overdue\" before the latest loaded file is judged on each placement's newest review "
                   "date, which counts as no review when it is after that date: a review recorded by then but "
                   "replaced in a later file is not seen, so past terms may show more overdue than there were.")
    nothing = not len(df) or not df[chosen].to_numpy().any()

    def chart(d):
        fig = go.Figure()
        for i, f in enumerate(chosen):
            fig.add_trace(go.Scatter(x=d["label"], y=d[f], name=U.FLAG_LABELS[f], mode="lines+markers",
                                     line=dict(color=U.OKABE_ITO[i % 8], width=3),
                                     marker=dict(symbol=["circle", "square", "diamond", "triangle-up", "x"][i % 5],
                                                 size=9)))
        fig = U.style(fig, f"Open placements with each flag at the end of each {word} "
                           f"(n = {U.n_of(len(d), word)})", "Term" if unit != "Academic year" else "Academic year",
                      "Open placements")
        fig.update_yaxes(rangemode="tozero")
        return fig

    U.figure(f"Oversight flags by {word}", "trend_flags", df.iloc[0:0] if nothing else df, "flag_trend", chart=chart,
             empty="No open placement carries these flags at the end of any " + word + ".",
             count_cols=chosen, table_cols=["label", "as_of"] + chosen, file_stem="trend-flags")


def population() -> None:
    by = st.segmented_control("Pupils in AP now by", list(BREAKDOWNS), default="SEN status",
                              key="pop_by", format_func=lambda v: v)
    by = BREAKDOWNS[by or "SEN status"]
    df = S.metric("population", "breakdown", by=by)
    total = int(df["pupils"].sum()) if len(df) else 0
    label = {v: k for k, v in BREAKDOWNS.items()}[by]

    def chart(d):
        return U.bar(d, "group", "pupils", f"Pupils in AP now by {U.lower_label(label)} (n = {U.fmt_count(S.shared_count(total))})",
                     label, "Pupils", horizontal=True, group_by=by)

    U.figure(f"Who is in AP now: by {U.lower_label(label)}", "population", df, "population", chart=chart,
             count_cols=["pupils"], group_by=by, file_stem=f"pupils-in-ap-by-{by}", total_row=True, level=2)


BREAKDOWNS = {"SEN status": "sen_status", "Looked after": "cla", "FSM": "fsm", "Sex": "sex",
              "Year group": "nc_year", "Ethnicity": "ethnicity_group"}


NATIONAL = {"Setting type": "setting_type", "Placement reason": "reason"}


def _local_name() -> str:
    """"This LA", or what the filters chose when any is on: a commissioning review read one
    provider's placements, filtered, as "This LA" beside England."""
    return "This LA" if not S.active_filter_count() else "This LA (as filtered)"


def national() -> None:
    st.header("Compared with England", anchor=False)
    label = st.segmented_control("Compare", list(NATIONAL), default="Setting type", key="nat_by")
    by = NATIONAL[label or "Setting type"]
    df = S.metric("national", "compare", by=by)
    c = S.api("national", "COMPARISONS")[by]
    attribution = S.api("national", "ATTRIBUTION")
    source = S.api("national", "SOURCES")[c.source_file]
    year = df["national_period"].dropna().iloc[0] if df["national_period"].notna().any() else "no year"
    n = int(df["local_total"].iloc[0]) if len(df) else 0
    outside = int(df["local_outside"].iloc[0]) if len(df) else 0
    national_n = df["national_total"].dropna().iloc[0] if df["national_total"].notna().any() else None
    unit = c.national_basis.split(" in ")[0]              # "placements" / "pupils"
    england = f"England, {year}" + (f" (n = {national_n:,.0f} {unit})" if national_n is not None else "")
    as_of = f"{S.filters().as_of:%d/%m/%Y}" if S.filters().as_of else "the 'as of' date"
    # like for like, on the screen and not only in the note: DfE's figures count one kind of AP
    thr = S.threshold()
    few = outside < thr   # a count of 1 or 2 is written "fewer than 3" (metrics.md §7)
    # the compared total and the number left out add up to the headline tile above (open
    # placements, pupils in AP now): when either is small, showing the other gives it away, so
    # the figure is withheld in presentation mode and its files are not offered (metrics.md §7)
    small = 0 < outside < thr or 0 < n < thr
    outside_text = f"fewer than {thr}" if few and S.presentation() else f"{outside:,}"
    what = "open placements" if by == "setting_type" else "pupils"
    left_out = ((f" {outside_text[0].upper()}{outside_text[1:]} {what} chosen by the filters are left out: "
                 f"{c.outside}.") if outside and not (small and S.presentation()) else
                f" Some {what} chosen by the filters are left out: {c.outside}." if outside else "")
    st.markdown(f"**Like for like:** England's figures count {c.national_basis}, so this LA's figures here count "
                f"{c.local_basis}.{left_out}")
    st.caption(f"{england}: {source}. {attribution}")

    def chart(d):
        fig = go.Figure()
        fig.add_trace(go.Bar(y=d["group"], x=d["local_share"], orientation="h", marker_color=U.OKABE_ITO[0],
                             name=f"{_local_name()}, {as_of} (n = {U.fmt_count(S.shared_count(n))} {unit})"))
        fig.add_trace(go.Bar(y=d["group"], x=d["national_share"], orientation="h", marker_color=U.OKABE_ITO[1],
                             marker_pattern_shape="/", name=england))
        fig = U.style(fig, f"Share in t{_local_name()[1:]} and in England",
                      "Share (%)", "",
                      height=max(360, 120 + 56 * len(d)))
        fig.update_xaxes(tickformat=".0%", rangemode="tozero")
        fig.update_yaxes(autorange="reversed")
        # a chart copied into a paper keeps its source and licence
        fig.add_annotation(text=f"England: DfE, {c.national_basis}, {year}.<br>Contains public sector information "
                                "licensed under the Open Government Licence v3.0.", xref="paper", yref="paper",
                           align="left",
                           x=0, y=-0.22, showarrow=False, xanchor="left", yanchor="top", font={"size": 11})
        fig.update_layout(margin={"b": 110})
        return fig

    shown = df[["group", "local_n", "local_total", "local_share", "national_share", "national_period"]].assign(
        national_total="" if national_n is None else f"{national_n:,.0f} {unit}")
    empty = ("Nothing is open on the 'as of' date, so there is nothing to compare." if not outside else
             f"None of the open placements chosen is of the kind England's figures count ({c.national_basis}), so "
             f"there is nothing to compare like for like: {c.outside}.")
    U.figure(c.title, "national", shown if n else None, "national", chart=chart,
             count_cols=["local_n", "local_total"], rate_cols={"local_share": ("local_n", "local_total")},
             total_row=True, repeated_totals=["local_total"],
             file_stem=f"national-comparison-{by}",
             about_extra=f"This LA: {c.local_basis}. England: {c.national_basis}, {year}: the latest year in the "
                         "national figures bundled with this version (DfE publishes later years on Explore "
                         "Education Statistics). The two are counted over the same kind of AP; "
                         f"{c.outside} are left out here. A blank England share is one DfE did not publish "
                         "(suppressed or not applicable), not a zero.",
             about_rows=[("Period", f"Counted on {as_of} (the 'as of' date), not over a period"),
                         ("This LA's figures", f"{c.local_basis[0].upper()}{c.local_basis[1:]}"
                                               # (no file is offered when this count is small)
                                               + (f"; {outside:,} left out: {c.outside}" if outside else "")),
                         ("England's figures", f"{c.national_basis[0].upper()}{c.national_basis[1:]}, {year}"
                                               + (f", n = {national_n:,.0f} {unit}" if national_n is not None else "")),
                         ("Source of England's figures", source), ("Licence", attribution)],
             file_cols={"Source of England's figures": f"{source}. {attribution}"},
             suppress=(lambda _: None) if small else None,
             empty=empty)
    with st.expander("Every bundled national figure, with its source"):
        figures = S.api("national", "figures_as_published")()
        U.table(figures)
        U.downloads(figures, "national_all", "national-figures", aggregate=False, scoped=False,
                    about_rows=[("File", "Published national (England) figures bundled with the dashboard"),
                                ("Value", "Counts as published; percentages and rates per 100 as fractions "
                                          "(0.0476 is 4.76%); 'Readable' gives each as a count, a percentage or a rate per 100"),
                                ("Licence", attribution)],
                    file_cols={"Licence": attribution})
        st.caption(attribution)


def main() -> None:
    st.title("Overview", anchor=False)
    if S.empty_state("The overview shows pupils in AP, open placements, time in AP, returns to mainstream "
                     "and the placements that need attention, once placements are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    with S.section("the headline figures"):
        headline()
    st.divider()
    st.header("Trends", anchor=False)
    with S.section("the trends"):
        trends()
    st.divider()
    with S.section("the flags by term"):
        flag_trends()
    st.divider()
    with S.section("the pupils in AP"):
        population()
    st.divider()
    with S.section("the national comparison"):
        national()


S.run_page(main)
