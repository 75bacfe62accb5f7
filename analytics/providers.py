"""Provider scorecard and the registration check (metrics.md §1, §2, §5 "Provider checks").

``scorecard`` gives one row per provider with a selected placement that overlaps the period;
``registration_check`` says which providers are likely to need registration as an independent
school: not registered, and at as_of 5 or more pupils timetabled for 18 or more hours a week, or
any such pupil who is looked after or has an EHC plan (Education and Skills Act 2008 s.92, as
DfE's guidance applies it to AP).

Decisions worth knowing:

- A provider's display name, setting type and registered status are the newest recorded
  (the placement from the latest upload, then the latest start), skipping blanks, over every
  placement held for that provider_key.
- Only ``registered`` false counts as not registered. A provider whose status is unknown
  (null) is never flagged; its row says "Registration status is not recorded" and its
  ``status`` is ``registration_unknown`` when it would meet the test.
- The registration test is about the provider, not about the slice the user is looking at:
  pupil counts use every placement open at as_of at that provider, whatever the filters.
  The filters (and the period) only choose which providers are listed.
- ``part_time_share`` is over open placements whose hours (or, without hours, sessions) are
  recorded; part time as metrics.md §5.
- ``attendance_rate`` is attended / possible over the pupils' attendance rows whose
  period_start falls within one of their selected placements at that provider
  ([start_date, min(end_date, as_of)]) and in the period, counted once per row, whatever
  setting the row names (attendance rows need not name one).

>>> from tests.factories import make_db, placement
>>> con = make_db(placements=[placement("P1", "2025-01-06", registered=False, hours_per_week=20, cla=True)])
>>> registration_check(con, Filters(as_of=date(2025, 3, 14)), Settings())[["pupils_18h_plus", "likely_needs_registration"]].values.tolist()
[[1, True]]
"""
from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from analytics.scope import placements_sql
from analytics.settings import Filters, Period, Settings, resolve_period

REGISTRATION_HOURS = 18      # DfE: full-time for the registration test
REGISTRATION_PUPILS = 5      # five or more such pupils of compulsory school age
FULL_TIME_SESSIONS = 10      # data-spec: 10 sessions a week = full time

SCORECARD_COLUMNS = ["provider_key", "provider", "setting_type", "registered", "pupils_now",
                     "placements_in_period", "median_hours", "part_time_share",
                     "attendance_rate", "median_days", "ended", "returned", "return_rate",
                     "cost_per_week_median", "open_cost_total", "open_cost_median", "open_with_cost",
                     "open_cost_per_hour_median", "open_with_cost_per_hour", "needs_registration", "registration_reason"]
REGISTRATION_COLUMNS = ["provider_key", "provider", "setting_type", "registered",
                        "pupils_18h_plus", "cla_or_ehcp_18h_plus", "likely_needs_registration",
                        "reason", "status"]


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _selected(filters: Filters, period: Period) -> tuple[str, list]:
    """CTE 'sel' (filtered placements, derived columns) and 'inper' (those overlapping the period)."""
    base, params = placements_sql(filters, period)
    sql = f"""sel AS ({base}),
              inper AS (SELECT * FROM sel
                        WHERE start_date <= ? AND COALESCE(eff_end, ?) >= ?)"""
    return sql, params + [period.end, period.as_of, period.start]


def _provider_details(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pd.DataFrame:
    """Newest non-blank provider name, setting type and registered status per provider_key."""
    return _query(con, """
        WITH ranked AS (
            SELECT provider_key, provider, setting_type, registered,
                   row_number() OVER (PARTITION BY provider_key
                                      ORDER BY upload_id DESC NULLS LAST, start_date DESC,
                                               placement_id DESC) AS age
            FROM placements WHERE provider_key = ANY(?))
        SELECT provider_key,
               arg_min(provider, age) FILTER (WHERE provider IS NOT NULL
                                              AND trim(provider) <> '') AS provider,
               arg_min(setting_type, age) FILTER (WHERE setting_type IS NOT NULL) AS setting_type,
               arg_min(registered, age) FILTER (WHERE registered IS NOT NULL) AS registered
        FROM ranked GROUP BY provider_key
    """, [keys])


def _listed_keys(con, filters: Filters, period: Period) -> list[str]:
    """Providers with a selected placement overlapping the period or open at as_of."""
    sel, params = _selected(filters, period)
    df = _query(con, f"""WITH {sel}
        SELECT provider_key FROM inper UNION SELECT provider_key FROM sel WHERE is_open""", params)
    return [k for k in df["provider_key"].tolist() if k is not None]


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _hidden(n: int, suppress_below: int | None) -> bool:
    return suppress_below is not None and 0 < n < suppress_below


WITHHELD = "withheld"   # status on a shared screen when the result would tell a child's care or SEN


def _reason(registered, n18: int, vulnerable: int, as_of: date,
            suppress_below: int | None = None, shared_screen: bool = False) -> tuple[bool | None, str, str]:
    """(likely_needs_registration, reason sentence, status) for one provider.

    With ``suppress_below``, a count the table shows as 'c' (1 to suppress_below - 1, metrics.md
    §7) is not given in the sentence either, in words or in grammar ("is timetabled", "who is"). Hours are the timetabled hours a
    week (hours_per_week), not attendance.

    With ``shared_screen`` (presentation mode, where each open placement is listed with its
    hours), nothing is said of whether a pupil is looked after or has an EHC plan: with one
    to four pupils at 18 or more hours at a provider not recorded as registered, the result turns
    on that, and the list would show whose it is (a commissioning review read a child's care
    status off the one-provider view). The status is then WITHHELD and the result None, whatever
    the care status, so the withholding itself tells nothing; the reason says the count alone.
    """
    withheld = shared_screen and registered is not True and 0 < n18 < REGISTRATION_PUPILS
    if shared_screen:
        vulnerable = 0    # never said; with five or more at 18+ hours the test is met on the count alone
    meets = n18 >= REGISTRATION_PUPILS or vulnerable > 0
    on = f"on {_day(as_of)}"
    if n18 == 0:
        pupils = f"no pupil is timetabled for {REGISTRATION_HOURS} or more hours a week {on}"
    elif _hidden(n18, suppress_below) or _hidden(vulnerable, suppress_below):
        few = f"fewer than {suppress_below}"
        pupils = (f"{few if _hidden(n18, suppress_below) else n18} pupils are timetabled for {REGISTRATION_HOURS} "
                  f"or more hours a week {on}")
        if vulnerable:
            pupils += (f", of whom {few if _hidden(vulnerable, suppress_below) else vulnerable} are "
                       "looked after or have an EHC plan")
        elif not shared_screen:
            pupils += ", none looked after or with an EHC plan"
    else:
        attend = "is timetabled for" if n18 == 1 else "are timetabled for"
        pupils = (f"{_plural(n18, 'pupil', 'pupils')} {attend} {REGISTRATION_HOURS} or more "
                  f"hours a week {on}")
        if vulnerable:
            pupils += (f", of whom {vulnerable} {'is' if vulnerable == 1 else 'are'} looked "
                       f"after or {'has' if vulnerable == 1 else 'have'} an EHC plan"
                       if n18 > 1 else ", who is looked after or has an EHC plan")
        elif not shared_screen:
            pupils += ", none looked after or with an EHC plan" if n18 > 1 else \
                ", not looked after and without an EHC plan"
    test = (f"registration is needed for {REGISTRATION_PUPILS} or more such pupils, or any "
            "such pupil who is looked after or has an EHC plan")
    if registered is True:
        return False, f"Recorded as registered; {pupils}.", "registered"
    if withheld:
        state = "Not registered" if registered is False else "Registration status is not recorded"
        return None, (f"{state}; {pupils}. Whether that meets the test depends on whether any of them is "
                      "looked after or has an EHC plan, shown at the desk only (presentation mode is on)."), WITHHELD
    if registered is False:
        if meets:
            return True, (f"Not registered, and {pupils}: likely to need registration as an "
                          f"independent school ({test})."), "likely_needs_registration"
        return False, f"Not registered; {pupils}, below the test ({test}).", "below_threshold"
    if meets:
        return False, (f"Registration status is not recorded, and {pupils}: check whether the "
                       f"provider is registered ({test})."), "registration_unknown"
    return False, f"Registration status is not recorded; {pupils}.", "below_threshold"


def registration_check(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
                       today: date | None = None, suppress_below: int | None = None,
                       shared_screen: bool = False) -> pd.DataFrame:
    """One row per listed provider, most urgent first.

    Columns: provider_key, provider, setting_type, registered (True/False/None),
    pupils_18h_plus (distinct pupils in placements open at as_of with hours_per_week ≥ 18, or
    with no hours, sessions_per_week × full_time_hours / 10 ≥ 18: at the default 25 hours, 8
    sessions or more),
    cla_or_ehcp_18h_plus (of those, looked after or sen_status 'E'),
    likely_needs_registration (bool: registered is False and the test is met), reason (a
    sentence), status ('likely_needs_registration' | 'registration_unknown' | 'registered' |
    'below_threshold'; 'registration_unknown' means status null and the test met).
    With ``suppress_below`` (for shared screens and downloads), the reason gives no count that
    the small-number rule hides; the count columns are left exact for the caller to suppress.
    With ``shared_screen`` (presentation mode), the reasons say nothing of care or EHC plan status
    and a result that turns on it is withheld (``_reason``): status 'withheld',
    likely_needs_registration None; the caller must not show cla_or_ehcp_18h_plus either.
    """
    period = resolve_period(filters, today)
    keys = _listed_keys(con, filters, period)
    if not keys:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in REGISTRATION_COLUMNS})
    # Every open placement at the provider counts, whatever the filters (module docstring).
    base, params = placements_sql(Filters(), period)
    # with no hours recorded, sessions count as metrics.md's part_time reads them (10 sessions a
    # full week of full_time_hours): a timetable sent only as sessions was never counted
    counts = _query(con, f"""
        WITH open_ AS (SELECT *, coalesce(hours_per_week, sessions_per_week * ? / 10.0) AS weekly_hours
                       FROM ({base}) WHERE is_open AND provider_key = ANY(?))
        SELECT provider_key,
               count(DISTINCT pupil_id) FILTER (WHERE weekly_hours >= ?) AS pupils_18h_plus,
               count(DISTINCT pupil_id) FILTER (WHERE weekly_hours >= ?
                   AND (cla IS TRUE OR sen_status = 'E')) AS cla_or_ehcp_18h_plus
        FROM open_ GROUP BY provider_key
    """, [settings.full_time_hours] + params + [keys, REGISTRATION_HOURS, REGISTRATION_HOURS])
    df = pd.DataFrame({"provider_key": keys}).merge(_provider_details(con, keys), how="left")
    df = df.merge(counts, how="left", on="provider_key")
    for c in ("pupils_18h_plus", "cla_or_ehcp_18h_plus"):
        df[c] = df[c].fillna(0).astype(int)
    df["registered"] = [None if pd.isna(v) else bool(v) for v in df["registered"]]
    df["provider"] = [p if isinstance(p, str) else k for p, k in zip(df["provider"], df["provider_key"])]
    results = [_reason(r, int(n), int(v), period.as_of, suppress_below, shared_screen) for r, n, v in
               zip(df["registered"], df["pupils_18h_plus"], df["cla_or_ehcp_18h_plus"])]
    df["likely_needs_registration"] = [r[0] for r in results]
    df["reason"] = [r[1] for r in results]
    df["status"] = [r[2] for r in results]
    urgency = df["status"].map({"likely_needs_registration": 0, "registration_unknown": 1}).fillna(2)
    df = df.assign(_u=urgency, _name=df["provider"].str.casefold()).sort_values(
        ["_u", "pupils_18h_plus", "_name", "provider_key"], ascending=[True, False, True, True])
    df["registered"] = df["registered"].astype(object).where(df["registered"].notna(), None)
    return df[REGISTRATION_COLUMNS].reset_index(drop=True)


def scorecard(con: duckdb.DuckDBPyConnection, filters: Filters, settings: Settings,
              today: date | None = None) -> pd.DataFrame:
    """One row per provider_key with a selected placement overlapping the period.

    Columns: provider_key, provider (newest name), setting_type, registered (True/False/None),
    pupils_now (distinct pupils in selected placements open at as_of), placements_in_period,
    median_hours (hours_per_week of open placements), part_time_share (0-1, of open placements
    with hours or sessions recorded), attendance_rate (0-1: the placed pupils' attendance rows
    dated in the period while placed there, whatever setting a row names), median_days (placement
    days of the placements counted in ``ended``, its n), ended (ended in the period, less
    destination other_ap),
    returned (of those, to mainstream), return_rate (returned / ended), cost_per_week_median
    (placements in the period with a cost), open_cost_total (the weekly costs of the selected
    placements open at as_of, added up: what the provider is paid a week now, for those with a
    cost recorded), open_cost_median (their median), open_with_cost (how many of those have one),
    open_cost_per_hour_median (the median of cost_per_week / hours_per_week over those open
    placements with both recorded, hours above 0), open_with_cost_per_hour (how many),
    needs_registration (bool),
    registration_reason.
    Rates and medians are null (NaN) when there is nothing to take them over. Sorted by name.
    """
    period = resolve_period(filters, today)
    sel, params = _selected(filters, period)
    p_start, p_end = period.start, period.end
    main = _query(con, f"""WITH {sel}
        SELECT provider_key,
               count(*) AS placements_in_period,
               median(days) FILTER (WHERE eff_end BETWEEN ? AND ?
                                    AND eff_destination IS DISTINCT FROM 'other_ap') AS median_days,
               count(*) FILTER (WHERE eff_end BETWEEN ? AND ?
                                AND eff_destination <> 'other_ap') AS ended,
               count(*) FILTER (WHERE eff_end BETWEEN ? AND ?
                                AND eff_destination = 'mainstream') AS returned,
               median(cost_per_week) AS cost_per_week_median
        FROM inper GROUP BY provider_key
    """, params + [p_start, p_end] * 3)
    if main.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORECARD_COLUMNS})
    keys = main["provider_key"].tolist()

    open_now = _query(con, f"""WITH {sel}
        SELECT provider_key,
               count(DISTINCT pupil_id) AS pupils_now,
               median(hours_per_week) AS median_hours,
               count(*) FILTER (WHERE hours_per_week < ?
                                OR (hours_per_week IS NULL AND sessions_per_week < ?)) AS part_time,
               count(*) FILTER (WHERE hours_per_week IS NOT NULL
                                OR sessions_per_week IS NOT NULL) AS hours_known,
               sum(cost_per_week) AS open_cost_total,
               median(cost_per_week) AS open_cost_median,
               count(cost_per_week) AS open_with_cost,
               median(cost_per_week / hours_per_week) FILTER (WHERE hours_per_week > 0) AS open_cost_per_hour_median,
               count(*) FILTER (WHERE hours_per_week > 0 AND cost_per_week IS NOT NULL) AS open_with_cost_per_hour
        FROM sel WHERE is_open GROUP BY provider_key
    """, params + [settings.full_time_hours, FULL_TIME_SESSIONS])

    attendance = _query(con, f"""WITH {sel},
        rows_ AS (
            SELECT DISTINCT p.provider_key, a.pupil_id, a.period_start, a.period_end,
                   a.setting_key, a.possible_sessions, a.attended_sessions
            FROM attendance a
            JOIN inper p ON a.pupil_id = p.pupil_id
                        AND a.period_start BETWEEN p.start_date AND COALESCE(p.eff_end, ?)
            WHERE a.period_start BETWEEN ? AND ?)
        SELECT provider_key, sum(attended_sessions) AS attended,
               sum(possible_sessions) AS possible
        FROM rows_ GROUP BY provider_key
    """, params + [period.as_of, period.start, period.end])

    df = main.merge(_provider_details(con, keys), how="left", on="provider_key")
    df = df.merge(open_now, how="left", on="provider_key")
    df = df.merge(attendance, how="left", on="provider_key")
    df["pupils_now"] = df["pupils_now"].fillna(0).astype(int)
    df["open_with_cost"] = df["open_with_cost"].fillna(0).astype(int)
    df["open_with_cost_per_hour"] = df["open_with_cost_per_hour"].fillna(0).astype(int)
    for c in ("placements_in_period", "ended", "returned"):
        df[c] = df[c].astype(int)
    df["part_time_share"] = _ratio(df["part_time"], df["hours_known"])
    df["attendance_rate"] = _ratio(df["attended"], df["possible"])
    df["return_rate"] = _ratio(df["returned"], df["ended"])
    df["provider"] = [p if isinstance(p, str) else k for p, k in zip(df["provider"], df["provider_key"])]
    df["registered"] = [None if pd.isna(v) else bool(v) for v in df["registered"]]
    df["registered"] = df["registered"].astype(object)

    check = registration_check(con, filters, settings, today)
    flags = check.set_index("provider_key")
    df["needs_registration"] = [bool(flags["likely_needs_registration"].get(k, False)) for k in keys]
    df["registration_reason"] = [flags["reason"].get(k, "") for k in keys]
    df = df.assign(_name=df["provider"].str.casefold()).sort_values(["_name", "provider_key"])
    return df[SCORECARD_COLUMNS].reset_index(drop=True)


ATTENDANCE_BY_TERM_COLUMNS = ["term", "start", "end", "pupils_placed", "pupils_with_attendance",
                              "possible_sessions", "attended_sessions", "attendance_rate"]


def attendance_by_term(con: duckdb.DuckDBPyConnection, provider_key: str, filters: Filters,
                       settings: Settings, terms: int = 6, today: date | None = None) -> pd.DataFrame:
    """One provider's attendance term by term, for a contract meeting (not a metric of
    metrics.md: the scorecard's attendance_rate, per term and with its sessions).

    The last ``terms`` terms up to as_of (trends.terms_between), the term holding as_of cut at
    as_of. For each: pupils_placed (distinct pupils in a selected placement at the provider
    on any day of the term), pupils_with_attendance (of those, with an attendance row counted),
    possible_sessions and attended_sessions (their attendance rows dated in the term while
    placed there, [start_date, min(end_date, as_of)], each row once, whatever setting it names:
    the scorecard's rule), attendance_rate (attended / possible, NaN with no possible session).
    The filters other than the period apply; ``filters.provider`` is replaced by the provider.
    Oldest term first."""
    from dataclasses import replace

    from analytics.trends import terms_between
    period = resolve_period(filters, today)
    as_of = period.as_of
    chosen = terms_between(date(as_of.year - 3, 9, 1), as_of)[-terms:] if terms > 0 else []
    if not chosen:
        return pd.DataFrame(columns=ATTENDANCE_BY_TERM_COLUMNS)
    base, params = placements_sql(replace(filters, provider=(provider_key,)), period)
    labels = [t.label for t in chosen]
    starts = [t.start for t in chosen]
    ends = [min(t.end, as_of) for t in chosen]
    df = _query(con, f"""
        WITH t AS (SELECT unnest(?::VARCHAR[]) AS term, unnest(?::DATE[]) AS t_start,
                          unnest(?::DATE[]) AS t_end),
             p AS ({base}),
             placed AS (SELECT DISTINCT t.term, p.pupil_id FROM t JOIN p
                          ON p.start_date <= t.t_end AND COALESCE(p.eff_end, ?) >= t.t_start),
             rows_ AS (SELECT DISTINCT t.term, a.pupil_id, a.period_start, a.period_end, a.setting_key,
                                       a.possible_sessions, a.attended_sessions
                       FROM t JOIN attendance a ON a.period_start BETWEEN t.t_start AND t.t_end
                              JOIN p ON a.pupil_id = p.pupil_id
                                    AND a.period_start BETWEEN p.start_date AND COALESCE(p.eff_end, ?)),
             sums AS (SELECT term, count(DISTINCT pupil_id) AS pupils_with_attendance,
                             sum(possible_sessions) AS possible_sessions,
                             sum(attended_sessions) AS attended_sessions
                      FROM rows_ GROUP BY term),
             heads AS (SELECT term, count(*) AS pupils_placed FROM placed GROUP BY term)
        SELECT t.term, t.t_start AS start, t.t_end AS "end",
               COALESCE(h.pupils_placed, 0) AS pupils_placed,
               COALESCE(s.pupils_with_attendance, 0) AS pupils_with_attendance,
               COALESCE(s.possible_sessions, 0) AS possible_sessions,
               COALESCE(s.attended_sessions, 0) AS attended_sessions
        FROM t LEFT JOIN heads h USING (term) LEFT JOIN sums s USING (term)
        ORDER BY t.t_start
    """, [labels, starts, ends] + params + [as_of, as_of])
    for c in ("pupils_placed", "pupils_with_attendance"):
        df[c] = df[c].astype(int)
    for c in ("start", "end"):
        df[c] = [pd.Timestamp(v).date() for v in df[c]]
    df["attendance_rate"] = _ratio(df["attended_sessions"], df["possible_sessions"])
    return df[ATTENDANCE_BY_TERM_COLUMNS]


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats; NaN where the denominator is 0 or missing."""
    num = pd.to_numeric(numerator, errors="coerce").astype(float)
    den = pd.to_numeric(denominator, errors="coerce").astype(float)
    return (num / den).where(den > 0)


def registration_history(con: duckdb.DuckDBPyConnection, provider_key: str, settings: Settings,
                         dates: list[date], suppress_below: int | None = None,
                         shared_screen: bool = False) -> pd.DataFrame:
    """The registration test for one provider on each of ``dates`` (term ends, say): a provider
    can meet it one term and not the next, and a commissioning review asked for its history.
    Columns: date, pupils_18h_plus, cla_or_ehcp_18h_plus, likely_needs_registration, status,
    reason, as ``registration_check`` works them out at that date (every placement open then at
    the provider, whatever the filters; its registration status is the newest recorded, and
    records are as held now, not as they were then)."""
    cols = ["date", "pupils_18h_plus", "cla_or_ehcp_18h_plus", "likely_needs_registration", "status", "reason"]
    if not dates:
        return pd.DataFrame(columns=cols)
    counts = _query(con, """
        WITH d AS (SELECT unnest(?::DATE[]) AS d),
             open_ AS (SELECT d.d, p.pupil_id, p.cla, p.sen_status,
                              coalesce(p.hours_per_week, p.sessions_per_week * ? / 10.0) AS weekly_hours
                       FROM d JOIN placements p ON p.provider_key = ? AND p.start_date <= d.d
                                               AND (p.end_date IS NULL OR p.end_date > d.d))
        SELECT d.d AS date,
               count(DISTINCT o.pupil_id) FILTER (WHERE o.weekly_hours >= ?) AS pupils_18h_plus,
               count(DISTINCT o.pupil_id) FILTER (WHERE o.weekly_hours >= ?
                   AND (o.cla IS TRUE OR o.sen_status = 'E')) AS cla_or_ehcp_18h_plus
        FROM d LEFT JOIN open_ o ON o.d = d.d GROUP BY d.d ORDER BY d.d
    """, [list(dates), settings.full_time_hours, provider_key, REGISTRATION_HOURS, REGISTRATION_HOURS])
    details = _provider_details(con, [provider_key])
    registered = details["registered"].iloc[0] if len(details) else None
    registered = None if registered is None or pd.isna(registered) else bool(registered)
    rows = []
    for d, n, v in zip(counts["date"], counts["pupils_18h_plus"], counts["cla_or_ehcp_18h_plus"]):
        d = pd.Timestamp(d).date()
        likely, reason, status = _reason(registered, int(n), int(v), d, suppress_below, shared_screen)
        rows.append((d, int(n), int(v), likely, status, reason))
    return pd.DataFrame(rows, columns=cols)


def provider_ids(con: duckdb.DuckDBPyConnection, provider_key: str) -> dict:
    """The newest recorded URN and UKPRN of a provider (None where none is recorded), as
    ``_provider_details`` takes its name: a visit's paperwork quotes them."""
    row = con.execute("""
        SELECT arg_max(provider_urn, (upload_id, start_date)) FILTER (WHERE coalesce(trim(provider_urn), '') <> ''),
               arg_max(provider_ukprn, (upload_id, start_date)) FILTER (WHERE coalesce(trim(provider_ukprn), '') <> '')
        FROM placements WHERE provider_key = ?""", [provider_key]).fetchone()
    return {"urn": row[0] if row else None, "ukprn": row[1] if row else None}
