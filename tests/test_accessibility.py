"""Accessibility (WCAG 2.2 AA, which UK public bodies must meet): findings of an axe-core and
keyboard review, each checked here against the rule's own figures.

Contrast ratios are WCAG's: (L1 + 0.05) / (L2 + 0.05) with L the relative luminance of sRGB.
"""
from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from tests.test_app import _walk, assert_healthy, open_app

ROOT = Path(__file__).resolve().parent.parent


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str = "#ffffff") -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula_against_known_values():
    assert contrast("#000000") == pytest.approx(21.0)
    assert contrast("#767676") == pytest.approx(4.54, abs=0.01)   # the well-known lightest AA grey


def test_captions_and_chart_text_are_dark_enough():
    # Streamlit draws captions in the theme's text colour at 60% over the background: with its
    # default #2f2d2b that is #828180, 3.9:1, under the 4.5:1 of WCAG 1.4.3.
    theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
    text = theme["textColor"]
    r, g, b = (int(text.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    caption = "#" + "".join(f"{round(0.6 * c + 0.4 * 255):02x}" for c in (r, g, b))
    assert contrast(caption) >= 4.5
    assert contrast(caption, "#f8f8f7") >= 4.5   # the sidebar's background
    from views import _ui as U
    assert U.TEXT_COLOUR == text and contrast(U.TEXT_COLOUR) >= 7
    fig = U.style(U.bar(pd.DataFrame({"g": ["a", "b"], "n": [3, 4]}), "g", "n", "t", "x", "y"), "t", "x", "y")
    assert fig.layout.template.layout.font.color == U.TEXT_COLOUR


def test_every_chart_is_drawn_with_the_apps_template_not_streamlits_theme():
    # Streamlit's chart theme greys axis text to #808495 (3.8:1): every st.plotly_chart call
    # passes theme=U.CHART_THEME (None: the plotly template with the app's text colour).
    calls = []
    for path in (ROOT / "views").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "plotly_chart":
                kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
                calls.append((path.name, kw.get("theme")))
    assert len(calls) >= 2   # every chart is drawn by U.plot (on screen, and for printing)
    assert all(theme in ("CHART_THEME", "U.CHART_THEME") for _, theme in calls), calls
    from views import _ui as U
    assert U.CHART_THEME is None


def test_lines_and_bars_are_told_apart_by_more_than_colour():
    from views import _ui as U
    # no line in the yellow (1.3:1 against white, under 1.4.11's 3:1 for graphics)
    assert all(contrast(c) >= 1.9 for c in U.LINE_COLOURS) and "#F0E442" not in U.LINE_COLOURS
    # eight groups: no two the same in colour, dash and marker together, and no two with the
    # same dash and marker (so not told apart by colour alone)
    styles = [(U.LINE_DASHES[i % len(U.LINE_DASHES)], U.LINE_MARKERS[i % len(U.LINE_MARKERS)]) for i in range(8)]
    assert len(set(styles)) == 8
    # stacked bars by destination: each destination its own pattern as well as colour
    d = pd.DataFrame({"group": ["A"] * 8, "destination": ["mainstream", "special", "other_ap", "post16", "neet",
                                                          "ehe", "moved_away", "other"], "n": range(1, 9)})
    fig = U.bar(d, "group", "n", "t", "x", "y", color="destination", barmode="stack")
    patterns = [t.marker.pattern.shape or "" for t in fig.data]
    assert len(fig.data) == 8 and len(set(patterns)) == 8


def _headings(at) -> list[tuple[str, str]]:
    """The main area's headings in page order, as (tag, text): the sidebar is its own landmark."""
    return [(node.tag, node.value) for node in _walk(at.main)
            if getattr(node, "type", "") in ("title", "header", "subheader")]


@pytest.mark.parametrize("page", ["views/outcomes.py", "views/exclusions.py", "views/providers.py",
                                  "views/time_in_ap.py", "views/overview.py"])
def test_no_heading_level_is_skipped(sample_db, monkeypatch, page):
    # Outcomes, Exclusions, Providers and Time in AP went from the page title (h1) straight to
    # each figure's title (h3): a screen reader's outline of the page skipped a level.
    at = open_app(sample_db, monkeypatch, page)
    assert_healthy(at)
    levels = [int(tag[1]) for tag, _ in _headings(at) if re.fullmatch(r"h[1-6]", tag)]
    assert levels and levels[0] == 1
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), _headings(at)


def test_each_chart_switch_names_its_figure(sample_db, monkeypatch):
    # Five switches on the overview were all read out as "Show as".
    at = open_app(sample_db, monkeypatch)
    assert_healthy(at)
    labels = [w.label for w in at.segmented_control if str(w.key).startswith("view_")]
    assert "Show Pupils and placements by term as" in labels
    assert len(labels) >= 4 and len(set(labels)) == len(labels)


def _tile(at, label: str) -> tuple[str, str]:
    [m] = [m for m in at.metric if m.label == label]
    captions = [c.value for c in at.caption if "last year:" in c.value]
    return m.value, captions


def test_the_headline_says_better_or_worse_in_words(sample_db, monkeypatch):
    # Green and red were the only sign of whether a change was good: a fall in flags is green.
    at = open_app(sample_db, monkeypatch, query={"as_of": "2025-03-24"})
    assert_healthy(at)
    tiles = {m.label: m for m in at.metric}
    captions = [c.value for c in at.caption if "last year:" in c.value]
    # captions follow the tiles in order: pupils, placements, median, return rate, sustained,
    # sixth day, flags
    order = ["Pupils in AP now", "Open placements", "Median time in AP", "Return-to-mainstream rate",
             "Sustained returns", "Placed by the sixth day", "Placements with flags"]
    assert len(captions) == len(order)
    by_tile = dict(zip(order, captions))
    label = "Return-to-mainstream rate"
    now = float(tiles[label].value.rstrip("%").replace(",", ""))
    before = float(re.search(r"last year: ([\d.,]+)", by_tile[label]).group(1).replace(",", ""))
    if now != before:
        assert by_tile[label].endswith(" · better" if now > before else " · worse"), (label, now, before)
    # flags are judged on the share of open placements flagged, not the count
    flagged = by_tile["Placements with flags"]
    now, open_now = int(tiles["Placements with flags"].value), int(re.search(r"of (\d+) open", flagged).group(1))
    before, open_before = map(int, re.search(r"last year: (\d+) \(\d+% of (\d+)\)", flagged).groups())
    assert open_now == int(tiles["Open placements"].value)
    if round(now / open_now, 2) != round(before / open_before, 2):
        assert re.search(r" · better" if now / open_now < before / open_before else r" · worse", flagged), flagged
    # counts with no judgement say none
    assert not re.search(r"better|worse", by_tile["Pupils in AP now"] + by_tile["Open placements"])


def test_the_upload_page_skips_no_heading_level(tmp_path, monkeypatch):
    # each dropped file's name was an h4 straight under the page's h1
    at = open_app(tmp_path / "ap.duckdb", monkeypatch, "views/upload.py")
    data = b"UPN,Provider,Start Date\nP1,Oak PRU,01/09/2025\n"
    at.file_uploader[0].set_value([("a*b*.csv", data, "text/csv")]).run()
    assert_healthy(at)
    levels = [int(tag[1]) for tag, _ in _headings(at)]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:])), _headings(at)
    # the file's name is shown as typed, not as markdown (security.md invariant 7): its stars
    # reach the heading escaped, so they are not read as emphasis
    [name] = [text for tag, text in _headings(at) if tag == "h3"]
    assert name.replace("\\", "") == "a*b*.csv" and not re.search(r"(?<!\\)\*", name)
