"""Oversight of open placements: the flags of metrics.md §5, and one pupil's timeline.

``flags`` lists every placement open at as_of (selected by the filters) with its flags, most
urgent first; ``summary`` is the report's "oversight" section; ``pupil_view`` gathers one
pupil's placements (with flags where open), exclusions, attendance and assessments.

Flags (booleans, never null):

- no_planned_end: planned_end_date blank; planned_end_passed: planned_end_date < as_of;
- no_objectives: objectives blank (or only spaces);
- review_overdue: as_of − (last_review_date when on or before as_of, else start_date)
  > review_interval_days (``days_since_review`` is that difference);
- part_time: hours_per_week < full_time_hours; with no hours, sessions_per_week < 10; with
  neither, not flagged (unknown); part_time_over_limit: part_time and days > part_time_limit_days;
- unregistered: registered is false (derived as data-spec §1 when blank; unknown is not flagged);
- long_placement: days > long_placement_days;
- low_attendance: during rate (attendance rows with period_start in [start_date, as_of]) below
  low_attendance; not flagged without possible sessions.

``missing_attendance`` (no possible session in that window) is a data-quality marker: it is not
one of the flags, not in n_flags and not in any_flag.

Order ("most urgent first"): n_flags descending, then, flag by flag, placements carrying
unregistered, part_time_over_limit, review_overdue, long_placement, low_attendance,
planned_end_passed, no_objectives, part_time, no_planned_end come first (in that order of
weight: a pupil in unregistered or long part-time provision is the gravest safeguarding and
legal risk, then missed reviews); then longest days_since_review, longest days, placement_id.
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics.progress import attendance_windows_sql
from analytics.schema import UNREGISTERED_SETTING_TYPES
from analytics.scope import placements_sql
from analytics.settings import Filters, Period, Settings, resolve_period

FLAGS = ("no_planned_end", "planned_end_passed", "no_objectives", "review_overdue", "part_time",
         "part_time_over_limit", "unregistered", "long_placement", "low_attendance")

URGENCY = ("unregistered", "part_time_over_limit", "review_overdue", "long_placement",
           "low_attendance", "planned_end_passed", "no_objectives", "part_time", "no_planned_end")

COLUMNS = ("placement_id", "pupil_id", "first_name", "last_name", "date_of_birth", "nc_year", "sex",
           "sen_status", "cla", "provider", "provider_key", "setting_type", "registered", "reason",
           "commissioner", "home_school", "out_of_area", "start_date", "planned_end_date", "last_review_date",
           "days", "hours_per_week", "sessions_per_week", "cost_per_week", "objectives", "baseline_rate", "during_rate"
           ) + FLAGS + (
           "missing_attendance", "n_flags", "days_since_review")


# data-spec §1: the store derives registered when blank; applying the same rule again here is
# idempotent and keeps the flag right on tables not built by the store.
REGISTERED = ("COALESCE(p.registered, CASE WHEN p.provider_urn IS NOT NULL OR p.provider_ukprn IS NOT NULL "
              "THEN true WHEN p.setting_type IN ("
              + ", ".join(f"'{t}'" for t in UNREGISTERED_SETTING_TYPES) + ") THEN false END)")


def _open_placements_sql(filters: Filters, period: Period,
                         pupil_id: str | None = None) -> tuple[str, list]:
    sql, params = placements_sql(filters, period)
    sql = f"SELECT * FROM ({sql}) WHERE is_open"
    if pupil_id is not None:
        sql += " AND pupil_id = ?"
        params = params + [pupil_id]
    return sql, params


def flags_sql(filters: Filters, settings: Settings, period: Period,
              pupil_id: str | None = None,
              windows: tuple[str, list] | None = None, baseline: bool = True) -> tuple[str, list]:
    """(sql, params) for the rows of ``flags`` (unordered), optionally for one pupil.

    ``windows``: progress.report_windows_sql's rows for these filters, settings and dates when
    the caller has them (an open placement's during window there is the one read here).
    ``baseline``: read the baseline window too (baseline_rate; null when False).
    """
    osql, oparams = _open_placements_sql(filters, period, pupil_id)
    # the baseline is no flag's (metrics.md §5), but beside the during rate it shows a fall
    # from a child's own attendance before the placement (the thematic review's audit)
    if windows is None:
        wsql, wparams = attendance_windows_sql((osql, oparams), settings, period, baseline=baseline)
    else:
        wsql, wparams = (f"SELECT placement_id, baseline_rate, during_rate FROM ({windows[0]}) WHERE is_open",
                         windows[1])
    s = settings
    part_time = """CASE WHEN p.hours_per_week IS NOT NULL THEN p.hours_per_week < ?
                        WHEN p.sessions_per_week IS NOT NULL THEN p.sessions_per_week < 10
                        ELSE false END"""
    n_flags = " + ".join(f"CAST({f} AS INTEGER)" for f in FLAGS)
    cols = ", ".join(COLUMNS)
    sql = f"""
        SELECT {cols} FROM (
            SELECT *, {n_flags} AS n_flags FROM (
                SELECT p.placement_id, p.pupil_id, p.first_name, p.last_name, p.date_of_birth,
                       p.nc_year, p.sex, p.sen_status, p.cla, p.provider, p.provider_key,
                       p.setting_type, {REGISTERED} AS registered, p.reason, p.commissioner, p.home_school,
                       p.out_of_area, p.start_date, p.planned_end_date, p.last_review_date, p.days,
                       p.hours_per_week, p.sessions_per_week, p.cost_per_week, p.objectives, w.baseline_rate, w.during_rate,
                       p.planned_end_date IS NULL AS no_planned_end,
                       COALESCE(p.planned_end_date < ?, false) AS planned_end_passed,
                       COALESCE(trim(p.objectives), '') = '' AS no_objectives,
                       date_diff('day', COALESCE(p.eff_review, p.start_date), ?) > ?
                           AS review_overdue,
                       {part_time} AS part_time,
                       ({part_time}) AND p.days > ? AS part_time_over_limit,
                       {REGISTERED} IS NOT DISTINCT FROM false AS unregistered,
                       p.days > ? AS long_placement,
                       COALESCE(w.during_rate < ?, false) AS low_attendance,
                       w.during_rate IS NULL AS missing_attendance,
                       date_diff('day', COALESCE(p.eff_review, p.start_date), ?)
                           AS days_since_review
                FROM ({osql}) p LEFT JOIN ({wsql}) w USING (placement_id)
            )
        )
    """
    a = period.as_of
    params = [a, a, s.review_interval_days, s.full_time_hours, s.full_time_hours,
              s.part_time_limit_days, s.long_placement_days, s.low_attendance, a]
    return sql, params + oparams + wparams


def _order_by() -> str:
    return ", ".join(["n_flags DESC"] + [f"{f} DESC" for f in URGENCY]
                     + ["days_since_review DESC", "days DESC", "placement_id"])


def flags(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
          today: date | None = None) -> pd.DataFrame:
    """One row per placement open at as_of with its flags, most urgent first (module doc).

    Columns: see COLUMNS (placement and pupil details, baseline_rate and during_rate, the nine flags,
    missing_attendance, n_flags, days_since_review).
    """
    period = resolve_period(filters, today)
    sql, params = flags_sql(filters, settings, period)
    return con.execute(f"SELECT * FROM ({sql}) ORDER BY {_order_by()}", params).df()


def summary(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
            today: date | None = None, *, windows: tuple[str, list] | None = None) -> dict:
    """The report's "oversight" section: how many open placements carry each flag, and any flag.

    ``windows``: as for flags_sql (build_report passes the ones it shares with progress).
    """
    period = resolve_period(filters, today)
    sql, params = flags_sql(filters, settings, period, windows=windows)
    counts = ", ".join(f"COUNT(*) FILTER (WHERE {f})" for f in FLAGS)
    row = con.execute(f"SELECT {counts}, COUNT(*) FILTER (WHERE n_flags > 0) FROM ({sql})",
                      params).fetchone()
    return {k: int(v) for k, v in zip(FLAGS + ("any_flag",), row)}


def by_provider(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                today: date | None = None) -> pd.DataFrame:
    """The oversight flags per provider, for a commissioning officer's contract meetings (not a
    metric of metrics.md: §5's counts, grouped). One row per provider_key with a placement open
    at as_of: provider (its latest name), open (placements), open_median_days (their median
    placement days so far: how long the children there now have been there), one count per flag
    of FLAGS, and any_flag. Most open placements first."""
    period = resolve_period(filters, today)
    sql, params = flags_sql(filters, settings, period)
    counts = ", ".join(f"count(*) FILTER (WHERE {f}) AS {f}" for f in FLAGS)
    return con.execute(f"""
        SELECT provider_key, max_by(provider, start_date) AS provider, count(*) AS open,
               median(days) AS open_median_days, {counts},
               count(*) FILTER (WHERE n_flags > 0) AS any_flag
        FROM ({sql}) GROUP BY provider_key
        ORDER BY open DESC, lower(max_by(provider, start_date)), provider_key
    """, params).df()


def pupil_view(con: duckdb.DuckDBPyConnection, pupil_id: str, settings: Settings,
               as_of: date) -> dict[str, pd.DataFrame]:
    """One pupil's timeline at as_of: {placements, exclusions, attendance, assessments}.

    Nothing dated after as_of is shown. placements: every placement started by as_of, with the
    derived columns of scope.placements_sql and, for the open one(s), the flag columns
    (null on ended placements); exclusions, attendance and assessments: the pupil's rows
    dated on or before as_of, in date order.
    """
    period = Period(as_of, as_of, as_of)
    filters = Filters(as_of=as_of)
    psql, pparams = placements_sql(filters, period)
    fsql, fparams = flags_sql(filters, settings, period, pupil_id)
    extra = ", ".join(f"f.{c}" for c in ("during_rate",) + FLAGS
                      + ("missing_attendance", "n_flags", "days_since_review"))
    placements = con.execute(f"""
        SELECT p.*, {extra}
        FROM ({psql}) p LEFT JOIN ({fsql}) f USING (placement_id)
        WHERE p.pupil_id = ? ORDER BY p.start_date, p.placement_id
    """, pparams + fparams + [pupil_id]).df()
    exclusions = con.execute(
        "SELECT * FROM exclusions WHERE pupil_id = ? AND start_date <= ? ORDER BY start_date",
        [pupil_id, as_of]).df()
    attendance = con.execute("""
        SELECT *, CASE WHEN possible_sessions > 0 THEN attended_sessions / possible_sessions END
                  AS rate
        FROM attendance WHERE pupil_id = ? AND period_start <= ? ORDER BY period_start, setting_key
    """, [pupil_id, as_of]).df()
    assessments = con.execute(
        "SELECT * FROM assessments WHERE pupil_id = ? AND date <= ? ORDER BY measure_key, date",
        [pupil_id, as_of]).df()
    return {"placements": placements, "exclusions": exclusions, "attendance": attendance,
            "assessments": assessments}


def pupil_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every pupil ID in the current state, in any dataset."""
    return [r[0] for r in con.execute("""
        SELECT pupil_id FROM placements UNION SELECT pupil_id FROM exclusions
        UNION SELECT pupil_id FROM attendance UNION SELECT pupil_id FROM assessments
        ORDER BY 1""").fetchall()]


def pupil_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every first and last name held for any pupil (for hiding names typed into free text,
    such as objectives, in presentation mode): distinct, as stored."""
    return [r[0] for r in con.execute("""
        SELECT DISTINCT n FROM (SELECT first_name AS n FROM placements UNION ALL
                                SELECT last_name FROM placements)
        WHERE n IS NOT NULL AND length(trim(n)) > 0
    """).fetchall()]


def same_child(placements: pd.DataFrame) -> list[list[str]]:
    """Groups of two or more pupil IDs among ``placements`` (rows with pupil_id, first_name,
    last_name, date_of_birth) that share a first name, last name and date of birth (names
    trimmed and case-folded; all three given): most likely one child under a mistyped ID.

    >>> df = pd.DataFrame({"pupil_id": ["A", "B", "C", "D"], "first_name": ["Ann", " ann", "Ann", "Bo"],
    ...                    "last_name": ["Example", "EXAMPLE", "Example", "Test"],
    ...                    "date_of_birth": ["2012-04-03", "2012-04-03", "2012-04-04", "2012-04-03"]})
    >>> same_child(df)
    [['A', 'B']]
    """
    need = ("pupil_id", "first_name", "last_name", "date_of_birth")
    if placements.empty or any(c not in placements.columns for c in need):
        return []
    d = placements[list(need)].dropna()
    d = d.assign(f=d["first_name"].astype(str).str.strip().str.casefold(),
                 l=d["last_name"].astype(str).str.strip().str.casefold(),
                 pupil_id=d["pupil_id"].astype(str))
    d = d[(d["f"] != "") & (d["l"] != "")].drop_duplicates(["f", "l", "date_of_birth", "pupil_id"])
    # only the people under more than one ID are grouped in Python (all 16,000 took 0.6 s)
    d = d[d.duplicated(["f", "l", "date_of_birth"], keep=False)]
    if d.empty:
        return []
    groups = d.groupby(["f", "l", "date_of_birth"])["pupil_id"].agg(lambda s: sorted(set(s)))
    return sorted(g for g in groups if len(g) > 1)


def identities(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each pupil ID with the names and date of birth its placements give (any placement, open
    or ended), for same_child: the record under a mistyped ID stays open after the real one
    ends, and is still the same child."""
    return con.execute("SELECT DISTINCT pupil_id, first_name, last_name, date_of_birth FROM placements "
                       "WHERE date_of_birth IS NOT NULL").df()


def first_uploads(con, pupil_ids) -> dict[str, tuple[int, str]]:
    """{pupil_id: (upload_id, file name)}: the earliest live placements upload holding each of
    ``pupil_ids``, the one that brought it, so that a person can withdraw the upload behind a
    mistyped ID (same_child). IDs no live upload holds are left out.
    """
    ids = sorted({str(p) for p in pupil_ids})
    if not ids:
        return {}
    rows = con.execute("""
        SELECT l.pupil_id, min(u.upload_id) AS upload_id,
               arg_min(u.file_name || COALESCE(' / ' || u.sheet, ''), u.upload_id) AS file
        FROM ledger_placements l JOIN uploads u ON u.upload_id = l.upload_id
        WHERE u.withdrawn_at IS NULL AND l.pupil_id = ANY(?)
        GROUP BY l.pupil_id""", [ids]).fetchall()
    return {p: (int(u), f) for p, u, f in rows}
