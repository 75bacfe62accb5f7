"""Outcomes: return to mainstream and destinations, by term and by group; sustained returns."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from views import _shared as SH
from views import _state as S
from views import _ui as U

GROUPS = {"Provider": "provider", "Reason": "reason", "Commissioned by": "commissioner",
          "Setting type": "setting_type", "Trust": "trust", "Home school": "home_school"}


def summary() -> None:
    s = S.metric("outcomes", "summary")
    sus = s.get("sustained") or {}
    c = U.tiles(4)
    c[0].metric("Return-to-mainstream rate", U.fmt_rate(S.shared_rate(s["returned"], s["ended"], s["rate"])),
                border=True, help=U.ABOUT["return_rate"])
    c[0].caption(f"{U.fmt_count(S.shared_part(s['returned'], s['ended']))} of {U.fmt_count(S.shared_count(s['ended']))} "
                 "placements that ended (moves to other AP are not counted)")
    c[1].metric("Destination not recorded", U.fmt_count(S.shared_count(s.get("unknown_destination"))), border=True,
                help="Placements that ended in the period with no destination recorded, or recorded as not "
                     "known. They count as not returned.")
    c[2].metric("Sustained returns", U.fmt_rate(S.shared_rate(sus.get("sustained"), sus.get("eligible"),
                                                              sus.get("rate"))),
                border=True, help=U.ABOUT["sustained_rate"])
    c[2].caption(f"{U.fmt_count(S.shared_part(sus.get('sustained'), sus.get('eligible')))} of "
                 f"{U.fmt_count(S.shared_count(sus.get('eligible')))} returns old enough to judge")
    broke = (sus.get("eligible") or 0) - (sus.get("sustained") or 0)
    c[3].metric("Broke down", U.fmt_count(S.shared_part(broke, sus.get("eligible"))),
                border=True, help=f"Returns old enough to judge that were followed, within {S.settings().sustain_days} days, by a new AP "
                                  "placement or a permanent exclusion.")
    U.about("return_rate", U.ABOUT["sustained_rate"])


def by_term() -> None:
    df = SH.by_term_table()
    if "sustained_rate" in df.columns and len(df) and df["sustained_rate"].isna().all():
        df = df.drop(columns=["sustained_rate"])   # never judged by a term's end: see the caption
        st.caption(f"Sustained returns are not drawn by term: a return is judged {S.settings().sustain_days} days "
                   "after it, so no term's returns can be judged by its end. See the sustained returns below.")
    ended = int(pd.to_numeric(df["ended"], errors="coerce").fillna(0).sum()) if len(df) else 0

    def chart(d):
        fig = go.Figure()
        fig.add_trace(go.Bar(x=d["label"], y=d["ended"], name="Placements ended (not to other AP)",
                             marker_color=U.OKABE_ITO[4], yaxis="y2", opacity=0.5))
        fig.add_trace(go.Scatter(x=d["label"], y=d["return_rate"], name="Return rate", mode="lines+markers",
                                 line=dict(color=U.OKABE_ITO[0], width=3)))
        if "sustained_rate" in d.columns:
            fig.add_trace(go.Scatter(x=d["label"], y=d["sustained_rate"], name="Sustained rate",
                                     mode="lines+markers", line=dict(color=U.OKABE_ITO[2], width=3, dash="dash"),
                                     marker=dict(symbol="square")))
        fig = U.style(fig, f"Return to mainstream by term (n = {U.fmt_count(S.shared_count(ended))} "
                           "placements ended)", "Term", "Rate (%)")
        fig.update_layout(yaxis=dict(tickformat=".0%", range=[0, 1]),
                          yaxis2=dict(title="Placements ended", overlaying="y", side="right", rangemode="tozero",
                                      showgrid=False, tickformat=",d"))
        return fig

    U.figure("Return to mainstream by term", "out_term", df if ended else df.iloc[0:0], "return_rate", chart=chart,
             count_cols=["ended", "returned"], rate_cols={"return_rate": ("returned", "ended")},
             file_stem="returns-by-term", total_row=True,
             empty="No placement ended in the terms shown, so there is no return rate to draw.",
             suppress=SH.hide("by_term", "label", ["ended", "returned"], SH.RETURN_RATE), level=2)
    st.caption("Every term from the first placement to the 'as of' date, whatever the period in the sidebar; "
               "in the table the Total row adds up all the terms shown. The rate for the period is the one at the top "
               "of the page.")


def _pct(v) -> str:
    """A bar's label: the rate, or 'no figure' where there is none (hidden, or nothing to judge)."""
    return "no figure" if v is None or pd.isna(v) else f"{v:.0%}"


def by_group() -> None:
    label = st.segmented_control("Compare by", list(GROUPS), default="Provider", key="out_by")
    by = GROUPS[label or "Provider"]
    df = SH.by_group(by)

    def chart(d):
        d = d.copy()
        d["group"] = [U.safe_label(f"{U.value_label(g)} (n = {U.fmt_count(S.shared_count(n))})")
                      for g, n in zip(d["group"], d["ended"])]
        fig = go.Figure()
        # each bar is labelled, so a 0% bar reads as 0% and not as a group with no figure
        fig.add_trace(go.Bar(y=d["group"], x=d["rate"], orientation="h", name="Return rate",
                             marker_color=U.OKABE_ITO[0], text=[_pct(v) for v in d["rate"]],
                             textposition="outside", cliponaxis=False))
        if "sustained_rate" in d.columns:
            fig.add_trace(go.Bar(y=d["group"], x=d["sustained_rate"], orientation="h", name="Sustained rate",
                                 marker_color=U.OKABE_ITO[2], marker_pattern_shape="/",
                                 text=[_pct(v) for v in d["sustained_rate"]], textposition="outside",
                                 cliponaxis=False))
        fig = U.style(fig, f"Return and sustained rates by {(label or 'provider').lower()}", "Rate (%)",
                      (label or "Provider"), height=max(320, 80 + 50 * len(d)))
        fig.update_xaxes(tickformat=".0%", range=[0, 1.12], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1])
        fig.update_yaxes(autorange="reversed")
        return fig

    U.figure(f"Return to mainstream by {(label or 'provider').lower()}", "out_group", df, "returns_by_group",
             chart=chart, count_cols=SH.GROUP_COUNTS, rate_cols=SH.GROUP_RATES,
             file_stem=f"returns-by-{by}", empty="No placement ended in the period.",
             total_row=True, suppress=SH.hide(("by_group", by), "group", SH.GROUP_COUNTS, SH.GROUP_RATES), level=2)


def destinations() -> None:
    label = st.segmented_control("Destinations by", ["All", "Term"] + list(GROUPS), default="All",
                                 key="dest_by")
    by = {"All": None, "Term": "term"}.get(label or "All") if (label or "All") in ("All", "Term") \
        else GROUPS[label]
    df = SH.destinations(by)
    title = f"Where pupils went when placements ended (n = {U.fmt_count(SH.n_shown(by))})"
    if by is None:
        def chart(d):
            return U.bar(d, "destination", "n", title, "Destination", "Placements ended", horizontal=True)

        U.figure("Destinations", "dest", df, "destinations", chart=chart, count_cols=["n"], total_row=True,
                 file_stem="destinations", empty="No placement ended in the period.",
                 suppress=SH.hide(("destinations", None), "destination", ["n"]), level=2)
        return
    wide = S.api("outcomes", "destinations_wide")(df) if len(df) else df
    dests = [c for c in wide.columns if c != "group"]

    def chart(d):
        long = d.melt(id_vars="group", value_vars=dests, var_name="destination", value_name="n")
        long = long[long["n"].fillna(0) > 0]   # hidden cells ('c') are left out, as zeros are
        return U.bar(long, "group", "n", title, label, "Placements ended", color="destination",
                     horizontal=by != "term", barmode="stack")   # terms run left to right

    U.figure("Destinations", "dest", wide, "destinations", chart=chart, count_cols=dests, total_row=True,
             file_stem=f"destinations-by-{by}", empty="No placement ended in the period.",
             suppress=SH.hide(("destinations", by), "group", dests), level=2)


def returns() -> None:
    df = S.metric("outcomes", "returns")
    if S.presentation():
        st.header("Each return to mainstream", anchor=False)
        U.about("returns")
        st.caption("The list of returns is hidden in presentation mode.")
        return
    # a return that has broken down is known not to be sustained, even before it could be judged
    # (it is not in the rate until then, metrics.md §2): never "too early" beside "broke down by"
    early = df["sustained"].isna() & df["broke_down_by"].notna()
    df = df.assign(sustained=df["sustained"].map({True: "Sustained", False: "Broke down"}).astype(object)
                   .where(~early, f"Broke down (within {S.settings().sustain_days} days; not yet in the rate)")
                   .fillna("Too early to judge"))
    U.figure("Each return to mainstream", "returns", df, "returns", pupil_level=True, file_stem="returns",
             table_cols=["case", "provider", "end_date", "sustained", "broke_down_by"],
             empty="No placement ended with a return to mainstream in the period.", level=2)


def main() -> None:
    st.title("Outcomes", anchor=False)
    if S.empty_state("This page shows returns to mainstream and destinations once placements are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    if S.presentation():
        st.caption(f"Small numbers are hidden: {U.c_means()}. The figures on this page share their counts, so "
                   "each is hidden with the others in view.")
    for name, fn in (("the summary", summary), ("the returns by term", by_term), ("the returns by group", by_group),
                     ("the destinations", destinations), ("the list of returns", returns)):
        with S.section(name):
            fn()
        st.divider()


S.run_page(main)
