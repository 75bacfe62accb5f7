"""Differential test: four report sections (metrics.md §1, §2, §5, §6) against an independent
reference written from docs/metrics.md and docs/data-spec.md alone.

The reference below reads the current-state tables with plain SELECTs and works everything out
with loops, datetime.date arithmetic, sets and statistics.median. It does not use (and was not
written from) analytics.population / time_in_ap / outcomes / oversight / progress / trends.

Data: the committed sample files (tests/conftest.py `sample_db`), bench files from
sample_data.bench.write_bench for a few seeds, and a small "messy" random set written here
(overlapping placements, blank hours, reviews and end dates after as_of, blank and 'unknown'
destinations, daily and zero-possible attendance rows) loaded through Store.ingest_file.
Each is evaluated at several as_of dates found from the data, with the default period and two
explicit --from/--to periods, under the default Settings and one non-default Settings.
"""
from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from analytics.report import build_report
from analytics.settings import Filters, Settings
from analytics.store import Store
from tests.reference_data import bench_store, load_files

SECTIONS = ("population", "time_in_ap", "return_to_mainstream", "oversight")
UNREGISTERED_TYPES = {"one_to_one_tuition", "online", "work_based", "other_unregistered"}

ALT_SETTINGS = Settings(full_time_hours=20, review_interval_days=30, long_placement_days=120,
                        sustain_days=90, part_time_limit_days=28, low_attendance=0.8)
SETTINGS = {"default": Settings(), "alt": ALT_SETTINGS}


# ---------------------------------------------------------------------------------------------
# Reading the store

def rows_of(con, table: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


@dataclass
class Data:
    placements: list[dict]
    attendance: list[dict]
    exclusions: list[dict]


def load(con) -> Data:
    return Data(rows_of(con, "placements"), rows_of(con, "attendance"), rows_of(con, "exclusions"))


# ---------------------------------------------------------------------------------------------
# The reference (metrics.md, common terms and §1, §2, §5, §6)

def academic_year_start(d: date) -> date:
    return date(d.year if d.month >= 9 else d.year - 1, 9, 1)


def resolve(as_of: date, period_start: date | None, period_end: date | None) -> tuple[date, date]:
    start = period_start or academic_year_start(as_of)
    end = min(period_end or as_of, as_of)
    assert start <= end
    return start, end


def blank(v) -> bool:
    return v is None or (isinstance(v, str) and v.strip() == "")


def registered(p: dict):
    """data-spec §1: derived when blank."""
    if p["registered"] is not None:
        return p["registered"]
    if not blank(p.get("provider_urn")) or not blank(p.get("provider_ukprn")):
        return True
    if p.get("setting_type") in UNREGISTERED_TYPES:
        return False
    return None


def median(values):
    return statistics.median(values) if values else None


def rate(num, den):
    return num / den if den else None


class Reference:
    def __init__(self, data: Data, as_of: date, period_start: date | None = None,
                 period_end: date | None = None, settings: Settings = Settings()):
        self.as_of = A = as_of
        self.ps, self.pe = resolve(as_of, period_start, period_end)
        self.s = settings
        # A placement starting after as_of is ignored.
        self.pl = []
        for p in data.placements:
            if p["start_date"] > A:
                continue
            end = p["end_date"]
            q = dict(p)
            q["eff_end"] = end if end is not None and end <= A else None  # end after as_of: open
            q["days"] = ((q["eff_end"] or A) - p["start_date"]).days + 1
            dest = p["destination"]
            q["dest"] = "unknown" if blank(dest) else dest
            self.pl.append(q)
        self.attendance = [a for a in data.attendance if a["period_start"] <= A]
        self.exclusions = [e for e in data.exclusions if e["start_date"] <= A]

    # -- common terms
    def is_open(self, p):
        return p["eff_end"] is None

    def ended_in_period(self, p):
        return p["eff_end"] is not None and self.ps <= p["eff_end"] <= self.pe

    def overlaps(self, p):
        return p["start_date"] <= self.pe and (p["eff_end"] is None or p["eff_end"] >= self.ps)

    # -- §6
    def population(self) -> dict:
        open_ = [p for p in self.pl if self.is_open(p)]
        return {
            "pupils_in_ap": len({p["pupil_id"] for p in open_}),
            "open_placements": len(open_),
            "placements_started": sum(1 for p in self.pl if self.ps <= p["start_date"] <= self.pe),
            "placements_ended": sum(1 for p in self.pl if self.ended_in_period(p)),
            "pupils_in_period": len({p["pupil_id"] for p in self.pl if self.overlaps(p)}),
        }

    # -- §1
    def km_median(self):
        items = [(p["days"], not self.is_open(p)) for p in self.pl
                 if self.ps <= p["start_date"] <= self.pe]
        surv = Fraction(1)
        for t in sorted({d for d, ev in items if ev}):
            at_risk = sum(1 for d, _ in items if d >= t)  # censored at t are still at risk at t
            died = sum(1 for d, ev in items if ev and d == t)
            surv *= 1 - Fraction(died, at_risk)
            if surv <= Fraction(1, 2):
                return t
        return None

    def pupil_total_days_median(self):
        pupils = {p["pupil_id"] for p in self.pl if self.overlaps(p)}
        days_in_ap = {}
        for pid in pupils:
            days = set()
            for p in self.pl:
                if p["pupil_id"] != pid:
                    continue
                d, last = p["start_date"], p["eff_end"] or self.as_of
                while d <= last:
                    days.add(d)
                    d += timedelta(days=1)
            days_in_ap[pid] = len(days)
        return median(list(days_in_ap.values()))

    def time_in_ap(self) -> dict:
        completed = [p["days"] for p in self.pl if self.ended_in_period(p)]
        open_days = [p["days"] for p in self.pl if self.is_open(p)]
        return {
            "completed": {"n": len(completed),
                          "mean_days": sum(completed) / len(completed) if completed else None,
                          "median_days": median(completed)},
            "open": {"n": len(open_days), "median_days": median(open_days)},
            "km_median_days": self.km_median(),
            "pupil_total_days_median": self.pupil_total_days_median(),
            "long_open": sum(1 for d in open_days if d > self.s.long_placement_days),
        }

    # -- §2
    def return_to_mainstream(self) -> dict:
        ended_all = [p for p in self.pl if self.ended_in_period(p)]
        ended = [p for p in ended_all if p["dest"] != "other_ap"]
        returned = [p for p in ended if p["dest"] == "mainstream"]
        by_dest = {}
        for p in ended_all:
            by_dest[p["dest"]] = by_dest.get(p["dest"], 0) + 1
        sd = timedelta(days=self.s.sustain_days)
        eligible = [p for p in returned if p["eff_end"] + sd <= self.as_of]
        sustained = 0
        for p in eligible:
            lo, hi = p["eff_end"], p["eff_end"] + sd
            other = any(q is not p and q["pupil_id"] == p["pupil_id"] and lo <= q["start_date"] <= hi
                        for q in self.pl)
            perm = any(e["pupil_id"] == p["pupil_id"] and e["category"] == "permanent"
                       and lo <= e["start_date"] <= hi for e in self.exclusions)
            sustained += not other and not perm
        return {
            "ended": len(ended), "returned": len(returned), "rate": rate(len(returned), len(ended)),
            "unknown_destination": sum(1 for p in ended if p["dest"] == "unknown"),
            "by_destination": by_dest,
            "sustained": {"eligible": len(eligible), "sustained": sustained,
                          "rate": rate(sustained, len(eligible))},
        }

    # -- §5
    def during_rate(self, p):
        lo, hi = p["start_date"], min(p["eff_end"] or self.as_of, self.as_of)
        att = pos = 0
        for a in self.attendance_by_pupil.get(p["pupil_id"], ()):
            if lo <= a["period_start"] <= hi:
                att += a["attended_sessions"]
                pos += a["possible_sessions"]
        return att / pos if pos else None

    def oversight(self) -> dict:
        self.attendance_by_pupil = {}
        for a in self.attendance:
            self.attendance_by_pupil.setdefault(a["pupil_id"], []).append(a)
        s, A = self.s, self.as_of
        keys = ("no_planned_end", "planned_end_passed", "no_objectives", "review_overdue",
                "part_time", "part_time_over_limit", "unregistered", "long_placement",
                "low_attendance")
        out = dict.fromkeys(keys + ("any_flag",), 0)
        for p in self.pl:
            if not self.is_open(p):
                continue
            review = p["last_review_date"]
            if review is not None and review > A:
                review = None
            if p["hours_per_week"] is not None:
                part_time = p["hours_per_week"] < s.full_time_hours
            elif p["sessions_per_week"] is not None:
                part_time = p["sessions_per_week"] < 10
            else:
                part_time = False
            during = self.during_rate(p)
            flags = {
                "no_planned_end": p["planned_end_date"] is None,
                "planned_end_passed": p["planned_end_date"] is not None and p["planned_end_date"] < A,
                "no_objectives": blank(p["objectives"]),
                "review_overdue": (A - (review or p["start_date"])).days > s.review_interval_days,
                "part_time": part_time,
                "part_time_over_limit": part_time and p["days"] > s.part_time_limit_days,
                "unregistered": registered(p) is False,
                "long_placement": p["days"] > s.long_placement_days,
                "low_attendance": during is not None and during < s.low_attendance,
            }
            for k in keys:
                out[k] += bool(flags[k])
            out["any_flag"] += any(flags.values())
        return out

    def report(self) -> dict:
        return {"population": self.population(), "time_in_ap": self.time_in_ap(),
                "return_to_mainstream": self.return_to_mainstream(), "oversight": self.oversight()}


# ---------------------------------------------------------------------------------------------
# Comparison

def differences(expected, actual, path: str = "") -> list[str]:
    out = []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected a dict, code gave {actual!r}"]
        if path.endswith("by_destination"):
            e = {k: v for k, v in expected.items() if v}
            a = {k: v for k, v in actual.items() if v}
            return [] if e == a else [f"{path}: expected {e}, code gave {a}"]
        for k, v in expected.items():
            if k not in actual:
                out.append(f"{path}.{k}: missing in the code's report")
            else:
                out += differences(v, actual[k], f"{path}.{k}")
        return out
    if expected is None or actual is None:
        return [] if expected is None and actual is None else [f"{path}: expected {expected!r}, code gave {actual!r}"]
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return [f"{path}: expected {expected!r}, code gave {actual!r} ({type(actual).__name__})"]
    if isinstance(expected, int) and not isinstance(expected, bool) and "median" not in path \
            and "mean" not in path and "rate" not in path and "km_" not in path:
        return [] if actual == expected and float(actual).is_integer() else \
            [f"{path}: expected {expected!r}, code gave {actual!r}"]
    return [] if abs(float(actual) - float(expected)) <= 1e-9 else \
        [f"{path}: expected {expected!r}, code gave {actual!r}"]


# ---------------------------------------------------------------------------------------------
# Dates and periods, found from the data

def as_of_dates(data: Data) -> list[date]:
    starts = sorted(p["start_date"] for p in data.placements)
    ends = sorted(p["end_date"] for p in data.placements if p["end_date"] is not None)
    q = lambda xs, f: xs[min(len(xs) - 1, int(f * len(xs)))]
    d1 = q(starts, 0.35)                 # a placement's start date (start == as_of)
    d2 = q(ends, 0.55)                   # a placement's end date (end == as_of: ended, not open)
    d3 = q(starts, 0.8)
    d3 = d3 - timedelta(days=d3.weekday()) + timedelta(days=2)  # a Wednesday, mid-term
    if d3.month == 8:
        d3 = date(d3.year, 10, 15)
    return sorted({d1, d2, d3})


def periods(as_of: date) -> list[tuple[date | None, date | None]]:
    return [(None, None),                                            # default period
            (as_of - timedelta(days=240), as_of - timedelta(days=45)),  # --from/--to, ends before as_of
            (as_of - timedelta(days=100), as_of + timedelta(days=30))]  # --to after as_of: capped


def check(con, data: Data, settings_name: str, label: str) -> None:
    settings = SETTINGS[settings_name]
    problems = []
    for as_of in as_of_dates(data):
        for ps, pe in periods(as_of):
            report = build_report(con, Filters(as_of=as_of, period_start=ps, period_end=pe), settings)
            expected = Reference(data, as_of, ps, pe, settings).report()
            for name in SECTIONS:
                for d in differences(expected[name], report[name], name):
                    problems.append(f"[{label} settings={settings_name} as_of={as_of} "
                                    f"from={ps} to={pe}] {d}")
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# A small messy data set (canonical headers, ISO dates), loaded through the importer

def write_messy(folder: Path, pupils: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    d0, span = date(2023, 9, 4), 640
    providers = [("Oak PRU", "990001", "state_ap_school", ""), ("Tutor Co", "", "one_to_one_tuition", ""),
                 ("Web School", "", "online", "Y"), ("Farm Project", "", "work_based", ""),
                 ("Hill College", "", "fe_college", ""), ("Vale Independent", "", "independent_school", "N")]
    dests = ["mainstream", "mainstream", "mainstream", "special", "other_ap", "post16", "neet", "",
             "", "unknown", "moved_away", "other"]
    pl = ["pupil_id,provider,provider_urn,setting_type,registered,start_date,planned_end_date,end_date,"
          "hours_per_week,sessions_per_week,objectives,last_review_date,destination"]
    att = ["pupil_id,period_start,period_end,possible_sessions,attended_sessions,setting"]
    ex = ["pupil_id,category,start_date"]
    iso = lambda d: d.isoformat() if d else ""
    for i in range(pupils):
        pid = f"MX{i:05d}"
        first = d0 + timedelta(days=rng.randrange(span))
        seen = set()
        for k in range(rng.choice([1, 1, 1, 2, 2, 3])):
            s = first + timedelta(days=rng.randrange(0, 200) * k)  # may overlap the previous one
            prov = rng.choice(providers)
            if (prov[0], s) in seen:
                continue
            seen.add((prov[0], s))
            end = s + timedelta(days=rng.choice([0, 1, 5, 30, 41, 42, 43, 90, 181, 182, 183, 250]))
            if rng.random() < 0.25:
                end = None
            hours = rng.choice(["", "", "10", "19.5", "20", "24.9", "25", "30"])
            sessions = rng.choice(["", "4", "9", "10"])
            planned = s + timedelta(days=rng.randrange(20, 300)) if rng.random() < 0.7 else None
            review = s + timedelta(days=rng.randrange(0, 400)) if rng.random() < 0.6 else None
            pl.append(",".join([pid, prov[0], prov[1], prov[2], prov[3], iso(s), iso(planned), iso(end),
                                hours, sessions, rng.choice(["", "Reintegrate", "  "]),
                                iso(review), rng.choice(dests)]))
        # attendance: weekly rows (some zero possible) and a few daily rows
        week = first - timedelta(days=first.weekday() + 7 * rng.randrange(0, 6))
        for _ in range(rng.randrange(0, 40)):
            possible = rng.choice([0, 4, 10, 10, 10])
            att.append(f"{pid},{iso(week)},{iso(week + timedelta(days=4))},{possible},"
                       f"{rng.randint(0, possible)},Setting A")
            if rng.random() < 0.1:
                day = week + timedelta(days=rng.randrange(5))
                att.append(f"{pid},{iso(day)},{iso(day)},2,{rng.randint(0, 2)},Setting B")
            week += timedelta(days=7)
        for _ in range(rng.choice([0, 0, 1, 2])):
            cat = rng.choice(["suspension", "permanent", "permanent", "lunchtime"])
            ex.append(f"{pid},{cat},{iso(first + timedelta(days=rng.randrange(-60, 400)))}")
    files = []
    for name, rows in (("placements.csv", pl), ("attendance.csv", att), ("exclusions.csv", ex)):
        path = folder / name
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        files.append(path)
    return files


# ---------------------------------------------------------------------------------------------
# Databases

@pytest.fixture(scope="module")
def databases(sample_db_copy, tmp_path_factory):
    """label -> (read-only connection, reference data)."""
    paths = {"sample": Path(sample_db_copy)}
    for seed in (11, 2025, 7331):
        paths[f"bench{seed}"] = bench_store(tmp_path_factory.mktemp(f"bench{seed}"), seed)
    out = tmp_path_factory.mktemp("messy")
    paths["messy"] = out / "ap.duckdb"
    load_files(paths["messy"], write_messy(out / "files", pupils=250, seed=5))
    opened = {}
    for label, path in paths.items():
        store = Store(path, read_only=True)
        opened[label] = (store, load(store.con))
    yield opened
    for store, _ in opened.values():
        store.close()


@pytest.mark.parametrize("settings_name", sorted(SETTINGS))
@pytest.mark.parametrize("label", ["sample", "bench11", "bench2025", "bench7331", "messy"])
def test_sections_match_reference(databases, label, settings_name):
    store, data = databases[label]
    assert data.placements, f"{label}: no placements loaded"
    check(store.con, data, settings_name, label)


# ---------------------------------------------------------------------------------------------
# The reference's own sanity checks (hand-worked, no code output)

def test_reference_km_and_days_by_hand():
    P = lambda pid, s, e, **kw: {"pupil_id": pid, "start_date": s, "end_date": e, "destination": None,
                                 **kw}
    d = date
    data = Data([P("A", d(2024, 9, 2), d(2024, 9, 11)),       # 10 days, ended
                 P("B", d(2024, 9, 2), None),                 # open: 30 days to as_of
                 P("C", d(2024, 9, 2), d(2024, 9, 21)),       # 20 days, ended
                 P("C", d(2024, 9, 15), d(2024, 10, 5)),      # overlaps; C has 2..Oct 1 = 30 days
                 P("D", d(2024, 10, 2), None)],               # starts after as_of: ignored
                [], [])
    ref = Reference(data, d(2024, 10, 1))
    # durations A 10 (ended), B 30 (open), C 20 (ended), C 17 (open):
    # S(10) = 3/4; at 20 only B and C's first are at risk: S(20) = 3/4 * 1/2 = 3/8 -> 20
    assert ref.km_median() == 20
    # pupils A 10, B 30, C 30 distinct days -> median 30
    assert ref.pupil_total_days_median() == 30
    assert ref.population() == {"pupils_in_ap": 2, "open_placements": 2, "placements_started": 4,
                                "placements_ended": 2, "pupils_in_period": 3}
