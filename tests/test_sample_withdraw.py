"""Issue 2's check on the committed sample files: ingesting them all and then withdrawing the
last upload gives the same current state as ingesting all but the last file."""
from __future__ import annotations

from pathlib import Path

import pytest

from analytics.schema import DATASETS
from analytics.store import Store

FILES = sorted(p for p in (Path(__file__).resolve().parent.parent / "sample_data" / "files").iterdir()
               if p.suffix in (".csv", ".xlsx"))


def _state(store: Store) -> dict[str, list[tuple]]:
    out = {}
    for dataset in DATASETS:
        cur = store.con.cursor()
        rows = cur.execute(f"SELECT * EXCLUDE (upload_id) FROM {dataset}").fetchall()
        out[dataset] = sorted(rows, key=repr)
    return out


@pytest.mark.slow
def test_withdrawing_the_last_sample_upload_equals_never_loading_it(tmp_path):
    assert len(FILES) > 10, "the committed sample files are missing"
    everything = Store(tmp_path / "all.duckdb")
    for f in FILES:
        everything.ingest_file(f, f.name)
    last = everything.uploads().iloc[0]  # newest first
    assert last["file_name"] == FILES[-1].name
    before_withdrawal = _state(everything)
    everything.withdraw(int(last["upload_id"]))

    all_but_last = Store(tmp_path / "but_last.duckdb")
    for f in FILES[:-1]:
        all_but_last.ingest_file(f, f.name)

    withdrawn, expected = _state(everything), _state(all_but_last)
    assert withdrawn == expected
    # The last file really changed something, so the comparison above is not vacuous.
    assert before_withdrawal != expected
