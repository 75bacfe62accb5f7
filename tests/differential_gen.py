"""Random small datasets of synthetic pupils with edge cases, for tests/test_differential.py.

Written by an outside reviewer with tests/differential_model.py. gen(seed) returns a dict:
  files     file name -> text or bytes, in upload order (what the product ingests);
  expect    file name -> (rows accepted, rows rejected), or None for register marks (one row
            per pupil-week after aggregation);
  canon     the stored state the product should hold, as canonical DataFrames (the model's input);
  runs      the report runs: dicts of as_of and optional frm / to;
  settings  non-default report settings ({} for the defaults).
Seeds < 1000 are plain CSV files; 1000-1999 add history, messy formats and rejected rows;
>= 2000 add correction uploads. Every UPN is from LA 999, which no real pupil has. The same seed
always gives the same dataset (the random draws are in the reviewer's order).
"""
from __future__ import annotations

import io
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from tests.differential_model import nth_school_day

ALPHA = "ABCDEFGHJKLMNPQRTUVWXYZ"
D = timedelta


def upn(rng):
    digits = "999" + "".join(rng.choice("0123456789") for _ in range(9))
    s = sum(int(c) * (i + 2) for i, c in enumerate(digits))
    return ALPHA[s % 23] + digits


DEST_LABELS = {
    "mainstream": ["mainstream", "Returned to home school", "Reintegrated", "Other mainstream school"],
    "other_ap": ["other_ap", "Another AP", "Transferred"],
    "special": ["special", "Special school"],
    "post16": ["post16", "College"],
    "neet": ["NEET"],
    "ehe": ["EHE", "Elective home education"],
    "moved_away": ["moved_away", "Moved out of area"],
    "other": ["other"],
    "unknown": ["unknown", "Not known"],
    None: [""],
}
DEST_W = {"mainstream": 5, "other_ap": 3, "special": 1, "post16": 1, "neet": 1, "ehe": 1,
          "moved_away": 1, "other": 1, "unknown": 1, None: 3}

# providers: name, urn, ukprn, setting_type label, canonical setting type
PROVIDERS = [
    ("Ashbeck Learning Centre", "990101", "", "PRU", "state_ap_school"),
    ("Fellgate Tuition", "", "", "OOT", "one_to_one_tuition"),
    ("Moorside Online", "", "", "online", "online"),
    ("Kestrel College", "", "10012345", "NFE", "fe_college"),
    ("Brackenfold Farm", "", "", "WBP", "work_based"),
    ("Larchwood Project", "", "", "OTH", "other_unregistered"),
    ("Heronmere Independent", "990155", "", "independent school", "independent_school"),
    ("Windle Hospital School", "", "", "hospital", "hospital"),
]

MEASURES = [("Reading age", None), ("reading AGE", None), ("SDQ total", False), ("Boxall", None),
            ("  Maths score ", None), ("SDQ Total", None)]
MEASURES2 = MEASURES + [("Reading  age", None), ("Maß", None), ("MASS", None), ("Straße", False)]


def rdate(rng, lo, hi):
    return lo + D(days=rng.randint(0, max(0, (hi - lo).days)))


def fmt(d, style):
    if d is None:
        return ""
    if style == "iso":
        return d.isoformat()
    return d.strftime("%d/%m/%Y")


def gen(seed):
    rng = random.Random(seed)
    # ---- report runs
    nasty = seed >= 1000
    if rng.random() < 0.25:
        A = rdate(rng, date(2024, 2, 20), date(2024, 3, 10))  # around the leap day
    elif nasty and rng.random() < 0.3:
        A = rng.choice([date(2023, 8, 31), date(2023, 9, 1), date(2024, 8, 31), date(2024, 9, 1),
                        date(2024, 9, 2), date(2025, 3, 1)])
    else:
        A = rdate(rng, date(2023, 1, 10), date(2025, 7, 25))
    sep1 = date(A.year if A.month >= 9 else A.year - 1, 9, 1)
    F = A - D(days=rng.randint(0, 400))
    T = rdate(rng, F, A + D(days=20))
    A2 = A + D(days=rng.choice([-200, -90, -30, -1, 1, 7, 60, 183]))
    runs = [dict(as_of=A), dict(as_of=A, frm=F, to=T), dict(as_of=A2),
            dict(as_of=A, frm=A, to=A)]
    if rng.random() < 0.5:
        runs.append(dict(as_of=A2, frm=F))
    settings = {}
    if rng.random() < 0.35:
        settings = dict(sustain_days=rng.choice([28, 60, 182]), baseline_days=rng.choice([7, 14, 91]),
                        review_interval_days=rng.choice([7, 42]), long_placement_days=rng.choice([14, 60, 182]),
                        part_time_limit_days=rng.choice([1, 10, 42]), full_time_hours=rng.choice([24.9, 25, 30]),
                        low_attendance=rng.choice([0.5, 0.8]))
    sd = settings.get("sustain_days", 182)
    bd = settings.get("baseline_days", 91)
    keyd = [A, A - D(1), A + D(1), F, F - D(1), T, T + D(1), sep1, sep1 - D(1), A2, A2 + D(1), A2 - D(1),
            date(2024, 2, 29)]

    def pick_date():
        lo, hi = A - D(days=500), A + D(days=30)
        if rng.random() < 0.45:
            c = [k for k in keyd if lo <= k <= hi]
            if c:
                return rng.choice(c)
        return rdate(rng, lo, hi)

    npup = rng.randint(5, 30)
    pupils = []
    seen = set()
    while len(pupils) < npup:
        u = upn(rng)
        if u not in seen:
            seen.add(u)
            pupils.append(u)

    P, ATT, EXC, ASS = [], [], [], []
    pkeys, ekeys, akeys, tkeys = set(), set(), set(), set()

    def add_pl(pid, start, end, dest=None):
        for _ in range(10):
            prov = rng.choice(PROVIDERS)
            pk = (pid, prov[1] or prov[2] or prov[0].casefold(), start)
            if pk not in pkeys:
                break
        else:
            return None
        if end is not None and end < start:
            end = start
        pkeys.add(pk)
        if dest is None and end is not None:
            dest = rng.choices(list(DEST_W), weights=list(DEST_W.values()))[0]
        elif end is None and rng.random() < 0.2:
            dest = "mainstream"  # destination on open placement: ignored
        reg = rng.choice([None, None, None, True, False])
        hours = rng.choice([None, 25, 24.9, 12.5, 30, 25.0, None])
        sess = rng.choice([None, 10, 9, 5]) if rng.random() < 0.6 else None
        pe = rng.choice([None, A, A - D(1), A + D(1), start + D(days=rng.randint(0, 200))])
        rv = rng.choice([None, A - D(days=42), A - D(days=43), A + D(1), start + D(days=rng.randint(0, 100)),
                         A2 - D(days=42), A2 - D(days=43)])
        row = dict(pupil_id=pid, provider=prov[0], provider_urn=prov[1], provider_ukprn=prov[2],
                   setting_label=prov[3], setting_type=prov[4], registered=reg, start_date=start,
                   end_date=end, planned_end_date=pe, hours_per_week=hours, sessions_per_week=sess,
                   objectives=rng.choice([None, "Reintegrate to home school", "Attend 85%"]),
                   last_review_date=rv, destination=dest,
                   dest_label=rng.choice(DEST_LABELS[dest]) if dest in DEST_LABELS else "")
        P.append(row)
        return row

    def rand_end(start):
        r = rng.random()
        if r < 0.3:
            return None
        if r < 0.4:
            return start
        if r < 0.6:
            c = [k for k in keyd if k >= start]
            if c:
                return rng.choice(c)
        return start + D(days=rng.randint(0, 300))

    for pid in pupils:
        k = rng.choices([0, 1, 2, 3], weights=[1, 5, 3, 1])[0]
        prev = None
        for _ in range(k):
            if prev is None or rng.random() < 0.3:
                s = pick_date()
            else:
                pe_ = prev["end_date"]
                base = pe_ or prev["start_date"]
                s = rng.choice([base, base + D(1), base + D(days=sd), base + D(days=sd + 1),
                                prev["start_date"] + D(days=rng.randint(0, 20)), base + D(days=rng.randint(1, 100))])
            e = rand_end(s)
            dest = None
            if e is not None and rng.random() < 0.4:
                dest = "mainstream"
            row = add_pl(pid, s, e, dest)
            if row:
                prev = row
        # exclusions
        for _ in range(rng.choices([0, 1, 2, 3], weights=[3, 3, 2, 1])[0]):
            cat = rng.choices(["suspension", "permanent", "lunchtime"], weights=[4, 3, 1])[0]
            d0 = pick_date()
            if rng.random() < 0.4:  # force a weekend / Friday
                wd = rng.choice([4, 5, 6])
                d0 = d0 + D(days=(wd - d0.weekday()) % 7)
            ek = (pid, d0, cat)
            if ek in ekeys:
                continue
            ekeys.add(ek)
            EXC.append(dict(pupil_id=pid, category=cat, start_date=d0,
                            sessions=rng.choice(["", "2", "4"]) if cat != "permanent" else ""))
            if cat == "permanent" and rng.random() < 0.6:
                # placement near the 6th school day
                sixth = nth_school_day(d0, 6)
                s = rng.choice([sixth, sixth + D(1), sixth - D(1), d0, d0 + D(1), d0 + D(days=2)])
                add_pl(pid, s, rng.choice([None, s, sixth, sixth - D(1), s + D(days=30)]))
            if cat == "permanent":
                rng.random()  # a spare draw, kept so that each seed makes the reviewer's dataset
        # attendance around each placement start and as_of
        anchors = [p["start_date"] for p in P if p["pupil_id"] == pid] + [A]
        weeks = set()
        for a in anchors:
            mon = a - D(days=a.weekday())
            for w in range(-16, 10):
                if rng.random() < 0.6:
                    weeks.add(mon + D(weeks=w))
        setting = rng.choice(["Home School", "AP"])
        for w in sorted(weeks):
            poss = rng.choice([0, 10, 10, 10, 6, 4, 2])
            att = rng.randint(0, poss)
            tk = (pid, w, w + D(4), setting.casefold())
            if tk in tkeys:
                continue
            tkeys.add(tk)
            ATT.append(dict(pupil_id=pid, period_start=w, period_end=w + D(4),
                            possible_sessions=poss, attended_sessions=att, setting=setting))
        # edge daily rows at exact window boundaries
        for p in [p for p in P if p["pupil_id"] == pid]:
            for d0 in rng.sample([p["start_date"] - D(days=bd), p["start_date"] - D(days=bd + 1),
                                  p["start_date"] - D(1), p["start_date"],
                                  p["end_date"] or A, (p["end_date"] or A) + D(1)], 2):
                tk = (pid, d0, d0, "daily")
                if tk in tkeys:
                    continue
                tkeys.add(tk)
                poss = rng.choice([0, 2, 2])
                ATT.append(dict(pupil_id=pid, period_start=d0, period_end=d0, possible_sessions=poss,
                                attended_sessions=rng.randint(0, poss), setting="Daily"))
        # assessments
        for p in [p for p in P if p["pupil_id"] == pid]:
            for _ in range(rng.randint(0, 4)):
                m, hib = rng.choice(MEASURES2 if nasty else MEASURES)
                dd = rng.choice([p["start_date"], p["start_date"] + D(1), p["start_date"] - D(1),
                                 p["start_date"] - D(days=rng.randint(1, 60)),
                                 p["start_date"] + D(days=rng.randint(1, 200)),
                                 p["end_date"] or A, A, A + D(1), A2])
                ak = (pid, m.strip().casefold(), dd)
                if ak in akeys:
                    continue
                akeys.add(ak)
                h = hib if hib is not None else rng.choice([None, None, True])
                if m.strip().casefold() == "sdq total" and rng.random() < 0.5:
                    h = None
                ASS.append(dict(pupil_id=pid, measure=m, date=dd, value=rng.randint(1, 30),
                                higher_is_better=h))

    style = rng.choice(["iso", "iso", "uk"])

    def b(v):
        return "" if v is None else ("Y" if v else "N")

    def num(v):
        return "" if v is None else str(v)

    plac_rows = []
    for r in P:
        plac_rows.append({
            "pupil_id": r["pupil_id"], "provider": r["provider"], "provider_urn": r["provider_urn"],
            "provider_ukprn": r["provider_ukprn"], "setting_type": r["setting_label"],
            "registered": b(r["registered"]), "start_date": fmt(r["start_date"], style),
            "planned_end_date": fmt(r["planned_end_date"], style), "end_date": fmt(r["end_date"], style),
            "hours_per_week": num(r["hours_per_week"]), "sessions_per_week": num(r["sessions_per_week"]),
            "objectives": r["objectives"] or "", "last_review_date": fmt(r["last_review_date"], style),
            "destination": r["dest_label"]})
    cols = ["pupil_id", "provider", "provider_urn", "provider_ukprn", "setting_type", "registered",
            "start_date", "planned_end_date", "end_date", "hours_per_week", "sessions_per_week",
            "objectives", "last_review_date", "destination"]
    files = {}
    files["placements.csv"] = pd.DataFrame(plac_rows, columns=cols).to_csv(index=False)
    files["attendance.csv"] = pd.DataFrame([{
        "pupil_id": r["pupil_id"], "period_start": fmt(r["period_start"], style),
        "period_end": fmt(r["period_end"], style), "possible_sessions": r["possible_sessions"],
        "attended_sessions": r["attended_sessions"], "setting": r["setting"]} for r in ATT],
        columns=["pupil_id", "period_start", "period_end", "possible_sessions", "attended_sessions",
                 "setting"]).to_csv(index=False)
    catlab = {"suspension": ["FIXD", "Suspension", "suspension"], "permanent": ["PERM", "Permanent exclusion"],
              "lunchtime": ["LNCH", "lunchtime"]}
    files["exclusions.csv"] = pd.DataFrame([{
        "pupil_id": r["pupil_id"], "category": rng.choice(catlab[r["category"]]),
        "start_date": fmt(r["start_date"], style), "sessions": r["sessions"]} for r in EXC],
        columns=["pupil_id", "category", "start_date", "sessions"]).to_csv(index=False)
    files["assessments.csv"] = pd.DataFrame([{
        "pupil_id": r["pupil_id"], "measure": r["measure"], "date": fmt(r["date"], style),
        "value": r["value"], "higher_is_better": b(r["higher_is_better"])} for r in ASS],
        columns=["pupil_id", "measure", "date", "value", "higher_is_better"]).to_csv(index=False)

    expect = {n: (len(rows), 0) for n, rows in (("placements.csv", P), ("attendance.csv", ATT),
                                                ("exclusions.csv", EXC), ("assessments.csv", ASS))}
    if nasty:
        files, expect = nasty_files(rng, P, ATT, style, files, A, corrections=seed >= 2000)
    canon = dict(
        plac=pd.DataFrame(P) if P else pd.DataFrame(columns=["pupil_id", "start_date", "end_date"]),
        att=pd.DataFrame(ATT, columns=["pupil_id", "period_start", "period_end", "possible_sessions",
                                       "attended_sessions", "setting"]),
        exc=pd.DataFrame(EXC, columns=["pupil_id", "category", "start_date", "sessions"]),
        ass=pd.DataFrame(ASS, columns=["pupil_id", "measure", "date", "value", "higher_is_better"]))
    return dict(files=files, canon=canon, runs=runs, settings=settings, expect=expect)


def messy_id(rng, pid):
    return rng.choice([pid, pid.lower(), " " + pid + " ", pid.lower() + "  "])


def nasty_files(rng, P, ATT, style, files, A, corrections):
    """History (two placement uploads), messy IDs, % and register-mark attendance, xlsx,
    rows that must be rejected, a wrong UPN check letter (warning only). Mutates P/ATT to the
    stored state the product should hold."""
    out = {}
    expect = {}
    cols = ["pupil_id", "provider", "provider_urn", "provider_ukprn", "setting_type", "registered",
            "start_date", "planned_end_date", "end_date", "hours_per_week", "sessions_per_week",
            "objectives", "last_review_date", "destination"]

    def b(v):
        return "" if v is None else rng.choice(["Y", "Yes", "true", "1"] if v else ["N", "No", "false", "0"])

    def num(v):
        return "" if v is None else str(v)

    # wrong check letter UPN: warning, not reject
    good = upn(rng)
    bad = ALPHA[(ALPHA.index(good[0]) + 1) % 23] + good[1:]
    P.append(dict(pupil_id=bad, provider="Fellgate Tuition", provider_urn="", provider_ukprn="",
                  setting_label="OOT", setting_type="one_to_one_tuition", registered=None,
                  start_date=A - D(days=10), end_date=None, planned_end_date=None, hours_per_week=10,
                  sessions_per_week=None, objectives=None, last_review_date=None, destination=None,
                  dest_label=""))
    s1 = [r for r in P if rng.random() < 0.5]
    f1 = []
    for r in s1:
        r["_old"] = dict(objectives=rng.choice([None, "Old objective"]), registered=rng.choice([None, True, False]))
        f1.append({"pupil_id": r["pupil_id"], "provider": r["provider"], "provider_urn": r["provider_urn"],
                   "provider_ukprn": r["provider_ukprn"], "setting_type": r["setting_label"],
                   "registered": b(r["_old"]["registered"]), "start_date": fmt(r["start_date"], style),
                   "planned_end_date": fmt(r["planned_end_date"], style), "end_date": "",
                   "hours_per_week": rng.choice(["", "5", "40"]), "sessions_per_week": "",
                   "objectives": r["_old"]["objectives"] or "", "last_review_date": fmt(r["last_review_date"], style),
                   "destination": ""})
    out["placements_1.csv"] = pd.DataFrame(f1, columns=cols).to_csv(index=False)
    drop = [c for c in ("objectives", "registered") if rng.random() < 0.4]
    xlsx = rng.random() < 0.4
    f2 = []
    for r in P:
        row = {"pupil_id": messy_id(rng, r["pupil_id"]), "provider": r["provider"], "provider_urn": r["provider_urn"],
               "provider_ukprn": r["provider_ukprn"], "setting_type": r["setting_label"],
               "registered": b(r["registered"]),
               "start_date": r["start_date"] if xlsx else fmt(r["start_date"], style),
               "planned_end_date": (r["planned_end_date"] if xlsx else fmt(r["planned_end_date"], style)),
               "end_date": (r["end_date"] if xlsx else fmt(r["end_date"], style)),
               "hours_per_week": num(r["hours_per_week"]), "sessions_per_week": num(r["sessions_per_week"]),
               "objectives": r["objectives"] or "",
               "last_review_date": (r["last_review_date"] if xlsx else fmt(r["last_review_date"], style)),
               "destination": r["dest_label"]}
        f2.append(row)
        old = r.pop("_old", None)
        for c in drop:  # a column the newer file lacks keeps the earlier stored value
            r[c] = old[c] if old else None
    nrej = 0
    if rng.random() < 0.5:  # end before start: rejected
        f2.append({"pupil_id": upn(rng), "provider": "Fellgate Tuition", "provider_urn": "", "provider_ukprn": "",
                   "setting_type": "OOT", "registered": "", "start_date": fmt(A - D(days=5), style) if not xlsx else A - D(days=5),
                   "planned_end_date": "", "end_date": fmt(A - D(days=6), style) if not xlsx else A - D(days=6),
                   "hours_per_week": "", "sessions_per_week": "", "objectives": "", "last_review_date": "",
                   "destination": ""})
        nrej = 1
    c2 = [c for c in cols if c not in drop]
    df2 = pd.DataFrame(f2, columns=cols)[c2]
    if xlsx:
        for c in ("start_date", "planned_end_date", "end_date", "last_review_date"):
            if c in df2:
                df2[c] = df2[c].map(lambda v: None if v in ("", None) else v).astype(object)
        bio = io.BytesIO()
        df2.to_excel(bio, index=False, sheet_name="Placements", engine="xlsxwriter")
        out["placements_2.xlsx"] = bio.getvalue()
    else:
        out["placements_2.csv"] = df2.to_csv(index=False)
    expect["placements_1.csv"] = (len(f1), 0)
    expect["placements_2.xlsx" if xlsx else "placements_2.csv"] = (len(f2) - nrej, nrej)
    for r in P:
        r.pop("_old", None)

    # weekly attendance with messy IDs + one rejected row (attended > possible)
    t = files["attendance.csv"]
    df = pd.read_csv(io.StringIO(t), dtype=str, keep_default_na=False)
    df["pupil_id"] = df["pupil_id"].map(lambda x: messy_id(rng, x))
    nrej = 0
    if len(df) and rng.random() < 0.5:
        extra = df.iloc[[0]].copy()
        extra["setting"] = "Rejectme"
        extra["possible_sessions"] = "4"
        extra["attended_sessions"] = "5"
        df = pd.concat([df, extra])
        nrej = 1
    out["attendance.csv"] = df.to_csv(index=False)
    expect["attendance.csv"] = (len(df) - nrej, nrej)

    pids = sorted({r["pupil_id"] for r in P})
    # percentage shape
    rows = []
    for pid in rng.sample(pids, min(len(pids), 4)):
        for p in [p for p in P if p["pupil_id"] == pid][:1]:
            for w in range(-3, 4):
                mon = p["start_date"] - D(days=p["start_date"].weekday()) + D(weeks=w)
                poss = rng.choice([5, 3, 4, 6, 2, 1, 10])
                pct = rng.choice([50, 33.3, 66.7, 0, 100, 12.5, 87.5, 10])
                att = int((Decimal(str(pct)) * poss / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
                rows.append({"UPN": messy_id(rng, pid), "Week Commencing": fmt(mon, style), "Possible": poss,
                             "Attendance %": pct, "Setting": "Tracker"})
                ATT.append(dict(pupil_id=pid, period_start=mon, period_end=mon + D(4), possible_sessions=poss,
                                attended_sessions=att, setting="Tracker"))
    if rows:
        out["attendance_pct.csv"] = pd.DataFrame(rows).to_csv(index=False)
        expect["attendance_pct.csv"] = (len(rows), 0)
    # register marks
    ATTC = {"/": 1, "\\": 1, "L": 1, "P": 1, "B": 1, "K": 1}
    NOTP = ["X", "#", "Y", "", "Z"]
    MISS = ["N", "O", "U", "E", "G", "M"]
    rows = []
    agg = {}
    for pid in rng.sample(pids, min(len(pids), 3)):
        p = [p for p in P if p["pupil_id"] == pid][0]
        mon0 = p["start_date"] - D(days=p["start_date"].weekday())
        for w in range(-2, 3):
            for dd in range(5):
                if rng.random() < 0.3:
                    continue
                day = mon0 + D(weeks=w, days=dd)
                marks = []
                for _ in range(2):
                    kind = rng.choice(["a", "a", "n", "m"])
                    m = rng.choice(list(ATTC) if kind == "a" else NOTP if kind == "n" else MISS)
                    marks.append(m)
                    k = (pid, day - D(days=day.weekday()))
                    a_, p_ = agg.get(k, (0, 0))
                    agg[k] = (a_ + (kind == "a"), p_ + (kind != "n"))
                rows.append({"UPN": pid, "Date": fmt(day, style), "AM": marks[0], "PM": marks[1]})
    for (pid, mon), (a_, p_) in agg.items():
        if p_ > 0:
            ATT.append(dict(pupil_id=pid, period_start=mon, period_end=mon + D(4), possible_sessions=p_,
                            attended_sessions=a_, setting=""))
    if rows:
        out["register_marks.csv"] = pd.DataFrame(rows).to_csv(index=False)
        expect["register_marks.csv"] = None  # row counts differ after aggregation
    # other files with messy IDs
    for n in ("exclusions.csv", "assessments.csv"):
        df = pd.read_csv(io.StringIO(files[n]), dtype=str, keep_default_na=False)
        df["pupil_id"] = df["pupil_id"].map(lambda x: messy_id(rng, x))
        out[n] = df.to_csv(index=False)
        expect[n] = (len(df), 0)
    if corrections:
        correction_files(rng, P, ATT, style, out, expect)
    return out, expect


def correction_files(rng, P, ATT, style, out, expect):
    """correction upload (history), attendance correction with setting case changed, title rows and
    a Total row, semicolon + Windows-1252 exclusions."""
    # placements correction: carries only some columns; a blank end_date clears (re-opens)
    sub = [r for r in P if rng.random() < 0.3]
    rows = []
    for r in sub:
        choice = rng.random()
        if choice < 0.4:
            r["end_date"] = None
        elif choice < 0.8:
            r["end_date"] = r["start_date"] + D(days=rng.randint(0, 200))
        dk = rng.choices(list(DEST_W), weights=list(DEST_W.values()))[0]
        r["destination"] = dk
        r["dest_label"] = rng.choice(DEST_LABELS[dk])
        rows.append({"UPN": messy_id(rng, r["pupil_id"]), "Provider Name": r["provider"],
                     "Provider URN": r["provider_urn"], "UKPRN": r["provider_ukprn"],
                     "Start Date of Placement": fmt(r["start_date"], style),
                     "Actual End Date": fmt(r["end_date"], style), "Exit Destination": r["dest_label"]})
    if rows:
        body = pd.DataFrame(rows).to_csv(index=False)
        out["placements_3.csv"] = '"Fernshire: corrections"\n\n' + body + "Total," + str(len(rows)) + ",,,,,\n"
        expect["placements_3.csv"] = (len(rows), 0)
    # attendance correction: same key (setting case-folded), new values
    weekly = [r for r in ATT if r["setting"] in ("Home School", "AP")]
    fix = rng.sample(weekly, min(len(weekly), 5))
    rows = []
    for r in fix:
        poss = rng.choice([10, 8, 0])
        r["possible_sessions"] = poss
        r["attended_sessions"] = rng.randint(0, poss)
        rows.append({"pupil_id": r["pupil_id"], "period_start": fmt(r["period_start"], style),
                     "period_end": fmt(r["period_end"], style), "possible_sessions": poss,
                     "attended_sessions": r["attended_sessions"], "setting": "  " + r["setting"].upper()})
    if rows:
        out["attendance_fix.csv"] = pd.DataFrame(rows).to_csv(index=False)
        expect["attendance_fix.csv"] = (len(rows), 0)
    # exclusions as ; + cp1252 with a school name
    df = pd.read_csv(io.StringIO(out["exclusions.csv"]), dtype=str, keep_default_na=False)
    df["school"] = "St Mary\u2019s Café Academy"
    out["exclusions.csv"] = df.to_csv(index=False, sep=";").encode("cp1252")
