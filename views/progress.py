"""Progress: attendance before and during placements, and assessments against baseline."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views import _state as S
from views import _ui as U


def attendance() -> None:
    summary = S.metric("progress", "summary")["attendance"]
    c = U.tiles(4)
    n = summary.get("n") or 0
    c[0].metric("Placements compared", U.fmt_count(S.shared_count(n)), border=True,
                help=U.ABOUT["attendance"])
    # medians of one or two placements are their own rates: hidden with their count
    small = S.presentation() and S.shared_count(n) == "c"
    c[1].metric("Median attendance before", U.fmt_rate(S.shared_stat(summary.get("baseline_rate_median"), n)),
                border=True)
    c[2].metric("Median attendance during", U.fmt_rate(S.shared_stat(summary.get("during_rate_median"), n)),
                border=True,
                delta=(f"{summary['median_change_pp']:+.1f} pp median change"
                       if summary.get("median_change_pp") is not None and not small else None))
    c[3].metric("Improved", U.fmt_rate(S.shared_rate(summary.get("improved"), n)), border=True,
                help="Placements whose attendance during the placement is above the baseline.")
    c[3].caption(f"{U.fmt_count(S.shared_part(summary.get('improved'), n))} of {U.fmt_count(S.shared_count(n))}")

    df = S.metric("progress", "attendance_by_placement")
    both = df.dropna(subset=["baseline_rate", "during_rate"]) if len(df) else df
    if small and len(both):   # each point would be one placement's own attendance
        st.subheader("Attendance before and during placements", anchor=False)
        st.info(f"Not shown in presentation mode: fewer than {S.threshold()} placements have attendance both "
                "before and during them.")
        return

    def chart(d):
        d = d.dropna(subset=["baseline_rate", "during_rate"])
        up = d["during_rate"] > d["baseline_rate"]
        fig = go.Figure()
        for mask, name, colour, symbol in ((up, "Improved", U.OKABE_ITO[2], "triangle-up"),
                                           (~up, "Not improved", U.OKABE_ITO[3], "triangle-down")):
            dd = d[mask]
            fig.add_trace(go.Scatter(x=dd["baseline_rate"], y=dd["during_rate"], mode="markers", name=name,
                                     text=dd.get("case"), marker=dict(color=colour, size=10, symbol=symbol),
                                     hovertemplate=("%{text}: " if "case" in dd else "")
                                     + "before %{x:.0%}, during %{y:.0%}<extra></extra>"))
        fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="No change",
                                 line=dict(color="#777", dash="dot")))
        fig = U.style(fig, f"Attendance before and during each placement (n = {U.fmt_count(S.shared_count(len(d)))} "
                           "placements)", "Attendance before (% of possible sessions)",
                      "Attendance during (% of possible sessions)", height=480)
        fig.update_xaxes(tickformat=".0%", range=[0, 1.02])
        fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
        return fig

    if S.presentation() and len(both):
        # as Time in AP's durations: on a shared screen the chart only, each point with no case
        # number, and no list or file of placements (a reviewer read each looked-after child's
        # dates and attendance from them)
        st.subheader("Attendance before and during placements", anchor=False)
        U.about("attendance")
        U.plot(chart(both.drop(columns=["case"], errors="ignore")), "chart_att", personal=True)
        st.caption("Each placement's row, and the file of them, are left out in presentation mode.")
        return
    U.figure("Attendance before and during placements", "att", both, "attendance", chart=chart, pupil_level=True,
             table_cols=["case", "provider", "start_date", "end_date", "baseline_rate", "during_rate", "change_pp"],
             file_stem="attendance-by-placement",
             empty="No placement has attendance recorded both before and during it. Upload attendance for the "
                   "weeks before placements started and for the placements themselves.")


def assessments() -> None:
    summary = S.metric("progress", "summary")["assessments"]
    pairs = S.metric("progress", "assessments_by_placement")
    names, directions = {}, {}
    if len(pairs):
        for r in pairs.itertuples(index=False):
            names[r.measure_key] = r.measure
            directions[r.measure_key] = r.higher_is_better
    rows = [{"measure": names.get(k, k), "direction": "Higher is better" if directions.get(k, True) is not False
             else "Lower is better", "n": v["n"], "improved": v["improved"], "median_change": v["median_change"],
             "improved_rate": v["improved"] / v["n"] if v["n"] else None}
            for k, v in summary.items()]
    df = pd.DataFrame(rows, columns=["measure", "direction", "n", "improved", "median_change", "improved_rate"])

    def chart(d):
        d = d.copy()
        d["label"] = [U.safe_label(f"{m} ({'↑' if dr.startswith('Higher') else '↓'} better; n = {U.fmt_count(n)})")
                      for m, dr, n in zip(d["measure"], d["direction"], d["n"])]
        fig = go.Figure(go.Bar(y=d["label"], x=d["improved_rate"], orientation="h", marker_color=U.OKABE_ITO[2],
                               text=[U.fmt_rate(v) for v in d["improved_rate"]], textposition="outside"))
        fig = U.style(fig, "Share of placements that improved, by measure", "Improved (% of placements with a "
                      "baseline and a later score)", "Measure (direction)", height=max(300, 100 + 50 * len(d)))
        fig.update_xaxes(tickformat=".0%", range=[0, 1.1])
        fig.update_yaxes(autorange="reversed")
        return fig

    U.figure("Assessments against baseline, by measure", "assess", df, "assessments", chart=chart,
             count_cols=["n", "improved"], rate_cols={"improved_rate": ("improved", "n")},
             stat_cols={"median_change": "n"},
             about_extra="Each measure's direction is shown beside it; change it in Settings.",
             file_stem="assessments-by-measure",
             empty="No placement has both a baseline and a later score. Upload assessments dated on or before "
                   "placement starts (baselines) and later ones.")
    if len(pairs) and not S.presentation():
        with st.expander("Each placement's baseline and latest score"):
            shown = S.protect(pairs)
            cols = [c for c in ("case", "measure", "baseline_date", "baseline_value", "latest_date", "latest_value",
                                "change", "improved") if c in shown.columns]
            U.table(shown[cols])
            U.downloads(pairs, "assess_pairs", "assessments-by-placement", aggregate=False,
                        title="Each placement's baseline and latest score")


def main() -> None:
    st.title("Progress", anchor=False)
    if S.empty_state("This page compares attendance and assessments before and during placements once "
                     "placements, attendance and assessments are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    st.header("Attendance", anchor=False)
    with S.section("attendance"):
        attendance()
    st.divider()
    st.header("Assessments", anchor=False)
    with S.section("assessments"):
        assessments()


S.run_page(main)
