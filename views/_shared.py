"""The outcomes figures protected together (analytics/outcomes_shared.py): the headline tiles,
the returns by term and by group, the destinations, and the overview's trends by term and by
academic year show the same counts, so what each hides is worked out for all of them at once, in
presentation mode and in every file."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from views import _state as S
from views import _ui as U

GROUP_COUNTS = ["ended", "returned", "unknown_destination", "sustained_eligible", "sustained"]
GROUP_RATES = {"rate": ("returned", "ended"), "sustained_rate": ("sustained", "sustained_eligible")}
RETURN_RATE = {"return_rate": ("returned", "ended")}
WITHHELD = ("Not shown in presentation mode: with the figures beside it, hiding this breakdown's small numbers "
            "would not be enough to keep them from being worked out.")


def _pieces() -> dict:
    terms = S.metric("trends", "by_term", unit="term")
    return dict(
        summary_=S.metric("outcomes", "summary"),
        by_term=terms,
        years=S.api("outcomes_shared", "years_from_terms")(terms),   # the overview's trend by year
        groups=S.metric("outcomes", "by_groups"),
        dests=S.api("outcomes_shared", "in_order")(S.metric("outcomes", "destinations_by_groups"),
                                                    S.metric("outcomes", "destinations", by="term")),
        period=S.period(), threshold=S.threshold())


def _protect() -> object:
    return S.api("outcomes_shared", "protect")(**_pieces())


def joint():
    """What each outcomes figure hides for the current filters and settings (a Shared), from
    the same cached figures the pages draw: worked out once per filter state (cached across
    sessions) and looked up once per run (kept in the session for the figures after the first)."""
    key = repr(("outcomes_shared", S.db_path(), S.data_version(), S.filters(), S.settings()))
    kept = st.session_state.get("_outcomes_shared")
    if kept and kept[0] == key:
        return kept[1]
    shared = S.cached(key, _protect, {})
    st.session_state["_outcomes_shared"] = (key, shared)
    return shared


def hide(figure, label_col: str, count_cols, rate_cols=None):
    """A figure's small-number rule for U.figure(suppress=...): its cells hidden as the joint
    protection says (and the rates built on them), or None when it is withheld."""
    def apply(d: pd.DataFrame):
        cells = joint().cells(figure)
        if cells is None:
            return None
        return hide_in(d, label_col, cells, rate_cols)
    return apply


def hide_in(d: pd.DataFrame, label_col, cells, rate_cols=None) -> pd.DataFrame:
    """d with 'c' in ``cells`` ({(row label, column)}) and the rates built on them; the Total
    row U.figure adds is found by its label wherever it stands (suppression.hide_cells)."""
    total = d.astype(object).eq(U.TOTAL).any(axis=1)
    keyed = d.assign(_row=d[label_col].astype(object).where(~total, U.TOTAL).astype(str))
    return S.api("suppression", "hide_cells")(keyed, "_row", cells, rate_cols).drop(columns="_row")


def tiles() -> dict:
    return S.api("outcomes_shared", "shared_tiles")(S.metric("outcomes", "summary"), S.threshold())


def by_term_table() -> pd.DataFrame:
    df = S.metric("trends", "by_term", unit="term")  # same cache key as the trends
    cols = [c for c in ("label", "period_start", "as_of", "ended", "returned", "return_rate",
                        "sustained_rate") if c in df.columns and not (c == "sustained_rate" and S.presentation())]
    return df[cols]


def trend_shared(unit: str, count_cols, rate_cols, stat_cols=None):
    """The overview's trend by term or academic year as shared: its own small-number rule, then
    the returns and placements ended (to another AP too) hidden where the outcomes figures hide
    them (a withheld figure's counts are hidden on every row)."""
    figure = "by_term" if unit == "term" else "years"

    def apply(d: pd.DataFrame) -> pd.DataFrame:
        out = S.shared_table(d, count_cols, rate_cols, force=True, **({"stat_cols": stat_cols} if stat_cols else {}))
        cells = joint().cells(figure)
        if cells is None:
            cells = {(label, c) for label in d["label"] for c in ("ended", "returned", "placements_ended")}
        return S.api("suppression", "hide_cells")(out, "label", cells, RETURN_RATE)
    return apply


def destinations(by) -> pd.DataFrame:
    """The destinations by ``by`` (None, 'term' or a breakdown) as the joint protection has
    them: every breakdown comes from one query (outcomes.destinations_by_groups)."""
    if by == "term":
        return S.metric("outcomes", "destinations", by="term")
    return S.metric("outcomes", "destinations_by_groups")[by]


def by_group(by: str) -> pd.DataFrame:
    """The returns by ``by``, from the one query of every breakdown (outcomes.by_groups)."""
    return S.metric("outcomes", "by_groups")[by]


def n_shown(by) -> object:
    """The chart's n for the destinations (all placements ended), as the joint protection
    shows it: hidden when the moves to another AP it gives away beside the tiles are few."""
    df = destinations(by)
    n = int(df["n"].sum()) if len(df) else 0
    if not S.presentation():
        return n
    cells = joint().cells(("destinations", None))
    return S.api("suppression", "SUPPRESSED") if cells is None or ("Total", "n") in cells else n


def as_returns_by_provider(d: pd.DataFrame) -> pd.DataFrame:
    """The providers scorecard (already shared by its own rule) with each provider's placements
    ended and returns hidden where the returns by provider hide them: the same counts."""
    cells = joint().cells(("by_group", "provider"))
    if cells is None:   # withheld there: hidden here on every row
        cells = {(p, c) for p in d["provider"].astype(str) for c in ("ended", "returned")}
    cells = {(p, c) for p, c in cells if c in ("ended", "returned")}
    return hide_in(d, "provider", cells, RETURN_RATE)


EXCLUSION_GROUPS = ("term", "school", "trust", "reason", "academic_year")


def exclusions_joint():
    """What each exclusions breakdown hides for the current filters and settings
    (analytics/exclusions_shared.py), worked out as joint() is."""
    key = repr(("exclusions_shared", S.db_path(), S.data_version(), S.filters(), S.settings()))
    kept = st.session_state.get("_exclusions_shared")
    if kept and kept[0] == key:
        return kept[1]

    def work():
        return S.api("exclusions_shared", "protect")(
            S.metric("exclusions", "summary"),
            {by: S.metric("exclusions", "by_group", by=by) for by in EXCLUSION_GROUPS},
            S.metric("exclusions", "by_school_and_trust"), S.threshold())
    shared = S.cached(key, work, {})
    st.session_state["_exclusions_shared"] = (key, shared)
    return shared


def as_exclusions_by(by: str, key_col: str = "group", rate_cols=None):
    """An exclusions figure (already shared by its own rule) with the cells the exclusions
    breakdown by ``by`` hides when protected together with the others (also_hide)."""
    def apply(d: pd.DataFrame) -> pd.DataFrame:
        cells = exclusions_joint().cells(("by_group", by))
        if cells is None:
            cells = {(str(g), c) for g in d[key_col] for c in ("suspensions", "permanent", "lunchtime")}
        return hide_in(d, key_col, cells, rate_cols)
    return apply


def sixth_day_shown(permanent, eligible, met) -> tuple:
    """(eligible, met) as the sixth-day tiles and n show them: in presentation mode 'c' where
    analytics/exclusions_shared.protect_sixth_day hides them beside the Permanent tile."""
    if not S.presentation() or eligible is None or met is None or permanent is None:
        return eligible, met
    hidden = S.api("exclusions_shared", "protect_sixth_day")(int(permanent), int(eligible), int(met), S.threshold())
    return ("c" if "eligible" in hidden else eligible), ("c" if "met" in hidden else met)
