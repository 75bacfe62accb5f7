"""Differential test: the report's `progress` (metrics.md §3) and `exclusions` (§4) sections
against an independent reference written from docs/metrics.md alone.

The reference below is plain Python over rows fetched with ``SELECT * FROM <table>`` from the
store's current-state tables (placements, attendance, exclusions, assessments) and its settings
tables (holidays, measure_directions): loops, ``datetime.date`` arithmetic, ``statistics.median``
and sets. It deliberately imports nothing from the analytics modules that compute these
sections; only Store (to load files and save settings), Filters/Settings and build_report.

Data: the committed sample files (the ``sample_db`` fixture), ``sample_data.bench.write_bench``
at a few seeds, and a small "messy" random set written here (weekend dates, overlapping
placements, measures spelt in different cases, mixed directions, empty attendance weeks), each
at several as_of dates, with the default period and an explicit one, two baseline_days, and
with and without a holiday calendar and a measure-direction override.
"""
from __future__ import annotations

import math
import random
import statistics
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics.report import build_report
from analytics.settings import Filters, Settings
from analytics.store import Store
from tests.reference_data import bench_store, copy_db, load_files, write_csvs

DATASETS = ("placements", "attendance", "exclusions", "assessments")
ONE = timedelta(days=1)


# =============================================================================================
# Reading the store (simple SELECTs only)

def _rows(con, table: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def load_data(con) -> dict:
    data = {t: _rows(con, t) for t in DATASETS}
    data["holidays"] = {r["date"] for r in _rows(con, "holidays") if r["date"] is not None}
    data["measure_directions"] = {
        str(r["measure_key"]).strip().casefold(): bool(r["higher_is_better"])
        for r in _rows(con, "measure_directions") if r["higher_is_better"] is not None}
    return data


def settings_from_db(con, **numbers) -> Settings:
    """The Settings the app and the report command pass: numbers as given, plus the holiday
    calendar and measure directions saved in the database."""
    holidays = tuple(sorted({r["date"] for r in _rows(con, "holidays") if r["date"] is not None}))
    directions = tuple(sorted((r["measure_key"], bool(r["higher_is_better"]))
                              for r in _rows(con, "measure_directions")
                              if r["higher_is_better"] is not None))
    return Settings(**numbers).with_overrides(holidays=holidays, measure_directions=directions)


# =============================================================================================
# The reference (metrics.md common terms, §3 and §4)

def ref_period(as_of: date, period_start: date | None, period_end: date | None) -> tuple[date, date]:
    start = period_start or date(as_of.year if as_of.month >= 9 else as_of.year - 1, 9, 1)
    end = min(period_end or as_of, as_of)
    assert start <= end
    return start, end


def ref_placements(data: dict, as_of: date) -> list[tuple[str, date, date | None]]:
    """(pupil, start, end) of the placements known at as_of; an end after as_of is open."""
    out = []
    for p in data["placements"]:
        if p["start_date"] > as_of:
            continue
        end = p["end_date"]
        if end is not None and end > as_of:
            end = None
        out.append((p["pupil_id"], p["start_date"], end))
    return out


def overlaps(start: date, end: date | None, p_start: date, p_end: date) -> bool:
    return start <= p_end and (end is None or end >= p_start)


def _median(values):
    return statistics.median(values) if values else None


def ref_progress(data: dict, as_of: date, p_start: date, p_end: date, baseline_days: int) -> dict:
    placements = [p for p in ref_placements(data, as_of) if overlaps(p[1], p[2], p_start, p_end)]

    # -- attendance: rows dated (period_start) after as_of are ignored
    att_by_pupil: dict[str, list] = {}
    for a in data["attendance"]:
        if a["period_start"] <= as_of:
            att_by_pupil.setdefault(a["pupil_id"], []).append(
                (a["period_start"], a["possible_sessions"], a["attended_sessions"]))
    base_rates, during_rates, changes, improved = [], [], [], 0
    for pupil, start, end in placements:
        b_lo, b_hi = start - timedelta(days=baseline_days), start - ONE
        d_lo, d_hi = start, (end if end is not None else as_of)
        b_pos = b_att = d_pos = d_att = 0
        for ps, possible, attended in att_by_pupil.get(pupil, ()):
            if b_lo <= ps <= b_hi:
                b_pos += possible
                b_att += attended
            if d_lo <= ps <= d_hi:
                d_pos += possible
                d_att += attended
        if b_pos > 0 and d_pos > 0:
            b, d = b_att / b_pos, d_att / d_pos
            base_rates.append(b)
            during_rates.append(d)
            changes.append((d - b) * 100)
            improved += d > b
    attendance = {"n": len(base_rates), "baseline_rate_median": _median(base_rates),
                  "during_rate_median": _median(during_rates),
                  "median_change_pp": _median(changes), "improved": improved}

    # -- assessments: rows dated after as_of are ignored
    by_pupil: dict[str, dict[str, dict[date, float]]] = {}
    lower_is_better: set[str] = set()
    for r in data["assessments"]:
        if r["date"] > as_of:
            continue
        key = r["measure"].strip().casefold()
        by_pupil.setdefault(r["pupil_id"], {}).setdefault(key, {})[r["date"]] = r["value"]
        if r["higher_is_better"] is False:
            lower_is_better.add(key)
    for key, higher in data["measure_directions"].items():  # the settings say otherwise
        if higher:
            lower_is_better.discard(key)
        else:
            lower_is_better.add(key)
    changes_by: dict[str, list] = {}
    for pupil, start, end in placements:
        d_hi = end if end is not None else as_of
        for key, values in by_pupil.get(pupil, {}).items():
            before = [d for d in values if d <= start]
            after = [d for d in values if start < d <= d_hi]
            if before and after:
                changes_by.setdefault(key, []).append(values[max(after)] - values[max(before)])
    assessments = {}
    for key, ch in changes_by.items():
        if key in lower_is_better:
            better = sum(1 for c in ch if c < 0)
        else:
            better = sum(1 for c in ch if c > 0)
        assessments[key] = {"n": len(ch), "median_change": statistics.median(ch), "improved": better}
    return {"attendance": attendance, "assessments": assessments}


def ref_exclusions(data: dict, as_of: date, p_start: date, p_end: date) -> dict:
    holidays = data["holidays"]

    def school_day(d: date) -> bool:
        return d.weekday() < 5 and d not in holidays

    def on_or_next_school_day(d: date) -> date:
        while not school_day(d):
            d += ONE
        return d

    def nth_school_day(day_one: date, n: int) -> date:
        d, k = day_one, 1
        while k < n:
            d += ONE
            if school_day(d):
                k += 1
        return d

    def school_day_number(day_one: date, d: date) -> int:
        k, x = 0, day_one
        while x <= d:
            k += school_day(x)
            x += ONE
        return k

    in_period = [e for e in data["exclusions"]
                 if e["start_date"] <= as_of and p_start <= e["start_date"] <= p_end]
    suspensions = [e for e in in_period if e["category"] == "suspension"]
    per_pupil: dict[str, int] = {}
    for e in suspensions:
        per_pupil[e["pupil_id"]] = per_pupil.get(e["pupil_id"], 0) + 1
    placements_by_pupil: dict[str, list] = {}
    for pupil, start, end in ref_placements(data, as_of):
        placements_by_pupil.setdefault(pupil, []).append((start, end))

    eligible = met = 0
    days_to_provision = []
    permanent = [e for e in in_period if e["category"] == "permanent"]
    for e in permanent:
        day_one = on_or_next_school_day(e["start_date"])
        sixth = nth_school_day(day_one, 6)
        if sixth > as_of:
            continue
        eligible += 1
        mine = placements_by_pupil.get(e["pupil_id"], [])
        if any(s <= sixth and (end is None or end >= sixth) for s, end in mine):
            met += 1
        later = [s for s, _ in mine if e["start_date"] <= s <= as_of]
        if later:
            days_to_provision.append(school_day_number(day_one, on_or_next_school_day(min(later))))
    return {
        "suspensions": len(suspensions),
        "pupils_suspended": len(per_pupil),
        "repeat_suspended_pupils": sum(1 for n in per_pupil.values() if n >= 2),
        "lunchtime": sum(1 for e in in_period if e["category"] == "lunchtime"),
        "permanent_exclusions": len(permanent),
        "sixth_day": {"eligible": eligible, "met": met,
                      "rate": met / eligible if eligible else None,
                      "median_school_days_to_provision": _median(days_to_provision)},
    }


# =============================================================================================
# Comparison

def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)


def diff(expected: dict, got: dict, path: str = "") -> list[str]:
    """Every key of `expected`, compared with `got` (extra keys in `got` allowed, as §8 says)."""
    out = []
    for k, v in expected.items():
        where = f"{path}.{k}" if path else k
        if k not in got:
            out.append(f"{where}: missing (expected {v!r})")
        elif isinstance(v, dict):
            if not isinstance(got[k], dict):
                out.append(f"{where}: expected a dict, got {got[k]!r}")
            else:
                out.extend(diff(v, got[k], where))
        elif not _same(v, got[k]):
            out.append(f"{where}: expected {v!r}, got {got[k]!r}")
    return out


def diff_assessments(expected: dict, got: dict) -> list[str]:
    """By measure key; a measure with n = 0 may be left out by either side."""
    out = []
    for key in sorted(set(expected) | set(got)):
        if key not in got:
            out.append(f"progress.assessments[{key!r}]: missing (expected {expected[key]!r})")
        elif key not in expected:
            g = got[key]
            if not (g.get("n") == 0 and g.get("median_change") is None and g.get("improved") == 0):
                out.append(f"progress.assessments[{key!r}]: unexpected {g!r}")
        else:
            out.extend(diff(expected[key], got[key], f"progress.assessments[{key!r}]"))
    return out


def compare(con, filters: Filters, settings: Settings, data: dict | None = None) -> list[str]:
    data = data if data is not None else load_data(con)
    report = build_report(con, filters, settings)
    as_of = filters.as_of
    p_start, p_end = ref_period(as_of, filters.period_start, filters.period_end)
    assert report["period"] == {"start": p_start.isoformat(), "end": p_end.isoformat()}
    prog = ref_progress(data, as_of, p_start, p_end, settings.baseline_days)
    excl = ref_exclusions(data, as_of, p_start, p_end)
    problems = diff({"attendance": prog["attendance"]}, report["progress"], "progress")
    if not isinstance(report["progress"].get("assessments"), dict):
        problems.append("progress.assessments: not a dict")
    else:
        problems += diff_assessments(prog["assessments"], report["progress"]["assessments"])
    problems += diff(excl, report["exclusions"], "exclusions")
    label = (f"as_of={as_of} period={p_start}..{p_end} baseline_days={settings.baseline_days} "
             f"holidays={len(settings.holidays)} directions={dict(settings.measure_directions)}")
    return [f"[{label}] {p}" for p in problems]


def as_of_dates(con) -> list[date]:
    """Dates spread over the data: quantiles of every placement and exclusion date, the last
    date seen, and a Sunday (a non-school day) in the middle."""
    days = sorted(r[0] for r in con.execute(
        "SELECT start_date FROM placements UNION ALL SELECT end_date FROM placements "
        "WHERE end_date IS NOT NULL UNION ALL SELECT start_date FROM exclusions").fetchall())
    pick = [days[int(q * (len(days) - 1))] for q in (0.3, 0.65)] + [days[-1]]
    mid = days[len(days) // 2]
    pick.append(mid + timedelta(days=6 - mid.weekday()))
    return sorted(set(pick))


def filters_for(con) -> list[Filters]:
    out = []
    for i, d in enumerate(as_of_dates(con)):
        out.append(Filters(as_of=d))                                   # default period
        # an explicit period over two academic years, ending before as_of
        out.append(Filters(as_of=d, period_start=d - timedelta(days=400),
                           period_end=d - timedelta(days=17)))
        if i == 1:  # an explicit end after as_of (capped at as_of)
            out.append(Filters(as_of=d, period_start=d - timedelta(days=30),
                               period_end=d + timedelta(days=45)))
    return out


def run_all(con, baselines=(91, 35), filters: list[Filters] | None = None) -> list[str]:
    data, problems = load_data(con), []
    for b in baselines:
        settings = settings_from_db(con, baseline_days=b)
        for f in filters or filters_for(con):
            problems += compare(con, f, settings, data)
    return problems


def check(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])


# =============================================================================================
# Holiday calendars: English half-terms, Christmas fortnights and Easter holidays 2022-2025
# (whole ranges, weekends included)

def _span(a: str, b: str) -> list[date]:
    d, end, out = date.fromisoformat(a), date.fromisoformat(b), []
    while d <= end:
        out.append(d)
        d += ONE
    return out


HOLIDAYS = (
    _span("2022-10-24", "2022-10-28") + _span("2022-12-19", "2023-01-02")
    + _span("2023-02-13", "2023-02-17") + _span("2023-04-03", "2023-04-14")
    + _span("2023-05-29", "2023-06-02") + _span("2023-10-23", "2023-10-27")
    + _span("2023-12-22", "2024-01-05") + _span("2024-02-12", "2024-02-16")
    + _span("2024-03-29", "2024-04-12") + _span("2024-05-27", "2024-05-31")
    + _span("2024-10-28", "2024-11-01") + _span("2024-12-23", "2025-01-03")
    + _span("2025-02-17", "2025-02-21") + _span("2025-04-07", "2025-04-21")
    + _span("2025-05-26", "2025-05-30")
)


# =============================================================================================
# Synthetic data

@pytest.fixture(scope="module", params=[11, 2024])
def bench_db(request, tmp_path_factory) -> Path:
    return bench_store(tmp_path_factory.mktemp(f"bench{request.param}"), request.param)


def _upn(i: int) -> str:
    body = f"999{4321:04d}{24:02d}{i:03d}"
    total = sum(int(c) * (w + 2) for w, c in enumerate(body))
    return "ABCDEFGHJKLMNPQRTUVWXYZ"[total % 23] + body


def write_messy(folder: Path, seed: int, pupils: int = 70) -> list[Path]:
    """Small random files with the awkward cases: weekend and holiday dates, overlapping and
    back-to-back placements, exclusions and placements on the same day, zero-possible weeks,
    two settings in a week, measure names in different cases and spacing, directions given on
    some rows only (and contradicting each other), rows dated after the as_of dates."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    day0, span = date(2023, 6, 1), 560
    providers = ["Oak Tree PRU", "Riverside Tuition", "Hilltop AP Academy"]
    pl, att, exc, ass = [], [], [], []
    spellings = {"reading age": ["Reading age", "READING AGE", " reading age "],
                 "sdq total": ["SDQ total", "sdq Total"],
                 "boxall": ["Boxall", "boxall "]}
    for i in range(pupils):
        u = _upn(i)
        starts = set()
        anchor = day0 + timedelta(days=rng.randint(0, span))
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            s = anchor + timedelta(days=rng.randint(-40, 120))
            prov = rng.choice(providers)
            if (prov, s) in starts:
                continue
            starts.add((prov, s))
            end = s + timedelta(days=rng.randint(0, 200)) if rng.random() < 0.7 else None
            pl.append([u, prov, s.isoformat(), end.isoformat() if end else ""])
        # exclusions, any day of the week, sometimes on a placement's start date
        seen = set()
        for _ in range(rng.choice([0, 1, 2, 3, 4])):
            e = anchor + timedelta(days=rng.randint(-30, 40))
            if starts and rng.random() < 0.2:
                e = sorted(starts)[0][1]
            cat = rng.choice(["suspension", "suspension", "permanent", "permanent", "lunchtime"])
            if (e, cat) in seen:
                continue
            seen.add((e, cat))
            exc.append([u, cat, e.isoformat()])
        # attendance: rows starting on any day, some with no possible sessions
        w0 = anchor - timedelta(days=rng.randint(20, 130))
        for k in range(rng.randint(0, 40)):
            ps = w0 + timedelta(days=7 * k + rng.choice([0, 0, 0, 1, 5]))
            possible = rng.choice([0, 2, 6, 10, 10, 10])
            for setting in (["School A"] if rng.random() < 0.9 else ["School A", "AP B"]):
                att.append([u, ps.isoformat(), str(possible), str(rng.randint(0, possible)), setting])
        # assessments
        for key, names in spellings.items():
            if rng.random() < 0.4:
                continue
            dates = sorted({anchor + timedelta(days=rng.randint(-60, 200)) for _ in range(rng.randint(1, 4))})
            for d in dates:
                hib = {"reading age": ["Y", ""], "sdq total": ["N", "", "Y"],
                       "boxall": ["", "", "", "N"]}[key]
                ass.append([u, rng.choice(names), d.isoformat(), str(round(rng.uniform(0, 40), 1)),
                            rng.choice(hib)])
    return write_csvs(folder, {
        "placements": (["pupil_id", "provider", "start_date", "end_date"], pl),
        "exclusions": (["pupil_id", "category", "start_date"], exc),
        "attendance": (["pupil_id", "period_start", "possible_sessions", "attended_sessions", "setting"], att),
        "assessments": (["pupil_id", "measure", "date", "value", "higher_is_better"], ass),
    })


@pytest.fixture(scope="module", params=[3, 17])
def messy_db(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp(f"messy{request.param}")
    return load_files(root / "messy.duckdb", write_messy(root / "files", request.param))


# Hand-placed boundary cases (pupil number, ...), in the 2023-24 year around the February
# half-term (12-16 Feb 2024) and the Easter holiday (29 Mar - 12 Apr 2024) of HOLIDAYS.
CORNER_PLACEMENTS = [  # pupil, provider, start, end
    (1, "Oak", "2024-02-14", ""),                  # starts on a half-term Wednesday
    (2, "Oak", "2024-01-08", "2024-03-12"),        # ends on the sixth school day of 5 March
    (2, "Elm", "2024-03-20", ""),
    (3, "Oak", "2024-04-19", "2024-05-03"),        # starts on the sixth school day (holidays)
    (4, "Oak", "2024-04-01", ""),                  # Easter Monday, before the exclusion
    (6, "Oak", "2024-03-04", "2024-03-20"),
    (7, "Elm", "2024-02-01", "2024-03-15"),
    (9, "Elm", "2024-02-06", "2024-04-10"),
    (11, "Oak", "2024-02-12", "2024-04-30"),       # two overlapping placements
    (11, "Elm", "2024-03-01", ""),
    (12, "Oak", "2024-03-13", "2024-03-13"),       # one day
]
CORNER_EXCLUSIONS = [  # pupil, category, start
    (1, "permanent", "2024-02-10"),                # a Saturday before half-term
    (2, "permanent", "2024-03-05"),
    (3, "permanent", "2024-03-28"),                # the day before Easter holidays
    (4, "permanent", "2024-04-02"),                # a holiday weekday
    (5, "suspension", "2024-02-17"), (5, "suspension", "2024-03-09"), (5, "lunchtime", "2024-03-09"),
    (12, "permanent", "2024-03-07"),
    (13, "permanent", "2024-02-29"),               # never placed
    (6, "suspension", "2024-03-04"), (6, "permanent", "2024-03-01"),
]
CORNER_ATTENDANCE = [  # pupil, period_start, period_end, possible, attended, setting
    (6, "2023-12-04", "", 10, 10, "A"),            # start - 91 days
    (6, "2023-12-03", "", 10, 0, "A"),             # start - 92 days
    (6, "2024-03-03", "", 2, 0, "A"),              # start - 1 (a Sunday)
    (6, "2024-03-04", "", 10, 5, "B"), (6, "2024-03-11", "2024-03-15", 10, 6, "B"),
    (6, "2024-03-18", "2024-03-22", 10, 7, "B"),   # straddles some as_of dates
    (6, "2024-03-20", "", 2, 2, "C"),              # on the end date
    (6, "2024-03-21", "", 10, 10, "C"),            # the day after
    (11, "2024-01-15", "2024-01-19", 10, 4, "A"), (11, "2024-02-12", "2024-02-16", 10, 9, "B"),
    (11, "2024-03-04", "2024-03-08", 10, 3, "B"), (11, "2024-03-25", "2024-03-29", 0, 0, "B"),
    (12, "2024-03-06", "", 2, 1, "A"), (12, "2024-03-13", "", 2, 2, "B"),
    (7, "2024-01-29", "2024-02-02", 10, 8, "A"), (7, "2024-02-05", "2024-02-09", 0, 0, "B"),
]
CORNER_ASSESSMENTS = [  # pupil, measure, date, value, higher_is_better
    (7, "Wellbeing", "2024-02-01", 10, ""),        # on the start date: the baseline
    (7, "wellbeing ", "2024-03-15", 10, "N"),      # on the end date: the latest; change 0
    (7, "Maths", "2024-01-01", 5, ""), (7, "MATHS", "2024-02-01", 7, ""), (7, "maths", "2024-02-20", 9, "Y"),
    (7, "Maths", "2024-03-15", 8, ""), (7, "Maths", "2024-03-16", 100, ""),
    (9, "Boxall", "2024-02-06", 50, ""), (9, "Boxall", "2024-03-06", 40, ""),
    (10, "boxall", "2023-01-01", 1, "N"),          # a pupil with no placement sets the direction
    (11, "Maths", "2024-02-10", 3, ""), (11, "Maths", "2024-03-05", 4, ""), (11, "Maths", "2024-04-05", 2, ""),
]
CORNER_AS_OF = ["2024-02-16", "2024-02-26", "2024-03-12", "2024-03-13", "2024-03-19",
                "2024-03-21", "2024-04-19", "2024-05-10"]


def write_corners(folder: Path) -> list[Path]:
    u = [_upn(500 + i) for i in range(20)]
    return write_csvs(folder, {
        "placements": (["pupil_id", "provider", "start_date", "end_date"],
                       [(u[r[0]],) + r[1:] for r in CORNER_PLACEMENTS]),
        "exclusions": (["pupil_id", "category", "start_date"],
                       [(u[r[0]],) + r[1:] for r in CORNER_EXCLUSIONS]),
        "attendance": (["pupil_id", "period_start", "period_end", "possible_sessions",
                        "attended_sessions", "setting"], [(u[r[0]],) + r[1:] for r in CORNER_ATTENDANCE]),
        "assessments": (["pupil_id", "measure", "date", "value", "higher_is_better"],
                        [(u[r[0]],) + r[1:] for r in CORNER_ASSESSMENTS]),
    })


def corner_filters() -> list[Filters]:
    out = []
    for text in CORNER_AS_OF:
        d = date.fromisoformat(text)
        out.append(Filters(as_of=d))
        if d >= date(2024, 3, 2):
            out.append(Filters(as_of=d, period_start=date(2024, 3, 1), period_end=date(2024, 3, 28)))
    return out


# =============================================================================================
# Tests

def test_sample_data(sample_db_copy):
    with Store(sample_db_copy, read_only=True) as store:
        check(run_all(store.con))


def test_sample_data_with_holidays_and_direction_override(sample_db, tmp_path):
    db = copy_db(sample_db, tmp_path)
    with Store(db) as store:
        store.set_holidays(HOLIDAYS)
        store.set_measure_direction("reading age", False)
        store.set_measure_direction("SDQ total", True)
        check(run_all(store.con, baselines=(91,)))


def test_bench(bench_db):
    with Store(bench_db, read_only=True) as store:
        check(run_all(store.con))


def test_messy(messy_db):
    with Store(messy_db, read_only=True) as store:
        check(run_all(store.con))


def test_bench_with_holidays(bench_db, tmp_path):
    db = copy_db(bench_db, tmp_path)
    with Store(db) as store:
        store.set_holidays(HOLIDAYS)
        check(run_all(store.con, baselines=(91,)))


def test_messy_with_holidays_and_direction_override(messy_db, tmp_path):
    db = copy_db(messy_db, tmp_path)
    with Store(db) as store:
        store.set_holidays(HOLIDAYS)
        store.set_measure_direction("boxall", True)
        check(run_all(store.con, baselines=(91, 35)))


def test_reference_by_hand():
    """The reference itself, on rows worked out by hand (so that agreement means something)."""
    P = lambda pupil, s, e=None: {"pupil_id": pupil, "start_date": date.fromisoformat(s),  # noqa: E731
                                  "end_date": date.fromisoformat(e) if e else None}
    E = lambda pupil, cat, s: {"pupil_id": pupil, "category": cat,  # noqa: E731
                               "start_date": date.fromisoformat(s)}
    data = {
        "placements": [P("A", "2024-03-18"), P("B", "2024-03-09", "2024-03-14"),
                       P("C", "2024-01-10", "2024-02-01")],
        "attendance": [
            {"pupil_id": "A", "period_start": date(2024, 3, 11), "possible_sessions": 10, "attended_sessions": 5},
            {"pupil_id": "A", "period_start": date(2024, 3, 18), "possible_sessions": 10, "attended_sessions": 8},
            {"pupil_id": "A", "period_start": date(2024, 3, 25), "possible_sessions": 10, "attended_sessions": 9},
        ],
        "exclusions": [
            # Saturday: day one is Monday 11 March; sixth school day Monday 18 March
            E("A", "permanent", "2024-03-09"),
            # Wednesday 6 March: sixth school day Wednesday 13 March; B placed 9-14 March (met);
            # earliest placement on or after 6 March starts Saturday 9 March -> Monday 11 = day 4
            E("B", "permanent", "2024-03-06"),
            E("B", "suspension", "2024-03-01"), E("B", "suspension", "2024-03-04"),
            E("C", "suspension", "2024-03-05"), E("C", "lunchtime", "2024-03-05"),
            E("C", "permanent", "2024-03-26"),  # sixth school day 2 April > as_of: not eligible
        ],
        "assessments": [
            {"pupil_id": "A", "measure": "SDQ Total", "date": date(2024, 3, 1), "value": 20.0, "higher_is_better": None},
            {"pupil_id": "A", "measure": " sdq total", "date": date(2024, 3, 25), "value": 15.0, "higher_is_better": None},
            {"pupil_id": "B", "measure": "SDQ total", "date": date(2024, 1, 1), "value": 5.0, "higher_is_better": False},
        ],
        "holidays": set(), "measure_directions": {},
    }
    as_of = date(2024, 3, 28)
    ex = ref_exclusions(data, as_of, date(2023, 9, 1), as_of)
    assert ex == {"suspensions": 3, "pupils_suspended": 2, "repeat_suspended_pupils": 1, "lunchtime": 1,
                  "permanent_exclusions": 3,
                  "sixth_day": {"eligible": 2, "met": 2, "rate": 1.0,
                                # A: placed Monday 18 March = school day 6; B: day 4
                                "median_school_days_to_provision": 5}}
    # with Monday 11 to Friday 15 March as holidays: A's day one is Monday 18 March (placed on
    # day 1) and its sixth school day Monday 25 March, when A's placement is open (met); B's sixth
    # school day is Wednesday 20 March, after B's placement ended (not met), and B's placement
    # (Saturday 9 March -> Monday 18 March) is on school day 4 (6, 7, 8, 18 March)
    data["holidays"] = set(_span("2024-03-11", "2024-03-15"))
    ex = ref_exclusions(data, as_of, date(2023, 9, 1), as_of)
    assert ex["sixth_day"] == {"eligible": 2, "met": 1, "rate": 0.5, "median_school_days_to_provision": 2.5}
    pr = ref_progress(data, as_of, date(2023, 9, 1), as_of, 91)
    # A: baseline 5/10, during (18 and 25 March) 17/20
    assert pr["attendance"] == {"n": 1, "baseline_rate_median": 0.5, "during_rate_median": 0.85,
                                "median_change_pp": pytest.approx(35.0), "improved": 1}
    # sdq total is lower-is-better (B's row says so): 20 -> 15 is an improvement
    assert pr["assessments"] == {"sdq total": {"n": 1, "median_change": -5.0, "improved": 1}}
    data["measure_directions"] = {"sdq total": True}
    assert ref_progress(data, as_of, date(2023, 9, 1), as_of, 91)["assessments"]["sdq total"]["improved"] == 0


@pytest.mark.parametrize("holidays", [False, True])
def test_corner_cases(tmp_path, holidays):
    with Store(load_files(tmp_path / "corners.duckdb", write_corners(tmp_path / "files"))) as store:
        if holidays:
            store.set_holidays(HOLIDAYS)
        check(run_all(store.con, baselines=(91, 35), filters=corner_filters()))


def test_direction_ignores_rows_dated_after_as_of(tmp_path):
    """Minimal case. Common terms: "assessments ... dated after as_of are ignored", so a
    higher_is_better=false row dated after as_of cannot make a measure lower-is-better at as_of.
    At 2024-03-15: baseline 10 (1 Feb), latest 8 (1 Mar), change -2; the rows dated by then
    say nothing about direction, so higher is better and the pair is not an improvement."""
    u = _upn(900)
    files = write_csvs(tmp_path / "files", {
        "placements": (["pupil_id", "provider", "start_date"], [(u, "Oak", "2024-02-05")]),
        "assessments": (["pupil_id", "measure", "date", "value", "higher_is_better"],
                        [(u, "Anxiety", "2024-02-01", 10, ""), (u, "Anxiety", "2024-03-01", 8, ""),
                         (u, "Anxiety", "2024-04-20", 6, "N")]),
    })
    with Store(load_files(tmp_path / "min.duckdb", files)) as store:
        data = load_data(store.con)
        expected = ref_progress(data, date(2024, 3, 15), date(2023, 9, 1), date(2024, 3, 15), 91)
        assert expected["assessments"] == {"anxiety": {"n": 1, "median_change": -2.0, "improved": 0}}
        check(run_all(store.con, baselines=(91,), filters=[Filters(as_of=date(2024, 3, 15))]))
