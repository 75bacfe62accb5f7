"""The benchmark splits national files under the upload limit without losing or breaking a row."""
from __future__ import annotations

from bench.run import split_csv


def test_parts_repeat_the_heading_and_keep_every_row_once(tmp_path):
    lines = [f"P{i:05d},Oak PRU,2024-09-02\n" for i in range(1000)]
    src = tmp_path / "placements.csv"
    src.write_text("pupil_id,provider,start_date\n" + "".join(lines))
    parts = split_csv(src, part_bytes=4096)
    # each data line is 26 bytes: (4096 - 29 heading bytes) // 26 = 156 whole lines per part
    assert len(parts) == -(-1000 // 156) == 7
    seen = []
    for p in parts:
        text = p.read_text().splitlines(keepends=True)
        assert text[0] == "pupil_id,provider,start_date\n"
        assert p.stat().st_size <= 4096
        seen += text[1:]
    assert seen == lines
    assert split_csv(src, part_bytes=4096) == parts          # cached, not split again
    assert split_csv(src, part_bytes=10**9) == [src]          # small enough: the file itself
