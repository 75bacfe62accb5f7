"""Fixtures for the app tests (AppTest and the browser): sample files and a database loaded
with them.

The committed sample files (sample_data/files) are used when they are there; otherwise a small
synthetic set is written here, with names, UPNs and dates of birth the presentation-mode tests
look for, and one row that must be rejected.
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample_data" / "files"

FIRST = ["Amira", "Bartholomew", "Chloe", "Dmitri", "Eleanor", "Fionnuala", "Gethin", "Harriet", "Ismail",
         "Jocasta", "Kwame", "Leontyne", "Mairead", "Nkechi", "Oluwaseun"]
LAST = ["Abernethy", "Blackwood", "Castellano", "Dunmore", "Ellingham", "Fairweather", "Grimshaw", "Hollingsworth"]


def _upn(i: int) -> str:
    """A UPN-shaped identifier with a valid check letter (DfE algorithm)."""
    body = f"{823:03d}{1234:04d}{i:05d}"[:12]
    letters = "ABCDEFGHJKLMNPQRTUVWXYZ"
    total = sum(int(d) * (w + 2) for w, d in enumerate(body))
    return letters[total % 23] + body


def write_synthetic_files(folder: Path, n: int = 48, seed: int = 7, today: date | None = None) -> list[Path]:
    """Placements, exclusions, attendance and assessments CSVs (the shape schools send)."""
    rng = random.Random(seed)
    today = today or date.today()
    start0 = date(today.year - 2, 9, 1)
    folder.mkdir(parents=True, exist_ok=True)
    providers = [("Oak Tree PRU", "139001", "PRU"), ("Riverside Tuition", "", "Tuition"),
                 ("Hilltop AP Academy", "139002", "AP academy"), ("Online Learning Ltd", "", "online")]
    reasons = ["PEX", "behaviour", "mental health", "awaiting school place", "medical"]
    dests = ["returned to home school", "special school", "another AP", "", "NEET", "college"]
    pl = ["UPN,Forename,Surname,DOB,Gender,SEN,LAC,FSM,Home School,Trust,AP Provider,Provider URN,AP Type,"
          "Commissioned By,Placement Reason,Start Date,Planned End,Actual End Date,Hours,Objectives,Last Review,"
          "Destination,Weekly Cost"]
    ex = ["UPN,Exclusion Type,Start Date,Sessions,Reason,School"]
    att = ["UPN,Week Commencing,Possible,Attended"]
    ass = ["UPN,Measure,Date,Score"]
    span = (today - start0).days
    for i in range(n):
        p = providers[i % len(providers)]
        s = start0 + timedelta(days=rng.randint(0, span - 10))
        end = s + timedelta(days=rng.randint(20, 300))
        if end >= today or rng.random() < 0.35:
            end = None
        u = _upn(i)
        dob = date(today.year - rng.randint(11, 15), rng.randint(1, 12), rng.randint(1, 28))
        pl.append(",".join([
            u, FIRST[i % len(FIRST)], LAST[i % len(LAST)], dob.strftime("%d/%m/%Y"), rng.choice("MF"),
            rng.choice(["EHCP", "SEN support", "No SEN"]), rng.choice(["Y", "N"]), rng.choice(["Y", "N"]),
            rng.choice(["Northfield High", "Southgate Academy", "Eastwood School"]), rng.choice(["Bright Futures MAT", ""]),
            p[0], p[1], p[2], rng.choice(["LA", "School"]), rng.choice(reasons), s.strftime("%d/%m/%Y"),
            (s + timedelta(days=90)).strftime("%d/%m/%Y") if rng.random() < .7 else "",
            end.strftime("%d/%m/%Y") if end else "", str(rng.choice([10, 15, 25, 30])),
            rng.choice(["Improve attendance", "", "Reintegrate to mainstream"]),
            (s + timedelta(days=30)).strftime("%d/%m/%Y") if rng.random() < .6 else "",
            rng.choice(dests) if end else "", rng.choice(["", "450", "£1,200.00"])]))
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["Fixed period", "Fixed period", "Permanent"])
            ex.append(f"{u},{kind},{(s - timedelta(days=rng.randint(1, 40))).strftime('%d/%m/%Y')},2,PA,Northfield High")
        for w in range(-8, 10):
            d = s + timedelta(weeks=w)
            d -= timedelta(days=d.weekday())
            if d < today:
                att.append(f"{u},{d.strftime('%d/%m/%Y')},10,{rng.randint(2, 10)}")
        for measure, base in (("Reading age", 90), ("Wellbeing score", 20)):
            ass.append(f"{u},{measure},{(s - timedelta(days=5)).strftime('%d/%m/%Y')},{base + rng.randint(-5, 5)}")
            later = s + timedelta(days=rng.randint(30, 120))
            if later < today:
                ass.append(f"{u},{measure},{later.strftime('%d/%m/%Y')},{base + rng.randint(-8, 12)}")
    pl.append("NOT-A-UPN,Zebedee,Quixote,,,,,,,,,,,,,31/02/2025,,,,,,,")
    files = []
    for name, rows in (("placements.csv", pl), ("exclusions.csv", ex), ("attendance.csv", att),
                       ("assessments.csv", ass)):
        path = folder / name
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        files.append(path)
    return files


def sample_files(tmp_root: Path) -> list[Path]:
    """A private copy of the committed sample files (or the synthetic set when there are none)."""
    import shutil

    committed = sorted(p for p in SAMPLE_DIR.glob("*") if p.suffix.lower() in (".csv", ".xlsx")) \
        if SAMPLE_DIR.is_dir() else []
    copies = []
    for p in committed:
        target = tmp_root / "committed" / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(p, target)
        except OSError:
            continue
        copies.append(target)
    return copies or write_synthetic_files(tmp_root / "synthetic")


@pytest.fixture(scope="session")
def sample_file_paths(tmp_path_factory) -> list[Path]:
    return sample_files(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory, sample_file_paths) -> Path:
    """A database with every sample file loaded (the store closed again afterwards)."""
    from analytics.store import Store

    path = tmp_path_factory.mktemp("db") / "ap.duckdb"
    with Store(path) as store:
        for f in sample_file_paths:
            store.ingest_file(f)
    return path


@pytest.fixture(scope="session")
def sample_db_copy(sample_db, tmp_path_factory) -> Path:
    """A private copy of sample_db for tests that open it read-only: the app tests leave
    sample_db open read-write in this process (the app's cached Store), and DuckDB refuses to
    open one file with two configurations in one process."""
    import shutil

    path = tmp_path_factory.mktemp("db_copy") / "ap.duckdb"
    shutil.copyfile(sample_db, path)
    wal = Path(f"{sample_db}.wal")
    if wal.exists():
        shutil.copyfile(wal, Path(f"{path}.wal"))
    return path


@pytest.fixture(scope="session")
def personal_strings(sample_db) -> dict[str, set[str]]:
    """Names, UPNs and dates of birth in the sample database (what presentation mode must hide)."""
    import duckdb

    con = duckdb.connect(str(sample_db))  # same configuration as the app's Store (one instance per process)
    try:
        rows = con.execute("SELECT DISTINCT pupil_id, first_name, last_name, date_of_birth FROM placements").fetchall()
    finally:
        con.close()
    upns, names, dobs = set(), set(), set()
    for upn, first, last, dob in rows:
        upns.add(str(upn))
        if first and last:
            names.add(f"{first} {last}")
        if last and len(str(last)) >= 5:
            names.add(str(last))
        if dob:
            dobs.update({dob.isoformat(), dob.strftime("%d/%m/%Y"), dob.strftime("%d %b %Y")})
    return {"upn": upns, "name": names, "dob": dobs}
