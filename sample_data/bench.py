"""Benchmark-size files in canonical shape, vectorised (numpy + pyarrow; no per-row Python).

placements.csv, attendance.csv, exclusions.csv, assessments.csv (canonical headers, ISO dates)
and placements.xlsx (xlsxwriter, constant_memory). See sample_data/README.md for the sizes.
Values are plausible rather than storied: each pupil's placements follow one another 150 days
apart, attendance runs weekly from 15 weeks before the first placement, and every key
(data-spec §6) is unique within its file.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analytics.schema import column_names

from .upn import make_upns
from .world import (ETHNICITIES, EXCLUSION_REASONS, FIRST_NAMES_F, FIRST_NAMES_M, LAST_NAMES,
                    PROVIDERS, SCHOOLS, _OBJECTIVES)

LA_NUMBER = 999
EPOCH = np.datetime64("1970-01-01", "D")
FIRST_START = np.datetime64("2022-09-05", "D")
LAST_DAY = np.datetime64("2025-07-22", "D")
CHUNK = 1_000_000

REASONS = ("permanent_exclusion", "suspension", "behaviour_support", "medical_physical",
           "medical_mental_health", "awaiting_school_place", "awaiting_specialist_place", "other")
REASON_P = (22, 8, 22, 6, 15, 8, 10, 9)
DESTINATIONS = ("mainstream", "special", "other_ap", "post16", "neet", "ehe", "moved_away", "other",
                "unknown", None)
DESTINATION_P = (42, 9, 11, 5, 2, 4, 3, 3, 4, 17)


def _p(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


def _strings(values, idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """values[idx] as a pyarrow string array (nulls where mask), built in C++."""
    arr = pa.array(list(values), type=pa.string()).take(pa.array(idx.astype(np.int64)))
    if mask is not None and mask.any():
        arr = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), arr)
    return arr


def _dates(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(days.astype("datetime64[D]"), type=pa.date32(),
                    mask=mask if mask is not None and mask.any() else None)


def _to_weekday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays to the next Monday (1970-01-01 was a Thursday)."""
    wd = (days.astype(np.int64) + 3) % 7
    return days + np.where(wd >= 5, 7 - wd, 0).astype("timedelta64[D]")


def _monday(days: np.ndarray) -> np.ndarray:
    wd = (days.astype("datetime64[D]").astype(np.int64) + 3) % 7
    return days - wd.astype("timedelta64[D]")


class _Writer:
    def __init__(self, path: Path, schema: pa.Schema):
        self.path = path
        self.rows = 0
        self.w = pacsv.CSVWriter(str(path), schema,
                                 write_options=pacsv.WriteOptions(quoting_style="needed"))

    def write(self, table: pa.Table) -> None:
        self.w.write_table(table)
        self.rows += table.num_rows

    def close(self) -> None:
        self.w.close()


def _pupils(rng: np.random.Generator, n: int) -> dict:
    i = np.arange(n, dtype=np.int64)
    dob = np.datetime64("2006-09-01", "D") + rng.integers(0, 365 * 10, n).astype("timedelta64[D]")
    dob_year = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    school = rng.integers(0, len(SCHOOLS), n)
    sex = rng.choice(3, n, p=_p((67, 32, 1)))
    first_m = rng.integers(0, len(FIRST_NAMES_M), n)
    first_f = rng.integers(0, len(FIRST_NAMES_F), n)
    upn = make_upns(LA_NUMBER, 1000 + (i // 1000) % 9000, (dob_year + 5) % 100, i % 1000)
    eth_codes = list(ETHNICITIES)
    return {
        "upn": pa.array(upn, type=pa.string()),
        "first": np.where(sex == 0, first_m, len(FIRST_NAMES_M) + first_f),
        "last": rng.integers(0, len(LAST_NAMES), n),
        "dob": dob, "sex": sex, "school": school,
        "ethnicity": rng.choice(len(eth_codes), n, p=_p(list(ETHNICITIES.values()))),
        "sen": rng.choice(3, n, p=_p((22, 45, 33))),
        "cla": rng.random(n) < 0.09, "fsm": rng.random(n) < 0.56,
        "rate": np.clip(rng.normal(0.74, 0.16, n), 0.05, 0.99),
    }


def default_attendance_rows(placements: int) -> int:
    """50 weekly rows per placement at LA scale (5,000), falling to 20 at national scale
    (1,000,000), log-linearly between: 250,000 and 20,000,000 rows, the two benchmark sizes.

    >>> default_attendance_rows(5_000), default_attendance_rows(1_000_000)
    (250000, 20000000)
    """
    share = np.log(max(placements, 1) / 5_000) / np.log(200)
    per = float(np.clip(50 - 30 * share, 20, 50))
    return int(round(placements * per))


def write_bench(out: Path, pupils: int, seed: int = 2025, placements: int | None = None,
                attendance_rows: int | None = None, xlsx_rows: int | None = None) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = max(1, pupils)
    n_pl = placements if placements is not None else round(1.25 * n)
    n_att = attendance_rows if attendance_rows is not None else default_attendance_rows(n_pl)
    n_xlsx = xlsx_rows if xlsx_rows is not None else min(n_pl, 50_000)
    P = _pupils(rng, n)
    first_names = FIRST_NAMES_M + FIRST_NAMES_F
    school_names = [s.name for s in SCHOOLS]
    school_urns = [s.urn for s in SCHOOLS]
    school_trusts = [s.trust for s in SCHOOLS]
    trust_mask_by_school = np.array([s.trust is None for s in SCHOOLS])
    eth_codes = list(ETHNICITIES)

    # ---- placements: every pupil placed once (while placements last), the rest at random
    if n_pl >= n:
        owner = np.concatenate([np.arange(n), rng.integers(0, n, n_pl - n)])
    else:
        owner = np.arange(n_pl)
    owner.sort(kind="stable")
    first_of_owner = np.searchsorted(owner, owner, side="left")
    rank = np.arange(n_pl) - first_of_owner
    pupil_start = FIRST_START + rng.integers(0, 900, n).astype("timedelta64[D]")
    start = _to_weekday(pupil_start[owner] + (rank * 150).astype("timedelta64[D]"))
    provider = rng.choice(len(PROVIDERS), n_pl, p=_p([6, 4, 3, 3, 1, 1, 1, 1, 1, 4, 3, 2, 1, 1, 2, 2, 3, 2]))
    reason = rng.choice(len(REASONS), n_pl, p=_p(REASON_P))
    # capped below the 150-day spacing so that a pupil's placements never overlap
    duration = np.minimum(np.exp(rng.uniform(np.log(10), np.log(730), n_pl)), 140).astype(np.int64)
    end = start + duration.astype("timedelta64[D]")
    open_ = (end > LAST_DAY) | (rng.random(n_pl) < 0.05)
    planned = start + (duration * rng.uniform(0.6, 1.3, n_pl)).astype(np.int64).astype("timedelta64[D]")
    no_planned = rng.random(n_pl) < 0.2
    review = start + (rng.uniform(0, 1, n_pl) * np.minimum(duration, 60)).astype(np.int64).astype("timedelta64[D]")
    no_review = rng.random(n_pl) < 0.2
    hours_choices = np.array([5, 10, 12.5, 15, 20, 25, 25, 27.5])
    hours = hours_choices[rng.integers(0, len(hours_choices), n_pl)]
    sessions = np.clip(np.round(hours / 2.5), 1, 10).astype(np.int64)
    dest = rng.choice(len(DESTINATIONS), n_pl, p=_p(DESTINATION_P))
    dest_mask = open_ | (dest == len(DESTINATIONS) - 1)
    objectives = rng.integers(0, len(_OBJECTIVES), n_pl)
    cost = np.round(rng.uniform(100, 1500, n_pl) / 5) * 5
    pv = PROVIDERS
    school_of = P["school"][owner]
    cols = {
        "pupil_id": P["upn"].take(pa.array(owner)),
        "first_name": _strings(first_names, P["first"][owner]),
        "last_name": _strings(LAST_NAMES, P["last"][owner]),
        "date_of_birth": _dates(P["dob"][owner]),
        "sex": _strings("MFU", P["sex"][owner]),
        "ethnicity": _strings(eth_codes, P["ethnicity"][owner]),
        "sen_status": _strings("EKN", P["sen"][owner]),
        "cla": pa.array(P["cla"][owner]), "fsm": pa.array(P["fsm"][owner]),
        "nc_year": pa.array(np.full(n_pl, None), type=pa.string()),  # derived from date_of_birth
        "home_school": _strings(school_names, school_of),
        "home_school_urn": _strings(school_urns, school_of),
        "trust": _strings([t or "" for t in school_trusts], school_of, trust_mask_by_school[school_of]),
        "provider": _strings([p.name for p in pv], provider),
        "provider_urn": _strings([p.urn or "" for p in pv], provider,
                                 np.array([p.urn is None for p in pv])[provider]),
        "provider_ukprn": _strings([p.ukprn or "" for p in pv], provider,
                                   np.array([p.ukprn is None for p in pv])[provider]),
        "setting_type": _strings([p.setting_type for p in pv], provider),
        "registered": pa.array(np.full(n_pl, None), type=pa.bool_()),
        "commissioner": _strings(("school", "la"), np.where(np.isin(reason, (1, 2)), 0, 1)
                                 ^ (rng.random(n_pl) < 0.1)),
        "reason": _strings(REASONS, reason),
        "start_date": _dates(start),
        "planned_end_date": _dates(planned, no_planned),
        "end_date": _dates(end, open_),
        "hours_per_week": pa.array(hours),
        "sessions_per_week": pa.array(sessions),
        "objectives": _strings(_OBJECTIVES, objectives, rng.random(n_pl) < 0.15),
        "last_review_date": _dates(review, no_review),
        "destination": _strings([d or "" for d in DESTINATIONS], dest, dest_mask),
        "out_of_area": pa.array(np.array([p.out_of_area for p in pv])[provider]),
        "cost_per_week": pa.array(cost, mask=np.array([p.cost is None for p in pv])[provider]),
    }
    placements_table = pa.table({c: cols[c] for c in column_names("placements") if c != "ethnicity_group"})
    files = []
    w = _Writer(out / "placements.csv", placements_table.schema)
    for off in range(0, n_pl, CHUNK):
        w.write(placements_table.slice(off, CHUNK))
    w.close()
    files.append({"file": "placements.csv", "dataset": "placements", "rows": w.rows})

    # ---- attendance: weekly rows per placed pupil, from 15 weeks before the first placement
    placed = np.unique(owner)
    first_start = start[np.searchsorted(owner, placed)]
    first_provider = provider[np.searchsorted(owner, placed)]
    first_sessions = sessions[np.searchsorted(owner, placed)]
    k = len(placed)
    per = np.full(k, n_att // k, dtype=np.int64)
    per[: n_att % k] += 1
    bounds = np.concatenate([[0], np.cumsum(per)])
    setting_names = school_names + [p.name for p in pv]
    att_schema = pa.schema([("pupil_id", pa.string()), ("period_start", pa.date32()),
                            ("period_end", pa.date32()), ("possible_sessions", pa.int64()),
                            ("attended_sessions", pa.int64()), ("setting", pa.string())])
    w = _Writer(out / "attendance.csv", att_schema)
    a = 0
    while a < k:
        b = int(np.searchsorted(bounds, bounds[a] + CHUNK, side="right")) - 1
        b = max(b, a + 1)
        counts = per[a:b]
        idx = np.repeat(np.arange(a, b), counts)
        week = np.arange(len(idx)) - np.repeat(bounds[a:b] - bounds[a], counts)
        pupil = placed[idx]
        monday0 = _monday(first_start[idx]) - np.timedelta64(15 * 7, "D")
        period_start = monday0 + (week * 7).astype("timedelta64[D]")
        during = period_start >= _monday(first_start[idx])
        possible = np.where(during, first_sessions[idx], 10)
        rate = np.clip(P["rate"][pupil] + np.where(during, 0.03, 0) + rng.normal(0, 0.08, len(idx)), 0, 1)
        attended = rng.binomial(possible, rate)
        setting = np.where(during, len(school_names) + first_provider[idx], P["school"][pupil])
        w.write(pa.table([P["upn"].take(pa.array(pupil)), _dates(period_start),
                          _dates(period_start + np.timedelta64(4, "D")), pa.array(possible),
                          pa.array(attended), _strings(setting_names, setting)], schema=att_schema))
        a = b
    w.close()
    files.append({"file": "attendance.csv", "dataset": "attendance", "rows": w.rows})

    # ---- exclusions: ~0.6 per pupil; keys (pupil, date, category) made unique
    n_ex = round(0.6 * n)
    who = rng.integers(0, n, n_ex)
    when = _to_weekday(FIRST_START + rng.integers(0, 1050, n_ex).astype("timedelta64[D]"))
    cat = rng.choice(3, n_ex, p=_p((80, 12, 8)))
    key = (who * 2000 + (when - FIRST_START).astype(np.int64)) * 3 + cat
    _, keep = np.unique(key, return_index=True)
    keep.sort()
    who, when, cat = who[keep], when[keep], cat[keep]
    m = len(keep)
    sess = rng.choice(np.array([1, 2, 4, 6, 10]), m, p=_p((2, 8, 6, 3, 1))).astype(float)
    ex_codes = list(EXCLUSION_REASONS)
    ex_school = P["school"][who]
    ex = pa.table({
        "pupil_id": P["upn"].take(pa.array(who)),
        "category": _strings(("suspension", "permanent", "lunchtime"), cat),
        "start_date": _dates(when),
        "sessions": pa.array(sess, mask=cat != 0),
        "reason": _strings(ex_codes, rng.choice(len(ex_codes), m, p=_p(list(EXCLUSION_REASONS.values())))),
        "school": _strings(school_names, ex_school),
        "school_urn": _strings(school_urns, ex_school),
        "trust": _strings([t or "" for t in school_trusts], ex_school, trust_mask_by_school[ex_school]),
    })
    w = _Writer(out / "exclusions.csv", ex.schema)
    w.write(ex)
    w.close()
    files.append({"file": "exclusions.csv", "dataset": "exclusions", "rows": w.rows})

    # ---- assessments: a baseline before each placement and one value during it
    sdq = rng.random(n_pl) < 0.4
    base_day = start - rng.integers(0, 20, n_pl).astype("timedelta64[D]")
    later_day = start + rng.integers(30, 120, n_pl).astype("timedelta64[D]")
    age_months = (base_day - P["dob"][owner]).astype(np.int64) / 30.44
    base_val = np.where(sdq, rng.integers(12, 33, n_pl), np.round(age_months - rng.uniform(6, 60, n_pl)))
    later_val = np.where(sdq, np.clip(base_val + np.round(rng.normal(-1.5, 2.5, n_pl)), 0, 40),
                         base_val + np.round(rng.normal(3.5, 3, n_pl)))
    both = np.concatenate
    ass = pa.table({
        "pupil_id": pa.concat_arrays([cols["pupil_id"], cols["pupil_id"]]),
        "measure": _strings(("Reading age", "SDQ total"), both([sdq, sdq]).astype(np.int64)),
        "date": _dates(both([base_day, later_day])),
        "value": pa.array(both([base_val, later_val]).astype(float)),
        "higher_is_better": pa.array(~both([sdq, sdq])),
    })
    w = _Writer(out / "assessments.csv", ass.schema)
    for off in range(0, ass.num_rows, CHUNK):
        w.write(ass.slice(off, CHUNK))
    w.close()
    files.append({"file": "assessments.csv", "dataset": "assessments", "rows": w.rows})

    if n_xlsx > 0:
        rows = _write_xlsx(out / "placements.xlsx", placements_table.slice(0, n_xlsx))
        files.append({"file": "placements.xlsx", "dataset": "placements", "rows": rows})
    return files


def _write_xlsx(path: Path, table: pa.Table) -> int:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "default_date_format": "dd/mm/yyyy",
                                         "strings_to_numbers": False, "strings_to_formulas": False,
                                         "strings_to_urls": False})
    wb.set_properties({"created": datetime(2025, 7, 31, 12, 0, 0), "author": "sample_data (synthetic)"})
    ws = wb.add_worksheet("Placements")
    ws.write_row(0, 0, table.column_names)
    # one writer per column, chosen from its Arrow type (not per cell)
    writers = []
    for field in table.schema:
        if pa.types.is_date(field.type):
            writers.append(ws.write_datetime)
        elif pa.types.is_boolean(field.type):
            writers.append(ws.write_boolean)
        elif pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            writers.append(ws.write_number)
        else:
            writers.append(ws.write_string)
    r = 0
    for batch in table.to_batches(max_chunksize=20_000):
        columns = [col.to_pylist() for col in batch.columns]
        for row in zip(*columns):
            r += 1
            for c, v in enumerate(row):
                if v is not None:
                    writers[c](r, c, v)
    wb.close()
    return r
