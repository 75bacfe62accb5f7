"""Drawing helpers shared by the pages: labels, the colour-blind-safe palette, "about this
figure" notes (metrics.md in plain words), the chart/table toggle and downloads.

Everything here draws; nothing here reads data (pages pass in what analytics returned).
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.subplots import make_subplots

from analytics.errors import APDataError
from analytics.settings import academic_year_start
from views import _state as S

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]
# Lines and markers on white: the yellow is 1.3:1 against white, too faint for a line (WCAG 1.4.11).
LINE_COLOURS = [c for c in OKABE_ITO if c != "#F0E442"]
LINE_DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
LINE_MARKERS = ["circle", "square", "diamond", "triangle-up", "x", "star", "triangle-down", "cross"]
# Bars told apart by pattern as well as colour (WCAG 1.4.1: not by colour alone).
BAR_PATTERNS = ["", "/", ".", "x", "\\", "-", "+", "|"]
TEXT_COLOUR = "#0b0c0c"   # 19:1 on white; the .streamlit theme uses it too (captions at 60%: 5.2:1)

# Every figure's template, set once: passed per figure, plotly deep-copies it each time
# (about 30 ms a chart here); as the default it is applied when the figure is serialised.
# Charts are drawn with it alone (st.plotly_chart theme=None): Streamlit's own chart theme
# greys the axis text to 3.8:1 against white, under WCAG's 4.5:1.
_TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
_TEMPLATE.layout.font = dict(family='"Source Sans Pro", "Source Sans 3", "Segoe UI", Arial, sans-serif',
                             color=TEXT_COLOUR, size=14)
_TEMPLATE.layout.colorway = OKABE_ITO
pio.templates["ap"] = _TEMPLATE
pio.templates.default = "ap"
PRINT_WIDTH = 680   # px: a chart in the layout for printing fits A4 portrait's printable width
CHART_THEME = None   # st.plotly_chart(theme=CHART_THEME): the template above, not Streamlit's
# Plotly's toolbar puts each of its buttons in the keyboard's tab order, on every chart: eight
# per chart (Chromium, the Outcomes page), three with these left off (saving the picture and
# resetting a zoom, which a paper or a meeting needs, and Streamlit's full screen). A drag on
# the chart still zooms.
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": [
    "zoom2d", "pan2d", "select2d", "lasso2d", "zoomIn2d", "zoomOut2d", "autoScale2d"]}

VALUE_LABELS = {
    # setting_type
    "state_ap_school": "State AP school (PRU / AP academy)", "independent_school": "Independent school",
    "special_school": "Special school", "fe_college": "FE college", "one_to_one_tuition": "One-to-one tuition",
    "online": "Online provision", "work_based": "Work-based placement", "hospital": "Hospital school",
    "other_unregistered": "Other unregistered provider",
    # reason
    "permanent_exclusion": "Permanent exclusion", "suspension": "Suspension",
    "behaviour_support": "Behaviour support (off-site)", "medical_physical": "Medical (physical health)",
    "medical_mental_health": "Medical (mental health)", "awaiting_school_place": "Awaiting a school place",
    "awaiting_specialist_place": "Awaiting a specialist place",
    # destination
    "mainstream": "Mainstream school", "special": "Special school", "other_ap": "Another AP placement",
    "post16": "Post-16 (college, training, work)", "neet": "NEET", "ehe": "Elective home education",
    "moved_away": "Moved away", "other": "Other", "unknown": "Unknown / not recorded",
    # commissioner
    "school": "School", "la": "Local authority",
    # exclusions
    "permanent": "Permanent exclusion", "lunchtime": "Lunchtime",
    # exclusion reasons (DfE codes, dfe-codes.md §2.2)
    "PP": "Physical assault against a pupil", "PA": "Physical assault against an adult",
    "VP": "Verbal abuse or threats against a pupil", "VA": "Verbal abuse or threats against an adult",
    "OW": "Offensive weapon or prohibited item", "BU": "Bullying", "RA": "Racist abuse",
    "LG": "Abuse against sexual orientation or gender identity", "DS": "Abuse relating to disability",
    "SM": "Sexual misconduct", "DA": "Drug and alcohol related", "DM": "Damage to property", "TH": "Theft",
    "MT": "Inappropriate use of social media or online technology",
    "DB": "Persistent or general disruptive behaviour",
    "PH": "Breaking public-health protective measures", "OT": "Other",
    # what broke a return to mainstream
    "placement": "A new AP placement",
}
# Destinations keep one colour each in every chart; there are nine, one more than Okabe & Ito,
# so "unknown" is grey, which also says "not recorded".
DESTINATION_COLOURS = {
    "mainstream": OKABE_ITO[0], "special": OKABE_ITO[4], "other_ap": OKABE_ITO[2], "post16": OKABE_ITO[1],
    "neet": OKABE_ITO[3], "ehe": OKABE_ITO[5], "moved_away": OKABE_ITO[6], "other": OKABE_ITO[7],
    "unknown": "#999999",
}
SEN_LABELS = {"E": "EHC plan", "K": "SEN support", "N": "No SEN"}
SEX_LABELS = {"M": "Male", "F": "Female", "U": "Unknown"}
GROUP_COLUMNS = ("group", "reason", "setting_type", "destination", "commissioner", "category", "broke_down_by")
THRESHOLDS = [  # the Settings page's thresholds: name, label, help; the range and step are analytics.settings.SETTING_LIMITS
    ("full_time_hours", "Full-time hours a week",
     "A placement with fewer hours a week is part-time. 25 hours is the Local Government Ombudsman's full-time "
     "benchmark."),
    ("review_interval_days", "Review interval (days)",
     "A placement whose last review (or start) is more days ago than this is 'review overdue'. 42 days is "
     "half-termly."),
    ("long_placement_days", "Long placement (days)",
     "An open placement longer than this is a 'long placement'. 182 days is two terms."),
    ("part_time_limit_days", "Part-time limit (days)",
     "A part-time placement that has run longer than this is 'part-time beyond the limit'."),
    ("low_attendance", "Low attendance (share of sessions)",
     "A placement whose attendance during it is below this share is flagged 'low attendance' (0.5 = 50%)."),
    ("baseline_days", "Baseline window (days before the start)",
     "Attendance in this many days before a placement starts is its baseline."),
    ("sustain_days", "Sustained return (days)",
     "A return to mainstream is sustained when no new AP placement or permanent exclusion follows within this "
     "many days. 182 days is six months, as DfE uses."),
    ("suppress_below", "Small-number threshold",
     "In presentation mode and aggregate downloads, counts from 1 to this number less one show as 'c'."),
]


TOTAL = "Total"   # the label of a figure's total row (suppression.add_total_row)
# A data-quality note beside the flags: an open placement with no attendance recorded in it
NO_ATTENDANCE = "No attendance recorded (data to check)"
NO_REGISTRATION = "Registration not recorded (data to check)"


def unknown(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def case_rows_in_words(rows: pd.DataFrame) -> pd.DataFrame:
    """The case list's rows for its file: codes and yes/no columns as words, the flags as one
    "Flags raised" column (not nine TRUE/FALSE ones), no internal provider key."""
    out = rows.drop(columns=[c for c in ("provider_key", *FLAG_LABELS) if c in rows.columns])
    words = {"sex": SEX_LABELS, "sen_status": SEN_LABELS}
    for c, labels in words.items():
        if c in out.columns:
            out[c] = out[c].map(lambda v, labels=labels: labels.get(str(v), v) if isinstance(v, str) else v)
    for c in ("cla", "fsm", "out_of_area", "registered", "missing_attendance"):
        if c in out.columns:
            out[c] = out[c].map({True: "Yes", False: "No"}).astype(object).where(out[c].notna(), None)
    return out


def flag_text(row) -> str:
    """An open placement's flags in words, with the data-quality markers that are not flags: the
    case list's "Flags raised" (and the one-provider view's)."""
    flags = [FLAG_LABELS[f] for f in FLAG_LABELS if f in row and bool(row[f])]
    if "missing_attendance" in row and row["missing_attendance"] is True:
        # not a flag (metrics.md §5) but a data-quality matter, shown as such
        flags.append(NO_ATTENDANCE)
    if "registered" in row and unknown(row["registered"]):
        # blank is unknown, not unregistered (data-spec), so no flag: but nobody has recorded it
        flags.append(NO_REGISTRATION)
    return "; ".join(flags)

COLUMN_LABELS = {
    "local_n": "This LA: number", "local_total": "This LA: total", "local_share": "This LA: share",
    "national_share": "England: share", "national_period": "England: year",
    "national_total": "England: total",
    "case": "Case", "pupil": "Pupil", "age": "Age", "nc_year": "Year group", "group": "Group",
    "provider": "Provider", "provider_key": "Provider ID", "setting_type": "Setting type",
    "reason": "Reason", "commissioner": "Commissioned by", "start_date": "Start",
    "end_date": "End", "planned_end_date": "Planned end", "days": "Days in AP", "is_open": "Open",
    "ended": "Ended", "returned": "Returned to mainstream", "rate": "Return rate",
    # the 'as of' date's, beside the period's placements (a reviewer read both as the period's)
    "pupils_now": "Pupils on the 'as of' date",
    "unknown_destination": "Destination not recorded", "sustained_eligible": "Returns old enough to judge",
    "sustained": "Sustained", "sustained_rate": "Sustained rate", "destination": "Destination",
    "n": "Placements", "pupils": "Pupils", "eligible": "Old enough to judge",
    "broke_down_by": "Broke down by", "home_school": "Home school", "trust": "Trust",
    "hours_per_week": "Hours a week", "hours_on_sixth_day": "Hours a week on day 6", "on_sixth_day": "On day 6", "last_review_date": "Last review", "n_flags": "Number of flags", "flags": "Flags raised",
    "label": "Term", "period_start": "From", "period_end": "To", "as_of": "As of",
    "pupils_in_ap": "Pupils in AP", "open_placements": "Open placements",
    "placements_started": "Started", "placements_ended": "Ended (all destinations)",
    "median_days": "Ended: median days", "open": "Open placements",
    "pupils_18h_plus": "Pupils at 18+ hours", "cla_or_ehcp_18h_plus": "Looked-after or EHCP pupils at 18+ hours",
    "likely_needs_registration": "Likely to need registering", "why": "Why",
    "km_median_days": "Median time in AP (days)", "open_median_days": "Open: median days so far",
    "return_rate": "Return rate",
    "sixth_day_rate": "Placed by the sixth day", "any_flag": "Placements with flags",
    "at_risk": "Still in AP (at risk)", "events": "Ended", "censored": "Still open (censored)",
    "survival": "Share still in AP", "row_number": "Row", "warning": "Warning", "original": "Original row",
    "excluded_on": "Permanently excluded on", "days_since": "Days since, no placement", "out_of_area": "Out of area",
    "during_rate": "Attendance during the placement", "baseline_rate": "Attendance before the placement",
    "change_pp": "Attendance change (percentage points)", "days_since_review": "Days since the last review (or start)",
    "missing_attendance": "No attendance recorded",
    "sen_status": "SEN", "cla": "Looked after", "fsm": "FSM", "sex": "Sex", "first_name": "First name",
    "last_name": "Last name", "date_of_birth": "Date of birth",
}
FLAG_LABELS = {
    "no_planned_end": "No planned end date", "planned_end_passed": "Planned end date passed",
    "no_objectives": "No objectives recorded", "review_overdue": "Review overdue",
    "part_time": "Part-time", "part_time_over_limit": "Part-time beyond the limit",
    "unregistered": "Unregistered provider", "long_placement": "Long placement",
    "low_attendance": "Low attendance",
}


def lower_label(label: str | None, default: str = "") -> str:
    """A label for the middle of a sentence: lower case, acronyms kept ('SEN status')."""
    words = (label or default).split()
    return " ".join(w if sum(c.isupper() for c in w) > 1 else w.lower() for w in words)


def value_label(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "Unknown"
    s = str(v)
    return VALUE_LABELS.get(s, s)


def column_label(c: str) -> str:
    if c in DESTINATION_COLOURS:   # destinations as columns (the breakdowns by group)
        return value_label(c)
    return COLUMN_LABELS.get(c) or FLAG_LABELS.get(c) or str(c).replace("_", " ").capitalize()


_BIDI_RE = "[\u202a-\u202e\u2066-\u2069]"


def readable(df: pd.DataFrame, group_by: str | None = None) -> pd.DataFrame:
    """Codes as words and columns as headings, for the screen and the downloads."""
    out = df.copy()
    labels = [c for c in out.columns if out[c].dtype == object or pd.api.types.is_string_dtype(out[c])]
    total = out[labels].eq(TOTAL).any(axis=1) if labels else pd.Series(False, index=out.index)
    for c in GROUP_COLUMNS:
        if c in out.columns and (out[c].dtype == object or pd.api.types.is_string_dtype(out[c])):
            if c == "group" and group_by == "sen_status":
                out[c] = out[c].map(lambda v: SEN_LABELS.get(str(v), value_label(v)))
            elif c == "group" and group_by == "sex":
                out[c] = out[c].map(lambda v: SEX_LABELS.get(str(v), value_label(v)))
            elif c == "broke_down_by":   # blank: nothing broke the return (or too early to say)
                out[c] = out[c].map(lambda v: None if v is None or v != v else value_label(v))
            else:
                out[c] = out[c].map(value_label)
            if total.any():   # a Total row names itself; its other labels are blank, not "Unknown"
                out[c] = out[c].astype(object).where(~total | df[c].eq(TOTAL), None)
    for c in out.columns:
        if str(out[c].dtype).startswith("datetime"):
            out[c] = out[c].dt.date
        elif c in labels and out[c].astype(str).str.contains(_BIDI_RE, regex=True).any():
            # uploaded text with a bidirectional override shows reversed: the controls go
            out[c] = out[c].map(lambda v: v.translate(S.BIDI_CONTROLS) if isinstance(v, str) else v)
    return out.rename(columns={c: column_label(c) for c in out.columns})


# ---------------------------------------------------------------------------------------------
# "About this figure": metrics.md in plain words.

class _About(dict):
    """The notes, with each setting they quote ("{sustain_days}") filled in from the settings in
    force, so a changed threshold is never described by its default."""

    def __getitem__(self, key):
        return _with_settings(super().__getitem__(key))

    def get(self, key, default=""):
        return _with_settings(super().get(key, default))


def _with_settings(text: str) -> str:
    if "{" not in text:
        return text
    s = S.settings()
    values = {**s.report_dict(), "low_attendance_pct": f"{100 * s.low_attendance:g}%",
              "full_time_hours": f"{s.full_time_hours:g}"}
    return text.format_map(values)


ABOUT = _About({
    "pupils_in_ap": "Distinct pupils with a placement open on the 'as of' date. A placement is open when it "
                    "has started by that date and has no end date, or ends after it. A pupil with two open "
                    "placements counts once.",
    "open_placements": "Placements open on the 'as of' date (started by then, and not ended by then).",
    "km_median": "Half of the placements that started in the period last this many days or fewer. It is a "
                 "Kaplan–Meier median: placements still open count for as long as they have run so far. "
                 "Placements that started before the period are not in it, however long they have run: "
                 "Time in AP shows the open placements' days so far and those open longer than "
                 "{long_placement_days} days, and the trend below draws the open placements' median. Days "
                 "are calendar days, counting the first and last day. Blank when the share still in AP "
                 "has not fallen to a half (too few have ended).",
    "return_rate": "Of the placements that ended in the period, the share whose destination was a mainstream "
                   "school. Moves to another AP placement are left out (they are not a way out of AP). "
                   "Placements that ended with no destination recorded stay in the count, so a missing "
                   "destination lowers the rate. So do ends that may be the plan's success: a Year 11 pupil "
                   "going on to college or training (post-16), or a pupil reaching a special school place. "
                   "The destinations chart on Outcomes shows every destination; the rate can drop at the end "
                   "of the summer term, when Year 11 leave.",
    "sustained_rate": "Of the returns to mainstream that ended long enough ago to judge ({sustain_days} days), "
                      "the share where the pupil had no new AP placement and no permanent exclusion in the "
                      "{sustain_days} days after returning.",
    "sixth_day_rate": "Schools and the LA must arrange full-time education from the sixth school day of a "
                      "permanent exclusion. Of the permanent exclusions in the period whose sixth school day "
                      "has passed, the share where the pupil had a placement in place on that day. It does not "
                      "test that the placement was full time: a part-time timetable counts as placed here (the "
                      "Exclusions page says how many were part-time on the day, case by case). School days are "
                      "Monday to Friday, less any holidays loaded in Settings.",
    "any_flag": "Open placements with at least one oversight flag: no planned end date, planned end passed, "
                "no objectives, review overdue, part-time (any part-time timetable, and again when it has run "
                "beyond the limit), unregistered provider, a long placement or low attendance. Since a "
                "part-time timetable alone raises it, most placements carry a flag; a change on last year is "
                "judged on the share of open placements flagged, not the count (fewer flagged of fewer open "
                "can be worse). See the Case list for which flags apply.",
    "trend": "Each point is the figure worked out at the end of that term (or on the 'as of' date for the "
             "current term), for placements in that term, with the same filters and settings. Terms run "
             "1 September–31 December, 1 January–Easter Sunday and Easter Monday–31 August; "
             "academic years 1 September–31 August. The trend runs from the term of the first placement to "
             "the 'as of' date whatever the period chosen in the sidebar, which sets the headline figures.",
    "flag_trend": "Each point counts the placements open at the end of that term (or on the 'as of' date for "
                  "the current term) that carry the flag then, with the same filters and settings: the Case "
                  "list's counts, as they stood at each term's end. A placement open across several terms counts "
                  "in each. Terms run 1 September–31 December, 1 January–Easter Sunday and Easter Monday–31 "
                  "August, so a summer term's point is on 31 August. Planned end dates, objectives, hours and "
                  "registration are taken as stored now (metrics.md), as is the newest review date.",
    "change": "The change is against the same figure worked out one year earlier (the 'as of' date less a "
              "year), with the same filters.",
    "durations": "Days in AP for each placement that overlaps the period: from the start date to the end "
                 "date (or to the 'as of' date while open), counting both ends. Ended and still-open "
                 "placements are shown separately.",
    "km_curve": "The share of placements still in AP after a given number of days (Kaplan–Meier). Each line "
                "starts at 100% and steps down when placements end; placements still open are counted "
                "while they run and then drop out of the count without a step (censored). Where a line "
                "crosses 50% is its median time in AP. Only placements that started in the period count.",
    "per_pupil": "Each pupil with a placement that overlaps the period, by how many of their placements "
                 "(with the filters in the sidebar) overlap it. A move from one AP provider to another ends one "
                 "placement and starts the next, so a child moved twice has three; two placements at once "
                 "(two part-time providers) count as two. The pupils add up to the pupils in AP in the period. With a "
                 "provider (or any) filter on, only the placements it selects count: a child moved from that "
                 "provider to another shows one placement there.",
    "long_open": "Open placements that have run for more than the long-placement threshold ({long_placement_days} "
                 "days; 182, two terms, by default — see Settings).",
    "time_summary": "Completed: placements that ended in the period (mean and median days). Open: placements "
                    "open on the 'as of' date, days so far. Per pupil: the median of each pupil's distinct "
                    "days in AP over all their placements (overlaps counted once).",
    "returns_by_group": "Return rate per group: returns to mainstream divided by placements ended in the "
                        "period (moves to another AP placement not counted). 'Destination not recorded' "
                        "stays in the denominator.",
    "destinations": "Every placement that ended in the period, by where the pupil went next (moves to "
                    "another AP placement included here). A blank destination counts as 'unknown'.",
    "returns": "Each return to mainstream in the period. A return is sustained when, for {sustain_days} days "
               "after it, the pupil had no new AP placement and no permanent exclusion; it is judged only once "
               "{sustain_days} days have passed. 'Broke down by' says what ended it.",
    "attendance": "For each placement in the period: attendance in the {baseline_days} days before it started (baseline) "
                  "and attendance during it (to the end date or the 'as of' date). A rate is attended "
                  "sessions divided by possible sessions. Only placements with attendance recorded in "
                  "both windows count. 'Improved' means the rate during is above the baseline.",
    "assessments": "For each placement and measure: the baseline is the latest score on or before the start "
                   "date; the latest is the latest score after it (up to the end or 'as of' date). Improved "
                   "means the score went up — or down, for a measure where lower is better (set each "
                   "measure's direction in Settings).",
    "exclusions_summary": "Exclusions that started in the period. Suspensions are counted as events; "
                          "'pupils suspended' counts each pupil once; 'repeat' means two or more suspensions. "
                          "Lunchtime exclusions are counted apart and are not suspensions.",
    "exclusions_by": "Suspensions and permanent exclusions that started in the period, by the chosen grouping.",
    "repeat_suspensions": "Pupils with two or more suspensions that started in the period.",
    "exclusion_rates": "Suspensions and permanent exclusions per 100 pupils on roll, for schools whose roll "
                       "you have entered. Rolls are not in the uploaded files: type them in the table.",
    "sixth_day_cases": "Each permanent exclusion in the period: its sixth school day (counting the exclusion "
                       "day as day one when it is a school day) and whether a placement was in place by then.",
    "scorecard": "One row per provider for placements in the period: pupils, whether the provider is "
                 "registered (from its URN/UKPRN or setting type), hours a week, attendance during "
                 "placements, time in AP, return rate and cost per week where recorded.",
    "one_provider": "One provider's row of the scorecard, of the flags by provider and of the registration "
                    "check below, side by side with every provider's totals (with the sidebar's filters other "
                    "than Provider), for a contract meeting or a visit. Medians and shares are not "
                    "totalled across providers, so their 'All providers' cell is blank. The buttons open the "
                    "Case list and the Overview with the Provider filter set to this provider.",
    "one_provider_terms": "The provider's attendance in each of the last six terms (the current term up to the 'as of' "
                          "date): the pupils placed there on any day of the term with the sidebar's filters, how many "
                          "of them have attendance recorded while placed there, and those rows' sessions, as the "
                          "scorecard counts them (each row once, whatever setting it names). A term with pupils "
                          "placed but none with attendance recorded is a gap in the data to chase.",
    "flags_by_provider": "For each provider, the placements open on the 'as of' date (with the sidebar's filters), "
                         "the median number of days they have run so far (how long the children there now have "
                         "been there), and how many carry each oversight flag, as on the Case list. Open a "
                         "provider's placements on the Case list with the Provider filter.",
    "registration": "A provider that is not registered and, on the 'as of' date, has 5 or more pupils "
                    "timetabled for 18 hours a week or more — or any such pupil who is looked after or has an EHC "
                    "plan — is likely to need registering as an independent school. Where a timetable gives "
                    "sessions and no hours, each session counts as a tenth of a full-time week "
                    "({full_time_hours} hours).",
    "case_list": "Every placement open on the 'as of' date, with the oversight flags that apply, most urgent "
                 "first. Flags: no planned end date; planned end passed; no objectives; review overdue "
                 "(more than {review_interval_days} days since the last review, or the start); part-time "
                 "(under {full_time_hours} hours a week); part-time for more than {part_time_limit_days} days; "
                 "unregistered provider; long placement (over {long_placement_days} days); low attendance "
                 "(under {low_attendance_pct} during the placement). The numbers are the current settings.",
    "population": "Pupils in AP on the 'as of' date by a characteristic. A pupil with more than one open "
                  "placement counts once, with the details of the latest placement.",
    "national": "Published national figures (DfE statistics) for comparison. They may cover a different "
                "year and definition; the source and period are given for each.",
})


def about(key: str, extra: str | None = None) -> None:
    """The 'About this figure' note, collapsed under the figure."""
    text = ABOUT.get(key, "")
    if extra:
        text = f"{text} {extra}".strip()
    with st.expander("About this figure", icon=":material/info:"):
        st.markdown(text)
        if S.presentation():
            st.caption(f"Presentation mode: {c_means()}.")


# ---------------------------------------------------------------------------------------------
# Headline tiles

TILE_WIDTH = 210   # px: four tiles a row in a 1400 px window with the sidebar open, labels whole


def tiles(n: int) -> list:
    """`n` containers of one width for st.metric tiles (and their captions), side by side and
    wrapping onto the next line when the window is narrow. Equal columns would instead squeeze
    each tile until its label and value were cut short ("94 d…")."""
    row = st.container(horizontal=True, wrap=True, gap="small")
    return [row.container(width=TILE_WIDTH) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# Numbers

def n_of(count, word: str, plural: str | None = None) -> str:
    """'1 row', '3 rows', '1,204 rows': a count with its noun agreeing (never 'row(s)').

    >>> n_of(1, "row"), n_of(1204, "row"), n_of(2, "date", "dates")
    ('1 row', '1,204 rows', '2 dates')
    """
    return f"{int(count):,} {word if int(count) == 1 else (plural or word + 's')}"


def c_means() -> str:
    """What a 'c' stands for, said the same way everywhere (a reviewer read a 'c' hiding 5 as
    'at most 2')."""
    return (f"'c' stands for a count from 1 to {S.threshold() - 1}, or for any other figure (0 included) hidden "
            "so that such a count cannot be worked out from it")


def fmt_count(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        # In presentation mode a missing count in a chart is one hidden as 'c'.
        return "c" if S.presentation() else "—"
    if v == "c":
        return "c"
    return f"{int(v):,}"


def fmt_rate(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == "c":
        return "c"
    return f"{100 * float(v):.0f}%"


def flag_share(now, open_now, before, open_before, same: bool) -> tuple[str | None, str, str, str, str]:
    """(delta, delta colour, judgement, n text, last year's text) for the flagged-placements
    tile, judged on the share of open placements flagged, not the count. The delta is that
    share's change in percentage points, so its arrow and colour agree with the words (a
    reviewer read "69 ↓ -8" in red beside "worse" as a contradiction).

    >>> flag_share(69, 73, 77, 84, False)
    ('+3 pts on last year', 'inverse', ' · worse: a larger share flagged', '95% of 73 open', '77 (92% of 84)')
    >>> flag_share(40, 80, 50, 80, False)[:3]
    ('-12 pts on last year', 'inverse', ' · better: a smaller share flagged')
    """
    def share(n, d):
        return n / d if isinstance(n, (int, float)) and isinstance(d, (int, float)) and d else None
    s_now, s_before = share(now, open_now), share(before, open_before)
    n = f"{fmt_rate(s_now)} of {fmt_count(open_now)} open" if s_now is not None else ""
    last = (f"{fmt_count(before)} ({fmt_rate(s_before)} of {fmt_count(open_before)})"
            if s_before is not None else fmt_count(before))
    if s_now is None or s_before is None or same:
        return None, "off", "", n, last
    points = round(s_now * 100) - round(s_before * 100)   # as the percentages shown
    if points == 0:
        return "no change in the share on last year", "off", " · the same share", n, last
    # a larger share flagged is worse: up and red; a smaller one down and green
    return (f"{points:+d} pts on last year", "inverse",
            " · worse: a larger share flagged" if points > 0 else " · better: a smaller share flagged", n, last)


def fmt_days(v) -> str:
    """Whole days as they are; a median between two days keeps its half ("64.5 days"): rounded,
    64.5 read as 64 and 91.5 as 92 (halves to even), and 5.5 school days as 6, within the duty."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if v == "c":
        return "c"
    v = float(v)
    return f"{v:,.0f} days" if v.is_integer() else f"{v:,.1f} days"


# ---------------------------------------------------------------------------------------------
# Downloads and figures

def download_data(df: pd.DataFrame, aggregate: bool = True, count_cols=(), rate_cols=None,
                  total_row: bool = False, stat_cols=None, columns=None, group_by: str | None = None,
                  codes: bool = False, suppress=None, also_hide=None) -> pd.DataFrame | None:
    """The frame a download holds. Aggregate downloads always follow the small-number rule
    (metrics.md §7), presentation mode or not: a file travels. Pupil-level ones carry case
    numbers, never UPNs or anything derived from them (S.protect). ``columns``: the figure's
    own columns, in its order (a figure drawn from a wider table downloads what it shows).
    Headings and codes are the screen's words ("Return rate", "One-to-one tuition"), unless
    ``codes`` (a file meant to be uploaded again keeps its own headings). ``suppress``: the
    figure's own small-number rule (df → shared frame, or None when no shared version can be
    given: then nothing is offered); ``also_hide``: cells another figure hides, on top of the
    usual rule (shared frame → shared frame)."""
    kw = {"total_row_label": TOTAL} if total_row else {}
    if stat_cols:
        kw["stat_cols"] = stat_cols
    if suppress is not None and aggregate:
        data = suppress(df)
        if data is None:
            return None
    else:
        data = S.shared_table(df, count_cols, rate_cols, force=True, **kw) if aggregate and count_cols else df
        if also_hide is not None and aggregate:
            data = also_hide(data)
    if not aggregate:
        data = S.protect(data)
    if columns:
        front = [c for c in ("case", "pupil", "age") if c in data.columns and not aggregate]
        data = data[front + [c for c in columns if c in data.columns and c not in front]]
    data = _whole_numbers(data)
    return data if codes else readable(data, group_by)


def _whole_numbers(data: pd.DataFrame) -> pd.DataFrame:
    """Whole numbers written as such: a column with a blank (a Total row's) or a 'c' in it holds
    floats, and a reviewer's scorecard CSV said "14.0" pupils and "99.0" days."""
    out = data.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_float_dtype(col):
            if (col.dropna() % 1 == 0).all():
                out[c] = col.astype("Int64")
        elif col.dtype == object:
            out[c] = col.map(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)
    return out


def _per_state(key: tuple, fn):
    """fn(), kept in the session for this data and key: every download of a page asks for the
    same description, and the filter labels and the latest date read the whole placements
    table (a copy of it from the cache each time)."""
    memo = st.session_state.setdefault("_ui_memo", {})
    key = (S.data_version(), *key)
    if key not in memo:
        if len(memo) > 64:
            memo.clear()
        memo[key] = fn()
    return memo[key]


def scope_caption(p) -> str:
    """The line under a page's title: the date, the period and the filters by name, so that a
    screenshot of any page says which children it counts (a reviewer's board paper of
    looked-after children's figures did not say so anywhere but on the Overview)."""
    on = filters_described()
    said = ("no filters" if not on else
            "filtered by " + "; ".join(f"{label}: {values}" for label, values in on) if len(on) <= 3 else
            f"{len(on)} filters on (see the sidebar)")
    return f"As of {p.as_of:%d %B %Y} · period {p.start:%d %B %Y} to {p.end:%d %B %Y} · {said}"


def filters_described() -> list[tuple[str, str]]:
    """The sidebar's filters as a person would read them back: [(label, values)], only those on."""
    f = S.filters()
    if not S.active_filter_count():
        return []
    return _per_state(("filters", repr(f)), lambda: _described(f))


def _described(f) -> list[tuple[str, str]]:
    labels = S.filter_options().get("_labels", {})
    out = []
    for name, label in S.MULTI_FILTERS.items():
        values = getattr(f, name)
        if values:
            names = labels.get(name, {})
            out.append((label, "; ".join(names.get(v, SEN_LABELS.get(v) if name == "sen_status" else None)
                                         or value_label(v) for v in values)))
    for name, label in S.BOOL_FILTERS.items():
        v = getattr(f, name)
        if v is not None:
            out.append((label, "Yes" if v else "No"))
    return out


def settings_changed() -> list[tuple[str, str]]:
    """The thresholds set away from their defaults (metrics.md), as [(label, 'value (default d)')]."""
    chosen = tuple(st.session_state.get(f"s_{name}") for name, *_ in THRESHOLDS)

    def changed():
        now, default = S.settings(), S.Settings()
        return [(label, f"{getattr(now, name):g} (default {getattr(default, name):g})")
                for name, label, _ in THRESHOLDS if getattr(now, name) != getattr(default, name)]
    return _per_state(("settings", chosen), changed)


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def file_suffix() -> str:
    """What a file's name adds to its stem: the date its figures are as of, the period when it
    is not the academic year to that date, and the filters on (short, or just 'filtered' when
    they would make the name long)."""
    suffix = f"-as-of-{S.filters().as_of:%Y-%m-%d}"
    try:   # a period other than this academic year to the 'as of' date: two files, two names
        p = S.period()
        if p.start != academic_year_start(p.as_of) or p.end != p.as_of:
            suffix += f"-period-{p.start:%Y-%m-%d}-to-{p.end:%Y-%m-%d}"
    except APDataError:
        pass
    on = filters_described()
    if on:
        slug = _slug(" ".join(f"{label} {values}" for label, values in on))
        suffix += f"-{slug}" if len(slug) <= 60 else f"-filtered-{len(on)}-ways"
    return suffix


# Files with a row per child carry this at the top and foot of every printed page (a reviewer
# found the printed case list marked and its Excel file not).
MARKING = "OFFICIAL-SENSITIVE"


def file_about(title: str | None, note: str | None, more=()) -> pd.DataFrame:
    """The 'About this file' sheet of an Excel download: what the figures are and what they were
    chosen by, so a file that has left the dashboard can still be read (and reproduced).
    ``more``: the figure's own (label, text) rows; one whose label is already there replaces it
    (a figure counted on the 'as of' date says so instead of giving the period)."""
    rows = _file_about_rows(title, note)
    labels = [label for label, _ in rows]
    for label, text in more:
        if label in labels:
            rows[labels.index(label)] = (label, text)
        else:
            rows.insert(len(rows) - 1, (label, text))   # before "Downloaded"
    return pd.DataFrame(rows, columns=["About this file", ""])


def _file_about_rows(title: str | None, note: str | None) -> list[tuple[str, str]]:
    f = S.filters()
    rows = [("Figure", title or "")]
    try:
        p = S.period()
        rows += [("Figures as of", f"{p.as_of:%d/%m/%Y}"),
                 ("Period", f"{p.start:%d/%m/%Y} to {p.end:%d/%m/%Y}")]
    except APDataError:
        rows += [("Figures as of", f"{f.as_of:%d/%m/%Y}" if f.as_of else "")]
    on = filters_described()
    rows += on or [("Filters", "None: every placement in the period")]
    rows += settings_changed()
    if note:
        rows.append(("Small numbers" if "'c'" in note else "Pupils", note))
    last = _per_state(("last_data_date",), S.last_data_date)
    if last is not None:
        rows.append(("Latest date in the loaded data", f"{last:%d/%m/%Y}"))
    rows.append(("Downloaded", f"{datetime.now(timezone.utc):%d/%m/%Y %H:%M} UTC"))
    return rows


def downloads(df: pd.DataFrame, key: str, file_stem: str, aggregate: bool = True,
              count_cols=(), rate_cols=None, total_row: bool = False, stat_cols=None, columns=None,
              group_by: str | None = None, codes: bool = False, suppress=None, also_hide=None,
              title: str | None = None, scoped: bool = True, about_rows=(), file_cols=None,
              cases=None) -> None:
    """CSV and Excel downloads of the data behind a figure (formula-neutralised by analytics);
    what they hold is download_data's. ``total_row``: df's last row is the total of the rows
    above it. A file of figures is named by its 'as of' date and filters, and its Excel copy
    has an 'About this file' sheet (``title``: the figure's; ``about_rows``: its own rows, see
    file_about). ``scoped=False``: the file does not depend on the dates and filters (the bundled
    national figures); it gets an 'About this file' sheet only with ``about_rows``.
    ``file_cols``: {heading: text} columns the files carry on every row and the screen does not
    (a source and licence, so that a CSV pasted elsewhere still says where its figures came from).
    ``cases``: the case numbers a file of named rows holds, for the access log, when it has no
    case column (rejected rows, as they were in the file)."""
    if df is None or df.empty:
        return
    data = download_data(df, aggregate, count_cols, rate_cols, total_row, stat_cols, columns, group_by, codes,
                         suppress, also_hide)
    if data is None:
        st.caption("No file is offered for this breakdown: with the figures beside it, hiding its small numbers "
                   "would not be enough to keep them from being worked out.")
        return
    try:
        to_csv = S.api("exports", "to_csv_bytes")
        to_xlsx = S.api("exports", "to_xlsx_bytes")
    except S.NotAvailable:
        st.caption("Downloads are not available yet.")
        return
    note = (f"In this file {c_means()}, as in published statistics, whether presentation mode is on or not."
            if aggregate and count_cols else
            "One row per pupil's placement, with case numbers instead of UPNs."
            if not aggregate else None)
    if file_cols:
        data = data.assign(**file_cols)
    # a row per child (not the bundled national figures, also one row each): marked in the
    # file's name too, since a CSV has no header or footer (a data protection review found the
    # CSV twins unmarked and named like files of figures)
    personal = not aggregate and scoped
    if personal:
        file_stem = f"{MARKING}-{file_stem}"
    sheets = data
    if scoped and (aggregate or not codes):
        # a file outlives the screen: its name says the date its figures are as of and the
        # filters they were chosen by, and the workbook says it all in words
        file_stem += file_suffix()
        more = list(about_rows) + ([] if aggregate else [("Protective marking", f"{MARKING}: a row per child. "
                                                        "Keep it secure, as your organisation's policy says.")])
        sheets = {"Data": data, "About this file": file_about(title, note, more)}
    elif about_rows:
        sheets = {"Data": data, "About this file": pd.DataFrame(list(about_rows), columns=["About this file", ""])}
    make_csv = lambda: to_csv(data)   # noqa: E731
    percent = percent_headings(df, codes)
    marking = MARKING if personal else None   # a row per child: marked on every printed page
    make_xlsx = lambda: to_xlsx(sheets, percent=percent, marking=marking)   # noqa: E731
    if personal:   # a copy of children's rows leaves the product: who took it goes in the access log
        if cases is None:
            held = [c for c in ("case", column_label("case")) if c in data.columns]   # S.protect's, in words or not
            cases = data[held[0]].tolist() if held else ()
        make_csv = S.logged_download(make_csv, f"{file_stem}.csv", cases=cases)
        make_xlsx = S.logged_download(make_xlsx, f"{file_stem}.xlsx", cases=cases)
    row = st.container(horizontal=True)
    c1 = c2 = row
    c1.download_button("Download CSV", data=make_csv, file_name=f"{file_stem}.csv",
                       mime="text/csv", key=f"dl_csv_{key}", on_click="ignore", icon=":material/download:",
                       help=note)
    c2.download_button("Download Excel", data=make_xlsx,
                       file_name=f"{file_stem}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       help=note,
                       key=f"dl_xlsx_{key}", on_click="ignore", icon=":material/download:")


def percent_headings(df: pd.DataFrame, codes: bool = False) -> list:
    """The headings, as the file has them, of a figure's columns of fractions (rates, shares):
    the Excel file keeps them as numbers and shows them as percentages, as the screen does."""
    return [c if codes else column_label(c) for c in df.columns if _is_percent(c)]


PERCENT_COLUMNS = ("rate", "share", "survival")


def _is_percent(column) -> bool:
    """A column of fractions shown as percentages, by its name (e.g. return_rate, local_share)."""
    return any(str(column).endswith(s) or str(column).startswith(s) for s in PERCENT_COLUMNS)


def _numbers_only(s: pd.Series) -> bool:
    """Every value a number or blank (an object column of floats and a Total row's None)."""
    vals = s.dropna()
    return len(vals) > 0 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def _is_date_column(s: pd.Series) -> bool:
    if str(s.dtype).startswith("datetime"):
        return True
    vals = s.dropna()
    import datetime as _dt
    return len(vals) > 0 and all(isinstance(v, _dt.date) for v in vals.head(20))


def table(df: pd.DataFrame, group_by: str | None = None, rename: dict | None = None, pin: tuple = (), **kw):
    """A readable table: codes as words, dates as dd/mm/yyyy, rates as percentages, 'c' where
    suppressed. ``pin``: columns (of ``df``) kept in view at the left while the grid scrolls
    sideways. Returns what st.dataframe returns (the selection, when asked for)."""
    shown = readable(df, group_by)
    for orig, c in zip(df.columns, shown.columns):
        # A column holding 'c' (or blanks among its numbers) is text: percentages are written out,
        # as the number format of a numeric column would show them.
        if shown[c].dtype == object and ((shown[c] == "c").any() or _is_percent(orig)):
            shown[c] = shown[c].map(lambda v, pct=_is_percent(orig), money=str(orig).startswith("cost"):
                                    _cell_text(v, pct, money))
    if rename:
        shown = shown.rename(columns=rename)
    config = {}
    for orig, col in zip(df.columns, shown.columns):
        if _is_date_column(shown[col]):
            config[col] = st.column_config.DateColumn(col, format="DD/MM/YYYY")
            continue
        numeric = pd.api.types.is_numeric_dtype(df[orig]) and not pd.api.types.is_bool_dtype(df[orig])
        if numeric and _is_percent(orig):
            config[col] = st.column_config.NumberColumn(col, format="percent")
        elif numeric and str(orig) in ("change_pp",):
            config[col] = st.column_config.NumberColumn("Change (pp)", format="%+.1f")
        elif str(orig).startswith("cost") and (numeric or _numbers_only(df[orig])):
            # (a Total row's blank makes the column object: the scorecard's costs lost their £)
            shown[col] = pd.to_numeric(shown[col], errors="coerce")
            config[col] = st.column_config.NumberColumn(col + " (£)", format="£%.0f")
    for orig, col in zip(df.columns, shown.columns):
        if orig in pin:
            config[col] = {**config.get(col, st.column_config.Column(col)), "pinned": True, "width": "medium"}
    if S.print_layout():
        # every row and column, as text that wraps: a scrolled grid prints only what is in view
        st.table(printable(shown, df), hide_index=True)
        return None
    kw.setdefault("width", "stretch")
    kw.setdefault("placeholder", "")   # a missing value is a blank cell, not a grey "None"
    if len(shown) <= 25:
        # every row in view (the default shows ten and hides the rest, such as the current term
        # at the end of a trend table, below a scroll bar)
        kw.setdefault("height", 35 * (len(shown) + 1) + 3)
    return st.dataframe(shown, hide_index=True, column_config=config, **kw)


def _cell_text(v, pct: bool = False, money: bool = False):
    """A number in a column that also holds 'c' (so is text), written as the column's number format
    would show it: 76.79%, £1,518, 169 (not 169.0); a blank stays blank."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return v
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        return str(v)
    if pct:
        return f"{v:.2%}"
    if money:
        return f"£{v:,.0f}"
    if float(v).is_integer():
        return f"{float(v):,.0f}"
    return f"{v:,.1f}"


def printable(shown: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """A readable table (``shown``, from ``df``) as text for paper: dates dd/mm/yyyy, rates as
    percentages, costs in pounds, blanks empty, as the screen's column formats show them."""
    out = shown.copy()
    for orig, col in zip(df.columns, out.columns):
        s = out[col]
        numeric = pd.api.types.is_numeric_dtype(df[orig]) and not pd.api.types.is_bool_dtype(df[orig])
        if _is_date_column(s):
            fmt = lambda v: v.strftime("%d/%m/%Y")
        elif numeric and _is_percent(orig):
            fmt = lambda v: f"{v:.2%}" if isinstance(v, (int, float)) else str(v)
        elif numeric and str(orig) == "change_pp":
            fmt = lambda v: f"{v:+.1f}" if isinstance(v, (int, float)) else str(v)
        elif str(orig).startswith("cost") and (numeric or _numbers_only(df[orig])):
            fmt = lambda v: f"£{v:,.0f}" if isinstance(v, (int, float)) else str(v)
        elif s.dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all() and len(s.dropna()):
            fmt = lambda v: "Yes" if v else "No"     # the screen's tick boxes, in words on paper
        else:
            fmt = lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else (
                f"{v:,.1f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v))
        out[col] = [("" if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT
                     or (not isinstance(v, str) and pd.isna(v)) else fmt(v)) for v in s]
    return out


# A chart of children's own records (a pupil's timeline, a dot per placement) offers no "Download
# plot as a PNG": an unmarked picture of a child's record that the access log never saw (a QA
# review). Files of named rows leave by the app's buttons only.
PERSONAL_CHART_CONFIG = {**CHART_CONFIG,
                         "modeBarButtonsToRemove": CHART_CONFIG["modeBarButtonsToRemove"] + ["toImage"]}


def plot(fig: go.Figure, key: str, personal: bool = False) -> None:
    """st.plotly_chart; in the layout for printing, drawn at a width that fits A4 paper and
    static (on screen a chart takes the window's width, and paper cut it off at the right).
    ``personal``: the chart draws children's own records (no picture download)."""
    if S.print_layout():
        fig.update_layout(width=PRINT_WIDTH)
        st.plotly_chart(fig, key=key, width="content", theme=CHART_THEME,
                        config={"staticPlot": True, "displayModeBar": False})
    else:
        st.plotly_chart(fig, key=key, config=PERSONAL_CHART_CONFIG if personal else CHART_CONFIG,
                        theme=CHART_THEME)


def view_toggle(key: str, default: str = "Chart", title: str = "") -> str:
    # the label is not shown, but a screen reader says which figure the switch is for
    v = st.segmented_control(f"Show {title} as" if title else "Show as", ["Chart", "Table"], default=default,
                             key=f"view_{key}", label_visibility="collapsed")
    return v or default


def _legend_rows(fig: go.Figure) -> int:
    shown = [t for t in fig.data if t.showlegend is not False and t.name]
    width = sum(len(str(t.name)) + 6 for t in shown)
    return max(1, math.ceil(width / 110)) if shown else 0


def style(fig: go.Figure, title: str, x: str, y: str, height: int = 380) -> go.Figure:
    fig.update_layout(title=dict(text=title, y=0.98, yanchor="top", x=0, xanchor="left"),
                      height=height + 40 + 22 * _legend_rows(fig),
                      colorway=OKABE_ITO, margin=dict(l=10, r=10, t=70 + 22 * _legend_rows(fig), b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, xanchor="left"),
                      font=dict(size=14))
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig


def numeric_for_chart(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Suppressed 'c' cells become gaps in a chart (the table shows the 'c')."""
    out = df.copy()
    for c in cols:
        if c in out.columns:
            out[c] = pd.to_numeric(out[c].where(out[c] != "c"), errors="coerce")
    return out


def figure(title: str, key: str, df: pd.DataFrame | None, about_key: str, *, chart=None,
           count_cols=(), rate_cols=None, pupil_level: bool = False, group_by: str | None = None,
           empty: str = "Nothing to show.", file_stem: str | None = None,
           about_extra: str | None = None, table_cols=None, default_view: str = "Chart",
           total_row: bool = False, repeated_totals=(), not_additive=(), stat_cols=None,
           download_df: pd.DataFrame | None = None, suppress=None, also_hide=None, level: int = 3,
           about_rows=(), file_cols=None, pin: tuple = ()) -> None:
    """A titled figure: about note, chart/table toggle, the table (small numbers hidden in
    presentation mode) and downloads of the data behind it.

    ``total_row``: the rows are parts of a whole shown with them (a headline, the chart's n), so
    the table gets a Total row and, in presentation mode, a second cell is hidden wherever one
    hidden cell could be worked out by subtraction (metrics.md §7). ``repeated_totals``: count
    columns that already hold that whole on every row; ``not_additive``: counts that do not add
    up across rows (distinct pupils), left blank in the Total row (see suppression.add_total_row).
    ``stat_cols``: {median or share column: count column of its group}, hidden with that count.
    ``download_df``: what the downloads hold when it is not the table (always shared: a file
    travels; the Kaplan–Meier life table, say, gives its hidden counts back).
    ``suppress``: the figure's own small-number rule, for a figure protected together with the
    others beside it (df with its Total row → the shared frame, or None when it cannot be shown
    shared); it replaces the usual rule on the screen in presentation mode and in the files.
    ``also_hide``: on top of the usual rule, cells another figure hides (the same counts
    protected together there); hiding more in a protected table leaves it protected.
    ``level``: the title's heading level, 2 for a figure directly under the page's title (a
    screen reader's outline of the page skips no level), 3 under a section heading.
    ``about_rows``, ``file_cols``: what the files say beside the data (see downloads).
    ``pin``: the table's columns kept in view while a wide table scrolls sideways (see table).
    """
    (st.header if level == 2 else st.subheader)(title, anchor=False)
    about(about_key, about_extra)
    if df is None or df.empty:
        st.info(f"{empty} {S.empty_reason()}".strip())
        return
    kw = {"total_row_label": TOTAL} if total_row and not pupil_level and count_cols else {}
    if pupil_level:
        shown = S.protect(df)
    elif suppress is not None:
        if kw:
            df = with_total(df, count_cols, rate_cols, table_cols, repeated_totals, not_additive)
        shown = suppress(df) if S.presentation() else df
        if shown is None:
            st.info("Not shown in presentation mode: with the figures beside it, hiding this breakdown's small "
                    "numbers would not be enough to keep them from being worked out.")
            return
    else:
        df, shown = protected(df, count_cols, rate_cols, total_row=total_row, label_cols=table_cols,
                              repeated_totals=repeated_totals, not_additive=not_additive, stat_cols=stat_cols,
                              also_hide=also_hide)
    if kw and S.presentation() and suppress is None and _total_hidden_for_its_parts(df, shown, count_cols):
        st.info(f"Not shown in presentation mode: every group here is smaller than {S.threshold()}, and "
                "their total is shown elsewhere on the page, so the groups could be worked out from it.")
        return
    if table_cols:
        shown = shown[[c for c in table_cols if c in shown.columns]]
    view = view_toggle(key, default_view, title) if chart is not None else "Table"
    if view == "Chart":
        parts = shown.iloc[:-1] if kw else shown   # the chart draws the parts, not their total
        fig = chart(numeric_for_chart(parts, list(count_cols) + list((rate_cols or {}).keys())))
        plot(fig, f"chart_{key}", personal=pupil_level)
        if S.presentation() and (shown.astype(str) == "c").any().any():
            st.caption(f"Some values are hidden ({c_means()}) and are left out of the chart.")
    else:
        table(shown, group_by, pin=pin)
    if download_df is not None:
        downloads(download_df, key, file_stem or key, aggregate=not pupil_level, count_cols=count_cols,
                  rate_cols=rate_cols, stat_cols=stat_cols, columns=table_cols, group_by=group_by,
                  suppress=suppress, title=title, about_rows=about_rows, file_cols=file_cols)
    else:
        downloads(df, key, file_stem or key, aggregate=not pupil_level, count_cols=count_cols, rate_cols=rate_cols,
                  total_row=bool(kw), stat_cols=stat_cols, columns=table_cols, group_by=group_by,
                  suppress=suppress, also_hide=also_hide, title=title, about_rows=about_rows, file_cols=file_cols)


def with_total(df: pd.DataFrame, count_cols, rate_cols=None, label_cols=None, repeated_totals=(),
               not_additive=()) -> pd.DataFrame:
    """df and a Total row of its count columns (suppression.add_total_row), labelled in the first
    column that is neither a count nor a rate (of ``label_cols`` when given)."""
    label_col = next((c for c in (label_cols or df.columns) if c in df.columns and c not in count_cols
                      and c not in (rate_cols or {})), None)
    return S.api("suppression", "add_total_row")(df, count_cols, rate_cols, repeated=repeated_totals,
                                                 label=TOTAL, label_col=label_col, blank=not_additive)


def protected(df: pd.DataFrame, count_cols, rate_cols=None, *, total_row: bool = False, label_cols=None,
              repeated_totals=(), not_additive=(), stat_cols=None, also_hide=None,
              force: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(df with its Total row when ``total_row``, the same with small numbers hidden): what
    ``figure`` shows, hidden in presentation mode, or always with ``force`` (a file travels). The
    arguments are figure's. Another view of a figure's rows (one provider's, say) takes them from
    here, so that it hides exactly what the figure hides."""
    kw = {}
    if total_row and count_cols:
        df = with_total(df, count_cols, rate_cols, label_cols, repeated_totals, not_additive)
        kw = {"total_row_label": TOTAL}
    shown = S.shared_table(df, count_cols, rate_cols, force=force, **kw,
                           **({"stat_cols": stat_cols} if stat_cols else {}))
    if also_hide is not None and (force or S.presentation()):
        shown = also_hide(shown)
    return df, shown


def _total_hidden_for_its_parts(df: pd.DataFrame, shown: pd.DataFrame, count_cols) -> bool:
    """True when suppression hid a Total cell that is not itself small: it did so because every
    non-zero part beside it is a hidden 1 (suppression._protect). But a figure's total is public
    (a headline tile, the chart's n), and k groups adding up to k are all 1s: hiding the total
    protects nothing, so the breakdown must not be shown at all."""
    last, shown_last = df.iloc[-1], shown.iloc[-1]
    for c in count_cols:
        if c in df.columns and shown_last[c] == "c":
            v = pd.to_numeric(pd.Series([last[c]]), errors="coerce").iloc[0]
            if pd.notna(v) and v >= S.threshold():
                return True
    return False


def bar(df: pd.DataFrame, x: str, y: str, title: str, x_title: str, y_title: str, *, color=None,
        horizontal: bool = False, percent: bool = False, group_by: str | None = None, barmode="group"):
    d = df.copy()
    for c in (x, color):
        if c and c in d.columns:
            d[c] = d[c].map((lambda v: SEN_LABELS.get(str(v), value_label(v))) if group_by == "sen_status"
                            else value_label).map(safe_label)
    colours = {}
    if color == "destination":
        colours = {safe_label(value_label(k)): v for k, v in DESTINATION_COLOURS.items()}
    palette = dict(color_discrete_sequence=OKABE_ITO + ["#999999"], color_discrete_map=colours,
                   labels={color: column_label(color)} if color else {})
    if color:
        palette.update(pattern_shape=color, pattern_shape_sequence=BAR_PATTERNS)
    if horizontal:
        fig = px.bar(d, y=x, x=y, color=color, orientation="h", barmode=barmode, **palette)
        fig.update_yaxes(autorange="reversed")
        fig = style(fig, title, y_title, x_title, height=max(320, 40 + 32 * d[x].nunique()))
        if percent:
            fig.update_xaxes(tickformat=".0%", range=[0, 1])
    else:
        fig = px.bar(d, x=x, y=y, color=color, barmode=barmode, **palette)
        fig = style(fig, title, x_title, y_title)
        if percent:
            fig.update_yaxes(tickformat=".0%", range=[0, 1])
    if color is None:
        fig.update_traces(marker_color=OKABE_ITO[0])
    if not percent:
        integer_axis(fig, d[y], "x" if horizontal else "y")
    return fig


def integer_axis(fig: go.Figure, values, axis: str = "y") -> None:
    """Counts have whole-number ticks."""
    top = pd.to_numeric(pd.Series(values), errors="coerce").max()
    kw = dict(tickformat=",d", rangemode="tozero")
    if top is not None and not pd.isna(top) and top <= 10:
        kw["dtick"] = 1
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**kw)


def n_text(n) -> str:
    return f"n = {fmt_count(n)}"


def safe_label(v) -> str:
    """Uploaded text for chart labels: plotly reads a few HTML tags, so angle brackets go."""
    return str(v).replace("<", "‹").replace(">", "›")


md_escape = S.md_escape


# ---------------------------------------------------------------------------------------------
# The pupil view's pieces that are not drawing

def with_gaps(d: pd.DataFrame, days: int = 21) -> pd.DataFrame:
    """The periods in date order, with an empty point wherever more than `days` pass between
    two: a line drawn across months with no record reads as attendance all along."""
    d = d.sort_values("period_start")
    starts = pd.to_datetime(d["period_start"])
    gaps = starts.diff().dt.days > days
    if not gaps.any():
        return d
    parts, previous = [], None
    for (_, row), gap, start in zip(d.iterrows(), gaps, starts):
        if gap:   # an empty point between the two, where the line breaks
            parts.append({"period_start": previous + (start - previous) / 2, "rate": None})
        parts.append(row.to_dict())
        previous = start
    return pd.DataFrame(parts)



def pupil_file(view: dict, placement_cols: list[str], as_of) -> dict:
    """The pupil view's Excel file: the screen's tables and columns, no more. Not the stored
    record's other columns (ethnicity, cost, internal ids), which a file carries out of the
    meeting; case number, initials or name, and age as the screen has them (S.protect)."""
    shown = {"placements": ["case", "pupil", "age"] + list(placement_cols),
             "attendance": ["case", "period_start", "period_end", "setting", "possible_sessions",
                            "attended_sessions", "rate"],
             "assessments": ["case", "measure", "date", "value"],
             "exclusions": ["case", "start_date", "category", "sessions", "reason", "school"]}
    out = {}
    for name, table_ in view.items():
        t = S.protect(table_, as_of)
        out[name] = readable(t[[c for c in shown.get(name, t.columns) if c in t.columns]])
    return out


def assessment_chart(ass: pd.DataFrame, directions: dict[str, bool]) -> go.Figure:
    """One pupil's scores, one panel per measure (the pupil view)."""
    # One panel per measure, each on its own scale: a reading age near 140 and a wellbeing score
    # near 15 on one axis would flatten the second. Each says which way is better: an SDQ score
    # rising from 8 to 21 is drawn like a reading age rising.
    groups = list(ass.groupby("measure_key" if "measure_key" in ass.columns else "measure"))
    names = [safe_label(f"{d['measure'].iloc[-1]} "
                          f"({'higher' if directions.get(k, True) else 'lower'} is better)")
             for k, d in groups]
    fig = make_subplots(rows=len(groups), cols=1, shared_xaxes=True, subplot_titles=names,
                        vertical_spacing=min(0.12, 0.3 / max(1, len(groups))))
    for i, (_, d) in enumerate(groups):
        fig.add_trace(go.Scatter(x=pd.to_datetime(d["date"]), y=d["value"], name=names[i], mode="lines+markers",
                                 line=dict(color=OKABE_ITO[i % 8], width=2), showlegend=False),
                      row=i + 1, col=1)
    fig = style(fig, f"Assessments (n = {n_of(len(ass), 'score')})", "", "", height=120 + 170 * len(groups))
    fig.update_xaxes(title_text="Date", row=len(groups), col=1)
    dates = pd.to_datetime(ass["date"]).dropna()
    if len(dates) and dates.min() == dates.max():
        # one date: Plotly spans a millisecond ("23:59:59.999 May 22"); a month either side
        one = dates.min()
        fig.update_xaxes(range=[one - pd.Timedelta(days=31), one + pd.Timedelta(days=31)], tickformat="%b %Y")
    for i, (_, d) in enumerate(groups):
        if d["value"].nunique() == 1:   # one score: a readable scale around it, not steps of 0.5
            v = float(d["value"].iloc[0])
            fig.update_yaxes(range=[v - max(1.0, abs(v) * 0.1), v + max(1.0, abs(v) * 0.1)], row=i + 1, col=1)
    return fig


def pupil_about(case: str, who: str, facts: list[tuple[str, str]], as_of) -> pd.DataFrame:
    """The pupil file's 'About this file' sheet: whose records (as the screen names them), the
    header's facts, the date, the mode, and when it was downloaded."""
    rows = [("File", "Pupil view: one pupil's placements, attendance, assessments and exclusions"),
            ("Case", case), ("Pupil", who)]
    rows += [(label, text.split(": ", 1)[-1] if ": " in text else text) for label, text in facts]
    rows += [("Records as of", f"{as_of:%d/%m/%Y}"),
             ("Presentation mode", "On: initials and age, no name or date of birth" if S.presentation() else
              "Off: holds the pupil's name and date of birth; OFFICIAL-SENSITIVE, keep it secure")]
    last = _per_state(("last_data_date",), S.last_data_date)
    if last is not None:
        rows.append(("Latest date in the loaded data", f"{last:%d/%m/%Y}"))
    rows.append(("Downloaded", f"{datetime.now(timezone.utc):%d/%m/%Y %H:%M} UTC"))
    return pd.DataFrame(rows, columns=["About this file", ""])


def clicked_case(row: int, seen: list | None, now: list) -> str | None:
    """The case number of the row clicked: by its position in the list as it was drawn
    (``seen``, from the run before the click), not as worked out again now (``now``); None when
    that case is no longer listed.

    >>> clicked_case(2, ["C-1", "C-2", "C-3"], ["C-2", "C-3", "C-4"])   # C-1 withdrawn since
    'C-3'
    >>> clicked_case(0, ["C-1", "C-2"], ["C-2"]) is None
    True
    """
    listed = seen if seen is not None and row < len(seen) else now
    case = listed[row] if row < len(listed) else None
    return case if case in now else None
