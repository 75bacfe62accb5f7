"""Differential test: the report under active filters, the provider scorecard, the provider
registration check and the population breakdowns, against independent plain-Python references
written from docs/metrics.md (common terms, §1-§6) and the signatures/docstrings of
analytics.providers and analytics.population.

Part 1 (filters). metrics.md, common terms: "All figures respect the active filters (...), which
select placements and the pupils they belong to". Read here as:
- a filter value list selects the placements whose column is one of the values (provider by
  provider_key, school by home_school, as analytics.settings.Filters names them); cla / fsm
  True or False select the placements whose stored value is that (a blank is neither);
  several filters combine with AND;
- population, time in AP, return to mainstream (ended, returned, by_destination) and oversight
  use the selected placements (placements starting after as_of ignored, as always);
- the selected pupils are the pupils of the selected placements known at as_of; exclusions,
  attendance rows and assessments are those of the selected pupils (and, with no filter, of
  everyone, as the unfiltered references have it);
- progress is taken over the selected placements that overlap the period, with all the
  attendance / assessment rows of their pupils;
- a measure's direction (§3, "one any of whose rows says higher_is_better false") is a property
  of the measure: all its rows dated by as_of, whatever the filters;
- "the pupil's other placements" (the sustained-return test of §2, the days in AP of
  pupil_total_days_median in §1, and the sixth-day placement of §4): metrics.md does not
  settle whether a placement the filter does not select still counts there. The reference
  computes both readings, "all" (every placement of a selected pupil) and "selected" (the
  selected placements only); the differential tests check PUPIL_HISTORY = "all", the reading
  the code takes (test_ambiguity_other_placements_of_a_selected_pupil is the minimal case).

Part 2 (providers). Registration check and scorecard columns from metrics.md §5 (provider
checks), §1, §2 and the docstrings; population breakdowns of pupils_in_ap (§6).

The reference imports the unfiltered references of tests/test_reference_placements.py and
tests/test_reference_progress_exclusions.py and feeds them filtered rows.
"""
from __future__ import annotations

import math
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics.population import breakdown
from analytics.providers import registration_check, scorecard
from analytics.report import build_report
from analytics.settings import Filters, Settings
from analytics.store import Store
from tests.reference_data import bench_store, load_files, write_csvs
from tests.test_reference_placements import Data, Reference, blank, differences, median, rate, registered
from tests.test_reference_progress_exclusions import (
    diff, diff_assessments, load_data, ref_exclusions, ref_period, ref_progress, settings_from_db)

# The reading of "the pupil's other placements" under a filter that the differential tests
# check (metrics.md does not decide it; see test_ambiguity_* below and the report).
PUPIL_HISTORY = "all"

TUPLE_FILTERS = {  # Filters field -> placements column (analytics/settings.py)
    "provider": "provider_key", "commissioner": "commissioner", "school": "home_school",
    "trust": "trust", "setting_type": "setting_type", "reason": "reason",
    "sen_status": "sen_status", "sex": "sex", "nc_year": "nc_year"}
BOOL_FILTERS = ("cla", "fsm", "out_of_area")
REGISTRATION_HOURS = 18
REGISTRATION_PUPILS = 5


# =============================================================================================
# Part 1: the filtered reference

def any_filter(f: Filters) -> bool:
    return any(getattr(f, k) for k in TUPLE_FILTERS) or any(getattr(f, k) is not None
                                                            for k in BOOL_FILTERS)


def selects(p: dict, f: Filters) -> bool:
    for field, col in TUPLE_FILTERS.items():
        values = getattr(f, field)
        if values and p[col] not in values:
            return False
    for field in BOOL_FILTERS:
        want = getattr(f, field)
        if want is not None and p[field] is not want:
            return False
    return True


class Slice:
    """The rows a filter selects, at as_of."""

    def __init__(self, data: dict, f: Filters):
        as_of = f.as_of
        self.placements = [p for p in data["placements"] if selects(p, f)]
        if any_filter(f):
            pupils = {p["pupil_id"] for p in self.placements if p["start_date"] <= as_of}
            keep = lambda rows: [r for r in rows if r["pupil_id"] in pupils]  # noqa: E731
        else:
            pupils = None
            keep = list
        self.pupils = pupils
        self.history = keep(data["placements"])  # every placement of a selected pupil
        self.attendance = keep(data["attendance"])
        self.exclusions = keep(data["exclusions"])
        self.assessments = keep(data["assessments"])
        # the direction of a measure: all its rows dated by as_of, then the saved settings
        directions = {r["measure"].strip().casefold(): False for r in data["assessments"]
                      if r["date"] <= as_of and r["higher_is_better"] is False}
        directions.update(data["measure_directions"])
        self.directions = directions
        self.holidays = data["holidays"]


class FilteredReference(Reference):
    """Reference (§1, §2, §5, §6) over the selected placements, with the pupils' other
    placements taken from `history` where §1 and §2 speak of them."""

    def __init__(self, sl: Slice, as_of, ps, pe, settings, history: str):
        super().__init__(Data(sl.placements, sl.attendance, sl.exclusions), as_of, ps, pe, settings)
        if history == "all":
            self.hist = Reference(Data(sl.history, [], []), as_of, ps, pe, settings).pl
        else:
            self.hist = self.pl

    def pupil_total_days_median(self):
        pupils = {p["pupil_id"] for p in self.pl if self.overlaps(p)}
        totals = []
        for pid in pupils:
            days = set()
            for p in self.hist:
                if p["pupil_id"] == pid:
                    d, last = p["start_date"], p["eff_end"] or self.as_of
                    while d <= last:
                        days.add(d)
                        d += timedelta(days=1)
            totals.append(len(days))
        return median(totals)

    def return_to_mainstream(self) -> dict:
        out = super().return_to_mainstream()
        returned = [p for p in self.pl if self.ended_in_period(p) and p["dest"] == "mainstream"]
        sd = timedelta(days=self.s.sustain_days)
        eligible = [p for p in returned if p["eff_end"] + sd <= self.as_of]
        sustained = 0
        for p in eligible:
            lo, hi = p["eff_end"], p["eff_end"] + sd
            other = any(q["placement_id"] != p["placement_id"] and q["pupil_id"] == p["pupil_id"]
                        and lo <= q["start_date"] <= hi for q in self.hist)
            perm = any(e["pupil_id"] == p["pupil_id"] and e["category"] == "permanent"
                       and lo <= e["start_date"] <= hi for e in self.exclusions)
            sustained += not other and not perm
        out["sustained"] = {"eligible": len(eligible), "sustained": sustained,
                            "rate": rate(sustained, len(eligible))}
        return out


def expected_report(data: dict, f: Filters, settings: Settings, history: str = PUPIL_HISTORY) -> dict:
    sl = Slice(data, f)
    ps, pe = ref_period(f.as_of, f.period_start, f.period_end)
    out = FilteredReference(sl, f.as_of, f.period_start, f.period_end, settings, history).report()
    prog_data = {"placements": sl.placements, "attendance": sl.attendance,
                 "assessments": sl.assessments, "measure_directions": sl.directions}
    out["progress"] = ref_progress(prog_data, f.as_of, ps, pe, settings.baseline_days)
    ex_data = {"placements": sl.history if history == "all" else sl.placements,
               "exclusions": sl.exclusions, "holidays": sl.holidays}
    out["exclusions"] = ref_exclusions(ex_data, f.as_of, ps, pe)
    return out


def report_problems(con, data: dict, f: Filters, settings: Settings,
                    history: str = PUPIL_HISTORY) -> list[str]:
    report = build_report(con, f, settings)
    exp = expected_report(data, f, settings, history)
    out = []
    for name in ("population", "time_in_ap", "return_to_mainstream", "oversight"):
        out += differences(exp[name], report[name], name)
    out += diff({"attendance": exp["progress"]["attendance"]}, report["progress"], "progress")
    out += diff_assessments(exp["progress"]["assessments"], report["progress"]["assessments"])
    out += diff(exp["exclusions"], report["exclusions"], "exclusions")
    return out


def describe(f: Filters) -> str:
    parts = [f"as_of={f.as_of}"]
    if f.period_start or f.period_end:
        parts.append(f"period={f.period_start}..{f.period_end}")
    for k in list(TUPLE_FILTERS) + list(BOOL_FILTERS):
        v = getattr(f, k)
        if v not in ((), None):
            parts.append(f"{k}={v}")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# Dates and filter values found from the data

def as_of_dates(data: dict) -> list[date]:
    starts = sorted(p["start_date"] for p in data["placements"])
    ends = sorted(p["end_date"] for p in data["placements"] if p["end_date"] is not None)
    q = lambda xs, frac: xs[min(len(xs) - 1, int(frac * len(xs)))]  # noqa: E731
    d3 = q(starts, 0.85)
    d3 = d3 - timedelta(days=d3.weekday()) + timedelta(days=2)  # a Wednesday
    return sorted({q(starts, 0.45), q(ends, 0.6), d3})


def top(data: dict, col: str, n: int = 1, skip: int = 0) -> tuple:
    c = Counter(p[col] for p in data["placements"] if not blank(p[col]))
    return tuple(v for v, _ in sorted(c.items(), key=lambda kv: (-kv[1], str(kv[0])))[skip:skip + n])


def filter_sets(data: dict) -> list[dict]:
    """Every filter field at least once, multi-value lists, both booleans, combinations and a
    filter that selects nothing."""
    return [
        {"provider": top(data, "provider_key")},
        {"provider": top(data, "provider_key", 2, skip=1)},
        {"commissioner": ("school",)},
        {"school": top(data, "home_school", 3)},
        {"trust": top(data, "trust")},
        {"setting_type": ("online", "one_to_one_tuition")},
        {"reason": ("permanent_exclusion",)},
        {"sen_status": ("E",)},
        {"cla": True},
        {"cla": False},
        {"fsm": True},
        {"fsm": False},
        {"out_of_area": True},
        {"out_of_area": False},
        {"sex": ("F",)},
        {"nc_year": ("10", "11")},
        {"sex": ("M",), "fsm": True, "sen_status": ("K", "N")},
        {"setting_type": ("state_ap_school",), "cla": False, "commissioner": ("la",)},
        {"provider": top(data, "provider_key", 3), "reason": ("behaviour_support", "permanent_exclusion"),
         "nc_year": ("9", "10", "11")},
        {"trust": top(data, "trust", 2), "school": top(data, "home_school", 6)},
        {"provider": ("no such provider",)},
    ]


def all_filters(data: dict, per_set: int = 2) -> list[Filters]:
    """Each filter set at `per_set` of the as_of dates (rotating, to keep the run short), and
    a few with an explicit period."""
    out = []
    dates = as_of_dates(data)
    sets = filter_sets(data)
    for i, d in enumerate(dates):
        for j, kw in enumerate(sets):
            if (j - i) % len(dates) < per_set:
                out.append(Filters(as_of=d, **kw))
        if i == 1:  # an explicit period, ending before as_of
            for kw in sets[::4]:
                out.append(Filters(as_of=d, period_start=d - timedelta(days=300),
                                   period_end=d - timedelta(days=20), **kw))
    return out


# =============================================================================================
# Part 2: providers and breakdowns (reference)

def _eff(p: dict, as_of: date):
    """(known at as_of, open at as_of, end for the period tests)."""
    if p["start_date"] > as_of:
        return False, False, None
    end = p["end_date"] if p["end_date"] is not None and p["end_date"] <= as_of else None
    return True, end is None, end


def provider_details(data: dict) -> dict:
    """provider_key -> (name, setting_type, registered): newest non-blank over every placement
    held for the provider (latest upload, then latest start)."""
    by_key: dict[str, list] = {}
    for p in data["placements"]:
        by_key.setdefault(p["provider_key"], []).append(p)
    out = {}
    for key, rows in by_key.items():
        rows = sorted(rows, key=lambda p: (p["upload_id"], p["start_date"]), reverse=True)
        first = lambda get: next((v for v in map(get, rows) if not blank(v)), None)  # noqa: E731
        out[key] = (first(lambda p: p["provider"]), first(lambda p: p["setting_type"]),
                    first(registered))
    return out


def listed_providers(data: dict, f: Filters) -> set[str]:
    """Providers with a selected placement overlapping the period or open at as_of."""
    ps, pe = ref_period(f.as_of, f.period_start, f.period_end)
    keys = set()
    for p in data["placements"]:
        if not selects(p, f):
            continue
        known, is_open, end = _eff(p, f.as_of)
        if known and (is_open or (p["start_date"] <= pe and (end is None or end >= ps))):
            keys.add(p["provider_key"])
    return keys


def ref_registration(data: dict, f: Filters, settings: Settings = Settings()) -> dict:
    """provider_key -> expected columns (the counts use every open placement, whatever the
    filters). With no hours, a timetable's sessions count as data-spec reads them: 10 sessions
    are full time (full_time_hours)."""
    details = provider_details(data)
    out = {}
    for key in listed_providers(data, f):
        pupils18, vulnerable = set(), set()
        for p in data["placements"]:
            if p["provider_key"] != key:
                continue
            known, is_open, _ = _eff(p, f.as_of)
            hours = p["hours_per_week"]
            if hours is None and p["sessions_per_week"] is not None:
                hours = p["sessions_per_week"] * settings.full_time_hours / 10
            if known and is_open and hours is not None and hours >= REGISTRATION_HOURS:
                pupils18.add(p["pupil_id"])
                if p["cla"] is True or p["sen_status"] == "E":
                    vulnerable.add(p["pupil_id"])
        met = len(pupils18) >= REGISTRATION_PUPILS or len(vulnerable) > 0
        reg = details[key][2]
        row = {"provider": details[key][0], "setting_type": details[key][1], "registered": reg,
               "pupils_18h_plus": len(pupils18), "cla_or_ehcp_18h_plus": len(vulnerable),
               "likely_needs_registration": reg is False and met}
        if reg is True:
            row["status"] = "registered"
        elif reg is False:
            row["status"] = "likely_needs_registration" if met else "below_threshold"
        elif met:
            row["status"] = "registration_unknown"
        out[key] = row
    return out


def ref_scorecard(data: dict, f: Filters, settings: Settings) -> dict:
    """provider_key -> expected columns, over the selected placements."""
    ps, pe = ref_period(f.as_of, f.period_start, f.period_end)
    details = provider_details(data)
    reg = ref_registration(data, f)
    att_by_pupil: dict[str, list] = {}
    for a in data["attendance"]:
        if a["period_start"] <= f.as_of:
            att_by_pupil.setdefault(a["pupil_id"], []).append(a)
    groups: dict[str, list] = {}
    for p in data["placements"]:
        known, is_open, end = _eff(p, f.as_of)
        if selects(p, f) and known:
            groups.setdefault(p["provider_key"], []).append((p, is_open, end))
    out = {}
    for key, items in groups.items():
        in_period = [(p, o, e) for p, o, e in items if p["start_date"] <= pe and (e is None or e >= ps)]
        if not in_period:
            continue
        open_ = [p for p, o, _ in items if o]
        ended_all = [(p, e) for p, o, e in items if e is not None and ps <= e <= pe]
        ended = [(p, e) for p, e in ended_all if p["destination"] != "other_ap"]
        returned = [p for p, _ in ended if p["destination"] == "mainstream"]
        timed = []
        for p in open_:
            if p["hours_per_week"] is not None:
                timed.append(p["hours_per_week"] < settings.full_time_hours)
            elif p["sessions_per_week"] is not None:
                timed.append(p["sessions_per_week"] < 10)
        # attendance rows within one of the pupil's selected placements here (in the period),
        # each row once
        rows = {}
        for p, _, e in in_period:
            for a in att_by_pupil.get(p["pupil_id"], ()):
                # dated in the period (not a placement's rows from before it)
                if max(p["start_date"], ps) <= a["period_start"] <= min(e or f.as_of, pe):
                    rows[id(a)] = a
        possible = sum(a["possible_sessions"] for a in rows.values())
        attended = sum(a["attended_sessions"] for a in rows.values())
        hours = [p["hours_per_week"] for p in open_ if p["hours_per_week"] is not None]
        costs = [p["cost_per_week"] for p, _, _ in in_period if p["cost_per_week"] is not None]
        out[key] = {
            "provider": details[key][0], "setting_type": details[key][1],
            "registered": details[key][2],
            "pupils_now": len({p["pupil_id"] for p in open_}),
            "placements_in_period": len(in_period),
            "median_hours": median(hours),
            "part_time_share": rate(sum(timed), len(timed)),
            "attendance_rate": rate(attended, possible),
            # over the placements 'ended' counts (its n beside it), not the moves to other AP
            "median_days": median([(e - p["start_date"]).days + 1 for p, e in ended]),
            "ended": len(ended), "returned": len(returned),
            "return_rate": rate(len(returned), len(ended)),
            "cost_per_week_median": median(costs),
            "needs_registration": reg[key]["likely_needs_registration"],
        }
    return out


def ref_breakdown(data: dict, f: Filters, by: str) -> dict:
    """pupils_in_ap by an attribute of the pupil's latest-starting open selected placement."""
    latest: dict[str, dict] = {}
    for p in data["placements"]:
        known, is_open, _ = _eff(p, f.as_of)
        if selects(p, f) and known and is_open:
            q = latest.get(p["pupil_id"])
            if q is None or p["start_date"] > q["start_date"]:
                latest[p["pupil_id"]] = p
    out = Counter()
    for p in latest.values():
        v = p[by]
        if by in BOOL_FILTERS:
            v = "unknown" if v is None else ("yes" if v else "no")
        elif blank(v):
            v = "unknown"
        out[str(v)] += 1
    return dict(out)


def ties_in_latest(data: dict, f: Filters) -> bool:
    """True when a pupil has two open selected placements starting the same latest day (the
    breakdown is then not defined by the docstring)."""
    starts: dict[str, list] = {}
    for p in data["placements"]:
        known, is_open, _ = _eff(p, f.as_of)
        if selects(p, f) and known and is_open:
            starts.setdefault(p["pupil_id"], []).append(p["start_date"])
    return any(s.count(max(s)) > 1 for s in starts.values())


# ---------------------------------------------------------------------------------------------
# Comparison of data frames with the references

def _same(a, b) -> bool:
    na = a is None or (isinstance(a, float) and math.isnan(a))
    nb = b is None or (isinstance(b, float) and math.isnan(b))
    if na or nb:
        return na and nb
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b) and isinstance(b, (bool, int)) and b in (0, 1)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)
    return a == b


def _py(v):
    """numpy / pandas scalars as plain Python."""
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v
    try:
        import pandas as pd
        if v is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v


def frame_problems(name: str, expected: dict, df) -> list[str]:
    got = {}
    for rec in df.to_dict("records"):
        got[rec["provider_key"]] = {k: _py(v) for k, v in rec.items()}
    out = []
    if set(got) != set(expected):
        out.append(f"{name}: providers listed: expected {sorted(expected)}, got {sorted(got)}")
    for key in sorted(set(got) & set(expected)):
        for col, v in expected[key].items():
            if col not in got[key]:
                out.append(f"{name}[{key}].{col}: missing")
            elif not _same(v, got[key][col]):
                out.append(f"{name}[{key}].{col}: expected {v!r}, got {got[key][col]!r}")
    return out


def provider_problems(con, data: dict, f: Filters, settings: Settings,
                      breakdowns: bool = True) -> list[str]:
    out = frame_problems("registration_check", ref_registration(data, f),
                         registration_check(con, f, settings))
    out += frame_problems("scorecard", ref_scorecard(data, f, settings), scorecard(con, f, settings))
    if breakdowns and not ties_in_latest(data, f):
        for by in ("sen_status", "cla", "fsm", "sex", "nc_year", "ethnicity_group"):
            df = breakdown(con, f, settings, by)
            got = {str(_py(r[df.columns[0]])): _py(r[df.columns[1]]) for r in df.to_dict("records")}
            got = {k: v for k, v in got.items() if v}
            exp = ref_breakdown(data, f, by)
            if got != exp:
                out.append(f"breakdown({by}): expected {exp}, got {got}")
    return out


# =============================================================================================
# Databases

@pytest.fixture(scope="module")
def databases(sample_db_copy, tmp_path_factory):
    """label -> (store, data, settings)."""
    paths = {"sample": Path(sample_db_copy)}
    for seed in (11, 4242):
        paths[f"bench{seed}"] = bench_store(tmp_path_factory.mktemp(f"fbench{seed}"), seed)
    opened = {}
    for label, path in paths.items():
        store = Store(path, read_only=True)
        opened[label] = (store, load_data(store.con), settings_from_db(store.con))
    yield opened
    for store, _, _ in opened.values():
        store.close()


LABELS = ["sample", "bench11", "bench4242"]


def check(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} disagreement(s):\n" + "\n".join(problems[:40])


# =============================================================================================
# Tests: part 1

@pytest.mark.parametrize("label", LABELS)
def test_filtered_report_matches_reference(databases, label):
    store, data, settings = databases[label]
    problems = []
    for f in all_filters(data):
        problems += [f"[{label} {describe(f)}] {p}"
                     for p in report_problems(store.con, data, f, settings)]
    check(problems)


def test_filters_cover_every_field(databases):
    """Each filter field is used, and (on the sample data) each one changes what is selected."""
    _, data, _ = databases["sample"]
    used = set()
    for kw in filter_sets(data):
        used |= set(kw)
    assert used == set(TUPLE_FILTERS) | set(BOOL_FILTERS)
    as_of = as_of_dates(data)[-1]
    for kw in filter_sets(data)[:-1]:
        n = len(Slice(data, Filters(as_of=as_of, **kw)).placements)
        assert 0 < n < len(data["placements"]), kw


# =============================================================================================
# Tests: part 2

@pytest.mark.parametrize("label", LABELS)
def test_providers_and_breakdowns_match_reference(databases, label):
    store, data, settings = databases[label]
    problems = []
    sets = [{}] + filter_sets(data)[::3]
    for i, d in enumerate(as_of_dates(data)):
        for j, kw in enumerate(sets):
            if (j - i) % 3 == 2:  # each set at two of the three dates
                continue
            f = Filters(as_of=d, **kw)
            problems += [f"[{label} {describe(f)}] {p}" for p in provider_problems(
                store.con, data, f, settings, breakdowns=(j + i) % 3 == 0)]
    check(problems)


# =============================================================================================
# Hand-made cases

PL_HEADER = ["pupil_id", "provider", "provider_urn", "setting_type", "registered", "start_date",
             "end_date", "destination", "hours_per_week", "sessions_per_week", "cla", "sen_status",
             "sex"]


def test_reference_by_hand():
    """The filtered reference and the registration reference on rows worked out by hand."""
    P = lambda pid, key, s, e=None, dest=None, **kw: {  # noqa: E731
        "pupil_id": pid, "placement_id": f"{pid}{key}{s}", "provider_key": key, "provider": key,
        "upload_id": 1, "start_date": date.fromisoformat(s),
        "end_date": date.fromisoformat(e) if e else None, "destination": dest,
        **{c: None for c in ("commissioner", "home_school", "trust", "setting_type", "reason",
                             "sen_status", "sex", "nc_year", "cla", "fsm", "registered",
                             "provider_urn", "provider_ukprn", "hours_per_week",
                             "sessions_per_week", "planned_end_date", "objectives",
                             "last_review_date", "cost_per_week")}, **kw}
    data = {
        "placements": [
            P("A", "oak", "2024-09-02", "2024-10-01", "mainstream", sex="F"),
            P("A", "elm", "2024-12-02", None, sex="F"),      # A back in AP, at another provider
            P("B", "oak", "2024-09-02", "2024-09-30", "mainstream", sex="M"),
            P("C", "elm", "2024-09-16", None, sex="F", cla=True, hours_per_week=18.0, registered=False),
        ],
        "attendance": [], "assessments": [], "measure_directions": {}, "holidays": set(),
        "exclusions": [{"pupil_id": "B", "category": "permanent", "start_date": date(2024, 11, 4)},
                       {"pupil_id": "C", "category": "suspension", "start_date": date(2024, 10, 1)}],
    }
    s = Settings(sustain_days=90)
    f = Filters(as_of=date(2025, 3, 3), provider=("oak",))
    # oak: A returned 1 Oct (eligible: 30 Dec <= 3 Mar), B returned 30 Sep but permanently
    # excluded 4 Nov: not sustained. A's later placement is at elm (not selected).
    rep = expected_report(data, f, s, history="all")
    assert rep["return_to_mainstream"]["sustained"] == {"eligible": 2, "sustained": 0, "rate": 0.0}
    rep = expected_report(data, f, s, history="selected")
    assert rep["return_to_mainstream"]["sustained"] == {"eligible": 2, "sustained": 1, "rate": 0.5}
    assert rep["population"]["pupils_in_period"] == 2 and rep["population"]["pupils_in_ap"] == 0
    # exclusions: only A's and B's (C is not selected)
    assert rep["exclusions"]["permanent_exclusions"] == 1 and rep["exclusions"]["suspensions"] == 0
    # sex F selects A's two placements and C's: 2 pupils in AP
    rep = expected_report(data, Filters(as_of=date(2025, 3, 3), sex=("F",)), s)
    assert rep["population"]["pupils_in_ap"] == 2 and rep["exclusions"]["suspensions"] == 1
    # registration, unfiltered: elm has C open at 18 h, looked after, not registered -> flagged
    reg = ref_registration(data, Filters(as_of=date(2025, 3, 3)))
    assert reg["elm"]["pupils_18h_plus"] == 1 and reg["elm"]["cla_or_ehcp_18h_plus"] == 1
    assert reg["elm"]["likely_needs_registration"] is True
    assert set(ref_registration(data, f)) == {"oak"}
    # sex M lists oak only (B), not elm
    assert ref_registration(data, Filters(as_of=date(2025, 3, 3), sex=("M",))) \
        .keys() == {"oak"}


def _db(tmp_path: Path, placements: list[list], exclusions=(), assessments=()) -> Path:
    tables = {"placements": (PL_HEADER, placements)}
    if exclusions:
        tables["exclusions"] = (["pupil_id", "category", "start_date"], list(exclusions))
    if assessments:
        tables["assessments"] = (["pupil_id", "measure", "date", "value", "higher_is_better"],
                                 list(assessments))
    return load_files(tmp_path / "min.duckdb", write_csvs(tmp_path / "files", tables))


def _pl(pid, provider, start, end="", dest="", hours="", cla="", sen="", sex="", urn="",
        setting="", reg="", sessions=""):
    return [pid, provider, urn, setting, reg, start, end, dest, hours, sessions, cla, sen, sex]


def test_ambiguity_other_placements_of_a_selected_pupil(tmp_path):
    """Minimal case for the question the brief raises: under a filter, do a selected pupil's
    placements that the filter does NOT select count as "the pupil's other placements"?

    as_of 15 Apr 2025 (period 1 Sep 2024 - 15 Apr 2025), filter provider = oak.
    A: oak 2 Sep - 1 Oct 2024 (mainstream), then elm from 2 Dec 2024 (open).
    B: permanently excluded Monday 6 Jan 2025; elm from 6 Jan 2025 (open), oak from 1 Apr 2025.
    Reading "all" (every placement of a selected pupil), which this file checks:
    - §2 sustained: A's return (1 Oct + 182 = 1 Apr <= as_of: eligible) is broken by elm (2 Dec):
      eligible 1, sustained 0 ("selected" reading: sustained 1);
    - §1 pupil_total_days_median: A 30 + 135 = 165 days, B 100 (6 Jan - 15 Apr, oak inside):
      132.5 ("selected": A 30, B 15 -> 22.5);
    - §4 sixth day: B's sixth school day is Monday 13 Jan, when elm is open: met 1 of 1, first
      provision on school day 1 ("selected": met 0, day 62 = oak on 1 Apr).
    metrics.md does not say which; see the report."""
    db = _db(tmp_path, [_pl("A", "Oak", "2024-09-02", "2024-10-01", "mainstream"),
                        _pl("A", "Elm", "2024-12-02"),
                        _pl("B", "Elm", "2025-01-06"),
                        _pl("B", "Oak", "2025-04-01")],
             exclusions=[("B", "permanent", "2025-01-06")])
    f = Filters(as_of=date(2025, 4, 15), provider=("oak",))
    with Store(db, read_only=True) as store:
        data = load_data(store.con)
        exp = expected_report(data, f, Settings(), history="all")
        assert exp["population"] == {"pupils_in_ap": 1, "open_placements": 1, "placements_started": 2,
                                     "placements_ended": 1, "pupils_in_period": 2}
        assert exp["return_to_mainstream"]["sustained"] == {"eligible": 1, "sustained": 0, "rate": 0.0}
        assert exp["time_in_ap"]["pupil_total_days_median"] == 132.5
        assert exp["exclusions"]["sixth_day"] == {"eligible": 1, "met": 1, "rate": 1.0,
                                                  "median_school_days_to_provision": 1}
        sel = expected_report(data, f, Settings(), history="selected")
        assert sel["return_to_mainstream"]["sustained"]["sustained"] == 1
        assert sel["time_in_ap"]["pupil_total_days_median"] == 22.5
        assert sel["exclusions"]["sixth_day"]["met"] == 0
        assert sel["exclusions"]["sixth_day"]["median_school_days_to_provision"] == 62
        check(report_problems(store.con, data, f, Settings(), history=PUPIL_HISTORY))


def test_measure_direction_comes_from_all_rows(tmp_path):
    """§3: a measure is lower-is-better when any of its rows says higher_is_better false; that
    is a property of the measure, not of the filtered slice. Filter sex = F selects A only; A's
    SDQ rows are blank, B's (not selected) says N. A: baseline 20 (1 Sep), latest 15 (1 Nov):
    change -5, an improvement."""
    db = _db(tmp_path, [_pl("A", "Oak", "2024-09-02", sex="F"), _pl("B", "Oak", "2024-09-02", sex="M")],
             assessments=[("A", "SDQ total", "2024-09-01", 20, ""), ("A", "SDQ total", "2024-11-01", 15, ""),
                          ("B", "SDQ total", "2024-01-10", 10, "N")])
    f = Filters(as_of=date(2025, 1, 15), sex=("F",))
    with Store(db, read_only=True) as store:
        data = load_data(store.con)
        exp = expected_report(data, f, Settings())["progress"]["assessments"]
        assert exp == {"sdq total": {"n": 1, "median_change": -5.0, "improved": 1}}
        got = build_report(store.con, f, Settings())["progress"]["assessments"]
        check(diff_assessments(exp, got))


def test_registration_scorecard_breakdown_by_hand(tmp_path):
    """as_of Friday 14 Mar 2025, period 1 Sep 2024 - 14 Mar 2025.
    Tutor Co (tuition, no URN: not registered): P1 open at 18 h and again at 12 h (one pupil),
    P2 18 h, P3 25 h, P4 20 h starting on as_of, P5 17.5 h, P6 30 h ended 13 Mar, P7 30 h
    starting after as_of, P8 no hours but 10 sessions (full time: 25 h): pupils at >= 18 h:
    P1-P4 and P8 = 5, flagged (a reviewer's sessions-only timetable was once not counted). Farm CIC (work based): exactly 5 pupils at 18-30 h: flagged. Web School (online):
    R1 18 h with an EHCP: flagged; R2 10 h looked after does not count. Hill College (FE, no
    URN: status unknown): 5 at 25 h: 'registration_unknown', not flagged. Oak PRU (URN):
    registered."""
    rows = [
        _pl("P1", "Tutor Co", "2024-10-01", hours="18", sen="K", setting="tuition"),
        _pl("P1", "Tutor Co", "2025-01-06", hours="12", sen="E", setting="tuition"),
        _pl("P2", "Tutor Co", "2024-11-04", hours="18", setting="tuition"),
        _pl("P3", "Tutor Co", "2024-11-04", hours="25", setting="tuition"),
        _pl("P4", "Tutor Co", "2025-03-14", hours="20", setting="tuition"),
        _pl("P5", "Tutor Co", "2024-11-04", hours="17.5", sex="F", setting="tuition"),
        _pl("P6", "Tutor Co", "2025-01-06", "2025-03-13", "mainstream", hours="30", setting="tuition"),
        _pl("P7", "Tutor Co", "2025-03-17", hours="30", setting="tuition"),
        _pl("P8", "Tutor Co", "2024-11-04", sessions="10", setting="tuition"),
    ] + [_pl(f"Q{i}", "Farm CIC", "2024-10-07", hours=h, setting="WBP", sex="M")
         for i, h in enumerate(["18", "19", "20", "25", "30"])] + [
        _pl("R1", "Web School", "2024-09-09", hours="18", sen="EHCP", setting="online"),
        _pl("R2", "Web School", "2024-09-09", hours="10", cla="Y", setting="online"),
    ] + [_pl(f"S{i}", "Hill College", "2024-09-09", hours="25", setting="FE college") for i in range(5)] + [
        _pl("T1", "Oak PRU", "2024-09-09", hours="25", cla="Y", urn="990001", setting="PRU")]
    db = _db(tmp_path, rows)
    as_of = date(2025, 3, 14)
    expected = {  # key: (pupils_18h_plus, cla_or_ehcp_18h_plus, registered, likely, status)
        "tutor co": (5, 0, False, True, "likely_needs_registration"),
        "farm cic": (5, 0, False, True, "likely_needs_registration"),
        "web school": (1, 1, False, True, "likely_needs_registration"),
        "hill college": (5, 0, None, False, "registration_unknown"),
        "990001": (1, 1, True, False, "registered"),
    }
    with Store(db, read_only=True) as store:
        data = load_data(store.con)
        f = Filters(as_of=as_of)
        ref = ref_registration(data, f)
        assert {k: (r["pupils_18h_plus"], r["cla_or_ehcp_18h_plus"], r["registered"],
                    r["likely_needs_registration"], r["status"]) for k, r in ref.items()} == expected
        problems = frame_problems("registration_check", ref, registration_check(store.con, f, Settings()))
        # a filter lists the providers; the counts stay whole: sex F lists Tutor Co only (P5)
        fF = Filters(as_of=as_of, sex=("F",))
        assert set(ref_registration(data, fF)) == {"tutor co"}
        assert ref_registration(data, fF)["tutor co"]["pupils_18h_plus"] == 5
        problems += frame_problems("registration_check[sex F]", ref_registration(data, fF),
                                   registration_check(store.con, fF, Settings()))
        # scorecard, Tutor Co: pupils now P1-P5, P8 = 6; placements in period 8 (not P7);
        # open hours 12, 17.5, 18, 18, 20, 25 -> median 18; part time 5 of 7 timed (P8's 10
        # sessions and P3's 25 h full time); ended P6 (67 days, mainstream)
        sc = ref_scorecard(data, f, Settings())["tutor co"]
        assert (sc["pupils_now"], sc["placements_in_period"], sc["median_hours"], sc["ended"],
                sc["returned"], sc["return_rate"], sc["median_days"]) == (6, 8, 18.0, 1, 1, 1.0, 67)
        assert sc["part_time_share"] == pytest.approx(5 / 7) and sc["needs_registration"] is True
        problems += frame_problems("scorecard", ref_scorecard(data, f, Settings()),
                                   scorecard(store.con, f, Settings()))
        # breakdown: P1 counts once, with the latest-starting placement (EHCP); blanks unknown
        fT = Filters(as_of=as_of, provider=("tutor co",))
        assert ref_breakdown(data, fT, "sen_status") == {"E": 1, "unknown": 5}
        fW = Filters(as_of=as_of, provider=("web school",))
        assert ref_breakdown(data, fW, "cla") == {"unknown": 1, "yes": 1}
        for ff, by in ((fT, "sen_status"), (fW, "cla"), (f, "sex")):
            df = breakdown(store.con, ff, Settings(), by)
            got = {str(_py(r[df.columns[0]])): _py(r[df.columns[1]]) for r in df.to_dict("records")}
            if {k: v for k, v in got.items() if v} != ref_breakdown(data, ff, by):
                problems.append(f"breakdown({by}) {describe(ff)}: expected "
                                f"{ref_breakdown(data, ff, by)}, got {got}")
    check(problems)
