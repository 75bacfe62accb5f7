"""Canonical datasets: column names, types and keys (docs/data-spec.md §1-§4, §6).

This module is the allow-list: every table and column name that reaches SQL comes from here,
never from a spreadsheet header.

>>> column_names("exclusions")[:3]
('pupil_id', 'category', 'start_date')
"""
from __future__ import annotations

from dataclasses import dataclass

# Column types. Each maps to one DuckDB type in the ledger and in the current-state tables.
TEXT, DATE, NUMBER, INTEGER, BOOL = "text", "date", "number", "integer", "bool"
DUCKDB_TYPE = {TEXT: "VARCHAR", DATE: "DATE", NUMBER: "DOUBLE", INTEGER: "INTEGER", BOOL: "BOOLEAN"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    personal: bool = False  # hidden in presentation mode


P = Column
PLACEMENTS = (
    P("pupil_id", TEXT, True, personal=True),
    P("first_name", TEXT, personal=True),
    P("last_name", TEXT, personal=True),
    P("date_of_birth", DATE, personal=True),
    P("sex", TEXT),                 # M / F / U
    P("ethnicity", TEXT),           # as given (code or label), trimmed
    P("ethnicity_group", TEXT),     # major group, derived by ingest from ethnicity
    P("sen_status", TEXT),          # E / K / N
    P("cla", BOOL),
    P("fsm", BOOL),
    P("nc_year", TEXT),             # R, 1..14, X (derived in the current state when blank)
    P("home_school", TEXT),
    P("home_school_urn", TEXT),
    P("trust", TEXT),
    P("provider", TEXT),            # required: provider or provider_urn or provider_ukprn
    P("provider_urn", TEXT),
    P("provider_ukprn", TEXT),
    P("setting_type", TEXT),        # vocabulary SETTING_TYPES
    P("registered", BOOL),          # derived in the current state when blank
    P("commissioner", TEXT),        # school / la
    P("reason", TEXT),              # vocabulary REASONS
    P("start_date", DATE, True),
    P("planned_end_date", DATE),
    P("end_date", DATE),
    P("hours_per_week", NUMBER),
    P("sessions_per_week", INTEGER),
    P("objectives", TEXT),
    P("last_review_date", DATE),
    P("destination", TEXT),         # vocabulary DESTINATIONS
    P("out_of_area", BOOL),
    P("cost_per_week", NUMBER),
)
ATTENDANCE = (
    P("pupil_id", TEXT, True, personal=True),
    P("period_start", DATE, True),
    P("period_end", DATE),
    P("possible_sessions", NUMBER, True),
    P("attended_sessions", NUMBER, True),
    P("setting", TEXT),
)
EXCLUSIONS = (
    P("pupil_id", TEXT, True, personal=True),
    P("category", TEXT, True),      # suspension / permanent / lunchtime
    P("start_date", DATE, True),
    P("sessions", NUMBER),
    P("reason", TEXT),              # DfE code (PP, PA, ...) when recognised, else the text given
    P("school", TEXT),
    P("school_urn", TEXT),
    P("trust", TEXT),
)
ASSESSMENTS = (
    P("pupil_id", TEXT, True, personal=True),
    P("measure", TEXT, True),       # display text as given (newest seen wins)
    P("date", DATE, True),
    P("value", NUMBER, True),
    P("higher_is_better", BOOL),
)

DATASETS: dict[str, tuple[Column, ...]] = {
    "placements": PLACEMENTS,
    "attendance": ATTENDANCE,
    "exclusions": EXCLUSIONS,
    "assessments": ASSESSMENTS,
}

# Keys (data-spec §6). Text parts are compared trimmed and case-folded where the spec says so;
# the store builds the key expressions, these name the parts.
KEYS: dict[str, tuple[str, ...]] = {
    "placements": ("pupil_id", "provider_key", "start_date"),
    "attendance": ("pupil_id", "period_start", "period_end", "setting_key"),
    "exclusions": ("pupil_id", "start_date", "category"),
    "assessments": ("pupil_id", "measure_key", "date"),
}

# Extra columns of the current-state tables (built by the store), besides DATASETS' columns.
CURRENT_EXTRA: dict[str, tuple[Column, ...]] = {
    "placements": (P("placement_id", TEXT), P("provider_key", TEXT), P("upload_id", INTEGER)),
    "attendance": (P("setting_key", TEXT), P("upload_id", INTEGER)),
    "exclusions": (P("upload_id", INTEGER),),
    "assessments": (P("measure_key", TEXT), P("upload_id", INTEGER)),
}

SETTING_TYPES = ("state_ap_school", "independent_school", "special_school", "fe_college",
                 "one_to_one_tuition", "online", "work_based", "hospital", "other_unregistered",
                 "unknown")
UNREGISTERED_SETTING_TYPES = ("one_to_one_tuition", "online", "work_based", "other_unregistered")
REASONS = ("permanent_exclusion", "suspension", "behaviour_support", "medical_physical",
           "medical_mental_health", "awaiting_school_place", "awaiting_specialist_place", "other")
DESTINATIONS = ("mainstream", "special", "other_ap", "post16", "neet", "ehe", "moved_away",
                "other", "unknown")
EXCLUSION_CATEGORIES = ("suspension", "permanent", "lunchtime")
SEN_STATUSES = ("E", "K", "N")
SEXES = ("M", "F", "U")
ETHNICITY_GROUPS = ("White", "Mixed / Multiple ethnic groups", "Asian / Asian British",
                    "Black / African / Caribbean / Black British", "Other ethnic group", "Unknown")


def column_names(dataset: str) -> tuple[str, ...]:
    return tuple(c.name for c in DATASETS[dataset])


def column(dataset: str, name: str) -> Column:
    for c in DATASETS[dataset]:
        if c.name == name:
            return c
    raise KeyError(f"{dataset}.{name}")


# ---------------------------------------------------------------------------------------------
# Case folding (data-spec §6: a setting, a measure and a provider name are the same when they
# match "trimmed, case-folded"). DuckDB has lower() but no case folding, and they differ for 184
# characters ('ß' folds to 'ss', 'ς' to 'σ', 'ﬁ' to 'fi', Cherokee small letters to capitals):
# 'Maß' and 'MASS' were two measures. The SQL lower-cases ASCII text itself and hands any other
# text to Python's str.casefold, registered on the store's connection (so the rare non-ASCII
# value pays for the call, and every value folds exactly as Python folds it).

FOLD_FUNCTION = "ap_casefold"


def fold_sql(expr: str) -> str:
    """SQL for ``expr`` case-folded (``expr`` is SQL, never a value); needs add_fold_function.

    >>> fold_sql("trim(measure)")
    'CASE WHEN strlen(trim(measure)) = length(trim(measure)) THEN lower(trim(measure)) ELSE ap_casefold(trim(measure)) END'
    """
    return (f"CASE WHEN strlen({expr}) = length({expr}) THEN lower({expr}) "
            f"ELSE {FOLD_FUNCTION}({expr}) END")


def add_fold_function(con) -> None:
    """Register the folding fold_sql calls on ``con``'s database (once: every cursor sees it)."""
    import duckdb
    try:
        con.create_function(FOLD_FUNCTION, str.casefold, ["VARCHAR"], "VARCHAR", side_effects=False)
    except (duckdb.CatalogException, duckdb.NotImplementedException):
        pass    # already registered on this database instance (by this connection or another)


def fold(text) -> str:
    """A key as data-spec §6 compares it: trimmed and case-folded (Python's own, as in SQL)."""
    return str(text).strip().casefold()
