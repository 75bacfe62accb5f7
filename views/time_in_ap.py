"""Time in AP: how long placements last, survival curves by group, and long open placements."""
from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from views import _state as S
from views import _ui as U

# trust and home school: the review's "crossfire" (one trust's excluded pupils staying in AP)
SPLITS = {"No split": None, "Reason": "reason", "Setting type": "setting_type",
          "Commissioned by": "commissioner", "Provider": "provider", "Trust": "trust", "Home school": "home_school"}
MANY = ("provider", "home_school")   # drawn for the eight with the most placements


def summary() -> None:
    s = S.metric("time_in_ap", "summary")
    pop = S.metric("population", "summary")
    c = U.tiles(5)
    comp, op = s["completed"], s["open"]
    # a median or mean of one or two placements is their own length: hidden with their count
    c[0].metric("Median time (KM)", U.fmt_days(S.shared_stat(s.get("km_median_days"), pop["placements_started"])),
                border=True, help=U.ABOUT["km_median"])
    c[1].metric("Ended: median", U.fmt_days(S.shared_stat(comp.get("median_days"), comp["n"])), border=True,
                help=U.ABOUT["time_summary"])
    c[1].caption(f"n = {U.fmt_count(S.shared_count(comp['n']))} ended in the period; mean "
                 f"{U.fmt_days(S.shared_stat(comp.get('mean_days'), comp['n']))}")
    c[2].metric("Open: median so far", U.fmt_days(S.shared_stat(op.get("median_days"), op["n"])), border=True,
                help=U.ABOUT["time_summary"])
    c[2].caption(f"n = {U.fmt_count(S.shared_count(op['n']))} open")
    c[3].metric("Per pupil: median", U.fmt_days(S.shared_stat(s.get("pupil_total_days_median"),
                                                              pop["pupils_in_period"])),
                border=True, help=U.ABOUT["time_summary"])
    c[4].metric("Long and open", U.fmt_count(S.shared_count(s.get("long_open"))), border=True,
                help=U.ABOUT["long_open"])
    U.about("time_summary", U.ABOUT["km_median"])


def distribution() -> None:
    df = S.metric("time_in_ap", "durations")
    n = len(df)

    def chart(d):
        d = d.assign(state=d["is_open"].map({True: "Still open", False: "Ended"}))
        fig = px.histogram(d, x="days", color="state", nbins=30, barmode="stack",
                           color_discrete_map={"Ended": U.OKABE_ITO[0], "Still open": U.OKABE_ITO[1]},
                           pattern_shape="state", pattern_shape_map={"Ended": "", "Still open": "/"},
                           category_orders={"state": ["Ended", "Still open"]})
        fig.update_layout(legend_title_text="")
        U.integer_axis(fig, [d["days"].size])
        return U.style(fig, f"Days in AP per placement (n = {U.fmt_count(S.shared_count(n))} placements)",
                       "Days in AP (calendar days)", "Placements")

    if S.presentation() and len(df) and S.shared_count(n) == "c":
        # every band would be one of these placements' own length
        st.header("How long placements last", anchor=False)
        st.info(f"Not shown in presentation mode: fewer than {S.threshold()} placements overlap the period.")
        return
    if S.presentation() and len(df):
        # Pupil-level rows are not shared in a meeting: the chart only, as bands of days.
        bands = df.assign(band=(df["days"] // 30 * 30).astype(int)).groupby("band").size().reset_index(name="n")
        bands["band"] = bands["band"].map(lambda b: f"{b}–{b + 29} days")
        U.figure("How long placements last", "durations", bands, "durations",
                 chart=lambda d: U.bar(d, "band", "n", f"Placements by days in AP (n = {U.fmt_count(S.shared_count(n))})",
                                       "Days in AP (30-day bands)", "Placements"),
                 count_cols=["n"], file_stem="durations-bands", total_row=True, level=2)
        return
    U.figure("How long placements last", "durations", df, "durations", chart=chart, pupil_level=True,
             table_cols=["case", "provider", "setting_type", "reason", "commissioner", "start_date", "end_date",
                         "days", "is_open"],
             file_stem="placement-durations",
             empty="No placement overlaps the period.", level=2)


def km() -> None:
    label = st.segmented_control("Split the curve by", list(SPLITS), default="Reason", key="km_by")
    by = SPLITS[label or "No split"]
    df = S.metric("time_in_ap", "km_curve", by=by)
    if len(df) and by in MANY:
        top = df.groupby("group")["at_risk"].max().sort_values(ascending=False).head(8).index
        df = df[df["group"].isin(top)]
    counts = ["at_risk", "events", "censored"]
    # The life table's counts give each other away (at risk falls by the endings and
    # censorings), so a shared screen, and every download, gets the curves only, and only for
    # groups that started with enough placements for their steps not to single out a pupil;
    # each curve stops where fewer than that are still at risk (its last steps would each be
    # one placement's own length).
    shared = df
    if len(df):
        started = df.groupby("group", dropna=False)["at_risk"].transform("max")
        keep = (started >= S.threshold()) & (df["at_risk"] >= S.threshold())
        shared = df.assign(placements=started)[keep][["group", "days", "survival", "placements"]]
    if S.presentation() and len(df):
        df, counts = shared, ["placements"]
        if df.empty:   # placements did start: too few to draw without singling one out
            st.header("Time in AP: Kaplan–Meier curves", anchor=False)
            st.info(f"Not shown in presentation mode: no group here started with {S.threshold()} or more "
                    "placements, and a curve of fewer would show each placement's own length.")
            return

    def chart(d):
        fig = go.Figure()
        for i, (g, gd) in enumerate(d.groupby("group", sort=False, dropna=False)):
            n0 = int(gd["placements" if "placements" in gd else "at_risk"].max()) if len(gd) else 0
            name = U.safe_label(f"{U.value_label(g) if by else 'All placements'} (n = {U.fmt_count(S.shared_count(n0))})")
            # told apart by colour, dash and marker (not by colour alone), no line in yellow
            fig.add_trace(go.Scatter(x=gd["days"], y=gd["survival"], mode="lines+markers", line_shape="hv",
                                     name=name,
                                     line=dict(color=U.LINE_COLOURS[i % len(U.LINE_COLOURS)], width=3,
                                               dash=U.LINE_DASHES[i % len(U.LINE_DASHES)]),
                                     marker=dict(symbol=U.LINE_MARKERS[i % len(U.LINE_MARKERS)], size=8,
                                                 maxdisplayed=12)))
        fig.add_hline(y=0.5, line_dash="dot", line_color="#555", annotation_text="half still in AP")
        fig = U.style(fig, "Share of placements still in AP after a number of days", "Days since the placement started",
                      "Share still in AP (%)", height=460)
        fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
        return fig

    U.figure("Time in AP: Kaplan–Meier curves", "km", df, "km_curve", chart=chart,
             count_cols=counts,
             about_extra="With 'Provider' or 'Home school', the eight with the most placements are drawn. A trust "
                         "or home school is the one on the placement's record. In presentation "
                         f"mode and in the files, a line stops where fewer than {S.threshold()} placements are still "
                         "in AP.",
             empty="No placement started in the period, so there is no curve.",
             file_stem=f"km-curve-{by or 'all'}", download_df=shared, level=2)


def per_pupil() -> None:
    df = S.metric("time_in_ap", "placements_per_pupil")
    total = int(df["pupils"].sum()) if len(df) else 0

    def chart(d):
        return U.bar(d, "placements", "pupils", f"Pupils by number of placements in the period (n = "
                     f"{U.fmt_count(S.shared_count(total))} pupils)", "Placements in the period", "Pupils")

    U.figure("How many placements each pupil had", "per_pupil", df if total else df.iloc[0:0], "per_pupil",
             chart=chart, count_cols=["pupils"], total_row=True, file_stem="placements-per-pupil",
             empty="No placement overlaps the period.", level=2)


def open_ended() -> None:
    counts = S.metric("oversight", "summary")
    c = U.tiles(3)
    c[0].metric("No planned end date", U.fmt_count(S.shared_count(counts.get("no_planned_end"))),
                border=True, help="Open placements with no planned end date recorded: open-ended placements.")
    c[1].metric("Planned end date passed", U.fmt_count(S.shared_count(counts.get("planned_end_passed"))),
                border=True, help="Open placements whose planned end date is before the 'as of' date.")
    c[2].metric("Long placements", U.fmt_count(S.shared_count(counts.get("long_placement"))), border=True,
                help=U.ABOUT["long_open"])
    if S.can_open("panel"):
        st.caption("The placements themselves are listed, with their other flags, on the Case list.")


def long_open() -> None:
    df = S.metric("time_in_ap", "long_open")
    settings = S.settings()
    if S.presentation():
        st.subheader(f"Open placements over {settings.long_placement_days} days", anchor=False)
        U.about("long_open")
        st.metric("Long open placements", U.fmt_count(S.shared_count(len(df))))
        st.caption("The list of placements is hidden in presentation mode"
                   + ("; see the Case list." if S.can_open("panel") else "."))
        return
    U.figure(f"Open placements over {settings.long_placement_days} days", "long_open", df, "long_open",
             pupil_level=True, file_stem="long-open-placements",
             table_cols=["case", "provider", "setting_type", "reason", "start_date", "planned_end_date", "days"],
             empty=f"No open placement has run for more than {settings.long_placement_days} days.")


def main() -> None:
    st.title("Time in AP", anchor=False)
    if S.empty_state("This page shows how long placements last once placements are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    with S.section("the summary"):
        summary()
    st.divider()
    with S.section("the Kaplan–Meier curves"):
        km()
    st.divider()
    with S.section("the distribution of durations"):
        distribution()
    st.divider()
    with S.section("the placements per pupil"):
        per_pupil()
    st.divider()
    st.header("Long and open-ended placements", anchor=False)
    with S.section("the open-ended placements"):
        open_ended()
    with S.section("the long open placements"):
        long_open()


S.run_page(main)
