"""The headless report against an independent model, on random datasets with edge cases.

tests/differential_model.py is an independent pandas model of every key of the metrics.md §8
report, written by an outside reviewer from metrics.md and data-spec.md alone (it imports
nothing from analytics/). tests/differential_gen.py makes small random datasets of synthetic
pupils (UPNs from LA 999) full of edge cases: dates on as_of, as_of±1, the period's ends,
1 September and 29 February; returns followed by a new placement at end+sustain(+1); permanent
exclusions at weekends with placements around the sixth school day; attendance rows at the
baseline window's ends; lower-is-better and oddly spelt measures; non-default settings.
Seed families:
  < 1000      plain CSV files;
  1000-1999   history (a second placements upload, as xlsx with date cells or CSV, dropping
              columns), messy pupil IDs, % attendance, register marks, rows that must be
              rejected, a UPN with a wrong check letter (a warning only);
  >= 2000     as 1000-1999, plus correction uploads (a narrow placements file with a title row
              and a Total row that clears or moves end dates, an attendance fix whose setting
              differs in case) and exclusions as ';'-separated Windows-1252. The corrections
              are newer uploads by design but can look older to the ingest check, which loads
              them with a warning (exit 0, metrics.md §8; the reviewer's finding F2). The
              odd seeds pass --allow-older, which older scripts still give.

Each test writes one dataset under tmp_path, runs `ingest` in-process (every file loaded, with
the number of rows accepted and rejected the generator expects), then each of the dataset's
4-5 report runs (default period; --from/--to; a second as_of; a one-day period; --from after
as_of, which must be refused) and compares every key with the model.

The fixed seeds were picked from the reviewer's runs (all 266 datasets agreed) to cover the
edge cases between them. To try more locally, set AP_DIFF_SEEDS to seeds and inclusive ranges:
    AP_DIFF_SEEDS="1000-1100" .venv/bin/python -m pytest -q tests/test_differential.py
    AP_DIFF_SEEDS="100-109,1000-1009,2000-2009" ...
Measure names, settings and provider names are case-folded as metrics.md and data-spec §6 say
('Maß' and 'MASS' are one measure); until finding F1 was fixed the product lower-cased them.
"""
from __future__ import annotations

import json
import os
import re

import pytest

from analytics.__main__ import main
from tests import differential_model as model
from tests.differential_gen import gen

# plain: 157 and 308 non-default settings (24.9 hours), 157 a refused --from, 308/503/123/513 as_of
# near 29 Feb 2024, 308/503 a return broken within the sustain window, sixth-day met and missed.
# messy: 1123/1150 xlsx with dropped columns, 1123 'Maß'/'MASS'/'Straße' and 'Reading  age'
# paired, 1150 a refused --from, 1135 as_of at 1 September, 1135/1146 rejected rows.
# corrections: 2005/2010 'Maß'-type measures paired, 2006 non-default settings and xlsx.
FIXED_SEEDS = [123, 157, 307, 308, 503, 513, 1123, 1135, 1146, 1150, 2005, 2006, 2010]

FLAGS = {"full_time_hours": "--full-time-hours", "review_interval_days": "--review-interval-days",
         "long_placement_days": "--long-placement-days", "baseline_days": "--baseline-days",
         "sustain_days": "--sustain-days", "part_time_limit_days": "--part-time-limit-days",
         "low_attendance": "--low-attendance"}


def seeds_from(text: str | None) -> list[int]:
    """AP_DIFF_SEEDS: seeds and inclusive ranges, comma-separated; the fixed list when unset.

    >>> seeds_from("100-102, 2000")
    [100, 101, 102, 2000]
    """
    if not text or not text.strip():
        return FIXED_SEEDS
    out = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def dataset_of(file_name: str) -> str:
    return "attendance" if file_name.startswith("register_marks") else re.match(r"[a-z]+", file_name)[0]


def run(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize("seed", seeds_from(os.environ.get("AP_DIFF_SEEDS")))
def test_report_agrees_with_the_independent_model(seed, tmp_path, capsys):
    g = gen(seed)
    paths = []
    for name, content in g["files"].items():
        if g["expect"].get(name, ...) == (0, 0):
            continue  # a file of headings only is refused (exit 1), as metrics.md §8 allows
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        paths.append(path)
    db = tmp_path / "ap.duckdb"
    older = ["--allow-older"] if seed >= 2000 and seed % 2 else []   # the default loads them too
    code, out, err = run(["ingest", "--db", db, *older, *paths], capsys)
    assert code == 0, f"ingest exited {code}:\n{err}\n{out}"

    for path in paths:
        m = re.search(re.escape(path.name) + r"(?:, sheet '[^']*')?: loaded as (\w+) \(upload \d+\), "
                      r"(\d+) rows? accepted(?:, (\d+) rejected)?", out)
        assert m, f"{path.name} was not loaded:\n{out}"
        assert m[1] == dataset_of(path.name), f"{path.name} loaded as {m[1]}"
        expected = g["expect"][path.name]
        if expected is not None:  # register marks: one row per pupil-week, not per line
            assert (int(m[2]), int(m[3] or 0)) == expected, f"{path.name}: (accepted, rejected)\n{out}"

    c = g["canon"]
    problems = []
    for r in g["runs"]:
        argv = ["report", "--db", db, "--as-of", r["as_of"].isoformat()]
        if r.get("frm"):
            argv += ["--from", r["frm"].isoformat()]
        if r.get("to"):
            argv += ["--to", r["to"].isoformat()]
        for k, v in g["settings"].items():
            argv += [FLAGS[k], str(v)]
        shown = " ".join(str(a) for a in argv[3:])
        expected = model.report(c["plac"], c["att"], c["exc"], c["ass"], r["as_of"], r.get("frm"), r.get("to"),
                                g["settings"])
        code, out, err = run(argv, capsys)
        if "error" in expected:  # the period starts after it ends
            if code == 0 or out.strip():
                problems.append(f"{shown}: the product accepted a period that starts after it ends")
            continue
        if code != 0:
            problems.append(f"{shown}: exit {code}: {err.strip()}")
            continue
        problems += [f"{shown}: {key}: product {pv!r}, model {mv!r}"
                     for key, pv, mv in model.compare(json.loads(out), expected)]
    assert not problems, f"seed {seed}: the report and the model disagree:\n" + "\n".join(problems)
