"""Providers: a scorecard per provider and the registration check."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from views import _shared as SH
from views import _state as S
from views import _ui as U


def registration() -> None:
    # The reasons quote counts: where the table hides a count as 'c', its reason must not give it
    # (always so for the download, which follows the small-number rule like every aggregate one).
    shared = S.metric("providers", "registration_check", suppress_below=S.threshold())
    df = shared if S.presentation() else S.metric("providers", "registration_check")
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
    else:
        st.success("No unregistered provider meets the registration test on the 'as of' date.")
    unknown = df[df["status"].astype(str) == "registration_unknown"] if "status" in df.columns else df.iloc[0:0]
    if len(unknown):
        st.warning(f"{U.n_of(len(unknown), 'provider')} would meet the test but their registration status is not recorded: "
                   "add a URN or UKPRN, or a 'Registered' column, to the placements file.")
    shown = _in_words(S.shared_table(df, ["pupils_18h_plus", "cla_or_ehcp_18h_plus"]))
    cols = [c for c in ("provider", "setting_type", "registered", "pupils_18h_plus", "cla_or_ehcp_18h_plus",
                        "likely_needs_registration", "why") if c in shown.columns]
    U.table(shown[cols])
    # the file in the screen's words (a reviewer's copy said True/False and below_threshold)
    U.downloads(_in_words(shared.drop(columns=["provider_key"], errors="ignore")), "registration",
                "registration-check", count_cols=["pupils_18h_plus", "cla_or_ehcp_18h_plus"],
                columns=cols + ["status"], title="Registration check")


STATUS_WORDS = {"likely_needs_registration": "Likely to need registering", "registration_unknown":
                "Would meet the test; registration not recorded", "registered": "Registered",
                "below_threshold": "Below the test"}


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


def scorecard() -> None:
    df = S.metric("providers", "scorecard")
    count_cols = ["pupils_now", "placements_in_period", "ended", "returned"]

    def chart(d):
        d = d.copy()
        d["label"] = [U.safe_label(f"{p} (n = {U.fmt_count(n)} ended)") for p, n in zip(d["provider"], d["ended"])]
        return U.bar(d.rename(columns={"return_rate": "rate"}), "label", "rate",
                     "Return-to-mainstream rate by provider", "Provider (n = placements ended in the period)",
                     "Return rate (%)", horizontal=True, percent=True)

    # the reasons are the registration check's, given (with small numbers protected) above it
    view = df.drop(columns=["registration_reason"], errors="ignore")
    if len(view):
        view["registered"] = _registered(view["registered"])
        for c in ("part_time_share", "attendance_rate", "return_rate"):
            if c in view.columns:
                view[c] = view[c].astype(float)
    U.figure("Provider scorecard", "scorecard", view, "scorecard", chart=chart, count_cols=count_cols,
             rate_cols={"return_rate": ("returned", "ended")},
             table_cols=["provider", "setting_type", "registered", "pupils_now", "placements_in_period", "median_hours",
                         "part_time_share", "attendance_rate", "median_days", "ended", "returned", "return_rate",
                         "cost_per_week_median", "needs_registration"],
             file_stem="provider-scorecard", default_view="Table", total_row=True,
             not_additive=["pupils_now"],   # a pupil can be at two providers
             # a median or share of a handful of placements is as telling as their count
             stat_cols={"part_time_share": "pupils_now", "median_hours": "pupils_now",
                        # the median of the placements that ended (its own n), not of all placements
                        "attendance_rate": "placements_in_period", "median_days": "ended",
                        "cost_per_week_median": "placements_in_period"},
             empty="No provider has a placement in the period.",
             # its placements ended and returns are the returns by provider's, protected there
             # together with the other outcomes figures
             also_hide=SH.as_returns_by_provider, level=2)
    if len(df):
        st.caption("Cost per week is the median of the recorded weekly costs, blank where none is recorded. "
                   "Hours are the median hours a week; attendance is during the placements.")


def flags() -> None:
    """The oversight flags of each provider's open placements: a contract meeting's agenda, which
    a commissioning officer otherwise drew from the case list one provider at a time."""
    df = S.metric("oversight", "by_provider")
    present = [f for f in U.FLAG_LABELS if f in df.columns]
    U.figure("Open placements and their flags, by provider", "prov_flags", df.drop(columns=["provider_key"]),
             "flags_by_provider", count_cols=["open", *present, "any_flag"],
             table_cols=["provider", "open", "open_median_days", "any_flag", *present],
             stat_cols={"open_median_days": "open"}, total_row=True, file_stem="flags-by-provider",
             empty="No placement is open on the 'as of' date.", level=2)


def main() -> None:
    st.title("Providers", anchor=False)
    if S.empty_state("This page compares providers once placements are loaded."):
        return
    p = S.period()
    st.caption(U.scope_caption(p))
    with S.section("the scorecard"):
        scorecard()
    st.divider()
    with S.section("the flags by provider"):
        flags()
    st.divider()
    with S.section("the registration check"):
        registration()


S.run_page(main)
