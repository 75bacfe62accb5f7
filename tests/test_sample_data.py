"""The synthetic sample data: reproducible, valid UPNs, realistic, and exercising every metric.

The checks below re-derive what they test (UPN check letters, school days, the 182-day rule)
from the specs instead of calling the generator's own helpers.
"""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from analytics.schema import DESTINATIONS, REASONS, SETTING_TYPES
from sample_data.generate import main as generate_main
from sample_data.termly import write_termly
from sample_data.world import simulate

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "sample_data" / "files"
AS_AT = date(2025, 7, 22)  # the last export


# --- independent helpers ---------------------------------------------------------------------

def upn_is_valid(upn: str) -> bool:
    """dfe-codes.md §4.1: letter 1 = ALPHABET[sum(position * value, positions 2..13) mod 23]."""
    alphabet = "ABCDEFGHJKLMNPQRTUVWXYZ"
    if not re.fullmatch(r"[A-Z]\d{11}[0-9A-Z]", upn):
        return False
    total = 0
    for position in range(2, 14):
        ch = upn[position - 1]
        total += position * (int(ch) if ch.isdigit() else alphabet.index(ch))
    return upn[0] == alphabet[total % 23]


def test_upn_helper_matches_published_examples():
    assert upn_is_valid("B801200005001")
    assert upn_is_valid("P207000016049")      # dfe-codes.md: the corrected Arbor example
    assert not upn_is_valid("Q207000016049")


def sixth_weekday(d: date) -> date:
    """metrics.md §4 with no holiday calendar loaded: day one is d (a weekday), then weekdays."""
    n = 1
    while n < 6:
        d += timedelta(days=1)
        if d.weekday() < 5:
            n += 1
    return d


# --- fixtures --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world():
    return simulate()


@pytest.fixture(scope="module")
def fresh(world, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_termly(world, out)
    return out


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return file_texts(COMMITTED)


def file_texts(folder: Path) -> dict[str, str]:
    """Every cell of every file as text (CSV decoded as its encoding, xlsx cells joined)."""
    texts = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv":
            raw = path.read_bytes()
            try:
                texts[path.name] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                texts[path.name] = raw.decode("cp1252")
        elif path.suffix == ".xlsx":
            wb = CalamineWorkbook.from_path(str(path))
            texts[path.name] = "\n".join(
                "\t".join("" if v is None else str(v) for v in row)
                for name in wb.sheet_names for row in wb.get_sheet_by_name(name).to_python())
    return texts


# --- reproducibility -------------------------------------------------------------------------

def test_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert generate_main(["--out", str(out), "--pupils", "80", "--seed", "7"]) == 0
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir()) and len(names) > 30
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_committed_files_equal_a_fresh_generation(fresh):
    committed = sorted(p.name for p in COMMITTED.iterdir())
    assert committed == sorted(p.name for p in fresh.iterdir())
    for name in committed:
        assert (COMMITTED / name).read_bytes() == (fresh / name).read_bytes(), \
            f"{name} differs: run `make sample` and commit"


def test_committed_files_are_small():
    assert sum(p.stat().st_size for p in COMMITTED.iterdir()) < 3_000_000


def test_file_names_sort_in_load_order():
    names = sorted(p.name for p in COMMITTED.iterdir())
    terms = [n[:9] for n in names]  # e.g. 2022-23_1
    assert terms == sorted(terms)
    assert names[0].startswith("2021-22_3") and names[-1].startswith("2024-25_3")


# --- UPNs ------------------------------------------------------------------------------------

def test_every_upn_in_every_file_has_a_valid_check_letter(texts):
    upns = set()
    for text in texts.values():
        upns |= set(re.findall(r"\b[A-Z]\d{12}\b", text))
    assert len(upns) > 400
    bad = sorted(u for u in upns if not upn_is_valid(u))
    assert not bad
    assert all(u[1:4] == "999" for u in upns)  # the synthetic LA number


def test_every_pupil_has_a_valid_upn(world):
    assert world.pupils and all(upn_is_valid(p.upn) for p in world.pupils)
    assert len({p.upn for p in world.pupils}) == len(world.pupils)


# --- deliberate messiness --------------------------------------------------------------------

def test_deliberate_rejects_and_shapes_are_present(texts):
    t = texts["2022-23_3_summer_placements.csv"]
    assert "£1,250.00" in t or re.search(r"£\d,\d{3}\.\d\d", t)
    assert (COMMITTED / "2022-23_3_summer_placements.csv").read_bytes().count("£".encode("cp1252")) > 0
    assert any(line.startswith(",") for line in t.splitlines()[1:])  # the row with no Pupil Ref
    t = texts["2023-24_2_spring_placements.csv"]
    assert "03/14/2024" in t and "15/03/2023" in t
    assert "Internal exclusion" in texts["2023-24_1_autumn_ap_return.xlsx"]
    assert ",6,8," in texts["2023-24_1_autumn_attendance.csv"]
    assert ",110.0," in texts["2023-24_2_spring_attendance.csv"]
    assert texts["2022-23_3_summer_exclusions.csv"].splitlines()[0].count(";") == 7
    assert texts["2024-25_1_autumn_placements.csv"].splitlines()[0].count("\t") > 20
    assert texts["2024-25_2_spring_placements.csv"].rstrip().splitlines()[-1].startswith("Total")
    assert (COMMITTED / "2022-23_1_autumn_placements.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    marks = texts["2024-25_3_summer_register_marks.csv"].splitlines()
    assert marks[0] == "UPN,Date,AM,PM,Setting" and 50 < len(marks) < 200
    wb = openpyxl.load_workbook(COMMITTED / "2023-24_1_autumn_ap_return.xlsx", read_only=True)
    assert wb.sheetnames == ["Read me", "Placements", "Exclusions"]
    ws = openpyxl.load_workbook(COMMITTED / "2022-23_2_spring_placements.xlsx").active
    assert ws.cell(1, 1).value.startswith("Fernshire")          # title row above the header
    assert isinstance(ws.cell(5, 4).value, date)                 # a real date cell (DOB)


def _read_placements_csv(path: Path, delimiter: str) -> list[dict]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("UPN", "Pupil ID")))
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:])), delimiter=delimiter))
    return [r for r in rows if r.get("UPN", r.get("Pupil ID")) not in ("Total", "", None)]


def test_spring_file_repeats_autumns_open_placements_with_end_dates():
    autumn = _read_placements_csv(COMMITTED / "2024-25_1_autumn_placements.csv", "\t")
    spring = _read_placements_csv(COMMITTED / "2024-25_2_spring_placements.csv", ",")

    def parse(text: str, fmt: str) -> date | None:
        from datetime import datetime
        return datetime.strptime(text, fmt).date() if text else None

    a = {(r["Pupil ID"], r["AP Provider"], parse(r["Entry Date"], "%d-%m-%Y")): r for r in autumn}
    s = {(r["UPN"], r["AP Provider"], parse(r["Placement Start"], "%d %b %Y")): r for r in spring}
    open_in_autumn = [k for k, r in a.items() if not r["Date Ended"]]
    repeated = [k for k in open_in_autumn if k in s]
    assert len(repeated) == len(open_in_autumn) > 50
    closed_later = [k for k in repeated if s[k]["Actual End Date"]]
    assert len(closed_later) >= 10


# --- realism: the canonical world --------------------------------------------------------------

def test_reference_data(world):
    providers = {p.provider for p in world.placements}
    assert len(providers) >= 15
    assert {p.setting_type for p in providers} == set(SETTING_TYPES)
    assert any(p.urn for p in providers if p.setting_type == "state_ap_school")
    assert any(p.urn for p in providers if p.setting_type == "independent_school")
    assert any(p.ukprn and len(p.ukprn) == 8 for p in providers if p.setting_type == "fe_college")
    schools = {p.school for p in world.pupils}
    assert len(schools) == 30
    trusts = Counter(s.trust for s in schools)
    assert None in trusts and len(trusts) >= 4


def test_placements_cover_every_reason_destination_and_commissioner(world):
    pl = world.placements
    assert set(REASONS) == {p.reason for p in pl}
    ended = [p for p in pl if p.end_date is not None]
    dests = Counter(p.destination for p in ended)
    assert set(DESTINATIONS) <= set(dests) and dests[None] > 10  # some left blank
    assert 0.25 < dests["mainstream"] / len(ended) < 0.6
    assert {"school", "la"} == {p.commissioner for p in pl}
    days = sorted((p.end_date - p.start_date).days + 1 for p in ended)
    assert days[len(days) // 10] < 30 and days[-1] > 500  # weeks to two years


def test_open_placements_at_the_end(world):
    open_ = [p for p in world.placements if p.end_date is None]
    assert len(open_) >= 30
    assert sum(p.planned_end_date is None for p in open_) >= 5       # open-ended
    assert sum(p.start_date < AS_AT - timedelta(days=182) for p in open_) >= 5  # long placements


def test_transfers_between_providers(world):
    by_pupil = defaultdict(list)
    for p in world.placements:
        by_pupil[p.pupil.upn].append(p)
    transfers = 0
    for p in world.placements:
        if p.destination == "other_ap":
            nxt = [q for q in by_pupil[p.pupil.upn]
                   if q is not p and p.end_date < q.start_date <= p.end_date + timedelta(days=14)]
            transfers += bool(nxt and all(q.provider != p.provider for q in nxt))
    assert transfers >= 20


def test_returns_that_last_and_returns_that_break_down(world):
    starts = defaultdict(list)
    for p in world.placements:
        starts[p.pupil.upn].append(p.start_date)
    pex = defaultdict(list)
    for e in world.exclusions:
        if e.category == "permanent":
            pex[e.pupil.upn].append(e.start_date)
    sustained = broke = 0
    for p in world.placements:
        if p.destination != "mainstream" or p.end_date + timedelta(days=182) > AS_AT:
            continue
        window = (p.end_date, p.end_date + timedelta(days=182))
        again = [d for d in starts[p.pupil.upn] + pex[p.pupil.upn]
                 if window[0] <= d <= window[1] and d != p.start_date]
        broke += bool(again)
        sustained += not again
    assert sustained >= 40 and broke >= 15
    assert 0.5 < sustained / (sustained + broke) < 0.9


def test_permanent_exclusions_are_followed_by_placements(world):
    placements = defaultdict(list)
    for p in world.placements:
        placements[p.pupil.upn].append(p)
    met = late = 0
    for e in world.exclusions:
        if e.category != "permanent":
            continue
        sixth = sixth_weekday(e.start_date)
        after = [p.start_date for p in placements[e.pupil.upn] if p.start_date >= e.start_date]
        if not after:
            continue
        if min(after) <= sixth:
            met += 1
        else:
            late += 1
    assert met >= 40 and late >= 8 and met > 2 * late


def test_exclusions(world):
    cats = Counter(e.category for e in world.exclusions)
    assert cats["suspension"] > 200 and cats["permanent"] > 50 and cats["lunchtime"] > 20
    per_pupil = Counter(e.pupil.upn for e in world.exclusions if e.category == "suspension")
    assert sum(n >= 2 for n in per_pupil.values()) >= 30  # repeat suspensions
    keys = [(e.pupil.upn, e.start_date, e.category) for e in world.exclusions]
    assert len(keys) == len(set(keys))
    assert all(e.start_date.weekday() < 5 for e in world.exclusions)


def test_oversight_flags_occur_in_realistic_proportions(world):
    pl = world.placements
    n = len(pl)
    part_time = sum(p.hours_per_week < 25 for p in pl) / n
    assert 0.3 < part_time < 0.8
    assert 0.05 < sum(p.objectives is None for p in pl) / n < 0.35
    assert 0.1 < sum(p.planned_end_date is None for p in pl) / n < 0.4
    open_ = [p for p in pl if p.end_date is None]
    overdue = [p for p in open_ if (AS_AT - max([p.start_date] + [d for d in p.review_dates if d <= AS_AT])).days > 42]
    assert 0.1 < len(overdue) / len(open_) < 0.8
    passed = [p for p in open_ if p.planned_end_as_at(AS_AT) and p.planned_end_as_at(AS_AT) < AS_AT]
    assert passed
    unregistered_full_time = Counter(p.provider.name for p in open_ + pl
                                     if p.provider.urn is None and p.provider.ukprn is None
                                     and p.hours_per_week >= 18)
    assert max(unregistered_full_time.values()) >= 5


def test_pupil_characteristics(world):
    pupils = world.pupils
    assert {p.sex for p in pupils} == {"M", "F", "U"}
    assert {p.sen_status for p in pupils} == {"E", "K", "N"}
    assert 0.02 < sum(p.cla for p in pupils) / len(pupils) < 0.2
    assert 0.35 < sum(p.fsm for p in pupils) / len(pupils) < 0.75
    assert len({p.ethnicity for p in pupils}) >= 12
    years = []
    for p in world.placements:
        d, s = p.pupil.date_of_birth, p.start_date
        sept = s.year if s.month >= 9 else s.year - 1
        age = sept - d.year - ((8, 31) < (d.month, d.day))  # age on 31 August before
        years.append(age - 4)
    assert min(years) >= 1 and max(years) <= 11
    assert sum(7 <= y <= 11 for y in years) / len(years) > 0.75


def test_attendance(world):
    rows = world.attendance
    assert 10_000 < len(rows) < 40_000
    assert all(0 <= a.attended <= a.possible <= 10 for a in rows)
    assert all(a.period_start.weekday() == 0 and a.period_end == a.period_start + timedelta(days=4)
               for a in rows)
    keys = [(a.pupil.upn, a.period_start, a.setting) for a in rows]
    assert len(keys) == len(set(keys))
    first_row = {}
    for a in rows:
        first_row[a.pupil.upn] = min(first_row.get(a.pupil.upn, date.max), a.period_start)
    later = [p for p in world.placements if p.start_date >= date(2022, 9, 5)]
    with_baseline = [p for p in later if first_row.get(p.pupil.upn, date.max) <= p.start_date - timedelta(days=91)]
    assert len(with_baseline) / len(later) > 0.8
    during = defaultdict(lambda: [0, 0])
    for a in rows:
        during[(a.pupil.upn, a.setting)][0] += a.attended
        during[(a.pupil.upn, a.setting)][1] += a.possible
    rates = [att / pos for att, pos in during.values() if pos >= 20]
    assert sum(r < 0.5 for r in rates) >= 20 and sum(r > 0.9 for r in rates) >= 20
    assert sum(a.marks is not None for a in rows) >= 15


def test_assessments(world):
    measures = {(a.measure, a.higher_is_better) for a in world.assessments}
    assert measures == {("Reading age", True), ("SDQ total", False)}
    by_pupil = defaultdict(list)
    for a in world.assessments:
        by_pupil[a.pupil.upn].append(a)
    pairs = 0
    for p in world.placements:
        got = by_pupil[p.pupil.upn]
        stop = p.end_date or AS_AT
        base = [a for a in got if a.measure == "Reading age" and a.date <= p.start_date]
        later = [a for a in got if a.measure == "Reading age" and p.start_date < a.date <= stop]
        pairs += bool(base and later)
    assert pairs >= 150


# --- benchmark format ------------------------------------------------------------------------

def test_bench_format_small(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, "-m", "sample_data.generate", "--format", "bench",
                           "--pupils", "400", "--out", str(out), "--xlsx-rows", "50"],
                          cwd=ROOT, capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout)
    files = {f["file"]: f for f in report["files"]}
    assert set(files) == {"placements.csv", "attendance.csv", "exclusions.csv", "assessments.csv",
                          "placements.xlsx"}
    # 50 weekly rows per placement at LA scale and below
    assert files["placements.csv"]["rows"] == 500 and files["attendance.csv"]["rows"] == 25_000
    with open(out / "placements.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 500
    assert list(rows[0])[:3] == ["pupil_id", "first_name", "last_name"]
    assert all(upn_is_valid(r["pupil_id"]) for r in rows)
    assert {r["setting_type"] for r in rows} == set(SETTING_TYPES)
    with open(out / "attendance.csv", newline="") as f:
        att = list(csv.DictReader(f))
    assert len(att) == 25_000
    assert all(0 <= float(r["attended_sessions"]) <= float(r["possible_sessions"]) for r in att)
    ws = openpyxl.load_workbook(out / "placements.xlsx", read_only=True).active
    assert sum(1 for _ in ws.iter_rows()) == 51


# --- the importer reads every committed file ---------------------------------------------------

EXPECTED_REJECTS = {  # file -> number of deliberately bad rows (sample_data/README.md)
    "2022-23_3_summer_placements.csv": 1,   # no Pupil Ref
    "2023-24_2_spring_placements.csv": 2,   # end before start; month-first 03/14/2024
    "2023-24_1_autumn_attendance.csv": 1,   # attended > possible
    "2023-24_2_spring_attendance.csv": 1,   # 110%
    "2023-24_1_autumn_ap_return.xlsx": 1,   # "Internal exclusion"
}
EXPECTED_TOTAL_ROWS = {"2022-23_2_spring_placements.xlsx", "2023-24_1_autumn_attendance.csv",
                       "2024-25_2_spring_placements.csv"}


@pytest.mark.slow
def test_the_importer_recognises_every_file_and_rejects_only_the_deliberate_rows(world):
    ingest = pytest.importorskip("analytics.ingest")
    from sample_data.school_calendar import TERMS
    open_in_term = {t.label[:9]: sum(p.start_date <= t.end and (p.end_date is None or p.end_date >= t.start)
                                     for p in world.placements) for t in TERMS}
    accepted = Counter()
    for path in sorted(COMMITTED.iterdir()):
        sheets = ingest.read_file(path, path.name)
        rejects = sum(s.rejected.num_rows for s in sheets if s.dataset)
        assert rejects == EXPECTED_REJECTS.get(path.name, 0), path.name
        assert sum(s.summary_rows for s in sheets) == (path.name in EXPECTED_TOTAL_ROWS), path.name
        for s in sheets:
            if s.sheet in ("Read me", "Notes"):
                assert s.dataset is None and s.skipped_reason
                continue
            assert s.dataset, (path.name, s.sheet, s.skipped_reason)
            accepted[s.dataset] += s.accepted.num_rows
            if s.dataset == "placements":
                assert s.accepted.num_rows == open_in_term[path.name[:9]], path.name
    assert accepted["attendance"] == len(world.attendance)
    assert accepted["exclusions"] == len(world.exclusions)
    assert accepted["assessments"] == len(world.assessments)
