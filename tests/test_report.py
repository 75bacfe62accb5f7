"""The headless report (metrics.md §8): shape, internal consistency and the command line."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics import report
from analytics.settings import Filters, Settings
from tests.factories import insert, make_db, placement

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT.parent / "shared" / "tools" / "check_report_shape.py"
AS_OF = date(2025, 3, 14)

PLACEMENTS = [
    # 10 days, back to mainstream on 11 Sep; 11 Sep + 182 = 12 Mar 2025 <= as_of: eligible, sustained.
    placement("A", "2024-09-02", "2024-09-11", destination="mainstream", sex="F"),
    # Transfer: in by_destination only.
    placement("B", "2024-09-02", "2024-10-31", destination="other_ap", sex="M"),
    # B continues at another provider: open, 1 Nov..14 Mar = 30 + 31 + 31 + 28 + 14 = 134 days.
    placement("B", "2024-11-01", None, provider="Elm", provider_urn="100002", sex="M"),
    # Open since 8 Jan 2024: 432 days, long.
    placement("C", "2024-01-08", None, sex="F"),
    # Ended with no destination: unknown.
    placement("D", "2024-09-02", "2024-12-20", destination=None, sex="M"),
]
EXCLUSIONS = [
    {"pupil_id": "E", "category": "suspension", "start_date": "2024-10-07"},
    {"pupil_id": "E", "category": "permanent", "start_date": "2024-11-04"},
]


def _report(filters=Filters(as_of=AS_OF), settings=Settings()):
    con = make_db(placements=PLACEMENTS, exclusions=EXCLUSIONS)
    return report.build_report(con, filters, settings)


def _check_shape(obj) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER)], input=json.dumps(obj),
                          capture_output=True, text=True)


def test_shape_is_the_contract():
    r = _report()
    done = _check_shape(r)
    assert done.returncode == 0, done.stdout
    assert list(r) == ["as_of", "period", "settings", "population", "time_in_ap",
                       "return_to_mainstream", "progress", "exclusions", "oversight"]
    assert r["as_of"] == "2025-03-14"
    assert r["period"] == {"start": "2024-09-01", "end": "2025-03-14"}
    assert r["settings"] == {"full_time_hours": 25, "review_interval_days": 42, "long_placement_days": 182,
                             "baseline_days": 91, "sustain_days": 182, "part_time_limit_days": 42,
                             "low_attendance": 0.5, "suppress_below": 3}


def test_the_checker_catches_a_wrong_shape():
    # Guards the guard: a report missing a key must fail the shape check.
    r = _report()
    del r["time_in_ap"]["long_open"]
    assert _check_shape(r).returncode != 0


def test_figures_worked_by_hand():
    r = _report()
    assert r["population"] == {"pupils_in_ap": 2, "open_placements": 2, "placements_started": 4,
                               "placements_ended": 3, "pupils_in_period": 4}
    t = r["time_in_ap"]
    # Completed (ended in the period): A 10, B 2 Sep..31 Oct = 29 + 31 = 60, D 2 Sep..20 Dec =
    # 29 + 31 + 30 + 20 = 110 -> mean 60, median 60. Open: 134 and 432 -> median 283.
    assert t["completed"] == {"n": 3, "mean_days": 60.0, "median_days": 60.0}
    assert t["open"] == {"n": 2, "median_days": 283.0}
    assert t["long_open"] == 1
    o = r["return_to_mainstream"]
    # Ended less the transfer: A, D; returned A; D unknown.
    assert (o["ended"], o["returned"], o["rate"], o["unknown_destination"]) == (2, 1, 0.5, 1)
    assert o["by_destination"] == {"mainstream": 1, "other_ap": 1, "unknown": 1}
    assert o["sustained"] == {"eligible": 1, "sustained": 1, "rate": 1.0}
    assert r["exclusions"]["suspensions"] == 1 and r["exclusions"]["permanent_exclusions"] == 1


@pytest.mark.parametrize("filters", [
    Filters(as_of=AS_OF),
    Filters(as_of=AS_OF, sex=("F",)),
    Filters(as_of=date(2024, 12, 1)),
    Filters(as_of=AS_OF, period_start=date(2025, 1, 1)),
])
def test_internal_consistency(filters):
    r = _report(filters)
    t, o, p = r["time_in_ap"], r["return_to_mainstream"], r["population"]
    assert o["returned"] <= o["ended"] <= sum(o["by_destination"].values())
    assert o["unknown_destination"] <= o["ended"]
    assert o["sustained"]["sustained"] <= o["sustained"]["eligible"] <= o["returned"]
    assert t["long_open"] <= t["open"]["n"] == p["open_placements"]
    assert t["long_open"] == r["oversight"]["long_placement"]
    assert t["completed"]["n"] == p["placements_ended"]
    assert p["pupils_in_ap"] <= p["open_placements"]
    assert p["pupils_in_ap"] <= p["pupils_in_period"]
    assert _check_shape(r).returncode == 0


def test_filters_change_the_report():
    r = _report(Filters(as_of=AS_OF, sex=("F",)))
    # Girls: A (ended, returned) and C (open, long).
    assert r["population"]["pupils_in_ap"] == 1
    assert r["return_to_mainstream"]["ended"] == 1 and r["return_to_mainstream"]["returned"] == 1


# --- the command line --------------------------------------------------------------------------

@pytest.fixture()
def db_path(tmp_path) -> Path:
    path = tmp_path / "ap.duckdb"
    try:
        from analytics.store import Store
        Store(path).close()             # the store's own schema, so read-only opening works
        con = duckdb.connect(str(path))
    except ModuleNotFoundError:
        con = duckdb.connect(str(path))
        from tests.factories import create_tables
        create_tables(con)
    insert(con, "placements", PLACEMENTS)
    insert(con, "exclusions", EXCLUSIONS)
    con.close()
    return path


def test_main_prints_one_json_object(db_path, capsys):
    assert report.main(["--db", str(db_path), "--as-of", "2025-03-14"]) == 0
    out = capsys.readouterr().out
    r = json.loads(out)
    assert r["as_of"] == "2025-03-14"
    assert r["time_in_ap"]["long_open"] == 1
    assert _check_shape(r).returncode == 0


def test_main_settings_flags(db_path, capsys):
    args = ["--db", str(db_path), "--as-of", "2025-03-14", "--long-placement-days", "100",
            "--full-time-hours", "18", "--low-attendance", "0.4", "--from", "2024-10-01", "--to", "2025-01-31"]
    assert report.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["settings"]["long_placement_days"] == 100
    assert r["settings"]["full_time_hours"] == 18 and isinstance(r["settings"]["full_time_hours"], int)
    assert r["settings"]["low_attendance"] == 0.4
    assert r["period"] == {"start": "2024-10-01", "end": "2025-01-31"}
    # With 100 days both open placements (134, 432) are long.
    assert r["time_in_ap"]["long_open"] == 2
    assert isinstance(r["settings"]["long_placement_days"], int)


def test_main_filters_as_the_dashboards_sidebar(db_path, capsys):
    # A scheduled report for one provider or group (a commissioning officer's contract meeting):
    # the same filters as the sidebar. By hand from PLACEMENTS at 14/03/2025: Elm (URN 100002)
    # has one placement, B's, open since 1 Nov; Oak PRU has C open and A and D ended (B's first
    # placement was a move to other AP, so not in ended).
    def run(*extra):
        assert report.main(["--db", str(db_path), "--as-of", "2025-03-14", *extra]) == 0
        return json.loads(capsys.readouterr().out)

    plain = run()
    assert "filters" not in plain   # the contract's keys only, when nothing is filtered
    for given in ("Elm", "  elm ", "100002"):   # by name (any case, spaces) or URN
        r = run("--provider", given)
        assert r["filters"] == {"provider": ["100002"]}
        assert r["population"]["open_placements"] == 1 and r["time_in_ap"]["open"]["median_days"] == 134
        assert r["return_to_mainstream"]["ended"] == 0
        assert _check_shape(r).returncode == 0
    oak = run("--provider", "Oak PRU")
    assert oak["population"]["open_placements"] == 1          # C
    assert oak["return_to_mainstream"]["ended"] == 2          # A (returned) and D (unknown)
    assert oak["return_to_mainstream"]["returned"] == 1
    both = run("--provider", "Oak PRU", "--provider", "Elm")
    assert both["population"]["open_placements"] == plain["population"]["open_placements"] == 2
    # Girls: A (ended, returned) and C (open, long), as test_filters_change_the_report.
    girls = run("--sex", "F")
    assert girls["filters"] == {"sex": ["F"]}
    assert girls["population"]["pupils_in_ap"] == 1 and girls["time_in_ap"]["long_open"] == 1
    assert girls["return_to_mainstream"]["ended"] == girls["return_to_mainstream"]["returned"] == 1
    # No placement here records care status: looked-after children are none of them.
    cla = run("--cla", "yes")
    assert cla["filters"] == {"cla": True} and cla["population"]["pupils_in_period"] == 0


@pytest.mark.parametrize("args, words", [
    (["--provider", "Elmm"], "--provider 'Elmm' matches no provider in the loaded placements; did you mean 'Elm'?"),
    (["--trust", "Ridge Trust"], "--trust 'Ridge Trust' matches no trust in the loaded placements."),
    (["--sen-status", "Q"], "invalid choice: 'Q' (choose from 'E', 'K', 'N')"),
    (["--cla", "true"], "invalid choice: 'true' (choose from 'yes', 'no')"),
])
def test_a_filter_that_matches_nothing_is_a_mistake_not_a_report_of_nobody(db_path, capsys, args, words):
    assert report.main(["--db", str(db_path), "--as-of", "2025-03-14"] + args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and words in captured.err, captured.err


@pytest.mark.parametrize("args, words", [
    (["--as-of", "14/03/2025"], "not a date"),
    (["--as-of", "2025-02-30"], "not a date"),
    (["--as-of", "2025-03-14", "--from", "2025-04-01"], "starts on"),
    (["--from", "2025-03-01", "--to", "2025-02-01", "--as-of", "2025-03-14"], "starts on"),
    (["--sustain-days", "-3"], "sustain days must be from 28 to 730, not -3"),
    (["--sustain-days", "six"], "whole number"),
    (["--sustain-days", "91.5"], "whole number"),
    (["--low-attendance", "50"], "fraction"),
    (["--full-time-hours", "inf"], "must be a number"),
    (["--suppress-below", "0"], "from 1 to 20"),   # the Settings page's range
])
def test_user_errors_exit_2_with_a_sentence(db_path, capsys, args, words):
    assert report.main(["--db", str(db_path)] + args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert words in captured.err
    assert "Traceback" not in captured.err


def test_missing_database(tmp_path, capsys):
    assert report.main(["--db", str(tmp_path / "nothing.duckdb")]) == 2
    assert "no database" in capsys.readouterr().err.lower()


def test_as_a_process_no_traceback(db_path):
    done = subprocess.run([sys.executable, "-m", "analytics.report", "--db", str(db_path),
                           "--as-of", "2025-13-01"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "not a date" in done.stderr
    done = subprocess.run([sys.executable, "-m", "analytics.report", "--db", str(db_path),
                           "--as-of", "2025-03-14"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    shape = subprocess.run([sys.executable, str(CHECKER)], input=done.stdout, capture_output=True, text=True)
    assert shape.returncode == 0, shape.stdout


def test_through_python_m_analytics(db_path):
    # The store engineer's entry point hands everything after 'report' to report.main.
    done = subprocess.run([sys.executable, "-m", "analytics", "report", "--db", str(db_path),
                           "--as-of", "2025-03-14", "--sustain-days", "100"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    r = json.loads(done.stdout)
    assert r["settings"]["sustain_days"] == 100
    assert _check_shape(r).returncode == 0
    done = subprocess.run([sys.executable, "-m", "analytics", "report", "--db", str(db_path),
                           "--from", "2025-03-01", "--to", "2025-02-01"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# build_report works out the attendance windows once for progress and oversight (a temporary
# table); each section must equal the section computed on its own.

def _check_shared_windows(con, filters, settings):
    from analytics import oversight, progress
    r = report.build_report(con, filters, settings)
    assert r["progress"] == progress.summary(con, filters, settings)
    assert r["oversight"] == oversight.summary(con, filters, settings)
    left = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_report_windows_%'")
    assert left.fetchone()[0] == 0          # the temporary table is dropped


def test_shared_windows_match_the_sections_alone():
    con = make_db(placements=PLACEMENTS + [
        # open, started after a period that ends before as_of: in oversight, not in progress
        placement("F", "2025-02-03", None, hours_per_week=10.0),
        placement("G", "2024-06-03", "2024-08-30")],
        attendance=[{"pupil_id": p, "period_start": d, "possible_sessions": 10, "attended_sessions": a}
                    for p, d, a in [("A", "2024-08-19", 9), ("A", "2024-09-02", 4), ("B", "2024-07-08", 8),
                                    ("B", "2024-11-04", 3), ("C", "2024-12-02", 2), ("F", "2025-01-06", 10),
                                    ("F", "2025-02-10", 1), ("G", "2024-06-10", 7)]])
    for f in (Filters(as_of=AS_OF), Filters(as_of=AS_OF, period_end=date(2025, 1, 31)),
              Filters(as_of=AS_OF, sex=("F",)), Filters(as_of=date(2024, 9, 5))):
        _check_shared_windows(con, f, Settings())


@pytest.mark.parametrize("seed", range(4))
def test_shared_windows_match_the_sections_alone_on_random_data(seed):
    from tests.test_trends import _random_db
    con, holidays = _random_db(seed)
    filters = [Filters(as_of=date(2025, 3, 14)), Filters(as_of=date(2024, 11, 30), sex=("F",)),
               Filters(as_of=date(2025, 1, 1), period_start=date(2024, 10, 1), period_end=date(2024, 12, 1)),
               Filters(as_of=date(2023, 6, 30), cla=False)][seed]
    settings = Settings(baseline_days=60, low_attendance=0.6) if seed % 2 else Settings()
    _check_shared_windows(con, filters, settings)


def test_report_on_a_read_only_connection(tmp_path):
    path = tmp_path / "ro.duckdb"
    con = duckdb.connect(str(path))
    from tests.factories import create_tables
    create_tables(con)
    insert(con, "placements", PLACEMENTS)
    insert(con, "exclusions", EXCLUSIONS)
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    assert report.build_report(ro, Filters(as_of=AS_OF), Settings()) == _report()


def test_a_name_that_matches_nothing_is_not_echoed_with_a_upn_in_it(db_path, capsys):
    # a QA review typed a UPN where a provider's name goes: the refusal repeated it
    assert report.main(["--db", str(db_path), "--as-of", "2025-03-14", "--provider", "A999200115025"]) == 2
    err = capsys.readouterr().err
    assert "999200115025" not in err and "--provider '[UPN hidden]' matches no provider" in err
