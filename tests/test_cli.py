"""python -m analytics: ingest / uploads / withdraw / load-sample / report, exit codes and messages.

Small synthetic CSV and xlsx files written by the tests; expected outcomes worked out by hand.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from analytics.__main__ import main
from analytics.store import Store

ROOT = Path(__file__).resolve().parent.parent

AUTUMN = ("UPN,Provider,Provider URN,Start Date,End Date,Hours\n"
          "A1,Oak House,100001,06/01/2025,,10\n"
          "B2,Elm Tuition,,13/01/2025,31/02/2025,5\n"       # impossible end date: rejected
          "C3,Oak House,100001,13/01/2025,,12\n"
          "Total,,,,,27\n")
SPRING = ("UPN,Provider,Start Date,End Date\n"                # no URN and no hours column
          "A1,oak house,06/01/2025,28/03/2025\n")


@pytest.fixture
def files(tmp_path):
    (tmp_path / "autumn.csv").write_text(AUTUMN, encoding="utf-8")
    (tmp_path / "spring.csv").write_text(SPRING, encoding="utf-8")
    (tmp_path / "junk.csv").write_bytes(b"\x00\x01\x02 not a spreadsheet \xff\xfe")
    return tmp_path


def run(*argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def rows(db, sql):
    with Store(db, read_only=True) as s:
        return s.con.execute(sql).fetchall()


def test_ingest_loads_and_reports_each_file(files, capsys):
    db = files / "ap.duckdb"
    code, out, err = run("ingest", "--db", db, "--user", "jo", files / "autumn.csv", files / "spring.csv",
                         capsys=capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == ("autumn.csv: loaded as placements (upload 1), 2 rows accepted, 1 rejected, "
                        "1 total row ignored.")
    assert lines[1].startswith("  row 3 rejected: ") and "31/02/2025" in lines[1]
    # each sheet's changes to what was stored, worked out by hand: autumn added A1 and C3;
    # spring sends A1 again with the provider as "oak house" and an end date
    assert lines[2] == "  It added 2 placements and changed none already stored."
    assert lines[3] == "spring.csv: loaded as placements (upload 2), 1 row accepted."
    assert lines[4] == "  It changed 1 placement already stored (provider changed on 1, end date filled in on 1)."
    # By hand: A1 found by name under URN 100001, ended by spring; hours kept from autumn.
    assert rows(db, "SELECT pupil_id, provider_key, end_date::VARCHAR, hours_per_week, upload_id "
                    "FROM placements ORDER BY 1") == [
        ("A1", "100001", "2025-03-28", 10.0, 2), ("C3", "100001", None, 12.0, 1)]
    assert rows(db, "SELECT DISTINCT user_name FROM uploads") == [("jo",)]


def test_duplicate_is_not_an_error(files, capsys):
    db = files / "ap.duckdb"
    run("ingest", "--db", db, files / "autumn.csv", capsys=capsys)
    code, out, err = run("ingest", "--db", db, files / "autumn.csv", capsys=capsys)
    assert code == 0 and err == ""
    assert out.startswith("autumn.csv: already loaded as upload 1 on ") and "nothing was changed" in out
    assert rows(db, "SELECT count(*) FROM uploads") == [(1,)]


def test_unreadable_or_missing_file_fails_alone(files, capsys):
    db = files / "ap.duckdb"
    code, out, err = run("ingest", "--db", db, files / "junk.csv", files / "autumn.csv", files / "nope.csv",
                         capsys=capsys)
    assert code == 1
    assert "autumn.csv: loaded as placements (upload 1)" in out
    err_lines = err.splitlines()
    assert len(err_lines) == 2
    assert err_lines[0].startswith("Not loaded: junk.csv: ")
    assert err_lines[1] == "Not loaded: nope.csv: The file was not found."
    assert rows(db, "SELECT file_name FROM uploads") == [("autumn.csv",)]


def test_map_option_and_bad_map(files, capsys):
    db = files / "ap.duckdb"
    (files / "odd.csv").write_text("Learner Ref,Provider URN,Start Date\nZ9,100001,06/01/2025\n", encoding="utf-8")
    code, out, err = run("ingest", "--db", db, "--map", "Learner Ref=pupil_id", files / "odd.csv", capsys=capsys)
    assert code == 0, err
    assert rows(db, "SELECT pupil_id FROM placements") == [("Z9",)]
    code, out, err = run("ingest", "--db", db, "--map", "Learner Ref", files / "odd.csv", capsys=capsys)
    assert code == 2 and 'is not of the form "Header=column"' in err
    code, out, err = run("ingest", "--db", db, "--map", "Learner Ref=learner", files / "odd.csv", capsys=capsys)
    assert code == 2 and '"learner" is not a column' in err


def test_workbook_with_a_read_me_sheet(files, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "Read me"
    wb.active.append(["This workbook holds the exclusions for the spring term."])
    ws = wb.create_sheet("Exclusions")
    ws.append(["UPN", "Exclusion Type", "Start Date", "Sessions"])
    ws.append(["A1", "FIXD", "06/01/2025", 2])
    ws.append(["A1", "Nonsense", "07/01/2025", 2])       # unknown category: rejected
    wb.save(files / "book.xlsx")
    db = files / "ap.duckdb"
    code, out, err = run("ingest", "--db", db, files / "book.xlsx", capsys=capsys)
    assert code == 0, err
    assert "book.xlsx, sheet 'Read me': skipped" in out
    assert "book.xlsx, sheet 'Exclusions': loaded as exclusions (upload 1), 1 row accepted, 1 rejected." in out
    assert rows(db, "SELECT category, sessions FROM exclusions") == [("suspension", 2.0)]
    assert rows(db, "SELECT row_number FROM rejected_rows") == [(3,)]


def test_uploads_and_withdraw(files, capsys):
    db = files / "ap.duckdb"
    run("ingest", "--db", db, files / "autumn.csv", files / "spring.csv", capsys=capsys)
    code, out, err = run("uploads", "--db", db, capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["upload", "uploaded"]
    assert "spring.csv" in lines[1] and "autumn.csv" in lines[2] and lines[1].endswith("live")
    # which dates each file covers: spring's one row runs 06/01 to its end date 28/03; autumn's
    # accepted rows start 06/01 and 13/01 (the rejected row's dates are not in it)
    assert "2025-01-06..2025-03-28" in lines[1] and "2025-01-06..2025-01-13" in lines[2]
    code, out, err = run("withdraw", "--db", db, "2", capsys=capsys)
    assert code == 0 and out.strip() == "Upload 2 (spring.csv, placements) was withdrawn."
    assert rows(db, "SELECT end_date FROM placements WHERE pupil_id = 'A1'") == [(None,)]
    code, out, err = run("withdraw", "--db", db, "2", capsys=capsys)
    assert code == 1 and "already withdrawn" in err
    code, out, err = run("withdraw", "--db", db, "99", capsys=capsys)
    assert code == 1 and err.strip() == "There is no upload number 99."
    code, out, err = run("uploads", "--db", db, capsys=capsys)
    assert "withdrawn" in out.splitlines()[1]
    # a removal by hand lists its reason
    from analytics.store import Store
    with Store(db) as store:
        store.remove_records("placements", store.records_of("A1")["placements"]["record_id"], "Sent in error")
    code, out, err = run("uploads", "--db", db, capsys=capsys)
    lines = out.splitlines()
    assert lines[0].rstrip().endswith("why removed") and lines[1].rstrip().endswith("Sent in error")
    assert ".." not in lines[1]   # a removal by hand covers no term


def test_uploads_of_an_empty_database(tmp_path, capsys):
    Store(tmp_path / "ap.duckdb").close()
    code, out, err = run("uploads", "--db", tmp_path / "ap.duckdb", capsys=capsys)
    assert (code, out.strip()) == (0, "No uploads yet.")


def test_a_mistyped_db_path_is_said_not_answered_from_a_new_empty_file(tmp_path, capsys):
    # A reviewer: `uploads --db typo.duckdb` said "No uploads yet." and made a 536 kB file there.
    for argv in (("uploads",), ("withdraw", "3"), ("put-back", "3")):
        code, out, err = run(argv[0], "--db", tmp_path / "typo.duckdb", *argv[1:], capsys=capsys)
        assert code == 1 and err.strip() == f"There is no database at {tmp_path / 'typo.duckdb'}: check the --db path (or AP_DB)."
    assert list(tmp_path.iterdir()) == []


def test_an_older_terms_file_is_loaded_with_a_warning_held_back_on_request_and_check_stores_nothing(files, capsys):
    # A reviewer loaded last spring's corrected file after the summer one from the command line:
    # nothing was said, and 60 placements reopened. Spring here ends A1 on 28/03/2025; the
    # older file (dated January) blanks that end date again. metrics.md §8: ingest exits 0 when
    # every file was read, and data-spec §6: the newer upload wins. So it loads, says so and how
    # to undo it; --refuse-older holds it back.
    db = files / "ap.duckdb"
    run("ingest", "--db", db, files / "autumn.csv", files / "spring.csv", capsys=capsys)
    (files / "autumn-again.csv").write_text("UPN,Provider,Provider URN,Start Date,End Date\n"
                                            "A1,Oak House,100001,06/01/2025,\n", encoding="utf-8")
    code, out, err = run("ingest", "--db", db, "--check", files / "autumn-again.csv", capsys=capsys)
    assert code == 0
    assert out.splitlines() == [
        "autumn-again.csv (placements): would change 1 placement already stored (end date cleared on 1, "
        "provider changed on 1).",
        "  Would load with a warning: autumn-again.csv looks older than what it would change: its newest date is "
        "06/01/2025, but the records it would change hold dates up to 28/03/2025. Loading it would put its values "
        "back over the newer ones (reopening placements whose end date it leaves blank, say). If it is an older "
        "term's file, delete the rows that change what is stored (row 2) and load the rest; ingest loads it as it "
        "is (add --refuse-older to hold it back)."]
    code, out, err = run("ingest", "--db", db, "--refuse-older", files / "autumn-again.csv", capsys=capsys)
    assert code == 1 and out == "" and err.startswith("Not loaded: autumn-again.csv looks older than")
    assert rows(db, "SELECT count(*), max(end_date)::VARCHAR FROM placements WHERE pupil_id = 'A1'") == [
        (1, "2025-03-28")]
    code, out, err = run("ingest", "--db", db, files / "autumn-again.csv", capsys=capsys)
    assert code == 0 and "loaded as placements (upload 3)" in out
    assert err.strip() == (
        "Warning: autumn-again.csv looks older than what it changed: its newest date is 06/01/2025, but the records "
        "it changed held dates up to 28/03/2025. As the newer upload, it replaced their values (an end date it "
        "leaves blank reopens a placement) in row 2. If it is an older term's file, undo it with: "
        f"python -m analytics withdraw --db {db} 3")
    assert rows(db, "SELECT end_date FROM placements WHERE pupil_id = 'A1'") == [(None,)]
    # the way back it gives works
    code, out, err = run("withdraw", "--db", db, "3", capsys=capsys)
    assert code == 0
    assert rows(db, "SELECT end_date::VARCHAR FROM placements WHERE pupil_id = 'A1'") == [("2025-03-28",)]
    # --allow-older (scripts written when holding back was the default) still loads it
    code, out, err = run("ingest", "--db", db, "--allow-older", files / "autumn-again.csv", capsys=capsys)
    assert code == 0 and err.startswith("Warning: autumn-again.csv looks older")
    assert rows(db, "SELECT end_date FROM placements WHERE pupil_id = 'A1'") == [(None,)]


def test_a_withdrawal_is_put_back_from_the_command_line(files, capsys):
    db = files / "ap.duckdb"
    run("ingest", "--db", db, files / "autumn.csv", files / "spring.csv", capsys=capsys)
    run("withdraw", "--db", db, "1", capsys=capsys)
    assert rows(db, "SELECT pupil_id FROM placements") == [("A1",)]
    code, out, err = run("put-back", "--db", db, "--user", "jo", "1", capsys=capsys)
    assert code == 0 and out.strip() == ("Upload 1 (autumn.csv, placements) was put back: the figures are as if "
                                         "it had never been withdrawn.")
    # by hand: A1 still ended by spring (newer), C3 back from autumn
    assert rows(db, "SELECT pupil_id, end_date::VARCHAR FROM placements ORDER BY 1") == [
        ("A1", "2025-03-28"), ("C3", None)]
    code, out, err = run("uploads", "--db", db, capsys=capsys)
    assert out.splitlines()[2].rstrip().endswith("live, put back " + out.splitlines()[2].split()[1])
    code, out, err = run("put-back", "--db", db, "1", capsys=capsys)
    assert code == 1 and err.strip() == "Upload 1 is live: it has not been withdrawn."


def test_output_cut_short_by_a_pipe_is_not_a_traceback(files, monkeypatch, capsys):
    # `python -m analytics report ... | head -c 50` printed a BrokenPipeError traceback.
    import io
    import os

    class Closed(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return os.open(os.devnull, os.O_WRONLY)

    db = files / "ap.duckdb"
    run("ingest", "--db", db, files / "autumn.csv", capsys=capsys)
    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["report", "--db", str(db), "--as-of", "2025-03-14"]) == 1
    assert main(["uploads", "--db", str(db)]) == 1
    monkeypatch.undo()
    assert "Traceback" not in capsys.readouterr().err


def test_load_sample_in_name_order_and_if_empty(files, tmp_path, capsys):
    sample = tmp_path / "sample"
    sample.mkdir()
    # Sorted by name: 1-autumn before 2-spring, so spring (newer) wins for A1's end date.
    (sample / "2-spring.csv").write_text(SPRING, encoding="utf-8")
    (sample / "1-autumn.csv").write_text(AUTUMN, encoding="utf-8")
    db = tmp_path / "ap.duckdb"
    code, out, err = run("load-sample", "--db", db, "--dir", sample, "--if-empty", capsys=capsys)
    assert code == 0, err
    assert rows(db, "SELECT file_name, user_name FROM uploads ORDER BY upload_id") == [
        ("1-autumn.csv", "sample"), ("2-spring.csv", "sample")]
    assert rows(db, "SELECT end_date::VARCHAR FROM placements WHERE pupil_id = 'A1'") == [("2025-03-28",)]
    code, out, err = run("load-sample", "--db", db, "--dir", sample, "--if-empty", capsys=capsys)
    assert code == 0 and out.strip() == "The database already holds data, so the sample was not loaded."
    assert rows(db, "SELECT count(*) FROM uploads") == [(2,)]
    code, out, err = run("load-sample", "--db", db, "--dir", tmp_path / "none", capsys=capsys)
    assert code == 1 and "There are no sample files" in err


def test_report_is_delegated(monkeypatch, capsys):
    import analytics.report as report

    seen = []
    monkeypatch.setattr(report, "main", lambda argv: seen.append(argv) or 0)
    code = main(["report", "--db", "x.duckdb", "--as-of", "2025-07-18"])
    assert code == 0 and seen == [["--db", "x.duckdb", "--as-of", "2025-07-18"]]


def test_bad_command_line(capsys):
    code, out, err = run("frobnicate", capsys=capsys)
    assert code == 2 and "invalid choice" in err.lower()
    code, out, err = run("ingest", "--db", "x.duckdb", capsys=capsys)
    assert code == 2 and "required" in err


def _hold_lock(db: Path):
    """Another process holding the database open for writing (as the dashboard would)."""
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_locked_database_is_a_sentence_not_a_traceback(files):
    db = files / "ap.duckdb"
    Store(db).close()
    holder = _hold_lock(db)
    try:
        proc = subprocess.run([sys.executable, "-m", "analytics", "ingest", "--db", str(db),
                               str(files / "autumn.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"The database file {db} is in use by another program (perhaps the dashboard "
                                   "or another import). Close it and try again.")


def _hold_as_the_dashboard(db: Path, *then: Path):
    """Another process holding the database as the dashboard does (a Store, open for writing),
    after loading `then` through it."""
    code = ("import sys, time; from analytics.store import Store; s = Store(sys.argv[1]); "
            "[s.ingest_file(f) for f in sys.argv[2:]]; print('ready', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(db), *map(str, then)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_report_runs_while_the_dashboard_holds_the_database(files, capsys):
    # A scheduled report used to fail whenever the dashboard was open on the same file (DuckDB
    # lets one process have it). It now reports from a copy of everything saved, including the
    # upload the dashboard made a moment before. Worked out by hand at 18/07/2025: autumn opens
    # A1 (06/01) and C3 (13/01); spring, loaded by the dashboard, ends A1 on 28/03, so one
    # placement is open and one completed, of (28/03 - 06/01) + 1 = 82 days.
    db = files / "ap.duckdb"
    assert run("ingest", "--db", db, files / "autumn.csv", capsys=capsys)[0] == 0
    # a copy left by a report that was killed (its process is gone): removed by the next one
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = files / f".report-copy-{int(gone.stdout)}-abc123"
    stale.mkdir()
    (stale / "ap.duckdb").write_bytes(db.read_bytes())
    holder = _hold_as_the_dashboard(db, files / "spring.csv")
    try:
        proc = subprocess.run([sys.executable, "-m", "analytics", "report", "--db", str(db), "--as-of", "2025-07-18"],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        copies = [p.name for p in files.iterdir() if p.name.startswith(".report-copy-")]
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(f"report: {db} is open in another program (the dashboard?); the report is of "
                                  "a copy of everything saved in it at ")
    report = json.loads(proc.stdout)
    assert report["time_in_ap"]["open"]["n"] == 1
    assert report["time_in_ap"]["completed"]["n"] == 1 and report["time_in_ap"]["completed"]["median_days"] == 82
    assert copies == []   # the copy is removed once read, and the killed report's too
    # and it is the report the file gives once the dashboard has let it go
    direct = subprocess.run([sys.executable, "-m", "analytics", "report", "--db", str(db), "--as-of", "2025-07-18"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert direct.returncode == 0 and direct.stderr == "" and json.loads(direct.stdout) == report


def test_a_copy_is_left_alone_while_the_report_that_made_it_runs(tmp_path):
    from analytics import report
    mine = tmp_path / f".report-copy-{os.getpid()}-abc"   # this process: a report still running
    mine.mkdir()
    report._clear_stale_copies(tmp_path)
    assert mine.exists()


def test_a_report_waits_out_a_commit_not_yet_in_the_file_then_says_so(files, monkeypatch, capsys):
    # A commit still in <file>.wal (a writer that does not write it through, as the Store does)
    # is not in a copy of the file: the report does not read a copy then, and says why.
    from analytics import report
    from analytics import store as store_mod
    db = files / "ap.duckdb"
    Store(db).close()
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
            "c.execute('CREATE TABLE IF NOT EXISTS scratch (x INT)'); c.execute('INSERT INTO scratch VALUES (1)'); "
            "print('ready', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE, text=True)
    waits = []
    monkeypatch.setattr(store_mod.time, "sleep", waits.append)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert (files / "ap.duckdb.wal").stat().st_size > 0
        assert report.main(["--db", str(db), "--as-of", "2025-07-18"]) == 2
    finally:
        holder.kill()
        holder.wait()
    assert capsys.readouterr().err.strip() == (f"report: The database {db} is open in another program and was being "
                                               "written to throughout (an upload?): try again when it has finished.")
    assert waits == [0.5] * 19   # twenty tries, half a second apart
    assert [p.name for p in files.iterdir() if p.name.startswith(".report-copy-")] == []


def test_a_copy_made_while_the_file_changed_is_taken_again(tmp_path, monkeypatch):
    from analytics import store as store_mod
    src, dest = tmp_path / "ap.duckdb", tmp_path / "copy.duckdb"
    src.write_bytes(b"version 1")
    real_copy, copies = store_mod.shutil.copyfile, []

    def copy_while_written(a, b):
        copies.append(1)
        real_copy(a, b)
        if len(copies) == 1:          # the writer saves during the first copy
            src.write_bytes(b"version 2, longer")
    monkeypatch.setattr(store_mod.shutil, "copyfile", copy_while_written)
    monkeypatch.setattr(store_mod.time, "sleep", lambda s: None)
    assert store_mod.committed_copy(src, dest) is True
    assert len(copies) == 2 and dest.read_bytes() == b"version 2, longer"


def test_a_report_as_of_today_on_last_years_data_says_so(files, capsys):
    # A scheduled report with no --as-of is as of today (metrics.md); on files that end in
    # March 2025 it counts every placement open then as open, long and unreviewed now. The
    # JSON stays as the spec has it; stderr says why the figures look so, and what to give.
    db = files / "ap.duckdb"
    run("ingest", "--db", db, files / "autumn.csv", files / "spring.csv", capsys=capsys)
    code, out, err = run("report", "--db", db, capsys=capsys)
    today = date.today()
    assert code == 0 and json.loads(out)["as_of"] == today.isoformat()
    # the newest date in the placements: spring's end date for A1, 28/03/2025
    assert err.strip() == (f"report: the report is as of {today:%Y-%m-%d} (today), but the newest date in the "
                           "loaded placements is 2025-03-28: nothing is loaded for this academic year, so every "
                           "placement open then counts as still open now. Give --as-of 2025-03-28 for the figures "
                           "as the data stand.")
    code, out, err = run("report", "--db", db, "--as-of", "2026-11-30", capsys=capsys)   # asked for: no note
    assert code == 0 and err == ""


def test_real_process_end_to_end(files):
    db = files / "ap.duckdb"
    proc = subprocess.run([sys.executable, "-m", "analytics", "ingest", "--db", str(db), str(files / "autumn.csv"),
                           str(files / "junk.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.startswith("autumn.csv: loaded as placements (upload 1)")
    proc = subprocess.run([sys.executable, "-m", "analytics", "report", "--db", str(db), "--as-of", "2025-07-18"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["as_of"] == "2025-07-18"


def test_sheet_warnings_are_printed(files, capsys):
    (files / "extra.csv").write_text("UPN,Provider URN,Start Date,Colour\nA1,100001,06/01/2025,blue\n",
                                     encoding="utf-8")
    code, out, err = run("ingest", "--db", files / "ap.duckdb", files / "extra.csv", capsys=capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "extra.csv: loaded as placements (upload 1), 1 row accepted."
    assert lines[1].startswith("  sheet warning: ") and "Colour" in lines[1]


def test_the_command_line_shows_no_upn(files, capsys):
    # A data protection review: a referral file named after the child, with a UPN whose check
    # letter is wrong in it, printed the UPN in the file's name and in the warning (security.md
    # invariant 9: UPNs are never shown anywhere by default). U999200115025 is valid; the B
    # form has the wrong check letter.
    name = "Referral Quillfeather U999200115025.csv"
    (files / name).write_text("UPN,Provider,Start Date\nB999200115025,Oak House,06/01/2025\n"
                              "U999200115025,Oak House,13/01/2025\n", encoding="utf-8")
    db = files / "ap.duckdb"
    code, out, err = run("ingest", "--db", db, files / name, capsys=capsys)
    assert code == 0
    assert "999200115025" not in out + err
    assert "Referral Quillfeather [UPN hidden].csv: loaded as placements (upload 1), 2 rows accepted, 1 with warnings." in out
    assert "row 2 warning: UPN has a check letter that does not match its digits" in out
    code, out, err = run("uploads", "--db", db, capsys=capsys)
    assert code == 0 and "[UPN hidden]" in out and "999200115025" not in out + err
    # the stored warning quotes no UPN either (the ledger keeps it)
    assert not [w for (w,) in rows(db, "SELECT warnings FROM ledger_placements") if w and "999200115025" in w]


def test_access_log_lists_who_opened_what(files, capsys):
    db = files / "ap.duckdb"
    assert run("ingest", "--db", db, files / "autumn.csv", capsys=capsys)[0] == 0
    assert run("access-log", "--db", db, capsys=capsys)[1] == "Nothing recorded yet.\n"
    with Store(db) as s:
        s.log_access("case list", None, "2 placements listed, names shown", user="chair@council.gov.uk",
                     cases=["C-AAAA111", "C-CCCC333"])
        s.log_access("case list", None, "1 placement listed, names shown", cases=["C-BBBB222"])
        s.log_access("pupil view", "C-AAAA111", "presentation mode")
        s.log_access("pupil view", "C-BBBB222", "names shown", user="sw@council.gov.uk")
    code, out, err = run("access-log", "--db", db, "--case", "c-aaaa111", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3   # heading, the case's own view, the list that showed it (not the other)
    assert "pupil view" in lines[1] and "C-AAAA111" in lines[1] and "(sign-in off)" in lines[1]
    assert "case list" in lines[2] and "chair@council.gov.uk" in lines[2] and "C-BBBB222" not in out
    # how many children the list held (2), as the screen's "Cases listed" says; none for a view
    assert "cases listed" in lines[0] and re.search(r"case list\s+2\s+2 placements listed", lines[2])
    assert re.search(r"C-AAAA111\s+presentation mode", lines[1])
    assert "1 placement listed" not in out


def test_subject_access_gathers_everything_held_on_one_pupil(tmp_path, capsys):
    # A data protection review: answering a subject access request needed SQL against the file.
    # By hand: Jordan (U999200115025) has one placement, sent three times (the second changes the
    # objectives; the third, withdrawn, an end date); two rejected rows are theirs (one with the
    # ID spaced, one with no ID but their name and date of birth); another child's rows are not.
    import openpyxl

    from analytics import privacy
    from sample_data.upn import make_upn
    other = make_upn(999, 2001, 15, 7)
    head = "UPN,First Name,Last Name,Date of Birth,Provider,Start Date,End Date,Objectives\n"
    files = {
        "autumn.csv": head + "U999200115025,Jordan,Quill,14/03/2011,Oak House,06/01/2025,,Attend full time\n"
                             f"{other},Sam,Reed,02/02/2012,Oak House,06/01/2025,,Read daily\n",
        "spring.csv": head + "U999200115025,Jordan,Quill,14/03/2011,Oak House,06/01/2025,,Attend four days\n",
        "summer.csv": head + "U999200115025,Jordan,Quill,14/03/2011,Oak House,06/01/2025,20/06/2025,Attend\n",
        "bad.csv": head + ",Jordan,Quill,14/03/2011,Oak House,06/01/2025,,\n"             # no ID: rejected
                          "U999 2001 15025,Jordan,Quill,,Oak House,06/01/2025,01/01/2025,\n"   # ends before it starts
                          f"{other},Sam,Reed,02/02/2012,Oak House,06/01/2025,01/01/2025,\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    db = tmp_path / "ap.duckdb"
    assert run("ingest", "--db", db, *(tmp_path / n for n in files), capsys=capsys)[0] == 0
    assert run("withdraw", "--db", db, "3", capsys=capsys)[0] == 0     # summer's file
    key = b"k" * 32
    (tmp_path / "case_key").write_bytes(key)
    case = privacy.case_number("U999200115025", key)
    with Store(db) as s:
        s.log_access("pupil view", case, "names shown", user="sw@council.gov.uk")
        s.log_access("pupil view", privacy.case_number(other, key), "names shown")
        s.log_access("case list", None, "1 placement listed", cases=[privacy.case_number(other, key)])
    out_file = tmp_path / "sar.xlsx"
    code, out, err = run("subject-access", "--db", db, "--case", case.lower(), "--out", out_file, capsys=capsys)
    assert code == 0, err
    assert out.startswith(f"Wrote sar.xlsx for {case}: Placements now 1;") and "999200115025" not in out
    assert oct(out_file.stat().st_mode & 0o777) == "0o600"
    wb = openpyxl.load_workbook(out_file)
    rows = {ws.title: [r for r in ws.iter_rows(min_row=2, values_only=True)] for ws in wb}
    assert len(rows["Placements now"]) == 1 and len(rows["Placements history"]) == 3
    history = wb["Placements history"]
    heads = [c.value for c in history[1]]
    objectives = [r[heads.index("objectives")] for r in rows["Placements history"]]
    withdrawn = [r[heads.index("withdrawn_at")] is not None for r in rows["Placements history"]]
    assert objectives == ["Attend full time", "Attend four days", "Attend"] and withdrawn == [False, False, True]
    assert len(rows["Rejected rows"]) == 2
    assert not any("Reed" in str(v) for r in rows["Rejected rows"] + rows["Placements history"] for v in r)
    assert [(r[2], r[3]) for r in rows["Who opened the records"]] == [("pupil view", case)]
    assert all(ws.oddHeader.center.text == "OFFICIAL-SENSITIVE" for ws in wb)
    # the file is a copy of the child's records: in the access log, by case number and who
    code, out, err = run("access-log", "--db", db, "--case", case, capsys=capsys)
    [line] = [ln for ln in out.splitlines() if "subject access" in ln]
    assert case in line and "sar.xlsx" in line and "(command line)" in line
    # by ID too; and a case number nobody has is said
    assert run("subject-access", "--db", db, "--pupil-id", "u999200115025", "--out", tmp_path / "b.xlsx",
               capsys=capsys)[0] == 0
    code, out, err = run("subject-access", "--db", db, "--case", "C-0000000", "--out", tmp_path / "c.xlsx",
                         capsys=capsys)
    assert code == 1 and "No pupil with case number C-0000000" in err


def test_access_log_and_subject_access_read_while_the_dashboard_holds_the_database(files, capsys):
    # A QA review: access-log refused while the dashboard ran, though it only reads. Both now
    # read a copy of everything saved, as report does.
    db = files / "ap.duckdb"
    assert run("ingest", "--db", db, files / "autumn.csv", capsys=capsys)[0] == 0
    with Store(db) as s:
        s.log_access("pupil view", "C-AAAA111", "names shown")
    holder = _hold_as_the_dashboard(db)
    try:
        code, out, err = run("access-log", "--db", db, capsys=capsys)
        assert code == 0 and "C-AAAA111" in out, err
        code, out, err = run("subject-access", "--db", db, "--pupil-id", "A1", "--out", files / "a1.xlsx",
                             "--user", "dpo@council.gov.uk", capsys=capsys)
        assert code == 0 and "Placements now 1;" in out, err
        assert "Not recorded in the access log: the dashboard holds the database" in out
        copies = [p.name for p in files.iterdir() if p.name.startswith(".report-copy-")]
    finally:
        holder.kill()
        holder.wait()
    assert copies == []
