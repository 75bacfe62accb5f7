"""Header matching: synonyms, the header row, and which dataset a sheet holds.

>>> normalise_header("Start Date (dd/mm/yyyy)")
'startdate'
>>> normalise_header("Length (days)") == normalise_header("Length (sessions)")
False
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from analytics import schema

# A trailing date-format hint: "(dd/mm/yyyy)", "(yyyy-mm-dd)", "(DD.MM.YY)".
_DATE_HINT = re.compile(r"\(\s*(?:[dmy]{1,4}\s*[/\-. ]?\s*){2,3}\)\s*$", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)

# Pseudo-columns: header kinds that feed a canonical column in another shape.
AM, PM, MARK, SESSION, PCT, DAYS = "_am", "_pm", "_mark", "_session", "_pct", "_days"
# Which canonical column each pseudo-column feeds (reported in ParsedSheet.mapping).
PSEUDO_FEEDS = {AM: "attended_sessions", PM: "attended_sessions", MARK: "attended_sessions",
                SESSION: "attended_sessions", PCT: "attended_sessions", DAYS: "sessions"}


def normalise_header(text: object) -> str:
    """Case, space and punctuation folded; a trailing date-format hint dropped."""
    s = str(text if text is not None else "").strip()
    s = _DATE_HINT.sub("", s).strip()
    s = s.lower().replace("%", " percent ")
    return _NOT_ALNUM.sub("", s)


_PUPIL = ("UPN", "Unique Pupil Number", "Pupil UPN", "Pupil ID", "Pupil Ref", "Pupil Reference",
          "Student ID", "Child ID", "LA Ref")

_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "placements": {
        "pupil_id": _PUPIL,
        "first_name": ("Forename", "First Name", "Legal Forename"),
        "last_name": ("Surname", "Last Name", "Legal Surname"),
        "date_of_birth": ("DOB", "Birth Date", "Date of Birth"),
        "sex": ("Gender",),
        "ethnicity": ("Ethnic Group", "Ethnicity Code"),
        "sen_status": ("SEN", "SEN Status", "SEN Provision", "SEND"),
        "cla": ("LAC", "CLA", "In Care", "Looked After", "Child in Care"),
        "fsm": ("FSM Eligible", "Free School Meals", "FSM"),
        "nc_year": ("NC Year", "Year Group", "Year"),
        "home_school": ("School", "Home School", "Base School", "Referring School",
                        "Commissioning School"),
        "home_school_urn": ("School URN", "Home School URN"),
        "trust": ("MAT", "Academy Trust", "Trust Name"),
        "provider": ("AP Provider", "Provider Name", "Provision", "Setting", "Placement Provider"),
        "provider_urn": ("Provider URN", "AP URN", "URN of AP"),
        "provider_ukprn": ("UKPRN", "Provider UKPRN"),
        "setting_type": ("AP Type", "Setting Type", "Type of Provision", "Provision Type"),
        "registered": ("Registered", "Registered Provider", "Ofsted Registered"),
        "commissioner": ("Commissioned By", "Commissioner", "Arranged By", "Funded By"),
        "reason": ("Placement Reason", "Primary Reason", "Reason for Placement"),
        "start_date": ("Placement Start", "Start", "Date Started", "Entry Date",
                       "Start Date of Placement", "Placement Start Date"),
        "planned_end_date": ("Planned End", "Planned End Date", "Expected End Date",
                             "Intended End Date"),
        "end_date": ("Actual End Date", "Date Ended", "Leaving Date", "End",
                     "Placement End Date"),
        # data-spec's four, and the short forms MIS exports use ("Hrs per wk": a reviewer's file)
        "hours_per_week": ("Hours", "Hours per Week", "Weekly Hours", "Timetabled Hours",
                           "Hrs", "Hrs per Week", "Hrs per Wk", "Hours per Wk", "Hours a Week", "Hours/Week"),
        "sessions_per_week": ("Sessions per Week", "Sessions a Week"),
        "objectives": ("Success Criteria", "Placement Objectives", "Targets", "Outcomes Sought"),
        "last_review_date": ("Last Review", "Date of Last Review", "Review Date"),
        "destination": ("Outcome", "Exit Destination", "Destination on Leaving", "Next Step"),
        "out_of_area": ("Out of Area", "Out of County", "OOA"),
        "cost_per_week": ("Weekly Cost", "Cost per Week", "Weekly Fee"),
    },
    "attendance": {
        "pupil_id": _PUPIL,
        "period_start": ("Week Commencing", "Week Beginning", "From", "Start Date", "Date",
                         "W/C", "WC"),
        "period_end": ("To", "End Date", "Week Ending"),
        "possible_sessions": ("Possible", "Possible Sessions", "Sessions Possible"),
        "attended_sessions": ("Attended", "Present", "Sessions Attended", "Present + AEA"),
        "setting": ("Provider", "School", "Setting"),
        AM: ("AM", "AM Mark", "Morning"),
        PM: ("PM", "PM Mark", "Afternoon"),
        MARK: ("Mark", "Attendance Mark", "Code", "Attendance Code"),
        SESSION: ("Session", "AM/PM"),
        PCT: ("Attendance %", "% Attendance", "Attendance Rate", "Attendance Percentage",
              "Attendance Percent", "Percentage Attendance"),
    },
    "exclusions": {
        "pupil_id": _PUPIL,
        "category": ("Type", "Exclusion Type", "Category", "Exclusion Category"),
        "start_date": ("Exclusion Date", "Start Date", "Date of Exclusion", "Exclusion Start Date"),
        "sessions": ("Sessions", "Length (sessions)", "Number of Sessions"),
        DAYS: ("Days", "Length (days)", "Number of Days"),
        "reason": ("Reason", "Reason 1", "Exclusion Reason"),
        "school": ("School", "School Name", "Excluding School"),
        "school_urn": ("School URN",),
        "trust": ("MAT", "Academy Trust"),
    },
    "assessments": {
        "pupil_id": _PUPIL,
        "measure": ("Assessment", "Measure", "Subject", "Indicator"),
        "date": ("Assessment Date", "Date", "Date Assessed"),
        "value": ("Score", "Value", "Result"),
        "higher_is_better": ("Higher is Better",),
    },
}

# normalised header -> canonical (or pseudo) column, per dataset.
SYNONYMS: dict[str, dict[str, str]] = {}
for _ds, _cols in _SYNONYMS.items():
    table: dict[str, str] = {}
    for _name in schema.column_names(_ds):
        table[normalise_header(_name)] = _name
    for _canon, _labels in _cols.items():
        for _label in _labels:
            table.setdefault(normalise_header(_label), _canon)
    table.pop(normalise_header("ethnicity_group"), None)  # derived, never read
    SYNONYMS[_ds] = table

# The two leading columns of the upload page's rejected-rows download. A user fixes the rows
# in that file and uploads it again, so these are never read as data: "Why it was rejected"
# must not become a placement or exclusion reason.
REJECTED_ROW_HEADING = "Row in the original file"
REJECTED_REASON_HEADING = "Why it was rejected"
OWN_HEADINGS = frozenset(normalise_header(h) for h in (REJECTED_ROW_HEADING, REJECTED_REASON_HEADING))

ALL_KNOWN = frozenset(k for t in SYNONYMS.values() for k in t)
WEEK_HEADERS = frozenset(normalise_header(h) for h in
                         ("Week Commencing", "Week Beginning", "W/C", "WC", "Week Starting"))
ATTENDANCE_MARKERS = frozenset({AM, PM, MARK, SESSION, PCT, "possible_sessions"})
DATASET_ORDER = ("placements", "exclusions", "assessments", "attendance")
_SHEET_HINTS = {
    "placements": ("placement", "provision", " ap"),
    "attendance": ("attendance", "register", "marks"),
    "exclusions": ("exclusion", "suspension"),
    "assessments": ("assessment", "progress", "baseline", "score"),
}


@dataclass
class HeaderMatch:
    dataset: str
    columns: dict[str, int]                  # canonical/pseudo column -> 0-based position
    mapping: dict[str, str]                  # original header -> canonical column, as used
    unmapped: list[str]
    warnings: list[str] = field(default_factory=list)
    week_start: bool = False                 # period_start came from a week column


def header_score(cells: list[str], mapping_keys: frozenset[str]) -> int:
    """How many cells of a row look like known headers."""
    seen = set()
    for c in cells:
        n = normalise_header(c)
        if n and (n in ALL_KNOWN or n in mapping_keys):
            seen.add(n)
    return len(seen)


def find_header_row(rows: list[list[str]], mapping_keys: frozenset[str]) -> tuple[int, int]:
    """(0-based index of the best header row among the first 30, its score)."""
    best, best_score = -1, 0
    for i, row in enumerate(rows[:30]):
        s = header_score(row, mapping_keys)
        if s > best_score:
            best, best_score = i, s
    return best, best_score


def _assign(dataset: str, headers: list[str], mapping: dict[str, str]) -> HeaderMatch:
    table = SYNONYMS[dataset]
    valid = set(schema.column_names(dataset)) | {k for k in table.values() if k.startswith("_")}
    valid.discard("ethnicity_group")
    norm_map = {normalise_header(k): v for k, v in mapping.items()}
    columns: dict[str, int] = {}
    used: dict[str, str] = {}
    unmapped: list[str] = []
    warnings: list[str] = []
    week = False
    for pos, header in enumerate(headers):
        text = str(header).strip()
        if not text:
            continue
        n = normalise_header(text)
        if text in mapping or n in norm_map:
            canon = mapping.get(text, norm_map.get(n))
            if not canon:
                continue  # explicitly ignored
            if canon not in valid:
                unmapped.append(text)
                warnings.append(f"Column '{text}' was mapped to '{canon}', which is not a "
                                f"{dataset} column, so it was not loaded.")
                continue
        elif n in OWN_HEADINGS:
            warnings.append(f"Column '{text}' comes from the rejected-rows download, so it was not loaded.")
            continue
        else:
            canon = table.get(n)
            if canon is None:
                unmapped.append(text)
                warnings.append(f"Column '{text}' was not recognised and was not loaded.")
                continue
        if canon in columns:
            warnings.append(f"Column '{text}' repeats a column already read for '{canon}' "
                            f"(the first one was used), so it was not loaded.")
            continue
        columns[canon] = pos
        used[text] = PSEUDO_FEEDS.get(canon, canon)
        if canon == "period_start" and n in WEEK_HEADERS:
            week = True
    return HeaderMatch(dataset, columns, used, unmapped, warnings, week)


def _complete(dataset: str, cols: dict[str, int]) -> list[str]:
    """Required columns missing from a sheet, as words for a message."""
    have = set(cols)
    need: list[str] = []
    if "pupil_id" not in have:
        need.append("a pupil ID (UPN)")
    if dataset == "placements":
        if "start_date" not in have:
            need.append("a placement start date")
        if not have & {"provider", "provider_urn", "provider_ukprn"}:
            need.append("a provider (name, URN or UKPRN)")
    elif dataset == "attendance":
        if "period_start" not in have:
            need.append("a date or week commencing")
        marks = bool(have & {AM, PM, MARK})
        summary = "possible_sessions" in have and bool(have & {"attended_sessions", PCT})
        if not (marks or summary):
            need.append("possible and attended sessions (or an attendance %, or AM/PM marks)")
    elif dataset == "exclusions":
        for c, words in (("category", "an exclusion type"), ("start_date", "a start date")):
            if c not in have:
                need.append(words)
    elif dataset == "assessments":
        for c, words in (("measure", "an assessment (measure)"), ("date", "a date"),
                         ("value", "a score (value)")):
            if c not in have:
                need.append(words)
    return need


def read_as(dataset: str | None, headers: list[str], mapping: dict[str, str]) -> list[str | None]:
    """What each heading is read as for a sheet of `dataset`, by the matching ingest uses: its
    canonical column (or a pseudo-column such as AM), None when it is not loaded (unrecognised,
    left out, or repeating a column already read). For the upload page's mapping form."""
    if dataset not in SYNONYMS:
        return [None] * len(headers)
    columns = _assign(dataset, headers, mapping).columns
    by_pos = {pos: canon for canon, pos in columns.items()}
    return [by_pos.get(i) for i in range(len(headers))]


def closest_dataset(headers: list[str], mapping: dict[str, str]) -> str | None:
    """The dataset whose columns most headings are read as (at least two), as recognise()
    names it when a sheet is not complete; None when none comes close."""
    counts = {ds: len(_assign(ds, headers, mapping).columns) for ds in DATASET_ORDER}
    best = max(DATASET_ORDER, key=lambda ds: counts[ds])
    return best if counts[best] >= 2 else None


def missing_required(dataset: str | None, have: set[str]) -> list[tuple[str, ...]]:
    """The needs of `dataset` (data-spec.md §1-§4) that the columns in `have` do not meet; each
    need is a tuple of columns any one of which meets it. Agrees with what recognise() requires
    (tests/test_ingest_headers_public.py checks every combination)."""
    if dataset is None:
        return []
    needs = [(c.name,) for c in schema.DATASETS[dataset] if c.required]
    if dataset == "placements":
        needs.append(("provider", "provider_urn", "provider_ukprn"))
    if dataset == "attendance":
        if have & {AM, PM, MARK}:    # register marks give both counts
            needs = [n for n in needs if n[0] not in ("possible_sessions", "attended_sessions")]
        elif PCT in have:            # an attendance % with possible sessions gives the attended count
            needs = [n for n in needs if n[0] != "attended_sessions"]
    return [n for n in needs if not set(n) & have]


def recognise(headers: list[str], mapping: dict[str, str], sheet: str | None
              ) -> tuple[HeaderMatch | None, str | None]:
    """The dataset a header row belongs to, or (None, a sentence saying why not)."""
    matches = {ds: _assign(ds, headers, mapping) for ds in DATASET_ORDER}
    complete = [ds for ds in DATASET_ORDER if not _complete(ds, matches[ds].columns)]
    if "attendance" in complete and set(matches["attendance"].columns) & ATTENDANCE_MARKERS:
        return matches["attendance"], None
    if complete:
        hint = (sheet or "").lower()

        def rank(ds: str) -> tuple[int, int, int]:
            hinted = any(h.strip() in hint for h in _SHEET_HINTS[ds]) if hint else False
            return (len(matches[ds].columns), hinted, -DATASET_ORDER.index(ds))

        return matches[max(complete, key=rank)], None
    best = max(DATASET_ORDER, key=lambda ds: len(matches[ds].columns))
    if len(matches[best].columns) < 2:
        return None, ("The columns were not recognised as placements, attendance, exclusions "
                      "or assessments.")
    missing = _complete(best, matches[best].columns)
    return None, (f"This looks like {best} data, but it has no column for "
                  f"{missing[0] if len(missing) == 1 else ', '.join(missing[:-1]) + ' and ' + missing[-1]}.")
