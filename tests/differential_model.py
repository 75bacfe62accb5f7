"""An independent model of the headless report (metrics.md §8), for tests/test_differential.py.

Written by an outside reviewer from metrics.md and data-spec.md alone, without reading the
product's metric code, in plain Python over pandas frames. It imports nothing from analytics/,
so a mistake shared by both would have to be made twice.

Inputs are canonical DataFrames of already-parsed values (datetime.date, None for a blank):
  plac: pupil_id, provider, provider_urn, provider_ukprn, setting_type (canonical), registered
        (True/False/None), start_date, end_date, planned_end_date, hours_per_week,
        sessions_per_week, objectives, last_review_date, destination (canonical or None)
  att:  pupil_id, period_start, period_end, possible_sessions, attended_sessions
  exc:  pupil_id, category (suspension/permanent/lunchtime), start_date
  ass:  pupil_id, measure, date, value, higher_is_better (True/False/None)

Measure names: metrics.md §3 and data-spec §6 say "case-folded": str.casefold, so 'Maß' and
'MASS' are one measure (the product lower-cased them until the reviewer's finding F1).
"""
from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd

DEFAULTS = dict(full_time_hours=25, review_interval_days=42, long_placement_days=182,
                baseline_days=91, sustain_days=182, part_time_limit_days=42,
                low_attendance=0.5, suppress_below=3)

UNREGISTERED_TYPES = {"one_to_one_tuition", "online", "work_based", "other_unregistered"}
ONE_DAY = timedelta(days=1)
MEASURE_KEY = str.casefold


def median(xs) -> float | None:
    xs = sorted(xs)
    if not xs:
        return None
    n = len(xs)
    if n % 2:
        return float(xs[n // 2])
    return (xs[n // 2 - 1] + xs[n // 2]) / 2.0


def mean(xs) -> float | None:
    xs = list(xs)
    return float(sum(xs)) / len(xs) if xs else None


def rate(a, b) -> float | None:
    return None if b == 0 else a / b


def blank(v) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str) and v.strip() == "":
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def academic_year_start(d: date) -> date:
    return date(d.year if d.month >= 9 else d.year - 1, 9, 1)


def is_school_day(d: date) -> bool:
    return d.weekday() < 5


def next_school_day(d: date) -> date:
    while not is_school_day(d):
        d += ONE_DAY
    return d


def nth_school_day(d: date, n: int) -> date:
    """The n-th school day, day one being d (or the next school day after it).

    >>> nth_school_day(date(2024, 3, 1), 6)   # a Friday: Fri, Mon..Thu, then Friday 8 March
    datetime.date(2024, 3, 8)
    """
    d = next_school_day(d)
    k = 1
    while k < n:
        d += ONE_DAY
        if is_school_day(d):
            k += 1
    return d


def school_day_number(day1: date, d: date) -> int:
    """The school-day number of d (moved on to the next school day), day one being day1."""
    d = next_school_day(d)
    k = 0
    x = day1
    while x <= d:
        if is_school_day(x):
            k += 1
        x += ONE_DAY
    return k


def km_median(durations, events) -> float | None:
    """Kaplan-Meier median: the smallest t with S(t) <= 0.5; endings before censorings at ties."""
    pairs = list(zip(durations, events))
    s = 1.0
    for t in sorted({t for t, e in pairs if e}):
        at_risk = sum(1 for u, _ in pairs if u >= t)
        ended = sum(1 for u, e in pairs if e and u == t)
        s *= 1 - ended / at_risk
        if s <= 0.5 + 1e-12:
            return float(t)
    return None


def report(plac: pd.DataFrame, att: pd.DataFrame, exc: pd.DataFrame, ass: pd.DataFrame, as_of: date,
           frm: date | None = None, to: date | None = None, settings: dict | None = None) -> dict:
    """The §8 report as the model reads metrics.md; {"error": "period"} when --from is after the
    period's end (the product must refuse that)."""
    st = dict(DEFAULTS)
    st.update(settings or {})
    ps = frm or academic_year_start(as_of)
    pe = min(to or as_of, as_of)
    if ps > pe:
        return {"error": "period"}

    # ---- placements as at as_of
    P = []
    for r in plac.to_dict("records"):
        s = r["start_date"]
        if s > as_of:
            continue
        e = r["end_date"] if not blank(r["end_date"]) else None
        if e is not None and e > as_of:
            e = None  # an end after as_of: still open at as_of
        rv = r.get("last_review_date")
        rv = None if blank(rv) or rv > as_of else rv
        reg = r.get("registered")
        if blank(reg):
            if not blank(r.get("provider_urn")) or not blank(r.get("provider_ukprn")):
                reg = True
            elif r.get("setting_type") in UNREGISTERED_TYPES:
                reg = False
            else:
                reg = None
        dest = r.get("destination")
        dest = "unknown" if blank(dest) else dest
        d = dict(r)
        d.update(start=s, end=e, review=rv, reg=reg, dest=dest,
                 days=((e or as_of) - s).days + 1,
                 open=e is None,
                 overlaps=(s <= pe and (e is None or e >= ps)),
                 ended_in_period=(e is not None and ps <= e <= pe),
                 started_in_period=(ps <= s <= pe))
        P.append(d)

    A = att.to_dict("records")
    E = [r for r in exc.to_dict("records") if r["start_date"] <= as_of]
    S = [r for r in ass.to_dict("records") if r["date"] <= as_of]

    out = {"as_of": as_of.isoformat(), "period": {"start": ps.isoformat(), "end": pe.isoformat()},
           "settings": dict(st)}

    openp = [p for p in P if p["open"]]
    overl = [p for p in P if p["overlaps"]]
    ended = [p for p in P if p["ended_in_period"]]
    out["population"] = dict(
        pupils_in_ap=len({p["pupil_id"] for p in openp}),
        open_placements=len(openp),
        placements_started=sum(p["started_in_period"] for p in P),
        placements_ended=len(ended),
        pupils_in_period=len({p["pupil_id"] for p in overl}))

    # ---- time in AP
    started = [p for p in P if p["started_in_period"]]
    tia = {"completed": {"n": len(ended), "mean_days": mean(p["days"] for p in ended),
                         "median_days": median(p["days"] for p in ended)},
           "open": {"n": len(openp), "median_days": median(p["days"] for p in openp)},
           "km_median_days": km_median([p["days"] for p in started], [not p["open"] for p in started]),
           "long_open": sum(p["days"] > st["long_placement_days"] for p in openp)}
    totals = []
    for pid in sorted({p["pupil_id"] for p in overl}):
        days = set()
        for p in P:
            if p["pupil_id"] != pid:
                continue
            x = p["start"]
            while x <= (p["end"] or as_of):
                days.add(x)
                x += ONE_DAY
        totals.append(len(days))
    tia["pupil_total_days_median"] = median(totals)
    out["time_in_ap"] = tia

    # ---- return to mainstream
    rt = [p for p in ended if p["dest"] != "other_ap"]
    returned = [p for p in rt if p["dest"] == "mainstream"]
    bydest = {}
    for p in ended:
        bydest[p["dest"]] = bydest.get(p["dest"], 0) + 1
    sd = st["sustain_days"]
    elig = [p for p in returned if p["end"] + timedelta(days=sd) <= as_of]
    sus = 0
    for p in elig:
        lo, hi = p["end"], p["end"] + timedelta(days=sd)
        broken = any(q is not p and q["pupil_id"] == p["pupil_id"] and lo <= q["start"] <= hi for q in P)
        broken = broken or any(x["pupil_id"] == p["pupil_id"] and x["category"] == "permanent"
                               and lo <= x["start_date"] <= hi for x in E)
        sus += not broken
    out["return_to_mainstream"] = dict(
        ended=len(rt), returned=len(returned), rate=rate(len(returned), len(rt)),
        unknown_destination=sum(p["dest"] == "unknown" for p in rt), by_destination=bydest,
        sustained=dict(eligible=len(elig), sustained=sus, rate=rate(sus, len(elig))))

    # ---- progress: attendance (rows placed in a window by period_start)
    bd = st["baseline_days"]

    def att_rate(pid, lo, hi):
        a = pp = 0
        for r in A:
            if r["pupil_id"] == pid and lo <= r["period_start"] <= hi:
                a += r["attended_sessions"]
                pp += r["possible_sessions"]
        return (a / pp) if pp > 0 else None

    base, dur, chg, imp = [], [], [], 0
    for p in overl:
        b = att_rate(p["pupil_id"], p["start"] - timedelta(days=bd), p["start"] - ONE_DAY)
        d = att_rate(p["pupil_id"], p["start"], p["end"] or as_of)
        if b is None or d is None:
            continue
        base.append(b)
        dur.append(d)
        chg.append((d - b) * 100)
        imp += d > b
    prog = {"attendance": dict(n=len(base), baseline_rate_median=median(base),
                               during_rate_median=median(dur), median_change_pp=median(chg),
                               improved=imp)}
    # ---- progress: assessments
    for r in S:
        r["mkey"] = MEASURE_KEY(r["measure"].strip())
    lower = {r["mkey"] for r in S if r.get("higher_is_better") is False}
    meas = {}
    for p in overl:
        rows = [r for r in S if r["pupil_id"] == p["pupil_id"]]
        for mk in sorted({r["mkey"] for r in rows}):
            mr = [r for r in rows if r["mkey"] == mk]
            before = [r for r in mr if r["date"] <= p["start"]]
            later = [r for r in mr if p["start"] < r["date"] <= (p["end"] or as_of)]
            if not before or not later:
                continue
            c = max(later, key=lambda r: r["date"])["value"] - max(before, key=lambda r: r["date"])["value"]
            m = meas.setdefault(mk, {"ch": [], "imp": 0})
            m["ch"].append(c)
            m["imp"] += (c < 0) if mk in lower else (c > 0)
    prog["assessments"] = {k: dict(n=len(v["ch"]), median_change=median(v["ch"]), improved=v["imp"])
                           for k, v in meas.items()}
    out["progress"] = prog

    # ---- exclusions
    EP = [x for x in E if ps <= x["start_date"] <= pe]
    susp = [x for x in EP if x["category"] == "suspension"]
    cnt = {}
    for x in susp:
        cnt[x["pupil_id"]] = cnt.get(x["pupil_id"], 0) + 1
    perms = [x for x in EP if x["category"] == "permanent"]
    el = met = 0
    tdays = []
    for x in perms:
        sixth = nth_school_day(x["start_date"], 6)
        if sixth > as_of:
            continue
        el += 1
        pl = [p for p in P if p["pupil_id"] == x["pupil_id"]]
        if any(p["start"] <= sixth and (p["end"] is None or p["end"] >= sixth) for p in pl):
            met += 1
        later = [p["start"] for p in pl if p["start"] >= x["start_date"]]
        if later:
            tdays.append(school_day_number(next_school_day(x["start_date"]), min(later)))
    out["exclusions"] = dict(
        suspensions=len(susp), pupils_suspended=len(cnt),
        repeat_suspended_pupils=sum(v >= 2 for v in cnt.values()),
        lunchtime=sum(x["category"] == "lunchtime" for x in EP),
        permanent_exclusions=len(perms),
        sixth_day=dict(eligible=el, met=met, rate=rate(met, el),
                       median_school_days_to_provision=median(tdays)))

    # ---- oversight (open placements at as_of)
    fl = {k: 0 for k in ["no_planned_end", "planned_end_passed", "no_objectives", "review_overdue",
                         "part_time", "part_time_over_limit", "unregistered", "long_placement",
                         "low_attendance", "any_flag"]}
    for p in openp:
        f = {}
        planned = p.get("planned_end_date")
        f["no_planned_end"] = blank(planned)
        f["planned_end_passed"] = (not blank(planned)) and planned < as_of
        f["no_objectives"] = blank(p.get("objectives"))
        f["review_overdue"] = (as_of - (p["review"] or p["start"])).days > st["review_interval_days"]
        h, sess = p.get("hours_per_week"), p.get("sessions_per_week")
        if not blank(h):
            pt = h < st["full_time_hours"]
        elif not blank(sess):
            pt = sess < 10
        else:
            pt = False
        f["part_time"] = pt
        f["part_time_over_limit"] = pt and p["days"] > st["part_time_limit_days"]
        f["unregistered"] = p["reg"] is False
        f["long_placement"] = p["days"] > st["long_placement_days"]
        d = att_rate(p["pupil_id"], p["start"], as_of)
        f["low_attendance"] = d is not None and d < st["low_attendance"]
        for k, v in f.items():
            fl[k] += bool(v)
        fl["any_flag"] += any(f.values())
    out["oversight"] = fl
    return out


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested keys joined with dots.

    >>> flatten({"a": {"b": 1, "c": {"d": None}}, "e": 2})
    {'a.b': 1, 'a.c.d': None, 'e': 2}
    """
    o = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            o.update(flatten(v, key))
        else:
            o[key] = v
    return o


def compare(prod: dict, mine: dict) -> list[tuple[str, object, object]]:
    """(key, product, model) for each disagreement over the model's keys. A by_destination or
    assessment entry the product leaves out counts as zero; keys the product adds beside the
    contract's are ignored (metrics.md §8 allows them). Floats agree within 1e-6 (relative).

    >>> compare({"a": 0.3000000001, "b": {"c": 1}}, {"a": 0.3, "b": {"c": 2}})
    [('b.c', 1, 2)]
    """
    fp, fm = flatten(prod), flatten(mine)
    diffs = []
    for k, mv in fm.items():
        if k not in fp:
            if k.startswith("return_to_mainstream.by_destination.") and mv == 0:
                continue
            if k.startswith("progress.assessments.") and fm.get(k.rsplit(".", 1)[0] + ".n") == 0:
                continue
            diffs.append((k, "<missing>", mv))
            continue
        pv = fp[k]
        if isinstance(mv, float) or isinstance(pv, float):
            if mv is None or pv is None:
                if mv is not pv:
                    diffs.append((k, pv, mv))
            elif abs(float(mv) - float(pv)) > 1e-6 * max(1, abs(float(mv))):
                diffs.append((k, pv, mv))
        elif pv != mv:
            diffs.append((k, pv, mv))
    for k, pv in fp.items():
        if k in fm:
            continue
        if k.startswith("return_to_mainstream.by_destination.") and pv != 0:
            diffs.append((k, pv, "<absent>"))
        if k.startswith("progress.assessments.") and k.endswith(".n") and pv != 0:
            diffs.append((k, pv, "<absent>"))
    return diffs
