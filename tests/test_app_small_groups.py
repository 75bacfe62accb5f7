"""Presentation mode with a small filtered group: medians, means and per-placement charts.

A reviewer reporting to a corporate parenting board filtered to looked-after children with an
EHC plan (?cla=yes&sen_status=E) and, with presentation mode on, read one child's length of stay
("Ended: median 123 days" beside n = c, with the mean also 123) and another's (open 1,043 days),
and each placement's attendance as a point on the Progress chart. A median of one or two
placements is their own figure: metrics.md §7 hides figures built on a small count.

Worked out by the reviewer with pandas from the sample files, as of 22/07/2025 (the default):
that group has one placement ended in the period (04/02/2025 to 06/06/2025, 123 days) and one
open (since 14/09/2022, 1,043 days); looked-after children as a whole have 1 suspension and 3
permanent exclusions in the period.
"""
from __future__ import annotations

import json

from tests.test_app import assert_healthy, metric_value, open_app

SMALL = {"cla": "yes", "sen_status": "E"}


def presenting(at):
    at.toggle(key="present_toggle").set_value(True).run()
    assert_healthy(at)
    return at


def test_time_in_ap_hides_the_medians_of_one_or_two_placements(sample_db, monkeypatch):
    at = open_app(sample_db, monkeypatch, "views/time_in_ap.py", query=SMALL)
    at.toggle(key="present_toggle").set_value(False).run()
    # at a desk the figures are the placements' own, as the reviewer counted them
    assert metric_value(at, "Ended: median") == "123 days"
    assert metric_value(at, "Open: median so far") == "1,043 days"
    presenting(at)
    for label in ("Median time (KM)", "Ended: median", "Open: median so far", "Per pupil: median"):
        assert metric_value(at, label) == "c", label
    captions = [c.value for c in at.caption]
    assert any(c.startswith("n = c ended in the period; mean c") for c in captions), captions
    infos = [i.value for i in at.info]
    assert "Not shown in presentation mode: fewer than 3 placements overlap the period." in infos
    assert any(i.startswith("Not shown in presentation mode: no group here started with 3 or more placements")
               for i in infos), infos
    assert not any("No placement started in the period" in i for i in infos)   # one did


def test_overview_hides_the_median_time_in_ap_of_one_placement(sample_db, monkeypatch):
    at = presenting(open_app(sample_db, monkeypatch, query=SMALL))
    assert metric_value(at, "Median time in AP") == "c"


def test_progress_hides_medians_and_points_of_too_few_placements(sample_db, monkeypatch):
    at = presenting(open_app(sample_db, monkeypatch, "views/progress.py", query=SMALL))
    assert metric_value(at, "Placements compared") == "c"
    assert metric_value(at, "Median attendance before") == "c"
    assert metric_value(at, "Median attendance during") == "c"
    assert any(i.value.startswith("Not shown in presentation mode: fewer than 3 placements have attendance")
               for i in at.info)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert not any("Attendance before and during" in t for t in titles), titles


def test_the_exclusions_chart_total_does_not_give_back_a_hidden_count(sample_db, monkeypatch):
    # Suspensions c and Permanent 3 in the tiles; a chart titled "n = 4" gave back 1 suspension
    at = presenting(open_app(sample_db, monkeypatch, "views/exclusions.py", query={"cla": "yes"}))
    assert (metric_value(at, "Suspensions"), metric_value(at, "Permanent")) == ("c", "3")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    [title] = [t for t in titles if t.startswith("Suspensions and permanent exclusions by term")]
    assert title.endswith("(n = c)"), title


def test_a_group_with_no_placement_gets_sentences_not_empty_trend_axes(sample_db, monkeypatch):
    # no looked-after girl or boy of unknown sex with an EHC plan in the sample: every count is 0
    empty = {**SMALL, "sex": "U"}
    at = open_app(sample_db, monkeypatch, query=empty)
    assert_healthy(at)
    infos = [i.value for i in at.info]
    assert sum(i.startswith("No placement matches the filters in any term.") for i in infos) == 3, infos
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert not any(" by term (n = " in t for t in titles), titles
    at.switch_page("views/outcomes.py").run()
    assert any(i.value.startswith("No placement ended in the terms shown") for i in at.info)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert not any(t.startswith("Return to mainstream by term") for t in titles), titles


def test_every_page_says_which_children_its_figures_count(sample_db, monkeypatch):
    # A screenshot of Time in AP for the board did not say it was of looked-after children only.
    for page in ("views/overview.py", "views/time_in_ap.py", "views/outcomes.py", "views/progress.py",
                 "views/exclusions.py", "views/providers.py"):
        at = open_app(sample_db, monkeypatch, page, query={"cla": "yes"})
        assert_healthy(at)
        assert any(c.value.startswith("As of 22 July 2025 · period 01 September 2024 to 22 July 2025 · filtered by "
                                      "Looked after (CLA): Yes") for c in at.caption), page


def test_progress_in_presentation_mode_draws_the_chart_without_listing_placements(sample_db, monkeypatch):
    # looked-after children: 13 placements compared (the reviewer's count), enough to draw; the
    # list and its file gave each child's case number, dates and attendance on a shared screen
    at = presenting(open_app(sample_db, monkeypatch, "views/progress.py", query={"cla": "yes"}))
    assert metric_value(at, "Placements compared") == "13"
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    [scatter] = [s for s in specs if s["layout"]["title"]["text"].startswith("Attendance before and during")]
    assert not any(t.get("text") for t in scatter["data"])          # no case number on a point
    assert not any(b.key in ("dl_csv_att", "dl_xlsx_att") for b in at.get("download_button"))
    assert any(c.value.startswith("Each placement's row, and the file of them, are left out") for c in at.caption)


def test_presentation_mode_survives_a_reload_and_a_copied_link(sample_db, monkeypatch):
    # A data protection review switched presentation mode on on the Overview and pressed F5:
    # the new session had it off, with exact small numbers on the shared screen. The address
    # now carries it, so a reload (a new session from the same address) keeps it.
    at = open_app(sample_db, monkeypatch, query=SMALL)
    assert at.query_params.get("present") is None            # off by default off the Panel pages
    presenting(at)
    assert at.query_params.get("present") == "yes"
    address = dict(at.query_params)   # AppTest keeps the address as a plain dict
    again = open_app(sample_db, monkeypatch, query=address)   # the reload
    assert again.toggle(key="present_toggle").value is True
    assert metric_value(again, "Median time in AP") == "c"
    # switched off, the address says nothing of it; a link can only ever switch it on
    again.toggle(key="present_toggle").set_value(False).run()
    assert again.query_params.get("present") is None
    odd = open_app(sample_db, monkeypatch, query={**SMALL, "present": "no"})
    assert odd.toggle(key="present_toggle").value is False
    assert any("'present=no' is not yes" in w.value for w in odd.warning)
    # a QA review's near misses err on the side of a shared screen: on
    for value in ("YES", "true", "yes ", ["yes", "no"], ["no", "yes"]):
        near = open_app(sample_db, monkeypatch, query={**SMALL, "present": value})
        assert near.toggle(key="present_toggle").value is True, value
